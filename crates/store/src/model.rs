//! The records the store reads and writes.
//!
//! Everything the engine owns (run state, answers, payloads, memory values) is an
//! opaque [`serde_json::Value`]: the store never looks inside it.
//! Times are epoch milliseconds (`i64`) everywhere, so both databases agree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// Where a run stands (LANGUAGE.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Being driven, or ready to be driven by whoever holds (or takes) the lease.
    Running,
    /// Suspended on an approval, event, timer or user; due again at `wake_at` if set.
    Waiting,
    /// Finished with a result.
    Completed,
    /// Ended because an approval said no.
    Rejected,
    /// Ended by an uncaught error.
    Failed,
    /// Ended by a person or the API.
    Cancelled,
}

impl RunStatus {
    /// Every status, in a stable order.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Completed,
        RunStatus::Rejected,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The name stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Completed => "completed",
            RunStatus::Rejected => "rejected",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the run has ended and will never be driven again.
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Running | RunStatus::Waiting)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| Error::UnknownStatus(s.to_owned()))
    }
}

/// Where one step execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// An attempt is under way (the bot may have been asked).
    Running,
    /// Waiting on a person, an event or a timer.
    Waiting,
    /// Recorded for good: a `done` row is never overwritten.
    Done,
    /// The last attempt failed; a retry of the run may overwrite it.
    Failed,
    /// Dropped, e.g. a branch cancelled by a partial join.
    Cancelled,
}

impl StepStatus {
    /// Every status, in a stable order.
    pub const ALL: [StepStatus; 5] = [
        StepStatus::Running,
        StepStatus::Waiting,
        StepStatus::Done,
        StepStatus::Failed,
        StepStatus::Cancelled,
    ];

    /// The name stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Running => "running",
            StepStatus::Waiting => "waiting",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StepStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        StepStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| Error::UnknownStatus(s.to_owned()))
    }
}

/// A run to create with [`Store::create_run`](crate::Store::create_run).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// Chosen by the caller; the same id never starts two runs.
    pub id: String,
    /// The workflow's name.
    pub workflow: String,
    /// The bot whose package holds the script.
    pub bot: String,
    /// The program the run is pinned to; must have been stored with `put_program`.
    pub program_hash: String,
    /// Usually [`RunStatus::Running`].
    pub status: RunStatus,
    /// The engine's initial state.
    pub state: Value,
    /// The run's input object.
    pub input: Value,
    /// When a waiting run becomes due.
    pub wake_at: Option<i64>,
    /// The run that started this one (bot-to-bot calls).
    pub parent_run: Option<String>,
    /// Creation time.
    pub now: i64,
}

/// A stored run with everything needed to resume it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run id.
    pub id: String,
    /// The workflow's name.
    pub workflow: String,
    /// The bot the run acts as.
    pub bot: String,
    /// The program version the run is pinned to.
    pub program_hash: String,
    /// Current status.
    pub status: RunStatus,
    /// The engine's state at the last durable point.
    pub state: Value,
    /// The input the run started with.
    pub input: Value,
    /// The result of a completed run.
    pub result: Option<Value>,
    /// The error of a failed run.
    pub error: Option<Value>,
    /// Who holds the lease, if anybody.
    pub lease_owner: Option<String>,
    /// Incremented by every claim; commits are fenced by it.
    pub lease_epoch: i64,
    /// When the lease expires.
    pub lease_until: Option<i64>,
    /// When a waiting run becomes due.
    pub wake_at: Option<i64>,
    /// How many durable points have been committed.
    pub version: i64,
    /// The run that started this one.
    pub parent_run: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Time of the last change.
    pub updated_at: i64,
}

