//! The state of a run: everything needed to continue it, and nothing else.
//!
//! It is plain data with serde derives; the runtime stores it as JSON and a
//! deserialised copy continues exactly like the original (tested).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::builtins::UuidSource;
use crate::ir::ErrorMode;
use crate::protocol::{Effect, ErrorValue, Request};

/// A run in progress (or finished).
///
/// Fields that hold their default are left out of the JSON (and read back as
/// the default): a run's state is written at every durable point, and most
/// of it is empty most of the time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Fiber 0 is the main program; others are `PARALLEL` branches and event handlers.
    pub(crate) fibers: BTreeMap<u32, Fiber>,
    pub(crate) next_fiber: u32,
    pub(crate) next_request: u64,
    /// How often each step path base was entered (`3` → `3`, `3#2` ...).
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) step_counts: BTreeMap<String, u32>,
    /// How many requests each path base issued.
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) request_counts: BTreeMap<String, u32>,
    /// How many events the run has published.
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) events_published: u64,
    pub(crate) uuids: UuidSource,
    /// The time of the latest `advance`, epoch milliseconds.
    pub(crate) now_ms: i64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) headers: Map<String, Value>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) system_prompt: Option<String>,
    /// `ON EVENT` handlers: (event name, entry pc).
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) handlers: Vec<(String, usize)>,
    /// How many handler bodies have been started (their step-path prefix is `on#n`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) handlers_started: u64,
    /// Effects produced by [`crate::resume`], handed out by the next advance.
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) outbox: Vec<Effect>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub(crate) finished: Option<Finished>,
}

impl RunState {
    /// The event names of the run's registered `ON EVENT` handlers, each
    /// once, in registration order: what the runtime delivers events for.
    pub fn handler_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (name, _) in &self.handlers {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name.clone());
            }
        }
        names
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Finished {
    Completed(Value),
    Failed(ErrorValue),
    Rejected,
}

/// One thread of execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Fiber {
    pub pc: usize,
    /// The variables this fiber sees: the run's for fiber 0, a copy for a branch.
    pub vars: Map<String, Value>,
    /// Never empty: the bottom frame is the main program or the branch body.
    pub frames: Vec<Frame>,
    pub status: FiberStatus,
    /// The step-path prefix of a branch (`4/A`); empty for the main fiber.
    #[serde(default, skip_serializing_if = "is_default")]
    pub prefix: String,
    /// The `STEP`s this fiber is inside, innermost last.
    #[serde(default, skip_serializing_if = "is_default")]
    pub steps: Vec<ActiveStep>,
    /// For a branch: its parent fiber and label.
    #[serde(default, skip_serializing_if = "is_default")]
    pub parent: Option<u32>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub label: String,
    /// For a branch: the number of the `STEP` of its `PARALLEL`, which its
    /// requests belong to when they are in no step of their own.
    #[serde(default, skip_serializing_if = "is_default")]
    pub step_number: Option<String>,
    /// For a branch or an event handler: the names it wrote since it
    /// started, which are what its join or its end hands back. `None` for
    /// the main fiber, whose writes go nowhere else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<Written>,
    /// For an event handler in a state stored before `written` existed:
    /// the run's variables when it started, to tell which ones it changed.
    /// Never set for new fibers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_vars: Option<Map<String, Value>>,
}

/// The names a branch or handler fiber wrote. Only these are handed back,
/// so a branch that never touched a variable cannot undo a sibling's (or a
/// handler's) change to it, and of two branches that wrote it the later
/// label wins, whatever values they wrote.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Written {
    /// Run variables.
    pub vars: BTreeSet<String>,
    /// Locals of the fiber's bottom frame: a `PARALLEL` inside a procedure
    /// forks that procedure's locals too.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub locals: BTreeSet<String>,
}

impl Written {
    /// Notes a write of a run variable.
    pub fn var(&mut self, name: &str) {
        if !self.vars.contains(name) {
            self.vars.insert(name.to_owned());
        }
    }

    /// Notes a write of a bottom-frame local.
    pub fn local(&mut self, name: &str) {
        if !self.locals.contains(name) {
            self.locals.insert(name.to_owned());
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum FiberStatus {
    Ready,
    Waiting(Request),
    Joining(JoinState),
    /// An event handler waiting for the handler before it to finish.
    Queued,
    Done,
    Failed(ErrorValue),
}

/// A fiber waiting at a `PARALLEL` for its branches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct JoinState {
    /// Branch fibers in branch-label order.
    pub children: Vec<u32>,
    /// How many must succeed.
    pub need: usize,
    /// Where the parent continues.
    pub after: usize,
    /// The step path of the `PARALLEL`.
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Frame {
    /// A procedure's parameters and locals; `None` in the main program, where
    /// every variable is a run variable.
    #[serde(default, skip_serializing_if = "is_default")]
    pub locals: Option<Map<String, Value>>,
    /// The procedure's case-folded name (for a FUNCTION's `name = value` result).
    #[serde(default, skip_serializing_if = "is_default")]
    pub proc: Option<String>,
    /// Where the caller continues, and the temporary that receives a function's value.
    #[serde(default, skip_serializing_if = "is_default")]
    pub return_pc: usize,
    #[serde(default, skip_serializing_if = "is_default")]
    pub result: Option<u32>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub temps: BTreeMap<u32, Value>,
    /// Loop state by the pc of the loop's first op.
    #[serde(default, skip_serializing_if = "is_default")]
    pub loops: BTreeMap<usize, LoopState>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_error: Option<ErrorMode>,
}

impl Frame {
    pub fn main() -> Frame {
        Frame {
            locals: None,
            proc: None,
            return_pc: 0,
            result: None,
            temps: BTreeMap::new(),
            loops: BTreeMap::new(),
            on_error: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum LoopState {
    Each { items: Vec<Value>, next: usize },
    Count { to: Value, step: Value },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActiveStep {
    pub path: String,
    pub number: String,
    /// The pc of its `StepEnter`, and the frame depth it runs in.
    pub enter: usize,
    pub depth: usize,
    #[serde(default, skip_serializing_if = "is_default")]
    pub error: Option<ErrorValue>,
}

impl RunState {
    /// The run's variables (those of the main fiber).
    pub fn variables(&self) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        self.fibers
            .get(&0)
            .map_or_else(|| EMPTY.get_or_init(Map::new), |f| &f.vars)
    }

    /// The requests the run is waiting on, by fiber.
    pub fn pending(&self) -> Vec<Request> {
        self.fibers
            .values()
            .filter_map(|f| match &f.status {
                FiberStatus::Waiting(request) => Some(request.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether the run has completed, failed or been rejected.
    pub fn is_finished(&self) -> bool {
        self.finished.is_some()
    }
}

/// Whether a field holds its type's default: such fields are not written.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
