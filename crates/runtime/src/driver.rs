//! Driving one run: advance the engine, commit the durable point, carry out
//! the requests, feed the answers back, and again, until the run ends or can
//! only wait.
//!
//! The order that makes a run durable:
//! - every `advance` ends in one [`DurablePoint`] (new state, step rows,
//!   memory operations, events, journal), committed through the group
//!   committer before anything it led to happens: no request is issued
//!   before the point that produced it has committed;
//! - an answer (with everything the bot script did) is committed in the point
//!   of the `advance` that consumes it, before any request that depends on it;
//! - a point that is fenced (another node claimed the run) stops the driver.
//!
//! A run blocked only on timers is committed as `waiting` with `wake_at` and
//! its driver ends: a waiting run costs its row, not a task.
//!
//! `RETRY` back-off is such a timer. A bot attempt that failed and may be
//! retried is not answered: the point of the pass that sees the failure
//! records it in the stored state ([`Stored::retries`]: failures so far, next
//! attempt due) and the request stays open. The run waits for the due time
//! like for a `DELAY` (`wake_at`, no task once nothing else runs); when it is
//! due the request is handed out again as a fresh request, so its step row
//! counts the attempt in the point before it is made, with the same
//! idempotency key `<run id>:<step path>`. A restart in between keeps the
//! due time and the counts: the next attempt is due when it was, and is
//! numbered after the ones already made.

mod approvals;
mod events;
mod messages;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use engine::{Answer, Compiled, Effect, ErrorValue, Outcome, Request, RequestKind, RunState};
use serde_json::{Value, json};
use store::{
    DurablePoint, MAX_VALUE_BYTES, MemoryOp, NewEvent, NewJournalEntry, PointOutcome, RunCreation,
    RunRecord, RunStatus, StepRecord, StepStatus, StepWrite, Store, Wait,
};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::bots::{self, BotEffect, BotReply};
use crate::limits;
use crate::progress::Progress;
use crate::runtime::Inner;
use crate::stored::Stored;
use crate::time::now_ms;
use crate::{Error, Result, unsupported};

/// The pause before trying again to extend a lease the store could not extend.
const RENEW_RETRY_MS: i64 = 250;

/// Instructions per `advance`; a run that needs more commits a point in between.
const BUDGET: u32 = 100_000;

/// How a driver stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Driven {
    /// The run ended with this status.
    Finished(RunStatus),
    /// The run waits; due again at `wake_at` if set.
    Waiting {
        /// When a timer it waits on is due (epoch ms).
        wake_at: Option<i64>,
    },
    /// Another driver owns the run now (its lease epoch moved on).
    Fenced,
}

struct StepRow {
    write: StepWrite,
    started: Option<Instant>,
    /// Whether a committed point holds this row (some version of it).
    recorded: bool,
}

/// What the next point carries besides the advance's own effects.
#[derive(Default)]
struct Pending {
    steps: BTreeSet<String>,
    memory: Vec<MemoryOp>,
    events: Vec<NewEvent>,
    journal: Vec<NewJournalEntry>,
    progress: Vec<Progress>,
    /// Events and messages whose answers the next point records.
    consumed: Vec<String>,
    /// Events delivered to handlers by the next point's advance.
    delivered: Vec<String>,
}

pub(crate) struct Driver {
    inner: Arc<Inner>,
    run: String,
    bot: String,
    compiled: Arc<Compiled>,
    epoch: i64,
    lease_at: i64,
    stored: Stored,
    /// The stored state (as [`Stored::encode`] text) of the last committed
    /// point that was not final: what a failure keeps for `runs retry`.
    /// Text rather than a `RunState` clone, since it changes at every point
    /// and is read only when a run fails.
    committed: String,
    first_point: bool,
    /// A new run's creation, sent with its first point (see [`Driver::fresh`]).
    create: Option<Box<RunCreation>>,
    /// Set when that first point found a run with the same id.
    existed: bool,
    steps: HashMap<String, StepRow>,
    /// Paths of the engine's own `STEP`s (others are bare bot requests, such as a branch's).
    step_paths: BTreeSet<String>,
    pending: Pending,
    /// Requests handed out and not answered yet, by id.
    open: HashMap<u64, Request>,
    /// Tasks carrying out open requests.
    tasks: HashMap<u64, AbortHandle>,
    /// Answers known before their request is issued (decided approvals).
    ready: HashMap<u64, Result<Value, ErrorValue>>,
    /// A request the decision that claimed this run settled, as that
    /// decision's transaction stored it (see [`Driver::knowing`]).
    settled: Option<store::ApprovalRecord>,
    /// Events and messages this driver took for a wait or `HEAR` (committed or about to be).
    taken: HashSet<String>,
    /// Events this driver delivered to handlers.
    delivered: HashSet<String>,
    /// What this pass's unanswered event waits and `HEAR`s wait for.
    waits: Vec<Wait>,
    /// Approval notifications to send once the next point commits.
    notices: Vec<crate::notify::Notice>,
    tx: mpsc::UnboundedSender<(u64, BotReply)>,
    rx: mpsc::UnboundedReceiver<(u64, BotReply)>,
    /// Told how the point that creates a [`fresh`](Self::fresh) run went
    /// ([`Runtime::launch`](crate::Runtime::launch) answers from it).
    on_created: Option<tokio::sync::oneshot::Sender<crate::launch::Creation>>,
}

