//! The worker loop ([`Runtime::work`]): it picks up runs whose durable timer
//! fell due, whether armed by itself, by another process that stopped, or
//! while nothing ran at all; and it stops cleanly on shutdown.

mod common;

use std::time::Duration;

use common::{Fixture, package, runtime_at};
use runtime::{Driven, Runtime, WorkerOptions, WorkerReport};
use serde_json::json;
use store::{RunStatus, Store};

const FLOW: &str = "ORCHESTRATE WORKFLOW \"nap\"\n  DELAY 0.3\n  RETURN \"rested\"\nEND WORKFLOW\n";

/// Starts `n` runs of the workflow and drives each to its timer.
async fn start_napping(rt: &Runtime, n: usize) -> Vec<String> {
    let workflow = rt.workflow(None).expect("one workflow");
    let mut ids = Vec::new();
    for _ in 0..n {
        let (run, _) = rt.start(&workflow, json!({}), None).await.expect("starts");
        let driven = rt.drive(&run.id).await.expect("driven");
        assert!(
            matches!(driven, Driven::Waiting { wake_at: Some(_) }),
            "the run waits on its timer: {driven:?}"
        );
        ids.push(run.id);
    }
    ids
}

/// Runs a worker until every run in `ids` has ended, then shuts it down.
async fn work_until_done(rt: &Runtime, ids: &[String], poll: Duration) -> WorkerReport {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = {
        let rt = rt.clone();
        let ids = ids.to_vec();
        tokio::spawn(async move {
            loop {
                let mut done = true;
                for id in &ids {
                    let record = rt.store().run(id).await.expect("read").expect("the run");
                    done &= record.status.is_terminal();
                }
                if done {
                    let _ = stop.send(());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let options = WorkerOptions {
        poll,
        ..WorkerOptions::default()
    };
    let report = rt
        .work(options, async { drop(stopped.await) }, |_| {})
        .await
        .expect("the worker runs");
    watcher.await.expect("the watcher ends");
    report
}

async fn assert_rested(rt: &Runtime, ids: &[String]) {
    for id in ids {
        let record = rt.store().run(id).await.expect("read").expect("the run");
        assert_eq!(record.status, RunStatus::Completed, "run {id}");
    }
}

#[tokio::test]
async fn the_worker_fires_timers_it_did_not_arm_and_those_that_fell_due_while_nothing_ran() {
    let fixture = Fixture::new();
    package(&fixture.bots(), "flow", &[("main.bas", FLOW)], "");
    // One process arms the timers, then goes away.
    let ids = {
        let first = fixture.runtime().await;
        let ids = start_napping(&first, 3).await;
        first.store().close().await;
        ids
    };
    // Nothing runs until the timers are due.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rt = runtime_at(&fixture.bots(), &fixture.db()).await;
    let report = work_until_done(&rt, &ids, Duration::from_millis(100)).await;
    assert_rested(&rt, &ids).await;
    assert_eq!(report.finished, 3, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
}

#[tokio::test]
async fn the_worker_drives_a_new_run_through_its_timer_when_woken() {
    let fixture = Fixture::new();
    package(&fixture.bots(), "flow", &[("main.bas", FLOW)], "");
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let (run, _) = rt.start(&workflow, json!({}), None).await.expect("starts");
    rt.wake();
    // A long poll: the worker claims the new run at start, then sleeps only
    // until the timer the run armed, which it remembers.
    let report = work_until_done(
        &rt,
        std::slice::from_ref(&run.id),
        Duration::from_secs(3600),
    )
    .await;
    assert_rested(&rt, &[run.id]).await;
    assert_eq!(report.finished, 1, "{report:?}");
    assert!(
        report.waiting >= 1,
        "the run waited on its timer: {report:?}"
    );
}

#[tokio::test]
async fn a_worker_stopped_at_once_leaves_waiting_runs_waiting() {
    let fixture = Fixture::new();
    package(&fixture.bots(), "flow", &[("main.bas", FLOW)], "");
    let rt = fixture.runtime().await;
    let ids = start_napping(&rt, 2).await;
    let report = rt
        .work(WorkerOptions::default(), async {}, |_| {})
        .await
        .expect("the worker stops");
    assert_eq!(report.aborted, 0, "{report:?}");
    for id in &ids {
        let record = rt.store().run(id).await.expect("read").expect("the run");
        assert_eq!(record.status, RunStatus::Waiting);
    }
}
