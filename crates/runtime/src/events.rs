//! Events from outside a run (LANGUAGE.md §4.5): publishing one
//! ([`Runtime::publish_event`]), sending a message to a run's `HEAR`
//! ([`Runtime::send_message`]), and the `TRIGGER ON EVENT "name"` header
//! ([`Runtime::start_triggered`]).
//!
//! # Triggers
//!
//! Each script of the deployment with a `TRIGGER ON EVENT "name"` header
//! starts one run per event of that name addressed to nobody or to the
//! script's bot, with the event's value (`{"id", "name", "data", "key",
//! "from", "at"}`) as the variable `event`. The run id is derived from the
//! event (`<workflow>:event:<seq>`), and creating a run is idempotent by id,
//! so a pass repeated after a crash, or by two workers at once, never starts
//! two runs for one event.
//!
//! A pass reads the events after a stored cursor (one per script). The
//! cursor only moves past events older than [`SETTLE_MS`]: on PostgreSQL an
//! event's `seq` is taken before its transaction commits, so a younger event
//! with a smaller `seq` may still appear; events inside the window are read
//! again by the next pass, which finds their runs already there.

use serde_json::{Value, json};
use store::{EventFilter, EventRecord, MAX_VALUE_BYTES, NewEvent, RunMessage, Store};

use crate::runtime::{Runtime, Workflow};
use crate::time::now_ms;
use crate::{Error, Result, limits};

/// The longest event name, in characters (LANGUAGE.md §4.5).
pub const MAX_EVENT_NAME_CHARS: usize = 128;

/// How old an event must be before a trigger's cursor moves past it.
const SETTLE_MS: i64 = 10_000;

/// How many events a trigger pass reads at a time.
const PAGE: u32 = 256;

/// A script that starts a run for each event of a name.
#[derive(Clone, Debug)]
pub(crate) struct Trigger {
    workflow: Workflow,
    event: String,
}

impl Trigger {
    /// The name of the events that start it.
    pub(crate) fn event(&self) -> &str {
        &self.event
    }
}

/// Checks an event name: 1 to [`MAX_EVENT_NAME_CHARS`] characters, ASCII
/// letters, digits, `_`, `-` and `.` only.
pub fn check_event_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if name.chars().count() > MAX_EVENT_NAME_CHARS {
        Some(format!(
            "it is {} characters long; at most {MAX_EVENT_NAME_CHARS} are allowed",
            name.chars().count()
        ))
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .map(|c| format!("it contains {c:?}; use only letters, digits and _ - ."))
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::BadEvent(format!(
            "the event name {name:?} cannot be used: {reason}; nothing was published"
        ))),
    }
}

impl Runtime {
    /// Publishes an event from outside any run (`botflow events publish`):
    /// stored first, in one transaction that also makes the runs waiting for
    /// it due; then this process's worker is woken. `to` addresses only that
    /// bot's runs and triggers. A bad name or a payload over the store's
    /// size limit is refused and nothing is written.
    pub async fn publish_event(
        &self,
        name: &str,
        data: Option<Value>,
        key: Option<String>,
        to: Option<String>,
    ) -> Result<EventRecord> {
        check_event_name(name)?;
        if let Some(data) = &data {
            let bytes = limits::json_len(data);
            if bytes > MAX_VALUE_BYTES {
                return Err(Error::TooLarge {
                    what: format!("the payload of event {name:?}"),
                    bytes,
                    limit: MAX_VALUE_BYTES,
                });
            }
        }
        let event = NewEvent {
            id: format!("ev:{}", uuid::Uuid::now_v7()),
            name: name.to_owned(),
            key: key.filter(|k| !k.is_empty()),
            target_bot: to.filter(|t| !t.is_empty()),
            payload: data,
            from_bot: None,
            from_run: None,
        };
        let (record, _) = self.inner.store.publish_event(event, now_ms()).await?;
        self.inner.wake();
        Ok(record)
    }

