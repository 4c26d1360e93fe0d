//! [`RunView`]: a run as people and `--json` see it, read from the store.

use serde::Serialize;
use serde_json::{Map, Value};
use store::{RunStatus, Store};

use crate::runtime::Runtime;
use crate::stored::Stored;
use crate::{Error, Result};

mod waits;

pub use waits::{WaitFor, WaitView};

/// A run with its steps, transcript, events and journal.
#[derive(Clone, Debug, Serialize)]
pub struct RunView {
    pub id: String,
    pub workflow: String,
    /// The bot the run acts as.
    pub bot: String,
    pub status: RunStatus,
    pub program_hash: String,
    pub input: Value,
    pub result: Option<Value>,
    pub error: Option<Value>,
    /// The run's variables at its last durable point.
    pub variables: Map<String, Value>,
    pub steps: Vec<StepView>,
    /// `TALK` lines of the workflow and of the bots it asked, in order.
    pub transcript: Vec<TranscriptLine>,
    /// Events the run published (its own and the engine's), in order.
    pub events: Vec<EventView>,
    /// The full journal, in order.
    pub journal: Vec<JournalView>,
    pub wake_at: Option<i64>,
    /// What a `waiting` run waits for (empty for any other status).
    pub waits: Vec<WaitView>,
    /// Durable points committed.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One step execution.
#[derive(Clone, Debug, Serialize)]
pub struct StepView {
    pub path: String,
    pub number: String,
    pub kind: String,
    pub bot: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub answer: Option<Value>,
    pub error: Option<Value>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// One `TALK`.
#[derive(Clone, Debug, Serialize)]
pub struct TranscriptLine {
    pub bot: Option<String>,
    pub to: Option<String>,
    pub text: String,
    pub at: i64,
}

/// One published event.
#[derive(Clone, Debug, Serialize)]
pub struct EventView {
    pub id: String,
    pub name: String,
    pub key: Option<String>,
    pub target_bot: Option<String>,
    pub payload: Option<Value>,
    pub from_bot: Option<String>,
    pub at: i64,
}

/// One journal entry.
#[derive(Clone, Debug, Serialize)]
pub struct JournalView {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub data: Value,
}

impl Runtime {
    /// The run with everything recorded about it.
    pub async fn view(&self, id: &str) -> Result<RunView> {
        let store = self.store();
        let record = store
            .run(id)
            .await?
            .ok_or_else(|| Error::UnknownRun(id.to_owned()))?;
        let stored = Stored::decode(id, record.state.clone()).ok();
        let variables = stored
            .as_ref()
            .map(|s| s.engine.variables().clone())
            .unwrap_or_default();
        let waits = match &stored {
            Some(stored) if record.status == RunStatus::Waiting => {
                waits::waits(stored, &self.pending_approvals(id).await?)
            }
            _ => Vec::new(),
        };
        let steps = store
            .steps(id)
            .await?
            .into_iter()
            .map(|s| StepView {
                path: s.path,
                number: s.number,
                kind: s.kind,
                bot: s.bot,
                status: s.status.to_string(),
                attempts: s.attempts,
                answer: s.answer,
                error: s.error,
                started_at: s.started_at,
                finished_at: s.finished_at,
            })
            .collect();
        let journal = store.journal(id).await?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let transcript = journal
            .iter()
            .filter(|e| e.kind == "talk")
            .map(|e| TranscriptLine {
                bot: text(&e.data, "bot"),
                to: text(&e.data, "to"),
                text: text(&e.data, "text").unwrap_or_default(),
                at: e.at,
            })
            .collect();
        let events = self.events_of(id).await?;
        Ok(RunView {
            id: record.id,
            workflow: record.workflow,
            bot: record.bot,
            status: record.status,
            program_hash: record.program_hash,
            input: record.input,
            result: record.result,
            error: record.error,
            variables,
            steps,
            transcript,
            events,
            journal: journal
                .into_iter()
                .map(|e| JournalView {
                    seq: e.seq,
                    at: e.at,
                    kind: e.kind,
                    data: e.data,
                })
                .collect(),
            wake_at: record.wake_at,
            waits,
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }

    /// The events a run published, page by page (the store filters by run).
    async fn events_of(&self, id: &str) -> Result<Vec<EventView>> {
        let mut found = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .store()
                .events(store::EventFilter {
                    after_seq: after,
                    from_run: Some(id.to_owned()),
                    limit: 1000,
                    ..store::EventFilter::default()
                })
                .await?;
            let Some(last) = page.last() else {
                return Ok(found);
            };
            after = last.seq;
            found.extend(page.into_iter().map(|e| EventView {
                id: e.id,
                name: e.name,
                key: e.key,
                target_bot: e.target_bot,
                payload: e.payload,
                from_bot: e.from_bot,
                at: e.at,
            }));
        }
    }
}