impl Driver {
    /// A driver for a run this node has just claimed (`record` carries the new epoch).
    pub(crate) async fn new(inner: Arc<Inner>, record: RunRecord) -> Result<Driver> {
        let compiled = inner
            .programs
            .for_run(&inner.store, &record.id, &record.program_hash)
            .await?;
        let stored = Stored::decode(&record.id, record.state)?;
        let rows = if record.version > 0 {
            inner.store.steps(&record.id).await?
        } else {
            Vec::new()
        };
        let steps = rows
            .into_iter()
            .map(|row: StepRecord| {
                let write = StepWrite {
                    path: row.path.clone(),
                    number: row.number,
                    kind: row.kind,
                    bot: row.bot,
                    attempts: row.attempts,
                    status: row.status,
                    answer: row.answer,
                    error: row.error,
                    started_at: row.started_at,
                    finished_at: row.finished_at,
                };
                (
                    row.path,
                    StepRow {
                        write,
                        started: None,
                        recorded: true,
                    },
                )
            })
            .collect();
        let mut driver = Driver::build(inner, record.id, record.bot, compiled, stored, steps);
        driver.epoch = record.lease_epoch;
        driver.first_point = record.version == 0;
        Ok(driver)
    }

    /// A driver for a run that does not exist yet: its first point creates
    /// it (already leased to this node at epoch 1), so starting a run costs
    /// no transaction of its own. Driving reports `existed` when the id was taken.
    pub(crate) fn fresh(
        inner: Arc<Inner>,
        id: String,
        compiled: Arc<Compiled>,
        stored: Stored,
        creation: RunCreation,
    ) -> Driver {
        let bot = creation.bot.clone();
        let mut driver = Driver::build(inner, id, bot, compiled, stored, HashMap::new());
        driver.epoch = 1;
        driver.first_point = true;
        driver.create = Some(Box::new(creation));
        driver
    }

    fn build(
        inner: Arc<Inner>,
        run: String,
        bot: String,
        compiled: Arc<Compiled>,
        stored: Stored,
        steps: HashMap<String, StepRow>,
    ) -> Driver {
        let (tx, rx) = mpsc::unbounded_channel();
        Driver {
            committed: stored.encode(),
            first_point: false,
            create: None,
            existed: false,
            inner,
            run,
            bot,
            compiled,
            epoch: 0,
            lease_at: now_ms(),
            stored,
            step_paths: BTreeSet::new(),
            steps,
            pending: Pending::default(),
            notices: Vec::new(),
            open: HashMap::new(),
            tasks: HashMap::new(),
            ready: HashMap::new(),
            settled: None,
            taken: HashSet::new(),
            delivered: HashSet::new(),
            waits: Vec::new(),
            tx,
            rx,
            on_created: None,
        }
    }

    /// A driver for a run claimed by the decision that settled `request`:
    /// its approval step answers from `request` instead of reading it back.
    /// A settled request never changes again, and only the run's own driver
    /// opens a newer request for the step (an escalation), so the row the
    /// decision returned is what the read would find.
    pub(crate) fn knowing(mut self, request: store::ApprovalRecord) -> Driver {
        if request.run_id == self.run && request.status != store::ApprovalStatus::Pending {
            self.settled = Some(request);
        }
        self
    }

    /// Tells `tell` how the point that creates this [`fresh`](Self::fresh)
    /// run went, as soon as it is committed (or refused).
    pub(crate) fn tell_creation(
        &mut self,
        tell: tokio::sync::oneshot::Sender<crate::launch::Creation>,
    ) {
        self.on_created = Some(tell);
    }

    /// Drives the run until it ends, waits, or is taken over.
    pub(crate) async fn drive(self) -> Result<Driven> {
        self.drive_and_tell().await.map(|(driven, _)| driven)
    }

    /// Like [`drive`](Self::drive), also telling whether a [`fresh`](Self::fresh)
    /// run's first point found its id taken (then nothing was written).
    pub(crate) async fn drive_and_tell(mut self) -> Result<(Driven, bool)> {
        let driving = self.inner.run_watchers.driving(&self.run);
        let result = self.drive_inner().await;
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
        // Tells the run's long polls to look; also if this future is dropped.
        drop(driving);
        if self.existed {
            // Another start with the same id won; this driver never ran anything.
            return result.map(|driven| (driven, true));
        }
        let status = match &result {
            Ok(Driven::Finished(status)) => status.to_string(),
            Ok(Driven::Waiting { .. }) => "waiting".to_owned(),
            Ok(Driven::Fenced) => "taken over".to_owned(),
            Err(error) => format!("stopped: {error}"),
        };
        self.inner.emit(Progress::RunStopped {
            run: self.run.clone(),
            status,
        });
        result.map(|driven| (driven, false))
    }

