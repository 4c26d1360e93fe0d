//! `botflow bench w1 --durability`: W1.md §6.
//!
//! The parent runs W1-approval workflows at concurrency 32 in a child process
//! (this binary, `bench w1-child`), watches the bot log until 40 % of them
//! have published `workflow_completed`, waits a random 0–150 ms, kills the
//! child with SIGKILL, and starts it again with the same arguments on the
//! same store. The restarted child starts every workflow again (a start is
//! idempotent by id, so it finds the existing runs), takes over the runs the
//! dead child held once their leases lapse, and its approver finds the
//! pending approval requests in the store. The parent then checks the store
//! and the bot log.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use store::{AnyStore, EventFilter, RunStatus, Store};

use super::report::{self, DurabilityReport};
use super::w1::W1Args;
use super::{Variant, WorkDir};
use crate::runner;

/// Concurrency of the durability run (W1.md §6).
const CONCURRENCY: usize = 32;
/// The child's lease: how long a run held by the killed child stays held.
const LEASE_MS: i64 = 500;

/// The durability child (internal; started by `bench w1 --durability`).
#[derive(Debug, clap::Args)]
pub struct ChildArgs {
    #[arg(long)]
    pub db: String,
    #[arg(long)]
    pub bots: PathBuf,
    #[arg(long)]
    pub log: PathBuf,
    #[arg(long)]
    pub runs: usize,
    #[arg(long)]
    pub concurrency: usize,
    #[arg(long)]
    pub prefix: String,
}

/// A random number from the process's hash seed (no extra dependency:
/// `RandomState` is seeded from the OS).
pub fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    hasher.finish()
}

