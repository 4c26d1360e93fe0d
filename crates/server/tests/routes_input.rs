//! Bad input gets a precise 4xx problem and changes nothing; good input
//! starts, lists, messages and publishes as documented.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::Harness;
use serde_json::{Value, json};

const START: &str = "/v1/workflows/customer-support/runs";

fn raw(
    token: &str,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request.body(Body::from(body)).expect("a request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_is_idempotent_by_id_and_records_who_started_it() {
    let h = Harness::new().await;
    let input = json!({"id": "case-1", "input": {"complaint": "late parcel", "order_amount": 20}});
    let first = h
        .call(Method::POST, START, Some(&h.operator), Some(input.clone()))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["id"], json!("case-1"));
    assert_eq!(first.headers[header::LOCATION], "/v1/runs/case-1");
    let again = h
        .call(Method::POST, START, Some(&h.admin), Some(input))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["id"], json!("case-1"));
    assert_eq!(h.finished("case-1").await["status"], json!("completed"));
    let view = h
        .call(Method::GET, "/v1/runs/case-1", Some(&h.viewer), None)
        .await;
    assert_eq!(view.status, StatusCode::OK);
    assert_eq!(view.body["status"], json!("completed"));
    assert!(!view.body["steps"].as_array().expect("steps").is_empty());
    // An empty body starts a run with no input.
    let empty = h
        .send(raw(&h.operator, Method::POST, START, None, Vec::new()))
        .await;
    assert_eq!(empty.status, StatusCode::CREATED, "{:?}", empty.body);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_starts_are_refused_precisely_and_change_nothing() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    let op = h.operator.clone();
    let json = Some("application/json");
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "unknown workflow",
            raw(
                &op,
                Method::POST,
                "/v1/workflows/nope/runs",
                json,
                b"{}".to_vec(),
            ),
            StatusCode::NOT_FOUND,
            "unknown-workflow",
        ),
        (
            "traversal with dots",
            raw(
                &op,
                Method::POST,
                "/v1/workflows/..%2F..%2Fetc%2Fpasswd/runs",
                json,
                b"{}".to_vec(),
            ),
            StatusCode::NOT_FOUND,
            "unknown-workflow",
        ),
        (
            "traversal with a backslash",
            raw(
                &op,
                Method::POST,
                "/v1/workflows/a%5Cb/runs",
                json,
                b"{}".to_vec(),
            ),
            StatusCode::NOT_FOUND,
            "unknown-workflow",
        ),
        (
            "malformed JSON",
            raw(&op, Method::POST, START, json, b"{\"input\": ".to_vec()),
            StatusCode::BAD_REQUEST,
            "malformed-json",
        ),
        (
            "wrong content type",
            raw(&op, Method::POST, START, Some("text/plain"), b"{}".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            "a body without a content type",
            raw(&op, Method::POST, START, None, b"{}".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        ),
        (
            "an unknown field",
            raw(&op, Method::POST, START, json, br#"{"inptu": {}}"#.to_vec()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
        ),
        (
            "input that is not an object",
            raw(
                &op,
                Method::POST,
                START,
                json,
                br#"{"input": [1, 2]}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
        ),
        (
            "a bad run id",
            raw(
                &op,
                Method::POST,
                START,
                json,
                br#"{"id": "has spaces\n"}"#.to_vec(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-run-id",
        ),
        (
            "a body over the limit",
            raw(
                &op,
                Method::POST,
                START,
                json,
                vec![b' '; server::MAX_BODY_BYTES + 1],
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
        ),
    ];
    for (what, request, status, kind) in cases {
        let answer = h.send(request).await;
        assert_eq!(answer.status, status, "{what}: {:?}", answer.body);
        assert_eq!(answer.problem(), kind, "{what}: {:?}", answer.body);
        assert_eq!(answer.content_type(), "application/problem+json", "{what}");
        assert_eq!(answer.body["status"], json!(status.as_u16()), "{what}");
        assert!(
            answer.body["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}"
        );
    }
    // An input over the engine's cap but under the body limit: 422 naming the cap.
    let big = "x".repeat(store::MAX_VALUE_BYTES);
    let answer = h
        .call(
            Method::POST,
            START,
            Some(&op),
            Some(json!({"input": {"text": big}})),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        answer.body["detail"]
    );
    assert_eq!(answer.problem(), "value-too-large");
    assert_eq!(answer.body["cap"], json!(store::MAX_VALUE_BYTES));
    assert_eq!(
        h.snapshot().await,
        before,
        "a refused start changed the store"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_routes_and_methods_are_problems() {
    let h = Harness::new().await;
    let admin = Some(h.admin.as_str());
    let cases = [
        (
            Method::GET,
            "/v1/runs/nope",
            StatusCode::NOT_FOUND,
            "unknown-run",
        ),
        (
            Method::GET,
            "/v1/runs/nope/result?wait=0",
            StatusCode::NOT_FOUND,
            "unknown-run",
        ),
        (
            Method::POST,
            "/v1/runs/nope/cancel",
            StatusCode::NOT_FOUND,
            "unknown-run",
        ),
        (
            Method::POST,
            "/v1/runs/nope/retry",
            StatusCode::NOT_FOUND,
            "unknown-run",
        ),
        (
            Method::GET,
            "/v1/approvals/nope",
            StatusCode::NOT_FOUND,
            "unknown-approval",
        ),
        (
            Method::GET,
            "/v1/nothing-here",
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            Method::DELETE,
            "/v1/runs",
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        (
            Method::GET,
            "/v1/runs?status=sleeping",
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            Method::GET,
            "/v1/runs?cursor=garbage",
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            Method::GET,
            "/v1/runs?limit=many",
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            Method::GET,
            "/v1/approvals?status=maybe",
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            Method::GET,
            "/v1/approvals?cursor=garbage",
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            Method::GET,
            "/v1/approvals?cursor=12.",
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
        (
            Method::GET,
            "/v1/events?colour=red",
            StatusCode::BAD_REQUEST,
            "invalid-query",
        ),
    ];
    for (method, path, status, kind) in cases {
        let answer = h.call(method.clone(), path, admin, None).await;
        assert_eq!(answer.status, status, "{method} {path}: {:?}", answer.body);
        assert_eq!(answer.problem(), kind, "{method} {path}");
        assert_eq!(answer.content_type(), "application/problem+json");
    }
    let answer = h
        .call(
            Method::POST,
            "/v1/runs/nope/messages",
            admin,
            Some(json!({"text": "hi"})),
        )
        .await;
    assert_eq!(
        (answer.status, answer.problem()),
        (StatusCode::NOT_FOUND, "unknown-run")
    );
    let answer = h
        .call(
            Method::POST,
            "/v1/approvals/nope/decision",
            admin,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(
        (answer.status, answer.problem()),
        (StatusCode::NOT_FOUND, "unknown-approval")
    );
    let answer = h
        .call(
            Method::POST,
            "/v1/approvals/nope/decision",
            admin,
            Some(json!({"decision": "maybe"})),
        )
        .await;
    assert_eq!(
        (answer.status, answer.problem()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid-body")
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_published_and_listed_by_cursor_and_bad_ones_are_refused() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for (body, status, kind) in [
        (
            json!({"name": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-event",
        ),
        (
            json!({"name": "a/b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-event",
        ),
        (
            json!({"name": "x".repeat(129)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-event",
        ),
        (
            json!({"data": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
        ),
        (
            json!({"name": "ok", "data": "x".repeat(store::MAX_VALUE_BYTES)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "value-too-large",
        ),
    ] {
        let answer = h
            .call(Method::POST, "/v1/events", Some(&h.operator), Some(body))
            .await;
        assert_eq!(
            (answer.status, answer.problem()),
            (status, kind),
            "{:?}",
            answer.body["detail"]
        );
    }
    assert_eq!(
        h.snapshot().await,
        before,
        "refused events changed the store"
    );
    for n in 0..5 {
        let answer = h
            .call(
                Method::POST,
                "/v1/events",
                Some(&h.operator),
                Some(json!({"name": "order.paid", "data": {"n": n}, "key": format!("k{n}")})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = h
            .call(
                Method::GET,
                &format!("/v1/events?name=order.paid&limit=2&after={after}"),
                Some(&h.viewer),
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let items = page.body["items"].as_array().expect("items").clone();
        if items.is_empty() {
            assert_eq!(page.body["next_cursor"], Value::Null);
            break;
        }
        seen.extend(items.iter().map(|e| e["payload"]["n"].clone()));
        after = page.body["next_cursor"].as_i64().expect("a cursor");
    }
    assert_eq!(seen, (0..5).map(|n| json!(n)).collect::<Vec<_>>());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_pages_neither_repeat_nor_skip_while_runs_are_added() {
    let h = Harness::new().await;
    for n in 0..5 {
        h.start(&format!("r{n}"), 10).await;
    }
    let first = h
        .call(Method::GET, "/v1/runs?limit=2", Some(&h.viewer), None)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let mut ids = ids_of(&first.body["items"]);
    let mut cursor = first.body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    // Runs started between pages come before the first page: never on a later one.
    h.start("late-1", 10).await;
    h.start("late-2", 10).await;
    loop {
        let page = h
            .call(
                Method::GET,
                &format!("/v1/runs?limit=2&cursor={cursor}"),
                Some(&h.viewer),
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        ids.extend(ids_of(&page.body["items"]));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a run was listed twice: {ids:?}");
    let expected: BTreeSet<String> = (0..5).map(|n| format!("r{n}")).collect();
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let filtered = h
        .call(
            Method::GET,
            "/v1/runs?workflow=customer-support&bot=customer-support&limit=500",
            Some(&h.viewer),
            None,
        )
        .await;
    assert_eq!(filtered.body["items"].as_array().expect("items").len(), 7);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_returns_the_diagnostics_of_a_script() {
    let h = Harness::new().await;
    let clean = h
        .call(
            Method::POST,
            "/v1/check",
            Some(&h.viewer),
            Some(json!({"source": "TALK \"hello\"\n"})),
        )
        .await;
    assert_eq!(clean.status, StatusCode::OK);
    assert_eq!(clean.body["errors"], json!(0));
    let broken = h
        .call(
            Method::POST,
            "/v1/check",
            Some(&h.viewer),
            Some(json!({"source": "IF x THEN\n  TALK \"never closed\"\n", "file": "flow.bas"})),
        )
        .await;
    assert_eq!(broken.status, StatusCode::OK);
    assert!(
        broken.body["errors"].as_u64().is_some_and(|n| n >= 1),
        "{:?}",
        broken.body
    );
    let first = &broken.body["diagnostics"][0];
    assert_eq!(first["file"], json!("flow.bas"));
    assert_eq!(first["severity"], json!("error"));
    assert!(first["code"].as_str().is_some_and(|c| c.starts_with('E')));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_the_openapi_document() {
    let h = Harness::new().await;
    assert_eq!(
        h.call(Method::GET, "/healthz", None, None).await.body,
        json!({"status": "ok"})
    );
    assert_eq!(
        h.call(Method::GET, "/readyz", None, None).await.status,
        StatusCode::OK
    );
    let run = h.start("m1", 10).await;
    h.finished(&run).await;
    let metrics = h.call(Method::GET, "/metrics", Some(&h.viewer), None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.body.as_str().expect("text").to_owned();
    for needle in [
        "botflow_runs_started_total{workflow=\"customer-support\"} 1",
        "botflow_http_requests_seconds_bucket{method=\"POST\",route=\"/v1/workflows/{workflow}/runs\",status=\"201\"",
        "botflow_commits_total",
        "botflow_commit_points_total",
        "botflow_runs_waiting 0",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // The document: OpenAPI 3.1, every operation answers something, every
    // reference resolves.
    let doc = h.call(Method::GET, "/openapi.json", None, None).await.body;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .clone();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("odd $ref {r}"));
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("an item") {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no response"
            );
            let public = ["/healthz", "/readyz", "/openapi.json"].contains(&path.as_str())
                || path.starts_with("/approve/");
            assert_eq!(
                op.get("security").is_some(),
                !public,
                "{method} {path} security"
            );
        }
    }
    h.stop().await;
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.extend(v.as_str().map(str::to_owned));
                }
                collect_refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_run_takes_messages_and_can_be_cancelled_once() {
    let h = Harness::new().await;
    let run = h.start("to-cancel", 150).await;
    h.pending_approval(&run).await;
    let sent = h
        .call(
            Method::POST,
            &format!("/v1/runs/{run}/messages"),
            Some(&h.operator),
            Some(json!({"text": "any news?"})),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{:?}", sent.body);
    assert_eq!(sent.body["seq"], json!(1));
    assert_eq!(sent.body["run_id"], json!(run));
    // Another waiting run (the message above may have made the first one
    // due, and a run being driven refuses a cancel with 409 until it waits again).
    let run = h.start("to-cancel-2", 150).await;
    h.pending_approval(&run).await;
    let cancelled = h
        .call(
            Method::POST,
            &format!("/v1/runs/{run}/cancel"),
            Some(&h.operator),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["status"], json!("cancelled"));
    assert_eq!(h.finished(&run).await["status"], json!("cancelled"));
    let before = h.snapshot().await;
    let again = h
        .call(
            Method::POST,
            &format!("/v1/runs/{run}/cancel"),
            Some(&h.operator),
            None,
        )
        .await;
    assert_eq!(
        (again.status, again.problem()),
        (StatusCode::CONFLICT, "conflict")
    );
    let late = h
        .call(
            Method::POST,
            &format!("/v1/runs/{run}/messages"),
            Some(&h.operator),
            Some(json!({"text": "hello?"})),
        )
        .await;
    assert_eq!(
        (late.status, late.problem()),
        (StatusCode::CONFLICT, "conflict")
    );
    assert_eq!(h.snapshot().await, before);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_pages_go_on_from_the_cursor_and_a_long_poll_waits_past_it() {
    let h = Harness::new().await;
    let mut requests = Vec::new();
    for n in 0..3 {
        let run = h.start(&format!("a{n}"), 150).await;
        requests.push(h.pending_approval(&run).await);
    }
    let list = |query: String| {
        let h = &h;
        async move {
            let answer = h
                .call(
                    Method::GET,
                    &format!("/v1/approvals?{query}"),
                    Some(&h.manager),
                    None,
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
            let ids = ids_of(&answer.body);
            let next = answer
                .headers
                .get("next-cursor")
                .map(|v| v.to_str().expect("ASCII").to_owned());
            (ids, next)
        }
    };
    let (first, next) = list("limit=2".to_owned()).await;
    assert_eq!(first, requests[..2]);
    let (second, next) = list(format!("limit=2&cursor={}", next.expect("a cursor"))).await;
    assert_eq!(second, requests[2..], "a short page is the end for now");
    let (empty, none) = list(format!(
        "limit=2&cursor={}",
        next.clone().expect("a cursor")
    ))
    .await;
    assert!(empty.is_empty() && none.is_none(), "{empty:?} {none:?}");

    // Past the newest request, a long poll answers with the next new one.
    let waiting = list(format!("cursor={}&wait=30", next.expect("a cursor")));
    let start_later = async {
        let run = h.start("a3", 150).await;
        h.pending_approval(&run).await
    };
    let (seen, newest) = tokio::join!(waiting, start_later);
    assert_eq!(seen.0, [newest]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_leaving_a_status_filtered_list_does_not_make_a_page_skip_another() {
    let h = Harness::new().await;
    let mut requests = Vec::new();
    for n in 0..4 {
        let run = h.start(&format!("w{n}"), 150).await;
        requests.push(h.pending_approval(&run).await);
    }
    let page = |cursor: Option<String>| {
        let h = &h;
        async move {
            let query = match cursor {
                Some(cursor) => format!("/v1/runs?status=waiting&limit=2&cursor={cursor}"),
                None => "/v1/runs?status=waiting&limit=2".to_owned(),
            };
            let answer = h.call(Method::GET, &query, Some(&h.viewer), None).await;
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
            (
                ids_of(&answer.body["items"]),
                answer.body["next_cursor"].as_str().map(str::to_owned),
            )
        }
    };
    let (first, cursor) = page(None).await;
    assert_eq!(first, ["w3", "w2"], "newest first");
    // A run of the first page is decided and leaves the waiting list.
    let decided = h
        .call(
            Method::POST,
            &format!("/v1/approvals/{}/decision", requests[3]),
            Some(&h.manager),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{:?}", decided.body);
    h.finished("w3").await;
    let (second, last) = page(cursor).await;
    assert_eq!(second, ["w1", "w0"], "no waiting run is skipped");
    assert_eq!(last, None);
    h.stop().await;
}

/// The `id` of every item of a listed array, in order.
fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}
