//! Whole workflows, data-driven: every folder under `tests/workflows/` holds
//! a deployment (`bots/`: the workflow's package and the bot packages it
//! calls) and the run's `input.json`. Each is run to its end on a fresh
//! SQLite database and snapshotted: the final status, result or error,
//! variables, steps (path, number, bot, status, attempts), transcript and
//! the events the run published (steps and events sorted by path and id:
//! `PARALLEL` branches may finish in either order).

mod common;

use std::path::Path;

use common::runtime_at;
use serde_json::{Value, json};

fn outcome(case: &Path) -> Value {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tokio.block_on(async {
        let dir = tempfile::tempdir().expect("a temp dir");
        let rt = runtime_at(&case.join("bots"), &dir.path().join("runs.db")).await;
        let input: Value = serde_json::from_str(
            &std::fs::read_to_string(case.join("input.json")).expect("input.json"),
        )
        .expect("input.json is JSON");
        let workflow = rt.workflow(None).expect("one workflow");
        let (run, _) = rt.start(&workflow, input, None).await.expect("starts");
        rt.run_to_end(&run.id).await.expect("runs to its end");
        let mut view = rt.view(&run.id).await.expect("reads the run back");
        // Concurrent branches finish in any order; the snapshot must not care.
        view.steps.sort_by(|a, b| a.path.cmp(&b.path));
        view.events.sort_by(|a, b| a.id.cmp(&b.id));
        json!({
            "status": view.status.as_str(),
            "result": view.result,
            "error": view.error,
            "variables": view.variables,
            "steps": view.steps.iter().map(|s| json!({
                "path": s.path,
                "number": s.number,
                "bot": s.bot,
                "status": s.status,
                "attempts": s.attempts,
            })).collect::<Vec<_>>(),
            "transcript": view.transcript.iter().map(|t| &t.text).collect::<Vec<_>>(),
            "events": view.events.iter().map(|e| json!({
                // Ids start with the run id, which is new every time.
                "id": e.id.split_once(':').map_or(e.id.as_str(), |(_, rest)| rest),
                "name": e.name,
                "payload": e.payload,
            })).collect::<Vec<_>>(),
        })
    })
}

#[test]
fn workflows() {
    insta::glob!("workflows/*/input.json", |input| {
        let case = input.parent().expect("the case folder");
        insta::assert_yaml_snapshot!(outcome(case));
    });
}
