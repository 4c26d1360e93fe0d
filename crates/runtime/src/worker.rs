//! The long-running worker loop ([`Runtime::work`]): claims due runs, drives
//! each on its own task (bounded concurrency), then sleeps until something
//! may be due again.
//!
//! A waiting run costs the worker nothing: it lives in the store (status
//! `waiting`, `wake_at`) and is found again by the store's claim query. The
//! only per-run memory kept is the `wake_at` of runs this worker drove into a
//! timer wait (one `i64` each, capped at [`MAX_KNOWN_TIMERS`]), so their timers
//! fire on time instead of at the next poll. Timers armed by other processes
//! are found by the poll (the safety net), or sooner when [`Runtime::wake`]
//! rings.
//!
//! Durability: timers, approval deadlines and waits are in the stored state of
//! each run, so a worker started after a crash claims every run whose timer fell
//! due while nothing ran on its first pass. Schedule ticks likewise: the next
//! tick of each `SET SCHEDULE` is stored (`schedules.rs`), so the first pass
//! starts every tick missed meanwhile, and the worker sleeps no later than the
//! next tick.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use store::{RunStatus, Store};
use tokio::task::JoinSet;

use crate::time::now_ms;
use crate::{Driven, Result, Runtime};

/// The most timer due times a worker remembers from runs it drove; beyond
/// that, later timers are found by the poll (a bound, so memory stays flat
/// however many runs wait on timers).
pub const MAX_KNOWN_TIMERS: usize = 65_536;

/// The shortest time between two sweeps for owed approval notifications
/// ([`Runtime::deliver_owed_notifications`]); the first pass always sweeps.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The longest the worker sleeps between looks at the store (the safety
    /// net for runs made due by other processes).
    pub poll: Duration,
    /// The most runs driven at once.
    pub concurrency: usize,
    /// After shutdown, how long in-flight drivers may go on before they are
    /// aborted (their state is durable; the next worker continues them once
    /// their lease lapses).
    pub grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            poll: Duration::from_secs(1),
            concurrency: 256,
            grace: Duration::from_secs(5),
        }
    }
}

/// What a worker did before it stopped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkerReport {
    /// Driver passes run (a run may be driven more than once).
    pub driven: usize,
    /// Passes that ended their run (any terminal status).
    pub finished: usize,
    /// Passes that left their run waiting.
    pub waiting: usize,
    /// Passes that failed with an error (the run stays in the store as it was).
    pub errors: usize,
    /// Drivers aborted at shutdown after the grace period.
    pub aborted: usize,
}

/// One driver pass as the worker sees it: the run and how the pass ended.
#[derive(Debug)]
pub struct Pass {
    /// The run's id.
    pub run: String,
    /// How the pass ended.
    pub outcome: Result<Driven>,
}

