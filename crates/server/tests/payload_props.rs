//! The API's payloads, fuzzed: random and mangled bodies, content types,
//! path parameters and query strings on every route that reads one. Whatever
//! arrives, the answer is a success or a precise problem (never a 5xx, never
//! a panic: the router would not answer), and a refused request changes
//! nothing in the store.

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, header};
use common::{Answer, Harness, MANAGER, link_paths};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use store::Store;

/// The routes that read a body, a path parameter or a query string.
#[derive(Debug, Clone, Copy)]
enum Route {
    Start,
    Cancel,
    Retry,
    Message,
    Decide,
    Publish,
    Check,
    ApproveLink,
    ShowLink,
    GetRun,
    Result,
    GetApproval,
    ListRuns,
    ListEvents,
    ListApprovals,
}

impl Route {
    const ALL: [Route; 15] = [
        Route::Start,
        Route::Cancel,
        Route::Retry,
        Route::Message,
        Route::Decide,
        Route::Publish,
        Route::Check,
        Route::ApproveLink,
        Route::ShowLink,
        Route::GetRun,
        Route::Result,
        Route::GetApproval,
        Route::ListRuns,
        Route::ListEvents,
        Route::ListApprovals,
    ];

    fn method(self) -> Method {
        match self {
            Route::ShowLink
            | Route::GetRun
            | Route::Result
            | Route::GetApproval
            | Route::ListRuns
            | Route::ListEvents
            | Route::ListApprovals => Method::GET,
            _ => Method::POST,
        }
    }

    /// The path, with `param` (already percent-encoded) where it takes one.
    fn path(self, param: &str) -> String {
        match self {
            Route::Start => format!("/v1/workflows/{param}/runs"),
            Route::Cancel => format!("/v1/runs/{param}/cancel"),
            Route::Retry => format!("/v1/runs/{param}/retry"),
            Route::Message => format!("/v1/runs/{param}/messages"),
            Route::Decide => format!("/v1/approvals/{param}/decision"),
            Route::Publish => "/v1/events".to_owned(),
            Route::Check => "/v1/check".to_owned(),
            Route::ApproveLink | Route::ShowLink => format!("/approve/{param}"),
            Route::GetRun => format!("/v1/runs/{param}"),
            Route::Result => format!("/v1/runs/{param}/result"),
            Route::GetApproval => format!("/v1/approvals/{param}"),
            Route::ListRuns => "/v1/runs".to_owned(),
            Route::ListEvents => "/v1/events".to_owned(),
            Route::ListApprovals => "/v1/approvals".to_owned(),
        }
    }

    /// The members a valid body has, which random bodies favour.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Route::Start => &["id", "input"],
            Route::Message => &["text"],
            Route::Decide => &["decision", "comment"],
            Route::Publish => &["name", "data", "key", "to"],
            Route::Check => &["source", "file"],
            Route::ApproveLink => &["comment"],
            _ => &[],
        }
    }

    /// The query parameters the route reads, which random queries favour.
    fn params(self) -> &'static [&'static str] {
        match self {
            Route::ListRuns => &["status", "workflow", "bot", "limit", "cursor"],
            Route::ListEvents => &["after", "name", "run", "limit"],
            Route::ListApprovals => &["status", "run", "approver", "limit", "cursor", "wait"],
            Route::Result => &["wait"],
            _ => &[],
        }
    }

    /// The page routes answer in HTML for people, not with problems.
    fn is_page(self) -> bool {
        matches!(self, Route::ApproveLink | Route::ShowLink)
    }
}

/// Whose token a request carries; mostly the admin's, so that the payload,
/// not the role, is what gets judged.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Admin,
    Operator,
    Manager,
    Viewer,
    Nobody,
}

/// Where a path parameter comes from.
#[derive(Debug, Clone)]
enum Param {
    /// The existing run, approval or link this route is about.
    Known,
    /// Any text, percent-encoded.
    Text(String),
}

