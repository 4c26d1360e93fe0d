//! The shared backend: PostgreSQL, for several nodes on one database.
//!
//! Commits are one transaction each; concurrent commits from several nodes are
//! kept apart by the lease epoch check in the fencing `UPDATE`, which PostgreSQL
//! re-evaluates on the newest row version after waiting for a row lock.
//! Claims use `FOR UPDATE SKIP LOCKED`, so nodes never wait on each other's claims.
//! An optional schema (created if missing) holds all tables, via `search_path`.

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, Transaction};

use crate::batch::{self, CommitTx, PreparedMemory};
use crate::model::{
    EventFilter, EventRecord, JournalEntry, MemoryVersion, NewRun, RunFilter, RunOutcome,
    RunRecord, RunSummary, SharedEntry, StepRecord,
};
use crate::rows::{self, run_columns};
use crate::{Error, Result, SCHEMA_VERSION, Store};

/// The approval statements on this backend's connections.
mod approvals {
    crate::approval_sql::approval_queries!(
        sqlx::PgConnection,
        "FOR UPDATE",
        true,
        "json_array_elements_text(approvers::json) AS addressed(value)"
    );
    crate::token_sql::token_queries!(sqlx::PgConnection, "FOR UPDATE");
}

/// The approval notification outbox on this backend's connections.
mod notices {
    crate::notice_sql::notice_queries!(sqlx::PgConnection);
}

/// The event, wait and message statements on this backend's connections.
mod events {
    crate::event_sql::event_queries!(sqlx::PgConnection, crate::event_sql::WAKE_WAITERS_DOC_PG);

