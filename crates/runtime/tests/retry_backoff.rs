//! `RETRY` back-off is a durable timer: a failed attempt that will be
//! retried is recorded (the step row's attempt count, the retry's due time
//! in the run's state) in a durable point, the run waits holding no task,
//! and after a restart the retry fires when it was due, numbered after the
//! attempts already made, with the same idempotency key.

mod common;

use std::path::Path;

use common::{Fixture, package};
use runtime::{Driven, Options, Runtime};
use serde_json::{Value, json};
use store::{AnyStore, RunStatus, Store};

/// Fails its first two attempts, then answers with what it saw.
const FLAKY: &str = r#"
IF attempt < 3 THEN
  boom = 1 / 0
END IF
SET BOT MEMORY "answered", attempt
RETURN {"tries": attempt, "key": idempotency_key}
"#;

/// The first back-off of these tests: long enough that a run certainly
/// commits its wait before the retry is due.
const BACKOFF_MS: u64 = 300;

fn deploy(fixture: &Fixture, retry: &str, bot: &str) {
    let source = format!(
        "ORCHESTRATE WORKFLOW \"retrying\"\n  STEP 1: BOT \"flaky\" \"work\"{retry}\nEND WORKFLOW\n"
    );
    package(&fixture.bots(), "flow", &[("main.bas", &source)], "");
    package(&fixture.bots(), "flaky", &[("work.bas", bot)], "");
}

/// A runtime over the fixture with the first back-off [`BACKOFF_MS`].
async fn runtime(bots: &Path, db: &Path) -> Runtime {
    let deployment = bots::load_deployment(bots).expect("the deployment loads");
    let store = AnyStore::open(&db.display().to_string())
        .await
        .expect("the database opens");
    Runtime::new(
        store,
        deployment,
        Options {
            retry_base_ms: BACKOFF_MS,
            ..Options::default()
        },
    )
}

