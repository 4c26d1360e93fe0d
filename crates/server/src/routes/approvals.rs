//! `/v1/approvals`: list (with a long poll), read with the audit trail, decide.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use runtime::Decider;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{ApprovalAudit, ApprovalFilter, ApprovalRecord, ApprovalStatus, ListKey, Store};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Approvals, Auth, Decide};
use crate::problem::{ApiJson, ApiPath, ApiQuery, ApiResult, Kind, Problem};
use crate::routes::{cursor, poll};

/// The most requests one answer lists.
pub const MAX_LIST: u32 = 500;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_approvals))
        .routes(routes!(get_approval))
        .routes(routes!(decide))
}

/// A human approval request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approval {
    pub id: String,
    /// The run that waits for it.
    pub run_id: String,
    /// The step path of the `HUMAN APPROVAL`.
    pub path: String,
    pub step: Option<String>,
    /// Who may decide.
    pub approvers: Vec<String>,
    pub group: Option<String>,
    /// Approvals needed.
    pub require_n: i32,
    /// What the approvers see.
    pub message: Option<String>,
    /// `pending`, `approved`, `denied`, `timed_out` or `escalated`.
    pub status: String,
    /// The votes cast so far.
    #[schema(value_type = Vec<Object>)]
    pub votes: Vec<Value>,
    /// The decision, once settled.
    #[schema(value_type = Option<Object>)]
    pub decision: Option<Value>,
    /// Who started the run: never allowed to approve it.
    pub started_by: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// When the timeout fires (epoch ms).
    pub due_at: Option<i64>,
    /// When it was settled (epoch ms).
    pub decided_at: Option<i64>,
}

impl From<ApprovalRecord> for Approval {
    fn from(a: ApprovalRecord) -> Self {
        Approval {
            id: a.id,
            run_id: a.run_id,
            path: a.path,
            step: a.step,
            approvers: a.approvers,
            group: a.group,
            require_n: a.require_n,
            message: a.message,
            status: a.status.to_string(),
            votes: a.votes,
            decision: a.decision,
            started_by: a.started_by,
            created_at: a.created_at,
            due_at: a.due_at,
            decided_at: a.decided_at,
        }
    }
}

/// One entry of a request's audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    /// Epoch ms.
    pub at: i64,
    /// `created`, `notified`, `vote`, `approved`, `denied`, `escalated`, `timed_out`, `refused`, ...
    pub kind: String,
    pub who: Option<String>,
    pub channel: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<ApprovalAudit> for AuditEntry {
    fn from(a: ApprovalAudit) -> Self {
        AuditEntry {
            seq: a.seq,
            at: a.at,
            kind: a.kind,
            who: a.who,
            channel: a.channel,
            detail: a.detail,
        }
    }
}

/// A request with its audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalDetail {
    #[serde(flatten)]
    pub approval: Approval,
    pub audit: Vec<AuditEntry>,
}

/// Filters of `GET /v1/approvals`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    /// Only requests with this status.
    pub status: Option<String>,
    /// Only requests of this run.
    pub run: Option<String>,
    /// Only requests addressed to this approver (an approver token always
    /// sees only its own).
    pub approver: Option<String>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<u32>,
    /// Only requests after those already seen: the `Next-Cursor` header of
    /// the previous page (requests are listed oldest first).
    pub cursor: Option<String>,
    /// Seconds to wait until at least one request matches (capped at the
    /// server's maximum, 60 s by default). With `cursor`, this waits for a
    /// request newer than the cursor: how a client learns of new requests.
    pub wait: Option<u64>,
}

/// The header that carries the cursor of the next page of requests.
pub const NEXT_CURSOR: &str = "next-cursor";

