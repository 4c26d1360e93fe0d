//! DESIGN.md invariant 3: a run is pinned to the exact source it started
//! with. Editing the script affects only runs started afterwards, even when
//! another process (a new `Runtime` over a reloaded deployment) resumes the
//! old run.

mod common;

use common::{Fixture, package, runtime_at};
use runtime::Driven;
use serde_json::json;

fn flow(version: &str) -> String {
    format!(
        "ORCHESTRATE WORKFLOW \"pinned\"\n  before = \"{version}\"\n  DELAY 0.2\n  RETURN \"{version}\"\nEND WORKFLOW\n"
    )
}

#[tokio::test]
async fn a_run_resumed_after_its_script_changed_finishes_with_the_old_source() {
    let fixture = Fixture::new();
    package(&fixture.bots(), "flow", &[("main.bas", &flow("v1"))], "");
    let first = fixture.runtime().await;
    let workflow = first.workflow(None).expect("one workflow");
    let (old_run, _) = first
        .start(&workflow, json!({}), None)
        .await
        .expect("starts");
    let driven = first.drive(&old_run.id).await.expect("driven");
    assert!(
        matches!(driven, Driven::Waiting { .. }),
        "the run waits on its timer, got {driven:?}"
    );
    drop(first);

    // The script changes on disk; a new runtime loads the new deployment.
    package(&fixture.bots(), "flow", &[("main.bas", &flow("v2"))], "");
    let second = runtime_at(&fixture.bots(), &fixture.db()).await;
    second.run_to_end(&old_run.id).await.expect("resumes");
    let old = second.view(&old_run.id).await.expect("reads");
    assert_eq!(
        old.result,
        Some(json!("v1")),
        "the old run keeps its source"
    );

    let workflow = second.workflow(None).expect("one workflow");
    let (new_run, _) = second
        .start(&workflow, json!({}), None)
        .await
        .expect("starts");
    second.run_to_end(&new_run.id).await.expect("completes");
    let new = second.view(&new_run.id).await.expect("reads");
    assert_eq!(
        new.result,
        Some(json!("v2")),
        "a new run takes the new source"
    );
    assert_ne!(old.program_hash, new.program_hash);
}
