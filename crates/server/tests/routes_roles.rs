//! Every route × every role: who may do what, and that a refused request
//! (no token, an unknown token, a role that may not) changes nothing.
//! The route list here is checked against the OpenAPI document, so a route
//! added without a row here (or without documentation) fails.

mod common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode, header};
use common::{Harness, MANAGER};
use serde_json::{Value, json};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    Operator,
    /// An approver the fixture's approval request is addressed to.
    Manager,
    /// An approver nobody addresses.
    Stranger,
    Viewer,
}

const EVERYONE: [Who; 5] = [
    Who::Admin,
    Who::Operator,
    Who::Manager,
    Who::Stranger,
    Who::Viewer,
];

fn token(h: &Harness, who: Who) -> &str {
    match who {
        Who::Admin => &h.admin,
        Who::Operator => &h.operator,
        Who::Manager => &h.manager,
        Who::Stranger => &h.stranger,
        Who::Viewer => &h.viewer,
    }
}

/// One route: its documented method and path, the request sent (ids filled
/// in), its body, and the status each caller gets. Requests that are allowed
/// are chosen so they change nothing either (decisions on a settled request,
/// cancels of an ended run), so every row can run for every role in any order.
struct Row {
    method: Method,
    template: &'static str,
    path: String,
    body: Option<Value>,
    /// `None` for the signed-link pages: they take no bearer token, carry
    /// their own proof and have their own tests (`approve_page.rs`); here
    /// they must only never ask for a token and never change anything.
    expect: Option<fn(Who) -> StatusCode>,
}

const OK: StatusCode = StatusCode::OK;
const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;

fn reader(who: Who) -> StatusCode {
    match who {
        Who::Manager | Who::Stranger => FORBIDDEN,
        _ => OK,
    }
}

fn operator_only(ok: StatusCode) -> impl Fn(Who) -> StatusCode {
    move |who| match who {
        Who::Admin | Who::Operator => ok,
        _ => FORBIDDEN,
    }
}

fn rows(done: &str, approval: &str) -> Vec<Row> {
    let row = |method: Method,
               template: &'static str,
               path: String,
               body: Option<Value>,
               expect: fn(Who) -> StatusCode| Row {
        method,
        template,
        path,
        body,
        expect: Some(expect),
    };
    let link_page = |method: Method| Row {
        method,
        template: "/approve/{token}",
        path: "/approve/not-a-link".into(),
        body: None,
        expect: None,
    };
    vec![
        row(Method::GET, "/healthz", "/healthz".into(), None, |_| OK),
        row(Method::GET, "/readyz", "/readyz".into(), None, |_| OK),
        row(
            Method::GET,
            "/openapi.json",
            "/openapi.json".into(),
            None,
            |_| OK,
        ),
        row(Method::GET, "/metrics", "/metrics".into(), None, |_| OK),
        row(
            Method::GET,
            "/v1/workflows",
            "/v1/workflows".into(),
            None,
            reader,
        ),
        row(Method::GET, "/v1/bots", "/v1/bots".into(), None, reader),
        // The same id again: 200 with the existing run, nothing created.
        row(
            Method::POST,
            "/v1/workflows/{workflow}/runs",
            "/v1/workflows/customer-support/runs".into(),
            Some(json!({"id": done})),
            |who| operator_only(OK)(who),
        ),
        row(Method::GET, "/v1/runs", "/v1/runs".into(), None, reader),
        row(
            Method::GET,
            "/v1/runs/{id}",
            format!("/v1/runs/{done}"),
            None,
            reader,
        ),
        row(
            Method::GET,
            "/v1/runs/{id}/result",
            format!("/v1/runs/{done}/result?wait=0"),
            None,
            reader,
        ),
        // The run has ended: its stream replays its history and ends.
        row(
            Method::GET,
            "/v1/runs/{id}/stream",
            format!("/v1/runs/{done}/stream"),
            None,
            reader,
        ),
        // The run has ended: refused with 409 for those who may cancel.
        row(
            Method::POST,
            "/v1/runs/{id}/cancel",
            format!("/v1/runs/{done}/cancel"),
            None,
            |who| operator_only(StatusCode::CONFLICT)(who),
        ),
        row(
            Method::POST,
            "/v1/runs/{id}/retry",
            format!("/v1/runs/{done}/retry"),
            None,
            |who| operator_only(StatusCode::CONFLICT)(who),
        ),
        row(
            Method::POST,
            "/v1/runs/{id}/messages",
            format!("/v1/runs/{done}/messages"),
            Some(json!({"text": "hello"})),
            |who| operator_only(StatusCode::CONFLICT)(who),
        ),
        row(
            Method::GET,
            "/v1/approvals",
            "/v1/approvals".into(),
            None,
            |_| OK,
        ),
        row(
            Method::GET,
            "/v1/approvals/{id}",
            format!("/v1/approvals/{approval}"),
            None,
            |who| match who {
                Who::Stranger => FORBIDDEN,
                _ => OK,
            },
        ),
        // The request is settled: deciding again is a 409 for those who may decide.
        row(
            Method::POST,
            "/v1/approvals/{id}/decision",
            format!("/v1/approvals/{approval}/decision"),
            Some(json!({"decision": "deny"})),
            |who| match who {
                Who::Admin | Who::Manager => StatusCode::CONFLICT,
                _ => FORBIDDEN,
            },
        ),
        // A bad event name: refused with 422 for those who may publish.
        row(
            Method::POST,
            "/v1/events",
            "/v1/events".into(),
            Some(json!({"name": "bad name!"})),
            |who| operator_only(StatusCode::UNPROCESSABLE_ENTITY)(who),
        ),
        row(Method::GET, "/v1/events", "/v1/events".into(), None, reader),
        row(
            Method::POST,
            "/v1/check",
            "/v1/check".into(),
            Some(json!({"source": "TALK \"hi\"\n"})),
            |_| OK,
        ),
        link_page(Method::GET),
        link_page(Method::POST),
    ]
}

