//! `/approve/{token}`: the page behind a signed approve/deny link. A GET
//! shows the request and changes nothing; the page's POST spends the token
//! and records the decision, and the server's worker finishes the run; a
//! reused, forged, expired or escalation-revoked link gets a clear page and
//! changes nothing. No bearer token anywhere: the signed token is the proof.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Answer, Harness, MANAGER, link_paths};
use runtime::{Options, Runtime};
use serde_json::{Value, json};
use server::{AppState, ServerOptions};
use store::{AnyStore, ApprovalStatus, RunStatus, Store};
use tower::ServiceExt;

/// Starts a customer-support run of `amount` as the operator, straight
/// through the runtime (this file tests the link pages, not the bearer API);
/// returns its id once it waits for the manager, with the request's id.
async fn waiting_run(h: &Harness, id: &str, amount: u32) -> (String, String) {
    let rt = h.state.runtime();
    let workflow = rt.workflow(Some("customer-support")).expect("the workflow");
    let (run, _) = rt
        .start_by(
            &workflow,
            json!({"complaint": "my blender arrived broken", "order_amount": amount}),
            Some(id.to_owned()),
            Some("ops@company.com".to_owned()),
        )
        .await
        .expect("the run starts");
    rt.wake();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let [one] = rt
            .pending_approvals(&run.id)
            .await
            .expect("approvals read")
            .as_slice()
        {
            return (run.id, one.id.clone());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {id} did not ask for an approval within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the run has ended; returns its status.
async fn ended(rt: &Runtime, run: &str) -> RunStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = rt
            .store()
            .run(run)
            .await
            .expect("read")
            .expect("the run")
            .status;
        if status.is_terminal() {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {run} did not end within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    Answer {
        status,
        headers,
        body: Value::String(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

async fn get(app: &Router, path: &str) -> Answer {
    send(
        app,
        Request::get(path).body(Body::empty()).expect("a request"),
    )
    .await
}

/// POSTs the confirm form, as the page's button does.
async fn post(app: &Router, path: &str, form: &str) -> Answer {
    send(
        app,
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .expect("a request"),
    )
    .await
}

fn html(answer: &Answer) -> &str {
    assert_eq!(answer.content_type(), "text/html; charset=utf-8");
    assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(answer.headers[header::REFERRER_POLICY], "no-referrer");
    answer.body.as_str().expect("a text body")
}

/// A page that refuses with `status` and says `why`.
fn assert_refused(answer: &Answer, status: StatusCode, why: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    let page = html(answer);
    assert!(page.contains(why), "the page says {why:?}: {page}");
    assert!(page.contains("Nothing was changed."), "{page}");
    assert!(!page.contains("<form"), "a refused link offers no form");
}

/// Whether any of the request's tokens was spent.
async fn tokens_used(rt: &Runtime, approval: &str) -> usize {
    rt.store()
        .approval_tokens(approval)
        .await
        .expect("tokens")
        .iter()
        .filter(|t| t.used_at.is_some())
        .count()
}

#[tokio::test]
async fn a_get_shows_the_request_and_changes_nothing() {
    let h = Harness::new().await;
    let rt = h.state.runtime();
    let (run, approval) = waiting_run(&h, "page-get", 150).await;
    let (approve, deny) = link_paths(rt, &approval, MANAGER).await;
    let before = h.snapshot().await;

    let page = get(&h.app, &approve).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = html(&page);
    for shown in [
        "customer-support",
        run.as_str(),
        approval.as_str(),
        MANAGER,
        "ops@company.com",
        "Approve this request?",
        "UTC",
        "<main>",
        "<form method=\"post\">",
        "<label for=\"comment\">",
        "name=\"comment\"",
    ] {
        assert!(text.contains(shown), "the page shows {shown:?}: {text}");
    }
    assert!(!text.contains("<script"), "no script on the page");
    assert!(
        page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ASCII")
            .contains("frame-ancestors 'none'")
    );
    let deny_page = get(&h.app, &deny).await;
    assert_eq!(deny_page.status, StatusCode::OK);
    assert!(html(&deny_page).contains("Deny this request?"));
    // Link scanners fetch twice, and HEAD too.
    assert_eq!(get(&h.app, &approve).await.status, StatusCode::OK);
    let head = send(
        &h.app,
        Request::head(&approve)
            .body(Body::empty())
            .expect("a request"),
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);

    assert_eq!(h.snapshot().await, before, "a GET changes nothing");
    assert_eq!(tokens_used(rt, &approval).await, 0, "no token was spent");
    assert_eq!(rt.pending_approvals(&run).await.expect("read").len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn the_post_approves_the_run_completes_and_the_link_works_once() {
    let h = Harness::new().await;
    let rt = h.state.runtime();
    let (run, approval) = waiting_run(&h, "page-post", 150).await;
    let (approve, deny) = link_paths(rt, &approval, MANAGER).await;

    let done = post(&h.app, &approve, "comment=looks+fine%2C+refund+it").await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    let text = html(&done);
    assert!(text.contains("Decision recorded"), "{text}");
    assert!(
        text.contains(&format!("{MANAGER} approved request")),
        "{text}"
    );
    let record = rt
        .store()
        .approval(&approval)
        .await
        .expect("read")
        .expect("the request");
    assert_eq!(record.status, ApprovalStatus::Approved);
    assert_eq!(record.votes[0]["who"], MANAGER);
    assert_eq!(record.votes[0]["comment"], "looks fine, refund it");
    assert_eq!(record.votes[0]["channel"], "link");
    // The server's worker drives the run on; nobody else does here.
    assert_eq!(ended(rt, &run).await, RunStatus::Completed);

    let after = h.snapshot().await;
    // The same link again: spent.
    assert_refused(
        &post(&h.app, &approve, "").await,
        StatusCode::GONE,
        "This link was already used",
    );
    assert_refused(
        &get(&h.app, &approve).await,
        StatusCode::GONE,
        "This link was already used",
    );
    // The other link of a decided request: already decided.
    assert_refused(
        &post(&h.app, &deny, "").await,
        StatusCode::CONFLICT,
        "This request was already decided",
    );
    assert_refused(
        &get(&h.app, &deny).await,
        StatusCode::CONFLICT,
        "This request was already decided",
    );
    assert_eq!(h.snapshot().await, after, "refused links change nothing");
    assert_eq!(tokens_used(rt, &approval).await, 1);
    h.stop().await;
}

#[tokio::test]
async fn a_deny_link_denies_and_the_run_is_rejected() {
    let h = Harness::new().await;
    let rt = h.state.runtime();
    let (run, approval) = waiting_run(&h, "page-deny", 150).await;
    let (_, deny) = link_paths(rt, &approval, MANAGER).await;
    let done = post(&h.app, &deny, "").await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert!(html(&done).contains(&format!("{MANAGER} denied request")));
    let record = rt
        .store()
        .approval(&approval)
        .await
        .expect("read")
        .expect("the request");
    assert_eq!(record.status, ApprovalStatus::Denied);
    assert_eq!(
        record.votes[0]["comment"],
        Value::Null,
        "an empty comment is none"
    );
    assert_eq!(ended(rt, &run).await, RunStatus::Rejected);
    h.stop().await;
}

#[tokio::test]
async fn forged_and_altered_links_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    let rt = h.state.runtime();
    let (run, approval) = waiting_run(&h, "page-forged", 150).await;
    let (approve, _) = link_paths(rt, &approval, MANAGER).await;
    let before = h.snapshot().await;

    let flip = |path: &str, at: usize| {
        let mut bytes = path.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(bytes).expect("ASCII")
    };
    let last = approve.len() - 1;
    let payload_digit = "/approve/v1.".len() + 3;
    for bad in [
        flip(&approve, last),
        flip(&approve, payload_digit),
        "/approve/v1.00.00".to_owned(),
        "/approve/not-a-token".to_owned(),
        "/approve/%FF%FE".to_owned(),
    ] {
        assert_refused(
            &get(&h.app, &bad).await,
            StatusCode::BAD_REQUEST,
            "This link is not valid",
        );
        assert_refused(
            &post(&h.app, &bad, "comment=x").await,
            StatusCode::BAD_REQUEST,
            "This link is not valid",
        );
    }
    assert_eq!(h.snapshot().await, before);
    assert_eq!(tokens_used(rt, &approval).await, 0);
    assert_eq!(rt.pending_approvals(&run).await.expect("read").len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_bad_form_is_refused_and_the_link_still_works() {
    let h = Harness::new().await;
    let rt = h.state.runtime();
    let (run, approval) = waiting_run(&h, "page-form", 150).await;
    let (approve, _) = link_paths(rt, &approval, MANAGER).await;
    let before = h.snapshot().await;

    let as_json = send(
        &h.app,
        Request::post(&approve)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"comment":"x"}"#))
            .expect("a request"),
    )
    .await;
    assert_refused(
        &as_json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "application/x-www-form-urlencoded",
    );
    let long = format!(
        "comment={}",
        "a".repeat(server::routes::approve_page::MAX_COMMENT_CHARS + 1)
    );
    assert_refused(
        &post(&h.app, &approve, &long).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "The comment is too long",
    );
    assert_eq!(h.snapshot().await, before);
    assert_eq!(tokens_used(rt, &approval).await, 0);

    assert_eq!(post(&h.app, &approve, "").await.status, StatusCode::OK);
    assert_eq!(ended(rt, &run).await, RunStatus::Completed);
    h.stop().await;
}

/// A server over one package `flow` whose workflow asks `m@x.com` with a
/// three-second timeout that escalates to `d@x.com`, and no worker: the test
/// drives the run itself, so nothing times out behind its back.
struct Short {
    _dir: tempfile::TempDir,
    rt: Runtime,
    app: Router,
}

impl Short {
    async fn new(message: &str) -> Short {
        let dir = tempfile::tempdir().expect("a temp dir");
        let dialog = dir.path().join("bots/flow.gbai/flow.gbdialog");
        std::fs::create_dir_all(&dialog).expect("the dialog folder");
        let source = format!(
            "ORCHESTRATE WORKFLOW \"w\"\n  STEP 1: HUMAN APPROVAL FROM \"m@x.com\"\n    \
             MESSAGE \"{message}\"\n    TIMEOUT 3\n    ON TIMEOUT: ESCALATE TO \"d@x.com\"\n  \
             TALK \"approved\"\nEND WORKFLOW\n"
        );
        std::fs::write(dialog.join("w.bas"), source).expect("the script");
        let store = AnyStore::open(dir.path().join("flow.db").to_str().expect("a UTF-8 path"))
            .await
            .expect("the store opens");
        let deployment =
            bots::load_deployment(&dir.path().join("bots")).expect("the deployment loads");
        let rt = Runtime::new(store, deployment, Options::default());
        let app = server::router(AppState::new(rt.clone(), ServerOptions::default()));
        Short { _dir: dir, rt, app }
    }

    /// Starts the workflow and drives it until it waits; returns the run
    /// and its pending request.
    async fn start(&self) -> (String, String) {
        let workflow = self.rt.workflow(Some("w")).expect("the workflow");
        let (run, _) = self
            .rt
            .start_by(&workflow, json!({}), None, Some("alice".to_owned()))
            .await
            .expect("the run starts");
        assert_eq!(
            self.rt.run_to_end(&run.id).await.expect("driven"),
            RunStatus::Waiting
        );
        let pending = self.rt.pending_approvals(&run.id).await.expect("read");
        (run.id, pending[0].id.clone())
    }

    /// Sleeps until the request's deadline has passed (no timing is asserted).
    async fn until_due(&self, approval: &str) {
        let due = self
            .rt
            .store()
            .approval(approval)
            .await
            .expect("read")
            .expect("the request")
            .due_at
            .expect("a deadline");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let wait = u64::try_from(due - now + 50).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }

    async fn status(&self, approval: &str) -> ApprovalStatus {
        self.rt
            .store()
            .approval(approval)
            .await
            .expect("read")
            .expect("the request")
            .status
    }
}

#[tokio::test]
async fn expired_and_escalation_revoked_links_are_refused_and_change_nothing() {
    let short = Short::new("refund 150?").await;
    let (run, first) = short.start().await;
    let (approve, deny) = link_paths(&short.rt, &first, "m@x.com").await;
    assert_eq!(get(&short.app, &approve).await.status, StatusCode::OK);

    // Past the deadline, before anything escalates: expired.
    short.until_due(&first).await;
    for answer in [
        get(&short.app, &approve).await,
        post(&short.app, &approve, "").await,
        post(&short.app, &deny, "").await,
    ] {
        assert_refused(&answer, StatusCode::GONE, "This link has expired");
    }
    assert_eq!(short.status(&first).await, ApprovalStatus::Pending);
    assert_eq!(tokens_used(&short.rt, &first).await, 0);

    // The run escalates: the first approver's links are revoked.
    assert_eq!(
        short.rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Waiting
    );
    assert_eq!(short.status(&first).await, ApprovalStatus::Escalated);
    assert_refused(
        &post(&short.app, &approve, "").await,
        StatusCode::GONE,
        "This link was revoked",
    );
    let second = short.rt.pending_approvals(&run).await.expect("read")[0]
        .id
        .clone();
    assert_eq!(short.status(&second).await, ApprovalStatus::Pending);

    // The new approver's link decides.
    let (approve2, _) = link_paths(&short.rt, &second, "d@x.com").await;
    assert_eq!(post(&short.app, &approve2, "").await.status, StatusCode::OK);
    assert_eq!(
        short.rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
}

#[tokio::test]
async fn every_value_on_the_page_is_escaped() {
    let short = Short::new("<b>refund</b> & <script>alert(1)</script>").await;
    let (_, approval) = short.start().await;
    let (approve, _) = link_paths(&short.rt, &approval, "m@x.com").await;
    let page = get(&short.app, &approve).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = html(&page);
    assert!(!text.contains("<script>alert"), "{text}");
    assert!(!text.contains("<b>refund"), "{text}");
    // askama writes numeric character references.
    assert!(
        text.contains(
            "&#60;b&#62;refund&#60;/b&#62; &#38; &#60;script&#62;alert(1)&#60;/script&#62;"
        ),
        "{text}"
    );
}

#[test]
fn links_point_at_the_page_route() {
    // The notifications build `{public-url}/approve/{token}`; the router serves it.
    let doc = server::openapi_document();
    let paths: Vec<&String> = doc.paths.paths.keys().collect();
    assert!(paths.iter().any(|p| *p == "/approve/{token}"), "{paths:?}");
}