async fn journal(rt: &Runtime, run: &str, kind: &str) -> Vec<Value> {
    rt.view(run)
        .await
        .expect("reads")
        .journal
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn a_failed_attempt_waits_durably_for_its_back_off_then_succeeds() {
    let fixture = Fixture::new();
    deploy(&fixture, " RETRY 3", FLAKY);
    let rt = runtime(&fixture.bots(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let (run, _) = rt
        .start(&workflow, json!({}), Some("r".into()))
        .await
        .expect("starts");

    // The first attempt fails: the run waits for the back-off, holding no task.
    let Driven::Waiting { wake_at: Some(due) } = rt.drive(&run.id).await.expect("drives") else {
        panic!("the run waits for its retry");
    };
    let record = rt.store().run("r").await.expect("reads").expect("the run");
    assert_eq!(record.status, RunStatus::Waiting);
    assert_eq!(record.wake_at, Some(due), "the back-off is the run's timer");
    let steps = rt.store().steps("r").await.expect("steps");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].attempts, 1, "the failed attempt is recorded");
    assert_eq!(steps[0].status, store::StepStatus::Running);
    // `runs show` says what the run waits for, and until when.
    let waiting = rt.view("r").await.expect("reads");
    assert_eq!(waiting.waits.len(), 1, "{:?}", waiting.waits);
    assert_eq!(
        waiting.waits[0].what,
        runtime::WaitFor::Retry { failures: 1 },
        "{}",
        waiting.waits[0].describe()
    );
    assert_eq!(waiting.waits[0].deadline_ms, Some(due));

    assert_eq!(
        rt.run_to_end("r").await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view("r").await.expect("reads");
    assert_eq!(view.variables["tries"], json!(3));
    assert_eq!(
        view.variables["key"],
        json!("r:1"),
        "one key for every attempt"
    );
    let steps = rt.store().steps("r").await.expect("steps");
    assert_eq!(steps.len(), 1, "one row for the step");
    assert_eq!(steps[0].attempts, 3);
    assert_eq!(steps[0].status, store::StepStatus::Done);
    let retries = journal(&rt, "r", "bot_retry").await;
    assert_eq!(
        retries
            .iter()
            .map(|r| (r["attempt"].clone(), r["failures"].clone()))
            .collect::<Vec<_>>(),
        vec![(json!(1), json!(1)), (json!(2), json!(2))]
    );
    // The back-off doubles: the second wait is twice the first.
    let gaps: Vec<i64> = journal(&rt, "r", "bot_retry")
        .await
        .iter()
        .map(|r| r["due"].as_i64().unwrap_or(0))
        .collect();
    println!("retry due times: {gaps:?}");
    assert!(journal(&rt, "r", "waiting").await.len() >= 2);
}

#[tokio::test]
async fn a_restart_between_attempts_keeps_the_due_time_and_the_count() {
    let fixture = Fixture::new();
    deploy(&fixture, " RETRY 3", FLAKY);
    let due = {
        let rt = runtime(&fixture.bots(), &fixture.db()).await;
        let workflow = rt.workflow(None).expect("one workflow");
        rt.start(&workflow, json!({}), Some("r".into()))
            .await
            .expect("starts");
        let Driven::Waiting { wake_at: Some(due) } = rt.drive("r").await.expect("drives") else {
            panic!("the run waits for its retry");
        };
        due
        // The runtime is dropped here: nothing of it survives but the store.
    };

    let rt = runtime(&fixture.bots(), &fixture.db()).await;
    let record = rt.store().run("r").await.expect("reads").expect("the run");
    assert_eq!(record.status, RunStatus::Waiting);
    assert_eq!(
        record.wake_at,
        Some(due),
        "the back-off survived the restart"
    );
    assert_eq!(
        rt.run_to_end("r").await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view("r").await.expect("reads");
    assert_eq!(
        view.variables["tries"],
        json!(3),
        "the attempts are numbered on, not from 1 again"
    );
    let steps = rt.store().steps("r").await.expect("steps");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].attempts, 3);
    let first_retry = &journal(&rt, "r", "bot_retry").await[0];
    assert_eq!(first_retry["due"], json!(due));
    assert_eq!(
        rt.store().memory("flaky", "answered").await.expect("reads"),
        Some(json!(3))
    );
}

#[tokio::test]
async fn retries_end_after_the_retry_count_and_the_step_fails_with_every_attempt_counted() {
    let fixture = Fixture::new();
    deploy(&fixture, " RETRY 1", "x = 1 / 0\nRETURN 1\n");
    let rt = runtime(&fixture.bots(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    rt.start(&workflow, json!({}), Some("r".into()))
        .await
        .expect("starts");
    assert!(matches!(
        rt.drive("r").await.expect("drives"),
        Driven::Waiting { wake_at: Some(_) }
    ));
    drop(rt);
    let rt = runtime(&fixture.bots(), &fixture.db()).await;
    assert_eq!(rt.run_to_end("r").await.expect("driven"), RunStatus::Failed);
    let steps = rt.store().steps("r").await.expect("steps");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].attempts, 2, "the first try and one retry");
    assert_eq!(steps[0].status, store::StepStatus::Failed);
    assert_eq!(journal(&rt, "r", "bot_retry").await.len(), 1);
}

#[tokio::test]
async fn a_bot_that_cannot_answer_is_not_retried() {
    let fixture = Fixture::new();
    deploy(&fixture, " RETRY 3", FLAKY);
    // The package has no script for the action and no start.bas.
    let dialog = fixture.bots().join("flaky.gbai").join("flaky.gbdialog");
    std::fs::rename(dialog.join("work.bas"), dialog.join("other.bas")).expect("rename");
    let rt = runtime(&fixture.bots(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    rt.start(&workflow, json!({}), Some("r".into()))
        .await
        .expect("starts");
    assert_eq!(rt.run_to_end("r").await.expect("driven"), RunStatus::Failed);
    let steps = rt.store().steps("r").await.expect("steps");
    assert_eq!(steps[0].attempts, 1);
    assert!(journal(&rt, "r", "bot_retry").await.is_empty());
}
