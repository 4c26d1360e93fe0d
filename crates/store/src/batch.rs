//! The backend-neutral half of a group commit.
//!
//! A batch of [`DurablePoint`]s is validated and serialised once, then applied
//! with a handful of set-based statements per *round* instead of several
//! statements per point: every table write of a round is one statement that reads
//! its rows from a single JSON document (`json_each` in SQLite,
//! `json_to_recordset` in PostgreSQL). A round is a run of consecutive points with
//! distinct run ids, so within a round no two points touch the same run, steps or
//! journal; a point that repeats a run id starts the next round, which keeps the
//! batch's order observable.
//!
//! Memory operations depend on each other across runs, so they are applied one by
//! one, in point order, right after the round's fencing update.

use std::collections::HashSet;
use std::future::Future;

use serde::Serialize;
use serde_json::Value;

use crate::approval::{ApprovalWrite, NewApproval};
use crate::group::{GroupCommitted, GroupWrite, GroupWritten};
use crate::model::{DurablePoint, MemoryOp, PointOutcome, StepStatus, StepWrite};
use crate::{Error, MAX_VALUE_BYTES, Result};

/// The statements a backend runs inside its commit transaction.
pub(crate) trait CommitTx: Send {
    /// Inserts the runs of `creates_doc` whose id is free and whose program
    /// is stored; returns the ids inserted.
    fn create_runs(
        &mut self,
        creates_doc: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Updates every run of `runs_doc` whose epoch matches; returns the ids updated.
    fn fence(&mut self, runs_doc: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Whether a run with this id exists.
    fn run_exists(&mut self, id: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Applies one memory operation.
    fn memory(&mut self, op: &PreparedMemory, now: i64) -> impl Future<Output = Result<()>> + Send;
    /// Upserts the step rows of `steps_doc`, leaving `done` rows alone.
    fn upsert_steps(&mut self, steps_doc: &str) -> impl Future<Output = Result<()>> + Send;
    /// Inserts the events of `events_doc`, skipping ids that exist.
    fn insert_events(&mut self, events_doc: &str) -> impl Future<Output = Result<()>> + Send;
    /// Appends the journal entries of `journal_doc`.
    fn append_journal(&mut self, journal_doc: &str) -> impl Future<Output = Result<()>> + Send;
    /// [`upsert_steps`](Self::upsert_steps), [`insert_events`](Self::insert_events)
    /// and [`append_journal`](Self::append_journal) in this order, for the
    /// documents given. A backend whose every statement is a round trip to
    /// another thread (SQLite) runs them as one.
    fn write_rows(
        &mut self,
        steps_doc: Option<&str>,
        events_doc: Option<&str>,
        journal_doc: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            if let Some(doc) = steps_doc {
                self.upsert_steps(doc).await?;
            }
            if let Some(doc) = events_doc {
                self.insert_events(doc).await?;
            }
            if let Some(doc) = journal_doc {
                self.append_journal(doc).await?;
            }
            Ok(())
        }
    }
    /// Applies one approval write (rare, so one at a time).
    fn approval(
        &mut self,
        write: &ApprovalWrite,
        now: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Serialises this transaction with every other one that publishes
    /// events or registers waits (PostgreSQL: an advisory lock; SQLite's
    /// single writer already is), so a wait and a publish never miss each other.
    /// `exclusive` when the batch registers waits; a batch that only
    /// publishes takes the lock shared, so publishers never wait for each other.
    fn lock_events(&mut self, exclusive: bool) -> impl Future<Output = Result<()>> + Send;
    /// Records a point's consumed and delivered events and replaces its waits.
    fn event_marks(
        &mut self,
        run_id: &str,
        marks: &EventMarks,
        now: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Removes every registered wait of the runs in `runs_doc` (a JSON array
    /// of run ids): one statement for all the points that wait for nothing.
    fn clear_waits(&mut self, runs_doc: &str) -> impl Future<Output = Result<()>> + Send;
    /// Makes due the waiting runs that wait for one of the events of
    /// `events_doc`; true when there was one.
    fn wake_waiters(
        &mut self,
        events_doc: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Applies one write beside the points under a savepoint: the outer
    /// `Err` fails the transaction, the inner one refuses this write alone.
    fn group_write(
        &mut self,
        write: &GroupWrite,
    ) -> impl Future<Output = Result<Result<GroupWritten>>> + Send;
}

/// Applies the writes that ride on a group commit, after its points, in order.
pub(crate) async fn apply_writes<T: CommitTx>(
    tx: &mut T,
    writes: &[GroupWrite],
) -> Result<Vec<Result<GroupWritten>>> {
    let mut done = Vec::with_capacity(writes.len());
    for write in writes {
        done.push(tx.group_write(write).await?);
    }
    Ok(done)
}

/// A point's event records (see [`DurablePoint::consumed`]).
#[derive(Default)]
pub(crate) struct EventMarks {
    pub(crate) consumed: Vec<String>,
    pub(crate) delivered: Vec<String>,
    pub(crate) waits: Option<Vec<crate::Wait>>,
}

impl EventMarks {
    fn is_empty(&self) -> bool {
        self.consumed.is_empty() && self.delivered.is_empty() && self.waits.is_none()
    }

    /// Whether the only mark is "this run waits for nothing now" (every
    /// final point, and a point that waits for an approval or a timer).
    fn only_clears_waits(&self) -> bool {
        self.consumed.is_empty()
            && self.delivered.is_empty()
            && self.waits.as_ref().is_some_and(Vec::is_empty)
    }
}

/// A batch ready to apply: outcomes of invalid points are already decided.
pub(crate) struct PreparedBatch {
    pub(crate) outcomes: Vec<PointOutcome>,
    rounds: Vec<Vec<PreparedPoint>>,
}

impl PreparedBatch {
    /// What the group commit of this batch did, once it has: the points'
    /// outcomes as the commit settled them, with the writes' results.
    pub(crate) fn committed(
        self,
        written: Vec<Result<GroupWritten>>,
        woke_waiters: bool,
    ) -> GroupCommitted {
        GroupCommitted {
            outcomes: self.outcomes,
            written,
            woke_waiters,
        }
    }

    /// Whether any point is left to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.rounds.is_empty()
    }

    /// Whether a point publishes events or registers waits.
    fn touches_events(&self) -> bool {
        self.rounds
            .iter()
            .flatten()
            .any(|p| !p.events.is_empty() || p.marks.waits.is_some())
    }

    /// Whether a point registers waits.
    fn registers_waits(&self) -> bool {
        self.rounds
            .iter()
            .flatten()
            .any(|p| p.marks.waits.is_some())
    }
}

struct PreparedPoint {
    index: usize,
    run_id: String,
    epoch: i64,
    status: &'static str,
    state: String,
    wake_at: Option<i64>,
    result: Option<String>,
    error: Option<String>,
    steps: Vec<PreparedStep>,
    memory: Vec<PreparedMemory>,
    events: Vec<PreparedEvent>,
    /// The point's journal entries as one JSON array (one row for the point).
    journal: Option<PreparedJournal>,
    approvals: Vec<ApprovalWrite>,
    marks: EventMarks,
    now: i64,
    create: Option<PreparedCreation>,
    release: bool,
}

impl PreparedPoint {
    /// Whether a single pass writes this point's approval writes as
    /// documents: when every one opens a request of this run, issues its
    /// tokens or owes its notification (a new approval step). Any other
    /// write (a decision's outcome, an escalation, an audit) sends all of
    /// the point's approval writes after the pass, in their order.
    fn approvals_in_docs(&self) -> bool {
        !self.approvals.is_empty()
            && self.approvals.iter().all(|write| match write {
                ApprovalWrite::Create(new) => new.run_id == self.run_id,
                ApprovalWrite::IssueTokens(_) | ApprovalWrite::OweNotice { .. } => true,
                _ => false,
            })
    }
}

/// A point's journal entries, serialised as the text of one row.
struct PreparedJournal {
    /// How many entries the row holds.
    count: usize,
    /// `[{"kind": ..., "data": ...}, ...]`, each `data` as serialised once.
    entries: String,
}

/// A run's creation with its input serialised.
struct PreparedCreation {
    creation: Box<crate::model::RunCreation>,
    input: String,
}

struct PreparedStep {
    write: StepWrite,
    answer: Option<String>,
    error: Option<String>,
}

struct PreparedEvent {
    id: String,
    name: String,
    key: Option<String>,
    target_bot: Option<String>,
    payload: Option<String>,
    from_bot: Option<String>,
    from_run: Option<String>,
}

/// A memory operation with its value already serialised.
pub(crate) enum PreparedMemory {
    Set {
        bot: String,
        key: String,
        value: String,
    },
    Share {
        from_bot: String,
        key: String,
        to_bot: String,
    },
    Sync {
        bot: String,
        from_bot: String,
    },
}

/// Serialises a value as JSON text and checks it against [`MAX_VALUE_BYTES`].
pub(crate) fn to_json(value: &Value, what: impl FnOnce() -> String) -> Result<String> {
    // Serialising a `Value` cannot fail: its keys are strings and it holds no
    // non-finite floats, so the only error path is unreachable.
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    if text.len() > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge {
            what: what(),
            bytes: text.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(text)
}

/// Checks JSON text a caller serialised itself against [`MAX_VALUE_BYTES`].
fn check_len(text: &str, what: impl FnOnce() -> String) -> Result<()> {
    if text.len() > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge {
            what: what(),
            bytes: text.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

fn opt_json(value: Option<&Value>, what: impl FnOnce() -> String) -> Result<Option<String>> {
    value.map(|value| to_json(value, what)).transpose()
}

/// A durable point checked and serialised for a group commit: what a store
/// does to every point before its transaction, done ahead, by whoever
/// makes the point, so that a group committer, which writes one batch after
/// another, spends none of its time between two transactions on it
/// ([`Store::commit_ready`](crate::Store::commit_ready)). A point that
/// fails its checks carries why, and is rejected in its batch.
pub struct ReadyPoint(std::result::Result<PreparedPoint, String>);

impl ReadyPoint {
    /// Checks and serialises `point`.
    pub fn new(point: DurablePoint) -> ReadyPoint {
        ReadyPoint(prepare_point(point).map_err(|error| error.to_string()))
    }

    /// The canonical names ([`canonical_event_name`](crate::canonical_event_name))
    /// of the events the point publishes (none for a rejected point).
    pub fn event_names(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .flat_map(|point| point.events.iter().map(|e| e.name.as_str()))
    }
}

impl std::fmt::Debug for ReadyPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(point) => f
                .debug_struct("ReadyPoint")
                .field("run_id", &point.run_id)
                .field("epoch", &point.epoch)
                .finish_non_exhaustive(),
            Err(reason) => f.debug_tuple("ReadyPoint").field(reason).finish(),
        }
    }
}

/// The batch of `points`, numbered in order, in rounds of one point per run.
pub(crate) fn assemble(points: Vec<ReadyPoint>) -> PreparedBatch {
    let mut outcomes = Vec::with_capacity(points.len());
    let mut rounds: Vec<Vec<PreparedPoint>> = Vec::new();
    let mut round_runs: HashSet<String> = HashSet::new();
    for (index, ReadyPoint(point)) in points.into_iter().enumerate() {
        match point {
            Ok(mut prepared) => {
                prepared.index = index;
                outcomes.push(PointOutcome::Ok);
                let current = rounds
                    .last_mut()
                    .filter(|_| !round_runs.contains(&prepared.run_id));
                match current {
                    Some(round) => {
                        round_runs.insert(prepared.run_id.clone());
                        round.push(prepared);
                    }
                    None => {
                        round_runs.clear();
                        round_runs.insert(prepared.run_id.clone());
                        rounds.push(vec![prepared]);
                    }
                }
            }
            Err(reason) => outcomes.push(PointOutcome::Rejected(reason)),
        }
    }
    PreparedBatch { outcomes, rounds }
}

/// `point` checked and serialised; its `index` is set when its batch is
/// assembled.
fn prepare_point(point: DurablePoint) -> Result<PreparedPoint> {
    check_len(&point.state, || "state".to_owned())?;
    let state = point.state;
    let result = opt_json(point.result.as_ref(), || "result".to_owned())?;
    let error = opt_json(point.error.as_ref(), || "error".to_owned())?;
    let mut steps: Vec<PreparedStep> = Vec::with_capacity(point.steps.len());
    for write in point.steps {
        let answer = opt_json(write.answer.as_ref(), || {
            format!("step {} answer", write.path)
        })?;
        let error = opt_json(write.error.as_ref(), || {
            format!("step {} error", write.path)
        })?;
        let step = PreparedStep {
            write,
            answer,
            error,
        };
        // Two writes of one path in one point fold into one row write, with the
        // same effect as applying them in order (PostgreSQL cannot upsert one
        // row twice in a statement).
        match steps.iter_mut().find(|s| s.write.path == step.write.path) {
            Some(earlier) => fold_step(earlier, step),
            None => steps.push(step),
        }
    }
    let mut memory = Vec::with_capacity(point.memory.len());
    for op in point.memory {
        memory.push(match op {
            MemoryOp::Set { bot, key, value } => {
                let value = to_json(&value, || format!("memory {bot}.{key}"))?;
                PreparedMemory::Set { bot, key, value }
            }
            MemoryOp::Share {
                from_bot,
                key,
                to_bot,
            } => PreparedMemory::Share {
                from_bot,
                key,
                to_bot,
            },
            MemoryOp::Sync { bot, from_bot } => PreparedMemory::Sync { bot, from_bot },
        });
    }
    let mut events = Vec::with_capacity(point.events.len());
    for event in point.events {
        let payload = opt_json(event.payload.as_ref(), || {
            format!("event {} payload", event.id)
        })?;
        events.push(PreparedEvent {
            id: event.id,
            name: crate::event::canonical_event_name(&event.name),
            key: event.key,
            target_bot: event.target_bot,
            payload,
            from_bot: event.from_bot,
            from_run: event.from_run,
        });
    }
    let journal = journal_row(point.journal)?;
    for write in &point.approvals {
        check_approval(write)?;
    }
    let create = match point.create {
        Some(creation) => Some(PreparedCreation {
            input: to_json(&creation.input, || "the run's input".to_owned())?,
            creation,
        }),
        None => None,
    };
    Ok(PreparedPoint {
        index: 0,
        run_id: point.run_id,
        epoch: point.epoch,
        status: point.status.as_str(),
        state,
        wake_at: point.wake_at,
        result,
        error,
        steps,
        memory,
        events,
        journal,
        approvals: point.approvals,
        marks: EventMarks {
            consumed: point.consumed,
            delivered: point.delivered,
            // A run that ends waits for nothing: however it ended (its own
            // final point, `cancel`, the failure recorded after a rejected
            // point), its registered waits go in the same transaction.
            waits: if point.status.is_terminal() {
                Some(Vec::new())
            } else {
                point.waits
            },
        },
        now: point.now,
        create,
        release: point.release,
    })
}

/// A point's journal entries as the text of its one journal row; each
/// entry's `data` is checked against [`MAX_VALUE_BYTES`] as before, and the
/// row as a whole too.
fn journal_row(entries: Vec<crate::model::NewJournalEntry>) -> Result<Option<PreparedJournal>> {
    if entries.is_empty() {
        return Ok(None);
    }
    let count = entries.len();
    let mut text = String::with_capacity(64 * count);
    text.push('[');
    for (i, entry) in entries.iter().enumerate() {
        let data = to_json(&entry.data, || format!("journal {} data", entry.kind))?;
        if i > 0 {
            text.push(',');
        }
        text.push_str("{\"kind\":");
        // Serialising a string cannot fail.
        text.push_str(&serde_json::to_string(&entry.kind).unwrap_or_else(|_| "\"\"".to_owned()));
        text.push_str(",\"data\":");
        text.push_str(&data);
        text.push('}');
    }
    text.push(']');
    check_len(&text, || "the point's journal".to_owned())?;
    Ok(Some(PreparedJournal {
        count,
        entries: text,
    }))
}

/// Rejects an approval write holding a value above the size limit.
pub(crate) fn check_approval(write: &ApprovalWrite) -> Result<()> {
    let check_new = |new: &NewApproval| -> Result<()> {
        let approvers = Value::from(new.approvers.clone());
        to_json(&approvers, || format!("approval {} approvers", new.id))?;
        opt_json(new.on_timeout.as_ref(), || {
            format!("approval {} on_timeout", new.id)
        })?;
        if let Some(message) = &new.message {
            to_json(&Value::from(message.as_str()), || {
                format!("approval {} message", new.id)
            })?;
        }
        Ok(())
    };
    match write {
        ApprovalWrite::Create(new) | ApprovalWrite::Escalate { to: new, .. } => check_new(new),
        ApprovalWrite::Resolve { id, decision, .. } => {
            to_json(decision, || format!("approval {id} decision")).map(|_| ())
        }
        ApprovalWrite::WakeIfSettled { .. }
        | ApprovalWrite::IssueTokens(_)
        | ApprovalWrite::OweNotice { .. } => Ok(()),
        ApprovalWrite::Audit { id, detail, .. } => {
            to_json(detail, || format!("approval {id} audit")).map(|_| ())
        }
    }
}

fn fold_step(earlier: &mut PreparedStep, later: PreparedStep) {
    if earlier.write.status == StepStatus::Done {
        return;
    }
    let attempts = earlier.write.attempts.max(later.write.attempts);
    let started_at = earlier.write.started_at.or(later.write.started_at);
    *earlier = later;
    earlier.write.attempts = attempts;
    earlier.write.started_at = started_at;
}

/// A long text column of a commit document (a run's state, a point's
/// journal entries): a JSON string, or where the backend reads them from
/// the commit's [`SideTexts`], the `[start, length]` of its bytes there.
#[derive(Serialize)]
#[serde(untagged)]
enum Text<'a> {
    Inline(&'a str),
    Side([usize; 2]),
}

/// The long texts of a single-pass commit, side by side in one blob bound
/// beside its documents. Inside a document such a text would be part of its
/// row, and SQLite copies a row's whole value out of the document for every
/// `j.value ->> i` that reads one of its fields: a run's state (most of a
/// point's bytes) would be copied once per column. As a slice of the blob
/// it is copied once, by the one `substr` that reads it.
#[derive(Default)]
pub(crate) struct SideTexts(Vec<u8>);

impl SideTexts {
    /// Appends `text`; its reference is 1-based, as SQL's `substr` counts.
    fn text<'a>(&mut self, text: &'a str) -> Text<'a> {
        let start = self.0.len() + 1;
        self.0.extend_from_slice(text.as_bytes());
        Text::Side([start, text.len()])
    }

    /// The blob to bind.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Where the long texts of documents go: inline, or into side texts.
fn long_text<'a>(side: &mut Option<&mut SideTexts>, text: &'a str) -> Text<'a> {
    match side {
        Some(side) => side.text(text),
        None => Text::Inline(text),
    }
}

/// Declares a row of a commit document, serialised as a JSON object (field
/// names as keys) or, in a single pass, as an array in field order: SQLite
/// finds an object's key by comparing it with every key before it, row by
/// row and column by column, while an index only skips the elements before
/// it, and an array leaves the keys out of the document.
/// `FIELDS` names the positions, so the single pass's SQL is the same
/// statements with `j.value ->> 'name'` turned into `j.value ->> i`.
macro_rules! doc_row {
    ($(#[$meta:meta])* struct $name:ident<$lt:lifetime> {
        $($(#[$field_meta:meta])* $field:ident: $ty:ty,)*
    }) => {
        $(#[$meta])*
        #[derive(Serialize)]
        pub(crate) struct $name<$lt> {
            $($(#[$field_meta])* $field: $ty,)*
        }

        impl<$lt> $name<$lt> {
            /// The fields in the order of the row's array form.
            pub(crate) const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The row as an array, in [`FIELDS`](Self::FIELDS) order.
            fn positional(&self) -> impl Serialize + '_ {
                ($(&self.$field,)*)
            }
        }
    };
}

doc_row! {
    struct RunRow<'a> {
        id: &'a str,
        epoch: i64,
        status: &'a str,
        state: Text<'a>,
        wake_at: Option<i64>,
        result: Option<&'a str>,
        error: Option<&'a str>,
        now: i64,
        release: bool,
    }
}

doc_row! {
    /// A new run's row: its first point's fields plus the run's identity and lease.
    struct CreateRow<'a> {
        id: &'a str,
        workflow: &'a str,
        bot: &'a str,
        program_hash: &'a str,
        status: &'a str,
        state: Text<'a>,
        input: &'a str,
        wake_at: Option<i64>,
        result: Option<&'a str>,
        error: Option<&'a str>,
        parent_run: Option<&'a str>,
        lease_owner: Option<&'a str>,
        lease_epoch: i64,
        lease_until: Option<i64>,
        now: i64,
    }
}

doc_row! {
    struct StepRow<'a> {
        run_id: &'a str,
        path: &'a str,
        number: &'a str,
        kind: &'a str,
        bot: Option<&'a str>,
        attempts: i32,
        status: &'a str,
        answer: Option<&'a str>,
        error: Option<&'a str>,
        started_at: Option<i64>,
        finished_at: Option<i64>,
    }
}

doc_row! {
    struct EventRow<'a> {
        ord: usize,
        /// The publishing point's run (a single-pass write keeps the events of
        /// written points only).
        run_id: &'a str,
        id: &'a str,
        name: &'a str,
        key: Option<&'a str>,
        target_bot: Option<&'a str>,
        payload: Option<&'a str>,
        from_bot: Option<&'a str>,
        from_run: Option<&'a str>,
        at: i64,
    }
}

doc_row! {
    /// One point's journal row: `n` entries, numbered on from the run's last.
    struct JournalRow<'a> {
        run_id: &'a str,
        n: usize,
        at: i64,
        entries: Text<'a>,
    }
}

doc_row! {
    /// A new approval request (a single pass's), with the detail of its
    /// `created` audit entry.
    struct ApprovalRow<'a> {
        run_id: &'a str,
        id: &'a str,
        path: &'a str,
        step: Option<&'a str>,
        approvers: String,
        group_name: Option<&'a str>,
        require_n: i32,
        message: Option<&'a str>,
        via: &'a str,
        timeout_ms: Option<i64>,
        on_timeout: Option<String>,
        escalations: i32,
        started_by: Option<&'a str>,
        now: i64,
        due_at: Option<i64>,
        detail: String,
    }
}