    /// Sends a message to a run, for its `HEAR` (`botflow runs send`): stored,
    /// and the run made due if it waits. An unknown or ended run is refused
    /// and nothing is written.
    pub async fn send_message(&self, run: &str, text: &str) -> Result<RunMessage> {
        let message = self
            .inner
            .store
            .send_message(run, text, now_ms())
            .await
            .map_err(|error| match error {
                store::Error::UnknownRun(id) => Error::UnknownRun(id),
                store::Error::RunEnded { run, status } => Error::Conflict {
                    run,
                    message: format!("it has ended ({status}); it takes no more messages"),
                },
                store::Error::ValueTooLarge { what, bytes, limit } => {
                    Error::TooLarge { what, bytes, limit }
                }
                other => Error::Store(other),
            })?;
        self.inner.wake();
        Ok(message)
    }

    /// One pass of the `TRIGGER ON EVENT` headers (see the module's doc):
    /// starts a run for every event no run was started for yet, and returns
    /// how many runs it started. The runs are created, not driven: a worker
    /// (or [`drive`](Self::drive)) drives them, and is woken for them.
    pub async fn start_triggered(&self) -> Result<usize> {
        let mut started = 0;
        for trigger in &self.inner.triggers {
            started += self.trigger_pass(trigger).await?;
        }
        if started > 0 {
            self.inner.wake();
        }
        Ok(started)
    }

    async fn trigger_pass(&self, trigger: &Trigger) -> Result<usize> {
        let workflow = &trigger.workflow;
        let cursor_name = format!("trigger:{}:{}", workflow.bot, workflow.name);
        let store = &self.inner.store;
        let mut after = store.event_cursor(&cursor_name).await?;
        let settled_before = now_ms() - SETTLE_MS;
        let mut settled = true;
        let mut started = 0;
        loop {
            let events = store
                .events(EventFilter {
                    after_seq: after,
                    name: Some(trigger.event.clone()),
                    from_run: None,
                    limit: PAGE,
                })
                .await?;
            let Some(last) = events.last() else { break };
            let last_seq = last.seq;
            let mut runs = Vec::new();
            let mut cursor = None;
            for event in &events {
                let addressed = event
                    .target_bot
                    .as_deref()
                    .is_none_or(|to| to.is_empty() || to == workflow.bot);
                if addressed {
                    let id = format!("{}:event:{}", run_id_part(&workflow.name), event.seq);
                    runs.push((json!({"event": store::event_value(event)}), Some(id)));
                }
                settled = settled && event.at < settled_before;
                if settled {
                    cursor = Some(event.seq);
                }
            }
            if !runs.is_empty() {
                let created = self.start_many(workflow, runs).await?;
                started += created.iter().filter(|(_, new)| *new).count();
            }
            if let Some(seq) = cursor {
                store.set_event_cursor(&cursor_name, seq).await?;
            }
            if events.len() < PAGE as usize {
                break;
            }
            after = last_seq;
        }
        Ok(started)
    }
}

/// A workflow name as a run-id part: letters, digits and `-_.` kept, the
/// rest `_`, at most 80 characters (the id stays within the run-id limit).
fn run_id_part(name: &str) -> String {
    name.chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The deployment's scripts with a `TRIGGER ON EVENT "name"` header.
pub(crate) fn find_triggers(deployment: &bots::Deployment) -> Vec<Trigger> {
    let mut triggers = Vec::new();
    for package in deployment.packages.values() {
        for script in package.scripts.values() {
            if !script.source.to_ascii_uppercase().contains("TRIGGER") {
                continue;
            }
            let parsed = basic::parse(&script.source);
            for stmt in &parsed.program.body {
                let basic::ast::StmtKind::TriggerOnEvent(expr) = &stmt.kind else {
                    continue;
                };
                let basic::ast::ExprKind::Str(literal) = &expr.kind else {
                    tracing::warn!(script = %script.path.display(),
                        "TRIGGER ON EVENT needs a plain string name; ignored");
                    continue;
                };
                let Some(event) = literal.plain_text() else {
                    continue;
                };
                triggers.push(Trigger {
                    workflow: Workflow::from_script(&package.name, script.clone()),
                    event,
                });
            }
        }
    }
    triggers
}