#[derive(Debug, Clone)]
struct Case {
    route: Route,
    caller: Caller,
    param: Param,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// The ids of the things the requests aim at, made before the first case.
struct Known {
    workflow: String,
    run: String,
    approval: String,
    link: String,
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
        Just(json!("approve")),
        Just(json!("deny")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".{0,12}", inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// A value of the kind `field` of `route` takes, or now and then any JSON.
fn member(route: Route, field: &'static str) -> BoxedStrategy<Value> {
    let fitting = match (route, field) {
        (Route::Start, "id") => "[a-z0-9][a-z0-9._:-]{0,20}".prop_map(Value::String).boxed(),
        (Route::Start, "input") => (any::<i32>(), ".{0,20}")
            .prop_map(|(amount, complaint)| json!({"order_amount": amount, "complaint": complaint}))
            .boxed(),
        (Route::Decide, "decision") => prop::sample::select(&["approve", "deny"][..])
            .prop_map(Value::from)
            .boxed(),
        (Route::Publish, "name") => "[a-z_.-]{1,20}".prop_map(Value::String).boxed(),
        (Route::Check, "source") => prop::collection::vec(
            prop::sample::select(
                &[
                    "TALK \"hi\"",
                    "x = 1 +",
                    "IF a THEN",
                    "END IF",
                    "STEP 1: BOT \"classifier\" \"go\"",
                    "PUBLISH EVENT \"done\"",
                    "ORCHESTRATE WORKFLOW \"w\"",
                    "END WORKFLOW",
                ][..],
            ),
            0..6,
        )
        .prop_map(|lines| Value::String(lines.join("\n")))
        .boxed(),
        _ => ".{0,30}".prop_map(Value::String).boxed(),
    };
    prop_oneof![3 => fitting, 1 => json_value()].boxed()
}

/// A body with each of the route's members present or not, each of the
/// kind it takes or not: where the edge between accepted and refused is.
fn nearly_valid(route: Route) -> BoxedStrategy<Vec<u8>> {
    route
        .fields()
        .iter()
        .map(|&field| {
            prop::option::weighted(0.8, member(route, field)).prop_map(move |v| (field, v))
        })
        .collect::<Vec<_>>()
        .prop_map(|members| {
            let object: Map<String, Value> = members
                .into_iter()
                .filter_map(|(field, value)| Some((field.to_owned(), value?)))
                .collect();
            Value::Object(object).to_string().into_bytes()
        })
        .boxed()
}

/// A body that is often nearly right ([`nearly_valid`]), or an object of
/// the route's own members (each of any JSON), sometimes with a stranger;
/// or any JSON; or JSON cut short; or bytes.
fn json_body(route: Route) -> impl Strategy<Value = Vec<u8>> {
    let fields = route.fields();
    let object = prop::collection::vec(
        (
            prop_oneof![
                4 => prop::sample::select(if fields.is_empty() { &["x"][..] } else { fields })
                    .prop_map(str::to_owned),
                1 => ".{0,10}",
            ],
            json_value(),
        ),
        0..5,
    )
    .prop_map(|members| {
        let object: Map<String, Value> = members.into_iter().collect();
        Value::Object(object).to_string().into_bytes()
    });
    prop_oneof![
        6 => nearly_valid(route),
        3 => object,
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => (json_value(), any::<prop::sample::Index>()).prop_map(|(v, at)| {
            let text = v.to_string().into_bytes();
            let cut = at.index(text.len() + 1);
            text[..cut].to_vec()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..48),
    ]
}

/// A form body for the link page: `key=value` pairs, encoded or not.
fn form_body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            prop_oneof![Just("comment".to_owned()), ".{0,8}"],
            ".{0,40}",
            any::<bool>(),
        ),
        0..4,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v, encode)| {
                if encode {
                    format!("{}={}", percent(&k), percent(&v))
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes()
    })
}

fn content_type(route: Route) -> impl Strategy<Value = Option<String>> {
    let usual = if route.is_page() {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    prop_oneof![
        8 => Just(Some(usual.to_owned())),
        1 => Just(None),
        1 => prop::sample::select(&[
            "application/json; charset=utf-8",
            "application/problem+json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=x",
        ][..])
        .prop_map(|t| Some(t.to_owned())),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
}

fn query(route: Route) -> impl Strategy<Value = Vec<(String, String)>> {
    let params = route.params();
    let name = prop_oneof![
        4 => prop::sample::select(if params.is_empty() { &["x"][..] } else { params })
            .prop_map(str::to_owned),
        1 => ".{0,8}",
    ];
    let value = prop_oneof![
        Just(String::new()),
        (-5i64..300).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        prop::sample::select(
            &[
                "pending",
                "waiting",
                "completed",
                "running",
                "customer-support"
            ][..]
        )
        .prop_map(str::to_owned),
        ".{0,20}",
    ];
    prop::collection::vec((name, value), 0..4)
}

fn case() -> impl Strategy<Value = Case> {
    prop::sample::select(&Route::ALL[..]).prop_flat_map(|route| {
        let caller = prop_oneof![
            8 => Just(Caller::Admin),
            1 => Just(Caller::Operator),
            1 => Just(Caller::Manager),
            1 => Just(Caller::Viewer),
            1 => Just(Caller::Nobody),
        ];
        let param = prop_oneof![
            2 => Just(Param::Known),
            1 => ".{0,40}".prop_map(Param::Text),
            1 => prop::sample::select(&["..", "../../etc/passwd", "a/b", "a\\b", "%00", " ", "\u{202e}"][..])
                .prop_map(|s| Param::Text(s.to_owned())),
        ];
        let body = if route.method() == Method::GET {
            Just(Vec::new()).boxed()
        } else if route.is_page() {
            form_body().boxed()
        } else {
            json_body(route).boxed()
        };
        (
            Just(route),
            caller,
            param,
            query(route),
            content_type(route),
            body,
        )
            .prop_map(|(route, caller, param, query, content_type, body)| Case {
                route,
                caller,
                param,
                query,
                content_type,
                body,
            })
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so any
/// text makes a valid path segment or query value.
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

impl Case {
    fn request(&self, h: &Harness, known: &Known) -> Request<Body> {
        let param = match &self.param {
            Param::Known => match self.route {
                Route::Start => known.workflow.clone(),
                Route::Decide | Route::GetApproval => known.approval.clone(),
                Route::ApproveLink | Route::ShowLink => known.link.clone(),
                _ => known.run.clone(),
            },
            Param::Text(text) => percent(text),
        };
        let mut uri = self.route.path(&param);
        // A long poll does not wait: the property is about what comes back,
        // not when.
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| {
                let v = if k == "wait" && v.parse::<u64>().is_ok() {
                    "0"
                } else {
                    v
                };
                format!("{}={}", percent(k), percent(v))
            })
            .collect();
        if !query.is_empty() {
            uri = format!("{uri}?{}", query.join("&"));
        }
        let mut request = Request::builder().method(self.route.method()).uri(uri);
        let token = match self.caller {
            Caller::Admin => Some(&h.admin),
            Caller::Operator => Some(&h.operator),
            Caller::Manager => Some(&h.manager),
            Caller::Viewer => Some(&h.viewer),
            Caller::Nobody => None,
        };
        if let Some(token) = token.filter(|_| !self.route.is_page()) {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = &self.content_type {
            request = request.header(header::CONTENT_TYPE, content_type.as_str());
        }
        request
            .body(Body::from(self.body.clone()))
            // Every part was percent-encoded or is printable ASCII.
            .expect("an encoded request is valid")
    }
}

/// What every answer must be, whatever the request was.
fn check_answer(case: &Case, answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        !answer.status.is_server_error(),
        "a server error for {case:?}: {:?}",
        answer.body
    );
    if !answer.status.is_client_error() {
        return Ok(());
    }
    // `/approve/` with no token is no route: the API's not-found problem.
    if case.route.is_page() && answer.problem() != "not-found" {
        prop_assert!(
            answer.content_type().starts_with("text/html"),
            "the link page refused {case:?} without a page: {}",
            answer.content_type()
        );
        return Ok(());
    }
    prop_assert_eq!(
        answer.content_type(),
        "application/problem+json",
        "{:?}",
        case
    );
    prop_assert!(
        answer.problem() != "<not a problem>",
        "{case:?}: {:?}",
        answer.body
    );
    prop_assert_eq!(
        &answer.body["status"],
        &json!(answer.status.as_u16()),
        "{:?}",
        case
    );
    prop_assert!(
        answer.body["detail"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty()),
        "a problem without a detail for {case:?}: {:?}",
        answer.body
    );
    Ok(())
}

/// Waits until nothing changes any more: no run is being driven or due (a
/// decision makes its run due until the worker claims it), and the store
/// stayed the same over two looks in a row, so that the next request is the
/// only thing that can change it.
async fn settle(h: &Harness) {
    let store = h.state.runtime().store();
    let mut quiet = 0;
    for _ in 0..400 {
        let before = h.snapshot().await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        let running = store
            .list_runs(store::RunFilter {
                status: Some(store::RunStatus::Running),
                limit: 1,
                ..store::RunFilter::default()
            })
            .await
            .expect("runs are listed");
        let now = jiff::Timestamp::now().as_millisecond();
        let due = store.next_timer(now).await.expect("timers are read");
        if running.is_empty() && due.is_none() && h.snapshot().await == before {
            quiet += 1;
            if quiet == 2 {
                return;
            }
        } else {
            quiet = 0;
        }
    }
    panic!("the store was still changing after 12 s");
}

/// A run that waits for [`MANAGER`]'s approval, with the manager's signed
/// approve link: what the requests with a known parameter aim at.
async fn target(h: &Harness, n: usize) -> Known {
    let run = h.start(&format!("fuzz-target-{n}"), 500).await;
    let approval = h.pending_approval(&run).await;
    let (approve, _) = link_paths(h.state.runtime(), &approval, MANAGER).await;
    let token = approve
        .strip_prefix("/approve/")
        .expect("a link path is /approve/<token>");
    settle(h).await;
    Known {
        workflow: "customer-support".to_owned(),
        run,
        approval,
        link: token.to_owned(),
    }
}

#[test]
fn any_payload_gets_a_success_or_a_precise_problem_and_a_refusal_changes_nothing() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let h = tokio.block_on(Harness::new());
    let targets = std::cell::Cell::new(1);
    let known = std::cell::RefCell::new(tokio.block_on(target(&h, 0)));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |case| {
        tokio.block_on(async {
            let before = h.snapshot().await;
            let request = case.request(&h, &known.borrow());
            let answer = h.send(request).await;
            check_answer(&case, &answer)?;
            if answer.status.is_client_error() {
                prop_assert_eq!(
                    h.snapshot().await,
                    before,
                    "a refused {:?} changed the store: {:?}",
                    case,
                    answer.body
                );
            } else {
                // Accepted: whatever it started goes on; let it. A decided
                // target is replaced, so that later cases find one waiting.
                settle(&h).await;
                let approval = known.borrow().approval.clone();
                let pending = h
                    .state
                    .runtime()
                    .store()
                    .approval(&approval)
                    .await
                    .expect("the approval is read")
                    .is_some_and(|a| a.status == store::ApprovalStatus::Pending);
                if !pending {
                    known.replace(target(&h, targets.get()).await);
                    targets.set(targets.get() + 1);
                }
            }
            Ok(())
        })
    });
    tokio.block_on(h.stop());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