doc_row! {
    /// A link token issued with its request (a single pass's).
    struct TokenRow<'a> {
        run_id: &'a str,
        id: &'a str,
        approval_id: &'a str,
        approver: &'a str,
        action: &'a str,
        now: i64,
        expires_at: i64,
    }
}

doc_row! {
    /// A notification owed with its request (a single pass's).
    struct OwedRow<'a> {
        run_id: &'a str,
        approval_id: &'a str,
        reason: &'a str,
        now: i64,
        claimed_by: Option<&'a str>,
        claimed_until: Option<i64>,
    }
}

/// The approval documents of a single pass (`None`: no rows).
pub(crate) struct ApprovalDocs {
    /// New requests, each with its `created` audit entry.
    pub(crate) requests: Option<Jsonb>,
    /// Their link tokens.
    pub(crate) tokens: Option<Jsonb>,
    /// The notifications they owe.
    pub(crate) owed: Option<Jsonb>,
}

impl ApprovalDocs {
    /// Whether there is any row.
    pub(crate) fn any(&self) -> bool {
        self.requests.is_some() || self.tokens.is_some() || self.owed.is_some()
    }
}

/// The approval writes of `points` that a single pass writes as documents
/// (see [`PreparedPoint::approvals_in_docs`]), as positional documents.
fn approval_docs(points: &[&PreparedPoint]) -> Result<ApprovalDocs> {
    let mut requests = Vec::new();
    let mut tokens = Vec::new();
    let mut owed = Vec::new();
    for p in points.iter().filter(|p| p.approvals_in_docs()) {
        for write in &p.approvals {
            match write {
                ApprovalWrite::Create(new) => {
                    let values = crate::approval_sql::InsertValues::of(new)?;
                    let detail = crate::approval_sql::created_detail(new);
                    requests.push(ApprovalRow {
                        run_id: &p.run_id,
                        id: &new.id,
                        path: &new.path,
                        step: new.step.as_deref(),
                        approvers: values.approvers,
                        group_name: new.group.as_deref(),
                        require_n: new.require_n,
                        message: new.message.as_deref(),
                        via: &new.via,
                        timeout_ms: new.timeout_ms,
                        on_timeout: values.on_timeout,
                        escalations: new.escalations,
                        started_by: new.started_by.as_deref(),
                        now: p.now,
                        due_at: new.due_at,
                        detail: to_json(&detail, || format!("approval {} audit", new.id))?,
                    });
                }
                ApprovalWrite::IssueTokens(issued) => {
                    tokens.extend(issued.iter().map(|t| TokenRow {
                        run_id: &p.run_id,
                        id: &t.id,
                        approval_id: &t.approval_id,
                        approver: &t.approver,
                        action: &t.action,
                        now: p.now,
                        expires_at: t.expires_at,
                    }));
                }
                ApprovalWrite::OweNotice { id, reason, claim } => owed.push(OwedRow {
                    run_id: &p.run_id,
                    approval_id: id,
                    reason: reason.as_str(),
                    now: p.now,
                    claimed_by: claim.as_ref().map(|c| c.node.as_str()),
                    claimed_until: claim.as_ref().map(|c| c.until),
                }),
                // `approvals_in_docs` admits no other kind.
                _ => {}
            }
        }
    }
    Ok(ApprovalDocs {
        requests: rows_doc(&requests, ApprovalRow::positional)?,
        tokens: rows_doc(&tokens, TokenRow::positional)?,
        owed: rows_doc(&owed, OwedRow::positional)?,
    })
}