/// Where a run stands and how it ended, without its state and input: what
/// long polls, waiters and existence checks read, at a fraction of the cost
/// of a [`RunRecord`] (whose state can be large and is parsed whole).
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// The run id.
    pub id: String,
    /// Current status.
    pub status: RunStatus,
    /// The result of a completed run.
    pub result: Option<Value>,
    /// The error of a failed run.
    pub error: Option<Value>,
    /// When a waiting run becomes due.
    pub wake_at: Option<i64>,
    /// When the lease expires.
    pub lease_until: Option<i64>,
}

/// The light view of a run used by listings (no state, no input).
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The run id.
    pub id: String,
    /// The workflow's name.
    pub workflow: String,
    /// The bot the run acts as.
    pub bot: String,
    /// The program version the run is pinned to.
    pub program_hash: String,
    /// Current status.
    pub status: RunStatus,
    /// When a waiting run becomes due.
    pub wake_at: Option<i64>,
    /// How many durable points have been committed.
    pub version: i64,
    /// The run that started this one.
    pub parent_run: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Time of the last change.
    pub updated_at: i64,
}

/// Which runs [`Store::list_runs`](crate::Store::list_runs) returns, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs acting as this bot.
    pub bot: Option<String>,
    /// Only runs listed after this one (newest first: by `created_at`, then
    /// `id`, both descending): where the previous page ended.
    pub before: Option<ListKey>,
    /// At most this many runs.
    pub limit: u32,
    /// Skip this many runs first.
    pub offset: u32,
}

impl Default for RunFilter {
    fn default() -> Self {
        RunFilter {
            status: None,
            workflow: None,
            bot: None,
            before: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// An item's place in a listing ordered by creation time, then id (runs
/// in [`RunFilter`], approval requests in
/// [`ApprovalFilter`](crate::ApprovalFilter)): a page's last item, from which
/// the next page goes on. An item keeps its key while its status changes,
/// so keyset pages neither repeat nor skip one, even in a list filtered by
/// a status that items enter and leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKey {
    /// The item's `created_at`.
    pub created_at: i64,
    /// The item's id.
    pub id: String,
}

impl From<&RunSummary> for ListKey {
    fn from(run: &RunSummary) -> ListKey {
        ListKey {
            created_at: run.created_at,
            id: run.id.clone(),
        }
    }
}

impl From<&crate::ApprovalRecord> for ListKey {
    fn from(request: &crate::ApprovalRecord) -> ListKey {
        ListKey {
            created_at: request.created_at,
            id: request.id.clone(),
        }
    }
}

/// One write of a step row, part of a [`DurablePoint`].
///
/// The row is inserted if absent and updated otherwise, except that a row already
/// `done` is never touched again (a recorded step is never recorded twice).
/// `attempts` never decreases: an update keeps the larger count.
#[derive(Debug, Clone, PartialEq)]
pub struct StepWrite {
    /// The step path (`3`, `3#2`, `4/A`).
    pub path: String,
    /// The step number as written in the script (a label).
    pub number: String,
    /// What kind of step (`bot`, `approval`, `parallel`, ...).
    pub kind: String,
    /// The bot asked, if any.
    pub bot: Option<String>,
    /// How many attempts have been made so far.
    pub attempts: i32,
    /// Where the step stands.
    pub status: StepStatus,
    /// The recorded answer.
    pub answer: Option<Value>,
    /// The error of the last failed attempt.
    pub error: Option<Value>,
    /// When the first attempt started; an update keeps the earlier time.
    pub started_at: Option<i64>,
    /// When the step finished.
    pub finished_at: Option<i64>,
}

/// A stored step row.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// The run the step belongs to.
    pub run_id: String,
    /// The step path.
    pub path: String,
    /// The step number label.
    pub number: String,
    /// What kind of step.
    pub kind: String,
    /// The bot asked, if any.
    pub bot: Option<String>,
    /// How many attempts were made.
    pub attempts: i32,
    /// Where the step stands.
    pub status: StepStatus,
    /// The recorded answer.
    pub answer: Option<Value>,
    /// The error of the last failed attempt.
    pub error: Option<Value>,
    /// When the first attempt started.
    pub started_at: Option<i64>,
    /// When the step finished.
    pub finished_at: Option<i64>,
}

/// A journal entry to append, part of a [`DurablePoint`]; the store numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJournalEntry {
    /// What happened (`step_done`, `waiting`, ...).
    pub kind: String,
    /// Details.
    pub data: Value,
}

