//! Wake-ups across nodes (issue 7): a wake rung by one runtime reaches the
//! worker of another runtime on the same PostgreSQL schema, over PostgreSQL
//! `LISTEN`/`NOTIFY` and over Redis pub/sub, and not a runtime of another
//! schema or channel; a runtime whose Redis refuses logs one warning and keeps
//! driving runs at its poll interval; a group commit rings this process's
//! worker only when its events made a waiting run due.
//!
//! PostgreSQL comes from `BOTFLOW_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`), Redis from `BOTFLOW_TEST_REDIS`
//! (default `redis://127.0.0.1:6379`). Unreachable, a test prints a notice and
//! passes, unless `CI=true`, where it fails. Each test has its own schema and
//! its own Redis channel, so they run in parallel.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::package;
use runtime::{Options, Runtime, WakeupConfig, WorkerOptions};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use store::{AnyStore, PostgresOptions, PostgresStore, RunStatus, Store};

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Fails in CI, else prints a notice: the caller skips the test.
fn unreachable(test: &str, what: &str, why: &str) {
    assert!(!in_ci(), "{what} is unreachable and CI=true: {why}");
    eprintln!("notice: skipping {test}: {what} unreachable: {why}");
}

/// A fresh schema of the test database, dropped at the end of the test.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn new(test: &str) -> Option<Schema> {
        let url = std::env::var("BOTFLOW_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let connected =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await;
        match connected {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(error)) => {
                unreachable(test, &url, &error.to_string());
                return None;
            }
            Err(_) => {
                unreachable(test, &url, "timed out after 5 s");
                return None;
            }
        }
        let name = format!("w_{}", uuid::Uuid::now_v7().simple());
        Some(Schema { url, name })
    }

    /// A store on the schema, as one node opens it.
    async fn store(&self) -> AnyStore {
        let options = PostgresOptions {
            max_connections: 4,
            schema: Some(self.name.clone()),
        };
        PostgresStore::open_with(&self.url, options)
            .await
            .expect("the PostgreSQL store opens")
            .into()
    }

    async fn drop_schema(&self) {
        if let Ok(mut conn) = PgConnection::connect(&self.url).await {
            // Best effort: a leftover schema harms no other test.
            let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.name)))
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}

/// The test Redis URL, or `None` (after a notice) when it does not answer.
async fn redis_url(test: &str) -> Option<String> {
    let url = std::env::var("BOTFLOW_TEST_REDIS").unwrap_or_else(|_| DEFAULT_REDIS.to_owned());
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let connected = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(hostport.clone()),
    )
    .await;
    match connected {
        Ok(Ok(_)) => Some(url),
        Ok(Err(error)) => {
            unreachable(test, &url, &error.to_string());
            None
        }
        Err(_) => {
            unreachable(test, &url, "timed out after 5 s");
            None
        }
    }
}

/// A channel no other test uses.
fn channel() -> String {
    format!("botflow_test_{}", uuid::Uuid::now_v7().simple())
}

/// A deployment with one workflow of three steps; returns its folder.
fn deployment(dir: &std::path::Path) -> bots::Deployment {
    let bots = dir.join("bots");
    package(
        &bots,
        "flow",
        &[(
            "main.bas",
            "ORCHESTRATE WORKFLOW \"flow\"\n  STEP 1: BOT \"helper\" \"one\"\n  \
             STEP 2: BOT \"helper\" \"two\"\n  RETURN \"done\"\nEND WORKFLOW\n",
        )],
        "",
    );
    package(
        &bots,
        "helper",
        &[
            ("one.bas", "RETURN {\"one\": TRUE}\n"),
            ("two.bas", "RETURN {\"two\": TRUE}\n"),
        ],
        "",
    );
    bots::load_deployment(&bots).expect("the deployment loads")
}

fn runtime(store: AnyStore, deployment: bots::Deployment, wakeups: WakeupConfig) -> Runtime {
    Runtime::new(
        store,
        deployment,
        Options {
            wakeups,
            ..Options::default()
        },
    )
}

/// Rings `from` every 100 ms until `to`'s worker is woken; false after 15 s.
/// (Ringing again covers the moments before `to` has subscribed.)
async fn wakes(from: &Runtime, to: &Runtime) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        from.wake();
        if tokio::time::timeout(Duration::from_millis(100), to.woken())
            .await
            .is_ok()
        {
            return true;
        }
    }
    false
}

