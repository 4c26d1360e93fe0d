//! Faults under load and bad input at start-up, for nodes on PostgreSQL
//! (issue 7), with real `botflow worker` processes:
//!
//! - the database ends the workers' sessions (`pg_terminate_backend`, only
//!   those of this test's workers, found by their application name) again
//!   and again while runs are in flight: the workers keep running, every
//!   run completes, every step is recorded once, one driver per lease epoch;
//! - the Redis the workers wake each other through (a `redis-server` of the
//!   test's own, on a free port) is killed under load and started again on
//!   the same port: no run is lost or duplicated, the workers keep running
//!   on their polls meanwhile, and they say when wake-ups are lost and back;
//! - at start-up: a database that does not answer is tried again with
//!   back-off, each attempt printed, then given up with a precise message;
//!   an unknown user or database, a schema newer than the binary, and a
//!   Redis that refuses each give a precise message.
//!
//! PostgreSQL and Redis as in `common/pg.rs`; `redis-server` from
//! `BOTFLOW_TEST_REDIS_SERVER` (default: the one on the `PATH`). Unavailable,
//! a test prints a notice and passes, unless `CI=true`. See the figures with
//! `cargo test -p botflow --test faults -- --nocapture`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runtime::WakeupConfig;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use store::RunStatus;

mod common;

use common::pg::{Db, Worker, deployment, skip};
use common::{botflow, text};

/// The lease of every worker here: a run whose commit was cut off moves after it.
const LEASE_MS: &str = "1500";

/// Ends every session of this test's workers (their application name is
/// the test's schema); the test's own sessions are left alone. Returns how
/// many it ended.
fn terminate_worker_sessions(db: &Db) -> i64 {
    db.rt.block_on(async {
        let mut conn = PgConnection::connect(&db.base)
            .await
            .expect("connect to end the workers' sessions");
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&db.schema)
        .fetch_one(&mut conn)
        .await
        .expect("end the workers' sessions");
        let _ = conn.close().await;
        ended
    })
}

/// Every run ends completed with each step recorded once, and the commit
/// log shows one driver per epoch. Returns (steps, repeated bot attempts, commits).
fn assert_all_recorded_once(db: &Db, ids: &[String]) -> (usize, i64, usize) {
    let runs = db.runs();
    assert_eq!(runs.len(), ids.len(), "no run lost, none added");
    let (mut steps, mut repeated) = (0, 0);
    for id in ids {
        let (s, r) = db.assert_recorded_once(id);
        steps += s;
        repeated += r;
    }
    let (checked, commits, _) = db.assert_one_driver_per_epoch();
    assert_eq!(checked, ids.len(), "the commit log saw every run");
    (steps, repeated, commits)
}

/// What a worker logs when it could not look for due runs, and tries again.
const CLAIM_FAILED: &str = "looking for due runs failed";

