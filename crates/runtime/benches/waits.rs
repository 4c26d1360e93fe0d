//! `cargo bench -p runtime --bench waits`: the worker's timers and the cost
//! of waiting runs, in-process, on SQLite (`synchronous=FULL`) in a temp folder.
//!
//! 1. Timer lateness: `TIMERS` runs (default 10,000; env `BOTFLOW_BENCH_TIMERS`)
//!    each `DELAY` for 60–63 s (spread evenly), all driven by one
//!    [`Runtime::work`] loop: arming them all takes a while on a small box,
//!    and the delay keeps the firing phase apart from the arming phase (so
//!    lateness is not just the arming backlog). Lateness = when the worker
//!    saw the run end − the timer's due time (`wake_at`); p50, p99, max.
//! 2. New-run throughput with 0 vs 100,000 waiting runs in the store: `NEW`
//!    runs of a one-line workflow started in one call, then driven to their
//!    end by the worker; runs per second.
//! 3. Approval round trip: `ROUND_TRIPS` runs, one at a time, each waiting
//!    on a `HUMAN APPROVAL` (its request created and committed): the time
//!    from `Runtime::decide` (the decision recorded) until the resumed run's
//!    final point committed; p50, p99.
//!
//! A benchmark, not a test: it prints numbers and asserts nothing about time.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runtime::{Driven, Options, Runtime, WorkerOptions};
use serde_json::json;
use store::{AnyStore, NewRun, RunStatus, Store};

const NAP: &str = "ORCHESTRATE WORKFLOW \"nap\"\n  DELAY secs\n  RETURN 1\nEND WORKFLOW\n";
const QUICK: &str = "ORCHESTRATE WORKFLOW \"quick\"\n  RETURN 1\nEND WORKFLOW\n";
const GATE: &str = "ORCHESTRATE WORKFLOW \"gate\"\n  STEP 1: HUMAN APPROVAL FROM \"m@x\"\n    TIMEOUT 3600\n  RETURN 1\nEND WORKFLOW\n";
const ROUND_TRIPS: usize = 300;
const NEW: usize = 2_000;
const WAITING: usize = 100_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn runtime_over(dir: &Path, script: &str, db: &str) -> Runtime {
    let flow = dir.join("bots/flow.gbai/flow.gbdialog");
    std::fs::create_dir_all(&flow).expect("the bots folder");
    std::fs::write(flow.join("main.bas"), script).expect("the workflow");
    let deployment = bots::load_deployment(&dir.join("bots")).expect("the deployment loads");
    let store = AnyStore::open(&dir.join(db).display().to_string())
        .await
        .expect("the database opens");
    Runtime::new(store, deployment, Options::default())
}

/// Runs the worker until `until` says so (checked after each pass).
async fn work_until(rt: &Runtime, mut until: impl FnMut(&runtime::Pass) -> bool + Send) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut stopped_rx = stopped.clone();
    rt.work(
        WorkerOptions {
            poll: Duration::from_millis(200),
            ..WorkerOptions::default()
        },
        async move {
            let _ = stopped_rx.wait_for(|s| *s).await;
        },
        |pass| {
            if until(pass) {
                let _ = stop.send(true);
            }
        },
    )
    .await
    .expect("the worker runs");
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn timer_lateness(timers: usize) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = runtime_over(dir.path(), NAP, "timers.db").await;
    let workflow = rt.workflow(None).expect("one workflow");
    let runs = (0..timers)
        .map(|i| (json!({"secs": 60.0 + 3.0 * i as f64 / timers as f64}), None))
        .collect();
    rt.start_many(&workflow, runs)
        .await
        .expect("the runs start");
    let due: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let mut late = Vec::with_capacity(timers);
    let mut ended = 0;
    let due_seen = due.clone();
    work_until(&rt, |pass| {
        let mut due = due_seen.lock().expect("not poisoned");
        match pass.outcome {
            Ok(Driven::Waiting { wake_at: Some(at) }) => {
                due.insert(pass.run.clone(), at);
            }
            Ok(Driven::Finished(_)) => {
                ended += 1;
                if let Some(at) = due.get(&pass.run) {
                    late.push(now_ms() - at);
                }
            }
            _ => {}
        }
        ended == timers
    })
    .await;
    late.sort_unstable();
    println!(
        "timer lateness, {timers} timers due over 3 s after 60 s: p50 {} ms, p99 {} ms, max {} ms ({} measured)",
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0),
        late.len()
    );
}

async fn throughput(waiting: usize) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = runtime_over(dir.path(), QUICK, "throughput.db").await;
    let workflow = rt.workflow(None).expect("one workflow");
    // The waiting runs: created directly in the store, waiting on nothing due.
    rt.store().put_program("h", QUICK).await.expect("a program");
    for start in (0..waiting).step_by(5_000) {
        let batch = (start..(start + 5_000).min(waiting))
            .map(|i| NewRun {
                id: format!("waiting-{i}"),
                workflow: "quick".to_owned(),
                bot: "flow".to_owned(),
                program_hash: "h".to_owned(),
                status: RunStatus::Waiting,
                state: json!({}),
                input: json!({}),
                wake_at: (i % 2 == 1).then_some(4_102_444_800_000),
                parent_run: None,
                now: 1,
            })
            .collect();
        rt.store().create_runs(batch).await.expect("waiting runs");
    }
    let started = Instant::now();
    rt.start_many(&workflow, (0..NEW).map(|_| (json!({}), None)).collect())
        .await
        .expect("the runs start");
    let mut ended = 0;
    work_until(&rt, |pass| {
        if matches!(pass.outcome, Ok(Driven::Finished(_))) {
            ended += 1;
        }
        ended == NEW
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{NEW} new runs started and finished with {waiting} waiting runs present: {:.2} s, {:.0} runs/s",
        secs,
        NEW as f64 / secs
    );
}

async fn approval_round_trip() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = runtime_over(dir.path(), GATE, "gate.db").await;
    let workflow = rt.workflow(None).expect("one workflow");
    let mut took = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS {
        let id = format!("gate-{i}");
        let waiting = rt
            .execute(&workflow, json!({}), Some(id.clone()), None)
            .await
            .expect("the run starts");
        assert!(matches!(waiting.driven, Driven::Waiting { .. }));
        let started = Instant::now();
        rt.decide(&id, true, "m@x", None, "bench")
            .await
            .expect("the decision is recorded");
        let resumed = rt.drive(&id).await.expect("the run resumes");
        assert_eq!(resumed, Driven::Finished(RunStatus::Completed));
        if i >= 20 {
            took.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    took.sort_by(f64::total_cmp);
    println!(
        "approval round trip (decision recorded → run resumed and completed), {} runs: \
         p50 {:.2} ms, p99 {:.2} ms",
        took.len(),
        took[took.len() / 2],
        took[took.len() * 99 / 100]
    );
}

fn main() {
    let timers = std::env::var("BOTFLOW_BENCH_TIMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // `-- lateness`, `-- approval` or `-- throughput` runs only that part.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);
    tokio.block_on(async {
        if wants("lateness") {
            timer_lateness(timers).await;
        }
        if wants("approval") {
            approval_round_trip().await;
        }
        if wants("throughput") {
            throughput(0).await;
            throughput(WAITING).await;
        }
    });
}