/// True when `rt`'s worker has a wake-up waiting right now.
async fn has_wakeup(rt: &Runtime) -> bool {
    tokio::time::timeout(Duration::from_millis(1), rt.woken())
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_on_one_node_reaches_another_over_postgres_notify_and_no_other_schema() {
    let test = "postgres notify wake";
    let Some(schema) = Schema::new(test).await else {
        return;
    };
    let Some(other) = Schema::new(test).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let notify = WakeupConfig::Postgres { channel: None };
    let a = runtime(schema.store().await, deployment(dir.path()), notify.clone());
    let b = runtime(schema.store().await, deployment(dir.path()), notify.clone());
    let elsewhere = runtime(other.store().await, deployment(dir.path()), notify);
    let local = runtime(
        schema.store().await,
        deployment(dir.path()),
        WakeupConfig::InProcess,
    );

    assert!(!has_wakeup(&b).await, "nothing woke B before A rang");
    assert!(wakes(&a, &b).await, "A's wake reached B over NOTIFY");
    // Let the last NOTIFY arrive everywhere it would.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !has_wakeup(&elsewhere).await,
        "a node of another schema (another channel) is not woken"
    );
    assert!(
        !has_wakeup(&local).await,
        "an in-process node of the same schema hears nothing"
    );
    // And the other way round.
    assert!(wakes(&b, &a).await, "B's wake reached A over NOTIFY");
    println!("postgres notify: a wake crossed between two runtimes in both directions");

    for rt in [&a, &b, &elsewhere, &local] {
        rt.store().close().await;
    }
    schema.drop_schema().await;
    other.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_on_one_node_reaches_another_over_redis_and_no_other_channel() {
    let test = "redis wake";
    let Some(url) = redis_url(test).await else {
        return;
    };
    let Some(schema) = Schema::new(test).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let ours = WakeupConfig::redis(&url)
        .and_then(|c| c.on_channel(&channel()))
        .expect("a good Redis config");
    let theirs = WakeupConfig::redis(&url)
        .and_then(|c| c.on_channel(&channel()))
        .expect("a good Redis config");
    let a = runtime(schema.store().await, deployment(dir.path()), ours.clone());
    let b = runtime(schema.store().await, deployment(dir.path()), ours);
    let elsewhere = runtime(schema.store().await, deployment(dir.path()), theirs);

    assert!(!has_wakeup(&b).await, "nothing woke B before A rang");
    assert!(wakes(&a, &b).await, "A's wake reached B over Redis");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !has_wakeup(&elsewhere).await,
        "a node on another channel is not woken"
    );
    assert!(wakes(&b, &a).await, "B's wake reached A over Redis");
    assert!(
        a.flush_wakeups(Duration::from_secs(5)).await,
        "every wake was handed to Redis"
    );
    println!("redis: a wake crossed between two runtimes in both directions");

    for rt in [&a, &b, &elsewhere] {
        rt.store().close().await;
    }
    schema.drop_schema().await;
}

/// Log lines, captured from the runtime's tracing.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the log lock")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log lock")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime: the log subscriber below is this thread's, and
// every task of the runtimes runs on it.
#[tokio::test(flavor = "current_thread")]
async fn a_node_whose_redis_refuses_logs_once_and_completes_runs_on_its_polls() {
    let test = "redis refuses";
    let Some(schema) = Schema::new(test).await else {
        return;
    };
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().expect("a temp dir");
    // Nothing listens on port 1: every connection is refused.
    let refused = WakeupConfig::redis("redis://127.0.0.1:1")
        .and_then(|c| c.on_channel(&channel()))
        .expect("a well-formed URL");
    let worker = runtime(
        schema.store().await,
        deployment(dir.path()),
        refused.clone(),
    );
    let starter = runtime(schema.store().await, deployment(dir.path()), refused);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let working = {
        let worker = worker.clone();
        tokio::spawn(async move {
            let options = WorkerOptions {
                poll: Duration::from_millis(200),
                ..WorkerOptions::default()
            };
            worker
                .work(options, async { drop(stopped.await) }, |_| {})
                .await
        })
    };

    // Runs started by another node, in three bursts: each start rings a
    // wake that cannot travel, so the worker finds them by polling.
    let workflow = starter.workflow(None).expect("one workflow");
    let mut ids = Vec::new();
    for burst in 0..3 {
        let runs = (0..10).map(|i| (json!({}), Some(format!("r{burst}-{i}"))));
        let started = starter
            .start_many(&workflow, runs.collect())
            .await
            .expect("the runs start");
        ids.extend(started.into_iter().map(|(run, _)| run.id));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut completed = 0;
    while Instant::now() < deadline {
        completed = 0;
        for id in &ids {
            let record = worker
                .store()
                .run(id)
                .await
                .expect("read the run")
                .expect("the run exists");
            completed += usize::from(record.status == RunStatus::Completed);
        }
        if completed == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    let report = working
        .await
        .expect("the worker task")
        .expect("the worker ran");
    assert_eq!(
        completed,
        ids.len(),
        "every run completed on polls: {report:?}"
    );
    let flushing = Instant::now();
    starter.flush_wakeups(Duration::from_millis(300)).await;
    assert!(
        flushing.elapsed() < Duration::from_secs(5),
        "flushing against a refusing Redis gives up instead of hanging"
    );

    let log = captured.text();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("wake-ups from other nodes are unavailable"))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("WARN") && l.contains("127.0.0.1:1")),
        "a clear warning names the Redis: {log}"
    );
    // One per runtime and outage, however many wakes were rung meanwhile.
    assert!(
        warnings.len() <= 2,
        "one warning per outage, not one per wake: {log}"
    );
    println!(
        "redis refused: {} runs completed on polls, {} warning line(s): {}",
        ids.len(),
        warnings.len(),
        warnings.first().copied().unwrap_or_default()
    );

    worker.store().close().await;
    starter.store().close().await;
    schema.drop_schema().await;
}

