//! `/approve/{token}`: the page behind the signed approve/deny links that
//! approval notifications carry (`{public-url}/approve/{token}`, see
//! `runtime::notify`).
//!
//! No bearer token: the signed, expiring, single-use token in the path is
//! the proof. `GET` only verifies it ([`runtime::Runtime::redeem_link`]
//! without `confirm`) and shows the request with a confirm button; it never
//! changes anything, so link scanners and previews that follow GET links
//! approve nothing. The page's form `POST`s to the same URL, which spends
//! the token and records the decision in one transaction (the same path as
//! `botflow approvals redeem --yes`), and the worker drives the run on.
//!
//! # Refusals
//!
//! A link that cannot be used gets an HTML page saying why, and nothing
//! changes:
//!
//! | why | status |
//! |---|---|
//! | not a botflow link, or its signature does not match (forged, altered, another deployment) | 400 |
//! | a well-signed token the store does not know, or its request is gone | 404 |
//! | the link was already used, has expired, or was revoked by an escalation | 410 |
//! | the request was already decided (for example through the other link), or this approver already voted | 409 |
//! | the approver may not decide it (no longer addressed, or approving their own run) | 403 |
//! | the form is not `application/x-www-form-urlencoded` | 415 |
//! | the comment is longer than [`MAX_COMMENT_CHARS`] | 422 |
//!
//! Every value shown is HTML-escaped (askama's escaping of `.html` templates).
//! Pages are sent with `Cache-Control: no-store`, `Referrer-Policy: no-referrer`
//! (the token is in the URL) and a Content-Security-Policy that allows no
//! script, no framing and forms to this origin only.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runtime::LinkOutcome;
use serde::Deserialize;
use store::{ApprovalStatus, DecisionRefused, Store};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The longest comment the confirm form accepts, in characters.
pub const MAX_COMMENT_CHARS: usize = 4000;

/// The Content-Security-Policy of the pages: inline style only, no script,
/// no framing (the confirm button must not be clickjacked), forms to this
/// origin only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_link, use_link))
}

/// The confirm form of the page.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ConfirmForm {
    /// Recorded with the decision; empty means none.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Shows what an approve/deny link does and asks to confirm; changes nothing.
/// No bearer token: the signed token is the proof.
#[utoipa::path(get, path = "/approve/{token}", tag = "approval links",
    params(("token" = String, Path, description = "The signed token of an approve or deny link")),
    responses(
        (status = 200, description = "The request and a confirm form", content_type = "text/html", body = String),
        (status = 400, description = "Not a botflow link, or a forged or altered one", content_type = "text/html", body = String),
        (status = 403, description = "The approver may not decide this request", content_type = "text/html", body = String),
        (status = 404, description = "An unknown token or request", content_type = "text/html", body = String),
        (status = 409, description = "The request was already decided", content_type = "text/html", body = String),
        (status = 410, description = "The link was used, has expired or was revoked by an escalation", content_type = "text/html", body = String),
    ))]
async fn show_link(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return refused_page(StatusCode::BAD_REQUEST, Refusal::not_a_link());
    };
    let runtime = state.runtime();
    let outcome = match runtime.redeem_link(&token, false, None).await {
        Ok(outcome) => outcome,
        Err(error) => return refusal(error),
    };
    let workflow = match runtime.store().run(&outcome.approval.run_id).await {
        Ok(run) => run.map_or_else(|| "(unknown)".to_owned(), |r| r.workflow),
        Err(error) => return refusal(runtime::Error::Store(error)),
    };
    page(StatusCode::OK, &ConfirmPage::new(&outcome, workflow))
}

/// Spends the link's token and records its decision (with the form's
/// optional comment); the server's worker then drives the run on.
/// No bearer token: the signed token is the proof.
#[utoipa::path(post, path = "/approve/{token}", tag = "approval links",
    params(("token" = String, Path, description = "The signed token of an approve or deny link")),
    request_body(content = ConfirmForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The decision is recorded", content_type = "text/html", body = String),
        (status = 400, description = "Not a botflow link, or a forged or altered one", content_type = "text/html", body = String),
        (status = 403, description = "The approver may not decide this request", content_type = "text/html", body = String),
        (status = 404, description = "An unknown token or request", content_type = "text/html", body = String),
        (status = 409, description = "The request was already decided, or this approver already voted", content_type = "text/html", body = String),
        (status = 410, description = "The link was used, has expired or was revoked by an escalation", content_type = "text/html", body = String),
        (status = 415, description = "The body is not a form", content_type = "text/html", body = String),
        (status = 422, description = "The comment is too long", content_type = "text/html", body = String),
    ))]
