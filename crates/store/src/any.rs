//! [`AnyStore`]: one backend or the other, chosen at run time from a URL.

use std::path::Path;

use serde_json::Value;

use crate::approval::{ApprovalAudit, ApprovalDecision, ApprovalFilter, ApprovalRecord};
use crate::model::{
    EventFilter, EventRecord, JournalEntry, MemoryVersion, NewRun, RunFilter, RunOutcome,
    RunRecord, RunSummary, SharedEntry, StepRecord,
};
use crate::postgres::{PostgresOptions, PostgresStore};
use crate::sqlite::{SqliteOptions, SqliteStore};
use crate::{Error, Result, Store};

/// Settings for [`AnyStore::open_with`]; only the chosen backend's part is used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Used for SQLite URLs and paths.
    pub sqlite: SqliteOptions,
    /// Used for `postgres://` URLs.
    pub postgres: PostgresOptions,
}

/// A store on either backend, so callers need neither generics nor `dyn`.
/// Cloning is cheap: clones share the connection pools.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// The embedded SQLite backend.
    Sqlite(SqliteStore),
    /// The shared PostgreSQL backend.
    Postgres(PostgresStore),
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        AnyStore::Sqlite(store)
    }
}

impl From<PostgresStore> for AnyStore {
    fn from(store: PostgresStore) -> Self {
        AnyStore::Postgres(store)
    }
}

impl AnyStore {
    /// Opens `url` with default options: `postgres://…` or `postgresql://…` for
    /// PostgreSQL, `sqlite://PATH`, `sqlite:PATH` or a plain file path for SQLite
    /// (created if missing).
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, OpenOptions::default()).await
    }

    /// Opens `url` (see [`open`](Self::open)) with the given options.
    pub async fn open_with(url: &str, options: OpenOptions) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(PostgresStore::open_with(url, options.postgres)
                .await?
                .into());
        }
        let path = if let Some(path) = url.strip_prefix("sqlite://") {
            path
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            path
        } else if url.contains("://") || url.is_empty() {
            return Err(Error::UnsupportedUrl(crate::redact_url(url)));
        } else {
            url
        };
        if path.is_empty() {
            return Err(Error::UnsupportedUrl(crate::redact_url(url)));
        }
        Ok(SqliteStore::open_with(Path::new(path), options.sqlite)
            .await?
            .into())
    }

    /// Closes the store's connections.
    pub async fn close(&self) {
        match self {
            AnyStore::Sqlite(store) => store.close().await,
            AnyStore::Postgres(store) => store.close().await,
        }
    }
}

macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(store) => store.$method($($arg),*).await,
            AnyStore::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store for AnyStore {
    async fn put_program(&self, hash: &str, source: &str) -> Result<()> {
        delegate!(self.put_program(hash, source))
    }

    async fn program(&self, hash: &str) -> Result<Option<String>> {
        delegate!(self.program(hash))
    }

    async fn create_run(&self, new: NewRun) -> Result<(RunRecord, bool)> {
        delegate!(self.create_run(new))
    }

    async fn create_runs(&self, runs: Vec<NewRun>) -> Result<Vec<(RunRecord, bool)>> {
        delegate!(self.create_runs(runs))
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        delegate!(self.run(id))
    }

    async fn run_outcome(&self, id: &str) -> Result<Option<RunOutcome>> {
        delegate!(self.run_outcome(id))
    }

    async fn next_timer(&self, until: i64) -> Result<Option<i64>> {
        delegate!(self.next_timer(until))
    }

    async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunSummary>> {
        delegate!(self.list_runs(filter))
    }

    async fn steps(&self, run: &str) -> Result<Vec<StepRecord>> {
        delegate!(self.steps(run))
    }

    async fn journal(&self, run: &str) -> Result<Vec<JournalEntry>> {
        delegate!(self.journal(run))
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>> {
        delegate!(self.events(filter))
    }

    async fn memory(&self, bot: &str, key: &str) -> Result<Option<Value>> {
        delegate!(self.memory(bot, key))
    }

    async fn memory_history(&self, bot: &str, key: &str) -> Result<Vec<MemoryVersion>> {
        delegate!(self.memory_history(bot, key))
    }

    async fn shared_memory(&self, target: &str) -> Result<Vec<SharedEntry>> {
        delegate!(self.shared_memory(target))
    }

    async fn claim(
        &self,
        owner: &str,
        now: i64,
        ttl_ms: i64,
        limit: usize,
    ) -> Result<Vec<RunRecord>> {
        delegate!(self.claim(owner, now, ttl_ms, limit))
    }

    async fn claim_run(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<Option<RunRecord>> {
        delegate!(self.claim_run(id, owner, now, ttl_ms))
    }

    async fn renew(
        &self,
        id: &str,
        owner: &str,
        epoch: i64,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool> {
        delegate!(self.renew(id, owner, epoch, now, ttl_ms))
    }

    async fn release(&self, id: &str, owner: &str, epoch: i64) -> Result<bool> {
        delegate!(self.release(id, owner, epoch))
    }

    async fn commit_ready(
        &self,
        points: Vec<crate::ReadyPoint>,
        writes: Vec<crate::GroupWrite>,
    ) -> Result<crate::GroupCommitted> {
        delegate!(self.commit_ready(points, writes))
    }

    async fn approvals(&self, filter: ApprovalFilter) -> Result<Vec<ApprovalRecord>> {
        delegate!(self.approvals(filter))
    }

    async fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>> {
        delegate!(self.approval(id))
    }

    async fn approval_audit(&self, id: &str) -> Result<Vec<ApprovalAudit>> {
        delegate!(self.approval_audit(id))
    }

    async fn decide_approval(
        &self,
        id: &str,
        decision: ApprovalDecision,
    ) -> Result<ApprovalRecord> {
        delegate!(self.decide_approval(id, decision))
    }

    async fn record_approval(&self, write: crate::ApprovalWrite, now: i64) -> Result<()> {
        delegate!(self.record_approval(write, now))
    }

    async fn approval_tokens(&self, approval_id: &str) -> Result<Vec<crate::TokenRecord>> {
        delegate!(self.approval_tokens(approval_id))
    }

    async fn approval_token(&self, id: &str) -> Result<Option<crate::TokenRecord>> {
        delegate!(self.approval_token(id))
    }

    async fn redeem_token(&self, redemption: crate::TokenRedemption) -> Result<ApprovalRecord> {
        delegate!(self.redeem_token(redemption))
    }

    async fn link_secret(&self, candidate: &str) -> Result<String> {
        delegate!(self.link_secret(candidate))
    }

    async fn owed_notices(
        &self,
        owed_before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<crate::OwedNotice>> {
        delegate!(self.owed_notices(owed_before, now, limit))
    }

    async fn claim_notice(
        &self,
        notice: &crate::OwedNotice,
        node: &str,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        delegate!(self.claim_notice(notice, node, now, until))
    }

    async fn notice_done(&self, notice: &crate::OwedNotice) -> Result<()> {
        delegate!(self.notice_done(notice))
    }

    async fn next_event(&self, query: crate::EventQuery) -> Result<Option<EventRecord>> {
        delegate!(self.next_event(query))
    }

    async fn next_message(
        &self,
        run_id: &str,
        exclude: Vec<String>,
    ) -> Result<Option<crate::RunMessage>> {
        delegate!(self.next_message(run_id, exclude))
    }

    async fn publish_event(&self, event: crate::NewEvent, now: i64) -> Result<(EventRecord, bool)> {
        delegate!(self.publish_event(event, now))
    }

    async fn send_message(&self, run_id: &str, text: &str, now: i64) -> Result<crate::RunMessage> {
        delegate!(self.send_message(run_id, text, now))
    }

    async fn event_cursor(&self, name: &str) -> Result<i64> {
        delegate!(self.event_cursor(name))
    }

    async fn set_event_cursor(&self, name: &str, seq: i64) -> Result<()> {
        delegate!(self.set_event_cursor(name, seq))
    }

    async fn sync_schedule(
        &self,
        key: &str,
        schedule: &str,
        program_hash: &str,
        first_tick: i64,
        now: i64,
    ) -> Result<crate::ScheduleRecord> {
        delegate!(self.sync_schedule(key, schedule, program_hash, first_tick, now))
    }

    async fn schedules(&self) -> Result<Vec<crate::ScheduleRecord>> {
        delegate!(self.schedules())
    }

    async fn due_schedules(&self, now: i64, limit: u32) -> Result<Vec<crate::ScheduleRecord>> {
        delegate!(self.due_schedules(now, limit))
    }

    async fn next_schedule_tick(&self) -> Result<Option<i64>> {
        delegate!(self.next_schedule_tick())
    }

    async fn fire_schedule(
        &self,
        key: &str,
        tick: i64,
        next_tick: i64,
        run: NewRun,
    ) -> Result<bool> {
        delegate!(self.fire_schedule(key, tick, next_tick, run))
    }

    async fn remove_schedule(&self, key: &str) -> Result<bool> {
        delegate!(self.remove_schedule(key))
    }

    async fn create_api_token(&self, new: crate::NewApiToken) -> Result<crate::ApiTokenRecord> {
        delegate!(self.create_api_token(new))
    }

    async fn create_first_api_token(
        &self,
        new: crate::NewApiToken,
    ) -> Result<Option<crate::ApiTokenRecord>> {
        delegate!(self.create_first_api_token(new))
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<crate::ApiTokenRecord>> {
        delegate!(self.api_token_by_hash(token_hash))
    }

    async fn api_tokens(&self) -> Result<Vec<crate::ApiTokenRecord>> {
        delegate!(self.api_tokens())
    }

    async fn revoke_api_token(&self, id: &str, now: i64) -> Result<crate::ApiTokenRecord> {
        delegate!(self.revoke_api_token(id, now))
    }
}