    async fn drive_inner(&mut self) -> Result<Driven> {
        if self.stored.engine.is_finished() {
            return Err(Error::Conflict {
                run: self.run.clone(),
                message: "the run's state has already finished".to_owned(),
            });
        }
        loop {
            if !self.stored.engine.handler_names().is_empty() {
                self.deliver_events().await?;
            }
            let now = now_ms();
            let advance = engine::advance(&self.compiled, &mut self.stored.engine, now, BUDGET);
            let mut point = self.point(RunStatus::Running, now);
            if std::mem::take(&mut self.first_point) {
                self.engine_event(
                    &mut point,
                    "workflow_started",
                    "workflow_started",
                    json!({}),
                );
                point.journal.push(journal("run_started", json!({})));
            }
            self.effects(&mut point, advance.effects, now);
            let requests = match advance.outcome {
                Outcome::BudgetExhausted => {
                    if let Some(stop) = self.commit(point).await?.stop() {
                        return Ok(stop);
                    }
                    continue;
                }
                Outcome::Completed(value) => {
                    point.status = RunStatus::Completed;
                    point.result = Some(value.clone());
                    point
                        .journal
                        .push(journal("run_completed", json!({"result": value})));
                    self.engine_event(
                        &mut point,
                        "workflow_completed",
                        "workflow_completed",
                        json!({}),
                    );
                    return self.finish(point, RunStatus::Completed).await;
                }
                Outcome::Failed(error) => {
                    point.status = RunStatus::Failed;
                    point.error = Some(error.to_value());
                    point
                        .journal
                        .push(journal("run_failed", json!({"error": error.to_value()})));
                    self.engine_event(
                        &mut point,
                        "workflow_failed",
                        "workflow_failed",
                        json!({"error": error.to_value()}),
                    );
                    self.stored.before_failure = Some(self.committed_engine()?);
                    if limits::json_len(&self.stored) > MAX_VALUE_BYTES {
                        // Both states do not fit in one value: keep the
                        // failure and its error (retry is then refused,
                        // saying there is no state to continue from).
                        self.stored.before_failure = None;
                    }
                    point.state = self.stored.encode();
                    return self.finish(point, RunStatus::Failed).await;
                }
                Outcome::Rejected => {
                    point.status = RunStatus::Rejected;
                    point.journal.push(journal("run_rejected", json!({})));
                    self.engine_event(
                        &mut point,
                        "workflow_rejected",
                        "workflow_rejected",
                        json!({}),
                    );
                    return self.finish(point, RunStatus::Rejected).await;
                }
                Outcome::Blocked(requests) => requests,
            };

            // A retry whose back-off is over is asked again as a fresh request;
            // one still backing off stays open (and unasked) until it is due.
            for (id, retry) in &mut self.stored.retries {
                if retry.due.is_some_and(|due| due <= now) {
                    retry.due = None;
                    self.open.remove(id);
                }
            }
            let mut fresh: Vec<Request> = Vec::with_capacity(requests.len());
            for request in requests {
                if self.open.contains_key(&request.id) {
                    continue;
                }
                if self
                    .stored
                    .retries
                    .get(&request.id)
                    .is_some_and(|r| r.due.is_some())
                {
                    self.open.insert(request.id, request);
                    continue;
                }
                fresh.push(request);
            }
            for request in &fresh {
                self.prepare_request(request, now);
            }
            self.name_step_bots(&fresh);
            // Approvals wait like timers: until decided or past their deadline.
            let mut approval_due: Option<i64> = None;
            let mut look_again = false;
            self.waits.clear();
            for request in &fresh {
                let next = match request.kind {
                    RequestKind::Approval { .. } => {
                        Some(self.approval(request, &mut point, now).await?)
                    }
                    RequestKind::WaitEvent { .. } => {
                        Some(self.event_wait(request, &mut point, now).await?)
                    }
                    RequestKind::Hear { .. } => Some(self.hear(request, &mut point).await?),
                    _ => None,
                };
                if let Some(next) = next {
                    match next {
                        approvals::Next::Ready(answer) => {
                            self.ready.insert(request.id, answer);
                        }
                        approvals::Next::Waiting(due) => {
                            approval_due = earliest(approval_due, due);
                        }
                        approvals::Next::Changed => look_again = true,
                    }
                }
            }
            let next_timer = earliest(
                earliest(
                    self.stored.timers.values().copied().min(),
                    self.next_retry(),
                ),
                approval_due,
            );
            let actionable = !self.tasks.is_empty()
                || look_again
                || !self.ready.is_empty()
                || fresh.iter().any(|r| {
                    !matches!(
                        r.kind,
                        RequestKind::Delay { .. }
                            | RequestKind::Approval { .. }
                            | RequestKind::WaitEvent { .. }
                            | RequestKind::Hear { .. }
                    )
                })
                || next_timer.is_some_and(|due| due <= now);
            if !actionable {
                point.status = RunStatus::Waiting;
                point.wake_at = next_timer;
                let mut waits = std::mem::take(&mut self.waits);
                waits.extend(self.handler_waits());
                point.waits = Some(waits);
                point
                    .journal
                    .push(journal("waiting", json!({"wake_at": next_timer})));
                point.state = self.stored.encode();
                point.steps = self.dirty_steps();
                // The lease goes with the same transaction: a decision or an
                // event may make the run due the moment it is recorded.
                point.release = true;
                if let Some(stop) = self.commit(point).await?.stop() {
                    return Ok(stop);
                }
                return Ok(Driven::Waiting {
                    wake_at: next_timer,
                });
            }
            point.state = self.stored.encode();
            point.steps = self.dirty_steps();
            if let Some(stop) = self.commit(point).await?.stop() {
                return Ok(stop);
            }
            for request in fresh {
                self.issue(request);
            }
            if look_again && self.open.is_empty() {
                continue;
            }
            if !self.wait_for_answers().await? {
                return Ok(Driven::Fenced);
            }
        }
    }

    /// A point of the run as it stands, without effects yet.
    fn point(&mut self, status: RunStatus, now: i64) -> DurablePoint {
        let pending = std::mem::take(&mut self.pending);
        let mut point = DurablePoint::new(self.run.clone(), self.epoch, status, now);
        point.memory = pending.memory;
        point.events = pending.events;
        point.journal = pending.journal;
        point.consumed = pending.consumed;
        point.delivered = pending.delivered;
        self.pending.steps = pending.steps;
        self.pending.progress = pending.progress;
        point
    }

    /// The engine state of the last committed point that was not final.
    fn committed_engine(&self) -> Result<RunState> {
        Ok(Stored::decode_text(&self.run, &self.committed)?.engine)
    }

    fn dirty_steps(&mut self) -> Vec<StepWrite> {
        std::mem::take(&mut self.pending.steps)
            .into_iter()
            .filter_map(|path| self.steps.get(&path).map(|row| row.write.clone()))
            .collect()
    }

    /// Commits a final point. The lease is left to lapse rather than
    /// released: nothing claims an ended run, and a release would cost every
    /// run one more transaction of its own outside the group commit.
    async fn finish(&mut self, mut point: DurablePoint, status: RunStatus) -> Result<Driven> {
        // An ended run waits for nothing (its handlers end with it).
        point.waits = Some(Vec::new());
        if point.state.is_empty() {
            point.state = self.stored.encode();
        }
        point.steps = self.dirty_steps();
        if let Some(stop) = self.commit(point).await?.stop() {
            return Ok(stop);
        }
        Ok(Driven::Finished(status))
    }