/// `rows` as one JSON document.
pub(crate) fn to_doc<T: Serialize>(rows: &[T]) -> Result<String> {
    serde_json::to_string(rows).map_err(|source| Error::BadJson {
        column: "commit document",
        source,
    })
}

/// How a commit document is written: JSON text of objects (the statements
/// of [`apply`], on either backend), or SQLite's binary JSON
/// of arrays ([`Jsonb`], the single pass).
pub(crate) trait DocFormat: Sized {
    /// Whether rows are arrays in field order rather than objects.
    const POSITIONAL: bool;

    /// `rows` as one document.
    fn encode<T: Serialize>(rows: &[T]) -> Result<Self>;
}

impl DocFormat for String {
    const POSITIONAL: bool = false;

    fn encode<T: Serialize>(rows: &[T]) -> Result<Self> {
        to_doc(rows)
    }
}

/// A document in SQLite's binary JSON ([JSONB](https://sqlite.org/jsonb.html)):
/// `jsonb_each` walks it as it is, where JSON text would be parsed into
/// this form first, in every statement that reads it. Strings go in raw
/// (no escapes), integers as their digits.
pub(crate) struct Jsonb(pub(crate) Vec<u8>);

impl Jsonb {
    /// An empty array, for a document with no rows.
    pub(crate) const EMPTY: &'static [u8] = &[0x0b];
}

