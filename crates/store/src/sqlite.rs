//! The embedded backend: one SQLite file in WAL mode.
//!
//! All writes go through exactly one connection ([`connections::Connections`]), so
//! writers queue in the process instead of failing with `SQLITE_BUSY`, and
//! every commit is one `BEGIN IMMEDIATE` transaction (one WAL fsync with
//! `synchronous = FULL`).
//! Reads use a few reader connections of their own, which WAL lets run
//! beside the writer and which see every committed transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Sqlite, SqliteConnection, Transaction};

use crate::batch::{self, CommitTx, PreparedMemory};
use crate::model::{
    EventFilter, EventRecord, JournalEntry, MemoryVersion, NewRun, RunFilter, RunOutcome,
    RunRecord, RunSummary, SharedEntry, StepRecord,
};
use crate::rows::{self, run_columns};
use crate::{Error, Result, SCHEMA_VERSION, Store};

mod connections;
mod decision;
mod gathered_wal;
mod group_docs;

use connections::Connections;

/// The approval statements on this backend's connections.
mod approvals {
    crate::approval_sql::approval_queries!(
        sqlx::SqliteConnection,
        "",
        false,
        "json_each(approvers)"
    );
    crate::token_sql::token_queries!(sqlx::SqliteConnection, "");
}

/// The approval notification outbox on this backend's connections.
mod notices {
    crate::notice_sql::notice_queries!(sqlx::SqliteConnection);
}

/// The event, wait and message statements on this backend's connections.
mod events {
    crate::event_sql::event_queries!(
        sqlx::SqliteConnection,
        crate::event_sql::WAKE_WAITERS_DOC_SQLITE
    );
}

/// The schedule statements on this backend's connections.
mod schedules {
    crate::schedule_sql::schedule_queries!(sqlx::SqliteConnection);
}

/// The API token statements on this backend's connections.
mod api_tokens {
    crate::api_token_sql::api_token_queries!(sqlx::SqliteConnection, None);
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The page size of a database file this store creates (one it opens keeps
/// its own: SQLite fixes it when the file is made).
///
/// A group commit writes every page it dirtied to the WAL and waits for
/// them to reach the disk, and its points land on many pages (the rows of
/// the runs in flight, the ends of several indexes), each barely changed.
/// Pages half the size of SQLite's default cut those writes: in W1 at c=16
/// the WAL bytes a workflow costs fall from 70 KB to 50 KB, for 2 % more
/// of the writer's instructions and more, smaller writes. Smaller
/// pages again (1024) cost more than they saved under load: more levels,
/// and run rows spilling to overflow pages.
const PAGE_SIZE: u32 = 2048;

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: a commit is on disk when it returns (the default).
    #[default]
    Full,
    /// `synchronous = NORMAL`: faster; a power loss (not a process crash) may
    /// lose the last commits.
    Normal,
}

/// Settings for [`SqliteStore::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// `synchronous` setting of every connection.
    pub durability: Durability,
    /// How many reader connections (1 to 64), each opened when first needed.
    pub readers: u32,
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// How often the background checkpointer copies the WAL into the
    /// database file.
    pub checkpoint_every: Duration,
    /// The most pages the WAL may hold after a checkpoint before the
    /// background checkpointer makes it start over: its file stays about
    /// this size under steady load instead of growing with it.
    pub wal_limit_pages: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::Full,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            checkpoint_every: Duration::from_millis(250),
            // 64 MiB of 4 KiB pages: at full load, a start-over every second
            // or so, each holding one group commit for a moment.
            wal_limit_pages: 16_384,
        }
    }
}

/// The [`Store`] on one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Arc<Connections>,
    readers: Arc<Connections>,
    /// Stops the background checkpointer when the last clone is dropped.
    _checkpointer: Arc<Checkpointer>,
}

/// The background WAL checkpointer.
///
/// The writer connection runs with `wal_autocheckpoint = 0`: otherwise every
/// thousandth page written makes one group commit also copy the WAL into the
/// database and fsync it, which stalls every run waiting on that commit. A
/// passive checkpoint on a reader connection does the same work beside the
/// writer instead of in its path.
///
/// That alone lets the WAL grow for as long as the load lasts (by about
/// 90 MB a second at full load): SQLite writes the WAL from its start again
/// only when a transaction begins after a checkpoint that copied all of it,
/// and group commits never pause long enough for one beside them to finish
/// first. So when a checkpoint leaves more than
/// [`SqliteOptions::wal_limit_pages`] in the WAL, the checkpointer takes the
/// writer and checkpoints again from there, copying only what came since;
/// the next group commit then writes from the WAL's start. (Unless a reader
/// is still reading from the WAL at that instant: then the next pass tries
/// again.)
#[derive(Debug)]
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    fn start(
        readers: Arc<Connections>,
        writer: Arc<Connections>,
        options: &SqliteOptions,
    ) -> Checkpointer {
        let limit = i64::from(options.wal_limit_pages);
        let every = options.checkpoint_every.max(Duration::from_millis(1));
        Checkpointer(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match checkpoint(&readers, &writer, limit).await {
                    Ok(()) => {}
                    Err(Error::Database(sqlx::Error::PoolClosed)) => return,
                    Err(error) => tracing::warn!(%error, "WAL checkpoint failed; will retry"),
                }
            }
        }))
    }
}

/// The writer's options on the [`gathered_wal`] VFS, which writes a commit's
/// WAL frames in one call. Only with `synchronous = FULL`, where the commit's
/// sync writes them and reports a failure; without a sync they would be
/// written just before the commit is published, where a failure cannot be
/// reported. Should the VFS fail to register, the writer keeps the default.
fn with_gathered_wal(
    options: SqliteConnectOptions,
    durability: Durability,
) -> SqliteConnectOptions {
    if durability != Durability::Full {
        return options;
    }
    match gathered_wal::register() {
        Ok(name) => options.vfs(name),
        Err(code) => {
            tracing::warn!(
                code,
                "the WAL-gathering VFS did not register; the writer uses SQLite's default"
            );
            options
        }
    }
}

/// One pass of the [`Checkpointer`]: a passive checkpoint beside the writer
/// and, when it leaves more than `limit` pages in the WAL, another in the
/// writer's place.
async fn checkpoint(readers: &Connections, writer: &Connections, limit: i64) -> Result<()> {
    let in_wal = passive_checkpoint(&mut *readers.acquire().await?).await?;
    if in_wal > limit {
        passive_checkpoint(&mut *writer.acquire().await?).await?;
    }
    Ok(())
}