    /// Commits a point. A point the store rejects (a value over the size
    /// limit) fails the run at its last good state instead: see
    /// [`fail_rejected`](Self::fail_rejected).
    async fn commit(&mut self, mut point: DurablePoint) -> Result<Committed> {
        if point.state.is_empty() {
            point.state = self.stored.encode();
        }
        point.create = self.create.take();
        if point.create.is_none()
            && point.now >= self.renew_due()
            && !self.renew_lease(point.now).await?
        {
            return Ok(Committed::Fenced);
        }
        // The notifications this point makes owed are recorded with it (the
        // outbox): delivered below once it commits, or by a sweep if this
        // process dies first (`notify/mod.rs`).
        let owed_at = point.now;
        // Claimed for this node in the same transaction when it delivers
        // right after the commit (no claim transaction of its own).
        let claim = self
            .inner
            .options
            .notify_after_commit
            .then(|| crate::notify::claim_for(&self.inner, owed_at));
        for notice in &self.notices {
            point.approvals.push(store::ApprovalWrite::OweNotice {
                id: notice.approval.clone(),
                reason: notice.reason,
                claim: claim.clone(),
            });
        }
        let final_point = point.status.is_terminal();
        // Kept for a rejected point: which step rows it carried.
        let paths: Vec<String> = point.steps.iter().map(|s| s.path.clone()).collect();
        // Benchmarks only: the point's `PUBLISH EVENT`s (ids `…event#<n>`,
        // not the engine's lifecycle events) go to the bot log once committed.
        let logged: Vec<String> = match &self.inner.options.builtin_bots {
            Some(_) => point
                .events
                .iter()
                .filter(|e| e.id.contains("event#"))
                .map(|e| e.name.clone())
                .collect(),
            None => Vec::new(),
        };
        let state = (!final_point).then(|| point.state.clone());
        let creating = match (&point.create, self.on_created.is_some()) {
            (Some(create), true) => Some(crate::launch::created_run(&point, create)),
            _ => None,
        };
        let outcome = self.inner.committer.commit(point).await?;
        if let Some(run) = creating
            && let Some(tell) = self.on_created.take()
        {
            let _ = tell.send(crate::launch::Creation {
                outcome: outcome.clone(),
                run,
            });
        }
        match outcome {
            PointOutcome::Ok => {
                if let Some(log) = &self.inner.options.builtin_bots {
                    logged.iter().for_each(|name| log.event(&self.run, name));
                }
                if let Some(state) = state {
                    self.committed = state;
                }
                for path in &paths {
                    if let Some(row) = self.steps.get_mut(path) {
                        row.recorded = true;
                    }
                }
                for progress in std::mem::take(&mut self.pending.progress) {
                    self.inner.emit(progress);
                }
                // Only now do the requests this point created exist.
                let notices = std::mem::take(&mut self.notices);
                if !notices.is_empty() && self.inner.options.notify_after_commit {
                    let settings = crate::notify::Settings::of(&self.inner, &self.bot);
                    crate::notify::send(&self.inner, &settings, notices, owed_at).await;
                }
                Ok(Committed::Recorded)
            }
            PointOutcome::Fenced => {
                self.notices.clear();
                Ok(Committed::Fenced)
            }
            PointOutcome::Exists => {
                self.notices.clear();
                self.existed = true;
                Ok(Committed::Exists)
            }
            PointOutcome::Rejected(reason) => {
                tracing::warn!(run = %self.run, %reason, "durable point rejected; failing the run");
                self.pending.progress.clear();
                self.notices.clear();
                self.fail_rejected(&reason, &paths).await
            }
        }
    }

    /// Records the run as failed at its last committed state after the store
    /// rejected a point. The steps whose answers were in the rejected point
    /// are failed with the error (which names the first of them); recorded
    /// steps it left running are cancelled, so no step stays `running`; a
    /// step that point would have started was never asked and is not recorded.
    async fn fail_rejected(&mut self, reason: &str, paths: &[String]) -> Result<Committed> {
        // What the rejected point's state was: the usual culprit, and the one
        // value the store's message cannot name in the run's terms.
        let state_bytes = limits::json_len(&self.stored);
        let what = if state_bytes > MAX_VALUE_BYTES {
            format!(
                "the run's state would be {}, above the limit of {MAX_VALUE_BYTES} bytes for one value",
                limits::size_text(state_bytes)
            )
        } else {
            reason.to_owned()
        };
        let answered: Vec<&String> = paths
            .iter()
            .filter(|path| {
                self.steps.get(*path).is_some_and(|row| {
                    row.write.status == StepStatus::Done && row.write.answer.is_some()
                })
            })
            .collect();
        let culprit = answered.first().and_then(|path| self.steps.get(*path));
        let error = match culprit {
            Some(row) => {
                let mut error = ErrorValue::new(
                    "rejected",
                    format!(
                        "{}with the answer of bot {:?}, {what}; the run could not be recorded",
                        step_prefix(&row.write.number),
                        row.write.bot.as_deref().unwrap_or("?")
                    ),
                );
                error.step = Some(row.write.path.clone());
                error
            }
            None => ErrorValue::new("rejected", format!("the run could not be recorded: {what}")),
        };
        let now = now_ms();
        let steps: Vec<StepWrite> = paths
            .iter()
            .filter_map(|path| self.steps.get(path))
            .filter_map(|row| {
                let mut write = without_answer(&row.write);
                if answered.contains(&&row.write.path) {
                    write.status = StepStatus::Failed;
                    write.error = Some(error.to_value());
                } else if row.recorded && write.status == StepStatus::Running {
                    write.status = StepStatus::Cancelled;
                } else {
                    return None;
                }
                write.finished_at = Some(now);
                Some(write)
            })
            .collect();
        // The last committed state is both what the run shows and what
        // `runs retry` continues from; stored once (not again as
        // `before_failure`), so a state near the limit still fits.
        let mut stored = Stored::new(self.committed_engine()?);
        stored.started_by.clone_from(&self.stored.started_by);
        let mut failure = DurablePoint::new(self.run.clone(), self.epoch, RunStatus::Failed, now);
        failure.state = stored.encode();
        failure.error = Some(error.to_value());
        failure.steps = steps;
        failure.journal = vec![journal("run_failed", json!({"error": error.to_value()}))];
        failure.release = true;
        self.engine_event(
            &mut failure,
            "workflow_failed",
            "workflow_failed",
            json!({"error": error.to_value()}),
        );
        match self.inner.committer.commit(failure).await? {
            PointOutcome::Ok => Ok(Committed::RunFailed),
            PointOutcome::Fenced | PointOutcome::Exists => Ok(Committed::Fenced),
            PointOutcome::Rejected(reason) => Err(Error::Commit(reason)),
        }
    }