impl DocFormat for Jsonb {
    const POSITIONAL: bool = true;

    fn encode<T: Serialize>(rows: &[T]) -> Result<Self> {
        crate::jsonb::to_vec(rows)
            .map(Jsonb)
            .map_err(|e| Error::Jsonb(e.to_string()))
    }
}

/// The documents of one round's row writes (`None`: no rows).
pub(crate) struct RowDocs<D> {
    pub(crate) steps: Option<D>,
    pub(crate) events: Option<D>,
    pub(crate) journal: Option<D>,
}

/// The creation rows of a round's points that create their run.
fn creates_doc<D: DocFormat>(
    round: &[PreparedPoint],
    mut side: Option<&mut SideTexts>,
) -> Result<Option<D>> {
    let creates: Vec<CreateRow<'_>> = round
        .iter()
        .filter_map(|p| {
            p.create.as_ref().map(|c| CreateRow {
                id: &p.run_id,
                workflow: &c.creation.workflow,
                bot: &c.creation.bot,
                program_hash: &c.creation.program_hash,
                status: p.status,
                state: long_text(&mut side, &p.state),
                input: &c.input,
                wake_at: p.wake_at,
                result: p.result.as_deref(),
                error: p.error.as_deref(),
                parent_run: c.creation.parent_run.as_deref(),
                // A first point that already waits gives the lease up at once.
                lease_owner: (!p.release).then_some(c.creation.lease_owner.as_str()),
                lease_epoch: p.epoch,
                lease_until: (!p.release).then_some(c.creation.lease_until),
                now: p.now,
            })
        })
        .collect();
    rows_doc(&creates, CreateRow::positional)
}

