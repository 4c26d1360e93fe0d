//! Raw rows as both backends return them, and their conversion to the model.
//!
//! JSON columns are TEXT in both databases (see the crate docs), so a raw row
//! holds strings that are parsed here, once, for both backends.

use serde_json::Value;

use crate::model::{
    EventRecord, JournalEntry, MemoryVersion, RunOutcome, RunRecord, RunSummary, SharedEntry,
    StepRecord,
};
use crate::{Error, Result};

/// The columns of `runs` every full-run query selects, as a literal for `concat!`.
macro_rules! run_columns {
    () => {
        "id, workflow, bot, program_hash, status, state, input, result, error, lease_owner, \
         lease_epoch, lease_until, wake_at, version, parent_run, created_at, updated_at"
    };
}
pub(crate) use run_columns;

fn json(column: &'static str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|source| Error::BadJson { column, source })
}

fn opt_json(column: &'static str, text: Option<&str>) -> Result<Option<Value>> {
    text.map(|text| json(column, text)).transpose()
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: String,
    workflow: String,
    bot: String,
    program_hash: String,
    status: String,
    state: String,
    input: String,
    result: Option<String>,
    error: Option<String>,
    lease_owner: Option<String>,
    lease_epoch: i64,
    lease_until: Option<i64>,
    wake_at: Option<i64>,
    version: i64,
    parent_run: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl RunRow {
    /// The run's id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

impl TryFrom<RunRow> for RunRecord {
    type Error = Error;

    fn try_from(row: RunRow) -> Result<Self> {
        Ok(RunRecord {
            status: row.status.parse()?,
            state: json("runs.state", &row.state)?,
            input: json("runs.input", &row.input)?,
            result: opt_json("runs.result", row.result.as_deref())?,
            error: opt_json("runs.error", row.error.as_deref())?,
            id: row.id,
            workflow: row.workflow,
            bot: row.bot,
            program_hash: row.program_hash,
            lease_owner: row.lease_owner,
            lease_epoch: row.lease_epoch,
            lease_until: row.lease_until,
            wake_at: row.wake_at,
            version: row.version,
            parent_run: row.parent_run,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The columns of a [`RunOutcome`], in the order of `OutcomeRow`.
macro_rules! outcome_columns {
    () => {
        "id, status, result, error, wake_at, lease_until"
    };
}
pub(crate) use outcome_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct OutcomeRow {
    id: String,
    status: String,
    result: Option<String>,
    error: Option<String>,
    wake_at: Option<i64>,
    lease_until: Option<i64>,
}

impl TryFrom<OutcomeRow> for RunOutcome {
    type Error = Error;

    fn try_from(row: OutcomeRow) -> Result<Self> {
        Ok(RunOutcome {
            status: row.status.parse()?,
            result: opt_json("runs.result", row.result.as_deref())?,
            error: opt_json("runs.error", row.error.as_deref())?,
            id: row.id,
            wake_at: row.wake_at,
            lease_until: row.lease_until,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SummaryRow {
    id: String,
    workflow: String,
    bot: String,
    program_hash: String,
    status: String,
    wake_at: Option<i64>,
    version: i64,
    parent_run: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<SummaryRow> for RunSummary {
    type Error = Error;

    fn try_from(row: SummaryRow) -> Result<Self> {
        Ok(RunSummary {
            status: row.status.parse()?,
            id: row.id,
            workflow: row.workflow,
            bot: row.bot,
            program_hash: row.program_hash,
            wake_at: row.wake_at,
            version: row.version,
            parent_run: row.parent_run,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct StepRow {
    run_id: String,
    path: String,
    number: String,
    kind: String,
    bot: Option<String>,
    attempts: i32,
    status: String,
    answer: Option<String>,
    error: Option<String>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

impl TryFrom<StepRow> for StepRecord {
    type Error = Error;

    fn try_from(row: StepRow) -> Result<Self> {
        Ok(StepRecord {
            status: row.status.parse()?,
            answer: opt_json("steps.answer", row.answer.as_deref())?,
            error: opt_json("steps.error", row.error.as_deref())?,
            run_id: row.run_id,
            path: row.path,
            number: row.number,
            kind: row.kind,
            bot: row.bot,
            attempts: row.attempts,
            started_at: row.started_at,
            finished_at: row.finished_at,
        })
    }
}

/// One durable point's journal row: its entries, numbered from `seq`.
#[derive(sqlx::FromRow)]
pub(crate) struct JournalRow {
    run_id: String,
    seq: i64,
    at: i64,
    entries: String,
}

/// One entry of a journal row's `entries` array.
#[derive(serde::Deserialize)]
struct StoredEntry {
    kind: String,
    data: Value,
}

/// Expands journal rows (in `seq` order) into their entries, numbered on
/// from each row's `seq`.
pub(crate) fn journal_entries(rows: Vec<JournalRow>) -> Result<Vec<JournalEntry>> {
    let mut out = Vec::with_capacity(rows.len() * 3);
    for row in rows {
        let entries: Vec<StoredEntry> =
            serde_json::from_str(&row.entries).map_err(|source| Error::BadJson {
                column: "journal_points.entries",
                source,
            })?;
        for (seq, entry) in (row.seq..).zip(entries) {
            out.push(JournalEntry {
                run_id: row.run_id.clone(),
                seq,
                at: row.at,
                kind: entry.kind,
                data: entry.data,
            });
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    id: String,
    name: String,
    key: Option<String>,
    target_bot: Option<String>,
    payload: Option<String>,
    from_bot: Option<String>,
    from_run: Option<String>,
    at: i64,
}

impl TryFrom<EventRow> for EventRecord {
    type Error = Error;

    fn try_from(row: EventRow) -> Result<Self> {
        Ok(EventRecord {
            payload: opt_json("events.payload", row.payload.as_deref())?,
            seq: row.seq,
            id: row.id,
            name: row.name,
            key: row.key,
            target_bot: row.target_bot,
            from_bot: row.from_bot,
            from_run: row.from_run,
            at: row.at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SharedRow {
    target_bot: String,
    key: String,
    source_bot: String,
    value: String,
    version: i64,
    shared_at: i64,
}

impl TryFrom<SharedRow> for SharedEntry {
    type Error = Error;

    fn try_from(row: SharedRow) -> Result<Self> {
        Ok(SharedEntry {
            value: json("bot_shared_memory.value", &row.value)?,
            target_bot: row.target_bot,
            key: row.key,
            source_bot: row.source_bot,
            version: row.version,
            shared_at: row.shared_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    value: String,
    version: i64,
    at: i64,
}

impl TryFrom<VersionRow> for MemoryVersion {
    type Error = Error;

    fn try_from(row: VersionRow) -> Result<Self> {
        Ok(MemoryVersion {
            value: json("bot_memory.value", &row.value)?,
            version: row.version,
            at: row.at,
        })
    }
}

/// Parses JSON text read from a column.
pub(crate) fn parse_value(column: &'static str, text: &str) -> Result<Value> {
    json(column, text)
}

/// Converts a list of raw rows.
pub(crate) fn convert<R, T>(rows: Vec<R>) -> Result<Vec<T>>
where
    T: TryFrom<R, Error = Error>,
{
    rows.into_iter().map(T::try_from).collect()
}
