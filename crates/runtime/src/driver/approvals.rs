//! `HUMAN APPROVAL` (LANGUAGE.md §4.3) in the driver.
//!
//! The approval request is a store row created in the durable point that
//! hands the request out; the run then commits `waiting` with `wake_at` at the
//! request's deadline (the timeout is the run row's durable timer) and its
//! driver ends. Whenever the run is driven again (a decision made it due, or
//! the deadline passed) the driver reads the step's current request back:
//!
//! - decided (approved, denied, or settled by a timeout): the stored decision
//!   object is the engine's answer, and `approval_received` / `approval_denied`
//!   is published;
//! - pending and past its deadline: `timeout_occurred` is published and
//!   `ON TIMEOUT:` applied in a point: `ESCALATE TO` creates the next request
//!   (the old one becomes `escalated`, so its approver can no longer decide),
//!   `REJECT` / `APPROVE [WITH WARNING]` / nothing record the decision as
//!   `timed_out`; the next pass answers from the stored row;
//! - pending: the run keeps waiting.
//!
//! Answers always come from the stored row, so a decision and a timeout that
//! race are settled by the store (whichever wrote the pending row first wins)
//! and a crash anywhere replays to the same outcome.
//!
//! Choices where the language leaves room: with `REQUIRE n` any denial denies;
//! `ESCALATE TO` escalates once per target (a request already addressed to the
//! escalation target that times out counts as a denial with reason
//! `"timeout"`); `ON TIMEOUT: FAIL` / `CONTINUE` count as that denial too.

use engine::{ErrorValue, OnTimeout, Request, RequestKind};
use serde_json::{Value, json};
use store::{
    ApprovalFilter, ApprovalRecord, ApprovalStatus, ApprovalWrite, DurablePoint, NewApproval,
    StepStatus, Store,
};

use super::{Driver, journal};
use crate::Result;
use crate::progress::Progress;

/// Who decides a timeout's outcome in the decision object and the audit trail.
pub(crate) const TIMEOUT_DECIDER: &str = "system:timeout";

/// What the driver does with an approval request on this pass.
pub(super) enum Next {
    /// The answer is known: hand it to the engine.
    Ready(std::result::Result<Value, ErrorValue>),
    /// Still pending; due again at this deadline, if any.
    Waiting(Option<i64>),
    /// The point now settles or escalates the request: commit it, then look again.
    Changed,
}

/// The identity and the command that decides a request.
pub(crate) fn decide_command(id: &str, who: &str, approve: bool) -> String {
    let verb = if approve { "approve" } else { "deny" };
    format!("botflow {verb} {id} --as {who}")
}

impl Driver {
    /// Looks at the step's current request and decides what this pass does.
    pub(super) async fn approval(
        &mut self,
        request: &Request,
        point: &mut DurablePoint,
        now: i64,
    ) -> Result<Next> {
        let requests = self
            .inner
            .store
            .approvals(ApprovalFilter {
                run_id: Some(self.run.clone()),
                path: Some(request.path.clone()),
                status: None,
                limit: u32::MAX,
            })
            .await?;
        let Some(current) = requests.into_iter().max_by_key(|a| a.escalations) else {
            return Ok(match self.new_request(request, now) {
                Ok(new) => {
                    let due = new.due_at;
                    self.request_created(point, request, new, None, now);
                    Next::Waiting(due)
                }
                Err(error) => Next::Ready(Err(error)),
            });
        };
        match current.status {
            ApprovalStatus::Approved | ApprovalStatus::Denied | ApprovalStatus::TimedOut => {
                let decision = current.decision.clone().unwrap_or(Value::Null);
                let approved = decision.get("approved").and_then(Value::as_bool) == Some(true);
                let name = if approved {
                    "approval_received"
                } else {
                    "approval_denied"
                };
                self.engine_event(
                    point,
                    name,
                    &format!("{}:{name}", request.path),
                    json!({"step": request.path, "approval": current.id, "decision": decision}),
                );
                point.journal.push(journal(
                    "approval_decided",
                    json!({"path": request.path, "approval": current.id, "decision": decision}),
                ));
                Ok(Next::Ready(Ok(decision)))
            }
            ApprovalStatus::Pending if current.due_at.is_some_and(|due| due <= now) => {
                self.time_out(point, request, &current, now);
                Ok(Next::Changed)
            }
            ApprovalStatus::Pending => {
                point.approvals.push(ApprovalWrite::WakeIfSettled {
                    run_id: self.run.clone(),
                    id: current.id.clone(),
                });
                Ok(Next::Waiting(current.due_at))
            }
            // An escalated request always has a successor (both are written in
            // one transaction), so the newest request is never escalated.
            ApprovalStatus::Escalated => Ok(Next::Waiting(None)),
        }
    }