/// The child: drives every workflow to its end, then exits 0 (1 when some
/// did not complete).
pub fn child(args: ChildArgs) -> anyhow::Result<ExitCode> {
    runner::block_on(async move {
        let bench = Arc::new(super::open(&args.db, &args.bots, &args.log, Some(LEASE_MS)).await?);
        let _approver = super::spawn_approver(&bench, bench.rt.subscribe());
        let driven = super::w1::drive_all(
            &bench,
            Variant::Approval,
            args.concurrency,
            args.runs,
            Duration::MAX,
            &args.prefix,
            None,
        )
        .await;
        bench.rt.store().close().await;
        Ok(if driven.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// The parent (see the module doc).
pub fn run(args: &W1Args) -> anyhow::Result<ExitCode> {
    let runs = args.runs.unwrap_or(400);
    let work = WorkDir::new(args.keep.as_deref())?;
    let bots = work.path().join("bots");
    super::write_deployment(&bots)?;
    let db = if args.db == "sqlite" {
        work.path().join("durability.db").display().to_string()
    } else {
        args.db.clone()
    };
    let log = work.path().join("bot.log");
    let prefix = format!("d-{:x}", random_u64() as u32);
    let ids: Vec<String> = (0..runs).map(|i| super::workflow_id(&prefix, i)).collect();
    let spawn = || spawn_child(&db, &bots, &log, runs, &prefix);

    let threshold = (runs * 2).div_ceil(5);
    let mut first = spawn()?;
    let mut published_at_kill = 0;
    let mut killed = false;
    // Watch the log until 40 % published (or the child ended by itself).
    loop {
        let published = published(&log);
        if published >= threshold {
            break;
        }
        if first.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let kill_delay_ms = random_u64() % args.max_kill_delay_ms.saturating_add(1);
    std::thread::sleep(Duration::from_millis(kill_delay_ms));
    if first.try_wait()?.is_none() {
        // `Child::kill` sends SIGKILL on Unix.
        first.kill().context("cannot kill the child")?;
        killed = true;
        published_at_kill = published(&log);
    }
    let killed_at = Instant::now();
    first.wait().context("cannot reap the child")?;
    if !killed {
        errln!(
            "bench: the child finished before it could be killed at 40 %; nothing was recovered"
        );
    }

    let mut second = spawn()?;
    let status = second
        .wait()
        .context("cannot wait for the restarted child")?;
    let recovery_s = killed_at.elapsed().as_secs_f64();
    if !status.success() {
        errln!("bench: the restarted child reported runs that did not complete ({status})");
    }

    let stored = runner::block_on(count_in_store(&db, &ids, &log))?;
    let log_check = report::check_log(&log, &ids)?;
    let report = DurabilityReport {
        runs,
        concurrency: CONCURRENCY,
        completed: stored.completed,
        published_in_store: stored.published_once,
        double_publishes_in_store: stored.published_twice,
        unlogged_publishes: stored.unlogged.len(),
        published_at_kill,
        kill_delay_ms,
        double_publishes: log_check.double_publishes,
        bot_reexecutions: log_check.bot_reexecutions,
        missing_unexplained: log_check.missing.saturating_sub(stored.unlogged.len()),
        recovery_s,
        log: log_check,
    };
    outln!(
        "\nW1 durability: {runs} W1-approval workflows at c={CONCURRENCY}, SIGKILL at 40 % + {kill_delay_ms} ms"
    )?;
    outln!(
        "| completed | published (store) | published at kill | double publishes | bot re-executions | log lines lost at the kill | missing | s kill → last completion |"
    )?;
    outln!("|---|---|---|---|---|---|---|---|")?;
    outln!(
        "| {}/{} | {} | {} | {} | {} | {} | {} | {:.2} |",
        report.completed,
        runs,
        report.published_in_store,
        report.published_at_kill,
        report.double_publishes + report.double_publishes_in_store,
        report.bot_reexecutions,
        report.unlogged_publishes,
        report.missing_unexplained,
        report.recovery_s
    )?;
    if let Some(path) = &args.json {
        let all = serde_json::json!({"workload": "W1", "mode": "inproc", "killed": killed, "durability": report});
        report::write_json(path, &all)?;
    }
    let ok = killed
        && report.completed == runs
        && report.published_in_store == runs
        && report.double_publishes == 0
        && report.double_publishes_in_store == 0
        && report.missing_unexplained == 0;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn spawn_child(
    db: &str,
    bots: &Path,
    log: &Path,
    runs: usize,
    prefix: &str,
) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find this program to start its child")?;
    Command::new(exe)
        .args(["bench", "w1-child", "--db", db, "--bots"])
        .arg(bots)
        .arg("--log")
        .arg(log)
        .args([
            "--runs",
            &runs.to_string(),
            "--concurrency",
            &CONCURRENCY.to_string(),
            "--prefix",
            prefix,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the child process")
}

/// How many distinct runs have published `workflow_completed` in the log.
fn published(log: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(log) else {
        return 0;
    };
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let run = parts.next()?;
            (parts.next()? == "event:workflow_completed").then_some(run)
        })
        .collect::<HashSet<_>>()
        .len()
}

/// What the store says about the workflows after the restart.
struct Stored {
    /// Runs with status `completed`.
    completed: usize,
    /// Runs whose `PUBLISH EVENT "workflow_completed"` is in the store exactly once.
    published_once: usize,
    /// Runs whose publish is in the store more than once.
    published_twice: usize,
    /// Runs whose publish is in the store but not in the bot log: the
    /// process died between the commit and the log line (W1's log is written
    /// after the event's point committed, so it never shows a publish that
    /// did not happen, and a kill in that moment loses the line, not the event).
    unlogged: Vec<String>,
}

async fn count_in_store(db: &str, ids: &[String], log: &Path) -> anyhow::Result<Stored> {
    let logged: HashSet<String> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let run = parts.next()?;
            (parts.next()? == "event:workflow_completed").then(|| run.to_owned())
        })
        .collect();
    let store = AnyStore::open(db)
        .await
        .with_context(|| format!("cannot open the database {db}"))?;
    let mut stored = Stored {
        completed: 0,
        published_once: 0,
        published_twice: 0,
        unlogged: Vec::new(),
    };
    for id in ids {
        if store
            .run_outcome(id)
            .await?
            .is_some_and(|r| r.status == RunStatus::Completed)
        {
            stored.completed += 1;
        }
        let filter = EventFilter {
            name: Some("workflow_completed".to_owned()),
            from_run: Some(id.clone()),
            limit: 100,
            ..EventFilter::default()
        };
        // The script's PUBLISH EVENT, not the engine's own lifecycle event
        // of the same name (ids `…event#<n>`, see the runtime's bot-log hook).
        let publishes = store
            .events(filter)
            .await?
            .iter()
            .filter(|e| e.id.contains("event#"))
            .count();
        match publishes {
            0 => {}
            1 => stored.published_once += 1,
            _ => stored.published_twice += 1,
        }
        if publishes > 0 && !logged.contains(id) {
            stored.unlogged.push(id.clone());
        }
    }
    store.close().await;
    Ok(stored)
}
