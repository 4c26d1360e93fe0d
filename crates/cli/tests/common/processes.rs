//! Helpers for crash tests that SIGKILL real `botflow` processes: a seeded
//! random source (the seed is printed, `BOTFLOW_TEST_SEED` replays it), a
//! `botflow worker` that can be killed, and a read-only look at the store
//! the processes share, through the `store` crate.
//!
//! Included with `#[path = "common/processes.rs"] mod processes;` next to
//! `mod common;`, whose `botflow()` command it builds on.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use store::{
    AnyStore, ApprovalAudit, ApprovalFilter, ApprovalRecord, EventFilter, EventRecord,
    JournalEntry, RunFilter, RunRecord, RunStatus, StepRecord, Store,
};

use crate::common::{botflow, text};

/// SplitMix64: enough randomness for kill delays, and replayable.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `BOTFLOW_TEST_SEED` or the clock; prints the seed so a
    /// failing run can be replayed.
    pub fn seeded(test: &str) -> Rng {
        let seed = std::env::var("BOTFLOW_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(7, |d| d.as_nanos() as u64)
            });
        println!("{test}: seed {seed} (replay with BOTFLOW_TEST_SEED={seed})");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// A pause of `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.between(lo, hi))
    }
}

/// A `botflow worker` process whose output goes to a log file in `dir`
/// (pipes nobody reads could fill up and stall it).
pub struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    pub fn start(bots: &Path, db: &Path, dir: &Path, n: usize) -> Worker {
        let log = dir.join(format!("worker-{n}.log"));
        let out = File::create(&log).expect("the worker's log");
        let err = out.try_clone().expect("the worker's log, again");
        let child = botflow()
            .args(["worker", "--poll-ms", "100", "--bots"])
            .arg(bots)
            .arg("--db")
            .arg(db)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("botflow worker starts");
        Worker { child, log }
    }

    /// SIGKILL, then reap. Returns false when the worker had already exited
    /// (which a worker never does on its own: the caller fails the test).
    pub fn kill(mut self) -> bool {
        // `Drop` does the killing.
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the worker printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A worker is never left behind, not even by a failing test.
impl Drop for Worker {
    fn drop(&mut self) {
        // `Child::kill` is SIGKILL on Unix.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `botflow` subcommand spawned with its stdout and stderr piped, to be
/// SIGKILLed or waited for.
pub fn spawn(args: &[&str], db: &Path, envs: &[(&str, &str)]) -> Child {
    let mut command = botflow();
    command.args(args).arg("--db").arg(db);
    for (k, v) in envs {
        command.env(k, v);
    }
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("botflow starts")
}

/// Waits for a spawned process, killing it after `deadline` so a hang
/// fails the test instead of blocking it.
pub fn finish(mut child: Child, deadline: Duration) -> Output {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("the process's output");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("the process's output");
    panic!(
        "botflow did not finish within {deadline:?}: {}",
        text(&output.stderr)
    );
}

/// `botflow run BOTS --id ID --no-prompt --wait-timers 0 --input JSON` for
/// each (id, input), a few at a time; every run must stop waiting (exit 3).
pub fn start_runs(bots: &Path, db: &Path, runs: &[(String, String)]) {
    // The first one alone: it creates the database and its schema.
    for batch in std::iter::once(&runs[..1]).chain(runs[1..].chunks(4)) {
        let children: Vec<(String, Child)> = batch
            .iter()
            .map(|(id, input)| {
                let bots = bots.to_str().expect("a UTF-8 path");
                let args = [
                    "run",
                    bots,
                    "--id",
                    id,
                    "--no-prompt",
                    "--wait-timers",
                    "0",
                    "--input",
                    input,
                ];
                (
                    id.clone(),
                    spawn(&args, db, &[("BOTFLOW_USER", "clerk@example.com")]),
                )
            })
            .collect();
        for (id, child) in children {
            let output = finish(child, Duration::from_secs(60));
            assert_eq!(
                output.status.code(),
                Some(3),
                "run {id} stops waiting (exit 3): {}",
                text(&output.stderr)
            );
        }
    }
}

/// A read-only look at the store the processes share.
pub struct Db {
    rt: tokio::runtime::Runtime,
    store: AnyStore,
}

impl Db {
    pub fn open(db: &Path) -> Db {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let url = db.to_str().expect("a UTF-8 path").to_owned();
        let store = rt.block_on(AnyStore::open(&url)).expect("the store opens");
        Db { rt, store }
    }

    pub fn run(&self, id: &str) -> RunRecord {
        self.rt
            .block_on(self.store.run(id))
            .expect("read the run")
            .unwrap_or_else(|| panic!("run {id} exists"))
    }

    pub fn steps(&self, id: &str) -> Vec<StepRecord> {
        self.rt
            .block_on(self.store.steps(id))
            .expect("read the steps")
    }

    pub fn journal(&self, id: &str) -> Vec<JournalEntry> {
        self.rt
            .block_on(self.store.journal(id))
            .expect("read the journal")
    }

    /// Journal entries of this kind.
    pub fn journal_kind(&self, id: &str, kind: &str) -> Vec<JournalEntry> {
        self.journal(id)
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect()
    }

    pub fn approvals(&self) -> Vec<ApprovalRecord> {
        self.rt
            .block_on(self.store.approvals(ApprovalFilter {
                limit: 10_000,
                ..ApprovalFilter::default()
            }))
            .expect("read the approvals")
    }

    pub fn audit(&self, id: &str) -> Vec<ApprovalAudit> {
        self.rt
            .block_on(self.store.approval_audit(id))
            .expect("read the audit trail")
    }

    pub fn events(&self, name: &str) -> Vec<EventRecord> {
        self.rt
            .block_on(self.store.events(EventFilter {
                name: Some(name.to_owned()),
                limit: 10_000,
                ..EventFilter::default()
            }))
            .expect("read the events")
    }

    /// How many runs are not ended yet.
    pub fn unfinished(&self) -> usize {
        let runs = self
            .rt
            .block_on(self.store.list_runs(RunFilter {
                limit: 10_000,
                ..RunFilter::default()
            }))
            .expect("list the runs");
        runs.iter().filter(|r| !r.status.is_terminal()).count()
    }

    /// Polls until every run has ended; false after `deadline`.
    pub fn wait_all_ended(&self, deadline: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if self.unfinished() == 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn status(&self, id: &str) -> RunStatus {
        self.run(id).status
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.rt.block_on(self.store.close());
    }
}