impl Runtime {
    /// Runs the worker loop until `shutdown` resolves: claims due runs, drives
    /// each on its own task (at most `options.concurrency` at once), and sleeps
    /// until the earliest of a timer it knows of, [`woken`](Runtime::woken),
    /// the poll interval, or shutdown. `on_pass` is called for each finished
    /// driver pass (to print a line per run that ends).
    ///
    /// At shutdown it stops claiming, lets in-flight drivers reach their
    /// next stop for up to `options.grace`, then aborts the rest.
    pub async fn work(
        &self,
        options: WorkerOptions,
        shutdown: impl Future<Output = ()>,
        mut on_pass: impl FnMut(&Pass),
    ) -> Result<WorkerReport> {
        let concurrency = options.concurrency.max(1);
        let mut report = WorkerReport::default();
        let mut tasks: JoinSet<Pass> = JoinSet::new();
        let mut timers: BinaryHeap<Reverse<i64>> = BinaryHeap::new();
        tokio::pin!(shutdown);
        // `SET SCHEDULE` headers are recorded once (retried each pass until
        // it succeeds), keeping the next tick of an unchanged schedule, so
        // ticks missed while nothing ran fire below.
        let mut schedules_synced = false;
        let mut claim_backoff = CLAIM_BACKOFF_START;
        let mut last_sweep: Option<std::time::Instant> = None;
        'outer: loop {
            if !schedules_synced {
                match self.sync_schedules().await {
                    Ok(_) => schedules_synced = true,
                    Err(error) => {
                        report.errors += 1;
                        tracing::warn!(%error, "recording the schedules failed");
                    }
                }
            }
            // `TRIGGER ON EVENT` headers and due schedule ticks first: the
            // runs they start are claimed below like any other runnable run.
            if let Err(error) = self.start_triggered().await {
                report.errors += 1;
                tracing::warn!(%error, "starting triggered runs failed");
            }
            if schedules_synced && let Err(error) = self.start_scheduled(now_ms()).await {
                report.errors += 1;
                tracing::warn!(%error, "starting scheduled runs failed");
            }
            // Approval notifications owed by a process that died before it
            // delivered them (the outbox sweep, `notify/mod.rs`). Not at every
            // pass: under load a pass follows nearly every group commit, and
            // what the sweep finds has waited out a grace of seconds anyway.
            if last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
                last_sweep = Some(std::time::Instant::now());
                if let Err(error) = self.deliver_owed_notifications().await {
                    report.errors += 1;
                    tracing::warn!(%error, "delivering owed approval notifications failed");
                }
            }
            // Claim as many as there is room for, repeating while claims come
            // back full (more may be due).
            let mut claim_failed = false;
            loop {
                let room = concurrency.saturating_sub(tasks.len());
                if room == 0 {
                    break;
                }
                let now = now_ms();
                let claimed = match self
                    .inner
                    .store
                    .claim(&self.inner.node, now, self.inner.options.lease_ttl_ms, room)
                    .await
                {
                    Ok(claimed) => {
                        claim_backoff = CLAIM_BACKOFF_START;
                        claimed
                    }
                    // The database restarted, or ended this node's session:
                    // the worker keeps running and looks again after a pause
                    // that doubles while it fails (in-flight drivers carry on;
                    // a run whose commit failed is claimed again once its
                    // lease lapses).
                    Err(error) => {
                        report.errors += 1;
                        tracing::warn!(
                            %error,
                            retry_in_ms = u64::try_from(claim_backoff.as_millis()).unwrap_or(u64::MAX),
                            "looking for due runs failed; the worker keeps running and looks again"
                        );
                        claim_failed = true;
                        break;
                    }
                };
                let full = claimed.len() == room;
                for record in claimed {
                    let runtime = self.clone();
                    tasks.spawn(async move {
                        let run = record.id.clone();
                        let outcome = runtime.drive_claimed(record).await;
                        Pass { run, outcome }
                    });
                }
                if !full {
                    break;
                }
            }
            // Forget timers that are due now: the claim above took their runs.
            let now = now_ms();
            while timers.peek().is_some_and(|Reverse(at)| *at <= now) {
                timers.pop();
            }
            // The next schedule tick is a timer too, so it fires on time. One
            // already due (a tick left for the next pass) is left to the
            // wake-up `start_scheduled` rang, not slept for.
            let next_tick = match self.next_schedule_tick().await {
                Ok(tick) => tick.filter(|tick| *tick > now),
                Err(error) => {
                    tracing::warn!(%error, "reading the next schedule tick failed");
                    None
                }
            };
            let next_timer = match (timers.peek().map(|Reverse(at)| *at), next_tick) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let poll_ms = i64::try_from(options.poll.as_millis()).unwrap_or(i64::MAX);
            let until = next_timer.map_or(now.saturating_add(poll_ms), |at| {
                at.min(now.saturating_add(poll_ms))
            });
            let sleep = if claim_failed {
                let pause = claim_backoff;
                claim_backoff = (claim_backoff * 2).min(CLAIM_BACKOFF_MAX);
                tokio::time::sleep(pause)
            } else {
                sleep_ms(until.saturating_sub(now))
            };
            tokio::select! {
                () = &mut shutdown => break 'outer,
                joined = tasks.join_next(), if !tasks.is_empty() => {
                    if let Some(joined) = joined {
                        record_pass(joined, &mut report, &mut timers, &mut on_pass);
                    }
                }
                () = self.woken() => {}
                () = sleep => {}
            }
        }
        // Shutdown: no more claims; give in-flight drivers their grace period.
        let grace_ends = tokio::time::Instant::now() + options.grace;
        let drained = tokio::time::timeout(options.grace, async {
            while let Some(joined) = tasks.join_next().await {
                record_pass(joined, &mut report, &mut timers, &mut on_pass);
            }
        })
        .await;
        if drained.is_err() {
            report.aborted = tasks.len();
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        // Drivers of runs started with `Runtime::launch` get the same grace.
        let left = grace_ends.saturating_duration_since(tokio::time::Instant::now());
        report.aborted += self.drain_launched(left).await;
        Ok(report)
    }
}

