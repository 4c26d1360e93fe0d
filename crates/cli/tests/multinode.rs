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
//! PostgreSQL comes from `BOTFLOW_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`), Redis from `BOTFLOW_TEST_REDIS`
//! (default `redis://127.0.0.1:6379`); unreachable, a test prints a notice and
//! passes, unless `CI=true`. Each test has its own schema, and so its own
//! wake-up channel. See the printed figures with
//! `cargo test -p botflow --test multinode -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use runtime::{Options, Runtime, WakeupConfig};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use store::{
    AnyStore, ApprovalFilter, ApprovalStatus, RunFilter, RunRecord, RunStatus, StepStatus, Store,
};

mod common;

use common::{botflow, text};

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
const BOSS: &str = "boss@example.com";
/// The lease of every process here: a dead or paused node's runs move after it.
const LEASE_MS: &str = "1500";

/// Steps, then two branches at once, then a last step.
const MULTI: &str = r#"ORCHESTRATE WORKFLOW "multi"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: PARALLEL
    BRANCH A: BOT "clerk" "file"
    BRANCH B: BOT "clerk" "check"
  END PARALLEL
  STEP 3: BOT "clerk" "close"
  RETURN "done"
END WORKFLOW
"#;

/// The same around a human approval.
const GATED: &str = r#"ORCHESTRATE WORKFLOW "gated"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: HUMAN APPROVAL FROM "boss@example.com"
    TIMEOUT 600
    ON DENY: CONTINUE
  STEP 3: PARALLEL
    BRANCH A: BOT "clerk" "file"
    BRANCH B: BOT "clerk" "check"
  END PARALLEL
  STEP 4: BOT "clerk" "close"
  RETURN approval.approved
END WORKFLOW
"#;

/// Six steps one after the other: runs that keep a driver busy a while.
const LONG: &str = r#"ORCHESTRATE WORKFLOW "long"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: BOT "clerk" "file"
  STEP 3: BOT "clerk" "check"
  STEP 4: BOT "clerk" "file"
  STEP 5: BOT "clerk" "check"
  STEP 6: BOT "clerk" "close"
  RETURN "done"
END WORKFLOW
"#;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn skip(test: &str, what: &str, why: &str) {
    assert!(!in_ci(), "{what} is unreachable and CI=true: {why}");
    eprintln!("notice: skipping {test}: {what} unreachable: {why}");
}

/// SplitMix64, seeded from `BOTFLOW_TEST_SEED` or the clock (printed).
struct Rng(u64);

impl Rng {
    fn seeded(test: &str) -> Rng {
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

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Duration::from_millis(lo + z % (hi - lo + 1))
    }
}

/// A fresh schema of the test database and a store on it, through which
/// the test starts runs and looks at what the workers did.
struct Db {
    rt: tokio::runtime::Runtime,
    base: String,
    schema: String,
    /// The URL the processes get: the schema as the search path.
    url: String,
    store: AnyStore,
}

