//! Slow clients time out with a `408` problem and change nothing; long polls
//! are capped and answer at once when the server shuts down.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Harness;
use serde_json::json;
use server::ServerOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_finishes_is_abandoned_with_408_and_changes_nothing() {
    let h = Harness::with_options(ServerOptions {
        request_timeout: Duration::from_millis(300),
        ..ServerOptions::default()
    })
    .await;
    let before = h.snapshot().await;
    // A slowloris body: the opening of a JSON object, then nothing, forever.
    let opening = futures_util::stream::iter([Ok::<_, std::io::Error>(
        axum::body::Bytes::from_static(b"{\"input\": "),
    )]);
    let stream = futures_util::StreamExt::chain(opening, futures_util::stream::pending());
    let request = Request::post("/v1/workflows/customer-support/runs")
        .header(header::AUTHORIZATION, format!("Bearer {}", h.operator))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .expect("a request");
    let answer = h.send(request).await;
    assert_eq!(
        answer.status,
        StatusCode::REQUEST_TIMEOUT,
        "{:?}",
        answer.body
    );
    assert_eq!(answer.problem(), "timeout");
    assert_eq!(h.snapshot().await, before);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_when_the_server_shuts_down() {
    let h = Harness::new().await;
    let run = h.start("waits", 150).await;
    h.pending_approval(&run).await;
    let started = Instant::now();
    let poll = {
        let app = h.app.clone();
        let token = h.viewer.clone();
        tokio::spawn(async move {
            use tower::ServiceExt;
            app.oneshot(
                Request::get(format!("/v1/runs/{run}/result?wait=60"))
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .expect("a request"),
            )
            .await
            .expect("an answer")
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.state.begin_shutdown();
    let response = poll.await.expect("the poll ends");
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["finished"], json!(false));
    assert_eq!(body["status"], json!("waiting"));
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "the poll waited out its minute"
    );
    h.stop().await;
}
