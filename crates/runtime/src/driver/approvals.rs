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
    NewToken, StepStatus, Store, TOKEN_ACTIONS,
};

use super::{Driver, journal};
use crate::Result;
use crate::notify::{self, Notice, Reason, Settings};
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

impl Driver {
    /// Looks at the step's current request and decides what this pass does.
    pub(super) async fn approval(
        &mut self,
        request: &Request,
        point: &mut DurablePoint,
        now: i64,
    ) -> Result<Next> {
        // A request is stored only by a committed point that also recorded
        // this step's row (`request_created`), so a step this run has not
        // recorded yet has none: the first pass of a new approval step (every
        // approval workflow has one) skips the read.
        let recorded = self
            .steps
            .get(&request.path)
            .is_some_and(|row| row.recorded);
        let settled = self
            .settled
            .as_ref()
            .is_some_and(|known| known.path == request.path);
        let requests = if settled {
            self.settled.take().into_iter().collect()
        } else if recorded {
            self.inner
                .store
                .approvals(ApprovalFilter {
                    run_id: Some(self.run.clone()),
                    path: Some(request.path.clone()),
                    status: None,
                    approver: None,
                    after: None,
                    limit: u32::MAX,
                })
                .await?
        } else {
            Vec::new()
        };
        let Some(current) = requests.into_iter().max_by_key(|a| a.escalations) else {
            return Ok(match self.new_request(request, now) {
                Ok(new) => {
                    // The first reminder is due one interval after the request.
                    let reminder = Settings::of(&self.inner, &self.bot)
                        .reminder_ms
                        .map(|ms| now.saturating_add(ms));
                    let due = super::earliest(new.due_at, reminder);
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
                // With the answer, in the point that records it: `point` may
                // be committed with the state from before the answer.
                self.pending.journal.push(journal(
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
                let reminder = self.reminder(point, &current, now).await?;
                Ok(Next::Waiting(super::earliest(current.due_at, reminder)))
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
            via: via
                .clone()
                .unwrap_or_else(|| Settings::of(&self.inner, &self.bot).via),
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
        let id = new.id.clone();
        point.approvals.push(match escalated_from {
            Some(old) => ApprovalWrite::Escalate {
                id: old.to_owned(),
                to: new.clone(),
            },
            None => ApprovalWrite::Create(new.clone()),
        });
        point
            .approvals
            .push(ApprovalWrite::IssueTokens(self.tokens(&new, now)));
        self.notices.push(Notice {
            approval: id.clone(),
            reason: Reason::Requested,
        });
        self.pending.progress.push(Progress::ApprovalRequested {
            run: self.run.clone(),
            approval: id,
            approvers: new.approvers,
            message: new.message,
            due_at: new.due_at,
            started_by: self.stored.started_by.clone(),
        });
    }

    /// One approve and one deny token per approver, valid until the
    /// request's deadline (or `approval-link-ttl` when it has none). The
    /// links themselves are signed when the notification is sent.
    fn tokens(&self, new: &NewApproval, now: i64) -> Vec<NewToken> {
        let ttl = Settings::of(&self.inner, &self.bot).link_ttl_ms;
        let expires_at = new.due_at.unwrap_or_else(|| now.saturating_add(ttl));
        let mut tokens = Vec::new();
        for approver in &new.approvers {
            for action in TOKEN_ACTIONS {
                match notify::token_id() {
                    Ok(id) => tokens.push(NewToken {
                        id,
                        approval_id: new.id.clone(),
                        approver: approver.clone(),
                        action: action.to_owned(),
                        expires_at,
                    }),
                    // Without randomness there is no safe link; the log
                    // channel's commands still let people decide.
                    Err(error) => tracing::warn!(approval = %new.id, %error, "no approval link"),
                }
            }
        }
        tokens
    }

    /// With `approval-reminder` set: when the next reminder of a pending
    /// request is due, records `reminded` in the point and queues the
    /// notification for after its commit. Returns when the next reminder is
    /// due, which the run's `wake_at` honours (the earlier of it and the
    /// deadline), so reminders survive restarts like any timer.
    async fn reminder(
        &mut self,
        point: &mut DurablePoint,
        current: &ApprovalRecord,
        now: i64,
    ) -> Result<Option<i64>> {
        let Some(interval) = Settings::of(&self.inner, &self.bot).reminder_ms else {
            return Ok(None);
        };
        let trail = self.inner.store.approval_audit(&current.id).await?;
        let last = trail
            .iter()
            .filter(|a| a.kind == "created" || a.kind == "reminded")
            .map(|a| a.at)
            .max()
            .unwrap_or(current.created_at);
        let next = last.saturating_add(interval);
        if next > now {
            return Ok(Some(next));
        }
        let sent = trail.iter().filter(|a| a.kind == "reminded").count();
        let undecided: Vec<&str> = current
            .approvers
            .iter()
            .filter(|who| {
                !current
                    .votes
                    .iter()
                    .any(|v| v.get("who").and_then(Value::as_str) == Some(who.as_str()))
            })
            .map(String::as_str)
            .collect();
        point.approvals.push(ApprovalWrite::Audit {
            id: current.id.clone(),
            kind: "reminded".to_owned(),
            who: Some(undecided.join(", ")),
            channel: Some(current.via.clone()),
            detail: json!({"reminder": sent + 1, "interval_ms": interval}),
        });
        self.notices.push(Notice {
            approval: current.id.clone(),
            reason: Reason::Reminder,
        });
        Ok(Some(now.saturating_add(interval)))
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