/// The fenced run updates of a round's points on existing runs.
fn runs_doc<D: DocFormat>(
    round: &[PreparedPoint],
    mut side: Option<&mut SideTexts>,
) -> Result<Option<D>> {
    let runs: Vec<RunRow<'_>> = round
        .iter()
        .filter(|p| p.create.is_none())
        .map(|p| RunRow {
            id: &p.run_id,
            epoch: p.epoch,
            status: p.status,
            state: long_text(&mut side, &p.state),
            wake_at: p.wake_at,
            result: p.result.as_deref(),
            error: p.error.as_deref(),
            now: p.now,
            release: p.release,
        })
        .collect();
    rows_doc(&runs, RunRow::positional)
}

/// The step, event and journal rows of `points`.
fn row_docs<D: DocFormat>(
    points: &[&PreparedPoint],
    mut side: Option<&mut SideTexts>,
) -> Result<RowDocs<D>> {
    let steps: Vec<StepRow<'_>> = points
        .iter()
        .flat_map(|p| {
            p.steps.iter().map(|s| StepRow {
                run_id: &p.run_id,
                path: &s.write.path,
                number: &s.write.number,
                kind: &s.write.kind,
                bot: s.write.bot.as_deref(),
                attempts: s.write.attempts,
                status: s.write.status.as_str(),
                answer: s.answer.as_deref(),
                error: s.error.as_deref(),
                started_at: s.write.started_at,
                finished_at: s.write.finished_at,
            })
        })
        .collect();
    let events: Vec<EventRow<'_>> = points
        .iter()
        .flat_map(|p| {
            p.events.iter().map(|e| EventRow {
                ord: 0,
                run_id: &p.run_id,
                id: &e.id,
                name: &e.name,
                key: e.key.as_deref(),
                target_bot: e.target_bot.as_deref(),
                payload: e.payload.as_deref(),
                from_bot: e.from_bot.as_deref(),
                from_run: e.from_run.as_deref(),
                at: p.now,
            })
        })
        .enumerate()
        .map(|(ord, row)| EventRow { ord, ..row })
        .collect();
    let journal: Vec<JournalRow<'_>> = points
        .iter()
        .filter_map(|p| {
            p.journal.as_ref().map(|j| JournalRow {
                run_id: &p.run_id,
                n: j.count,
                at: p.now,
                entries: long_text(&mut side, &j.entries),
            })
        })
        .collect();
    Ok(RowDocs {
        steps: rows_doc(&steps, StepRow::positional)?,
        events: rows_doc(&events, EventRow::positional)?,
        journal: rows_doc(&journal, JournalRow::positional)?,
    })
}

