//! The group committer: one task that turns many runs' durable points into
//! few transactions.
//!
//! Drivers send a [`DurablePoint`] with a reply channel. The task takes one
//! point, drains whatever else is already queued (up to a batch limit), calls
//! [`Store::commit`] once for the whole batch, and only then answers every
//! waiter: nobody hears that a point is recorded before its transaction has
//! committed (DESIGN.md, group commit). While one transaction is being made
//! durable the next batch queues up, so the batch size follows the load.
//!
//! The crash-point hook lives here because it must sit exactly between "the
//! transaction committed" and "anybody was told": with
//! [`Options::crash_after_commits`](crate::Options) set to `n`, the process
//! aborts right after the `n`-th successful commit, before replying.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use store::{AnyStore, DurablePoint, PointOutcome, Store};
use tokio::sync::{mpsc, oneshot};

use crate::wakeups::Waker;
use crate::{Error, Result};

/// What a waiter gets back: the point's outcome once its batch committed.
type Reply = oneshot::Sender<Result<PointOutcome, String>>;

/// Counters of the committer, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct CommitStats {
    commits: AtomicU64,
    points: AtomicU64,
}

impl CommitStats {
    /// Transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Durable points committed so far (fenced and rejected ones included).
    pub fn points(&self) -> u64 {
        self.points.load(Ordering::Relaxed)
    }
}

/// A cheap-clone handle to the committer task.
#[derive(Clone, Debug)]
pub(crate) struct Committer {
    tx: mpsc::UnboundedSender<(DurablePoint, Reply)>,
    stats: Arc<CommitStats>,
}

impl Committer {
    /// Spawns the committer task on the current tokio runtime.
    /// `waker` is rung after a batch that published events: they may have
    /// made waiting runs due, here or on other nodes.
    pub(crate) fn spawn(
        store: AnyStore,
        max_batch: usize,
        crash_after: Option<u64>,
        waker: Waker,
    ) -> Committer {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(CommitStats::default());
        tokio::spawn(run(
            store,
            rx,
            max_batch.max(1),
            crash_after,
            stats.clone(),
            waker,
        ));
        Committer { tx, stats }
    }

    /// Commits one point (batched with others) and waits until its
    /// transaction has committed.
    pub(crate) async fn commit(&self, point: DurablePoint) -> Result<PointOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((point, reply)).map_err(|_| Error::Closed)?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(message)) => Err(Error::Commit(message)),
            Err(_) => Err(Error::Closed),
        }
    }

    pub(crate) fn stats(&self) -> &Arc<CommitStats> {
        &self.stats
    }
}

async fn run(
    store: AnyStore,
    mut rx: mpsc::UnboundedReceiver<(DurablePoint, Reply)>,
    max_batch: usize,
    crash_after: Option<u64>,
    stats: Arc<CommitStats>,
    waker: Waker,
) {
    let mut points = Vec::with_capacity(max_batch);
    let mut replies = Vec::with_capacity(max_batch);
    while let Some((point, reply)) = rx.recv().await {
        points.push(point);
        replies.push(reply);
        while points.len() < max_batch {
            match rx.try_recv() {
                Ok((point, reply)) => {
                    points.push(point);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        let count = points.len() as u64;
        let published = points.iter().any(|p| !p.events.is_empty());
        let result = store.commit(std::mem::take(&mut points)).await;
        match result {
            Ok(outcomes) => {
                let commits = stats.commits.fetch_add(1, Ordering::Relaxed) + 1;
                stats.points.fetch_add(count, Ordering::Relaxed);
                if crash_after.is_some_and(|n| commits >= n) {
                    // The crash-point hook: the transaction is durable, nobody knows yet.
                    std::process::abort();
                }
                for (reply, outcome) in replies.drain(..).zip(outcomes) {
                    // A driver that stopped waiting has nothing left to tell.
                    let _ = reply.send(Ok(outcome));
                }
                if published {
                    waker.wake();
                }
            }
            Err(error) => {
                let message = error.to_string();
                tracing::error!(%message, "group commit failed");
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}