    /// A bot's (or a `CALL`ed script's) answer too large to be stored
    /// becomes a failed, non-retried answer that says so; the attempt's side
    /// effects are dropped with it, like any failed attempt's.
    fn within_limit(&self, request: &Request, reply: BotReply) -> BotReply {
        let Ok(value) = &reply.result else {
            return reply;
        };
        let answer_of = match &request.kind {
            RequestKind::CallBot { bot, action, .. } => {
                format!("the answer of bot {bot:?} to {action:?}")
            }
            RequestKind::CallScript { path, .. } => format!("the result of CALL {path:?}"),
            _ => return reply,
        };
        let bytes = limits::json_len(value);
        if bytes <= MAX_VALUE_BYTES {
            return reply;
        }
        let step = request.step.as_deref().map(step_prefix).unwrap_or_default();
        BotReply {
            result: Err(ErrorValue::new(
                "too_large",
                format!(
                    "{step}{answer_of} is {}, above the limit of {MAX_VALUE_BYTES} bytes \
                     for one value; it was not recorded",
                    limits::size_text(bytes)
                ),
            )),
            effects: Vec::new(),
            retryable: false,
        }
    }

    /// Records an engine event (LANGUAGE.md §4.5) with a stable id.
    fn engine_event(&self, point: &mut DurablePoint, name: &str, id: &str, data: Value) {
        point.events.push(NewEvent {
            id: format!("{}:{id}", self.run),
            name: name.to_owned(),
            key: Some(self.run.clone()),
            target_bot: None,
            payload: Some(data),
            from_bot: Some(self.bot.clone()),
            from_run: Some(self.run.clone()),
        });
    }

    fn row(&mut self, path: &str, number: Option<&str>, kind: &str) -> &mut StepRow {
        self.pending.steps.insert(path.to_owned());
        self.steps
            .entry(path.to_owned())
            .or_insert_with(|| StepRow {
                write: StepWrite {
                    path: path.to_owned(),
                    number: number.unwrap_or_default().to_owned(),
                    kind: kind.to_owned(),
                    bot: None,
                    attempts: 0,
                    status: StepStatus::Running,
                    answer: None,
                    error: None,
                    started_at: None,
                    finished_at: None,
                },
                started: None,
                recorded: false,
            })
    }