// Nearly every group commit publishes (the engine's own events:
// `workflow_started`, `workflow_completed`, ...), and a worker pass after
// each was a read per commit that found nothing. So this process's worker is
// rung only by a commit whose events made a waiting run due (or start a
// `TRIGGER ON EVENT` script here).
#[tokio::test]
async fn a_commit_rings_this_worker_only_when_its_events_make_a_waiting_run_due() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = dir.path().join("bots");
    package(
        &bots,
        "flow",
        &[
            (
                "waiter.bas",
                "ORCHESTRATE WORKFLOW \"waiter\"\n  e = WAIT FOR EVENT \"go\"\nEND WORKFLOW\n",
            ),
            (
                "noter.bas",
                "ORCHESTRATE WORKFLOW \"noter\"\n  PUBLISH EVENT \"noted\"\nEND WORKFLOW\n",
            ),
            (
                "goer.bas",
                "ORCHESTRATE WORKFLOW \"goer\"\n  PUBLISH EVENT \"go\"\nEND WORKFLOW\n",
            ),
        ],
        "",
    );
    let rt = common::runtime_at(&bots, &dir.path().join("runs.db")).await;
    let run = |name: &'static str| {
        let rt = rt.clone();
        async move {
            let workflow = rt.workflow(Some(name)).expect("the workflow exists");
            let (started, _) = rt
                .start(&workflow, json!({}), Some(name.to_owned()))
                .await
                .expect("starts");
            // The start rings (a run to drive); that wake-up is not at issue.
            has_wakeup(&rt).await;
            rt.drive(&started.id).await.expect("drives")
        }
    };
    assert!(matches!(
        run("waiter").await,
        runtime::Driven::Waiting { .. }
    ));
    assert!(!has_wakeup(&rt).await, "the waiter's commits woke nobody");
    assert_eq!(
        run("noter").await,
        runtime::Driven::Finished(RunStatus::Completed)
    );
    assert!(
        !has_wakeup(&rt).await,
        "an event nobody waits for rings no worker"
    );
    assert_eq!(
        run("goer").await,
        runtime::Driven::Finished(RunStatus::Completed)
    );
    assert!(has_wakeup(&rt).await, "`go` made the waiter due");
    rt.store().close().await;

    // A `TRIGGER ON EVENT` script here: its event rings the worker too
    // (names match ignoring case, as the store matches them).
    package(
        &bots,
        "hooks",
        &[(
            "on_noted.bas",
            "TRIGGER ON EVENT \"Noted\"\nTALK \"seen\"\n",
        )],
        "",
    );
    let rt = common::runtime_at(&bots, &dir.path().join("runs.db")).await;
    let workflow = rt.workflow(Some("noter")).expect("the workflow exists");
    let (started, _) = rt
        .start(&workflow, json!({}), Some("noter-2".to_owned()))
        .await
        .expect("starts");
    has_wakeup(&rt).await;
    rt.drive(&started.id).await.expect("drives");
    assert!(has_wakeup(&rt).await, "`noted` starts a trigger here");
    rt.store().close().await;
}
