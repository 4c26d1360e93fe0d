//! `botflow bench w1 --nodes N`: W1 with N nodes on one PostgreSQL store.
//!
//! Each node is a runtime of its own in this process: its own node id,
//! connection pool, group committer and approver, sharing the store's schema
//! and the bot log. The phase's concurrency and workflows are shared out
//! among the nodes, and each node starts and drives its share, so the
//! database sees N committers at once, as it does with N `botflow worker`
//! processes (the CPU of this machine is shared by all of them alike).

use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;

use super::w1::Driven;
use super::{Bench, Variant};
use crate::UsageError;

/// The most nodes a bench runs.
pub const MAX_NODES: usize = 8;

/// Refuses a node count the bench cannot honour: more than one node needs
/// a store they can share (PostgreSQL), and runs in process (`--mode http`
/// drives one server).
pub fn check(nodes: usize, is_pg: bool, http: bool) -> Result<(), UsageError> {
    if nodes == 0 || nodes > MAX_NODES {
        return Err(UsageError(format!(
            "--nodes {nodes}: give 1 to {MAX_NODES}"
        )));
    }
    if nodes > 1 && http {
        return Err(UsageError(format!(
            "--nodes {nodes}: nodes run in process; leave out --mode http"
        )));
    }
    if nodes > 1 && !is_pg {
        return Err(UsageError(format!(
            "--nodes {nodes}: nodes share a PostgreSQL store; give --db postgres://..."
        )));
    }
    Ok(())
}

/// The nodes of a phase besides the first: `nodes - 1` more runtimes on the
/// same store `db` and bot log, each with its own approver when the
/// variant has approvals.
pub struct Others {
    pub benches: Vec<Arc<Bench>>,
    approvers: Vec<tokio::task::JoinHandle<()>>,
}

impl Others {
    pub async fn open(
        db: &str,
        bots: &std::path::Path,
        log: &std::path::Path,
        nodes: usize,
        variant: Variant,
    ) -> anyhow::Result<Others> {
        let mut benches = Vec::new();
        let mut approvers = Vec::new();
        for _ in 1..nodes {
            let bench = Arc::new(super::open(db, bots, log, None).await?);
            if variant == Variant::Approval {
                approvers.push(super::spawn_approver(&bench, bench.rt.subscribe()));
            }
            benches.push(bench);
        }
        Ok(Others { benches, approvers })
    }

    /// Durable points and group commits of these nodes so far.
    pub fn totals(&self) -> (u64, u64) {
        self.benches.iter().fold((0, 0), |(p, c), bench| {
            let stats = bench.rt.stats();
            (p + stats.points(), c + stats.commits())
        })
    }

    /// Stops the approvers and closes the nodes' stores.
    pub async fn close(self) {
        for approver in self.approvers {
            approver.abort();
        }
        for bench in &self.benches {
            bench.rt.store().close().await;
        }
    }
}

/// Runs the phase's `runs` workflows at concurrency `c` on `first` and the
/// `others`: node `i` gets its share of both (the remainders go to the
/// first nodes) and names its workflows `<prefix>-n<i>-<k>`. What they saw
/// is merged.
#[allow(clippy::too_many_arguments)]
pub async fn drive_all(
    first: &Arc<Bench>,
    others: &Others,
    variant: Variant,
    c: usize,
    runs: usize,
    cap: Duration,
    prefix: &str,
    bar: Option<&ProgressBar>,
) -> Driven {
    if others.benches.is_empty() {
        return super::w1::drive_all(first, variant, c, runs, cap, prefix, bar).await;
    }
    let nodes: Vec<Arc<Bench>> = std::iter::once(first)
        .chain(others.benches.iter())
        .cloned()
        .collect();
    let n = nodes.len();
    let share = |total: usize, i: usize| total / n + usize::from(i < total % n);
    // Each node's drivers run at once, as separate processes' would.
    let tasks: Vec<_> = nodes
        .into_iter()
        .enumerate()
        .map(|(i, bench)| {
            let (c, runs) = (share(c, i).max(1), share(runs, i));
            let prefix = format!("{prefix}-n{i}");
            let bar = bar.cloned();
            tokio::spawn(async move {
                super::w1::drive_all(&bench, variant, c, runs, cap, &prefix, bar.as_ref()).await
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        match task.await {
            Ok(driven) => all.push(driven),
            Err(error) => errln!("bench: a node's drivers panicked: {error}"),
        }
    }
    let mut merged = Driven {
        started: Vec::new(),
        completed: Vec::new(),
        failed: 0,
        latencies_ms: Vec::new(),
    };
    for driven in all {
        merged.started.extend(driven.started);
        merged.completed.extend(driven.completed);
        merged.failed += driven.failed;
        merged.latencies_ms.extend(driven.latencies_ms);
    }
    merged
}
