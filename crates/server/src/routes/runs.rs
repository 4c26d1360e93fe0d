//! `/v1/runs`: list, read, await the result of, cancel, retry and message runs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{ListKey, RunFilter, RunRecord, RunStatus, Store};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Auth, Operate, Read};
use crate::problem::{ApiJson, ApiPath, ApiQuery, ApiResult, Kind, Problem};
use crate::routes::{cursor, poll};

/// The most runs one page lists.
pub const MAX_PAGE: u32 = 500;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(run_result))
        .routes(routes!(cancel_run))
        .routes(routes!(retry_run))
        .routes(routes!(send_message))
}

/// A run without its state, steps and journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummary {
    pub id: String,
    pub workflow: String,
    /// The bot the run acts as.
    pub bot: String,
    /// `running`, `waiting`, `completed`, `rejected`, `failed` or `cancelled`.
    pub status: String,
    /// The program version (source hash) the run is pinned to.
    pub program_hash: String,
    /// When a waiting run becomes due (epoch ms).
    pub wake_at: Option<i64>,
    /// Durable points committed.
    pub version: i64,
    pub parent_run: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

impl From<RunRecord> for RunSummary {
    fn from(r: RunRecord) -> Self {
        RunSummary {
            id: r.id,
            workflow: r.workflow,
            bot: r.bot,
            status: r.status.to_string(),
            program_hash: r.program_hash,
            wake_at: r.wake_at,
            version: r.version,
            parent_run: r.parent_run,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl From<store::RunSummary> for RunSummary {
    fn from(r: store::RunSummary) -> Self {
        RunSummary {
            id: r.id,
            workflow: r.workflow,
            bot: r.bot,
            status: r.status.to_string(),
            program_hash: r.program_hash,
            wake_at: r.wake_at,
            version: r.version,
            parent_run: r.parent_run,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub items: Vec<RunSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /v1/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// Only runs with this status.
    pub status: Option<String>,
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs acting as this bot.
    pub bot: Option<String>,
    /// At most this many runs (default 50, at most 500).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists runs, newest first, with cursor paging. Roles: admin, operator, viewer.
#[utoipa::path(get, path = "/v1/runs", tag = "runs",
    security(("bearer" = [])),
    params(RunQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
        (status = 400, description = "A bad filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read runs", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_runs(
    _auth: Auth<Read>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<RunQuery>,
) -> ApiResult<Json<RunPage>> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<RunStatus>().map_err(|_| {
                Problem::new(
                    Kind::InvalidQuery,
                    format!("unknown status {s:?}; use running, waiting, completed, rejected, failed or cancelled"),
                )
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let before = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let mut items = state
        .runtime()
        .store()
        .list_runs(RunFilter {
            status,
            workflow: query.workflow.clone(),
            bot: query.bot.clone(),
            before,
            // One more than the page tells whether another page follows.
            limit: limit + 1,
            offset: 0,
        })
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = items
        .last()
        .filter(|_| more)
        .map(|last| cursor::encode(&ListKey::from(last)));
    Ok(Json(RunPage {
        items: items.into_iter().map(RunSummary::from).collect(),
        next_cursor,
    }))
}

/// A run with its steps, transcript, events, journal and what it waits for
/// (`runtime::RunView`).
#[derive(Debug, Serialize)]
pub struct RunDetail(runtime::RunView);

impl utoipa::PartialSchema for RunDetail {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .description(Some(
                "A run with its steps, transcript, events, journal, variables and waits",
            ))
            .into()
    }
}

impl ToSchema for RunDetail {}

/// One run with everything recorded about it. Roles: admin, operator, viewer.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read runs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_run(
    _auth: Auth<Read>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunDetail>> {
    Ok(Json(RunDetail(state.runtime().view(&id).await?)))
}

/// `wait` of the long polls.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// Seconds to wait for the run to end (0 to answer now; capped at the
    /// server's maximum, 60 s by default).
    pub wait: Option<u64>,
}

/// Where a run stands, and its result once it ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunResult {
    pub id: String,
    pub status: String,
    /// Whether the run has ended (`completed`, `rejected`, `failed`, `cancelled`).
    pub finished: bool,
    /// The result of a completed run.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// The error of a failed run.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
}

/// The run's result: answers when the run ends or after `wait` seconds,
/// whichever comes first (`finished` says which). Roles: admin, operator, viewer.
#[utoipa::path(get, path = "/v1/runs/{id}/result", tag = "runs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id"), WaitQuery),
    responses(
        (status = 200, description = "Where the run stands", body = RunResult),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read runs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ))]
async fn run_result(
    _auth: Auth<Read>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<WaitQuery>,
) -> ApiResult<Json<RunResult>> {
    let wait = poll::wait_of(&state, query.wait);
    let store = state.runtime().store();
    let answer = poll::until(
        &state,
        wait,
        poll::Cue::<fn(&runtime::Progress) -> bool>::RunStopped(id.clone()),
        || async {
            let record = store
                .run_outcome(&id)
                .await?
                .ok_or_else(|| Problem::from(runtime::Error::UnknownRun(id.clone())))?;
            let finished = record.status.is_terminal();
            Ok((
                RunResult {
                    id: record.id,
                    status: record.status.to_string(),
                    finished,
                    result: record.result,
                    error: record.error,
                },
                finished,
            ))
        },
    )
    .await?;
    Ok(Json(answer))
}

/// Ends a running or waiting run with status `cancelled`. Roles: admin, operator.
#[utoipa::path(post, path = "/v1/runs/{id}/cancel", tag = "runs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run is cancelled", body = RunSummary),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not cancel runs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has ended, or a driver holds it right now", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_run(
    _auth: Auth<Operate>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunSummary>> {
    let runtime = state.runtime();
    runtime.cancel(&id).await?;
    state.metrics().run_finished(RunStatus::Cancelled);
    let record = runtime
        .store()
        .run(&id)
        .await?
        .ok_or_else(|| Problem::from(runtime::Error::UnknownRun(id.clone())))?;
    Ok(Json(RunSummary::from(record)))
}

/// Continues a failed run from its last durable point before the failure;
/// the server drives it in the background (await it with `/result?wait=`).
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/runs/{id}/retry", tag = "runs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 202, description = "The retry was accepted; the run is being driven", body = RunSummary),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not retry runs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Only a failed run can be retried", body = Problem, content_type = "application/problem+json"),
    ))]
