//! `botflow serve` end to end, as people and a front end use it: a real
//! process on a free loopback port over a temporary SQLite database and a
//! copy of the customer-support template whose approval notifications go to
//! a webhook this test listens on. A run is started over HTTP and followed
//! on its SSE stream; the approval is learnt of by long poll; the manager
//! approves through the signed-link page (GET, which changes nothing, then
//! the page's POST); the stream carries the rest of the run and `end`, and
//! the result is awaited. A second run's stream, left open while the run
//! waits, does not hold up a SIGTERM: the server stops cleanly.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

mod common;

use common::serve::{Server, customer_support, json_of, token, webhook_sink};

const MANAGER: &str = "manager@company.com";

/// One SSE event.
#[derive(Debug, Clone)]
struct Sse {
    id: Option<i64>,
    event: String,
    data: Value,
}

/// Follows an SSE response on a task; each event arrives on the channel,
/// which closes when the server closes the stream.
fn follow(mut response: reqwest::Response) -> mpsc::UnboundedReceiver<Sse> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let mut event = Sse {
                    id: None,
                    event: String::new(),
                    data: Value::Null,
                };
                for line in frame.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        event.id = id.parse().ok();
                    } else if let Some(name) = line.strip_prefix("event: ") {
                        name.clone_into(&mut event.event);
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        event.data = serde_json::from_str(data).unwrap_or(Value::Null);
                    }
                }
                // Keep-alive comments carry no event name.
                if !event.event.is_empty() && tx.send(event).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<Sse>) -> Option<Sse> {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the stream sends or closes within 60 s")
}

