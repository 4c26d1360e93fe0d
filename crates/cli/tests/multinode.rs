//! Many nodes on one PostgreSQL with Redis wake-ups (issue 7), with real
//! `botflow worker` processes and real signals:
//!
//! - three workers share a workload of runs with steps, a `PARALLEL` and
//!   human approvals (decided by `botflow approve` processes); one worker is
//!   SIGKILLed at a random moment, later another: every run completes, every
//!   step is recorded once, and the time until the killed node's runs move
//!   again is printed;
//! - a worker paused (SIGSTOP) past its lease while it drives runs: another
//!   takes them over and finishes them; resumed (SIGCONT), the paused worker's
//!   writes are refused, it says so and lets go, and every step is recorded once.
//!
//! Both check with the fencing epochs that no run ever had two concurrent
//! drivers: every change of a run's row is recorded with its lease epoch and
//! node (`Db::record_commits`), and every commit must be fenced by the epoch
//! of the one node that claimed it, epochs never going down.
//!
//! The kill test starts 1,000 runs when `CI=true` (about 45 s on a 2-core
//! machine), 300 otherwise; `BOTFLOW_MULTINODE_RUNS=N` (at least 60) sets it.
//!
//! PostgreSQL comes from `BOTFLOW_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`), Redis from `BOTFLOW_TEST_REDIS`
//! (default `redis://127.0.0.1:6379`); unreachable, a test prints a notice and
//! passes, unless `CI=true`. Each test has its own schema, and so its own
//! wake-up channel. See the printed figures with
//! `cargo test -p botflow --test multinode -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use runtime::WakeupConfig;
use serde_json::json;
use store::{AnyStore, ApprovalFilter, ApprovalStatus, RunStatus, Store};

mod common;

use common::pg::{Db, Rng, Worker, deployment, in_ci, redis};
use common::{botflow, text};

const BOSS: &str = "boss@example.com";
/// The lease of every process here: a dead or paused node's runs move after it.
const LEASE_MS: &str = "1500";