impl Db {
    fn open(test: &str) -> Option<Db> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let base = std::env::var("BOTFLOW_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let schema = format!("mn_{}", uuid::Uuid::now_v7().simple());
        let created = rt.block_on(async {
            let mut conn =
                tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&base))
                    .await
                    .map_err(|_| "timed out after 5 s".to_owned())?
                    .map_err(|e| e.to_string())?;
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok::<_, String>(())
        });
        if let Err(why) = created {
            skip(test, &base, &why);
            return None;
        }
        let glue = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{glue}options=-c%20search_path%3D{schema}");
        let store = rt
            .block_on(AnyStore::open(&url))
            .expect("the store opens on the new schema");
        Some(Db {
            rt,
            base,
            schema,
            url,
            store,
        })
    }

    fn run(&self, id: &str) -> RunRecord {
        self.rt
            .block_on(self.store.run(id))
            .expect("read the run")
            .unwrap_or_else(|| panic!("run {id} exists"))
    }

    /// Every run, by id.
    fn runs(&self) -> BTreeMap<String, RunRecord> {
        self.rt.block_on(async {
            let summaries = self
                .store
                .list_runs(RunFilter {
                    limit: 10_000,
                    ..RunFilter::default()
                })
                .await
                .expect("list the runs");
            let mut runs = BTreeMap::new();
            for summary in summaries {
                if let Some(run) = self.store.run(&summary.id).await.expect("read a run") {
                    runs.insert(run.id.clone(), run);
                }
            }
            runs
        })
    }

    fn unfinished(&self) -> usize {
        self.rt
            .block_on(self.store.list_runs(RunFilter {
                limit: 10_000,
                ..RunFilter::default()
            }))
            .expect("list the runs")
            .iter()
            .filter(|r| !r.status.is_terminal())
            .count()
    }

    fn wait_all_ended(&self, deadline: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if self.unfinished() == 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Runs `node` drives right now: `running`, leased to it, lease not lapsed.
    fn held_by(&self, node: &str) -> BTreeMap<String, i64> {
        let now = now_ms();
        self.runs()
            .into_values()
            .filter(|r| {
                r.status == RunStatus::Running
                    && r.lease_owner.as_deref() == Some(node)
                    && r.lease_until.is_some_and(|until| until > now)
            })
            .map(|r| (r.id, r.lease_epoch))
            .collect()
    }

    /// A runtime of the test's own, a node that starts runs (and rings its
    /// wake-up over Redis); it drives nothing.
    fn starter(&self, bots: &Path, redis: &str) -> Runtime {
        let deployment = bots::load_deployment(bots).expect("the deployment loads");
        let wakeups = WakeupConfig::redis(redis).expect("the Redis URL");
        let store = self.store.clone();
        self.rt.block_on(async move {
            Runtime::new(
                store,
                deployment,
                Options {
                    wakeups,
                    ..Options::default()
                },
            )
        })
    }

    /// Starts runs of `workflow` with these ids, in one transaction.
    fn start(&self, starter: &Runtime, workflow: &str, ids: &[String]) {
        self.rt.block_on(async {
            let workflow = starter.workflow(Some(workflow)).expect("the workflow");
            let runs = ids.iter().map(|id| (json!({}), Some(id.clone()))).collect();
            let started = starter
                .start_many(&workflow, runs)
                .await
                .expect("the runs start");
            assert!(started.iter().all(|(_, created)| *created), "new runs");
            starter.flush_wakeups(Duration::from_secs(2)).await;
        });
    }

    /// What every run must show at the end: completed, every step row
    /// `done`, one `step_finished` per step row, one `run_completed`.
    /// Returns (steps, repeated bot attempts).
    fn assert_recorded_once(&self, id: &str) -> (usize, i64) {
        let run = self.run(id);
        assert_eq!(run.status, RunStatus::Completed, "{id}: {:?}", run.error);
        let (steps, journal) = self.rt.block_on(async {
            (
                self.store.steps(id).await.expect("read the steps"),
                self.store.journal(id).await.expect("read the journal"),
            )
        });
        assert!(!steps.is_empty(), "{id} recorded its steps");
        for step in &steps {
            assert_eq!(step.status, StepStatus::Done, "{id} step {}", step.path);
        }
        let mut finished: BTreeMap<String, usize> = BTreeMap::new();
        for entry in journal.iter().filter(|e| e.kind == "step_finished") {
            let path = entry.data["path"].as_str().unwrap_or_default().to_owned();
            *finished.entry(path).or_default() += 1;
        }
        // Every numbered step journals its end; a branch's bot call is a
        // step row of its own (`2/A`) that ends with its `PARALLEL`.
        let numbered: BTreeSet<&str> = steps
            .iter()
            .map(|s| s.path.as_str())
            .filter(|p| !p.contains('/'))
            .collect();
        let journaled: BTreeSet<&str> = finished.keys().map(String::as_str).collect();
        assert_eq!(
            journaled, numbered,
            "{id}: one step_finished per numbered step"
        );
        assert!(
            finished.values().all(|&n| n == 1),
            "{id}: a step finished twice: {finished:?}"
        );
        let completed = journal.iter().filter(|e| e.kind == "run_completed").count();
        assert_eq!(completed, 1, "{id}: the run completed once");
        let repeated = steps
            .iter()
            .filter(|s| s.kind == "bot")
            .map(|s| i64::from(s.attempts - 1))
            .sum();
        (steps.len(), repeated)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.rt.block_on(async {
            self.store.close().await;
            if let Ok(mut conn) = PgConnection::connect(&self.base).await {
                // Best effort: a leftover schema harms no other test.
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP SCHEMA {} CASCADE",
                    self.schema
                )))
                .execute(&mut conn)
                .await;
                let _ = conn.close().await;
            }
        });
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The test Redis, or `None` (after a notice) when nothing answers there.
fn redis(test: &str) -> Option<String> {
    let url = std::env::var("BOTFLOW_TEST_REDIS").unwrap_or_else(|_| DEFAULT_REDIS.to_owned());
    let authority = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or_default();
    let hostport = authority.rsplit('@').next().unwrap_or_default();
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|addr| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)));
    match reachable {
        Some(Ok(_)) => Some(url),
        Some(Err(error)) => {
            skip(test, &url, &error.to_string());
            None
        }
        None => {
            skip(test, &url, "the address does not resolve");
            None
        }
    }
}

