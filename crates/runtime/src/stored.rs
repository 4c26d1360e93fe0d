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

impl Stored {
    /// A fresh envelope around a state.
    pub(crate) fn new(engine: RunState) -> Stored {
        Stored {
            engine,
            timers: BTreeMap::new(),
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

    /// The JSON the store keeps.
    pub(crate) fn encode(&self) -> serde_json::Value {
        // A struct of serde-derived data with string keys always serialises.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