    /// Serialises transactions that publish events or register waits (see
    /// `crate::event`): one transaction-scoped advisory lock.
    /// Publishers take it shared (they never conflict with each other),
    /// transactions that register waits exclusive.
    pub(crate) async fn lock(conn: &mut sqlx::PgConnection, exclusive: bool) -> crate::Result<()> {
        let sql = if exclusive {
            "SELECT pg_advisory_xact_lock($1)"
        } else {
            "SELECT pg_advisory_xact_lock_shared($1)"
        };
        sqlx::query(sql)
            .bind(crate::event_sql::EVENTS_LOCK)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// The schedule statements on this backend's connections.
mod schedules {
    crate::schedule_sql::schedule_queries!(sqlx::PgConnection);
}

/// The API token statements on this backend's connections. Under READ
/// COMMITTED two first-token inserts could both find the table empty; this
/// lock mode conflicts with itself and with inserts but not with reads, so
/// the second waits for the first to commit and then sees its row, while
/// authentication lookups go on.
mod api_tokens {
    crate::api_token_sql::api_token_queries!(
        sqlx::PgConnection,
        Some("LOCK TABLE api_tokens IN SHARE ROW EXCLUSIVE MODE")
    );
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Settings for [`PostgresStore::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Size of the connection pool.
    pub max_connections: u32,
    /// Schema holding botflow's tables (created if missing); `None` uses the
    /// server's default `search_path`.
    pub schema: Option<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 10,
            schema: None,
        }
    }
}

/// The [`Store`] on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Checks that a schema name is a plain identifier, safe to splice into SQL.
fn check_schema(name: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        Ok(())
    } else {
        Err(Error::InvalidSchema(name.to_owned()))
    }
}

/// How long a session may sit in an open transaction without a statement
/// before the server ends it (see `connect_with`).
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "5s";

/// How often a batch the database aborted (deadlock, serialization failure) is retried.
const COMMIT_RETRIES: u32 = 3;

impl PostgresStore {
    /// Applies a prepared batch in one transaction; also returns whether
    /// its events made a waiting run due.
    async fn commit_once(
        &self,
        batch: &mut batch::PreparedBatch,
        writes: &[crate::GroupWrite],
    ) -> Result<(Vec<Result<crate::GroupWritten>>, bool)> {
        let mut tx = PgTx(self.pool.begin().await?);
        let woke = batch::apply(&mut tx, batch).await?;
        let written = batch::apply_writes(&mut tx, writes).await?;
        tx.0.commit().await?;
        Ok((written, woke))
    }

    /// Connects to `url` with default options.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, PostgresOptions::default()).await
    }

    /// Connects to `url`, refuses a schema newer than this code, and applies
    /// pending migrations.
    pub async fn open_with(url: &str, options: PostgresOptions) -> Result<Self> {
        let connect: PgConnectOptions = url.parse()?;
        Self::connect_with(connect, options).await
    }

    /// Like [`open_with`](Self::open_with), from parsed connection options.
    pub async fn connect_with(connect: PgConnectOptions, options: PostgresOptions) -> Result<Self> {
        let connect = match &options.schema {
            Some(schema) => {
                check_schema(schema)?;
                let mut conn = probe(&connect).await?;
                let created = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
                )))
                .execute(&mut conn)
                .await;
                // `IF NOT EXISTS` is no guard against a concurrent creation:
                // of several nodes starting together, the losers get a unique
                // violation (or `duplicate_schema`), which means it exists now.
                if let Err(error) = created
                    && !lost_creation_race(&error)
                {
                    return Err(error.into());
                }
                conn.close().await?;
                connect.options([("search_path", schema.as_str())])
            }
            None => {
                // One plain attempt first: a server that is down, or that
                // refuses the login or the database, is reported at once with
                // what it said (the pool would retry a refused connection
                // silently until its acquire timeout, and then say only that).
                let conn = probe(&connect).await?;
                conn.close().await?;
                connect
            }
        };
        // A node paused or cut off in the middle of a commit keeps its
        // transaction, and so its row locks, open: claims skip locked rows,
        // so its runs could never be taken over. The server ends such a
        // session instead; our transactions never idle on purpose.
        let connect = connect.options([(
            "idle_in_transaction_session_timeout",
            IDLE_IN_TRANSACTION_TIMEOUT,
        )]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect)
            .await?;
        if let Some(found) = schema_version(&pool).await?
            && found > SCHEMA_VERSION
        {
            pool.close().await;
            return Err(Error::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The connection pool, for what shares the database without storing
    /// anything: the runtime's LISTEN/NOTIFY wake-ups connect with its options.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The operating-system process id of a server backend serving this
    /// store (`pg_backend_pid()`). On the same machine its parent is the
    /// server's main process: how the bench finds the server to count its
    /// CPU time.
    pub async fn backend_pid(&self) -> Result<i32> {
        Ok(sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&self.pool)
            .await?)
    }
}

/// How long the first connection of [`PostgresStore::connect_with`] may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One connection, within [`CONNECT_TIMEOUT`]: a server that does not answer
/// (a host that drops packets) is an I/O error like a refused connection,
/// not a wait of minutes.
async fn probe(connect: &PgConnectOptions) -> Result<PgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(connect)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(Error::Database(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the database server did not answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        )))),
    }
}

/// Whether a `CREATE ... IF NOT EXISTS` failed only because another
/// session created the same object at the same moment.
fn lost_creation_race(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("23505" | "42P06")))
}

/// The recorded schema version, or `None` for a database botflow never opened.
async fn schema_version(pool: &PgPool) -> Result<Option<i64>> {
    let has_meta: bool = sqlx::query_scalar("SELECT to_regclass('meta') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !has_meta {
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

const FENCE: &str = "\
UPDATE runs AS r SET
    status = x.status,
    state = x.state,
    wake_at = x.wake_at,
    result = x.result,
    error = x.error,
    version = r.version + 1,
    updated_at = x.now,
    lease_owner = CASE WHEN x.release THEN NULL ELSE r.lease_owner END,
    lease_until = CASE WHEN x.release THEN NULL ELSE r.lease_until END
FROM json_to_recordset($1::json) AS x (id text, epoch bigint, status text, state text,
                                      wake_at bigint, result text, error text, now bigint,
                                      release boolean)
WHERE r.id = x.id AND r.lease_epoch = x.epoch
RETURNING r.id";

// `version` starts at 1: the row already holds its first point.
const CREATE_RUNS: &str = "\
INSERT INTO runs (id, workflow, bot, program_hash, status, state, input, result, error,
                  lease_owner, lease_epoch, lease_until, wake_at, version, parent_run,
                  created_at, updated_at)
SELECT x.id, x.workflow, x.bot, x.program_hash, x.status, x.state, x.input, x.result, x.error,
       x.lease_owner, x.lease_epoch, x.lease_until, x.wake_at, 1, x.parent_run, x.now, x.now
FROM json_to_recordset($1::json) AS x (id text, workflow text, bot text, program_hash text,
                                      status text, state text, input text, result text,
                                      error text, parent_run text, lease_owner text,
                                      lease_epoch bigint, lease_until bigint, wake_at bigint,
                                      now bigint)
WHERE EXISTS (SELECT 1 FROM programs AS p WHERE p.hash = x.program_hash)
ON CONFLICT (id) DO NOTHING
RETURNING id";

const UPSERT_STEPS: &str = "\
INSERT INTO steps AS s (run_id, path, number, kind, bot, attempts, status, answer, error,
                        started_at, finished_at)
SELECT x.run_id, x.path, x.number, x.kind, x.bot, x.attempts, x.status, x.answer, x.error,
       x.started_at, x.finished_at
FROM json_to_recordset($1::json) AS x (run_id text, path text, number text, kind text,
                                      bot text, attempts integer, status text, answer text,
                                      error text, started_at bigint, finished_at bigint)
ON CONFLICT (run_id, path) DO UPDATE SET
    number = excluded.number,
    kind = excluded.kind,
    bot = excluded.bot,
    attempts = greatest(s.attempts, excluded.attempts),
    status = excluded.status,
    answer = excluded.answer,
    error = excluded.error,
    started_at = coalesce(s.started_at, excluded.started_at),
    finished_at = excluded.finished_at
WHERE s.status <> 'done'";

const INSERT_EVENTS: &str = "\
INSERT INTO events (id, name, key, target_bot, payload, from_bot, from_run, at)
SELECT x.id, x.name, x.key, x.target_bot, x.payload, x.from_bot, x.from_run, x.at
FROM json_to_recordset($1::json) AS x (ord bigint, id text, name text, key text,
                                      target_bot text, payload text, from_bot text,
                                      from_run text, at bigint)
ORDER BY x.ord
ON CONFLICT (id) DO NOTHING";

// Every statement reads the snapshot taken before it, so `max(seq)` sees the
// journal as it was before this insert.
// One row per point: its entries are numbered on from the run's last entry
// (`last` of the run's latest row); a round holds one point per run.
const APPEND_JOURNAL: &str = "\
INSERT INTO journal_points (run_id, seq, last, at, entries)
SELECT x.run_id, b.base + 1, b.base + x.n, x.at, x.entries
FROM json_to_recordset($1::json) AS x (run_id text, n bigint, at bigint, entries text)
CROSS JOIN LATERAL (
    SELECT coalesce((SELECT o.last FROM journal_points AS o WHERE o.run_id = x.run_id
                     ORDER BY o.seq DESC LIMIT 1), 0) AS base) AS b";

const MEMORY_SET_HISTORY: &str = "\
INSERT INTO bot_memory_history (bot, key, value, version, replaced_at)
SELECT bot, key, value, version, $3 FROM bot_memory WHERE bot = $1 AND key = $2";

const MEMORY_SET: &str = "\
INSERT INTO bot_memory AS m (bot, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4)
ON CONFLICT (bot, key) DO UPDATE SET
    value = excluded.value, version = m.version + 1, updated_at = excluded.updated_at";

const MEMORY_SHARE: &str = "\
INSERT INTO bot_shared_memory AS sm (target_bot, key, source_bot, value, version, shared_at)
VALUES ($1, $2, $3,
        coalesce((SELECT value FROM bot_memory WHERE bot = $3 AND key = $2), 'null'), 1, $4)
ON CONFLICT (target_bot, key, source_bot) DO UPDATE SET
    value = excluded.value,
    version = sm.version + 1,
    shared_at = excluded.shared_at";

const MEMORY_SYNC_HISTORY: &str = "\
INSERT INTO bot_memory_history (bot, key, value, version, replaced_at)
SELECT m.bot, m.key, m.value, m.version, $3
FROM bot_memory AS m
JOIN bot_shared_memory AS s ON s.target_bot = m.bot AND s.key = m.key
WHERE s.target_bot = $1 AND s.source_bot = $2 AND s.shared_at > m.updated_at";

const MEMORY_SYNC: &str = "\
INSERT INTO bot_memory AS m (bot, key, value, version, updated_at)
SELECT s.target_bot, s.key, s.value, 1, s.shared_at
FROM bot_shared_memory AS s WHERE s.target_bot = $1 AND s.source_bot = $2
ON CONFLICT (bot, key) DO UPDATE SET
    value = excluded.value, version = m.version + 1, updated_at = excluded.updated_at
WHERE excluded.updated_at > m.updated_at";

struct PgTx(Transaction<'static, Postgres>);

impl CommitTx for PgTx {
    async fn create_runs(&mut self, creates_doc: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(CREATE_RUNS)
            .bind(creates_doc)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn fence(&mut self, runs_doc: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(FENCE)
            .bind(runs_doc)
            .fetch_all(&mut *self.0)
            .await?)
    }

    async fn run_exists(&mut self, id: &str) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM runs WHERE id = $1")
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

    async fn approval(&mut self, write: &crate::ApprovalWrite, now: i64) -> Result<()> {
        approvals::apply_write(&mut self.0, write, now).await
    }

    async fn lock_events(&mut self, exclusive: bool) -> Result<()> {
        events::lock(&mut self.0, exclusive).await
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
        sqlx::query(
            "DELETE FROM event_waits WHERE run_id IN (SELECT json_array_elements_text($1::json))",
        )
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
        crate::group::group_write!(
            &mut *self.0,
            write,
            approvals::decide,
            approvals::apply_write,
            notices::done,
            Error::is_transient
        )
    }
}

fn limit(value: u32) -> i64 {
    i64::from(value)
}

/// Inserts one run unless its id exists; returns the stored run and whether it
/// was created now.
async fn insert_run(
    conn: &mut PgConnection,
    new: &NewRun,
    state: &str,
    input: &str,
) -> Result<(RunRecord, bool)> {
    let inserted: Option<rows::RunRow> = sqlx::query_as(concat!(
        "INSERT INTO runs (id, workflow, bot, program_hash, status, state, input, wake_at, \
         parent_run, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
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
        " FROM runs WHERE id = $1"
    ))
    .bind(&new.id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((existing.try_into()?, false))
}

impl Store for PostgresStore {
    async fn put_program(&self, hash: &str, source: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO programs (hash, source, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(hash)
        .bind(source)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn program(&self, hash: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT source FROM programs WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(runs.len());
        for (new, (state, input)) in runs.iter().zip(&values) {
            out.push(insert_run(&mut tx, new, state, input).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        let row: Option<rows::RunRow> = sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(RunRecord::try_from).transpose()
    }

    async fn run_outcome(&self, id: &str) -> Result<Option<RunOutcome>> {
        let row: Option<rows::OutcomeRow> = sqlx::query_as(concat!(
            "SELECT ",
            rows::outcome_columns!(),
            " FROM runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(RunOutcome::try_from).transpose()
    }

    async fn next_timer(&self, until: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(crate::approval_sql::NEXT_TIMER)
            .bind(until)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunSummary>> {
        let rows: Vec<rows::SummaryRow> = sqlx::query_as(
            "SELECT id, workflow, bot, program_hash, status, wake_at, version, parent_run, \
             created_at, updated_at FROM runs \
             WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR workflow = $2) \
             AND ($3::text IS NULL OR bot = $3) \
             AND ($6::bigint IS NULL OR created_at < $6 \
                  OR (created_at = $6 AND id < $7::text)) \
             ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5",
        )
        .bind(filter.status.map(|s| s.as_str()))
        .bind(&filter.workflow)
        .bind(&filter.bot)
        .bind(limit(filter.limit))
        .bind(limit(filter.offset))
        .bind(filter.before.as_ref().map(|key| key.created_at))
        .bind(filter.before.as_ref().map(|key| key.id.as_str()))
        .fetch_all(&self.pool)
        .await?;
        rows::convert(rows)
    }

    async fn steps(&self, run: &str) -> Result<Vec<StepRecord>> {
        let rows: Vec<rows::StepRow> = sqlx::query_as(
            "SELECT run_id, path, number, kind, bot, attempts, status, answer, error, \
             started_at, finished_at FROM steps WHERE run_id = $1 \
             ORDER BY started_at ASC NULLS LAST, path",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        rows::convert(rows)
    }

    async fn journal(&self, run: &str) -> Result<Vec<JournalEntry>> {
        let rows: Vec<rows::JournalRow> = sqlx::query_as(
            "SELECT run_id, seq, at, entries FROM journal_points WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        rows::journal_entries(rows)
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>> {
        let rows: Vec<rows::EventRow> = sqlx::query_as(
            "SELECT seq, id, name, key, target_bot, payload, from_bot, from_run, at FROM events \
             WHERE seq > $1 AND ($2::text IS NULL OR name = $2) \
             AND ($4::text IS NULL OR from_run = $4) ORDER BY seq LIMIT $3",
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
        .fetch_all(&self.pool)
        .await?;
        rows::convert(rows)
    }

    async fn memory(&self, bot: &str, key: &str) -> Result<Option<Value>> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT value FROM bot_memory WHERE bot = $1 AND key = $2")
                .bind(bot)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        text.map(|t| rows::parse_value("bot_memory.value", &t))
            .transpose()
    }

    async fn memory_history(&self, bot: &str, key: &str) -> Result<Vec<MemoryVersion>> {
        let rows: Vec<rows::VersionRow> = sqlx::query_as(
            "SELECT value, version, replaced_at AS at FROM bot_memory_history \
             WHERE bot = $1 AND key = $2 ORDER BY version, replaced_at",
        )
        .bind(bot)
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows::convert(rows)
    }

    async fn shared_memory(&self, target: &str) -> Result<Vec<SharedEntry>> {
        let rows: Vec<rows::SharedRow> = sqlx::query_as(
            "SELECT target_bot, key, source_bot, value, version, shared_at \
             FROM bot_shared_memory WHERE target_bot = $1 ORDER BY key, source_bot",
        )
        .bind(target)
        .fetch_all(&self.pool)
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
        let rows: Vec<rows::RunRow> = sqlx::query_as(concat!(
            "UPDATE runs SET lease_owner = $1, lease_until = $2 + $3, \
             lease_epoch = lease_epoch + 1 \
             WHERE id IN ( \
                 SELECT id FROM runs \
                 WHERE (status = 'running' OR (status = 'waiting' AND wake_at <= $2)) \
                 AND (lease_until IS NULL OR lease_until < $2) \
                 LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING ",
            run_columns!()
        ))
        .bind(owner)
        .bind(now)
        .bind(ttl_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
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
        let row: Option<rows::RunRow> = sqlx::query_as(concat!(
            "UPDATE runs SET lease_owner = $2, lease_until = $3 + $4, \
             lease_epoch = lease_epoch + 1 \
             WHERE id = $1 AND status IN ('running', 'waiting') \
             AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING ",
            run_columns!()
        ))
        .bind(id)
        .bind(owner)
        .bind(now)
        .bind(ttl_ms)
        .fetch_optional(&self.pool)
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
        let done = sqlx::query(
            "UPDATE runs SET lease_until = $4 + $5 \
             WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3",
        )
        .bind(id)
        .bind(owner)
        .bind(epoch)
        .bind(now)
        .bind(ttl_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, id: &str, owner: &str, epoch: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE runs SET lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3",
        )
        .bind(id)
        .bind(owner)
        .bind(epoch)
        .execute(&self.pool)
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
        // Two nodes' batches that touch the same rows in another order can
        // deadlock; PostgreSQL then aborts one transaction, which wrote
        // nothing, so that batch is simply applied again.
        let outcomes = batch.outcomes.clone();
        let mut retries = 0;
        loop {
            match self.commit_once(&mut batch, &writes).await {
                Ok((written, woke_waiters)) => return Ok(batch.committed(written, woke_waiters)),
                Err(error) if error.is_transient() && retries < COMMIT_RETRIES => {
                    retries += 1;
                    tracing::warn!(%error, retries, "group commit aborted by the database; retrying");
                    batch.outcomes.clone_from(&outcomes);
                    tokio::time::sleep(std::time::Duration::from_millis(5 << retries)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn approvals(&self, filter: crate::ApprovalFilter) -> Result<Vec<crate::ApprovalRecord>> {
        let mut conn = self.pool.acquire().await?;
        approvals::list(&mut conn, &filter).await
    }

    async fn approval(&self, id: &str) -> Result<Option<crate::ApprovalRecord>> {
        let mut conn = self.pool.acquire().await?;
        approvals::get(&mut conn, id).await
    }

    async fn approval_audit(&self, id: &str) -> Result<Vec<crate::ApprovalAudit>> {
        let mut conn = self.pool.acquire().await?;
        approvals::trail(&mut conn, id).await
    }

    async fn decide_approval(
        &self,
        id: &str,
        decision: crate::ApprovalDecision,
    ) -> Result<crate::ApprovalRecord> {
        let mut tx = self.pool.begin().await?;
        // A refusal returns early and drops the transaction, which rolls it back.
        let record = approvals::decide(&mut tx, id, &decision).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn record_approval(&self, write: crate::ApprovalWrite, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        approvals::apply_write(&mut tx, &write, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn approval_tokens(&self, approval_id: &str) -> Result<Vec<crate::TokenRecord>> {
        let mut conn = self.pool.acquire().await?;
        approvals::tokens(&mut conn, approval_id).await
    }

    async fn approval_token(&self, id: &str) -> Result<Option<crate::TokenRecord>> {
        let mut conn = self.pool.acquire().await?;
        approvals::token(&mut conn, id).await
    }

    async fn redeem_token(
        &self,
        redemption: crate::TokenRedemption,
    ) -> Result<crate::ApprovalRecord> {
        let mut tx = self.pool.begin().await?;
        // A refusal returns early and drops the transaction, which rolls it back.
        let record = approvals::redeem(&mut tx, &redemption).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn link_secret(&self, candidate: &str) -> Result<String> {
        let mut tx = self.pool.begin().await?;
        let secret = approvals::link_secret(&mut tx, candidate).await?;
        tx.commit().await?;
        Ok(secret)
    }

    async fn next_event(&self, query: crate::EventQuery) -> Result<Option<EventRecord>> {
        let mut conn = self.pool.acquire().await?;
        events::next_event(&mut conn, &query).await
    }

    async fn next_message(
        &self,
        run_id: &str,
        exclude: Vec<String>,
    ) -> Result<Option<crate::RunMessage>> {
        let mut conn = self.pool.acquire().await?;
        events::next_message(&mut conn, run_id, &exclude).await
    }

    async fn publish_event(&self, event: crate::NewEvent, now: i64) -> Result<(EventRecord, bool)> {
        let mut tx = self.pool.begin().await?;
        events::lock(&mut tx, false).await?;
        let published = events::publish(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok(published)
    }

    async fn send_message(&self, run_id: &str, text: &str, now: i64) -> Result<crate::RunMessage> {
        let mut tx = self.pool.begin().await?;
        // A refusal returns early and drops the transaction, which rolls it back.
        let message = events::send(&mut tx, run_id, text, now).await?;
        tx.commit().await?;
        Ok(message)
    }

    async fn event_cursor(&self, name: &str) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        events::cursor(&mut conn, name).await
    }

    async fn set_event_cursor(&self, name: &str, seq: i64) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        events::set_cursor(&mut conn, name, seq).await
    }

    crate::delegate::delegated_methods!(read: pool, write: pool, begin: begin());
}