const PUBLIC: [&str; 4] = ["/healthz", "/readyz", "/openapi.json", "/approve/{token}"];

/// A completed run (amount under the threshold) and a settled approval
/// (a run approved by the manager, then completed).
async fn fixtures(h: &Harness) -> (String, String) {
    let done = h.start("small", 50).await;
    assert_eq!(h.finished(&done).await["status"], json!("completed"));
    let big = h.start("big", 150).await;
    let approval = h.pending_approval(&big).await;
    let decided = h
        .call(
            Method::POST,
            &format!("/v1/approvals/{approval}/decision"),
            Some(&h.manager),
            Some(json!({"decision": "approve", "comment": "fine"})),
        )
        .await;
    assert_eq!(decided.status, OK, "{:?}", decided.body);
    assert_eq!(h.finished(&big).await["status"], json!("completed"));
    (done, approval)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_as_the_table_says_and_refusals_change_nothing() {
    let h = Harness::new().await;
    let (done, approval) = fixtures(&h).await;
    for row in rows(&done, &approval) {
        for who in EVERYONE {
            let before = h.snapshot().await;
            let answer = h
                .call(
                    row.method.clone(),
                    &row.path,
                    Some(token(&h, who)),
                    row.body.clone(),
                )
                .await;
            let Some(expect) = row.expect else {
                assert!(
                    answer.status != StatusCode::UNAUTHORIZED && answer.status != FORBIDDEN,
                    "{} {} needs no token",
                    row.method,
                    row.path
                );
                assert_eq!(
                    h.snapshot().await,
                    before,
                    "{} {} changed the store",
                    row.method,
                    row.path
                );
                continue;
            };
            let expected = expect(who);
            assert_eq!(
                answer.status, expected,
                "{} {} as {who:?}: {:?}",
                row.method, row.path, answer.body
            );
            if !answer.status.is_success() {
                assert_eq!(answer.content_type(), "application/problem+json");
                assert_eq!(answer.body["status"], json!(expected.as_u16()));
            }
            // No row's request changes anything, allowed or not.
            assert_eq!(
                h.snapshot().await,
                before,
                "{} {} as {who:?} changed the store",
                row.method,
                row.path
            );
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_the_public_ones_refuses_a_missing_or_unknown_token() {
    let h = Harness::new().await;
    let (done, approval) = fixtures(&h).await;
    let before = h.snapshot().await;
    for row in rows(&done, &approval) {
        let public = PUBLIC.contains(&row.template);
        for token in [None, Some("not-a-token"), Some("")] {
            let answer = h
                .call(row.method.clone(), &row.path, token, row.body.clone())
                .await;
            if public {
                assert_ne!(
                    answer.status,
                    StatusCode::UNAUTHORIZED,
                    "{} {}",
                    row.method,
                    row.path
                );
                continue;
            }
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{} {} with {token:?}: {:?}",
                row.method,
                row.path,
                answer.body
            );
            assert_eq!(answer.problem(), "unauthorized");
            assert!(
                answer
                    .headers
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{} {} says how to authenticate",
                row.method,
                row.path
            );
        }
    }
    // A body the route would refuse is not even read without a token: 401, not 400.
    let answer = h
        .send(
            axum::http::Request::post("/v1/events")
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from("{not json"))
                .expect("a request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.snapshot().await,
        before,
        "refused requests changed the store"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_and_the_openapi_document_list_the_same_routes() {
    let h = Harness::new().await;
    let doc = h.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, OK);
    let mut documented = BTreeSet::new();
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let tested: BTreeSet<(String, String)> = rows("r", "a")
        .into_iter()
        .map(|row| (row.method.to_string(), row.template.to_owned()))
        .collect();
    assert_eq!(
        documented, tested,
        "every documented route has a row in the role table, and every row is documented"
    );
    // Every documented route exists: requested with made-up ids it is never
    // the router's own 404 or 405.
    for (method, path) in &documented {
        let concrete = path.replace(['{', '}'], "");
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let answer = h
            .call(method.clone(), &concrete, Some(&h.admin), None)
            .await;
        assert_ne!(answer.problem(), "not-found", "{method} {concrete}");
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_sees_and_decides_only_requests_addressed_to_it() {
    let h = Harness::new().await;
    let run = h.start("case", 150).await;
    let approval = h.pending_approval(&run).await;
    // The stranger's list is empty; the manager's has the request.
    let mine = |token: String| {
        let h = &h;
        async move {
            h.call(
                Method::GET,
                "/v1/approvals?status=pending",
                Some(&token),
                None,
            )
            .await
            .body
        }
    };
    assert_eq!(mine(h.stranger.clone()).await, json!([]));
    assert_eq!(mine(h.manager.clone()).await[0]["id"], json!(approval));
    // Asking for someone else's list still shows only one's own.
    let other = h
        .call(
            Method::GET,
            &format!("/v1/approvals?approver={MANAGER}"),
            Some(&h.stranger),
            None,
        )
        .await;
    assert_eq!(other.body, json!([]));
    let before = h.snapshot().await;
    let refused = h
        .call(
            Method::POST,
            &format!("/v1/approvals/{approval}/decision"),
            Some(&h.stranger),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(refused.status, FORBIDDEN, "{:?}", refused.body);
    assert_eq!(h.snapshot().await, before);
    let decided = h
        .call(
            Method::POST,
            &format!("/v1/approvals/{approval}/decision"),
            Some(&h.manager),
            Some(json!({"decision": "deny", "comment": "not this time"})),
        )
        .await;
    assert_eq!(decided.status, OK, "{:?}", decided.body);
    assert_eq!(decided.body["status"], json!("denied"));
    assert_eq!(decided.body["votes"][0]["who"], json!(MANAGER));
    assert_eq!(decided.body["votes"][0]["channel"], json!("api"));
    assert_eq!(h.finished(&run).await["status"], json!("rejected"));
    let detail = h
        .call(
            Method::GET,
            &format!("/v1/approvals/{approval}"),
            Some(&h.viewer),
            None,
        )
        .await;
    let kinds: Vec<&str> = detail.body["audit"]
        .as_array()
        .expect("an audit trail")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"created") && kinds.contains(&"denied"),
        "{kinds:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoever_starts_a_run_over_the_api_may_not_approve_it_even_an_admin() {
    let h = Harness::new().await;
    let started = h
        .call(
            Method::POST,
            "/v1/workflows/customer-support/runs",
            Some(&h.admin),
            Some(json!({"id": "mine", "input": {"order_amount": 500}})),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let approval = h.pending_approval("mine").await;
    let before = h.snapshot().await;
    let refused = h
        .call(
            Method::POST,
            &format!("/v1/approvals/{approval}/decision"),
            Some(&h.admin),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.problem(), "decision-refused");
    assert_eq!(h.snapshot().await, before);
    // An admin may decide a request not addressed to it, as itself.
    let other = h.start("theirs", 500).await;
    let theirs = h.pending_approval(&other).await;
    let decided = h
        .call(
            Method::POST,
            &format!("/v1/approvals/{theirs}/decision"),
            Some(&h.admin),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(decided.status, OK, "{:?}", decided.body);
    assert_eq!(decided.body["votes"][0]["who"], json!("admin"));
    assert_eq!(h.finished(&other).await["status"], json!("completed"));
    h.stop().await;
}