/// A bots folder: the workflows and the `clerk` bot, one tool script per action.
fn deployment(dir: &Path) -> PathBuf {
    let bots = dir.join("bots");
    let flow = bots.join("flow.gbai/flow.gbdialog");
    let clerk = bots.join("clerk.gbai/clerk.gbdialog");
    std::fs::create_dir_all(&flow).expect("the workflow package");
    std::fs::create_dir_all(&clerk).expect("the clerk package");
    for (file, source) in [
        ("multi.bas", MULTI),
        ("gated.bas", GATED),
        ("long.bas", LONG),
    ] {
        std::fs::write(flow.join(file), source).expect("a workflow");
    }
    for action in ["prepare", "file", "check", "close"] {
        let tool = format!("DESCRIPTION \"{action}s the case\"\nRETURN {{\"{action}\": TRUE}}\n");
        std::fs::write(clerk.join(format!("{action}.bas")), tool).expect("a tool script");
    }
    bots
}

/// A `botflow worker` on the shared database and Redis, its output in a file.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(bots: &Path, db: &Db, redis: &str, dir: &Path, n: usize, poll_ms: u64) -> Worker {
        let log = dir.join(format!("worker-{n}.log"));
        let out = File::create(&log).expect("the worker's log");
        let err = out.try_clone().expect("the worker's log, again");
        let child = botflow()
            .env("BOTFLOW_LEASE_MS", LEASE_MS)
            .args(["worker", "--poll-ms", &poll_ms.to_string(), "--bots"])
            .arg(bots)
            .args(["--db", &db.url, "--redis", redis])
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("botflow worker starts");
        Worker { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The node id it printed at start (waits for it).
    fn node(&self) -> String {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.starts_with("worker "))
                && let Some(id) = line.split_whitespace().nth(1)
            {
                return id.to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the worker never said it started: {}", self.log());
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal}");
    }

    /// SIGKILL and reap; false when it had already exited (workers never do).
    fn kill(&mut self) -> bool {
        let alive = matches!(self.child.try_wait(), Ok(None));
        let _ = self.child.kill();
        let _ = self.child.wait();
        alive
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

#[test]
fn three_workers_share_the_runs_and_two_sigkills_lose_none_and_record_each_step_once() {
    const TEST: &str = "multinode kill";
    const PLAIN: usize = 270;
    const GATES: usize = 30;
    let Some(redis) = redis(TEST) else {
        return;
    };
    let Some(db) = Db::open(TEST) else {
        return;
    };
    let mut rng = Rng::seeded(TEST);
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let started_at = Instant::now();
    let mut workers: Vec<Worker> = (0..3)
        .map(|n| Worker::start(&bots, &db, &redis, dir.path(), n, 500))
        .collect();
    let nodes: Vec<String> = workers.iter().map(Worker::node).collect();
    let starter = db.starter(&bots, &redis);

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
            while !done.load(Ordering::SeqCst) && decided.len() < GATES {
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
    let plain: Vec<String> = (0..PLAIN).map(|i| format!("m-{i:03}")).collect();
    let gated: Vec<String> = (0..GATES).map(|i| format!("g-{i:03}")).collect();
    let batches: Vec<(&[String], &[String])> = plain
        .chunks(PLAIN / 6)
        .zip(gated.chunks(GATES / 6))
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

    let ended = db.wait_all_ended(Duration::from_secs(45));
    done.store(true, Ordering::SeqCst);
    let (decisions, failures) = approver.join().expect("the approver thread");
    let survivor_log = workers[2].log();
    assert!(
        ended,
        "every run ended ({} unfinished); survivor: {survivor_log}",
        db.unfinished()
    );
    assert!(failures.is_empty(), "every approve succeeded: {failures:?}");
    assert_eq!(decisions, GATES, "every request was decided");

    let runs = db.runs();
    assert_eq!(runs.len(), PLAIN + GATES, "no run lost, none added");
    let (mut steps, mut repeated) = (0, 0);
    for id in plain.iter().chain(&gated) {
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
    let elapsed = started_at.elapsed();
    println!(
        "multinode kill: {} runs ({PLAIN} with a PARALLEL, {GATES} also with an approval decided \
         by `botflow approve`), 3 workers, 2 SIGKILLs; all completed in {:.1} s; {steps} steps \
         recorded once each; {repeated} bot attempts repeated after a kill",
        runs.len(),
        elapsed.as_secs_f64()
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
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let starter = db.starter(&bots, &redis);

    // Only the first worker runs while the runs start, so it holds many.
    let first = Worker::start(&bots, &db, &redis, dir.path(), 1, 300);
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
    let mut second = Worker::start(&bots, &db, &redis, dir.path(), 2, 300);
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
    assert!(
        !fenced.is_empty(),
        "the resumed worker said its runs were taken over: {}",
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
         each, {repeated} bot attempts repeated",
        held.len(),
        took.as_millis(),
        fenced.len(),
        aborted.len()
    );
}