    /// Maps the engine's effects into the point.
    fn effects(&mut self, point: &mut DurablePoint, effects: Vec<Effect>, now: i64) {
        for effect in effects {
            match effect {
                Effect::StepStarted { path, number, kind } => {
                    self.step_paths.insert(path.clone());
                    let row = self.row(&path, Some(&number), &kind);
                    row.write.kind = kind.clone();
                    row.write.status = StepStatus::Running;
                    row.write.started_at = row.write.started_at.or(Some(now));
                    row.started = Some(Instant::now());
                    point.journal.push(journal(
                        "step_started",
                        json!({"path": path, "number": number, "kind": kind}),
                    ));
                    self.pending.progress.push(Progress::StepStarted {
                        run: self.run.clone(),
                        path,
                        number,
                        kind,
                        bot: None,
                    });
                }
                Effect::StepFinished {
                    path,
                    number,
                    error,
                } => {
                    let row = self.row(&path, Some(&number), "step");
                    row.write.status = if error.is_some() {
                        StepStatus::Failed
                    } else {
                        StepStatus::Done
                    };
                    row.write.finished_at = Some(now);
                    if let Some(error) = &error {
                        row.write.error = Some(error.to_value());
                    }
                    let bot = row.write.bot.clone();
                    let attempts = u32::try_from(row.write.attempts).unwrap_or(0);
                    let duration_ms = row
                        .started
                        .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX));
                    point.journal.push(journal(
                        "step_finished",
                        json!({"path": path, "number": number, "bot": bot,
                               "error": error.as_ref().map(ErrorValue::to_value)}),
                    ));
                    if error.is_none() {
                        let id = format!("{path}:workflow_step_complete");
                        self.engine_event(
                            point,
                            "workflow_step_complete",
                            &id,
                            json!({"step": path, "number": number, "bot": bot}),
                        );
                    }
                    self.pending.progress.push(Progress::StepFinished {
                        run: self.run.clone(),
                        path,
                        number,
                        bot,
                        attempts,
                        duration_ms,
                        error: error.map(|e| e.message),
                    });
                }
                Effect::RequestCancelled { id, path } => {
                    if let Some(task) = self.tasks.remove(&id) {
                        task.abort();
                    }
                    self.open.remove(&id);
                    self.stored.timers.remove(&id);
                    self.stored.retries.remove(&id);
                    if let Some(row) = self.steps.get_mut(&path)
                        && row.write.status != StepStatus::Done
                    {
                        row.write.status = StepStatus::Cancelled;
                        row.write.finished_at = Some(now);
                        self.pending.steps.insert(path.clone());
                    }
                    point
                        .journal
                        .push(journal("request_cancelled", json!({"path": path})));
                }
                other => {
                    let bot = self.bot.clone();
                    let key = self.run.clone();
                    self.side_effect(point, &bot, &key, other);
                }
            }
        }
    }

    /// Maps a side effect of the workflow or of a bot script it asked.
    fn side_effect(&mut self, point: &mut DurablePoint, bot: &str, key: &str, effect: Effect) {
        match effect {
            Effect::Talk { to, text } => {
                point
                    .journal
                    .push(journal("talk", json!({"bot": bot, "to": to, "text": text})));
                self.pending.progress.push(Progress::Talk {
                    run: self.run.clone(),
                    bot: bot.to_owned(),
                    text,
                });
            }
            Effect::Print { text } => {
                point
                    .journal
                    .push(journal("print", json!({"bot": bot, "text": text})));
                self.pending.progress.push(Progress::Print {
                    run: self.run.clone(),
                    bot: bot.to_owned(),
                    text,
                });
            }
            Effect::SetMemory { key: name, value } => point.memory.push(MemoryOp::Set {
                bot: bot.to_owned(),
                key: name,
                value,
            }),
            Effect::ShareMemory {
                key: name,
                with_bot,
            } => point.memory.push(MemoryOp::Share {
                from_bot: bot.to_owned(),
                key: name,
                to_bot: with_bot,
            }),
            Effect::SyncMemory { from_bot } => point.memory.push(MemoryOp::Sync {
                bot: bot.to_owned(),
                from_bot,
            }),
            Effect::PublishEvent {
                id,
                name,
                data,
                key: correlation,
                to,
            } => {
                let id = format!("{key}:{id}");
                point.journal.push(journal(
                    "event",
                    json!({"id": id, "name": name, "bot": bot}),
                ));
                point.events.push(NewEvent {
                    id,
                    name,
                    key: correlation,
                    target_bot: to,
                    payload: Some(data),
                    from_bot: Some(bot.to_owned()),
                    from_run: Some(self.run.clone()),
                });
            }
            Effect::Remember { key: name, .. } => point.journal.push(journal(
                "not_supported",
                json!({"bot": bot, "statement": "REMEMBER", "key": name}),
            )),
            Effect::Setup { keyword, args } => point.journal.push(journal(
                "setup",
                json!({"bot": bot, "keyword": keyword, "args": args}),
            )),
            Effect::SystemPrompt { text } => point
                .journal
                .push(journal("system_prompt", json!({"bot": bot, "text": text}))),
            Effect::StepStarted { .. }
            | Effect::StepFinished { .. }
            | Effect::RequestCancelled { .. } => {}
        }
    }

    /// Records a new request in the point that hands it out: its step row
    /// (with the attempt about to be made) or its timer.
    fn prepare_request(&mut self, request: &Request, now: i64) {
        match &request.kind {
            RequestKind::CallBot { bot, .. } => {
                if !self.step_paths.contains(&request.path) {
                    self.pending.progress.push(Progress::StepStarted {
                        run: self.run.clone(),
                        path: request.path.clone(),
                        number: request.step.clone().unwrap_or_default(),
                        kind: "bot".to_owned(),
                        bot: Some(bot.clone()),
                    });
                }
                let row = self.row(&request.path, request.step.as_deref(), "bot");
                row.write.bot = Some(bot.clone());
                row.write.attempts += 1;
                row.write.status = StepStatus::Running;
                row.write.started_at = row.write.started_at.or(Some(now));
                if row.started.is_none() {
                    row.started = Some(Instant::now());
                }
            }
            RequestKind::Delay { seconds } => {
                let millis = (seconds.max(0.0) * 1000.0).min(i64::MAX as f64) as i64;
                self.stored
                    .timers
                    .entry(request.id)
                    .or_insert(now.saturating_add(millis));
            }
            _ => {}
        }
    }

    /// Fills in the bot of steps that started in this advance.
    fn name_step_bots(&mut self, fresh: &[Request]) {
        for progress in &mut self.pending.progress {
            if let Progress::StepStarted { path, bot, .. } = progress {
                *bot = fresh.iter().find_map(|r| match &r.kind {
                    RequestKind::CallBot { bot, .. } if r.path == *path => Some(bot.clone()),
                    _ => None,
                });
            }
        }
    }

    /// Starts carrying out a request whose point has committed.
    fn issue(&mut self, request: Request) {
        let id = request.id;
        let key = format!("{}:{}", self.run, request.path);
        let inner = self.inner.clone();
        let tx = self.tx.clone();
        let task = match &request.kind {
            RequestKind::Delay { .. } => None,
            // A pending approval is not issued: the next pass looks at it again.
            RequestKind::Approval { .. }
            | RequestKind::WaitEvent { .. }
            | RequestKind::Hear { .. } => match self.ready.remove(&id) {
                Some(answer) => {
                    let _ = self.tx.send((id, reply(answer)));
                    None
                }
                None => return,
            },
            RequestKind::CallBot {
                bot,
                action,
                input,
                timeout,
                retry: _,
                ..
            } => {
                let (bot, action, input, timeout) =
                    (bot.clone(), action.clone(), input.clone(), *timeout);
                // The attempt the step row counted in the point that issued it.
                let attempt = self
                    .steps
                    .get(&request.path)
                    .and_then(|row| u32::try_from(row.write.attempts).ok())
                    .unwrap_or(1);
                Some(tokio::spawn(async move {
                    let reply =
                        bots::call_bot(&inner, &key, &bot, &action, &input, attempt, timeout, 0)
                            .await;
                    let _ = tx.send((id, reply));
                }))
            }
            RequestKind::CallScript { path, variables } => {
                let (path, variables, workflow_bot) =
                    (path.clone(), variables.clone(), self.bot.clone());
                Some(tokio::spawn(async move {
                    let mut effects = Vec::new();
                    let result = match inner.deployment.package(&workflow_bot) {
                        Some(package) => {
                            bots::call_script(&inner, package, &key, &path, variables, &mut effects)
                                .await
                        }
                        None => Err(ErrorValue::new(
                            "runtime",
                            format!(
                                "CALL \"{path}\": the workflow's package {workflow_bot} is not deployed"
                            ),
                        )),
                    };
                    let _ = tx.send((
                        id,
                        BotReply {
                            result,
                            effects,
                            retryable: false,
                        },
                    ));
                }))
            }
            RequestKind::ReadMemory { key: name } => {
                let (name, bot) = (name.clone(), self.bot.clone());
                Some(tokio::spawn(async move {
                    let result = match inner.store.memory(&bot, &name).await {
                        Ok(value) => Ok(value.unwrap_or(Value::Null)),
                        Err(error) => Err(ErrorValue::new("store", error.to_string())),
                    };
                    let _ = tx.send((id, reply(result)));
                }))
            }
            other => {
                let _ = self
                    .tx
                    .send((id, reply(Err(unsupported::in_workflow(other)))));
                None
            }
        };
        if let Some(task) = task {
            self.tasks.insert(id, task.abort_handle());
        }
        self.open.insert(id, request);
    }

    /// When the lease should be extended: a third of its length after it
    /// was last taken or extended, so one slow store call cannot lose it.
    fn renew_due(&self) -> i64 {
        self.lease_at + self.inner.options.lease_ttl_ms / 3
    }

    /// Extends the lease; `false` when it was lost (the run was taken over).
    async fn renew_lease(&mut self, now: i64) -> Result<bool> {
        let renewed = self
            .inner
            .store
            .renew(
                &self.run,
                &self.inner.node,
                self.epoch,
                now,
                self.inner.options.lease_ttl_ms,
            )
            .await?;
        if renewed {
            self.lease_at = now;
        }
        Ok(renewed)
    }

    /// Waits for the next answer while the lease is kept: a bot step longer
    /// than the lease must not let another node claim the run and ask the
    /// bot again. Returns `false` when the lease was lost meanwhile.
    async fn recv_leased(&mut self, ready: &mut Vec<(u64, BotReply)>) -> Result<bool> {
        // After a renewal the store could not make, the next try waits a
        // little: the bot's work goes on, and the lease may still hold.
        let mut next_try = self.renew_due();
        loop {
            let renew_in = u64::try_from(next_try - now_ms()).unwrap_or(0);
            tokio::select! {
                got = self.rx.recv() => {
                    ready.extend(got);
                    return Ok(true);
                }
                () = tokio::time::sleep(std::time::Duration::from_millis(renew_in)) => {
                    match self.renew_lease(now_ms()).await {
                        Ok(true) => next_try = self.renew_due(),
                        Ok(false) => return Ok(false),
                        Err(error) => {
                            tracing::warn!(run = %self.run, %error,
                                "cannot extend the run's lease while a step runs; trying again");
                            next_try = now_ms() + RENEW_RETRY_MS;
                        }
                    }
                }
            }
        }
    }

    /// Waits for at least one answer (or a due timer), then takes every
    /// answer that is ready and feeds them to the engine. Returns `false`
    /// when the lease was lost while waiting.
    async fn wait_for_answers(&mut self) -> Result<bool> {
        let mut ready = Vec::new();
        let due_timers = |timers: &BTreeMap<u64, i64>, now: i64| -> Vec<u64> {
            timers
                .iter()
                .filter(|(_, due)| **due <= now)
                .map(|(id, _)| *id)
                .collect()
        };
        let retry_due = self.next_retry().is_some_and(|due| due <= now_ms());
        if due_timers(&self.stored.timers, now_ms()).is_empty() && !retry_due {
            // A retry falling due ends the wait: the next pass asks it again.
            let next = earliest(
                self.stored.timers.values().copied().min(),
                self.next_retry(),
            );
            match next {
                Some(due) => {
                    let wait = u64::try_from(due - now_ms()).unwrap_or(0);
                    let sleep = tokio::time::sleep(std::time::Duration::from_millis(wait));
                    tokio::pin!(sleep);
                    let mut got = Vec::new();
                    tokio::select! {
                        held = self.recv_leased(&mut got) => if !held? {
                            return Ok(false);
                        },
                        () = &mut sleep => {}
                    }
                    ready.extend(got);
                }
                None => {
                    if !self.recv_leased(&mut ready).await? {
                        return Ok(false);
                    }
                }
            }
        }
        if self.tasks.len() > 1 {
            // Sibling requests (a PARALLEL's branches) usually answer within
            // microseconds of each other: one yield lets them land in this
            // pass, so their answers share one durable point (one commit)
            // instead of one each.
            tokio::task::yield_now().await;
        }
        while let Ok(got) = self.rx.try_recv() {
            ready.push(got);
        }
        for id in due_timers(&self.stored.timers, now_ms()) {
            self.stored.timers.remove(&id);
            ready.push((id, reply(Ok(Value::Null))));
        }
        for (id, reply) in ready {
            self.answer(id, reply);
        }
        Ok(true)
    }

    /// When the earliest retry still backing off is due.
    fn next_retry(&self) -> Option<i64> {
        self.stored.retries.values().filter_map(|r| r.due).min()
    }

    /// A bot attempt failed and `RETRY` allows another: the request stays
    /// open, unanswered, and the next point records when it is asked again
    /// (see the module documentation); the failed attempt's effects are dropped.
    fn back_off(&mut self, request: Request, failures: u32, error: ErrorValue) {
        let now = now_ms();
        let run = self.run.clone();
        let row = self.row(&request.path, request.step.as_deref(), "bot");
        let attempt = u32::try_from(row.write.attempts).unwrap_or(1).max(1);
        row.write.error = Some(error.to_value());
        let bot = row.write.bot.clone();
        let due = now.saturating_add(bots::backoff_ms(self.inner.options.retry_base_ms, attempt));
        tracing::debug!(run = %run, path = %request.path, attempt, due, "bot attempt failed; retrying");
        self.pending.journal.push(journal(
            "bot_retry",
            json!({"path": request.path, "bot": bot, "attempt": attempt,
                   "failures": failures, "due": due, "error": error.to_value()}),
        ));
        self.stored.retries.insert(
            request.id,
            crate::stored::Retry {
                failures,
                due: Some(due),
            },
        );
        self.open.insert(request.id, request);
    }

    fn answer(&mut self, id: u64, reply: BotReply) {
        self.tasks.remove(&id);
        let Some(request) = self.open.remove(&id) else {
            return;
        };
        let reply = self.within_limit(&request, reply);
        if let RequestKind::CallBot { retry, .. } = &request.kind {
            match &reply.result {
                Err(error) if reply.retryable => {
                    let limit = retry.unwrap_or_else(|| self.inner.default_retry(&self.bot));
                    let failures = self
                        .stored
                        .retries
                        .get(&id)
                        .map_or(0, |r| r.failures)
                        .saturating_add(1);
                    if failures <= limit {
                        let error = error.clone();
                        self.back_off(request, failures, error);
                        return;
                    }
                    self.stored.retries.remove(&id);
                }
                _ => {
                    self.stored.retries.remove(&id);
                }
            }
        }
        let answer = Answer {
            request: id,
            result: reply.result.clone(),
        };
        if engine::resume(&self.compiled, &mut self.stored.engine, answer).is_err() {
            // The request was withdrawn meanwhile (a cancelled branch): its answer is not wanted.
            return;
        }
        if let RequestKind::CallBot { bot, action, .. } = &request.kind {
            // A scratch point: only its effects are kept, in the next real point.
            let mut point = DurablePoint::new(String::new(), 0, RunStatus::Running, 0);
            for BotEffect { bot, key, effect } in reply.effects {
                self.side_effect(&mut point, &bot, &key, effect);
            }
            let ok = reply.result.is_ok();
            let attempts = self
                .steps
                .get(&request.path)
                .map_or(1, |row| row.write.attempts);
            point.journal.push(journal(
                "bot_answer",
                json!({"path": request.path, "bot": bot, "action": action,
                       "attempts": attempts, "ok": ok}),
            ));
            if ok {
                let event_id = format!("{}:bot_response_ready", request.path);
                self.engine_event(
                    &mut point,
                    "bot_response_ready",
                    &event_id,
                    json!({"step": request.path, "bot": bot, "action": action}),
                );
            }
            let bare_request = !self.step_paths.contains(&request.path);
            let run = self.run.clone();
            let row = self.row(&request.path, request.step.as_deref(), "bot");
            match reply.result {
                Ok(value) => {
                    row.write.answer = Some(value);
                    row.write.error = None;
                    row.write.status = StepStatus::Done;
                }
                Err(error) => {
                    row.write.error = Some(error.to_value());
                    row.write.status = StepStatus::Failed;
                }
            }
            row.write.finished_at = Some(now_ms());
            let progress = bare_request.then(|| Progress::StepFinished {
                run,
                path: request.path.clone(),
                number: row.write.number.clone(),
                bot: row.write.bot.clone(),
                attempts: u32::try_from(row.write.attempts).unwrap_or(0),
                duration_ms: row
                    .started
                    .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)),
                error: row
                    .write
                    .error
                    .as_ref()
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
            self.pending.progress.extend(progress);
            self.pending.memory.append(&mut point.memory);
            self.pending.events.append(&mut point.events);
            self.pending.journal.append(&mut point.journal);
        } else if let RequestKind::CallScript { .. } = &request.kind {
            // A scratch point: only its effects are kept, in the next real point.
            let mut point = DurablePoint::new(String::new(), 0, RunStatus::Running, 0);
            for BotEffect { bot, key, effect } in reply.effects {
                self.side_effect(&mut point, &bot, &key, effect);
            }
            self.pending.memory.append(&mut point.memory);
            self.pending.events.append(&mut point.events);
            self.pending.journal.append(&mut point.journal);
        }
    }
}

