//! [`Runtime::launch`]: starts a run and answers as soon as the run exists,
//! while its driver goes on driving it in the background.
//!
//! The run is created by its first durable point, group-committed with
//! other runs' points (see `Driver::fresh`), instead of a transaction of its
//! own followed by a claim in another: the caller hears back the moment that
//! point has committed. Up to then the driver runs in the caller's task
//! ([`Handoff`]); it then carries on, on a task of its own that is counted in
//! [`Launched`], so that a graceful shutdown lets it reach its next stop
//! ([`Runtime::drain_launched`], called by the worker loop).

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value};
use store::{DurablePoint, PointOutcome, RunCreation, RunRecord, RunSummary, Store};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;

use crate::driver::Driver;
use crate::runtime::Workflow;
use crate::time::now_ms;
use crate::{Error, Result, Runtime};

/// The most launched drivers going at once. A launch beyond that waits for
/// one of them to stop (it ends, waits or is taken over): back-pressure on
/// the starters rather than an unbounded number of tasks competing with the
/// worker's drivers.
pub const MAX_LAUNCHED_DRIVERS: usize = 1024;

/// The drivers [`Runtime::launch`] and [`Runtime::decide_and_launch`] started
/// that may still be going.
pub(crate) struct Launched {
    /// Their tasks; finished ones are reaped at the next launch.
    tasks: Mutex<JoinSet<()>>,
    /// One permit per driver going.
    slots: Arc<Semaphore>,
}

impl Default for Launched {
    fn default() -> Self {
        Launched {
            tasks: Mutex::new(JoinSet::new()),
            slots: Arc::new(Semaphore::new(MAX_LAUNCHED_DRIVERS)),
        }
    }
}

/// How the point that creates a launched run went: what its driver tells
/// [`Runtime::launch`] right after the commit.
pub(crate) struct Creation {
    /// The point's outcome (`Exists`: a run with the id was there, nothing written).
    pub(crate) outcome: PointOutcome,
    /// The run as that point created it.
    pub(crate) run: RunSummary,
}

/// The run a creating point makes: the row the store inserts for it
/// (version 1, created and updated at the point's time).
pub(crate) fn created_run(point: &DurablePoint, create: &RunCreation) -> RunSummary {
    RunSummary {
        id: point.run_id.clone(),
        workflow: create.workflow.clone(),
        bot: create.bot.clone(),
        program_hash: create.program_hash.clone(),
        status: point.status,
        wake_at: point.wake_at,
        version: 1,
        parent_run: create.parent_run.clone(),
        created_at: point.now,
        updated_at: point.now,
    }
}

fn summary(record: RunRecord) -> RunSummary {
    RunSummary {
        id: record.id,
        workflow: record.workflow,
        bot: record.bot,
        program_hash: record.program_hash,
        status: record.status,
        wake_at: record.wake_at,
        version: record.version,
        parent_run: record.parent_run,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a plain task set: still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A launched driver's future, boxed so that it can move from the caller's
/// task to a task of its own halfway through.
type Driving = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A launched driver, driven in the launching caller's task until its first
/// point has committed, then handed to a task of its own.
///
/// Spawning it at once would put two more wake-ups on the caller's path:
/// the new task waiting for a worker before its first advance, and the
/// commit's answer going through that task before it reached the caller.
/// Whatever stops the caller first (its answer, an error, or the caller's
/// future being dropped, say by a client that hung up) hands the driver
/// over on drop, so a launched run is always driven on.
struct Handoff<'a> {
    runtime: &'a Runtime,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
    /// `None` once the driver has finished here.
    driving: Option<Driving>,
}

impl Handoff<'_> {
    /// Drives until the creating point's outcome is told (or the driver
    /// stops without telling it), then hands the driver over.
    async fn until_created(
        mut self,
        mut created: oneshot::Receiver<Creation>,
    ) -> Result<Creation, oneshot::error::RecvError> {
        std::future::poll_fn(|cx| {
            // The driver first: the poll that commits the point also tells it.
            if let Some(driving) = self.driving.as_mut()
                && driving.as_mut().poll(cx).is_ready()
            {
                // It has told the outcome or dropped the sender: `created`
                // is ready now.
                self.driving = None;
            }
            Pin::new(&mut created).poll(cx)
        })
        .await
    }
}

impl Drop for Handoff<'_> {
    fn drop(&mut self) {
        if let (Some(slot), Some(driving)) = (self.slot.take(), self.driving.take()) {
            self.runtime.spawn_launched(slot, driving);
        }
    }
}

