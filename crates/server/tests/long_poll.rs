//! A long poll answers when what it waits for happens, not at its fallback
//! interval: here the fallback is longer than the wait, so only the cue can
//! answer in time.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Harness;
use serde_json::json;
use server::ServerOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_long_poll_answers_when_the_run_driven_here_ends() {
    let h = Harness::with_options(ServerOptions {
        poll_interval: Duration::from_secs(3600),
        ..ServerOptions::default()
    })
    .await;
    for i in 0..5 {
        // Asked right after the start, while its driver still drives it: the
        // first look waits for the driver to stop.
        let id = h.start(&format!("poll-{i}"), 50).await;
        let answer = h.result(&id, 60).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(answer.body["finished"], json!(true), "{:?}", answer.body);
        assert_eq!(answer.body["status"], json!("completed"));
    }
    // A run nobody drives any more is looked at at once, and so is an
    // unknown one.
    assert_eq!(h.result("poll-0", 60).await.body["finished"], json!(true));
    assert_eq!(h.result("nobody", 60).await.status, StatusCode::NOT_FOUND);
    h.stop().await;
}