    /// The first request of an approval step, or the error the step fails with.
    fn new_request(
        &self,
        request: &Request,
        now: i64,
    ) -> std::result::Result<NewApproval, ErrorValue> {
        let RequestKind::Approval {
            from,
            group,
            timeout,
            on_timeout,
            message,
            require,
            via,
            ..
        } = &request.kind
        else {
            return Err(ErrorValue::new("runtime", "not an approval request"));
        };
        let mut approvers: Vec<String> = Vec::new();
        for who in from {
            let who = who.trim();
            if !who.is_empty() && !approvers.iter().any(|a| a == who) {
                approvers.push(who.to_owned());
            }
        }
        if let Some(group) = group {
            let members = self
                .inner
                .deployment
                .package(&self.bot)
                .and_then(|package| package.config.approver_group(group))
                .ok_or_else(|| {
                    ErrorValue::new(
                        "runtime",
                        format!(
                            "HUMAN APPROVAL FROM GROUP \"{group}\": no approver group \
                             \"{group}\" in config.csv (add a line approver-group-{group},a@x.com;b@x.com)"
                        ),
                    )
                })?;
            for member in members {
                if !approvers.contains(&member) {
                    approvers.push(member);
                }
            }
        }
        if approvers.is_empty() {
            return Err(ErrorValue::new(
                "runtime",
                "HUMAN APPROVAL has nobody to ask: FROM lists no approver",
            ));
        }
        let require_n = require.unwrap_or(1).max(1);
        if usize::try_from(require_n).unwrap_or(usize::MAX) > approvers.len() {
            return Err(ErrorValue::new(
                "runtime",
                format!(
                    "HUMAN APPROVAL REQUIRE {require_n} cannot be met: only {} approver(s) ({})",
                    approvers.len(),
                    approvers.join(", ")
                ),
            ));
        }
        let timeout_ms = timeout.map(|s| (s.max(0.0) * 1000.0).min(i64::MAX as f64) as i64);
        Ok(NewApproval {
            id: format!("{}:{}", self.run, request.path),
            run_id: self.run.clone(),
            path: request.path.clone(),
            step: request.step.clone(),
            approvers,
            group: group.clone(),
            require_n: i32::try_from(require_n).unwrap_or(i32::MAX),
            message: message.clone(),
            via: via.clone().unwrap_or_else(|| "log".to_owned()),
            timeout_ms,
            on_timeout: on_timeout
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok()),
            escalations: 0,
            started_by: self.stored.started_by.clone(),
            due_at: timeout_ms.map(|ms| now.saturating_add(ms)),
        })
    }

    /// Puts a new request (first or escalated) into the point: the row, its
    /// notification, the `approval_requested` event, the step's waiting row.
    fn request_created(
        &mut self,
        point: &mut DurablePoint,
        request: &Request,
        new: NewApproval,
        escalated_from: Option<&str>,
        now: i64,
    ) {
        let row = self.row(&request.path, request.step.as_deref(), "approval");
        row.write.status = StepStatus::Waiting;
        row.write.started_at = row.write.started_at.or(Some(now));
        let event_id = match new.escalations {
            0 => format!("{}:approval_requested", request.path),
            n => format!("{}:approval_requested:e{n}", request.path),
        };
        self.engine_event(
            point,
            "approval_requested",
            &event_id,
            json!({"step": request.path, "approval": new.id, "approvers": new.approvers,
                   "message": new.message, "due_at": new.due_at}),
        );
        point.journal.push(journal(
            "approval_requested",
            json!({"path": request.path, "approval": new.id, "approvers": new.approvers,
                   "due_at": new.due_at, "escalated_from": escalated_from}),
        ));
        let notified = self.notify(&new);
        let id = new.id.clone();
        point.approvals.push(match escalated_from {
            Some(old) => ApprovalWrite::Escalate {
                id: old.to_owned(),
                to: new.clone(),
            },
            None => ApprovalWrite::Create(new.clone()),
        });
        point.approvals.push(notified);
        self.pending.progress.push(Progress::ApprovalRequested {
            run: self.run.clone(),
            approval: id,
            approvers: new.approvers,
            message: new.message,
            due_at: new.due_at,
        });
    }

    /// Notifies the approvers; the `log` channel (the default, and the
    /// fallback of channels this botflow cannot deliver yet) logs who must
    /// decide and the command that decides.
    fn notify(&self, new: &NewApproval) -> ApprovalWrite {
        let commands: Vec<String> = new
            .approvers
            .iter()
            .map(|who| decide_command(&new.id, who, true))
            .collect();
        tracing::info!(
            run = %self.run,
            approval = %new.id,
            approvers = %new.approvers.join(", "),
            due_at = ?new.due_at,
            "approval requested; decide with: {}",
            commands.join(" | ")
        );
        let mut detail = json!({"approvers": new.approvers, "commands": commands});
        if new.via != "log" {
            detail["delivered"] = json!(false);
            detail["reason"] = json!(format!(
                "the {} channel is not supported yet by this botflow; notified through the log",
                new.via
            ));
        }
        ApprovalWrite::Audit {
            id: new.id.clone(),
            kind: "notified".to_owned(),
            who: Some(new.approvers.join(", ")),
            channel: Some(new.via.clone()),
            detail,
        }
    }

    /// The deadline of a pending request passed: publish `timeout_occurred`
    /// and apply `ON TIMEOUT:`.
    fn time_out(
        &mut self,
        point: &mut DurablePoint,
        request: &Request,
        current: &ApprovalRecord,
        now: i64,
    ) {
        let timeout_seconds = current.timeout_ms.map(|ms| ms as f64 / 1000.0);
        self.engine_event(
            point,
            "timeout_occurred",
            &format!("{}:timeout_occurred:{}", request.path, current.escalations),
            json!({"step": request.path, "timeout_seconds": timeout_seconds}),
        );
        point.journal.push(journal(
            "approval_timed_out",
            json!({"path": request.path, "approval": current.id}),
        ));
        let on_timeout = match &request.kind {
            RequestKind::Approval { on_timeout, .. } => on_timeout.clone(),
            _ => None,
        };
        let decision = match on_timeout {
            Some(OnTimeout::Escalate { to })
                if !(current.approvers.len() == 1 && current.approvers[0] == to) =>
            {
                let escalations = current.escalations.saturating_add(1);
                let next = NewApproval {
                    id: format!("{}:{}:e{escalations}", self.run, request.path),
                    run_id: self.run.clone(),
                    path: request.path.clone(),
                    step: current.step.clone(),
                    approvers: vec![to],
                    group: None,
                    require_n: 1,
                    message: current.message.clone(),
                    via: current.via.clone(),
                    timeout_ms: current.timeout_ms,
                    on_timeout: current.on_timeout.clone(),
                    escalations,
                    started_by: current.started_by.clone(),
                    due_at: current.timeout_ms.map(|ms| now.saturating_add(ms)),
                };
                self.request_created(point, request, next, Some(&current.id), now);
                return;
            }
            Some(OnTimeout::Approve { warning }) => {
                let mut d = json!({"approved": true, "by": TIMEOUT_DECIDER, "comment": null,
                                   "at": now});
                if warning {
                    d["warning"] = json!(true);
                }
                d
            }
            Some(OnTimeout::Reject { reason }) => denial(now, reason.as_deref()),
            _ => denial(now, None),
        };
        point.approvals.push(ApprovalWrite::Resolve {
            id: current.id.clone(),
            status: ApprovalStatus::TimedOut,
            decision,
            kind: "timed_out".to_owned(),
            who: TIMEOUT_DECIDER.to_owned(),
        });
    }
}

/// A timeout's denial; `reason` defaults to `"timeout"`.
fn denial(now: i64, reason: Option<&str>) -> Value {
    json!({"approved": false, "by": TIMEOUT_DECIDER, "comment": null, "at": now,
           "reason": reason.unwrap_or("timeout")})
}
