//! The [`Store`] trait: everything the runtime and the tools ask of a database.

use std::future::Future;

use serde_json::Value;

use crate::Result;
use crate::approval::{ApprovalAudit, ApprovalDecision, ApprovalFilter, ApprovalRecord};
use crate::model::{
    DurablePoint, EventFilter, EventRecord, JournalEntry, MemoryVersion, NewRun, PointOutcome,
    RunFilter, RunRecord, RunSummary, SharedEntry, StepRecord,
};

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
    ) -> impl Future<Output = Result<Vec<PointOutcome>>> + Send;

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
}
