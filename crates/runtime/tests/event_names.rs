//! Event names match ignoring case (LANGUAGE.md §1: look-ups ignore case):
//! an event published as `Order.Paid` meets `WAIT FOR EVENT "order.paid"`,
//! an `ON EVENT "ORDER.PAID"` handler and a `TRIGGER ON EVENT
//! "order.PAID"` header. The store keeps names in lower case
//! (`store::canonical_event_name`).

mod common;

use common::{Fixture, package};
use runtime::{Driven, Runtime};
use serde_json::json;
use store::{RunStatus, Store};

const WAITS: &str = r#"ORCHESTRATE WORKFLOW "waits"
  WAIT FOR EVENT "order.paid"
  TALK "wait got " & event.data.n & " as " & event.name
END WORKFLOW
"#;

const HANDLES: &str = r#"ORCHESTRATE WORKFLOW "handles"
  ON EVENT "ORDER.PAID" DO
    TALK "handler got " & event.data.n
  END ON
  WAIT FOR EVENT "done"
END WORKFLOW
"#;

const TRIGGERED: &str = r#"TRIGGER ON EVENT "order.PAID"
TALK "triggered by " & event.data.n
"#;

async fn talk(rt: &Runtime, run: &str) -> Vec<String> {
    rt.view(run)
        .await
        .expect("the run reads")
        .transcript
        .into_iter()
        .map(|line| line.text)
        .collect()
}

/// Drives every due run once.
async fn drive_due(rt: &Runtime) {
    for record in rt.claim_due().await.expect("claims") {
        rt.drive_claimed(record).await.expect("drives");
    }
}

#[tokio::test]
async fn an_event_published_in_any_case_meets_waits_handlers_and_triggers() {
    let fixture = Fixture::new();
    package(
        &fixture.bots(),
        "flow",
        &[
            ("waits.bas", WAITS),
            ("handles.bas", HANDLES),
            ("triggered.bas", TRIGGERED),
        ],
        "",
    );
    let rt = fixture.runtime().await;
    for (id, name) in [("w", "waits"), ("h", "handles")] {
        let workflow = rt.workflow(Some(name)).expect("the workflow exists");
        rt.start(&workflow, json!({}), Some(id.to_owned()))
            .await
            .expect("starts");
        assert_eq!(
            rt.drive(id).await.expect("drives"),
            Driven::Waiting { wake_at: None },
            "{id} waits"
        );
    }

    let event = rt
        .publish_event("Order.Paid", Some(json!({"n": 1})), None, None)
        .await
        .expect("publishes");
    assert_eq!(event.name, "order.paid", "stored in lower case");
    assert_eq!(rt.start_triggered().await.expect("a trigger pass"), 1);
    drive_due(&rt).await;
    drive_due(&rt).await;

    let w = rt.store().run("w").await.expect("reads").expect("the run");
    assert_eq!(w.status, RunStatus::Completed);
    assert_eq!(talk(&rt, "w").await, ["wait got 1 as order.paid"]);
    assert_eq!(talk(&rt, "h").await, ["handler got 1"]);
    let triggered = rt
        .store()
        .list_runs(store::RunFilter::default())
        .await
        .expect("lists")
        .into_iter()
        .filter(|r| r.id != "w" && r.id != "h")
        .collect::<Vec<_>>();
    assert_eq!(triggered.len(), 1, "one triggered run: {triggered:?}");
    assert_eq!(talk(&rt, &triggered[0].id).await, ["triggered by 1"]);
}
