//! [`WaitView`]: what a waiting run waits for, and until when.
//!
//! Read from two places: the run's stored state (the engine's open requests,
//! with the `DELAY` due times and event deadlines the driver recorded beside
//! them) and the store's pending approval requests of the run (their id,
//! approvers and deadline live only there).

use engine::RequestKind;
use serde::Serialize;
use store::ApprovalRecord;

use crate::stored::Stored;

/// One thing a waiting run waits for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WaitView {
    /// The step path of the request that waits.
    pub path: String,
    /// What it waits for.
    #[serde(flatten)]
    pub what: WaitFor,
    /// When the wait ends by itself (timeout, timer), epoch ms.
    pub deadline_ms: Option<i64>,
    /// The same deadline in RFC 3339 (UTC).
    pub deadline: Option<String>,
}

/// The kinds of [`WaitView`], each with what names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WaitFor {
    /// A `HUMAN APPROVAL` request.
    Approval {
        /// The request id (`botflow approve <id>`).
        id: String,
        /// Who may decide.
        approvers: Vec<String>,
        /// Approvals needed.
        require: i32,
        /// What the approvers see.
        message: Option<String>,
        /// `botflow approve <id> --as <who>`, one per approver who may
        /// decide (the run's starter may not).
        commands: Vec<String>,
    },
    /// `WAIT FOR EVENT name [FOR key]`.
    Event { name: String, key: Option<String> },
    /// `HEAR [AS type]`: the next message to the run (`botflow runs send`).
    Message { as_type: Option<String> },
    /// `DELAY` / `WAIT n`.
    Timer,
    /// The back-off before the next attempt of a failed bot step (`RETRY n`).
    Retry {
        /// Failed attempts so far.
        failures: u32,
    },
    /// An `ON EVENT name DO` handler: an event of that name runs it (and
    /// makes the run due), though the run does not wait for it to go on.
    Handler { name: String },
}

impl WaitView {
    fn new(path: String, what: WaitFor, deadline_ms: Option<i64>) -> WaitView {
        WaitView {
            path,
            what,
            deadline_ms,
            deadline: deadline_ms.map(rfc3339),
        }
    }

    /// One line for people: what, and until when. For an approval, the
    /// commands that decide it are in [`WaitFor::Approval::commands`].
    pub fn describe(&self) -> String {
        let until = match &self.deadline {
            Some(at) => format!(" (until {at})"),
            None => " (no deadline)".to_owned(),
        };
        match &self.what {
            WaitFor::Approval {
                id,
                approvers,
                require,
                message,
                ..
            } => {
                let mut line = format!(
                    "approval {id} from {}{until}",
                    if approvers.is_empty() {
                        "(nobody named)".to_owned()
                    } else {
                        approvers.join(", ")
                    }
                );
                if *require > 1 {
                    line.push_str(&format!(", {require} approvals needed"));
                }
                if let Some(message) = message {
                    line.push_str(&format!(": {message}"));
                }
                line
            }
            WaitFor::Event { name, key } => match key {
                Some(key) => format!("event {name:?} for key {key:?}{until}"),
                None => format!("event {name:?}{until}"),
            },
            WaitFor::Message { as_type } => {
                let typed = as_type
                    .as_ref()
                    .map(|t| format!(" of type {t}"))
                    .unwrap_or_default();
                format!("a message{typed}{until}")
            }
            WaitFor::Handler { name } => format!("event {name:?} for its ON EVENT handler"),
            WaitFor::Timer => match &self.deadline {
                Some(at) => format!("a timer due at {at}"),
                None => "a timer".to_owned(),
            },
            WaitFor::Retry { failures } => {
                let next = match &self.deadline {
                    Some(at) => format!(" due at {at}"),
                    None => String::new(),
                };
                format!("the next attempt of a failed bot step ({failures} failed so far){next}")
            }
        }
    }
}

/// Epoch ms as RFC 3339 in UTC (the raw number when out of range).
fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// The waits of a run, in request order, from its state and its pending
/// approval requests.
pub(crate) fn waits(stored: &Stored, approvals: &[ApprovalRecord]) -> Vec<WaitView> {
    let mut requests = stored.engine.pending();
    requests.sort_by_key(|r| r.id);
    let mut found = Vec::new();
    for request in requests {
        match &request.kind {
            RequestKind::Approval { .. } => {
                // The stored row carries the id and approvers; a request with
                // no pending row was just decided or timed out and the run is
                // due, so it waits for nothing a person must do.
                for record in approvals.iter().filter(|a| a.path == request.path) {
                    found.push(approval(record, stored.started_by.as_deref()));
                }
            }
            RequestKind::WaitEvent { name, key, .. } => found.push(WaitView::new(
                request.path.clone(),
                WaitFor::Event {
                    name: name.clone(),
                    key: key.clone(),
                },
                stored.event_deadlines.get(&request.id).copied(),
            )),
            RequestKind::Hear { as_type, .. } => found.push(WaitView::new(
                request.path.clone(),
                WaitFor::Message {
                    as_type: as_type.clone(),
                },
                None,
            )),
            RequestKind::Delay { .. } => found.push(WaitView::new(
                request.path.clone(),
                WaitFor::Timer,
                stored.timers.get(&request.id).copied(),
            )),
            _ => {
                // A bot request backing off before its next attempt.
                if let Some(retry) = stored.retries.get(&request.id)
                    && let Some(due) = retry.due
                {
                    found.push(WaitView::new(
                        request.path.clone(),
                        WaitFor::Retry {
                            failures: retry.failures,
                        },
                        Some(due),
                    ));
                }
            }
        }
    }
    for name in stored.engine.handler_names() {
        found.push(WaitView::new(
            "on".to_owned(),
            WaitFor::Handler { name },
            None,
        ));
    }
    // Pending rows the state does not name (a request escalated under another
    // path): still something a person can decide.
    for record in approvals {
        if !found
            .iter()
            .any(|w| matches!(&w.what, WaitFor::Approval { id, .. } if *id == record.id))
        {
            found.push(approval(record, stored.started_by.as_deref()));
        }
    }
    found
}

fn approval(record: &ApprovalRecord, state_starter: Option<&str>) -> WaitView {
    let starter = record.started_by.as_deref().or(state_starter);
    let commands = record
        .approvers
        .iter()
        .filter(|who| Some(who.as_str()) != starter)
        .map(|who| format!("botflow approve {} --as {who}", record.id))
        .collect();
    WaitView::new(
        record.path.clone(),
        WaitFor::Approval {
            id: record.id.clone(),
            approvers: record.approvers.clone(),
            require: record.require_n,
            message: record.message.clone(),
            commands,
        },
        record.due_at,
    )
}
