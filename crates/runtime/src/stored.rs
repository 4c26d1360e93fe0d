//! What the runtime stores as a run's state: the engine's [`RunState`] plus
//! the little the runtime itself must remember across processes.
//!
//! The store treats the whole envelope as opaque JSON.

use std::collections::BTreeMap;

use engine::RunState;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A run's stored state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Stored {
    /// The interpreter's position.
    pub engine: RunState,
    /// Armed `DELAY` timers: request id → due time (epoch ms). Recorded in the
    /// point that issued the request, so a restart keeps the original due time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub timers: BTreeMap<u64, i64>,
    /// Deadlines of `WAIT FOR EVENT ... TIMEOUT s`: request id → epoch ms,
    /// recorded in the point that first sees the request (`driver/events.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub event_deadlines: BTreeMap<u64, i64>,
    /// Bot requests whose attempts failed and may be retried (`RETRY`):
    /// request id → failures so far and, while backing off, when the next
    /// attempt is due. Recorded in the point that records the failure, so a
    /// restart keeps both the back-off and the count (`driver.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retries: BTreeMap<u64, Retry>,
    /// For a failed run: the state of the last durable point before the
    /// failure, which `runs retry` continues from (the engine cannot continue
    /// a finished state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_failure: Option<RunState>,
    /// Who started the run (the CLI's `--as`, the OS user, an API token's
    /// name): never allowed to approve the run's own approval requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
}

/// A bot request being retried (see [`Stored::retries`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Retry {
    /// Failed attempts so far; `RETRY n` allows `n` of them to be retried.
    pub failures: u32,
    /// When the next attempt is due (epoch ms); none once it has been made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<i64>,
}

impl Stored {
    /// A fresh envelope around a state.
    pub(crate) fn new(engine: RunState) -> Stored {
        Stored {
            engine,
            timers: BTreeMap::new(),
            event_deadlines: BTreeMap::new(),
            retries: BTreeMap::new(),
            before_failure: None,
            started_by: None,
        }
    }

    /// Reads a stored envelope.
    pub(crate) fn decode(run: &str, value: serde_json::Value) -> Result<Stored> {
        serde_json::from_value(value).map_err(|e| Error::BadState {
            run: run.to_owned(),
            message: e.to_string(),
        })
    }

    /// The JSON text the store keeps, serialised straight from the state
    /// (no intermediate `Value`: this runs at every durable point).
    pub(crate) fn encode(&self) -> String {
        // A struct of serde-derived data with string keys always serialises.
        serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned())
    }

    /// The same as [`encode`](Self::encode), as a `Value` (for a new run's record).
    pub(crate) fn encode_value(&self) -> serde_json::Value {
        // As above: serde-derived data with string keys always serialises.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads an envelope back from the text [`encode`](Self::encode) made.
    pub(crate) fn decode_text(run: &str, text: &str) -> Result<Stored> {
        serde_json::from_str(text).map_err(|e| Error::BadState {
            run: run.to_owned(),
            message: e.to_string(),
        })
    }
}
