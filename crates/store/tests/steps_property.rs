//! Property: whatever batches of points are committed, each (run, step path) has
//! exactly one row, and that row is what applying the step writes one by one
//! would give (a `done` row never changes; attempts never decrease; the first
//! start time stays).

mod harness;

use std::collections::BTreeMap;

use harness::{Harness, point, started_run};
use proptest::prelude::*;
use serde_json::json;
use store::{PointOutcome, StepStatus, StepWrite, Store};

const RUNS: [&str; 3] = ["r0", "r1", "r2"];
const PATHS: [&str; 4] = ["1", "3#1", "3#2", "4/A"];

#[derive(Debug, Clone)]
struct Write {
    path: usize,
    status: StepStatus,
    attempts: i32,
    answer: i64,
    started_at: Option<i64>,
}

fn write_strategy() -> impl Strategy<Value = Write> {
    (
        0..PATHS.len(),
        prop::sample::select(StepStatus::ALL.to_vec()),
        1..5_i32,
        0..1000_i64,
        prop::option::of(0..100_i64),
    )
        .prop_map(|(path, status, attempts, answer, started_at)| Write {
            path,
            status,
            attempts,
            answer,
            started_at,
        })
}

/// Batches of points; a point is (run index, step writes).
fn batches_strategy() -> impl Strategy<Value = Vec<Vec<(usize, Vec<Write>)>>> {
    let point = (0..RUNS.len(), prop::collection::vec(write_strategy(), 0..5));
    prop::collection::vec(prop::collection::vec(point, 1..6), 1..4)
}

/// The expected row: (status, attempts, answer, started_at).
type Row = (StepStatus, i32, i64, Option<i64>);

fn apply_model(model: &mut BTreeMap<(usize, usize), Row>, run: usize, write: &Write) {
    let key = (run, write.path);
    match model.get_mut(&key) {
        Some(row) if row.0 == StepStatus::Done => {}
        Some(row) => {
            *row = (
                write.status,
                row.1.max(write.attempts),
                write.answer,
                row.3.or(write.started_at),
            );
        }
        None => {
            model.insert(
                key,
                (write.status, write.attempts, write.answer, write.started_at),
            );
        }
    }
}

async fn check(batches: Vec<Vec<(usize, Vec<Write>)>>) -> Result<(), TestCaseError> {
    let harness = Harness::sqlite().await;
    let store = &harness.store;
    let mut epochs = Vec::new();
    for run in RUNS {
        epochs.push(started_run(store, run).await);
    }
    let mut model = BTreeMap::new();
    for batch in batches {
        let mut points = Vec::new();
        for (run, writes) in &batch {
            let mut p = point(RUNS[*run], epochs[*run], json!({}));
            p.steps = writes
                .iter()
                .map(|w| StepWrite {
                    path: PATHS[w.path].to_owned(),
                    number: PATHS[w.path][..1].to_owned(),
                    kind: "bot".to_owned(),
                    bot: None,
                    attempts: w.attempts,
                    status: w.status,
                    answer: Some(json!(w.answer)),
                    error: None,
                    started_at: w.started_at,
                    finished_at: None,
                })
                .collect();
            points.push(p);
            for w in writes {
                apply_model(&mut model, *run, w);
            }
        }
        let outcomes = store.commit(points).await.expect("the commit runs");
        prop_assert!(outcomes.iter().all(|o| *o == PointOutcome::Ok));
    }
    for (run_index, run) in RUNS.iter().enumerate() {
        let mut stored: Vec<(String, Row)> = store
            .steps(run)
            .await
            .expect("steps read")
            .into_iter()
            .map(|s| {
                let answer = s.answer.and_then(|a| a.as_i64()).unwrap_or(-1);
                (s.path, (s.status, s.attempts, answer, s.started_at))
            })
            .collect();
        stored.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected: Vec<(String, Row)> = model
            .iter()
            .filter(|((r, _), _)| *r == run_index)
            .map(|((_, path), row)| (PATHS[*path].to_owned(), *row))
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        prop_assert_eq!(stored, expected, "steps of {}", run);
    }
    harness.finish().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn step_rows_match_sequential_writes(batches in batches_strategy()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime can be built");
        runtime.block_on(check(batches))?;
    }
}