impl Runtime {
    /// Starts a run of `workflow` (checked first, like [`start`](Self::start))
    /// and returns as soon as the run exists in the store, with `true`; its
    /// driver goes on driving it in the background until it ends, waits or
    /// is taken over. The run is created by its first durable point in the
    /// group commit, so a start costs no transaction of its own.
    ///
    /// The same `id` never creates two runs: when a run with it exists,
    /// nothing is written and that run is returned as it stands, with
    /// `false` (whoever drives it goes on; a due run is a worker's). Records
    /// `started_by` as the run's starter, who may never approve it.
    pub async fn launch(
        &self,
        workflow: &Workflow,
        input: Value,
        id: Option<String>,
        started_by: Option<String>,
    ) -> Result<(RunSummary, bool)> {
        let (id, mut driver) = self.fresh_driver(workflow, input, id, started_by).await?;
        let slot = self.launch_slot().await?;
        let (created_tx, created_rx) = oneshot::channel();
        let (failed_tx, mut failed_rx) = oneshot::channel::<Error>();
        driver.tell_creation(created_tx);
        let run = id.clone();
        let driving: Driving = Box::pin(async move {
            if let Err(error) = driver.drive().await {
                // Before the run exists the launcher reports the error;
                // after that, nobody waits for it but the log.
                if let Err(error) = failed_tx.send(error) {
                    tracing::warn!(%run, %error, "driving a launched run failed");
                }
            }
        });
        let created = Handoff {
            runtime: self,
            slot: Some(slot),
            driving: Some(driving),
        }
        .until_created(created_rx)
        .await;
        let answer = match created {
            Ok(Creation {
                outcome: PointOutcome::Ok,
                run,
            }) => Ok((run, true)),
            Ok(Creation {
                outcome: PointOutcome::Exists,
                ..
            }) => {
                let record = self
                    .inner
                    .store
                    .run(&id)
                    .await?
                    .ok_or_else(|| Error::UnknownRun(id.clone()))?;
                Ok((summary(record), false))
            }
            Ok(Creation {
                outcome: PointOutcome::Rejected(reason),
                ..
            }) => Err(Error::Commit(reason)),
            Ok(Creation {
                outcome: PointOutcome::Fenced,
                ..
            }) => Err(Error::Conflict {
                run: id.clone(),
                message: "the run's creation was fenced; nothing was written".to_owned(),
            }),
            // The driver stopped before its first point committed: it says why.
            Err(_) => {
                return Err(failed_rx.await.unwrap_or(Error::Closed));
            }
        };
        // A driver error from now on goes to the log, not to this caller.
        failed_rx.close();
        if let Ok(error) = failed_rx.try_recv() {
            tracing::warn!(run = %id, %error, "driving a launched run failed");
        }
        answer
    }

    /// [`decide`](Self::decide), and when the decision settles the request,
    /// drives the run it made due in the background, like a
    /// [`launch`](Self::launch)ed run: the decision and the run's claim ride
    /// on one group commit, and the answer comes once they have committed.
    /// No worker has to find the run due first.
    pub async fn decide_and_launch<'a>(
        &self,
        request_or_run: &str,
        approve: bool,
        by: impl Into<crate::runtime::Decider<'a>>,
        comment: Option<String>,
        channel: &str,
    ) -> Result<store::ApprovalRecord> {
        // Taken first, so that a claimed run always has a driver.
        let slot = self.launch_slot().await?;
        let (record, claimed) = self
            .decide_claiming(request_or_run, approve, by.into(), comment, channel, true)
            .await?;
        if let Some(run) = claimed {
            let (inner, settled) = (self.inner.clone(), record.clone());
            self.spawn_launched(slot, async move {
                let id = run.id.clone();
                let driven = async {
                    Driver::new(inner, run)
                        .await?
                        .knowing(settled)
                        .drive()
                        .await
                };
                // The run is leased to this node: if its driver fails, a
                // worker continues it once the lease lapses.
                if let Err(error) = driven.await {
                    tracing::warn!(run = %id, %error, "driving a decided run failed");
                }
            });
        }
        Ok(record)
    }

    /// A place for one more launched driver, waited for when
    /// [`MAX_LAUNCHED_DRIVERS`] are going.
    async fn launch_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        self.inner
            .launched
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)
    }

    /// Runs `driving` in the background, holding `slot` until it ends, among
    /// the tasks [`drain_launched`](Self::drain_launched) waits for.
    fn spawn_launched(
        &self,
        slot: tokio::sync::OwnedSemaphorePermit,
        driving: impl Future<Output = ()> + Send + 'static,
    ) {
        let mut tasks = lock(&self.inner.launched.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let _slot = slot;
            driving.await;
        });
    }

    /// Waits up to `grace` for the drivers [`launch`](Self::launch) started
    /// to stop (end, wait or be taken over), then aborts the rest and returns
    /// how many it aborted. Their state is durable: an aborted run is
    /// continued by a worker once its lease lapses.
    pub async fn drain_launched(&self, grace: Duration) -> usize {
        let mut tasks = std::mem::take(&mut *lock(&self.inner.launched.tasks));
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_ok() {
            return 0;
        }
        let aborted = tasks.len();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        aborted
    }

    /// A driver for a new run of `workflow` (checked, its program stored),
    /// whose first point creates the run leased to this node.
    pub(crate) async fn fresh_driver(
        &self,
        workflow: &Workflow,
        input: Value,
        id: Option<String>,
        started_by: Option<String>,
    ) -> Result<(String, Driver)> {
        if let Value::Object(map) = &input {
            self.check(workflow, map)?;
        } else {
            self.check(workflow, &Map::new())?;
        }
        let script = &workflow.script;
        let compiled = self.inner.programs.get_or_compile(
            &script.hash,
            &script.path.display().to_string(),
            &script.source,
        )?;
        let (id, input, stored) = self.initial_state(&compiled, input, id, started_by)?;
        self.inner
            .programs
            .ensure_stored(&self.inner.store, &script.hash, &script.source)
            .await?;
        let creation = RunCreation {
            workflow: workflow.name.clone(),
            bot: workflow.bot.clone(),
            program_hash: script.hash.clone(),
            input,
            parent_run: None,
            lease_owner: self.inner.node.clone(),
            lease_until: now_ms().saturating_add(self.inner.options.lease_ttl_ms),
        };
        let driver = Driver::fresh(self.inner.clone(), id.clone(), compiled, stored, creation);
        Ok((id, driver))
    }
}