/// A stored journal entry.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// The run.
    pub run_id: String,
    /// Position in the run's journal, from 1, without gaps.
    pub seq: i64,
    /// When it was committed (the point's `now`).
    pub at: i64,
    /// What happened.
    pub kind: String,
    /// Details.
    pub data: Value,
}

/// An event to publish, part of a [`DurablePoint`] (the outbox).
///
/// Publishing an id that already exists does nothing, so a stable id derived from
/// run id and step path makes publishing idempotent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Stable, unique id.
    pub id: String,
    /// The event name.
    pub name: String,
    /// The correlation key.
    pub key: Option<String>,
    /// Only this bot's runs and triggers receive it.
    pub target_bot: Option<String>,
    /// The payload.
    pub payload: Option<Value>,
    /// The publishing bot.
    pub from_bot: Option<String>,
    /// The publishing run.
    pub from_run: Option<String>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Position in the global event log.
    pub seq: i64,
    /// Stable, unique id.
    pub id: String,
    /// The event name.
    pub name: String,
    /// The correlation key.
    pub key: Option<String>,
    /// The addressed bot.
    pub target_bot: Option<String>,
    /// The payload.
    pub payload: Option<Value>,
    /// The publishing bot.
    pub from_bot: Option<String>,
    /// The publishing run.
    pub from_run: Option<String>,
    /// When it was published.
    pub at: i64,
}

/// Which events [`Store::events`](crate::Store::events) returns, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events with a larger `seq`.
    pub after_seq: i64,
    /// Only events with this name.
    pub name: Option<String>,
    /// Only events this run published.
    pub from_run: Option<String>,
    /// At most this many events.
    pub limit: u32,
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter {
            after_seq: 0,
            name: None,
            from_run: None,
            limit: 100,
        }
    }
}

/// One bot-memory operation, part of a [`DurablePoint`]; applied in order.
#[derive(Debug, Clone, PartialEq)]
pub enum MemoryOp {
    /// `SET BOT MEMORY`: writes `bot`'s `key`; a replaced value goes to history.
    Set {
        /// The bot whose memory is written.
        bot: String,
        /// The key.
        key: String,
        /// The new value.
        value: Value,
    },
    /// `BOT SHARE MEMORY`: copies `from_bot`'s current value of `key` (JSON `null`
    /// when it has none) into `to_bot`'s shared memory, replacing an earlier
    /// share of the same key from the same source (version + 1).
    Share {
        /// The sharing bot.
        from_bot: String,
        /// The key.
        key: String,
        /// The receiving bot.
        to_bot: String,
    },
    /// `BOT SYNC MEMORY FROM`: copies every key `from_bot` shared with `bot` into
    /// `bot`'s memory where the share is newer than `bot`'s own write (share time
    /// against write time; a tie keeps `bot`'s value). Replaced values go to history.
    Sync {
        /// The bot whose memory is written.
        bot: String,
        /// The bot that shared.
        from_bot: String,
    },
}

/// One entry of a bot's shared memory.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedEntry {
    /// The receiving bot.
    pub target_bot: String,
    /// The key.
    pub key: String,
    /// The sharing bot.
    pub source_bot: String,
    /// The shared value.
    pub value: Value,
    /// 1 for the first share, + 1 for every later share of the same key and source.
    pub version: i64,
    /// When it was shared.
    pub shared_at: i64,
}

/// A stored bot-memory value with its version, current or historical.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryVersion {
    /// The value.
    pub value: Value,
    /// 1 for the first write, + 1 for every later one.
    pub version: i64,
    /// When it was written (current value) or replaced (history).
    pub at: i64,
}

