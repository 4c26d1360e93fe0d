//! `cargo bench -p runtime --bench engine`: the runtime's two headline figures.
//!
//! (a) a 10-step sequential workflow whose bots are no-op tool scripts
//!     (`RETURN {}`), driven one run at a time: p50 latency per step
//!     (a run's wall time from start to its final commit, divided by 10);
//! (b) durable points per second with 256 runs of that workflow driven
//!     concurrently, on SQLite with `synchronous=FULL` in a temp folder.
//!
//! A benchmark, not a test: it prints numbers and asserts nothing about time.

use std::path::Path;
use std::time::Instant;

use runtime::{Options, Runtime};
use serde_json::json;
use store::AnyStore;

const STEPS: usize = 10;

/// This process's user+system CPU time in milliseconds (Linux `/proc`, 10 ms
/// resolution; 0 elsewhere): wall time alone misleads on a busy machine.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14 and stime 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0.0) + fields.get(12).copied().unwrap_or(0.0);
    ticks * 10.0
}

fn write_deployment(root: &Path) -> std::io::Result<()> {
    let flow = root.join("bench.gbai/bench.gbdialog");
    std::fs::create_dir_all(&flow)?;
    let mut source = String::from("ORCHESTRATE WORKFLOW \"w1\"\n");
    for n in 1..=STEPS {
        source.push_str(&format!("  STEP {n}: BOT \"noop\" \"work\"\n"));
    }
    source.push_str("END WORKFLOW\n");
    std::fs::write(flow.join("flow.bas"), source)?;
    let noop = root.join("noop.gbai/noop.gbdialog");
    std::fs::create_dir_all(&noop)?;
    std::fs::write(noop.join("work.bas"), "RETURN {}\n")
}

async fn runtime(dir: &Path) -> Runtime {
    let deployment = bots::load_deployment(&dir.join("bots")).expect("the deployment loads");
    let store = AnyStore::open(&dir.join("bench.db").display().to_string())
        .await
        .expect("the database opens");
    Runtime::new(store, deployment, Options::default())
}

fn main() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write_deployment(&dir.path().join("bots")).expect("the deployment is written");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tokio.block_on(async {
        let rt = runtime(dir.path()).await;
        let workflow = rt.workflow(None).expect("one workflow");

        // `cargo bench -p runtime --bench engine -- throughput` runs only (b),
        // `-- latency` only (a).
        let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);

        // (a) Latency at concurrency 1.
        if wants("latency") {
            let mut per_step = Vec::new();
            for i in 0..210 {
                let started = Instant::now();
                let done = rt
                    .execute(&workflow, json!({"i": i}), None, None)
                    .await
                    .expect("runs");
                assert!(matches!(done.driven, runtime::Driven::Finished(_)));
                if i >= 10 {
                    per_step.push(started.elapsed().as_secs_f64() * 1000.0 / STEPS as f64);
                }
            }
            per_step.sort_by(f64::total_cmp);
            let p50 = per_step[per_step.len() / 2];
            let p99 = per_step[per_step.len() * 99 / 100];
            println!(
                "(a) 10-step workflow, no-op bots, concurrency 1, SQLite FULL: \
             p50 {p50:.3} ms per step, p99 {p99:.3} ms per step ({} runs)",
                per_step.len()
            );
        }

        // (b) Throughput at concurrency 256.
        let rounds = if wants("throughput") { 6 } else { 0 };
        for round in 0..rounds {
            let inputs: Vec<(serde_json::Value, Option<String>)> =
                (0..256).map(|i| (json!({"i": i}), None)).collect();
            let stats = rt.stats();
            let (points0, commits0) = (stats.points(), stats.commits());
            let cpu0 = cpu_ms();
            let started = Instant::now();
            // Each run is created by its first durable point, in the group commit.
            let mut tasks = tokio::task::JoinSet::new();
            for (input, _) in inputs {
                let (rt, workflow) = (rt.clone(), workflow.clone());
                tasks.spawn(async move {
                    rt.execute(&workflow, input, None, None)
                        .await
                        .map(|done| done.driven)
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("joined").expect("completes");
            }
            let seconds = started.elapsed().as_secs_f64();
            let cpu = cpu_ms() - cpu0;
            let points = stats.points() - points0;
            let commits = stats.commits() - commits0;
            println!(
                "(b) round {round}: 256 concurrent runs, {points} durable points in {commits} \
                 commits, {seconds:.3} s: {:.0} points/s, {:.0} runs/s, {:.1} points per commit, \
                 CPU {:.0} us per point",
                points as f64 / seconds,
                256.0 / seconds,
                points as f64 / commits.max(1) as f64,
                cpu * 1000.0 / points.max(1) as f64
            );
        }
    });
}