/// Polls until every run in `held` has moved on from the epoch it had:
/// claimed by another node. Returns how long that took.
fn taken_over(db: &Db, held: &BTreeMap<String, i64>, since: Instant) -> Option<Duration> {
    while since.elapsed() < Duration::from_secs(30) {
        let runs = db.runs();
        let moved = held.iter().all(|(id, epoch)| {
            runs.get(id)
                .is_some_and(|r| r.lease_epoch > *epoch || r.status.is_terminal())
        });
        if moved {
            return Some(since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    None
}

/// Waits (a little) until `node` drives at least one run; returns them.
fn wait_until_holding(db: &Db, node: &str, within: Duration) -> BTreeMap<String, i64> {
    let start = Instant::now();
    loop {
        let held = db.held_by(node);
        if !held.is_empty() || start.elapsed() > within {
            return held;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How many runs the kill test starts: `BOTFLOW_MULTINODE_RUNS`, else 1,000
/// when `CI=true` (the figure), else 300 (quicker on a laptop).
fn workload_size() -> usize {
    std::env::var("BOTFLOW_MULTINODE_RUNS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .filter(|&n: &usize| n >= 60)
        .unwrap_or(if in_ci() { 1_000 } else { 300 })
}

#[test]
fn three_workers_share_the_runs_and_two_sigkills_lose_none_and_record_each_step_once() {
    const TEST: &str = "multinode kill";
    let total = workload_size();
    // One run in ten waits for an approval; the batches below come in sixes.
    let gates = (total / 60).max(1) * 6;
    let plain = (total - gates).max(6);
    let Some(redis) = redis(TEST) else {
        return;
    };
    let Some(db) = Db::open(TEST) else {
        return;
    };
    db.record_commits();
    let mut rng = Rng::seeded(TEST);
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let started_at = Instant::now();
    let mut workers: Vec<Worker> = (0..3)
        .map(|n| Worker::start(&bots, &db, Some(&redis), dir.path(), n, 500, LEASE_MS))
        .collect();
    let nodes: Vec<String> = workers.iter().map(Worker::node).collect();
    let starter = db.starter(&bots, WakeupConfig::redis(&redis).expect("the Redis URL"));

    // The approver: decides every request as it appears, with `botflow approve`.
    let done = Arc::new(AtomicBool::new(false));
    let approver = {
        let done = done.clone();
        let (url, redis, bots) = (db.url.clone(), redis.clone(), bots.clone());
        let look = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let store = look
            .block_on(AnyStore::open(&url))
            .expect("the approver's store opens");
        std::thread::spawn(move || {
            let mut decided: BTreeSet<String> = BTreeSet::new();
            let mut failures = Vec::new();
            while !done.load(Ordering::SeqCst) && decided.len() < gates {
                let pending: Vec<String> = look
                    .block_on(store.approvals(ApprovalFilter {
                        status: Some(ApprovalStatus::Pending),
                        limit: 10_000,
                        ..ApprovalFilter::default()
                    }))
                    .expect("read the approvals")
                    .into_iter()
                    .map(|a| a.id)
                    .filter(|id| !decided.contains(id))
                    .take(4)
                    .collect();
                let children: Vec<(String, Child)> = pending
                    .into_iter()
                    .map(|id| {
                        let child = botflow()
                            .env("BOTFLOW_LEASE_MS", LEASE_MS)
                            .args(["approve", &id, "--as", BOSS, "--bots"])
                            .arg(&bots)
                            .args(["--db", &url, "--redis", &redis])
                            .stdout(Stdio::piped())
                            .stderr(Stdio::piped())
                            .spawn()
                            .expect("botflow approve starts");
                        (id, child)
                    })
                    .collect();
                for (id, child) in children {
                    let output = child.wait_with_output().expect("botflow approve ends");
                    if !output.status.success() {
                        failures.push(format!("{id}: {}", text(&output.stderr)));
                    }
                    decided.insert(id);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            look.block_on(store.close());
            (decided.len(), failures)
        })
    };

    // The workload arrives in batches while the workers run; a worker is
    // killed at a random moment after each half, once it drives something.
    let plain_ids: Vec<String> = (0..plain).map(|i| format!("m-{i:04}")).collect();
    let gated: Vec<String> = (0..gates).map(|i| format!("g-{i:04}")).collect();
    let batches: Vec<(&[String], &[String])> = plain_ids
        .chunks(plain.div_ceil(6))
        .zip(gated.chunks(gates / 6))
        .collect();
    let mut takeovers = Vec::new();
    for (victim, half) in batches.chunks(3).enumerate() {
        // The kill comes after the second batch of the half, the third after it.
        let (before, after) = half.split_at(2.min(half.len()));
        for (m, g) in before {
            db.start(&starter, "multi", m);
            db.start(&starter, "gated", g);
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(rng.millis(0, 300));
        let held_before = wait_until_holding(&db, &nodes[victim], Duration::from_secs(3));
        assert!(workers[victim].kill(), "worker {victim} was still running");
        let killed = Instant::now();
        // What it held when it died (its last commits may have landed meanwhile).
        let held: BTreeMap<String, i64> = held_before
            .into_iter()
            .filter(|(id, epoch)| {
                let run = db.run(id);
                run.status == RunStatus::Running && run.lease_epoch == *epoch
            })
            .collect();
        let took = taken_over(&db, &held, killed);
        assert!(
            took.is_some(),
            "the runs worker {victim} held were taken over within 30 s: {held:?}"
        );
        takeovers.push((victim, held.len(), took));
        for (m, g) in after {
            db.start(&starter, "multi", m);
            db.start(&starter, "gated", g);
        }
    }

    // A second per ten runs is far more than they take: a bound, not a target.
    let ended = db.wait_all_ended(Duration::from_secs(45 + total as u64 / 10));
    done.store(true, Ordering::SeqCst);
    let (decisions, failures) = approver.join().expect("the approver thread");
    let survivor_log = workers[2].log();
    assert!(
        ended,
        "every run ended ({} unfinished); survivor: {survivor_log}",
        db.unfinished()
    );
    assert!(failures.is_empty(), "every approve succeeded: {failures:?}");
    assert_eq!(decisions, gates, "every request was decided");

    let runs = db.runs();
    assert_eq!(runs.len(), plain + gates, "no run lost, none added");
    let (mut steps, mut repeated) = (0, 0);
    for id in plain_ids.iter().chain(&gated) {
        let (s, r) = db.assert_recorded_once(id);
        steps += s;
        repeated += r;
    }
    for id in &gated {
        assert_eq!(
            db.run(id).result,
            Some(json!(true)),
            "{id} saw its approval"
        );
    }
    let (checked, commits, claims) = db.assert_one_driver_per_epoch();
    assert_eq!(checked, runs.len(), "the commit log saw every run");
    let elapsed = started_at.elapsed();
    println!(
        "multinode kill: {} runs ({plain} with a PARALLEL, {gates} also with an approval decided \
         by `botflow approve`), 3 workers, 2 SIGKILLs; all completed in {:.1} s; {steps} steps \
         recorded once each; {repeated} bot attempts repeated after a kill",
        runs.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "multinode kill: {commits} commits under {claims} claims, each fenced by the epoch of the \
         one node holding it; epochs never went down and no commit was lost or applied twice"
    );
    for (victim, held, took) in takeovers {
        match took {
            Some(took) if held > 0 => println!(
                "multinode kill: worker {victim} killed holding {held} running run(s); all taken \
                 over by live nodes {} ms after the kill (lease {LEASE_MS} ms, poll 500 ms)",
                took.as_millis()
            ),
            _ => println!("multinode kill: worker {victim} killed holding no running run"),
        }
    }
    drop(workers);
}

#[test]
fn a_paused_worker_past_its_lease_is_fenced_and_lets_go_and_each_step_is_recorded_once() {
    const TEST: &str = "stale node";
    const RUNS: usize = 120;
    let Some(redis) = redis(TEST) else {
        return;
    };
    let Some(db) = Db::open(TEST) else {
        return;
    };
    db.record_commits();
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let starter = db.starter(&bots, WakeupConfig::redis(&redis).expect("the Redis URL"));

    // Only the first worker runs while the runs start, so it holds many.
    let first = Worker::start(&bots, &db, Some(&redis), dir.path(), 1, 300, LEASE_MS);
    let node = first.node();
    let ids: Vec<String> = (0..RUNS).map(|i| format!("s-{i:03}")).collect();
    db.start(&starter, "long", &ids);
    let mut held = BTreeMap::new();
    for _ in 0..50 {
        let seen = wait_until_holding(&db, &node, Duration::from_secs(10));
        first.signal("-STOP");
        // Paused, it commits nothing more: what it still holds now, it holds.
        std::thread::sleep(Duration::from_millis(100));
        held = db.held_by(&node);
        if !seen.is_empty() && !held.is_empty() {
            break;
        }
        first.signal("-CONT");
    }
    assert!(!held.is_empty(), "the paused worker held runs");
    let paused = Instant::now();

    // Another node takes them over once the lease lapses, and ends them.
    let mut second = Worker::start(&bots, &db, Some(&redis), dir.path(), 2, 300, LEASE_MS);
    let took = taken_over(&db, &held, paused).expect("the held runs were taken over");
    let finished = {
        let start = Instant::now();
        loop {
            let runs = db.runs();
            if held
                .keys()
                .all(|id| runs.get(id).is_some_and(|r| r.status.is_terminal()))
            {
                break true;
            }
            if start.elapsed() > Duration::from_secs(30) {
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert!(finished, "the other node ended the runs it took over");

    // Resumed, the paused worker finds its writes refused and lets go of
    // every run it held: fenced by the lease epoch ("taken over"), or, when
    // the pause caught it inside a commit, that transaction was ended by the
    // server (the session idled in it too long) and nothing of it landed.
    first.signal("-CONT");
    let reported = |marker: &str| -> BTreeSet<String> {
        first
            .log()
            .lines()
            .filter(|l| l.contains(marker))
            .filter_map(|l| l.split(':').next().map(str::to_owned))
            .collect()
    };
    const FENCED: &str = ": taken over by another node";
    const ABORTED: &str = ": committing a durable point failed";
    let start = Instant::now();
    let (fenced, aborted) = loop {
        let (fenced, aborted) = (reported(FENCED), reported(ABORTED));
        if fenced.union(&aborted).count() >= held.len() || start.elapsed() > Duration::from_secs(20)
        {
            break (fenced, aborted);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let let_go: BTreeSet<&String> = fenced.union(&aborted).collect();
    // When the pause caught one group commit holding every held run, the
    // server ended it and no write of the resumed worker reaches the fence:
    // all are "aborted". Either way each held run is let go (below), and the
    // epoch log shows no write of it landed after the takeover.
    assert!(
        !fenced.is_empty() || !aborted.is_empty(),
        "the resumed worker said its runs were taken over or its commit failed: {}",
        first.log()
    );
    assert_eq!(
        let_go,
        held.keys().collect(),
        "the resumed worker let go of every run it held, and only those: {}",
        first.log()
    );
    // It lets go and keeps working: the rest of the runs end.
    assert!(
        db.wait_all_ended(Duration::from_secs(30)),
        "every run ended; first: {}; second: {}",
        first.log(),
        second.log()
    );
    let (mut steps, mut repeated) = (0, 0);
    for id in &ids {
        let (s, r) = db.assert_recorded_once(id);
        steps += s;
        repeated += r;
    }
    // The paused node's writes after the takeover never landed.
    let (_, commits, claims) = db.assert_one_driver_per_epoch();
    for id in held.keys() {
        let run = db.run(id);
        assert_ne!(
            run.lease_owner.as_deref(),
            Some(node.as_str()),
            "{id}: the paused node did not get it back"
        );
    }
    let mut first = first;
    assert!(
        first.kill(),
        "the first worker kept running after it let go"
    );
    assert!(second.kill(), "the second worker kept running");
    println!(
        "stale node: paused holding {} run(s); taken over after {} ms (lease {LEASE_MS} ms); \
         on resume it let go of all of them ({} fenced by their lease epoch, {} whose commit the \
         server had aborted during the pause); {RUNS} runs completed, {steps} steps recorded once \
         each, {repeated} bot attempts repeated; {commits} commits under {claims} claims, each \
         fenced by the epoch of the one node holding it",
        held.len(),
        took.as_millis(),
        fenced.len(),
        aborted.len()
    );
}