#[test]
fn workers_whose_database_sessions_are_ended_under_load_keep_running_and_lose_nothing() {
    const TEST: &str = "terminated sessions";
    const BATCHES: usize = 6;
    const PER_BATCH: usize = 30;
    let Some(db) = Db::open(TEST) else {
        return;
    };
    db.record_commits();
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    // Wake-ups over LISTEN/NOTIFY: the listening sessions are ended too.
    let mut workers: Vec<Worker> = (0..2)
        .map(|n| Worker::start(&bots, &db, None, dir.path(), n, 300, LEASE_MS))
        .collect();
    for worker in &workers {
        worker.node();
    }
    let starter = db.starter(&bots, WakeupConfig::Postgres { channel: None });

    let started_at = Instant::now();
    let mut ids = Vec::new();
    let mut ended_sessions = Vec::new();
    for batch in 0..BATCHES {
        let workflow = if batch % 2 == 0 { "long" } else { "multi" };
        let batch_ids: Vec<String> = (0..PER_BATCH)
            .map(|i| format!("t-{batch}-{i:02}"))
            .collect();
        db.start(&starter, workflow, &batch_ids);
        ids.extend(batch_ids);
        // The runs are in flight: cut every session of the workers.
        std::thread::sleep(Duration::from_millis(150));
        ended_sessions.push(terminate_worker_sessions(&db));
        std::thread::sleep(Duration::from_millis(250));
    }
    // Then a burst while the last runs are driven: sessions ended every
    // 20 ms for 1.5 s, so some die in the middle of a claim or a renewal too.
    let burst = Instant::now();
    while burst.elapsed() < Duration::from_millis(1500) {
        ended_sessions.push(terminate_worker_sessions(&db));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        ended_sessions.iter().sum::<i64>() > 0,
        "the test found its workers' sessions to end"
    );

    let ended = db.wait_all_ended(Duration::from_secs(90));
    let logs: Vec<String> = workers.iter().map(Worker::log).collect();
    assert!(
        ended,
        "every run ended ({} unfinished); logs: {logs:#?}",
        db.unfinished()
    );
    for (n, worker) in workers.iter_mut().enumerate() {
        assert!(
            worker.alive(),
            "worker {n} kept running without a restart: {}",
            worker.log()
        );
    }
    let (steps, repeated, commits) = assert_all_recorded_once(&db, &ids);
    // What the workers said: claims that failed (and were tried again), and
    // passes of a run that failed (the run was claimed again later).
    let said = |marker: &str| -> usize {
        logs.iter()
            .map(|log| log.lines().filter(|l| l.contains(marker)).count())
            .sum()
    };
    let (claims_failed, passes_failed) = (said(CLAIM_FAILED), said("t-"));
    println!(
        "terminated sessions: {} runs, 2 workers, their sessions ended {} times ({} sessions in \
         all, the last ones in a burst); every run completed in {:.1} s without a worker restart; {steps} steps recorded \
         once each, {commits} commits fenced by one node per epoch; {repeated} bot attempts \
         repeated; the workers logged {claims_failed} failed claims (tried again) and \
         {passes_failed} failed passes of a run (claimed again after its lease)",
        ids.len(),
        ended_sessions.len(),
        ended_sessions.iter().sum::<i64>(),
        started_at.elapsed().as_secs_f64()
    );
}

/// A `redis-server` of the test's own on `port`, without persistence.
struct RedisServer {
    child: Child,
}