async fn use_link(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return refused_page(StatusCode::BAD_REQUEST, Refusal::not_a_link());
    };
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return form_refused(&rejection),
    };
    let comment = form
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return refused_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Refusal {
                title: "The comment is too long",
                detail: format!("A comment may have at most {MAX_COMMENT_CHARS} characters."),
                hint: "Go back, shorten the comment and confirm again: the link still works.",
            },
        );
    }
    let runtime = state.runtime();
    let outcome = match runtime.redeem_link(&token, true, comment).await {
        Ok(outcome) => outcome,
        Err(error) => return refusal(error),
    };
    let approval = &outcome.approval;
    if approval.status != ApprovalStatus::Pending {
        if let Some(at) = approval.decided_at {
            let took = u64::try_from(at.saturating_sub(approval.created_at)).unwrap_or(0);
            state
                .metrics()
                .approval_settled(std::time::Duration::from_millis(took));
        }
        // `redeem_link` wakes the worker too; waking again is free and keeps
        // this page's promise ("the run continues") independent of that.
        runtime.wake();
    }
    page(StatusCode::OK, &DonePage::new(&outcome))
}

/// The request a link decides, and the form that confirms it.
#[derive(Template)]
#[template(path = "approve/confirm.html")]
struct ConfirmPage {
    title: String,
    verb: &'static str,
    other_verb: &'static str,
    button: &'static str,
    approver: String,
    workflow: String,
    run: String,
    step: Option<String>,
    message: Option<String>,
    asker: Option<String>,
    approvers: String,
    require: i32,
    deadline: Option<Deadline>,
    approval: String,
    max_comment: usize,
}

impl ConfirmPage {
    fn new(outcome: &LinkOutcome, workflow: String) -> ConfirmPage {
        let a = &outcome.approval;
        let (verb, other_verb, button, title) = if outcome.approve {
            ("approve", "deny", "Approve", "Approve this request?")
        } else {
            ("deny", "approve", "Deny", "Deny this request?")
        };
        ConfirmPage {
            title: title.to_owned(),
            verb,
            other_verb,
            button,
            approver: outcome.approver.clone(),
            workflow,
            run: a.run_id.clone(),
            step: a.step.clone(),
            message: a.message.clone(),
            asker: a.started_by.clone(),
            approvers: a.approvers.join(", "),
            require: a.require_n,
            deadline: a.due_at.map(Deadline::of),
            approval: a.id.clone(),
            max_comment: MAX_COMMENT_CHARS,
        }
    }
}

/// A deadline as people and machines read it.
struct Deadline {
    /// RFC 3339, for `<time datetime>`.
    machine: String,
    /// `2026-05-01 14:30 UTC`.
    human: String,
}

impl Deadline {
    fn of(ms: i64) -> Deadline {
        match jiff::Timestamp::from_millisecond(ms) {
            Ok(at) => Deadline {
                machine: at.to_string(),
                human: at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            },
            // Out of jiff's range (year ±9999): show the raw value rather than fail the page.
            Err(_) => Deadline {
                machine: String::new(),
                human: format!("{ms} ms after 1970-01-01 UTC"),
            },
        }
    }
}

/// What a used link did.
#[derive(Template)]
#[template(path = "approve/done.html")]
struct DonePage {
    title: String,
    approver: String,
    done: &'static str,
    approval: String,
    run: String,
    settled: bool,
    status: &'static str,
}

impl DonePage {
    fn new(outcome: &LinkOutcome) -> DonePage {
        let a = &outcome.approval;
        let done = if outcome.approve {
            "approved"
        } else {
            "denied"
        };
        DonePage {
            title: "Decision recorded".to_owned(),
            approver: outcome.approver.clone(),
            done,
            approval: a.id.clone(),
            run: a.run_id.clone(),
            settled: a.status != ApprovalStatus::Pending,
            status: a.status.as_str(),
        }
    }
}

/// Why a link cannot be used.
#[derive(Template)]
#[template(path = "approve/refused.html")]
struct RefusedPage {
    title: String,
    detail: String,
    hint: &'static str,
}

