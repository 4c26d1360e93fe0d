//! `Runtime::launch`: a run created by its first durable point in the group
//! commit, answered as soon as it exists, and driven on in the background.

mod common;

use std::time::Duration;

use common::{Fixture, runtime_at, template};
use runtime::{Error, Runtime};
use serde_json::json;
use store::{DecisionRefused, RunFilter, RunStatus, Store};

/// Long enough for any launched driver of these tests to stop; nothing is
/// asserted about how long it took.
const DRAIN: Duration = Duration::from_secs(60);

fn small_order() -> serde_json::Value {
    json!({"complaint": "my parcel is late", "order_amount": 10})
}

async fn runs(rt: &Runtime) -> usize {
    rt.store()
        .list_runs(RunFilter::default())
        .await
        .expect("lists")
        .len()
}

#[tokio::test]
async fn launch_answers_once_the_run_exists_and_the_run_then_completes() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let stats = rt.stats();

    let (run, created) = rt
        .launch(&workflow, small_order(), Some("l-1".into()), None)
        .await
        .expect("launches");
    assert!(created);
    assert_eq!(run.id, "l-1");
    assert_eq!(run.workflow, "customer-support");
    assert_eq!(
        run.version, 1,
        "the answer is the run as its first point made it"
    );
    // The run is in the store the moment launch returns.
    let stored = rt.store().run("l-1").await.expect("read");
    assert!(stored.is_some(), "launch returned before the run existed");

    // Its driver goes on by itself; draining waits for it to stop.
    assert_eq!(rt.drain_launched(DRAIN).await, 0, "no driver was aborted");
    let record = rt.store().run("l-1").await.expect("read").expect("exists");
    assert_eq!(record.status, RunStatus::Completed);
    assert_eq!(record.lease_epoch, 1, "created leased, never claimed");
    // Every transaction was a group commit: the creation rode on the first point.
    assert_eq!(
        u64::try_from(record.version).expect("positive"),
        stats.points()
    );
    let result = record.result.expect("a completed run has a result");
    assert_eq!(result["category"], "shipping");
}

#[tokio::test]
async fn the_same_id_launched_twice_makes_one_run() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");

    let (first, created) = rt
        .launch(&workflow, small_order(), Some("twice".into()), None)
        .await
        .expect("launches");
    assert!(created);
    let (second, created_again) = rt
        .launch(&workflow, json!({"other": 1}), Some("twice".into()), None)
        .await
        .expect("returns the existing run");
    assert!(!created_again);
    assert_eq!(second.id, first.id);
    assert_eq!(second.created_at, first.created_at);

    rt.drain_launched(DRAIN).await;
    let record = rt
        .store()
        .run("twice")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(record.status, RunStatus::Completed);
    assert_eq!(
        record.input,
        small_order(),
        "the second input was never used"
    );
    assert_eq!(runs(&rt).await, 1);
    let journal = rt.store().journal("twice").await.expect("journal");
    let started = journal.iter().filter(|e| e.kind == "run_started").count();
    assert_eq!(started, 1, "driven from one start only");
}

#[tokio::test]
async fn concurrent_launches_of_one_id_create_it_once() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");

    let launches = (0..8).map(|_| rt.launch(&workflow, small_order(), Some("race".into()), None));
    let answers = futures_util::future::join_all(launches).await;
    let created = answers
        .iter()
        .map(|answer| answer.as_ref().expect("each launch answers"))
        .filter(|(run, created)| {
            assert_eq!(run.id, "race");
            *created
        })
        .count();
    assert_eq!(created, 1, "exactly one launch created the run");

    rt.drain_launched(DRAIN).await;
    assert_eq!(runs(&rt).await, 1);
    let record = rt.store().run("race").await.expect("read").expect("exists");
    assert_eq!(record.status, RunStatus::Completed);
    let steps = rt.store().steps("race").await.expect("steps");
    assert!(
        steps
            .iter()
            .filter(|s| s.kind == "bot")
            .all(|s| s.attempts == 1),
        "a bot step ran twice: {steps:?}"
    );
    let journal = rt.store().journal("race").await.expect("journal");
    let started = journal.iter().filter(|e| e.kind == "run_started").count();
    assert_eq!(started, 1, "driven from one start only");
}

#[tokio::test]
async fn a_launched_run_records_its_starter_who_may_not_approve_it() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let input = json!({"complaint": "broken", "order_amount": 500});

    let (run, created) = rt
        .launch(
            &workflow,
            input,
            Some("big".into()),
            Some("manager@company.com".into()),
        )
        .await
        .expect("launches");
    assert!(created);
    rt.drain_launched(DRAIN).await;
    let record = rt
        .store()
        .run(&run.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(record.status, RunStatus::Waiting, "waits for its approval");

    let own = rt
        .decide(&run.id, true, "manager@company.com", None, "cli")
        .await;
    assert!(
        matches!(
            own,
            Err(Error::Store(store::Error::Refused(
                DecisionRefused::SelfApproval { .. }
            )))
        ),
        "{own:?}"
    );
    assert_eq!(rt.pending_approvals(&run.id).await.expect("read").len(), 1);
}

#[tokio::test]
async fn launch_refuses_bad_input_and_writes_nothing() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let error = rt
        .launch(&workflow, json!([1, 2]), None, None)
        .await
        .expect_err("an array is no input object");
    assert!(matches!(error, Error::InputNotObject(_)), "{error}");
    let error = rt
        .launch(&workflow, json!({}), Some("bad id\n".into()), None)
        .await
        .expect_err("a bad id is refused");
    assert!(matches!(error, Error::InvalidRunId { .. }), "{error}");
    let too_big = "x".repeat(store::MAX_VALUE_BYTES + 1);
    let error = rt
        .launch(&workflow, json!({"complaint": too_big}), None, None)
        .await
        .expect_err("an input over the cap is refused");
    assert!(matches!(error, Error::TooLarge { .. }), "{error}");
    assert_eq!(rt.drain_launched(DRAIN).await, 0);
    assert_eq!(runs(&rt).await, 0);
}

#[tokio::test]
async fn a_launch_whose_caller_stops_waiting_still_drives_its_run() {
    use sqlx::Connection;

    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    // A first launch stores the program, so the next one writes nothing
    // before its first point.
    rt.launch(&workflow, small_order(), Some("first".into()), None)
        .await
        .expect("launches");
    rt.drain_launched(DRAIN).await;

    // Another connection holds the write lock: the next run's first point
    // waits in its commit while its caller gives up (as a server's handler
    // is dropped when its client hangs up).
    let mut blocker =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", fixture.db().display()))
            .await
            .expect("a second connection opens");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .expect("takes the write lock");
    let launched = tokio::time::timeout(
        Duration::from_millis(500),
        rt.launch(&workflow, small_order(), Some("given-up".into()), None),
    )
    .await;
    assert!(
        launched.is_err(),
        "the launch answered while the store was locked: {launched:?}"
    );
    sqlx::query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("releases the lock");

    // The driver was handed to a task of its own: the point commits and the
    // run completes, with nobody waiting for it.
    assert_eq!(rt.drain_launched(DRAIN).await, 0, "no driver was aborted");
    let record = rt
        .store()
        .run("given-up")
        .await
        .expect("read")
        .expect("the abandoned launch's run was created");
    assert_eq!(record.status, RunStatus::Completed);
    assert_eq!(record.lease_epoch, 1, "driven by its launcher's driver");
}
