//! Issue 5: a waiting run costs a worker no memory. 100,000 runs suspended
//! in the store (waiting on decisions that never come, or on timers far in
//! the future) are created directly through the store API; a `botflow worker`
//! over them must stay within a generous bound of an idle worker over an
//! empty store. Both resident sizes are printed. No timing is asserted.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

mod common;

use common::botflow;
use serde_json::json;
use store::{AnyStore, NewRun, RunStatus, Store};

const WAITING_RUNS: usize = 100_000;
const BATCH: usize = 5_000;
/// How much more an idle worker may hold with the waiting runs present.
const BOUND_KIB: u64 = 32 * 1024;

const FLOW: &str = "ORCHESTRATE WORKFLOW \"w\"\n  RETURN 1\nEND WORKFLOW\n";

/// Creates `n` waiting runs in batches: half with no timer (like a pending
/// approval without deadline), half due in the far future.
async fn suspend_runs(db: &Path, n: usize) {
    let store = AnyStore::open(&db.display().to_string())
        .await
        .expect("the store opens");
    store.put_program("h", FLOW).await.expect("a program");
    let far = 4_102_444_800_000; // 2100-01-01
    for batch in 0..n.div_ceil(BATCH) {
        let runs = (batch * BATCH..((batch + 1) * BATCH).min(n))
            .map(|i| NewRun {
                id: format!("waiting-{i}"),
                workflow: "w".to_owned(),
                bot: "flow".to_owned(),
                program_hash: "h".to_owned(),
                status: RunStatus::Waiting,
                state: json!({}),
                input: json!({}),
                wake_at: (i % 2 == 1).then_some(far),
                parent_run: None,
                now: 1,
            })
            .collect();
        store.create_runs(runs).await.expect("the runs are created");
    }
    store.close().await;
}

/// A worker's resident size (KiB) after it has settled.
fn settled_rss(bots: &Path, db: &Path) -> u64 {
    let mut child: Child = botflow()
        .args(["worker", "--poll-ms", "100", "--bots"])
        .arg(bots)
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("botflow worker starts");
    // Several polls over the store, so any per-run cost would show.
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .expect("the worker's /proc status");
    child.kill().expect("stop the worker");
    child.wait().expect("the worker is reaped");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}

#[test]
fn a_worker_over_100k_waiting_runs_holds_no_more_than_an_idle_one() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc to read a process's resident size");
        return;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = dir.path().join("bots");
    let dialog = bots.join("flow.gbai/flow.gbdialog");
    std::fs::create_dir_all(&dialog).expect("create the package");
    std::fs::write(dialog.join("main.bas"), FLOW).expect("write the workflow");
    let empty = dir.path().join("empty.db");
    let full = dir.path().join("full.db");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(async {
            suspend_runs(&empty, 0).await;
            suspend_runs(&full, WAITING_RUNS).await;
        });
    let idle = settled_rss(&bots, &empty);
    let loaded = settled_rss(&bots, &full);
    eprintln!("worker RSS: idle {idle} KiB, with {WAITING_RUNS} waiting runs {loaded} KiB");
    assert!(
        loaded < idle + BOUND_KIB,
        "waiting runs cost the worker memory: idle {idle} KiB, loaded {loaded} KiB"
    );
}