/// The parts of a refusal page.
struct Refusal {
    title: &'static str,
    detail: String,
    hint: &'static str,
}

impl Refusal {
    fn not_a_link() -> Refusal {
        Refusal {
            title: "This link is not valid",
            detail: "This is not a botflow approval link, or it was altered: its signature \
                     does not match."
                .to_owned(),
            hint: "Copy the whole link from your notification, or decide with the command it shows.",
        }
    }
}

/// The page of a refused link, with the status that says why.
fn refusal(error: runtime::Error) -> Response {
    use DecisionRefused as R;
    const ASK: &str = "Ask the person who started the workflow, or see `botflow approvals list`.";
    let (status, refusal) = match error {
        runtime::Error::BadLink(_) => (StatusCode::BAD_REQUEST, Refusal::not_a_link()),
        runtime::Error::Store(store::Error::Refused(why)) => {
            let detail = why.to_string();
            match why {
                R::UnknownToken(_) | R::Unknown(_) => (
                    StatusCode::NOT_FOUND,
                    Refusal {
                        title: "This link is not known here",
                        detail,
                        hint: "The link may belong to another botflow deployment.",
                    },
                ),
                R::TokenUsed => (
                    StatusCode::GONE,
                    Refusal {
                        title: "This link was already used",
                        detail,
                        hint: "Each link works once. The decision it carried stands.",
                    },
                ),
                R::TokenExpired => (
                    StatusCode::GONE,
                    Refusal {
                        title: "This link has expired",
                        detail,
                        hint: ASK,
                    },
                ),
                R::TokenRevoked(_) => (
                    StatusCode::GONE,
                    Refusal {
                        title: "This link was revoked",
                        detail,
                        hint: "The request was escalated to someone else, whose own link decides it.",
                    },
                ),
                R::NotPending { .. } | R::AlreadyVoted { .. } => (
                    StatusCode::CONFLICT,
                    Refusal {
                        title: "This request was already decided",
                        detail,
                        hint: "Nothing more is needed from you.",
                    },
                ),
                R::NotAnApprover { .. } | R::SelfApproval { .. } => (
                    StatusCode::FORBIDDEN,
                    Refusal {
                        title: "You may not decide this request",
                        detail,
                        hint: ASK,
                    },
                ),
            }
        }
        runtime::Error::UnknownRun(_) | runtime::Error::Approval(_) => (
            StatusCode::NOT_FOUND,
            Refusal {
                title: "This request is not known here",
                detail: error.to_string(),
                hint: ASK,
            },
        ),
        other => {
            // The server's side (the store is down, ...): logged by the
            // problem conversion, with a page that gives nothing internal away.
            let problem = crate::problem::Problem::from(other);
            (
                problem.kind().status(),
                Refusal {
                    title: "The link could not be checked right now",
                    detail: "The server could not read the request. Please try again in a minute."
                        .to_owned(),
                    hint: "The link still works if it was not used.",
                },
            )
        }
    };
    refused_page(status, refusal)
}

/// The page of a form the handler cannot read.
fn form_refused(rejection: &FormRejection) -> Response {
    let (status, detail) = match rejection {
        FormRejection::InvalidFormContentType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The confirmation must be sent as a form (application/x-www-form-urlencoded)."
                .to_owned(),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The form is larger than {} bytes.", crate::MAX_BODY_BYTES),
        ),
        other => (
            StatusCode::BAD_REQUEST,
            format!("The form cannot be read: {}", other.body_text()),
        ),
    };
    refused_page(
        status,
        Refusal {
            title: "The confirmation cannot be read",
            detail,
            hint: "Open the link again and use its confirm button: the link still works.",
        },
    )
}

fn refused_page(status: StatusCode, refusal: Refusal) -> Response {
    page(
        status,
        &RefusedPage {
            title: refusal.title.to_owned(),
            detail: refusal.detail,
            hint: refusal.hint,
        },
    )
}

/// A rendered page with the headers every page of this module carries.
fn page(status: StatusCode, template: &impl Template) -> Response {
    let (status, body) = match template.render() {
        Ok(body) => (status, body),
        Err(error) => {
            tracing::error!(%error, "an approval page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>botflow</title><main><h1>The page could not be \
                 shown</h1><p>Nothing was changed.</p></main>"
                    .to_owned(),
            )
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CSP),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        header::HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex, nofollow"),
    );
    response
}