async fn until(rx: &mut mpsc::UnboundedReceiver<Sse>, name: &str) -> Vec<Sse> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(rx)
            .await
            .unwrap_or_else(|| panic!("the stream closed before `{name}`: {seen:?}"));
        let found = event.event == name;
        seen.push(event);
        if found {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_followed_on_its_stream_and_approved_through_the_link_page() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = customer_support(dir.path());
    let (hook, mut hooks) = webhook_sink().await;
    let config = bots.join("customer-support.gbai/customer-support.gbot/config.csv");
    let mut rows = std::fs::read_to_string(&config).expect("the template's config");
    rows.push_str(&format!(
        "approval-via,webhook\napproval-webhook-url,{hook}\n"
    ));
    std::fs::write(&config, rows).expect("the config is written");
    let db = dir.path().join("botflow.db");
    let server = Server::start(&db, &bots);
    let base = server.url().to_owned();
    let operator = token(&db, "operator", "ops@company.com");
    let viewer = token(&db, "viewer", "screen@company.com");
    let client = reqwest::Client::new();

    let (status, run) = json_of(
        client
            .post(format!("{base}/v1/workflows/customer-support/runs"))
            .bearer_auth(&operator)
            .json(&json!({
                "id": "case-7",
                "input": {"complaint": "my blender arrived broken", "order_amount": 150}
            }))
            .send()
            .await
            .expect("the server answers"),
    )
    .await;
    assert_eq!(status, 201, "{run}");

    // A front end follows the run live.
    let stream = client
        .get(format!("{base}/v1/runs/case-7/stream"))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(
        stream.headers()["content-type"],
        "text/event-stream",
        "{:?}",
        stream.headers()
    );
    let mut events = follow(stream);
    let mut seen = until(&mut events, "waiting").await;
    assert_eq!(seen[0].event, "run_started");

    // The approver's system learns of the request by long poll.
    let started = Instant::now();
    let approval = loop {
        let (status, found) = json_of(
            client
                .get(format!(
                    "{base}/v1/approvals?status=pending&run=case-7&wait=20"
                ))
                .bearer_auth(&viewer)
                .send()
                .await
                .expect("the server answers"),
        )
        .await;
        assert_eq!(status, 200, "{found}");
        if let Some(id) = found[0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no approval request"
        );
    };

    // The manager's notification carries the signed links.
    let notice = tokio::time::timeout(Duration::from_secs(60), hooks.recv())
        .await
        .expect("the webhook is called within 60 s")
        .expect("the sink runs");
    assert_eq!(notice["approval"], approval.as_str());
    let entry = notice["approvers"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["who"] == MANAGER))
        .unwrap_or_else(|| panic!("the manager has links: {notice}"))
        .clone();
    let link = entry["approve"].as_str().expect("an approve link");
    let (_, token) = link.split_once("/approve/").expect("an /approve/ link");
    let page = format!("{base}/approve/{token}");

    // GET shows the request and changes nothing.
    let shown = client.get(&page).send().await.expect("the page answers");
    assert_eq!(shown.status().as_u16(), 200);
    let html = shown.text().await.expect("a page");
    assert!(html.contains("Approve this request?"), "{html}");
    assert!(html.contains("case-7"), "{html}");
    let (_, request) = json_of(
        client
            .get(format!("{base}/v1/approvals/{approval}"))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("the server answers"),
    )
    .await;
    assert_eq!(request["status"], "pending", "{request}");

    // The page's POST decides.
    let confirmed = client
        .post(&page)
        .form(&[("comment", "refund it")])
        .send()
        .await
        .expect("the page answers");
    assert_eq!(confirmed.status().as_u16(), 200);
    let html = confirmed.text().await.expect("a page");
    assert!(html.contains("Decision recorded"), "{html}");
    let again = client
        .post(&page)
        .form(&[("comment", "twice")])
        .send()
        .await
        .expect("the page answers");
    assert_eq!(again.status().as_u16(), 410, "a link works once");

    // The stream carries the rest of the run, then `end`, then closes.
    seen.extend(until(&mut events, "end").await);
    assert!(
        next_event(&mut events).await.is_none(),
        "the stream closes after `end`"
    );
    let end = seen.last().expect("events");
    assert_eq!(end.data["status"], "completed", "{end:?}");
    assert!(seen.iter().any(|e| e.event == "run_completed"));
    let ids: Vec<i64> = seen.iter().filter_map(|e| e.id).collect();
    let expected: Vec<i64> = (1..=i64::try_from(ids.len()).expect("a count")).collect();
    assert_eq!(ids, expected, "every journal entry once, in order");

    let (status, result) = json_of(
        client
            .get(format!("{base}/v1/runs/case-7/result?wait=20"))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("the server answers"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(result["status"], "completed", "{result}");

    // A follower of a waiting run does not hold up a SIGTERM.
    let (status, _) = json_of(
        client
            .post(format!("{base}/v1/workflows/customer-support/runs"))
            .bearer_auth(&operator)
            .json(&json!({
                "id": "case-8",
                "input": {"complaint": "my blender arrived broken", "order_amount": 150}
            }))
            .send()
            .await
            .expect("the server answers"),
    )
    .await;
    assert_eq!(status, 201);
    let waiting = client
        .get(format!("{base}/v1/runs/case-8/stream"))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("the stream opens");
    let mut waiting = follow(waiting);
    until(&mut waiting, "waiting").await;

    let (status, stderr) = server.terminate(Duration::from_secs(60));
    assert!(
        status.success(),
        "the server stops after SIGTERM with a stream open: {stderr}"
    );
    // The open stream was closed without `end`: the run has not ended.
    while let Some(event) = next_event(&mut waiting).await {
        assert_ne!(event.event, "end", "{event:?}");
    }
}

/// Runs `botflow ARGS` with `BOTFLOW_TOKEN` set to `env_token` (or unset);
/// returns the exit code, stdout and stderr.
fn botflow(args: &[&str], env_token: Option<&str>) -> (i32, String, String) {
    let mut command = common::botflow();
    command.args(args).env_remove("BOTFLOW_TOKEN");
    if let Some(token) = env_token {
        command.env("BOTFLOW_TOKEN", token);
    }
    let out = command.output().expect("botflow runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_and_events_act_through_the_server_with_server_and_token() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = customer_support(dir.path());
    let db = dir.path().join("botflow.db");
    let server = Server::start(&db, &bots);
    let base = server.url().to_owned();
    let operator = token(&db, "operator", "ops@company.com");
    let manager = token(&db, "approver", MANAGER);
    let viewer = token(&db, "viewer", "screen@company.com");
    let client = reqwest::Client::new();
    let (status, _) = json_of(
        client
            .post(format!("{base}/v1/workflows/customer-support/runs"))
            .bearer_auth(&operator)
            .json(&json!({
                "id": "case-9",
                "input": {"complaint": "my blender arrived broken", "order_amount": 150}
            }))
            .send()
            .await
            .expect("the server answers"),
    )
    .await;
    assert_eq!(status, 201);
    let started = Instant::now();
    let approval = loop {
        let (_, found) = json_of(
            client
                .get(format!(
                    "{base}/v1/approvals?status=pending&run=case-9&wait=20"
                ))
                .bearer_auth(&manager)
                .send()
                .await
                .expect("the server answers"),
        )
        .await;
        if let Some(id) = found[0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no approval request"
        );
    };
    let request = |token: &str| {
        let client = client.clone();
        let url = format!("{base}/v1/approvals/{approval}");
        let token = token.to_owned();
        async move {
            json_of(
                client
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("the server answers"),
            )
            .await
            .1
        }
    };

    // The listing comes from the server, not from a local database.
    let (code, out, err) = botflow(
        &[
            "approvals",
            "list",
            "--json",
            "--server",
            &base,
            "--token",
            &manager,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).expect("a JSON array");
    assert_eq!(listed[0]["id"], approval.as_str(), "{listed}");
    assert_eq!(listed[0]["status"], "pending");

    // Refusals change nothing: a viewer may not decide; `--as` does not
    // apply; `--server` without a token is a usage error.
    let (code, _, err) = botflow(
        &["approve", "case-9", "--server", &base, "--token", &viewer],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("viewer") || err.contains("may not"), "{err}");
    let (code, _, err) = botflow(
        &[
            "approve", "case-9", "--as", "x", "--server", &base, "--token", &manager,
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = botflow(&["approve", "case-9", "--server", &base], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--token"), "{err}");
    assert_eq!(request(&viewer).await["status"], "pending");

    // The manager approves by run id, with the token from the environment.
    let (code, _, err) = botflow(
        &[
            "approve",
            "case-9",
            "--comment",
            "refund it",
            "--server",
            &base,
        ],
        Some(&manager),
    );
    assert_eq!(code, 0, "{err}");
    let decided = request(&viewer).await;
    assert_eq!(decided["status"], "approved", "{decided}");
    assert_eq!(decided["votes"][0]["who"], MANAGER);
    assert_eq!(decided["votes"][0]["comment"], "refund it");
    let (_, result) = json_of(
        client
            .get(format!("{base}/v1/runs/case-9/result?wait=30"))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("the server answers"),
    )
    .await;
    assert_eq!(result["status"], "completed", "{result}");
    // Deciding again: refused by the server.
    let (code, _, err) = botflow(
        &["deny", &approval, "--server", &base, "--token", &manager],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already"), "{err}");

    // Events are published on the server.
    let (code, out, err) = botflow(
        &[
            "events",
            "publish",
            "order.shipped",
            "--data",
            r#"{"order":"ORD-7"}"#,
            "--key",
            "ORD-7",
            "--server",
            &base,
            "--token",
            &operator,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_owned();
    let (_, events) = json_of(
        client
            .get(format!("{base}/v1/events?name=order.shipped"))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("the server answers"),
    )
    .await;
    let items = events["items"]
        .as_array()
        .or(events.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        items
            .iter()
            .any(|e| e["id"] == id.as_str() && e["key"] == "ORD-7"),
        "{events}"
    );
    // A viewer may not publish; nothing is stored.
    let (code, _, err) = botflow(
        &[
            "events",
            "publish",
            "order.lost",
            "--server",
            &base,
            "--token",
            &viewer,
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
    let (_, lost) = json_of(
        client
            .get(format!("{base}/v1/events?name=order.lost"))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("the server answers"),
    )
    .await;
    let lost = lost["items"]
        .as_array()
        .or(lost.as_array())
        .map_or(0, Vec::len);
    assert_eq!(lost, 0);
    drop(server);
}
