//! A server over a temporary SQLite store and the customer-support template,
//! with its worker loop running and one token per role, driven in-process
//! with `tower::ServiceExt::oneshot`.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use runtime::{ApiRole, Options, Runtime, WorkerOptions};
use serde_json::{Value, json};
use server::{AppState, ServerOptions};
use store::AnyStore;
use tokio::sync::watch;
use tower::ServiceExt;

/// The approver the template's `HUMAN APPROVAL` is addressed to.
pub const MANAGER: &str = "manager@company.com";

pub fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support")
}

/// The path (`/approve/<token>`) of `who`'s approve and deny links.
pub async fn link_paths(rt: &Runtime, approval: &str, who: &str) -> (String, String) {
    let links = rt.approval_links(approval).await.expect("links");
    let mine = links
        .into_iter()
        .find(|l| l.approver == who)
        .expect("the approver has links");
    let path = |link: Option<String>| {
        let link = link.expect("an unused link");
        let (_, token) = link.split_once("/approve/").expect("an /approve/ link");
        format!("/approve/{token}")
    };
    (path(mine.approve), path(mine.deny))
}

/// One answer: status, headers and the body as JSON (`Value::String` when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The problem `type` suffix of an error answer.
    pub fn problem(&self) -> &str {
        self.body["type"]
            .as_str()
            .and_then(|t| t.strip_prefix(server::problem::TYPE_PREFIX))
            .unwrap_or("<not a problem>")
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub struct Harness {
    _dir: tempfile::TempDir,
    pub state: AppState,
    pub app: Router,
    pub admin: String,
    pub operator: String,
    /// Named [`MANAGER`]: the approver the template addresses.
    pub manager: String,
    /// An approver nobody addresses.
    pub stranger: String,
    pub viewer: String,
    stop: watch::Sender<bool>,
    worker: tokio::task::JoinHandle<()>,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_options(ServerOptions {
            poll_interval: Duration::from_millis(200),
            ..ServerOptions::default()
        })
        .await
    }

    /// A harness whose server runs with `options`.
    pub async fn with_options(options: ServerOptions) -> Harness {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("botflow.db");
        let store = AnyStore::open(db.to_str().expect("a UTF-8 path"))
            .await
            .expect("the store opens");
        let deployment = bots::load_deployment(&template()).expect("the template loads");
        let rt = Runtime::new(store, deployment, Options::default());
        let token = |role, name: &'static str| {
            let rt = rt.clone();
            async move {
                rt.create_api_token(role, name)
                    .await
                    .expect("a token is created")
                    .1
            }
        };
        let admin = token(ApiRole::Admin, "admin").await;
        let operator = token(ApiRole::Operator, "ops@company.com").await;
        let manager = token(ApiRole::Approver, MANAGER).await;
        let stranger = token(ApiRole::Approver, "stranger@company.com").await;
        let viewer = token(ApiRole::Viewer, "viewer@company.com").await;
        let state = AppState::new(rt.clone(), options);
        let app = server::router(state.clone());
        let (stop, mut stopped) = watch::channel(false);
        let worker = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let options = WorkerOptions {
                poll: Duration::from_millis(200),
                ..WorkerOptions::default()
            };
            rt.work(options, shutdown, |_| {})
                .await
                .expect("the worker runs");
        });
        Harness {
            _dir: dir,
            state,
            app,
            admin,
            operator,
            manager,
            stranger,
            viewer,
            stop,
            worker,
        }
    }

    /// Sends one request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("a request");
        self.send(request).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Starts a customer-support run as the operator; returns its id.
    pub async fn start(&self, id: &str, amount: u32) -> String {
        let answer = self
            .call(
                Method::POST,
                "/v1/workflows/customer-support/runs",
                Some(&self.operator),
                Some(json!({
                    "id": id,
                    "input": {"complaint": "my blender arrived broken", "order_amount": amount}
                })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        answer.body["id"].as_str().expect("an id").to_owned()
    }

    /// One result long poll of up to `wait` seconds, as the viewer.
    pub async fn result(&self, id: &str, wait: u64) -> Answer {
        self.call(
            Method::GET,
            &format!("/v1/runs/{id}/result?wait={wait}"),
            Some(&self.viewer),
            None,
        )
        .await
    }

    /// Waits (long poll) until the run has ended; returns its result answer.
    pub async fn finished(&self, id: &str) -> Value {
        for _ in 0..10 {
            let answer = self.result(id, 10).await;
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
            if answer.body["finished"] == json!(true) {
                return answer.body;
            }
        }
        panic!("run {id} did not end within 100 s");
    }

    /// Waits until the run waits for an approval; returns the request's id.
    pub async fn pending_approval(&self, run: &str) -> String {
        let answer = self
            .call(
                Method::GET,
                &format!("/v1/approvals?run={run}&status=pending&wait=30"),
                Some(&self.manager),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answer.body[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no pending approval for {run}: {:?}", answer.body))
            .to_owned()
    }

    /// Everything a request could change, read through the store: runs (with
    /// status and version), events, approval requests (with votes), steps
    /// and spent approval links.
    pub async fn snapshot(&self) -> Value {
        use store::Store;
        let store = self.state.runtime().store();
        let runs = store
            .list_runs(store::RunFilter {
                limit: 10_000,
                ..store::RunFilter::default()
            })
            .await
            .expect("runs");
        let mut out = Vec::new();
        for r in runs {
            let record = store.run(&r.id).await.expect("run").expect("exists");
            let steps = store.steps(&r.id).await.expect("steps").len();
            let journal = store.journal(&r.id).await.expect("journal").len();
            out.push(json!([
                r.id,
                r.status.as_str(),
                record.version,
                steps,
                journal
            ]));
        }
        let events: Vec<Value> = store
            .events(store::EventFilter {
                limit: 10_000,
                ..store::EventFilter::default()
            })
            .await
            .expect("events")
            .into_iter()
            .map(|e| json!([e.seq, e.name]))
            .collect();
        let approvals: Vec<Value> = store
            .approvals(store::ApprovalFilter {
                limit: 10_000,
                ..store::ApprovalFilter::default()
            })
            .await
            .expect("approvals")
            .into_iter()
            .map(|a| json!([a.id, a.status.as_str(), a.votes]))
            .collect();
        // A link spent is a change too, even where its decision was refused.
        let mut spent = Vec::new();
        for approval in &approvals {
            let id = approval[0].as_str().expect("an approval id");
            let used = store
                .approval_tokens(id)
                .await
                .expect("tokens")
                .iter()
                .filter(|t| t.used_at.is_some())
                .count();
            spent.push(json!([id, used]));
        }
        json!({"runs": out, "events": events, "approvals": approvals, "links spent": spent})
    }

    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.worker.await;
    }
}