/// The document of `rows` (`None`: no rows): objects, or in a positional
/// format (the single pass's, which also puts long texts beside it) arrays.
fn rows_doc<'r, D: DocFormat, R: Serialize, P: Serialize>(
    rows: &'r [R],
    array: impl Fn(&'r R) -> P,
) -> Result<Option<D>> {
    if D::POSITIONAL {
        non_empty_doc(&rows.iter().map(array).collect::<Vec<_>>())
    } else {
        non_empty_doc(rows)
    }
}

fn non_empty_doc<D: DocFormat, T: Serialize>(rows: &[T]) -> Result<Option<D>> {
    if rows.is_empty() {
        Ok(None)
    } else {
        D::encode(rows).map(Some)
    }
}

/// Sets the outcome of a point whose run row the round did not write: the
/// run exists (a taken id, or a lost lease) or it does not.
fn settle_unwritten(outcomes: &mut [PointOutcome], point: &PreparedPoint, exists: bool) {
    outcomes[point.index] = match (&point.create, exists) {
        (Some(_), true) => PointOutcome::Exists,
        (Some(create), false) => {
            PointOutcome::Rejected(format!("unknown program {}", create.creation.program_hash))
        }
        (None, true) => {
            tracing::debug!(run = %point.run_id, epoch = point.epoch, "durable point fenced");
            PointOutcome::Fenced
        }
        (None, false) => PointOutcome::Rejected(format!("unknown run {}", point.run_id)),
    };
}