/// How a commit went, for the driver's loop.
#[must_use]
enum Committed {
    /// The point is recorded.
    Recorded,
    /// Another driver owns the run now.
    Fenced,
    /// The store rejected the point, and the run is recorded as failed.
    RunFailed,
    /// The point would have created the run, but a run with its id exists.
    Exists,
}

impl Committed {
    /// How the driver stops after this commit, if it does.
    fn stop(self) -> Option<Driven> {
        match self {
            Committed::Recorded => None,
            Committed::Fenced => Some(Driven::Fenced),
            Committed::RunFailed => Some(Driven::Finished(RunStatus::Failed)),
            // The run is somebody else's: nothing of this driver's was written.
            Committed::Exists => Some(Driven::Fenced),
        }
    }
}

/// `step 2: `, to start a message about a numbered step (nothing without a number).
fn step_prefix(number: &str) -> String {
    if number.is_empty() {
        String::new()
    } else {
        format!("step {number}: ")
    }
}

/// A copy of a step row without its answer (which may be the value too large to store).
fn without_answer(write: &StepWrite) -> StepWrite {
    StepWrite {
        path: write.path.clone(),
        number: write.number.clone(),
        kind: write.kind.clone(),
        bot: write.bot.clone(),
        attempts: write.attempts,
        status: write.status,
        answer: None,
        error: write.error.clone(),
        started_at: write.started_at,
        finished_at: write.finished_at,
    }
}

/// The earlier of two optional times.
fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn reply(result: Result<Value, ErrorValue>) -> BotReply {
    BotReply {
        result,
        effects: Vec::new(),
        retryable: false,
    }
}

fn journal(kind: &str, data: Value) -> NewJournalEntry {
    NewJournalEntry {
        kind: kind.to_owned(),
        data,
    }
}
