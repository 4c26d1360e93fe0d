//! The [`Store`] trait: everything the runtime and the tools ask of a database.

use std::future::Future;

use serde_json::Value;

use crate::api_token::{ApiTokenRecord, NewApiToken};
use crate::approval::{
    ApprovalAudit, ApprovalDecision, ApprovalFilter, ApprovalRecord, ApprovalWrite, TokenRecord,
    TokenRedemption,
};
use crate::event::{EventQuery, RunMessage};
use crate::group::{GroupCommitted, GroupWrite};
use crate::model::{
    DurablePoint, EventFilter, EventRecord, JournalEntry, MemoryVersion, NewEvent, NewRun,
    PointOutcome, RunFilter, RunOutcome, RunRecord, RunSummary, SharedEntry, StepRecord,
};
use crate::schedule::ScheduleRecord;
use crate::{ReadyPoint, Result};

/// Durable storage for runs, steps, events and bot memory.
///
/// Implemented by [`SqliteStore`](crate::SqliteStore), [`PostgresStore`](crate::PostgresStore)
/// and [`AnyStore`](crate::AnyStore), which picks one at run time so callers need
/// neither generics nor `dyn`.
/// Every method's future is `Send`, so a store can be driven from any tokio task.
pub trait Store: Send + Sync + 'static {
    /// Stores a program's source under its hash; storing it again does nothing.
    fn put_program(&self, hash: &str, source: &str) -> impl Future<Output = Result<()>> + Send;

    /// The source stored under `hash`.
    fn program(&self, hash: &str) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Creates the run unless a run with its id exists, and returns the stored run
    /// and whether it was created now. The same id never starts two runs.
    fn create_run(&self, new: NewRun) -> impl Future<Output = Result<(RunRecord, bool)>> + Send;

    /// Creates many runs in one transaction (one fsync), each as by
    /// [`create_run`](Self::create_run); the results are in the order given.
    /// A value too large or an unknown program fails the whole call.
    fn create_runs(
        &self,
        runs: Vec<NewRun>,
    ) -> impl Future<Output = Result<Vec<(RunRecord, bool)>>> + Send;

    /// The run with this id.
    fn run(&self, id: &str) -> impl Future<Output = Result<Option<RunRecord>>> + Send;

    /// The run's status and outcome, without its state and input.
    fn run_outcome(&self, id: &str) -> impl Future<Output = Result<Option<RunOutcome>>> + Send;

    /// When the next waiting run whose own timer (a `DELAY`, a `RETRY`
    /// back-off, a `WAIT FOR` timeout) falls due at or before `until` can be
    /// claimed: its `wake_at`, or the end of its lease if a driver still
    /// holds it. Runs held by a pending approval request are left out, since
    /// people decide those. What a command that sleeps through short timers
    /// (`botflow resume --wait-timers`) sleeps until; a time already past
    /// means a run can be claimed now.
    fn next_timer(&self, until: i64) -> impl Future<Output = Result<Option<i64>>> + Send;

    /// Runs matching the filter, newest first.
    fn list_runs(&self, filter: RunFilter) -> impl Future<Output = Result<Vec<RunSummary>>> + Send;

    /// The run's steps, in the order they started.
    fn steps(&self, run: &str) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;

    /// The run's journal, in order.
    fn journal(&self, run: &str) -> impl Future<Output = Result<Vec<JournalEntry>>> + Send;

    /// Events matching the filter, in publication order.
    fn events(&self, filter: EventFilter) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;

    /// The current value of a bot's memory key.
    fn memory(&self, bot: &str, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send;

    /// The replaced values of a bot's memory key, oldest first.
    fn memory_history(
        &self,
        bot: &str,
        key: &str,
    ) -> impl Future<Output = Result<Vec<MemoryVersion>>> + Send;

    /// Everything shared with `target`, by key then source.
    fn shared_memory(&self, target: &str) -> impl Future<Output = Result<Vec<SharedEntry>>> + Send;

    /// Atomically claims up to `limit` runs that are `running`, or `waiting` with
    /// `wake_at <= now`, and whose lease is free or expired (`lease_until < now`).
    /// Each claimed run gets `lease_owner = owner`, `lease_until = now + ttl_ms`
    /// and `lease_epoch + 1`; the returned records carry the new epoch.
    fn claim(
        &self,
        owner: &str,
        now: i64,
        ttl_ms: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RunRecord>>> + Send;

    /// Claims one specific `running` or `waiting` run (due or not, e.g. because an
    /// event arrived for it) if its lease is free or expired.
    fn claim_run(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<Option<RunRecord>>> + Send;

    /// Extends a lease still held as (`owner`, `epoch`); false when it was lost.
    fn renew(
        &self,
        id: &str,
        owner: &str,
        epoch: i64,
        now: i64,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Gives up a lease held as (`owner`, `epoch`); false when it was not held.
    /// The epoch stays, so the next claim still fences the old holder.
    fn release(
        &self,
        id: &str,
        owner: &str,
        epoch: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Group commit: applies many runs' durable points in one transaction.
    ///
    /// Returns one outcome per point, in order. A point whose epoch no longer
    /// matches its run's lease epoch is [`PointOutcome::Fenced`], an invalid one
    /// (too large a value, unknown run) is [`PointOutcome::Rejected`]; nothing of
    /// either is written, and the other points still commit.
    /// When the transaction itself fails the result is `Err` and nothing is written.
    /// Points are applied in order, so a later point sees an earlier one's writes.
    fn commit(
        &self,
        points: Vec<DurablePoint>,
    ) -> impl Future<Output = Result<Vec<PointOutcome>>> + Send {
        async move { Ok(self.commit_group(points, Vec::new()).await?.outcomes) }
    }

    /// [`commit`](Self::commit) with writes that ride on the same transaction
    /// after the points ([`GroupWrite`]: decisions, approval audits), so they
    /// cost no fsync of their own. Returns the points' outcomes and one result
    /// per write, in order: a refused write (a decision the rules refuse)
    /// changes nothing and does not stop the others.
    fn commit_group(
        &self,
        points: Vec<DurablePoint>,
        writes: Vec<GroupWrite>,
    ) -> impl Future<Output = Result<GroupCommitted>> + Send {
        self.commit_ready(points.into_iter().map(ReadyPoint::new).collect(), writes)
    }

    /// [`commit_group`](Self::commit_group) of points made ready beforehand
    /// ([`ReadyPoint::new`]), by their makers rather than by whoever
    /// commits them.
    fn commit_ready(
        &self,
        points: Vec<ReadyPoint>,
        writes: Vec<GroupWrite>,
    ) -> impl Future<Output = Result<GroupCommitted>> + Send;

    /// Approval requests matching the filter, oldest first.
    fn approvals(
        &self,
        filter: ApprovalFilter,
    ) -> impl Future<Output = Result<Vec<ApprovalRecord>>> + Send;

    /// The approval request with this id.
    fn approval(&self, id: &str) -> impl Future<Output = Result<Option<ApprovalRecord>>> + Send;

    /// The request's audit trail, in order.
    fn approval_audit(&self, id: &str) -> impl Future<Output = Result<Vec<ApprovalAudit>>> + Send;

    /// Records a person's decision on a pending request in one transaction
    /// (see the rules in [`ApprovalDecision`]'s module): a refused decision is
    /// [`Error::Refused`](crate::Error::Refused) and changes nothing. A decision that settles the
    /// request makes its waiting run due (`wake_at = now`). Returns the request as it now stands.
    fn decide_approval(
        &self,
        id: &str,
        decision: ApprovalDecision,
    ) -> impl Future<Output = Result<ApprovalRecord>> + Send;

    /// Applies one approval write in its own transaction, outside any durable
    /// point: the audit of a notification sent after its point committed.
    fn record_approval(
        &self,
        write: ApprovalWrite,
        now: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The signed-link tokens issued for a request, by approver and action.
    fn approval_tokens(
        &self,
        approval_id: &str,
    ) -> impl Future<Output = Result<Vec<TokenRecord>>> + Send;

    /// The token with this id.
    fn approval_token(&self, id: &str) -> impl Future<Output = Result<Option<TokenRecord>>> + Send;

    /// Spends a link's token and records its decision in one transaction:
    /// an unknown, mismatched, used, revoked or expired token, or a decision
    /// the rules refuse, is [`Error::Refused`](crate::Error::Refused) and
    /// changes nothing (the token stays unused).
    fn redeem_token(
        &self,
        redemption: TokenRedemption,
    ) -> impl Future<Output = Result<ApprovalRecord>> + Send;

    /// The deployment secret that signs approval links: the stored one, or
    /// `candidate` stored now when there is none (the first caller wins).
    fn link_secret(&self, candidate: &str) -> impl Future<Output = Result<String>> + Send;

    /// Approval notifications owed since `owed_before` or earlier and not
    /// claimed at `now` (a lapsed claim counts as none), oldest first, at
    /// most `limit`: what a sweep delivers (see [`OwedNotice`](crate::OwedNotice)).
    fn owed_notices(
        &self,
        owed_before: i64,
        now: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<crate::OwedNotice>>> + Send;

    /// Claims an owed notification for `node` until `until`, by
    /// compare-and-set: `false` when it was delivered, owed again, or
    /// claimed by someone whose claim still holds at `now`.
    fn claim_notice(
        &self,
        notice: &crate::OwedNotice,
        node: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Marks a delivered notification done. A notification owed again
    /// since (`owed_at` moved) stays owed.
    fn notice_done(&self, notice: &crate::OwedNotice) -> impl Future<Output = Result<()>> + Send;

    /// The oldest event matching the query (the rules of the `event`
    /// module): what a `WAIT FOR EVENT` consumes or an `ON EVENT` handler is
    /// delivered next. `None` also for an unknown run.
    fn next_event(
        &self,
        query: EventQuery,
    ) -> impl Future<Output = Result<Option<EventRecord>>> + Send;

    /// The run's oldest message it has not consumed, skipping `exclude`.
    fn next_message(
        &self,
        run_id: &str,
        exclude: Vec<String>,
    ) -> impl Future<Output = Result<Option<RunMessage>>> + Send;

    /// Publishes one event outside any run (`botflow events publish`) in one
    /// transaction that also makes its waiting runs due. Idempotent by id:
    /// returns the stored event and whether it was inserted now. A payload
    /// above the size limit is [`Error::ValueTooLarge`](crate::Error::ValueTooLarge), nothing written.
    fn publish_event(
        &self,
        event: NewEvent,
        now: i64,
    ) -> impl Future<Output = Result<(EventRecord, bool)>> + Send;

    /// Stores a message to a run (for its `HEAR`) and makes the run due if it
    /// waits. An unknown run is [`Error::UnknownRun`](crate::Error::UnknownRun), an ended one
    /// [`Error::RunEnded`](crate::Error::RunEnded); nothing is written then.
    fn send_message(
        &self,
        run_id: &str,
        text: &str,
        now: i64,
    ) -> impl Future<Output = Result<RunMessage>> + Send;

    /// The event `seq` a named cursor (a trigger's) has reached; 0 when unset.
    fn event_cursor(&self, name: &str) -> impl Future<Output = Result<i64>> + Send;

    /// Moves a named cursor forward to `seq`; a smaller `seq` changes nothing.
    fn set_event_cursor(&self, name: &str, seq: i64) -> impl Future<Output = Result<()>> + Send;

    /// Records the `SET SCHEDULE` of workflow `key` (see the `schedule`
    /// module): inserted with `next_tick = first_tick` if absent; if its text
    /// changed, `next_tick` starts over at `first_tick`; if unchanged,
    /// `next_tick` is kept (missed ticks stay due). Returns the row as stored.
    fn sync_schedule(
        &self,
        key: &str,
        schedule: &str,
        program_hash: &str,
        first_tick: i64,
        now: i64,
    ) -> impl Future<Output = Result<ScheduleRecord>> + Send;

    /// Every stored schedule, by key.
    fn schedules(&self) -> impl Future<Output = Result<Vec<ScheduleRecord>>> + Send;

    /// Up to `limit` schedules whose `next_tick <= now`, earliest tick first.
    fn due_schedules(
        &self,
        now: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ScheduleRecord>>> + Send;

    /// The earliest `next_tick` of any schedule (a worker sleeps until it).
    fn next_schedule_tick(&self) -> impl Future<Output = Result<Option<i64>>> + Send;

    /// Fires one tick in one transaction: moves schedule `key` from `tick` to
    /// `next_tick` (compare-and-set) and creates `run` as
    /// [`create_run`](Self::create_run) would (idempotent by id). Returns
    /// false, having written nothing, when the schedule is not at `tick`
    /// (another worker fired it, or it was reset). A `next_tick` not after
    /// `tick` is [`Error::InvalidSchedule`](crate::Error::InvalidSchedule);
    /// a run the store refuses fails the call; nothing is written then.
    fn fire_schedule(
        &self,
        key: &str,
        tick: i64,
        next_tick: i64,
        run: NewRun,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Deletes schedule `key` (its workflow lost its `SET SCHEDULE`); whether
    /// it existed.
    fn remove_schedule(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Stores an API token (see the `api_token` module). A role the table's
    /// `CHECK` refuses, or an id or hash already stored, is
    /// [`Error::ApiToken`](crate::Error::ApiToken) and writes nothing.
    fn create_api_token(
        &self,
        new: NewApiToken,
    ) -> impl Future<Output = Result<ApiTokenRecord>> + Send;

    /// Stores the token only if no API token exists at all (revoked ones
    /// count), atomically: of concurrent callers, on any backend, exactly one
    /// gets `Some`. Refusals as in [`create_api_token`](Self::create_api_token).
    fn create_first_api_token(
        &self,
        new: NewApiToken,
    ) -> impl Future<Output = Result<Option<ApiTokenRecord>>> + Send;

    /// The live token whose hash is `token_hash`: one lookup on a unique
    /// index. `None` when no token has this hash *or* it is revoked, so a
    /// caller authenticating a request needs no further check.
    fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<ApiTokenRecord>>> + Send;

    /// Every API token, revoked ones included, oldest first.
    fn api_tokens(&self) -> impl Future<Output = Result<Vec<ApiTokenRecord>>> + Send;

    /// Revokes a live token at `now` and returns it as it now stands. An
    /// unknown id or a token already revoked is
    /// [`Error::ApiToken`](crate::Error::ApiToken) and changes nothing.
    fn revoke_api_token(
        &self,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<ApiTokenRecord>> + Send;
}