/// Runs a passive checkpoint on `conn`; returns how many pages the WAL holds.
async fn passive_checkpoint(conn: &mut SqliteConnection) -> Result<i64> {
    let (_busy, in_wal, _copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(conn)
            .await?;
    Ok(in_wal)
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Turns "file is not a database" and "database disk image is malformed" into
/// [`Error::NotADatabase`]; other errors pass through.
fn classify(path: &Path, error: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &error {
        let primary = db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .map(|code| code & 0xff);
        // SQLITE_CORRUPT = 11, SQLITE_NOTADB = 26.
        if matches!(primary, Some(11 | 26)) {
            return Error::NotADatabase {
                path: path.to_owned(),
                message: db.message().to_owned(),
            };
        }
    }
    Error::Database(error)
}

fn classify_migration(path: &Path, error: sqlx::migrate::MigrateError) -> Error {
    match error {
        sqlx::migrate::MigrateError::Execute(inner) => classify(path, inner),
        other => Error::Migrate(other),
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` with default options.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens (creating if missing) the database file at `path`, refuses a schema
    /// newer than this code, and applies pending migrations.
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path: PathBuf = path.as_ref().to_owned();
        let synchronous = match options.durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        };
        let base = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            .synchronous(synchronous)
            .page_size(PAGE_SIZE);

        // Multi-row statements inside a transaction keep a statement journal;
        // in memory it costs no temporary file. The page cache stays at
        // SQLite's default (2 MiB), though it would hold more of the file:
        // a b-tree split parks a page at the pending-byte page number
        // (262,145), and that makes the commit's cache truncation walk every
        // cached page. At 32 MiB that walk was about 6 % of the writer's
        // time; time-ordered run ids keep the hot pages few, so nothing is
        // read again for want of room.
        let writer_options = base
            .clone()
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0")
            .pragma("temp_store", "MEMORY");
        let writer_options = with_gathered_wal(writer_options, options.durability);
        // The schema check and the migrations run on a connection of their
        // own (sqlx's migrator acquires from a pool), closed before the
        // writer opens.
        let setup = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(writer_options.clone())
            .await
            .map_err(|e| classify(&path, e))?;
        if let Some(found) = schema_version(&setup).await.map_err(|e| match e {
            Error::Database(inner) => classify(&path, inner),
            other => other,
        })? && found > SCHEMA_VERSION
        {
            setup.close().await;
            return Err(Error::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let migrated = MIGRATOR
            .run(&setup)
            .await
            .map_err(|e| classify_migration(&path, e));
        setup.close().await;
        migrated?;
        // One connection of each kind opens now, so that a file that cannot
        // be written or read is an error here rather than at the first use.
        let opened = |e| match e {
            Error::Database(inner) => classify(&path, inner),
            other => other,
        };
        let writer = Arc::new(Connections::new(writer_options, 1));
        drop(writer.acquire().await.map_err(opened)?);
        let readers = Arc::new(Connections::new(
            base,
            usize::try_from(options.readers).unwrap_or(usize::MAX),
        ));
        drop(readers.acquire().await.map_err(opened)?);
        let checkpointer = Arc::new(Checkpointer::start(
            readers.clone(),
            writer.clone(),
            &options,
        ));
        Ok(SqliteStore {
            writer,
            readers,
            _checkpointer: checkpointer,
        })
    }

    /// Closes every connection, waiting for those in use to come back.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    /// Writes a [`SinglePass`](batch::SinglePass) batch with the group
    /// `writes`: in one query, transaction included, or two when decisions
    /// must read their requests first ([`commit_in_one`](Self::commit_in_one)).
    /// When points hold memory operations or approval writes the documents
    /// leave out, or the group holds writes `group_docs` does not take, in a
    /// transaction begun apart, followed one at a time by those operations,
    /// then the group writes.
    async fn commit_single_pass(
        &self,
        pass: batch::SinglePass,
        batch: &batch::PreparedBatch,
        writes: &[crate::GroupWrite],
    ) -> Result<Passed> {
        if !pass.trailing
            && let Some(taken) = group_docs::take(writes)
        {
            return self.commit_in_one(Some(&pass), &taken).await;
        }
        // What follows goes one statement at a time, group writes under
        // savepoints: in a transaction sqlx knows of. Dropped on an error,
        // it rolls back.
        let mut conn = self.writer.acquire().await?;
        let mut tx = SqliteTx(conn.begin_with("BEGIN IMMEDIATE").await?);
        let (sql, order) = &SINGLE_PASS_BODY[usize::from(pass.approvals.any())];
        let rows = PassRows::read(
            single_pass_query(sql, order, &pass)
                .fetch_all(&mut *tx.0)
                .await?,
        )?;
        batch.apply_trailing(&mut tx, &rows.unwritten).await?;
        let written = apply_writes(&mut tx, writes).await?;
        tx.0.commit().await?;
        Ok(Passed {
            unwritten: rows.unwritten,
            written,
            woke_waiters: rows.woke_waiters,
        })
    }

    /// A group commit of a single pass (if any) and group writes that
    /// `group_docs` takes, from `BEGIN` to `COMMIT` in one query: every
    /// statement is a hand-off to the connection's thread and back, and at
    /// one run at a time those hand-offs, not the disk, were most of a
    /// commit's time. Decisions first read their requests, in a query that
    /// begins the transaction, so that they are judged before the rest is
    /// written: two queries then.
    async fn commit_in_one(
        &self,
        pass: Option<&batch::SinglePass>,
        writes: &[group_docs::Taken<'_>],
    ) -> Result<Passed> {
        let mut conn = self.writer.acquire().await?;
        // From here until `settled`, a cancelled commit leaves its BEGIN
        // to the next holder to roll back.
        conn.opened();
        let result = async {
            let ids = group_docs::decided_ids(writes);
            let began = !ids.is_empty();
            let requests = if began {
                sqlx::query_as(group_docs::BEGIN_AND_READ)
                    .bind(batch::to_doc(&ids)?)
                    .fetch_all(&mut *conn)
                    .await?
            } else {
                Vec::new()
            };
            let judged = group_docs::judge(writes, requests)?;
            let shape = match (writes.is_empty(), began) {
                (true, _) => PassShape::Plain,
                (false, false) => PassShape::WithWrites,
                (false, true) => PassShape::AfterRead,
            };
            let query = match pass {
                Some(pass) => {
                    let (sql, order) =
                        &SINGLE_PASS[shape as usize][usize::from(pass.approvals.any())];
                    single_pass_query(sql, order, pass)
                }
                None => sqlx::query(sqlx::AssertSqlSafe(
                    WRITES_ONLY[usize::from(began)].as_str(),
                )),
            };
            let query = match shape {
                PassShape::Plain => query,
                _ => judged.docs()?.into_iter().fold(query, |q, doc| q.bind(doc)),
            };
            let rows = PassRows::read(query.fetch_all(&mut *conn).await?)?;
            Ok::<_, Error>(Passed {
                unwritten: rows.unwritten,
                written: judged.settle(rows.claimed),
                woke_waiters: rows.woke_waiters,
            })
        }
        .await;
        if result.is_err() {
            // A statement failed after BEGIN: undo what ran before it. An
            // error SQLite already rolled back for leaves no transaction, and
            // ROLLBACK then fails harmlessly; so does one before BEGIN.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        }
        conn.settled();
        result
    }
}

/// What a single-pass group commit did.
struct Passed {
    /// The runs whose row it did not write, with whether each exists.
    unwritten: Vec<(String, bool)>,
    /// The group writes' results.
    written: Vec<Result<crate::GroupWritten>>,
    /// Whether its events made a waiting run due.
    woke_waiters: bool,
}

/// The rows a single pass returns, told apart by their width (a unit test
/// checks which statements return rows): one column per run the wake-ups
/// made due, two per run whose row the pass did not write (its id and
/// whether it exists), whole runs for the runs the group writes claimed.
#[derive(Default)]
struct PassRows {
    unwritten: Vec<(String, bool)>,
    claimed: Vec<rows::RunRow>,
    woke_waiters: bool,
}

impl PassRows {
    fn read(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<PassRows> {
        let mut read = PassRows::default();
        for row in rows {
            match sqlx::Row::len(&row) {
                1 => read.woke_waiters = true,
                2 => read.unwritten.push(sqlx::FromRow::from_row(&row)?),
                _ => read.claimed.push(sqlx::FromRow::from_row(&row)?),
            }
        }
        Ok(read)
    }
}

/// The query of a single pass (`sql` and its parameters in `order`, from
/// [`SINGLE_PASS`] or [`SINGLE_PASS_BODY`]) with `pass`'s values bound; the
/// group writes' documents, when `sql` holds them, are bound after.
fn single_pass_query<'q>(
    sql: &'q str,
    order: &[SinglePassParam],
    pass: &'q batch::SinglePass,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    let mark = commit_mark();
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for param in order {
        query = match param {
            SinglePassParam::Mark => query.bind(mark),
            SinglePassParam::Creates => query.bind(jsonb_or_empty(pass.creates.as_ref())),
            SinglePassParam::Runs => query.bind(jsonb_or_empty(pass.runs.as_ref())),
            SinglePassParam::Steps => query.bind(jsonb_or_empty(pass.rows.steps.as_ref())),
            SinglePassParam::Events => query.bind(jsonb_or_empty(pass.rows.events.as_ref())),
            SinglePassParam::Journal => query.bind(jsonb_or_empty(pass.rows.journal.as_ref())),
            SinglePassParam::Cleared => query.bind(jsonb_or_empty(pass.cleared.as_ref())),
            SinglePassParam::Now => query.bind(pass.now),
            SinglePassParam::Ids => query.bind(pass.ids.0.as_slice()),
            SinglePassParam::Texts => query.bind(pass.texts.bytes()),
            SinglePassParam::Approvals => {
                query.bind(jsonb_or_empty(pass.approvals.requests.as_ref()))
            }
            SinglePassParam::Tokens => query.bind(jsonb_or_empty(pass.approvals.tokens.as_ref())),
            SinglePassParam::Owed => query.bind(jsonb_or_empty(pass.approvals.owed.as_ref())),
        };
    }
    query
}

/// The recorded schema version, or `None` for a database botflow never opened.
async fn schema_version(pool: &SqlitePool) -> Result<Option<i64>> {
    let has_meta: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
    )
    .fetch_one(pool)
    .await?;
    if has_meta == 0 {
        return Ok(None);
    }
    let value: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'schema_version'")
            .fetch_optional(pool)
            .await?;
    value
        .map(|v| v.parse().map_err(|_| Error::InvalidSchemaVersion(v)))
        .transpose()
}

/// Map a foreign-key failure on `runs.program_hash` to a clear error.
fn run_insert_error(hash: &str, error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation => {
            Error::UnknownProgram(hash.to_owned())
        }
        _ => Error::Database(error),
    }
}

/// The ids of up to `?2` runs a worker may claim at time `?1`: running
/// with no live lease (their driver is gone), or waiting and due. Two index
/// range scans on (status, wake_at) instead of one OR, so a million waiting
/// runs that are not due cost nothing here.
macro_rules! claimable_sql {
    () => {
        "SELECT id FROM runs WHERE status = 'running' \
             AND (lease_until IS NULL OR lease_until < ?1) \
         UNION ALL \
         SELECT id FROM runs WHERE status = 'waiting' AND wake_at <= ?1 \
             AND (lease_until IS NULL OR lease_until < ?1) \
         LIMIT ?2"
    };
}
/// The fence of a batch's existing runs, in two statements: the run's index
/// columns (`status`, `wake_at`: `runs_status_wake`) are set only where they
/// change, since SQLite rewrites an index entry for every row an UPDATE sets
/// an indexed column of, changed or not. Most points leave a run `running`
/// with no wake-up time, and that index entry was one more page in nearly
/// every group commit. Both statements fence on the lease epoch; the second,
/// which writes the rest, returns the runs written.
const FENCE: &str = "\
UPDATE runs SET
    status = j.value ->> 'status',
    wake_at = j.value ->> 'wake_at'
FROM jsonb_each(?1) AS j
WHERE runs.id = j.value ->> 'id' AND runs.lease_epoch = j.value ->> 'epoch'
    AND (runs.status IS NOT j.value ->> 'status' OR runs.wake_at IS NOT j.value ->> 'wake_at');
UPDATE runs SET
    state = j.value ->> 'state',
    result = j.value ->> 'result',
    error = j.value ->> 'error',
    version = runs.version + 1,
    updated_at = j.value ->> 'now',
    lease_owner = iif(j.value ->> 'release', NULL, runs.lease_owner),
    lease_until = iif(j.value ->> 'release', NULL, runs.lease_until)
FROM jsonb_each(?1) AS j
WHERE runs.id = j.value ->> 'id' AND runs.lease_epoch = j.value ->> 'epoch'
RETURNING id";

// `version` starts at 1: the row already holds its first point.
const CREATE_RUNS: &str = "\
INSERT INTO runs (id, workflow, bot, program_hash, status, state, input, result, error,
                  lease_owner, lease_epoch, lease_until, wake_at, version, parent_run,
                  created_at, updated_at)
SELECT j.value ->> 'id', j.value ->> 'workflow', j.value ->> 'bot', j.value ->> 'program_hash',
       j.value ->> 'status', j.value ->> 'state', j.value ->> 'input', j.value ->> 'result',
       j.value ->> 'error', j.value ->> 'lease_owner', j.value ->> 'lease_epoch',
       j.value ->> 'lease_until', j.value ->> 'wake_at', 1, j.value ->> 'parent_run',
       j.value ->> 'now', j.value ->> 'now'
FROM jsonb_each(?1) AS j
WHERE EXISTS (SELECT 1 FROM programs AS p WHERE p.hash = j.value ->> 'program_hash')
ON CONFLICT (id) DO NOTHING
RETURNING id";

const UPSERT_STEPS: &str = "\
INSERT INTO steps (run_id, path, number, kind, bot, attempts, status, answer, error,
                   started_at, finished_at)
SELECT j.value ->> 'run_id', j.value ->> 'path', j.value ->> 'number', j.value ->> 'kind',
       j.value ->> 'bot', j.value ->> 'attempts', j.value ->> 'status', j.value ->> 'answer',
       j.value ->> 'error', j.value ->> 'started_at', j.value ->> 'finished_at'
FROM jsonb_each(?1) AS j WHERE true
ON CONFLICT (run_id, path) DO UPDATE SET
    number = excluded.number,
    kind = excluded.kind,
    bot = excluded.bot,
    attempts = max(steps.attempts, excluded.attempts),
    status = excluded.status,
    answer = excluded.answer,
    error = excluded.error,
    started_at = coalesce(steps.started_at, excluded.started_at),
    finished_at = excluded.finished_at
WHERE steps.status <> 'done'";

// Events are numbered in the document's order, which is their `ord`: in
// `rowid` order `jsonb_each` hands its elements out as they are, so SQLite
// needs neither a sorter nor the field (json_each's best index consumes it).
const INSERT_EVENTS: &str = "\
INSERT INTO events (id, name, key, target_bot, payload, from_bot, from_run, at)
SELECT j.value ->> 'id', j.value ->> 'name', j.value ->> 'key', j.value ->> 'target_bot',
       j.value ->> 'payload', j.value ->> 'from_bot', j.value ->> 'from_run', j.value ->> 'at'
FROM jsonb_each(?1) AS j WHERE true ORDER BY j.rowid
ON CONFLICT (id) DO NOTHING";

// One row per point: its entries are numbered on from the run's last entry
// (`last` of the run's latest row). SQLite evaluates the whole SELECT before
// inserting when it reads the target table, so the lookup sees the journal as
// it was before this statement; a round holds one point per run.
const APPEND_JOURNAL: &str = "\
INSERT INTO journal_points (run_id, seq, last, at, entries)
SELECT x.run_id, x.base + 1, x.base + x.n, x.at, x.entries
FROM (SELECT j.value ->> 'run_id' AS run_id, j.value ->> 'n' AS n, j.value ->> 'at' AS at,
             j.value ->> 'entries' AS entries,
             coalesce((SELECT o.last FROM journal_points AS o
                       WHERE o.run_id = j.value ->> 'run_id'
                       ORDER BY o.seq DESC LIMIT 1), 0) AS base
      FROM jsonb_each(?1) AS j) AS x";

/// A run's journal rows, in order.
const READ_JOURNAL: &str =
    "SELECT run_id, seq, at, entries FROM journal_points WHERE run_id = ?1 ORDER BY seq";

/// [`UPSERT_STEPS`], [`INSERT_EVENTS`] and [`APPEND_JOURNAL`] as one
/// multi-statement query, their documents bound as `?1`, `?2` and `?3`.
static WRITE_ROWS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{UPSERT_STEPS};\n{};\n{}",
        INSERT_EVENTS.replace("?1", "?2"),
        APPEND_JOURNAL.replace("?1", "?3")
    )
});

/// A whole group commit of plain points in one query (see
/// [`SqliteStore::commit_single_pass`]): the run rows are inserted or fenced
/// and stamped with the commit's `:mark`, and every other statement keeps
/// only the rows of runs that carry it. Its only result rows are the runs it
/// did not write, each with whether it exists. The `:name`s become anonymous
/// `?`s bound in order ([`SinglePassParam`]): sqlx numbers a multi-statement
/// query's `?NNN`s per statement and stops binding at a statement whose
/// unused numbers run past the argument count.
static SINGLE_PASS: std::sync::LazyLock<[[SinglePassSql; 2]; 3]> = std::sync::LazyLock::new(|| {
    [
        PassShape::Plain,
        PassShape::WithWrites,
        PassShape::AfterRead,
    ]
    .map(|shape| {
        [false, true].map(|approvals| {
            let body = single_pass_sql(approvals);
            let write = group_docs::WRITE;
            SinglePassParam::anonymous(&match shape {
                PassShape::Plain => format!("BEGIN IMMEDIATE;\n{body};\nCOMMIT"),
                PassShape::WithWrites => {
                    format!("BEGIN IMMEDIATE;\n{body};\n{write};\nCOMMIT")
                }
                PassShape::AfterRead => format!("{body};\n{write};\nCOMMIT"),
            })
        })
    })
});

/// Which of [`SINGLE_PASS`]' queries a group commit takes: `[shape][approvals]`.
#[derive(Clone, Copy)]
enum PassShape {
    /// Points only.
    Plain = 0,
    /// Points, then the group writes' documents (`group_docs::WRITE`).
    WithWrites = 1,
    /// The same, in a transaction the decisions' read began.
    AfterRead = 2,
}

/// The group writes' documents alone, in a transaction of their own (`[0]`)
/// or in one the decisions' read began (`[1]`).
static WRITES_ONLY: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
    let write = group_docs::WRITE;
    [
        format!("BEGIN IMMEDIATE;\n{write};\nCOMMIT"),
        format!("{write};\nCOMMIT"),
    ]
});

/// [`SINGLE_PASS`] without `BEGIN` and `COMMIT`, inside a transaction the
/// caller began, for the writes that follow it.
static SINGLE_PASS_BODY: std::sync::LazyLock<[SinglePassSql; 2]> = std::sync::LazyLock::new(|| {
    [false, true].map(|approvals| SinglePassParam::anonymous(&single_pass_sql(approvals)))
});

/// A single pass's SQL, with its parameters in order.
type SinglePassSql = (String, Vec<SinglePassParam>);

/// The single pass's statements up to the query of the runs it did not
/// write, with `:name` parameters; `approvals` adds the statements of new
/// approval requests (three statements a batch without any would run for
/// nothing).
fn single_pass_sql(approvals: bool) -> String {
    const WRITTEN: &str = "EXISTS (SELECT 1 FROM runs AS m \
         WHERE m.id = j.value ->> 'run_id' AND m.commit_mark = :mark)";
    use crate::batch::{
        ApprovalRow, CreateRow, EventRow, JournalRow, OwedRow, RunRow, StepRow, TokenRow,
    };
    // Each document's rows are arrays (`batch::doc_row!`), and states and
    // journal entries are slices of the side texts (`batch::SideTexts`).
    let side = |sql: String, fields: &[&str], column: &str| {
        let at = position(fields, column);
        by_position(
            &sql.replace(
                &format!("j.value ->> '{column}'"),
                &format!(
                    "CAST(substr(:texts, j.value ->> '$[{at}][0]', \
                     j.value ->> '$[{at}][1]') AS TEXT)"
                ),
            ),
            fields,
        )
    };
    let create = CREATE_RUNS
        .replace(
            "created_at, updated_at)",
            "created_at, updated_at, commit_mark)",
        )
        .replace(
            "j.value ->> 'now', j.value ->> 'now'\n",
            "j.value ->> 'now', j.value ->> 'now', :mark\n",
        )
        .replace("?1) AS j", ":creates) AS j")
        .replace("\nRETURNING id", "");
    let create = side(create, CreateRow::FIELDS, "state");
    let fence = FENCE
        .replace(
            "    version = runs.version + 1,",
            "    version = runs.version + 1,\n    commit_mark = :mark,",
        )
        .replace("?1) AS j", ":runs) AS j")
        .replace("\nRETURNING id", "");
    let fence = side(fence, RunRow::FIELDS, "state");
    // A statement over one document, keeping the rows of written runs.
    let doc = |sql: &str, param: &str, fields: &[&str]| {
        by_position(
            &sql.replace(
                "FROM jsonb_each(?1) AS j WHERE true",
                &format!("FROM jsonb_each({param}) AS j WHERE {WRITTEN}"),
            ),
            fields,
        )
    };
    let steps = doc(UPSERT_STEPS, ":steps", StepRow::FIELDS);
    let events = doc(INSERT_EVENTS, ":events", EventRow::FIELDS);
    let journal = side(
        APPEND_JOURNAL.replace(
            "FROM jsonb_each(?1) AS j) AS x",
            &format!("FROM jsonb_each(:journal) AS j WHERE {WRITTEN}) AS x"),
        ),
        JournalRow::FIELDS,
        "entries",
    );
    let wake = crate::event_sql::WAKE_WAITERS_DOC_SQLITE
        .replace("$1) AS j", ":events) AS j")
        .replace("$2", ":now")
        .replace(
            "WHERE w.key = j.value ->> 'key'",
            &format!("WHERE {WRITTEN} AND (w.key = j.value ->> 'key'"),
        )
        .replace("= w.run_id)))", "= w.run_id))))");
    // One single-column row per run made due: how the committer learns
    // that a worker has a run to claim (see `PassRows`).
    let wake = format!("{}\nRETURNING NULL", by_position(&wake, EventRow::FIELDS));
    let requests = doc(APPROVALS_DOC, ":approvals", ApprovalRow::FIELDS);
    let tokens = doc(TOKENS_DOC, ":tokens", TokenRow::FIELDS);
    let owed = doc(OWED_DOC, ":owed", OwedRow::FIELDS);
    let approvals = if approvals {
        format!("{requests};\n{tokens};\n{owed};\n")
    } else {
        String::new()
    };
    format!(
        "{create};\n{fence};\n{steps};\n{events};\n{journal};\n{approvals}\
         DELETE FROM event_waits WHERE run_id IN (SELECT r.id FROM json_each(:cleared) AS j \
         JOIN runs AS r ON r.id = j.value AND r.commit_mark = :mark);\n{wake};\n\
         SELECT j.value, r.id IS NOT NULL FROM json_each(:ids) AS j \
         LEFT JOIN runs AS r ON r.id = j.value WHERE r.commit_mark IS NOT :mark"
    )
}

/// A single pass's new approval requests (`batch::ApprovalRow`), each with
/// its `created` audit entry: [`crate::approval_sql::INSERT`] and `AUDIT`
/// over a document. A request that existed already (which a written point
/// never re-creates) keeps the entries it has.
const APPROVALS_DOC: &str = "\
INSERT INTO approvals (id, run_id, path, step, approvers, group_name, require_n, message, via,
                       timeout_ms, on_timeout, escalations, started_by, status, votes, decision,
                       created_at, due_at, decided_at)
SELECT j.value ->> 'id', j.value ->> 'run_id', j.value ->> 'path', j.value ->> 'step',
       j.value ->> 'approvers', j.value ->> 'group_name', j.value ->> 'require_n',
       j.value ->> 'message', j.value ->> 'via', j.value ->> 'timeout_ms',
       j.value ->> 'on_timeout', j.value ->> 'escalations', j.value ->> 'started_by',
       'pending', '[]', NULL, j.value ->> 'now', j.value ->> 'due_at', NULL
FROM jsonb_each(?1) AS j WHERE true
ON CONFLICT (id) DO NOTHING;
INSERT INTO approval_audit (approval_id, seq, at, kind, who, channel, detail)
SELECT j.value ->> 'id', 1, j.value ->> 'now', 'created', NULL, j.value ->> 'via',
       j.value ->> 'detail'
FROM jsonb_each(?1) AS j WHERE true
AND NOT EXISTS (SELECT 1 FROM approval_audit AS a WHERE a.approval_id = j.value ->> 'id')";

/// A single pass's link tokens (`batch::TokenRow`): `token_sql::INSERT`
/// over a document.
const TOKENS_DOC: &str = "\
INSERT INTO approval_tokens (id, approval_id, approver, action, issued_at, expires_at)
SELECT j.value ->> 'id', j.value ->> 'approval_id', j.value ->> 'approver',
       j.value ->> 'action', j.value ->> 'now', j.value ->> 'expires_at'
FROM jsonb_each(?1) AS j WHERE true
AND EXISTS (SELECT 1 FROM approvals WHERE id = j.value ->> 'approval_id')
ON CONFLICT (id) DO NOTHING";

/// A single pass's owed notifications (`batch::OwedRow`): `notice_sql::OWE`
/// over a document.
const OWED_DOC: &str = "\
INSERT INTO approval_outbox (approval_id, reason, owed_at, claimed_by, claimed_until)
SELECT j.value ->> 'approval_id', j.value ->> 'reason', j.value ->> 'now',
       j.value ->> 'claimed_by', j.value ->> 'claimed_until'
FROM jsonb_each(?1) AS j WHERE true
ON CONFLICT (approval_id, reason) DO UPDATE SET owed_at = excluded.owed_at,
claimed_by = COALESCE(excluded.claimed_by, approval_outbox.claimed_by),
claimed_until = COALESCE(excluded.claimed_until, approval_outbox.claimed_until)";

/// Where `field` is in a document row's array form.
fn position(fields: &[&str], field: &str) -> usize {
    // The statements name only their rows' fields: a test reads every one.
    fields
        .iter()
        .position(|f| *f == field)
        .expect("a single-pass statement reads a field of its row")
}

/// `sql` reading each `j.value ->> 'field'` of `fields` by its position.
fn by_position(sql: &str, fields: &[&str]) -> String {
    fields
        .iter()
        .enumerate()
        .fold(sql.to_owned(), |sql, (at, field)| {
            sql.replace(
                &format!("j.value ->> '{field}'"),
                &format!("j.value ->> {at}"),
            )
        })
}

/// A value [`SINGLE_PASS`] binds, by the `:name` it is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SinglePassParam {
    Mark,
    Creates,
    Runs,
    Steps,
    Events,
    Journal,
    Cleared,
    Now,
    Ids,
    Texts,
    Approvals,
    Tokens,
    Owed,
}

impl SinglePassParam {
    const NAMES: [(&'static str, SinglePassParam); 13] = [
        (":mark", SinglePassParam::Mark),
        (":creates", SinglePassParam::Creates),
        (":runs", SinglePassParam::Runs),
        (":steps", SinglePassParam::Steps),
        (":events", SinglePassParam::Events),
        (":journal", SinglePassParam::Journal),
        (":cleared", SinglePassParam::Cleared),
        (":now", SinglePassParam::Now),
        (":ids", SinglePassParam::Ids),
        (":texts", SinglePassParam::Texts),
        (":approvals", SinglePassParam::Approvals),
        (":tokens", SinglePassParam::Tokens),
        (":owed", SinglePassParam::Owed),
    ];

    /// `sql` with each `:name` replaced by `?`, and the names in order.
    fn anonymous(sql: &str) -> (String, Vec<SinglePassParam>) {
        anonymize(sql, ':', |rest| {
            Self::NAMES.iter().find_map(|(name, param)| {
                let named = rest.starts_with(name)
                    && !rest[name.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                named.then_some((*param, name.len()))
            })
        })
    }
}

/// `sql` with each parameter that starts with `marker` replaced by `?`, and
/// the parameters in order: `read` recognises one at the start of the text
/// it is given (the marker included) and says how long it is.
fn anonymize<P>(
    sql: &str,
    marker: char,
    read: impl Fn(&str) -> Option<(P, usize)>,
) -> (String, Vec<P>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match read(rest) {
            Some((param, len)) => {
                out.push('?');
                order.push(param);
                rest = &rest[len..];
            }
            None => {
                out.push(marker);
                rest = &rest[marker.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    (out, order)
}

/// Applies the writes that ride on a group commit, after its points: as
/// documents when they are decisions, audit entries and done marks only
/// (`group_docs`), else one at a time.
async fn apply_writes(
    tx: &mut SqliteTx<'_>,
    writes: &[crate::GroupWrite],
) -> Result<Vec<Result<crate::GroupWritten>>> {
    match group_docs::take(writes) {
        Some(taken) if !taken.is_empty() => group_docs::apply(&mut tx.0, &taken).await,
        _ => batch::apply_writes(tx, writes).await,
    }
}

/// A document to bind, `[]` (which writes nothing) when there are no rows.
fn doc_or_empty(doc: Option<&str>) -> &str {
    doc.unwrap_or("[]")
}

/// A single pass's document to bind, an empty array when there are no rows.
fn jsonb_or_empty(doc: Option<&batch::Jsonb>) -> &[u8] {
    doc.map_or(batch::Jsonb::EMPTY, |doc| doc.0.as_slice())
}

/// A fresh mark for a single-pass commit. It only has to differ from the
/// marks earlier commits left on the batch's run rows: 64 random bits
/// (per-process random keys over a counter) make a repeat vanishingly unlikely.
fn commit_mark() -> i64 {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: std::sync::LazyLock<std::hash::RandomState> =
        std::sync::LazyLock::new(std::hash::RandomState::new);
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let hash = KEYS.hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    i64::from_ne_bytes(hash.to_ne_bytes())
}

const MEMORY_SET_HISTORY: &str = "\
INSERT INTO bot_memory_history (bot, key, value, version, replaced_at)
SELECT bot, key, value, version, ?3 FROM bot_memory WHERE bot = ?1 AND key = ?2";

const MEMORY_SET: &str = "\
INSERT INTO bot_memory (bot, key, value, version, updated_at) VALUES (?1, ?2, ?3, 1, ?4)
ON CONFLICT (bot, key) DO UPDATE SET
    value = excluded.value, version = bot_memory.version + 1, updated_at = excluded.updated_at";

const MEMORY_SHARE: &str = "\
INSERT INTO bot_shared_memory (target_bot, key, source_bot, value, version, shared_at)
VALUES (?1, ?2, ?3,
        coalesce((SELECT value FROM bot_memory WHERE bot = ?3 AND key = ?2), 'null'), 1, ?4)
ON CONFLICT (target_bot, key, source_bot) DO UPDATE SET
    value = excluded.value,
    version = bot_shared_memory.version + 1,
    shared_at = excluded.shared_at";

const MEMORY_SYNC_HISTORY: &str = "\
INSERT INTO bot_memory_history (bot, key, value, version, replaced_at)
SELECT m.bot, m.key, m.value, m.version, ?3
FROM bot_memory AS m
JOIN bot_shared_memory AS s ON s.target_bot = m.bot AND s.key = m.key
WHERE s.target_bot = ?1 AND s.source_bot = ?2 AND s.shared_at > m.updated_at";

const MEMORY_SYNC: &str = "\
INSERT INTO bot_memory (bot, key, value, version, updated_at)
SELECT s.target_bot, s.key, s.value, 1, s.shared_at
FROM bot_shared_memory AS s WHERE s.target_bot = ?1 AND s.source_bot = ?2
ON CONFLICT (bot, key) DO UPDATE SET
    value = excluded.value, version = bot_memory.version + 1, updated_at = excluded.updated_at
WHERE excluded.updated_at > bot_memory.updated_at";

struct SqliteTx<'c>(Transaction<'c, Sqlite>);

impl CommitTx for SqliteTx<'_> {
    async fn create_runs(&mut self, creates_doc: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(CREATE_RUNS)
            .bind(creates_doc)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn fence(&mut self, runs_doc: &str) -> Result<Vec<String>> {
        // Two statements, each numbering its own `?1`.
        Ok(sqlx::query_scalar(FENCE)
            .bind(runs_doc)
            .bind(runs_doc)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn run_exists(&mut self, id: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM runs WHERE id = ?1")
            .bind(id)
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(found.is_some())
    }

    async fn memory(&mut self, op: &PreparedMemory, now: i64) -> Result<()> {
        match op {
            PreparedMemory::Set { bot, key, value } => {
                sqlx::query(MEMORY_SET_HISTORY)
                    .bind(bot)
                    .bind(key)
                    .bind(now)
                    .execute(&mut *self.0)
                    .await?;
                sqlx::query(MEMORY_SET)
                    .bind(bot)
                    .bind(key)
                    .bind(value)
                    .bind(now)
                    .execute(&mut *self.0)
                    .await?;
            }
            PreparedMemory::Share {
                from_bot,
                key,
                to_bot,
            } => {
                sqlx::query(MEMORY_SHARE)
                    .bind(to_bot)
                    .bind(key)
                    .bind(from_bot)
                    .bind(now)
                    .execute(&mut *self.0)
                    .await?;
            }
            PreparedMemory::Sync { bot, from_bot } => {
                sqlx::query(MEMORY_SYNC_HISTORY)
                    .bind(bot)
                    .bind(from_bot)
                    .bind(now)
                    .execute(&mut *self.0)
                    .await?;
                sqlx::query(MEMORY_SYNC)
                    .bind(bot)
                    .bind(from_bot)
                    .execute(&mut *self.0)
                    .await?;
            }
        }
        Ok(())
    }

    async fn upsert_steps(&mut self, steps_doc: &str) -> Result<()> {
        sqlx::query(UPSERT_STEPS)
            .bind(steps_doc)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_events(&mut self, events_doc: &str) -> Result<()> {
        sqlx::query(INSERT_EVENTS)
            .bind(events_doc)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn append_journal(&mut self, journal_doc: &str) -> Result<()> {
        sqlx::query(APPEND_JOURNAL)
            .bind(journal_doc)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn write_rows(
        &mut self,
        steps_doc: Option<&str>,
        events_doc: Option<&str>,
        journal_doc: Option<&str>,
    ) -> Result<()> {
        // One round trip to the connection's thread instead of three.
        sqlx::query(sqlx::AssertSqlSafe(WRITE_ROWS.as_str()))
            .bind(doc_or_empty(steps_doc))
            .bind(doc_or_empty(events_doc))
            .bind(doc_or_empty(journal_doc))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn approval(&mut self, write: &crate::ApprovalWrite, now: i64) -> Result<()> {
        approvals::apply_write(&mut self.0, write, now).await
    }

    async fn lock_events(&mut self, _exclusive: bool) -> Result<()> {
        // The single writer connection already serialises every commit.
        Ok(())
    }

    async fn event_marks(
        &mut self,
        run_id: &str,
        marks: &crate::batch::EventMarks,
        now: i64,
    ) -> Result<()> {
        events::apply_marks(
            &mut self.0,
            run_id,
            &marks.consumed,
            &marks.delivered,
            marks.waits.as_deref(),
            now,
        )
        .await
    }

    async fn clear_waits(&mut self, runs_doc: &str) -> Result<()> {
        sqlx::query("DELETE FROM event_waits WHERE run_id IN (SELECT value FROM json_each(?1))")
            .bind(runs_doc)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn wake_waiters(&mut self, events_doc: &str, now: i64) -> Result<bool> {
        events::wake_waiters_doc(&mut self.0, events_doc, now).await
    }

    async fn group_write(
        &mut self,
        write: &crate::GroupWrite,
    ) -> Result<Result<crate::GroupWritten>> {
        if let crate::GroupWrite::Decide {
            id,
            decision,
            claim,
        } = write
        {
            return decision::decide(&mut self.0, id, decision, claim.as_ref()).await;
        }
        crate::group::group_write!(
            &mut *self.0,
            write,
            approvals::decide,
            approvals::apply_write,
            notices::done,
            |_: &Error| false
        )
    }
}

fn limit(value: u32) -> i64 {
    i64::from(value)
}

/// Inserts one run unless its id exists; returns the stored run and whether it
/// was created now.
async fn insert_run(
    conn: &mut SqliteConnection,
    new: &NewRun,
    state: &str,
    input: &str,
) -> Result<(RunRecord, bool)> {
    let inserted: Option<rows::RunRow> = sqlx::query_as(concat!(
        "INSERT INTO runs (id, workflow, bot, program_hash, status, state, input, wake_at, \
         parent_run, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) \
         ON CONFLICT (id) DO NOTHING RETURNING ",
        run_columns!()
    ))
    .bind(&new.id)
    .bind(&new.workflow)
    .bind(&new.bot)
    .bind(&new.program_hash)
    .bind(new.status.as_str())
    .bind(state)
    .bind(input)
    .bind(new.wake_at)
    .bind(&new.parent_run)
    .bind(new.now)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| run_insert_error(&new.program_hash, e))?;
    if let Some(row) = inserted {
        return Ok((row.try_into()?, true));
    }
    let existing: rows::RunRow = sqlx::query_as(concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE id = ?1"
    ))
    .bind(&new.id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((existing.try_into()?, false))
}

impl Store for SqliteStore {
    async fn put_program(&self, hash: &str, source: &str) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        sqlx::query(
            "INSERT INTO programs (hash, source, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(hash)
        .bind(source)
        .bind(crate::now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn program(&self, hash: &str) -> Result<Option<String>> {
        let mut conn = self.readers.acquire().await?;
        Ok(
            sqlx::query_scalar("SELECT source FROM programs WHERE hash = ?1")
                .bind(hash)
                .fetch_optional(&mut *conn)
                .await?,
        )
    }

    async fn create_run(&self, new: NewRun) -> Result<(RunRecord, bool)> {
        let mut created = self.create_runs(vec![new]).await?;
        // create_runs returns exactly one result per run given.
        created
            .pop()
            .ok_or_else(|| Error::Database(sqlx::Error::RowNotFound))
    }

    async fn create_runs(&self, runs: Vec<NewRun>) -> Result<Vec<(RunRecord, bool)>> {
        let mut values = Vec::with_capacity(runs.len());
        for new in &runs {
            let state = batch::to_json(&new.state, || format!("run {} state", new.id))?;
            let input = batch::to_json(&new.input, || format!("run {} input", new.id))?;
            values.push((state, input));
        }
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let mut out = Vec::with_capacity(runs.len());
        for (new, (state, input)) in runs.iter().zip(&values) {
            out.push(insert_run(&mut tx, new, state, input).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        let mut conn = self.readers.acquire().await?;
        let row: Option<rows::RunRow> = sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(RunRecord::try_from).transpose()
    }

    async fn run_outcome(&self, id: &str) -> Result<Option<RunOutcome>> {
        let mut conn = self.readers.acquire().await?;
        let row: Option<rows::OutcomeRow> = sqlx::query_as(concat!(
            "SELECT ",
            rows::outcome_columns!(),
            " FROM runs WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(RunOutcome::try_from).transpose()
    }

    async fn next_timer(&self, until: i64) -> Result<Option<i64>> {
        let mut conn = self.readers.acquire().await?;
        Ok(sqlx::query_scalar(crate::approval_sql::NEXT_TIMER)
            .bind(until)
            .fetch_one(&mut *conn)
            .await?)
    }

    async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunSummary>> {
        let mut conn = self.readers.acquire().await?;
        let rows: Vec<rows::SummaryRow> = sqlx::query_as(
            "SELECT id, workflow, bot, program_hash, status, wake_at, version, parent_run, \
             created_at, updated_at FROM runs \
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR workflow = ?2) \
             AND (?3 IS NULL OR bot = ?3) \
             AND (?6 IS NULL OR created_at < ?6 OR (created_at = ?6 AND id < ?7)) \
             ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5",
        )
        .bind(filter.status.map(|s| s.as_str()))
        .bind(&filter.workflow)
        .bind(&filter.bot)
        .bind(limit(filter.limit))
        .bind(limit(filter.offset))
        .bind(filter.before.as_ref().map(|key| key.created_at))
        .bind(filter.before.as_ref().map(|key| key.id.as_str()))
        .fetch_all(&mut *conn)
        .await?;
        rows::convert(rows)
    }

    async fn steps(&self, run: &str) -> Result<Vec<StepRecord>> {
        let mut conn = self.readers.acquire().await?;
        let rows: Vec<rows::StepRow> = sqlx::query_as(
            "SELECT run_id, path, number, kind, bot, attempts, status, answer, error, \
             started_at, finished_at FROM steps WHERE run_id = ?1 \
             ORDER BY started_at ASC NULLS LAST, path",
        )
        .bind(run)
        .fetch_all(&mut *conn)
        .await?;
        rows::convert(rows)
    }

    async fn journal(&self, run: &str) -> Result<Vec<JournalEntry>> {
        let mut conn = self.readers.acquire().await?;
        let rows: Vec<rows::JournalRow> = sqlx::query_as(READ_JOURNAL)
            .bind(run)
            .fetch_all(&mut *conn)
            .await?;
        rows::journal_entries(rows)
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>> {
        let mut conn = self.readers.acquire().await?;
        let rows: Vec<rows::EventRow> = sqlx::query_as(
            "SELECT seq, id, name, key, target_bot, payload, from_bot, from_run, at FROM events \
             WHERE seq > ?1 AND (?2 IS NULL OR name = ?2) AND (?4 IS NULL OR from_run = ?4) \
             ORDER BY seq LIMIT ?3",
        )
        .bind(filter.after_seq)
        .bind(
            filter
                .name
                .as_deref()
                .map(crate::event::canonical_event_name),
        )
        .bind(limit(filter.limit))
        .bind(&filter.from_run)
        .fetch_all(&mut *conn)
        .await?;
        rows::convert(rows)
    }

    async fn memory(&self, bot: &str, key: &str) -> Result<Option<Value>> {
        let mut conn = self.readers.acquire().await?;
        let text: Option<String> =
            sqlx::query_scalar("SELECT value FROM bot_memory WHERE bot = ?1 AND key = ?2")
                .bind(bot)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
        text.map(|t| rows::parse_value("bot_memory.value", &t))
            .transpose()
    }

    async fn memory_history(&self, bot: &str, key: &str) -> Result<Vec<MemoryVersion>> {
        let mut conn = self.readers.acquire().await?;
        let rows: Vec<rows::VersionRow> = sqlx::query_as(
            "SELECT value, version, replaced_at AS at FROM bot_memory_history \
             WHERE bot = ?1 AND key = ?2 ORDER BY version, replaced_at",
        )
        .bind(bot)
        .bind(key)
        .fetch_all(&mut *conn)
        .await?;
        rows::convert(rows)
    }

    async fn shared_memory(&self, target: &str) -> Result<Vec<SharedEntry>> {
        let mut conn = self.readers.acquire().await?;
        let rows: Vec<rows::SharedRow> = sqlx::query_as(
            "SELECT target_bot, key, source_bot, value, version, shared_at \
             FROM bot_shared_memory WHERE target_bot = ?1 ORDER BY key, source_bot",
        )
        .bind(target)
        .fetch_all(&mut *conn)
        .await?;
        rows::convert(rows)
    }

    async fn claim(
        &self,
        owner: &str,
        now: i64,
        ttl_ms: i64,
        limit: usize,
    ) -> Result<Vec<RunRecord>> {
        // A worker looks after every group commit that published events, and
        // nearly every look finds nothing: asked of a reader first, such a
        // look leaves the one writer to the group committer, which otherwise
        // waited for it at most commits. A run that comes due after the read
        // is the next look's, as it would be after an empty claim.
        let due: bool = sqlx::query_scalar(concat!("SELECT EXISTS (", claimable_sql!(), ")"))
            .bind(now)
            .bind(1_i64)
            .fetch_one(&mut *self.readers.acquire().await?)
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        let mut conn = self.writer.acquire().await?;
        let rows: Vec<rows::RunRow> = sqlx::query_as(concat!(
            "UPDATE runs SET lease_owner = ?3, lease_until = ?1 + ?4, \
             lease_epoch = lease_epoch + 1 WHERE id IN (",
            claimable_sql!(),
            ") RETURNING ",
            run_columns!()
        ))
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(owner)
        .bind(ttl_ms)
        .fetch_all(&mut *conn)
        .await?;
        rows::convert(rows)
    }

    async fn claim_run(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<Option<RunRecord>> {
        let mut conn = self.writer.acquire().await?;
        let row: Option<rows::RunRow> = sqlx::query_as(concat!(
            "UPDATE runs SET lease_owner = ?2, lease_until = ?3 + ?4, \
             lease_epoch = lease_epoch + 1 \
             WHERE id = ?1 AND status IN ('running', 'waiting') \
             AND (lease_until IS NULL OR lease_until < ?3) \
             RETURNING ",
            run_columns!()
        ))
        .bind(id)
        .bind(owner)
        .bind(now)
        .bind(ttl_ms)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(RunRecord::try_from).transpose()
    }

    async fn renew(
        &self,
        id: &str,
        owner: &str,
        epoch: i64,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool> {
        let mut conn = self.writer.acquire().await?;
        let done = sqlx::query(
            "UPDATE runs SET lease_until = ?4 + ?5 \
             WHERE id = ?1 AND lease_owner = ?2 AND lease_epoch = ?3",
        )
        .bind(id)
        .bind(owner)
        .bind(epoch)
        .bind(now)
        .bind(ttl_ms)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, id: &str, owner: &str, epoch: i64) -> Result<bool> {
        let mut conn = self.writer.acquire().await?;
        let done = sqlx::query(
            "UPDATE runs SET lease_owner = NULL, lease_until = NULL \
             WHERE id = ?1 AND lease_owner = ?2 AND lease_epoch = ?3",
        )
        .bind(id)
        .bind(owner)
        .bind(epoch)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn commit_ready(
        &self,
        points: Vec<crate::ReadyPoint>,
        writes: Vec<crate::GroupWrite>,
    ) -> Result<crate::GroupCommitted> {
        let mut batch = batch::assemble(points);
        if batch.is_empty() && writes.is_empty() {
            return Ok(batch.committed(Vec::new(), false));
        }
        if batch.is_empty()
            && let Some(taken) = group_docs::take(&writes)
        {
            let passed = self.commit_in_one(None, &taken).await?;
            return Ok(batch.committed(passed.written, false));
        }
        if let Some(pass) = batch.single_pass()? {
            let passed = self.commit_single_pass(pass, &batch, &writes).await?;
            batch.settle(&passed.unwritten);
            return Ok(batch.committed(passed.written, passed.woke_waiters));
        }
        // IMMEDIATE takes the write lock up front: a deferred transaction that
        // reads first could fail to upgrade if another process wrote meanwhile.
        let mut conn = self.writer.acquire().await?;
        let mut tx = SqliteTx(conn.begin_with("BEGIN IMMEDIATE").await?);
        let woke_waiters = batch::apply(&mut tx, &mut batch).await?;
        let written = apply_writes(&mut tx, &writes).await?;
        tx.0.commit().await?;
        Ok(batch.committed(written, woke_waiters))
    }

    async fn approvals(&self, filter: crate::ApprovalFilter) -> Result<Vec<crate::ApprovalRecord>> {
        let mut conn = self.readers.acquire().await?;
        approvals::list(&mut conn, &filter).await
    }

    async fn approval(&self, id: &str) -> Result<Option<crate::ApprovalRecord>> {
        let mut conn = self.readers.acquire().await?;
        approvals::get(&mut conn, id).await
    }

    async fn approval_audit(&self, id: &str) -> Result<Vec<crate::ApprovalAudit>> {
        let mut conn = self.readers.acquire().await?;
        approvals::trail(&mut conn, id).await
    }

    async fn decide_approval(
        &self,
        id: &str,
        decision: crate::ApprovalDecision,
    ) -> Result<crate::ApprovalRecord> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        // A refusal returns early and drops the transaction, which rolls it back.
        let record = approvals::decide(&mut tx, id, &decision).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn record_approval(&self, write: crate::ApprovalWrite, now: i64) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        approvals::apply_write(&mut tx, &write, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn approval_tokens(&self, approval_id: &str) -> Result<Vec<crate::TokenRecord>> {
        let mut conn = self.readers.acquire().await?;
        approvals::tokens(&mut conn, approval_id).await
    }

    async fn approval_token(&self, id: &str) -> Result<Option<crate::TokenRecord>> {
        let mut conn = self.readers.acquire().await?;
        approvals::token(&mut conn, id).await
    }

    async fn redeem_token(
        &self,
        redemption: crate::TokenRedemption,
    ) -> Result<crate::ApprovalRecord> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        // A refusal returns early and drops the transaction, which rolls it back.
        let record = approvals::redeem(&mut tx, &redemption).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn link_secret(&self, candidate: &str) -> Result<String> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let secret = approvals::link_secret(&mut tx, candidate).await?;
        tx.commit().await?;
        Ok(secret)
    }

    async fn next_event(&self, query: crate::EventQuery) -> Result<Option<EventRecord>> {
        let mut conn = self.readers.acquire().await?;
        events::next_event(&mut conn, &query).await
    }

    async fn next_message(
        &self,
        run_id: &str,
        exclude: Vec<String>,
    ) -> Result<Option<crate::RunMessage>> {
        let mut conn = self.readers.acquire().await?;
        events::next_message(&mut conn, run_id, &exclude).await
    }

    async fn publish_event(&self, event: crate::NewEvent, now: i64) -> Result<(EventRecord, bool)> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;

        let published = events::publish(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(published)
    }

    async fn send_message(&self, run_id: &str, text: &str, now: i64) -> Result<crate::RunMessage> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        // A refusal returns early and drops the transaction, which rolls it back.
        let message = events::send(&mut tx, run_id, text, now).await?;
        tx.commit().await?;
        Ok(message)
    }

    async fn event_cursor(&self, name: &str) -> Result<i64> {
        let mut conn = self.readers.acquire().await?;
        events::cursor(&mut conn, name).await
    }

    async fn set_event_cursor(&self, name: &str, seq: i64) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        events::set_cursor(&mut conn, name, seq).await
    }

    crate::delegate::delegated_methods!(read: readers, write: writer, begin: begin_with("BEGIN IMMEDIATE"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, Row};

    /// A store in a fresh temporary folder, kept as long as the folder.
    async fn temp_store(name: &str) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = SqliteStore::open(dir.path().join(format!("{name}.db")))
            .await
            .expect("opens");
        (dir, store)
    }

    /// The plan SQLite picks for `sql`, one `detail` line per step.
    async fn plan(store: &SqliteStore, sql: &str, binds: &[&str]) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(explain));
        for bind in binds {
            query = query.bind(*bind);
        }
        let rows = query
            .fetch_all(&mut *store.writer.acquire().await.expect("writes"))
            .await
            .expect("explains");
        rows.iter()
            .map(|row| row.get::<String, _>("detail"))
            .collect()
    }

    /// The page size `conn`'s database file has.
    async fn page_size(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(conn)
            .await
            .expect("reads the page size")
    }

    #[tokio::test]
    async fn a_new_database_has_the_store_page_size_and_an_old_one_keeps_its_own() {
        let (_dir, store) = temp_store("new").await;
        let mut writer = store.writer.acquire().await.expect("writes");
        assert_eq!(page_size(&mut writer).await, i64::from(PAGE_SIZE));
        drop(writer);

        // A file made with SQLite's default page size (as every earlier
        // version of this store made them) opens, migrates and is used as it is.
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("old.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .page_size(4096)
            .journal_mode(SqliteJournalMode::Wal);
        let mut old = SqliteConnection::connect_with(&options)
            .await
            .expect("creates");
        sqlx::query("CREATE TABLE before_the_store (x)")
            .execute(&mut old)
            .await
            .expect("makes the file");
        old.close().await.expect("closes");
        let store = SqliteStore::open(&path).await.expect("opens and migrates");
        let mut writer = store.writer.acquire().await.expect("writes");
        assert_eq!(page_size(&mut writer).await, 4096);
        drop(writer);
        assert!(store.run("none").await.expect("reads").is_none());
    }

    #[tokio::test]
    async fn the_writer_gathers_its_wal_writes_only_when_every_commit_syncs() {
        let (_dir, store) = temp_store("full").await;
        let mut writer = store.writer.acquire().await.expect("writes");
        assert!(gathered_wal::wal_writes(&mut writer).await.is_some());
        drop(writer);

        let dir = tempfile::tempdir().expect("a temp dir");
        let options = SqliteOptions {
            durability: Durability::Normal,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open_with(dir.path().join("normal.db"), options)
            .await
            .expect("opens");
        let mut writer = store.writer.acquire().await.expect("writes");
        assert_eq!(gathered_wal::wal_writes(&mut writer).await, None);
    }

    #[tokio::test]
    async fn a_journal_written_at_version_11_reads_the_same_and_goes_on_at_12() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("v11.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut old = SqliteConnection::connect_with(&options)
            .await
            .expect("creates");
        MIGRATOR.run_to(11, &mut old).await.expect("migrates to 11");
        // Two runs whose points interleave, as a group commit leaves them:
        // run `a` has entries 1-3 in two points, run `b` entry 1.
        sqlx::raw_sql(
            "INSERT INTO programs (hash, source, created_at) VALUES ('h', 'TALK 1', 0);
             INSERT INTO runs (id, workflow, bot, program_hash, status, state, input,
                               lease_epoch, created_at, updated_at)
             VALUES ('a', 'w', 'b', 'h', 'running', '{}', '{}', 1, 0, 0),
                    ('b', 'w', 'b', 'h', 'running', '{}', '{}', 1, 0, 0);
             INSERT INTO journal_points (run_id, seq, last, at, entries) VALUES
                 ('a', 1, 2, 10, '[{\"kind\":\"run_started\",\"data\":{}},{\"kind\":\"x\",\"data\":1}]'),
                 ('b', 1, 1, 11, '[{\"kind\":\"run_started\",\"data\":{}}]'),
                 ('a', 3, 3, 12, '[{\"kind\":\"y\",\"data\":[2]}]');",
        )
        .execute(&mut old)
        .await
        .expect("writes version 11 rows");
        old.close().await.expect("closes");

        let store = SqliteStore::open(&path).await.expect("opens and migrates");
        let kinds = |journal: Vec<crate::JournalEntry>| {
            journal
                .into_iter()
                .map(|e| (e.seq, e.at, e.kind, e.data.to_string()))
                .collect::<Vec<_>>()
        };
        let a = kinds(store.journal("a").await.expect("reads"));
        assert_eq!(
            a,
            [
                (1, 10, "run_started".to_owned(), "{}".to_owned()),
                (2, 10, "x".to_owned(), "1".to_owned()),
                (3, 12, "y".to_owned(), "[2]".to_owned()),
            ]
        );
        assert_eq!(kinds(store.journal("b").await.expect("reads")).len(), 1);

        // The next point's entries are numbered on from the last.
        let mut point = crate::DurablePoint::new("a", 1, crate::RunStatus::Running, 20);
        point.state = "{}".to_owned();
        point.journal.push(crate::NewJournalEntry {
            kind: "z".to_owned(),
            data: serde_json::json!(null),
        });
        let outcomes = store.commit(vec![point]).await.expect("commits");
        assert_eq!(outcomes, [crate::PointOutcome::Ok]);
        let a = kinds(store.journal("a").await.expect("reads"));
        assert_eq!(a.last(), Some(&(4, 20, "z".to_owned(), "null".to_owned())));
    }

    #[test]
    fn the_single_pass_commit_filters_every_row_statement_by_its_mark() {
        use SinglePassParam::*;
        let (sql, order) = &SINGLE_PASS[PassShape::Plain as usize][1];
        assert_eq!(
            SINGLE_PASS[PassShape::Plain as usize][0]
                .1
                .iter()
                .filter(|p| **p == Approvals)
                .count(),
            0,
            "without approval requests, no approval statement"
        );
        assert!(
            SinglePassParam::NAMES
                .iter()
                .all(|(name, _)| !sql.contains(name)),
            "no named parameter is left: {sql}"
        );
        let numbered = sql
            .match_indices('$')
            .any(|(at, _)| sql[at + 1..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!numbered, "{sql}");
        // Rows come only from the wake-ups (one column) and the final
        // look-up (two): `PassRows` tells them apart by that.
        assert_eq!(sql.matches("RETURNING").count(), 1, "{sql}");
        assert!(sql.contains("RETURNING NULL;\n"), "{sql}");
        // Every document field is read by position (`batch::doc_row!`).
        assert!(
            sql.match_indices("->> '")
                .all(|(at, _)| sql[at + 5..].starts_with("$[")),
            "{sql}"
        );
        assert!(sql.starts_with("BEGIN IMMEDIATE;") && sql.ends_with("COMMIT"));
        // Creation and fence stamp the mark; steps, events, journal, new
        // approval requests (with their audit entries, tokens and owed
        // notifications), cleared waits, wake-ups and the final look-up keep
        // or skip by it. States
        // and journal entries are read from the side texts.
        assert_eq!(
            order,
            &[
                Texts, Mark, Creates, Runs, Texts, Mark, Runs, Steps, Mark, Events, Mark, Texts,
                Journal, Mark, Approvals, Mark, Approvals, Mark, Tokens, Mark, Owed, Mark, Cleared,
                Mark, Now, Now, Events, Mark, Ids, Mark
            ]
        );
        assert_eq!(sql.matches('?').count(), order.len());
        // With group writes, their five documents are bound after the pass's
        // parameters, and a transaction the decisions' read began is not
        // begun again.
        for (shape, begins) in [(PassShape::WithWrites, true), (PassShape::AfterRead, false)] {
            for (sql, order) in &SINGLE_PASS[shape as usize] {
                assert_eq!(sql.matches('?').count(), order.len() + 5, "{sql}");
                assert_eq!(sql.starts_with("BEGIN IMMEDIATE;"), begins, "{sql}");
                assert!(sql.ends_with(&format!("{};\nCOMMIT", group_docs::WRITE)));
            }
        }
        for (sql, begins) in WRITES_ONLY.iter().zip([true, false]) {
            assert_eq!(sql.matches('?').count(), 5, "{sql}");
            assert_eq!(sql.starts_with("BEGIN IMMEDIATE;"), begins, "{sql}");
        }
    }

    // Version 11 rebuilt `events` without AUTOINCREMENT: a store upgraded
    // from 10 keeps its events, numbers, indexes, and numbers new ones on.
    #[tokio::test]
    async fn events_keep_their_numbers_across_the_upgrade_to_version_11() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("upgrade.db");
        {
            let before = sqlx::migrate::Migrator {
                migrations: std::borrow::Cow::Owned(
                    MIGRATOR
                        .migrations
                        .iter()
                        .filter(|m| m.version <= 10)
                        .cloned()
                        .collect(),
                ),
                ..sqlx::migrate::Migrator::DEFAULT
            };
            let pool = SqlitePool::connect_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true),
            )
            .await
            .expect("creates a version 10 store");
            before.run(&pool).await.expect("migrates to 10");
            // Numbers with a gap, as a rolled-back insert leaves them.
            sqlx::query(
                "INSERT INTO events (seq, id, name, at) VALUES (1, 'a', 'e', 1), (5, 'b', 'e', 2)",
            )
            .execute(&pool)
            .await
            .expect("publishes on version 10");
            pool.close().await;
        }
        let store = SqliteStore::open(&path).await.expect("upgrades");
        let (newer, created) = store
            .publish_event(
                crate::NewEvent {
                    id: "c".to_owned(),
                    name: "e".to_owned(),
                    key: None,
                    target_bot: None,
                    payload: None,
                    from_bot: None,
                    from_run: None,
                },
                3,
            )
            .await
            .expect("publishes on version 11");
        assert!(created);
        assert_eq!(newer.seq, 6, "numbered after the largest");
        let events = store
            .events(crate::EventFilter {
                name: Some("e".to_owned()),
                ..Default::default()
            })
            .await
            .expect("lists by name");
        let numbered: Vec<(i64, &str)> = events.iter().map(|e| (e.seq, e.id.as_str())).collect();
        assert_eq!(numbered, [(1, "a"), (5, "b"), (6, "c")]);
        let plan = plan(
            &store,
            "SELECT seq FROM events WHERE name = ?1 AND seq > 0",
            &["e"],
        )
        .await;
        assert!(
            plan.iter().any(|s| s.contains("events_name_seq")),
            "{plan:?}"
        );
        let counted: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE name = 'events' AND sql LIKE '%AUTOINCREMENT%'",
        )
        .fetch_one(&mut *store.writer.acquire().await.expect("writes"))
        .await
        .expect("reads the schema");
        assert_eq!(counted, 0, "no sqlite_sequence row to rewrite per insert");
        store.close().await;
    }

    #[test]
    fn named_parameters_become_anonymous_in_order() {
        let (sql, order) = SinglePassParam::anonymous(
            "SELECT :mark, j.value ->> 'a:b', :marker, :now FROM x WHERE y = :ids",
        );
        assert_eq!(
            sql,
            "SELECT ?, j.value ->> 'a:b', :marker, ? FROM x WHERE y = ?"
        );
        use SinglePassParam::*;
        assert_eq!(order, vec![Mark, Now, Ids]);
    }

    // The single pass binds its documents as JSONB: every value a row can
    // hold must read back through `->>` as it does from JSON text, strings
    // with quotes, escapes, control and non-ASCII characters included.
    #[tokio::test]
    async fn a_jsonb_document_reads_back_as_its_json_text_does() {
        let (_dir, store) = temp_store("jsonb").await;
        type Row<'a> = (&'a str, Option<&'a str>, i64, bool, [usize; 2]);
        let mut rows: Vec<Row<'_>> = vec![
            ("plain", None, 0, true, [1, 2]),
            (
                "\"quoted\" \\ back\nline\t\u{1}",
                Some("{\"a\":[1]}"),
                -42,
                false,
                [0, 0],
            ),
            (
                "élan 日本 🙂",
                Some(""),
                i64::MAX,
                true,
                [usize::MAX >> 12, 7],
            ),
            ("", Some("null"), i64::MIN, false, [3, 4]),
        ];
        // Texts past each header width: one, two and four size bytes.
        let (long, longer) = ("\"ü".repeat(100), "x\n".repeat(40_000));
        rows.push((&long, Some(&longer), 12, true, [12, 300]));
        const READ: &str = "SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, \
             j.value ->> '$[4][0]', j.value ->> '$[4][1]' FROM jsonb_each(?) AS j ORDER BY j.key";
        type Read = (String, Option<String>, i64, bool, i64, i64);
        let mut conn = store.writer.acquire().await.expect("a connection");
        let jsonb = <batch::Jsonb as batch::DocFormat>::encode(&rows).expect("encodes");
        let from_jsonb: Vec<Read> = sqlx::query_as(READ)
            .bind(jsonb.0.as_slice())
            .fetch_all(&mut *conn)
            .await
            .expect("reads the JSONB document");
        let text = batch::to_doc(&rows).expect("encodes");
        let from_text: Vec<Read> = sqlx::query_as(READ)
            .bind(text.as_str())
            .fetch_all(&mut *conn)
            .await
            .expect("reads the JSON document");
        assert_eq!(from_jsonb, from_text);
        assert_eq!(from_jsonb.len(), rows.len());
        assert_eq!(from_jsonb[1].0, rows[1].0);
        let empty: i64 = sqlx::query_scalar("SELECT count(*) FROM jsonb_each(?)")
            .bind(batch::Jsonb::EMPTY)
            .fetch_one(&mut *conn)
            .await
            .expect("reads the empty document");
        assert_eq!(empty, 0);
    }

    // Every group commit inserts the engine's events in the batch's order:
    // from the document's own order, with no sorter in between.
    #[tokio::test]
    async fn events_are_inserted_in_document_order_without_a_sort() {
        let (_dir, store) = temp_store("plan").await;
        let single_pass = single_pass_sql(false);
        let positional = single_pass
            .split(";\n")
            .find(|s| s.starts_with("INSERT INTO events"))
            .expect("the single pass inserts events")
            .replace(":events", "?1")
            .replace(":mark", "?2");
        for sql in [INSERT_EVENTS, positional.as_str()] {
            let steps = plan(&store, sql, &["[]", "1"]).await;
            assert!(
                steps.iter().all(|s| !s.contains("TEMP B-TREE")),
                "{steps:?}"
            );
        }
    }

    // Journal rows go in at the table's end (schema version 12); finding a
    // run's rows, to number the next ones or to read them, takes the index.
    #[tokio::test]
    async fn a_runs_journal_rows_are_found_by_the_index_not_a_scan() {
        let (_dir, store) = temp_store("plan").await;
        for (sql, binds) in [(APPEND_JOURNAL, vec!["[]"]), (READ_JOURNAL, vec!["r"])] {
            let steps = plan(&store, sql, &binds).await;
            assert!(
                steps
                    .iter()
                    .any(|s| s.contains("USING INDEX journal_points_run_seq (run_id=?)")),
                "{steps:?}"
            );
            assert!(
                steps
                    .iter()
                    .all(|s| !s.starts_with("SCAN o") && !s.starts_with("SCAN journal_points")),
                "{steps:?}"
            );
        }
    }

    // Nearly every group commit publishes, so the wake-up statements run at
    // every commit: scanning the waiting runs there made a million waiting
    // runs slow down every new one (DESIGN.md: waiting costs a row).
    #[tokio::test]
    async fn waking_waiters_never_scans_the_waiting_runs() {
        let (_dir, store) = temp_store("plan").await;
        for (sql, binds) in [
            (crate::event_sql::WAKE_WAITERS_DOC_SQLITE, vec!["[]", "1"]),
            (crate::event_sql::WAKE_WAITERS, vec!["e", "k", "1"]),
        ] {
            let steps = plan(&store, sql, &binds).await;
            assert!(
                steps.iter().all(|s| !s.contains("runs_status_wake")),
                "{steps:?}"
            );
            assert!(
                steps
                    .iter()
                    .any(|s| s.starts_with("SEARCH runs USING INDEX sqlite_autoindex_runs_1")),
                "{steps:?}"
            );
        }
    }

    // The group writes' documents name rows by key: no statement of theirs
    // may scan a table, nor visit the waiting runs by the status index, or
    // every decision would cost more as the store grows.
    #[tokio::test]
    async fn group_write_documents_never_scan_a_table() {
        let (_dir, store) = temp_store("plan").await;
        let statements: Vec<&str> = group_docs::WRITE
            .split(";\n")
            .chain([group_docs::READ])
            .collect();
        assert_eq!(statements.len(), 6);
        for sql in statements {
            let steps = plan(&store, sql, &["[]"]).await;
            assert!(
                steps.iter().all(|s| (!s.starts_with("SCAN")
                    || s.starts_with("SCAN j")
                    || s.starts_with("SCAN json_each"))
                    && !s.contains("runs_status_wake")),
                "{sql}: {steps:?}"
            );
        }
    }

    // Under steady load a checkpoint beside the writer never finds a moment
    // when the WAL is all copied, so SQLite would go on appending to it for
    // as long as the load lasts; the checkpointer must make it start over.
    // Here commits follow each other without a pause while it checkpoints
    // every 5 ms: some 60 start-overs; without the checkpoint in the
    // writer's place, a few, when a pause between two commits let one
    // beside them finish. Each start-over writes a new WAL header with the
    // next checkpoint sequence number (bytes 12..16, big-endian).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_a_steady_stream_of_commits() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let options = SqliteOptions {
            durability: Durability::Normal,
            checkpoint_every: Duration::from_millis(5),
            wal_limit_pages: 16,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open_with(dir.path().join("wal.db"), options)
            .await
            .expect("opens");
        let wal = dir.path().join("wal.db-wal");
        let sequence = || {
            let header = std::fs::read(&wal).expect("a WAL");
            u32::from_be_bytes(header[12..16].try_into().expect("a WAL header"))
        };
        let mut sequences = std::collections::BTreeSet::new();
        for i in 0..3_000 {
            store
                .put_program(&format!("hash-{i}"), "TALK \"hi\"")
                .await
                .expect("writes");
            if i % 10 == 0 {
                sequences.insert(sequence());
            }
        }
        assert!(
            sequences.len() > 20,
            "the WAL started over {} times",
            sequences.len() - 1
        );
        store.close().await;
    }
}