impl RedisServer {
    fn program() -> String {
        std::env::var("BOTFLOW_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
    }

    /// Starts it and waits until it takes connections; `None` when the
    /// program cannot be started.
    fn start(port: u16, dir: &Path) -> Option<RedisServer> {
        let child = Command::new(Self::program())
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut server = RedisServer { child };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            if !matches!(server.child.try_wait(), Ok(None)) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        None
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until every log says `marker`; false after `within`.
fn all_logs_say(workers: &[Worker], marker: &str, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if workers.iter().all(|w| w.log().contains(marker)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

const REDIS_LOST: &str = "wake-ups from other nodes are unavailable";
const REDIS_BACK: &str = "wake-ups from other nodes are back";

#[test]
fn redis_killed_under_load_and_started_again_loses_no_run_and_the_workers_reconnect() {
    const TEST: &str = "redis restart";
    const PER_BATCH: usize = 40;
    let Some(db) = Db::open(TEST) else {
        return;
    };
    db.record_commits();
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = free_port();
    let Some(mut server) = RedisServer::start(port, dir.path()) else {
        skip(TEST, &RedisServer::program(), "it cannot be started");
        return;
    };
    let redis = format!("redis://127.0.0.1:{port}");
    let bots = deployment(dir.path());
    let mut workers: Vec<Worker> = (0..3)
        .map(|n| Worker::start(&bots, &db, Some(&redis), dir.path(), n, 500, LEASE_MS))
        .collect();
    for worker in &workers {
        worker.node();
    }
    let starter = db.starter(&bots, WakeupConfig::redis(&redis).expect("the Redis URL"));
    let mut ids = Vec::new();
    let mut batch = |n: usize, workflow: &str| {
        let batch_ids: Vec<String> = (0..PER_BATCH).map(|i| format!("r-{n}-{i:02}")).collect();
        db.start(&starter, workflow, &batch_ids);
        ids.extend(batch_ids);
    };

    let started_at = Instant::now();
    batch(0, "long");
    std::thread::sleep(Duration::from_millis(200));
    // Killed while runs are in flight; more runs start while it is down.
    server.kill();
    let killed = Instant::now();
    batch(1, "multi");
    batch(2, "long");
    assert!(
        all_logs_say(&workers, REDIS_LOST, Duration::from_secs(20)),
        "every worker said it lost its wake-ups: {:#?}",
        workers.iter().map(Worker::log).collect::<Vec<_>>()
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut server = RedisServer::start(port, dir.path()).expect("redis-server starts again");
    let down = killed.elapsed();
    batch(3, "multi");
    assert!(
        all_logs_say(&workers, REDIS_BACK, Duration::from_secs(20)),
        "every worker reconnected by itself: {:#?}",
        workers.iter().map(Worker::log).collect::<Vec<_>>()
    );
    batch(4, "long");

    let ended = db.wait_all_ended(Duration::from_secs(90));
    assert!(ended, "every run ended ({} unfinished)", db.unfinished());
    for (n, worker) in workers.iter_mut().enumerate() {
        assert!(worker.alive(), "worker {n} kept running: {}", worker.log());
        assert!(
            worker.log().contains(&format!("Redis at {redis}")),
            "worker {n} named the Redis it lost: {}",
            worker.log()
        );
    }
    let (steps, repeated, commits) = assert_all_recorded_once(&db, &ids);
    server.kill();
    println!(
        "redis restart: {} runs, 3 workers; Redis down {} ms under load and started again on \
         port {port}; every worker logged the loss and the reconnection; all completed in \
         {:.1} s; {steps} steps recorded once each, {commits} commits fenced by one node per \
         epoch; {repeated} bot attempts repeated",
        ids.len(),
        down.as_millis(),
        started_at.elapsed().as_secs_f64()
    );
}

/// `botflow worker` on `db` with `extra` arguments, stopped after `within`
/// if it still runs; returns (exited by itself, success, stderr).
/// Runs `botflow <command>` (`worker` or `serve`) until it exits or `within`
/// passes: whether it exited, whether it succeeded, and its stderr.
fn node_once(
    command: &str,
    bots: &Path,
    db: &str,
    extra: &[&str],
    within: Duration,
) -> (bool, bool, String) {
    let mut child = botflow()
        .env_remove("BOTFLOW_REDIS")
        .args([command, "--poll-ms", "200", "--bots"])
        .arg(bots)
        .args(["--db", db])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("botflow worker starts");
    let start = Instant::now();
    let exited = loop {
        if let Ok(Some(_)) = child.try_wait() {
            break true;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().expect("the worker's output");
    (exited, output.status.success(), text(&output.stderr))
}

/// The base URL with another user, password or database.
fn pg_url_with(db: &Db, user: &str, database: &str) -> String {
    let rest = db
        .base
        .split_once("://")
        .map_or(db.base.as_str(), |(_, r)| r);
    let host = rest
        .split('/')
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default();
    format!("postgres://{user}@{host}/{database}")
}

#[test]
fn a_database_that_does_not_answer_is_retried_with_back_off_then_given_up_precisely() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let url = format!("postgres://botflow:hunter2@127.0.0.1:{}/test", free_port());
    for command in ["worker", "serve"] {
        let (exited, ok, stderr) = node_once(
            command,
            &bots,
            &url,
            &["--connect-timeout", "3"],
            Duration::from_secs(60),
        );
        assert!(exited && !ok, "{command} gave up and failed: {stderr}");
        assert!(
            !stderr.contains("panicked"),
            "{command}: no panic: {stderr}"
        );
        assert!(
            !stderr.contains("hunter2"),
            "{command}: no password: {stderr}"
        );
        let retries = stderr
            .lines()
            .filter(|l| l.contains("cannot reach the database") && l.contains("retrying in"))
            .count();
        assert!(
            retries >= 2,
            "{command}: each attempt was printed: {stderr}"
        );
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.contains("cannot reach the database postgres://botflow:***@127.0.0.1:")
                && last.contains("gave up after")
                && last.contains("--connect-timeout 3"),
            "{command}: a precise last word: {stderr}"
        );
        println!("unreachable database, {command}: {retries} retries printed, then: {last}");
    }
}

#[test]
fn an_unknown_user_or_database_is_refused_at_once_with_what_the_server_said() {
    const TEST: &str = "refused login";
    let Some(db) = Db::open(TEST) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let cases = [
        (
            pg_url_with(&db, "botflow_no_such_role:s3cret", "test"),
            "role \"botflow_no_such_role\" does not exist",
        ),
        (
            pg_url_with(&db, "postgres", "botflow_no_such_database"),
            "database \"botflow_no_such_database\" does not exist",
        ),
    ];
    for (url, said) in cases {
        let (exited, ok, stderr) = node_once("worker", &bots, &url, &[], Duration::from_secs(30));
        assert!(
            exited && !ok,
            "{url}: the worker stopped and failed: {stderr}"
        );
        assert!(
            !stderr.contains("retrying"),
            "{url}: no retry for what a retry cannot fix: {stderr}"
        );
        assert!(
            stderr.contains("cannot open the database") && stderr.contains(said),
            "{url}: the message names the database and what the server said: {stderr}"
        );
        assert!(!stderr.contains("s3cret"), "no password: {stderr}");
        assert!(!stderr.contains("panicked"), "no panic: {stderr}");
        println!("refused login: {}", stderr.trim());
    }
}

#[test]
fn a_schema_newer_than_the_binary_is_refused_and_left_as_it_was() {
    const TEST: &str = "newer schema";
    let Some(db) = Db::open(TEST) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let read = |what: &str| -> (String, i64) {
        db.rt.block_on(async {
            let mut conn = PgConnection::connect(&db.base).await.expect("connect");
            let s = &db.schema;
            if what == "set" {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {s}.meta SET value = '9999' WHERE key = 'schema_version'"
                )))
                .execute(&mut conn)
                .await
                .expect("record a newer version");
            }
            let version: String = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT value FROM {s}.meta WHERE key = 'schema_version'"
            )))
            .fetch_one(&mut conn)
            .await
            .expect("read the version");
            let migrations: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT count(*) FROM {s}._sqlx_migrations"
            )))
            .fetch_one(&mut conn)
            .await
            .expect("count the migrations");
            let _ = conn.close().await;
            (version, migrations)
        })
    };
    let before = read("set");
    let (exited, ok, stderr) = node_once("worker", &bots, &db.url, &[], Duration::from_secs(30));
    assert!(exited && !ok, "the worker refused: {stderr}");
    assert!(
        stderr.contains("schema is version 9999, newer than this botflow supports"),
        "a precise message: {stderr}"
    );
    let migrate = botflow()
        .args(["migrate", "--db", &db.url])
        .output()
        .expect("botflow migrate runs");
    let migrate_err = text(&migrate.stderr);
    assert!(!migrate.status.success(), "migrate refused: {migrate_err}");
    assert!(
        migrate_err.contains("newer than this botflow"),
        "migrate says why: {migrate_err}"
    );
    assert_eq!(read("read"), before, "nothing was migrated");
    println!("newer schema: {}", stderr.trim());
}

#[test]
fn a_redis_that_refuses_is_named_and_the_worker_runs_on_its_polls() {
    const TEST: &str = "refusing redis";
    let Some(db) = Db::open(TEST) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let redis = format!("redis://127.0.0.1:{}", free_port());
    let worker = Worker::start(&bots, &db, Some(&redis), dir.path(), 0, 200, LEASE_MS);
    worker.node();
    let starter = db.starter(&bots, WakeupConfig::InProcess);
    let ids = vec!["p-1".to_owned(), "p-2".to_owned()];
    db.start(&starter, "multi", &ids);
    assert!(
        db.wait_all_ended(Duration::from_secs(30)),
        "the runs ended on the worker's polls: {}",
        worker.log()
    );
    for id in &ids {
        assert_eq!(db.run(id).status, RunStatus::Completed);
    }
    let log = worker.log();
    let line = log
        .lines()
        .find(|l| l.contains(REDIS_LOST))
        .unwrap_or_else(|| panic!("the worker said wake-ups are unavailable: {log}"));
    assert!(
        line.contains(&format!("Redis at {redis}")) && line.to_lowercase().contains("refused"),
        "the line names the Redis and why: {line}"
    );
    println!("refusing redis: {line}");
}