async fn retry_run(
    _auth: Auth<Operate>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<RunSummary>)> {
    let runtime = state.runtime().clone();
    let record = runtime
        .store()
        .run(&id)
        .await?
        .ok_or_else(|| Problem::from(runtime::Error::UnknownRun(id.clone())))?;
    // `Runtime::retry` checks this too, but only once it runs in the
    // background; checking here gives the caller its 409 now.
    if record.status != RunStatus::Failed {
        return Err(Problem::from(runtime::Error::Conflict {
            run: id,
            message: format!(
                "only a failed run can be retried; this one is {}",
                record.status
            ),
        }));
    }
    // `retry` reopens the run and drives it to its next stop; a request must
    // not wait for that, and nothing is lost if the process dies meanwhile
    // (the reopened run is durable and claimable).
    let run = id.clone();
    tokio::spawn(async move {
        if let Err(error) = runtime.retry(&run).await {
            tracing::warn!(run = %run, %error, "retrying a run failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(RunSummary::from(record))))
}

/// The body of a message to a run's `HEAR`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// What the run's `HEAR` receives.
    pub text: String,
}

/// A stored message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageInfo {
    /// `<run id>:msg:<seq>`.
    pub id: String,
    pub run_id: String,
    /// 1 for the run's first message.
    pub seq: i64,
    /// Epoch ms.
    pub at: i64,
}

/// Sends a message to a run, for its `HEAR`; a waiting run becomes due.
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/runs/{id}/messages", tag = "runs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id")),
    request_body = NewMessage,
    responses(
        (status = 202, description = "The message is stored", body = MessageInfo),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not message runs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has ended", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body lacks `text`, or it is over the size cap", body = Problem, content_type = "application/problem+json"),
    ))]
async fn send_message(
    _auth: Auth<Operate>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewMessage>,
) -> ApiResult<(StatusCode, Json<MessageInfo>)> {
    let message = state.runtime().send_message(&id, &body.text).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageInfo {
            id: message.id,
            run_id: message.run_id,
            seq: message.seq,
            at: message.at,
        }),
    ))
}
