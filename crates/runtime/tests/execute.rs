//! `Runtime::execute`: a run created by its first durable point, in the
//! group commit, and driven on at once.

mod common;

use common::{Fixture, runtime_at, template};
use runtime::{Driven, Execution};
use serde_json::json;
use store::{RunFilter, RunStatus, Store};

#[tokio::test]
async fn execute_creates_and_finishes_a_run_in_its_own_points() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let stats = rt.stats();
    let done = rt
        .execute(
            &workflow,
            json!({"complaint": "late", "order_amount": 10}),
            Some("ex-1".into()),
            None,
        )
        .await
        .expect("runs");
    assert_eq!(
        done,
        Execution {
            id: "ex-1".into(),
            created: true,
            driven: Driven::Finished(RunStatus::Completed),
        }
    );
    let run = rt.store().run("ex-1").await.expect("read").expect("exists");
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.lease_epoch, 1, "created leased, never claimed");
    // Every transaction was a group commit: the creation rode on the first point.
    assert_eq!(
        u64::try_from(run.version).expect("positive"),
        stats.points()
    );
    let journal = rt.store().journal("ex-1").await.expect("journal");
    assert_eq!(
        journal.first().map(|e| e.kind.as_str()),
        Some("run_started")
    );
}

#[tokio::test]
async fn execute_with_a_taken_id_starts_nothing_and_reports_the_existing_run() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let input = json!({"complaint": "late", "order_amount": 10});
    let first = rt
        .execute(&workflow, input.clone(), Some("same".into()), None)
        .await
        .expect("runs");
    assert!(first.created);
    let steps_before = rt.store().steps("same").await.expect("steps");
    let journal_before = rt.store().journal("same").await.expect("journal").len();

    let second = rt
        .execute(&workflow, json!({"other": 1}), Some("same".into()), None)
        .await
        .expect("returns the existing run");
    assert!(!second.created);
    assert_eq!(second.driven, Driven::Finished(RunStatus::Completed));
    assert_eq!(rt.store().steps("same").await.expect("steps"), steps_before);
    assert_eq!(
        rt.store().journal("same").await.expect("journal").len(),
        journal_before
    );
    let run = rt.store().run("same").await.expect("read").expect("exists");
    assert_eq!(run.input, input);
    let runs = rt
        .store()
        .list_runs(RunFilter::default())
        .await
        .expect("lists");
    assert_eq!(runs.len(), 1);
}

#[tokio::test]
async fn execute_refuses_bad_input_and_writes_nothing() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let error = rt
        .execute(&workflow, json!([1, 2]), None, None)
        .await
        .expect_err("an array is no input object");
    assert!(error.to_string().contains("object"), "{error}");
    let error = rt
        .execute(
            &workflow,
            json!({}),
            Some("bad id with spaces\n".into()),
            None,
        )
        .await
        .expect_err("a bad id is refused");
    assert!(!error.to_string().is_empty());
    let runs = rt
        .store()
        .list_runs(RunFilter::default())
        .await
        .expect("lists");
    assert!(runs.is_empty());
}