/// Everything one run makes durable at one point, committed all or nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct DurablePoint {
    /// The run.
    pub run_id: String,
    /// The lease epoch the writer holds; a mismatch fences the point.
    pub epoch: i64,
    /// The run's new status.
    pub status: RunStatus,
    /// The engine's new state as JSON text, opaque to the store. Callers
    /// serialise it once, straight from their own types: building a `Value`
    /// first and serialising that again costs a commit more than its SQL.
    pub state: String,
    /// When a waiting run becomes due.
    pub wake_at: Option<i64>,
    /// The result, for a completed run.
    pub result: Option<Value>,
    /// The error, for a failed run.
    pub error: Option<Value>,
    /// Step rows to insert or update.
    pub steps: Vec<StepWrite>,
    /// Memory operations, in order.
    pub memory: Vec<MemoryOp>,
    /// Events to publish (outbox).
    pub events: Vec<NewEvent>,
    /// Journal entries to append, in order.
    pub journal: Vec<NewJournalEntry>,
    /// Approval requests created, resolved or escalated, in order.
    pub approvals: Vec<crate::ApprovalWrite>,
    /// Ids of events (and messages) the run consumed with this point's answers.
    pub consumed: Vec<String>,
    /// Ids of events delivered to the run's `ON EVENT` handlers in this point.
    pub delivered: Vec<String>,
    /// What the run waits for from now on, replacing what it waited for
    /// (`None` leaves it as it is). See the `event` module.
    pub waits: Option<Vec<crate::Wait>>,
    /// The time of the point.
    pub now: i64,
    /// Set on a new run's first point: the point creates the run, already
    /// leased to its driver at the point's epoch, so starting a run costs no
    /// transaction of its own. When a run with this id exists the point is
    /// [`PointOutcome::Exists`] and nothing of it is written.
    pub create: Option<Box<RunCreation>>,
    /// Gives up the lease with this point (a run that now waits): the next
    /// claim fences this writer, as after [`Store::release`](crate::Store::release).
    pub release: bool,
}

impl DurablePoint {
    /// A point that moves run `run_id` (held at `epoch`) to `status` at `now`
    /// and writes nothing else yet: callers fill in what the point carries.
    pub fn new(run_id: impl Into<String>, epoch: i64, status: RunStatus, now: i64) -> DurablePoint {
        DurablePoint {
            run_id: run_id.into(),
            epoch,
            status,
            state: String::new(),
            wake_at: None,
            result: None,
            error: None,
            steps: Vec::new(),
            memory: Vec::new(),
            events: Vec::new(),
            journal: Vec::new(),
            approvals: Vec::new(),
            consumed: Vec::new(),
            delivered: Vec::new(),
            waits: None,
            now,
            create: None,
            release: false,
        }
    }
}

/// What a run's first [`DurablePoint`] needs to create the run; the status,
/// state and wake-up time come from the point itself.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCreation {
    /// The workflow's name.
    pub workflow: String,
    /// The bot whose package holds the script.
    pub bot: String,
    /// The program the run is pinned to; must have been stored with `put_program`.
    pub program_hash: String,
    /// The run's input object.
    pub input: Value,
    /// The run that started this one (bot-to-bot calls).
    pub parent_run: Option<String>,
    /// The driver that holds the new run's lease, until `lease_until`.
    pub lease_owner: String,
    /// When the lease lapses (epoch ms).
    pub lease_until: i64,
}

/// What became of one [`DurablePoint`] in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointOutcome {
    /// Committed.
    Ok,
    /// The run's lease epoch no longer matches: nothing of the point was written.
    Fenced,
    /// The point is invalid (too large a value, unknown run): nothing of it was written.
    Rejected(String),
    /// The point would have created a run whose id exists: nothing of it was written.
    Exists,
}
