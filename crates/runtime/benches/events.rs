//! `cargo bench -p runtime --bench events`: event publish → waiting run
//! resumed, in-process, on SQLite (`synchronous=FULL`) in a temp folder.
//!
//! 200 runs each wait for `paid` with their own key (committed `waiting`,
//! no driver left). For each run, one at a time: publish its event from
//! outside (`Runtime::publish_event`: one transaction that stores the event
//! and makes the run due) and drive the run until it has consumed the event
//! and ended (`Runtime::drive`). The figure is the time from the publish call
//! to the driver's final commit: p50, p90 and p99.
//!
//! A benchmark, not a test: it prints numbers and asserts nothing about time.

use std::time::Instant;

use runtime::{Driven, Options, Runtime};
use serde_json::json;
use store::AnyStore;

const RUNS: usize = 200;

const FLOW: &str = r#"ORCHESTRATE WORKFLOW "paid"
  e = WAIT FOR EVENT "paid" FOR order_id
  RETURN e.data
END WORKFLOW
"#;

fn main() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let flow = dir.path().join("bots/flow.gbai/flow.gbdialog");
    std::fs::create_dir_all(&flow).expect("the bots folder");
    std::fs::write(flow.join("paid.bas"), FLOW).expect("the workflow");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tokio.block_on(async {
        let deployment =
            bots::load_deployment(&dir.path().join("bots")).expect("the deployment loads");
        let store = AnyStore::open(&dir.path().join("bench.db").display().to_string())
            .await
            .expect("the database opens");
        let rt = Runtime::new(store, deployment, Options::default());
        let workflow = rt.workflow(None).expect("one workflow");
        let mut ids = Vec::with_capacity(RUNS);
        for n in 0..RUNS {
            let id = format!("run-{n}");
            rt.start(
                &workflow,
                json!({"order_id": format!("order-{n}")}),
                Some(id.clone()),
            )
            .await
            .expect("starts");
            let waiting = rt.drive(&id).await.expect("drives");
            assert_eq!(waiting, Driven::Waiting { wake_at: None });
            ids.push(id);
        }
        let mut latencies = Vec::with_capacity(RUNS);
        for (n, id) in ids.iter().enumerate() {
            let started = Instant::now();
            rt.publish_event(
                "paid",
                Some(json!({"n": n})),
                Some(format!("order-{n}")),
                None,
            )
            .await
            .expect("publishes");
            let driven = rt.drive(id).await.expect("drives");
            latencies.push(started.elapsed());
            assert_eq!(driven, Driven::Finished(store::RunStatus::Completed));
        }
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
        println!(
            "event publish -> waiting run resumed and completed ({RUNS} runs, SQLite FULL): \
             p50 {:.2?}, p90 {:.2?}, p99 {:.2?}",
            at(0.5),
            at(0.9),
            at(0.99)
        );
    });
}