/// A batch that one set of statements can write without looking at any
/// result in between (see [`PreparedBatch::single_pass`]).
pub(crate) struct SinglePass {
    pub(crate) creates: Option<Jsonb>,
    pub(crate) runs: Option<Jsonb>,
    pub(crate) rows: RowDocs<Jsonb>,
    /// Runs whose point waits for nothing (their registered waits go).
    pub(crate) cleared: Option<Jsonb>,
    /// Every run id of the batch, to find the points that were not written.
    pub(crate) ids: Jsonb,
    /// The latest `now` of the batch (wake-ups of waiters use it).
    pub(crate) now: i64,
    /// The states and journal entries the documents refer to.
    pub(crate) texts: SideTexts,
    /// The approval writes of new approval steps.
    pub(crate) approvals: ApprovalDocs,
    /// Whether points hold memory operations or other approval writes,
    /// which [`PreparedBatch::apply_trailing`] applies after the pass.
    pub(crate) trailing: bool,
}

impl PreparedBatch {
    /// The documents for a batch of one round whose points only create or
    /// fence their run, write rows and clear their waits: the common case,
    /// which a backend may write in one pass, filtering the rows by the runs
    /// its fence or insert actually wrote. Memory operations and approval
    /// writes (one statement at a time) may follow in the same transaction
    /// ([`apply_trailing`](Self::apply_trailing)): they neither read nor
    /// write what the pass does. `None` for any other batch (several rounds,
    /// or event marks beyond clearing waits).
    pub(crate) fn single_pass(&self) -> Result<Option<SinglePass>> {
        let [round] = self.rounds.as_slice() else {
            return Ok(None);
        };
        let plain = round
            .iter()
            .all(|p| p.marks.is_empty() || p.marks.only_clears_waits());
        if !plain {
            return Ok(None);
        }
        let trailing = round
            .iter()
            .any(|p| !p.memory.is_empty() || (!p.approvals.is_empty() && !p.approvals_in_docs()));
        let all: Vec<&PreparedPoint> = round.iter().collect();
        let cleared: Vec<&str> = round
            .iter()
            .filter(|p| p.marks.only_clears_waits())
            .map(|p| p.run_id.as_str())
            .collect();
        let ids: Vec<&str> = round.iter().map(|p| p.run_id.as_str()).collect();
        let mut texts = SideTexts::default();
        Ok(Some(SinglePass {
            creates: creates_doc(round, Some(&mut texts))?,
            runs: runs_doc(round, Some(&mut texts))?,
            rows: row_docs(&all, Some(&mut texts))?,
            approvals: approval_docs(&all)?,
            cleared: non_empty_doc(&cleared)?,
            ids: Jsonb::encode(&ids)?,
            now: round.iter().map(|p| p.now).max().unwrap_or(0),
            texts,
            trailing,
        }))
    }

    /// After a [`single_pass`](Self::single_pass), in its transaction: the
    /// memory operations and the approval writes it left out of its
    /// documents, of the points it wrote (every point but the `unwritten`
    /// runs), each point's in order.
    pub(crate) async fn apply_trailing<T: CommitTx>(
        &self,
        tx: &mut T,
        unwritten: &[(String, bool)],
    ) -> Result<()> {
        let written = self
            .rounds
            .iter()
            .flatten()
            .filter(|p| !unwritten.iter().any(|(run, _)| *run == p.run_id));
        for point in written {
            for op in &point.memory {
                tx.memory(op, point.now).await?;
            }
            if !point.approvals_in_docs() {
                for write in &point.approvals {
                    tx.approval(write, point.now).await?;
                }
            }
        }
        Ok(())
    }

    /// Fills in the outcomes of a [`single_pass`](Self::single_pass) write:
    /// `unwritten` holds the runs whose row it did not write, and whether
    /// each exists.
    pub(crate) fn settle(&mut self, unwritten: &[(String, bool)]) {
        for (run, exists) in unwritten {
            let point = self.rounds.iter().flatten().find(|p| &p.run_id == run);
            if let Some(point) = point {
                settle_unwritten(&mut self.outcomes, point, *exists);
            }
        }
    }
}