/// Lists approval requests, oldest first, a page at a time: the
/// `Next-Cursor` header of a page goes on after its last request, and a
/// page with fewer than `limit` requests is the end for now. With `wait`,
/// answers as soon as one matches, so `cursor` and `wait` together wait for
/// the next new request. Roles: admin, operator, viewer; an approver sees
/// only the requests addressed to it.
#[utoipa::path(get, path = "/v1/approvals", tag = "approvals",
    security(("bearer" = [])),
    params(ApprovalQuery),
    responses(
        (status = 200, description = "The matching requests", body = [Approval],
            headers(("next-cursor" = String, description = "Pass as `cursor` to go on after this page's last request; absent on an empty page"))),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_approvals(
    auth: Auth<Approvals>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ApprovalQuery>,
) -> ApiResult<Response> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<ApprovalStatus>().map_err(|_| {
                Problem::new(
                    Kind::InvalidQuery,
                    format!("unknown status {s:?}; use pending, approved, denied, timed_out or escalated"),
                )
            })
        })
        .transpose()?;
    let approver = if auth.is_approver() {
        Some(auth.name().to_owned())
    } else {
        query.approver.clone()
    };
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_LIST);
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let wait = poll::wait_of(&state, query.wait);
    let store = state.runtime().store();
    let filter = ApprovalFilter {
        status,
        run_id: query.run.clone(),
        approver,
        after,
        limit,
        ..ApprovalFilter::default()
    };
    let found = poll::until(
        &state,
        wait,
        poll::Cue::Progress(|p: &runtime::Progress| {
            matches!(p, runtime::Progress::ApprovalRequested { run, approvers, .. }
                if filter.run_id.as_ref().is_none_or(|want| want == run)
                    && filter.approver.as_ref().is_none_or(|who| approvers.contains(who)))
        }),
        || async {
            let rows = store.approvals(filter.clone()).await?;
            let done = !rows.is_empty();
            Ok((rows, done))
        },
    )
    .await?;
    // The store gave at most `limit` requests; the last says where to go on.
    let next = found
        .last()
        .map(|last| cursor::encode(&ListKey::from(last)));
    let mut response =
        Json(found.into_iter().map(Approval::from).collect::<Vec<_>>()).into_response();
    if let Some(next) = next {
        // Request ids are run ids (letters, digits, `-_.:`) and step paths:
        // always a valid header value.
        match HeaderValue::from_str(&next) {
            Ok(value) => {
                response.headers_mut().insert(NEXT_CURSOR, value);
            }
            Err(_) => tracing::warn!(cursor = %next, "a page cursor is no header value"),
        }
    }
    Ok(response)
}

/// The request, or 404; an approver may read only requests addressed to it.
async fn visible(state: &AppState, auth_name: Option<&str>, id: &str) -> ApiResult<ApprovalRecord> {
    let record = state.runtime().store().approval(id).await?.ok_or_else(|| {
        Problem::new(
            Kind::UnknownApproval,
            format!("there is no approval request {id:?}"),
        )
    })?;
    if let Some(who) = auth_name
        && !record.approvers.iter().any(|a| a == who)
    {
        return Err(Problem::new(
            Kind::Forbidden,
            format!("approval request {id} is not addressed to {who}"),
        ));
    }
    Ok(record)
}

/// One request with its audit trail. Roles: admin, operator, viewer; an
/// approver only for requests addressed to it.
#[utoipa::path(get, path = "/v1/approvals/{id}", tag = "approvals",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The request", body = ApprovalDetail),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An approver asked for a request not addressed to it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_approval(
    auth: Auth<Approvals>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ApprovalDetail>> {
    let only = auth.is_approver().then(|| auth.name());
    let record = visible(&state, only, &id).await?;
    let audit = state.runtime().store().approval_audit(&id).await?;
    Ok(Json(ApprovalDetail {
        approval: Approval::from(record),
        audit: audit.into_iter().map(AuditEntry::from).collect(),
    }))
}

/// `approve` or `deny`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Deny,
}

/// The body of a decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub decision: Verdict,
    pub comment: Option<String>,
}

/// Decides a request as the token's identity (its `name`), through the
/// channel `api`; a settled request makes its run due and this server's
/// worker continues it. Roles: admin (any request; recorded as the admin),
/// approver (only requests addressed to it). Nobody may approve a run they
/// started.
#[utoipa::path(post, path = "/v1/approvals/{id}/decision", tag = "approvals",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id")),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "The decision is recorded (the request may still be pending when it needs more approvals)", body = Approval),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role or identity may not decide this request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, already voted, or self-approval", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`decision` is missing or not approve/deny", body = Problem, content_type = "application/problem+json"),
    ))]
async fn decide(
    auth: Auth<Decide>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> ApiResult<Json<Approval>> {
    let runtime = state.runtime();
    // The path names a request, never a run: an unknown id is 404 before the
    // runtime could read it as a run's. A request not addressed to an
    // approver is refused as such (403), whatever state it is in; the store
    // checks it again in the decision's transaction.
    let only = auth.is_approver().then(|| auth.name());
    visible(&state, only, &id).await?;
    let by = if auth.is_admin() {
        Decider::admin(auth.name())
    } else {
        Decider::approver(auth.name())
    };
    let approve = matches!(body.decision, Verdict::Approve);
    // The runtime decides under the store's rules (in one transaction) and,
    // when the request is settled, drives its run on in the background.
    let record = runtime
        .decide_and_launch(&id, approve, by, body.comment, "api")
        .await?;
    if record.status != ApprovalStatus::Pending
        && let Some(at) = record.decided_at
    {
        let took = u64::try_from(at.saturating_sub(record.created_at)).unwrap_or(0);
        state
            .metrics()
            .approval_settled(std::time::Duration::from_millis(took));
    }
    Ok(Json(Approval::from(record)))
}
