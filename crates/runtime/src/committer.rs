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

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use store::{
    AnyStore, DurablePoint, GroupCommitted, GroupWrite, GroupWritten, PointOutcome, ReadyPoint,
    Store,
};
use tokio::sync::{mpsc, oneshot};

use crate::wakeups::Waker;
use crate::{Error, Result};

/// What a waiter gets back: the point's outcome once its batch committed.
type Reply = oneshot::Sender<Result<PointOutcome, String>>;

/// What a writer gets back: its write's result once its batch committed
/// (the outer `Err` is the batch's failure).
type WriteReply = oneshot::Sender<Result<store::Result<GroupWritten>, String>>;

/// One item of the committer's queue.
// Points are nearly every job: boxing them to shrink the rare write would
// cost an allocation per point.
#[allow(clippy::large_enum_variant)]
enum Job {
    /// Made ready by the sender ([`Committer::commit`]), not by the
    /// committer, which writes one batch after another.
    Point(ReadyPoint, Reply),
    /// A decision or an approval audit, applied after the batch's points.
    Write(GroupWrite, WriteReply),
}

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
    tx: mpsc::UnboundedSender<Job>,
    stats: Arc<CommitStats>,
}

impl Committer {
    /// Spawns the committer task on the current tokio runtime.
    /// `waker` is rung after a batch that published events, for this
    /// process's worker only when they made a waiting run due or one is
    /// named by a `TRIGGER ON EVENT` here (`trigger_events`, canonical
    /// names); other nodes, whose scripts and waiting runs this one does not
    /// know, after every such batch.
    pub(crate) fn spawn(
        store: AnyStore,
        max_batch: usize,
        crash_after: Option<u64>,
        waker: Waker,
        trigger_events: HashSet<String>,
    ) -> Committer {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(CommitStats::default());
        tokio::spawn(run(
            store,
            rx,
            max_batch.max(1),
            crash_after,
            stats.clone(),
            Wake {
                waker,
                trigger_events,
            },
        ));
        Committer { tx, stats }
    }

    /// Commits one point (batched with others) and waits until its
    /// transaction has committed.
    pub(crate) async fn commit(&self, point: DurablePoint) -> Result<PointOutcome> {
        let (reply, answer) = oneshot::channel();
        let point = ReadyPoint::new(point);
        self.tx
            .send(Job::Point(point, reply))
            .map_err(|_| Error::Closed)?;
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(message)) => Err(Error::Commit(message)),
            Err(_) => Err(Error::Closed),
        }
    }

    /// Applies one write in the next group commit (batched with points and
    /// other writes) and waits until its transaction has committed. The inner
    /// result is the write's own: a refused decision, which changed nothing.
    pub(crate) async fn write(&self, write: GroupWrite) -> Result<store::Result<GroupWritten>> {
        let mut written = self.write_all(vec![write]).await?;
        // `write_all` answers once per write it was given: here, one.
        Ok(written.pop().expect("one answer per write"))
    }

    /// Applies several writes, queued together so that they ride on one
    /// group commit (unless a batch fills up between them), and waits until
    /// all have committed. One inner result per write, in order.
    pub(crate) async fn write_all(
        &self,
        writes: Vec<GroupWrite>,
    ) -> Result<Vec<store::Result<GroupWritten>>> {
        let mut answers = Vec::with_capacity(writes.len());
        for write in writes {
            let (reply, answer) = oneshot::channel();
            self.tx
                .send(Job::Write(write, reply))
                .map_err(|_| Error::Closed)?;
            answers.push(answer);
        }
        let mut written = Vec::with_capacity(answers.len());
        for answer in answers {
            written.push(match answer.await {
                Ok(Ok(one)) => one,
                Ok(Err(message)) => return Err(Error::Commit(message)),
                Err(_) => return Err(Error::Closed),
            });
        }
        Ok(written)
    }

    pub(crate) fn stats(&self) -> &Arc<CommitStats> {
        &self.stats
    }
}

/// Whom a committed batch's events concern (see [`Committer::spawn`]).
struct Wake {
    waker: Waker,
    trigger_events: HashSet<String>,
}

impl Wake {
    /// Whether an event of `points` starts a `TRIGGER ON EVENT` script here.
    fn names_a_trigger(&self, points: &[ReadyPoint]) -> bool {
        !self.trigger_events.is_empty()
            && points
                .iter()
                .flat_map(ReadyPoint::event_names)
                .any(|name| self.trigger_events.contains(name))
    }

    /// After a batch that published events: this process's worker only when
    /// `here` (a waiting run was made due, or a trigger named): under load
    /// nearly every batch publishes (the engine's own events), and a worker
    /// pass after each was a read per commit that found nothing.
    fn after_publishing(&self, here: bool) {
        if here {
            self.waker.wake();
        } else {
            self.waker.wake_others();
        }
    }
}

async fn run(
    store: AnyStore,
    mut rx: mpsc::UnboundedReceiver<Job>,
    max_batch: usize,
    crash_after: Option<u64>,
    stats: Arc<CommitStats>,
    wake: Wake,
) {
    let mut points = Vec::with_capacity(max_batch);
    let mut replies = Vec::with_capacity(max_batch);
    let mut writes = Vec::new();
    let mut write_replies: Vec<WriteReply> = Vec::new();
    while let Some(job) = rx.recv().await {
        let mut next = Some(job);
        while let Some(job) = next.take() {
            match job {
                Job::Point(point, reply) => {
                    points.push(point);
                    replies.push(reply);
                }
                Job::Write(write, reply) => {
                    writes.push(write);
                    write_replies.push(reply);
                }
            }
            if points.len() + writes.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }
        let count = points.len() as u64;
        // Read before the points go to the store.
        let published = points.iter().any(|p| p.event_names().next().is_some());
        let triggers = published && wake.names_a_trigger(&points);
        let result = store
            .commit_ready(std::mem::take(&mut points), std::mem::take(&mut writes))
            .await;
        match result {
            Ok(GroupCommitted {
                outcomes,
                written,
                woke_waiters,
            }) => {
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
                for (reply, written) in write_replies.drain(..).zip(written) {
                    let _ = reply.send(Ok(written));
                }
                if published {
                    wake.after_publishing(woke_waiters || triggers);
                }
            }
            Err(error) => {
                let message = error.to_string();
                tracing::error!(%message, "group commit failed");
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(message.clone()));
                }
                for reply in write_replies.drain(..) {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}