impl Runtime {
    /// Like [`run_to_end`](Runtime::run_to_end), but sleeps through a timer
    /// only when it is due within `wait_timers` of now: `botflow run
    /// --wait-timers`. Returns `Waiting` when the run waits on something
    /// else (an approval, an event, a message) or on a timer due later; the
    /// timer stays armed in the store for a worker (or `resume`) to fire.
    pub async fn run_with_timers(&self, id: &str, wait_timers: Duration) -> Result<RunStatus> {
        let limit_ms = i64::try_from(wait_timers.as_millis()).unwrap_or(i64::MAX);
        loop {
            match self.drive(id).await? {
                Driven::Finished(status) => return Ok(status),
                Driven::Waiting { wake_at: None } => return Ok(RunStatus::Waiting),
                // An approval's deadline is no timer to sleep through: people decide.
                Driven::Waiting { .. } if !self.pending_approvals(id).await?.is_empty() => {
                    return Ok(RunStatus::Waiting);
                }
                Driven::Waiting { wake_at: Some(due) } => {
                    let now = now_ms();
                    if due.saturating_sub(now) > limit_ms {
                        return Ok(RunStatus::Waiting);
                    }
                    sleep_ms(due.saturating_sub(now)).await;
                }
                Driven::Fenced => {
                    let record = self
                        .inner
                        .store
                        .run_outcome(id)
                        .await?
                        .ok_or_else(|| crate::Error::UnknownRun(id.to_owned()))?;
                    if record.status.is_terminal() {
                        return Ok(record.status);
                    }
                    // Another driver holds it: wait for its lease (or the
                    // run's timer), within the same bound.
                    let until = record
                        .lease_until
                        .unwrap_or(0)
                        .max(record.wake_at.unwrap_or(0));
                    let now = now_ms();
                    if until.saturating_sub(now) > limit_ms {
                        return Ok(record.status);
                    }
                    sleep_ms(until.saturating_sub(now).max(20)).await;
                }
            }
        }
    }
}

/// Counts one driver pass, remembers its timer, and tells `on_pass`.
fn record_pass(
    joined: std::result::Result<Pass, tokio::task::JoinError>,
    report: &mut WorkerReport,
    timers: &mut BinaryHeap<Reverse<i64>>,
    on_pass: &mut impl FnMut(&Pass),
) {
    report.driven += 1;
    let pass = match joined {
        Ok(pass) => pass,
        Err(error) => {
            report.errors += 1;
            tracing::warn!(%error, "a run's driver panicked or was cancelled");
            return;
        }
    };
    match &pass.outcome {
        Ok(Driven::Finished(status)) => {
            report.finished += 1;
            tracing::info!(run = %pass.run, status = %status, "run ended");
        }
        Ok(Driven::Waiting { wake_at }) => {
            report.waiting += 1;
            if let Some(at) = wake_at
                && timers.len() < MAX_KNOWN_TIMERS
            {
                timers.push(Reverse(*at));
            }
            tracing::debug!(run = %pass.run, ?wake_at, "run waits");
        }
        Ok(Driven::Fenced) => tracing::debug!(run = %pass.run, "run taken over"),
        Err(error) => {
            report.errors += 1;
            tracing::warn!(run = %pass.run, %error, "driving a run failed");
        }
    }
    on_pass(&pass);
}

/// The first pause after a failed claim; it doubles up to [`CLAIM_BACKOFF_MAX`].
const CLAIM_BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest pause between claims while they fail.
const CLAIM_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A sleep of `ms` milliseconds (none when not positive).
fn sleep_ms(ms: i64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}
