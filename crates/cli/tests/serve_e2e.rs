//! `botflow serve` end to end: a real process on a free loopback port over a
//! temporary SQLite database and a copy of the customer-support template.
//! A run is started over HTTP, its approval learnt of by long poll, approved
//! through the API by the addressed approver, and its result awaited with
//! `result?wait=`; SIGTERM then stops the server cleanly.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::serve::{Server, customer_support, token};

const MANAGER: &str = "manager@company.com";

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_over_http_is_approved_over_http_and_its_result_awaited() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = customer_support(dir.path());
    let db = dir.path().join("botflow.db");
    let server = Server::start(&db, &bots);
    let base = server.url().to_owned();
    assert!(
        server.stderr().contains("created the first API token"),
        "the first start prints an admin token"
    );
    let operator = token(&db, "operator", "ops@company.com");
    let manager = token(&db, "approver", MANAGER);
    let client = reqwest::Client::new();
    use reqwest::Method;

    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status().as_u16(), 200);

    let (status, run) = call(
        &client,
        Method::POST,
        format!("{base}/v1/workflows/customer-support/runs"),
        &operator,
        Some(json!({
            "id": "case-42",
            "input": {"complaint": "my blender arrived broken", "order_id": "ORD-7", "order_amount": 150}
        })),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["id"], json!("case-42"));

    // The approver learns of the request by long poll, not by polling.
    let started = Instant::now();
    let mut approvals = Value::Null;
    while started.elapsed() < Duration::from_secs(120) {
        let (status, found) = call(
            &client,
            Method::GET,
            format!("{base}/v1/approvals?status=pending&run=case-42&wait=20"),
            &manager,
            None,
        )
        .await;
        assert_eq!(status, 200, "{found}");
        if found.as_array().is_some_and(|a| !a.is_empty()) {
            approvals = found;
            break;
        }
    }
    let approval = approvals[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no approval request: {approvals}"))
        .to_owned();
    assert_eq!(approvals[0]["approvers"], json!([MANAGER]));

    let (status, decided) = call(
        &client,
        Method::POST,
        format!("{base}/v1/approvals/{approval}/decision"),
        &manager,
        Some(json!({"decision": "approve", "comment": "refund it"})),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], json!("approved"));

    let started = Instant::now();
    let mut result = Value::Null;
    while started.elapsed() < Duration::from_secs(120) {
        let (status, answer) = call(
            &client,
            Method::GET,
            format!("{base}/v1/runs/case-42/result?wait=20"),
            &operator,
            None,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        if answer["finished"] == json!(true) {
            result = answer;
            break;
        }
    }
    assert_eq!(result["status"], json!("completed"), "{result}");

    let (status, view) = call(
        &client,
        Method::GET,
        format!("{base}/v1/runs/case-42"),
        &operator,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        view["steps"]
            .as_array()
            .is_some_and(|steps| steps.iter().all(|s| s["status"] == json!("done"))),
        "{view}"
    );

    // The metrics saw the run's steps and its end (counted from its
    // driver's progress, which may reach them a moment after the store).
    let finished = "botflow_runs_finished_total{status=\"completed\"} 1";
    let mut text = String::new();
    for _ in 0..500 {
        let metrics = client
            .get(format!("{base}/metrics"))
            .bearer_auth(&operator)
            .send()
            .await
            .expect("metrics answer");
        assert_eq!(metrics.status().as_u16(), 200);
        text = metrics.text().await.expect("a text body");
        if text.contains(finished) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for needle in [
        finished,
        "botflow_runs_started_total{workflow=\"customer-support\"} 1",
        "botflow_steps_total{outcome=\"done\"}",
        "botflow_approvals_requested_total 1",
        "botflow_approval_seconds_count 1",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }

    // SIGTERM: the server drains and exits 0.
    let (status, stderr) = server.terminate(Duration::from_secs(60));
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("server stopped"), "{stderr}");
}

/// The HTTP load figures of issue 6, printed, never asserted on (timings
/// depend on the machine): runs of the customer-support template without
/// approval, started and awaited over HTTP by 16 and by 256 concurrent
/// clients. Run with `cargo test -p botflow --release --test serve_e2e -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test: run it explicitly"]
async fn http_start_and_await_throughput() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = customer_support(dir.path());
    let db = dir.path().join("botflow.db");
    let server = Server::start(&db, &bots);
    let base = server.url().to_owned();
    let operator = token(&db, "operator", "load@company.com");
    let client = reqwest::Client::new();
    for (clients, runs) in [(16usize, 1_000usize), (256, 2_000)] {
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (client, base, token, next) =
                (client.clone(), base.clone(), operator.clone(), next.clone());
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= runs {
                        return latencies;
                    }
                    let id = format!("load-{clients}-{n}");
                    let begun = Instant::now();
                    let (status, _) = call(
                        &client,
                        reqwest::Method::POST,
                        format!("{base}/v1/workflows/customer-support/runs"),
                        &token,
                        Some(json!({"id": id, "input": {"complaint": "late", "order_amount": 20}})),
                    )
                    .await;
                    latencies.push(begun.elapsed());
                    assert_eq!(status, 201);
                    loop {
                        let (_, result) = call(
                            &client,
                            reqwest::Method::GET,
                            format!("{base}/v1/runs/{id}/result?wait=30"),
                            &token,
                            None,
                        )
                        .await;
                        if result["finished"] == json!(true) {
                            assert_eq!(result["status"], json!("completed"));
                            break;
                        }
                    }
                }
            });
        }
        let mut latencies: Vec<Duration> = Vec::new();
        while let Some(done) = tasks.join_next().await {
            latencies.extend(done.expect("a client task"));
        }
        let took = started.elapsed();
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
        println!(
            "{clients} clients: {runs} runs started and awaited in {:.2} s = {:.0} runs/s; \
             start latency p50 {:.2} ms, p99 {:.2} ms",
            took.as_secs_f64(),
            runs as f64 / took.as_secs_f64(),
            at(0.5).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
        );
    }
}