/// Applies every round of the batch inside the backend's open transaction and
/// fills in the outcomes of fenced points and unknown runs. True when the
/// points' events made a waiting run due.
pub(crate) async fn apply<T: CommitTx>(tx: &mut T, batch: &mut PreparedBatch) -> Result<bool> {
    let mut woke = false;
    // First, before any run row is locked: a lock taken later could deadlock
    // with a transaction that holds it and waits for one of those rows.
    if batch.touches_events() {
        tx.lock_events(batch.registers_waits()).await?;
    }
    for round in &batch.rounds {
        // A new run's row is inserted with its first point's fields, so that
        // point needs no fencing update; an existing id leaves it out.
        let created: HashSet<String> = match creates_doc::<String>(round, None)? {
            Some(doc) => tx.create_runs(&doc).await?.into_iter().collect(),
            None => HashSet::new(),
        };
        let updated: HashSet<String> = match runs_doc::<String>(round, None)? {
            Some(doc) => tx.fence(&doc).await?.into_iter().collect(),
            None => HashSet::new(),
        };

        let mut live = Vec::with_capacity(round.len());
        for point in round {
            let written = if point.create.is_some() {
                created.contains(&point.run_id)
            } else {
                updated.contains(&point.run_id)
            };
            if written {
                live.push(point);
            } else {
                let exists = tx.run_exists(&point.run_id).await?;
                settle_unwritten(&mut batch.outcomes, point, exists);
            }
        }

        for point in &live {
            for op in &point.memory {
                tx.memory(op, point.now).await?;
            }
        }

        let rows = row_docs::<String>(&live, None)?;
        tx.write_rows(
            rows.steps.as_deref(),
            rows.events.as_deref(),
            rows.journal.as_deref(),
        )
        .await?;

        for point in &live {
            for write in &point.approvals {
                tx.approval(write, point.now).await?;
            }
        }

        // After the round's events are in, so a wait sees an event published
        // beside it, and a publish sees the waits registered beside it.
        let mut cleared: Vec<&str> = Vec::new();
        for point in &live {
            if point.marks.only_clears_waits() {
                cleared.push(&point.run_id);
            } else if !point.marks.is_empty() {
                tx.event_marks(&point.run_id, &point.marks, point.now)
                    .await?;
            }
        }
        if !cleared.is_empty() {
            tx.clear_waits(&to_doc(&cleared)?).await?;
        }
        if let Some(doc) = &rows.events {
            let now = live.iter().map(|p| p.now).max().unwrap_or(0);
            woke |= tx.wake_waiters(doc, now).await?;
        }
    }
    Ok(woke)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewJournalEntry, RunStatus};
    use serde_json::json;

    fn prepared(points: Vec<DurablePoint>) -> PreparedBatch {
        assemble(points.into_iter().map(ReadyPoint::new).collect())
    }

    fn point(run: &str) -> DurablePoint {
        DurablePoint {
            run_id: run.to_owned(),
            epoch: 1,
            status: RunStatus::Running,
            state: "{}".to_owned(),
            wake_at: None,
            result: None,
            error: None,
            steps: vec![],
            memory: vec![],
            events: vec![],
            journal: vec![NewJournalEntry {
                kind: "k".into(),
                data: json!(null),
            }],
            approvals: vec![],
            consumed: vec![],
            delivered: vec![],
            waits: None,
            now: 1,
            create: None,
            release: false,
        }
    }

    #[test]
    fn a_repeated_run_starts_a_new_round() {
        let batch = prepared(vec![point("a"), point("b"), point("a"), point("c")]);
        let rounds: Vec<Vec<&str>> = batch
            .rounds
            .iter()
            .map(|r| r.iter().map(|p| p.run_id.as_str()).collect())
            .collect();
        assert_eq!(rounds, vec![vec!["a", "b"], vec!["a", "c"]]);
    }

    #[test]
    fn an_oversized_value_rejects_only_its_point() {
        let mut big = point("b");
        big.state = json!("x".repeat(MAX_VALUE_BYTES)).to_string();
        let batch = prepared(vec![point("a"), big]);
        assert_eq!(batch.outcomes[0], PointOutcome::Ok);
        assert!(matches!(&batch.outcomes[1], PointOutcome::Rejected(r) if r.contains("state")));
        assert_eq!(batch.rounds.len(), 1);
        assert_eq!(batch.rounds[0].len(), 1);
    }

    fn step(status: StepStatus, attempts: i32, answer: i64) -> StepWrite {
        StepWrite {
            path: "1".into(),
            number: "1".into(),
            kind: "bot".into(),
            bot: None,
            attempts,
            status,
            answer: Some(json!(answer)),
            error: None,
            started_at: Some(answer),
            finished_at: None,
        }
    }

    #[test]
    fn repeated_step_paths_fold_like_sequential_writes() {
        let mut p = point("a");
        p.steps = vec![
            step(StepStatus::Running, 2, 1),
            step(StepStatus::Done, 1, 2),
            step(StepStatus::Running, 5, 3),
        ];
        let batch = prepared(vec![p]);
        let steps = &batch.rounds[0][0].steps;
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].write.status, StepStatus::Done);
        assert_eq!(steps[0].answer.as_deref(), Some("2"));
        assert_eq!(steps[0].write.attempts, 2);
        assert_eq!(steps[0].write.started_at, Some(1));
    }
}
