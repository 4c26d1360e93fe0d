//! `GET /v1/workflows`, `GET /v1/bots` and `POST /v1/workflows/{workflow}/runs`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Auth, Operate, Read};
use crate::problem::{ApiJsonOrEmpty, ApiPath, ApiResult, Kind, Problem};
use crate::routes::runs::RunSummary;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows))
        .routes(routes!(list_bots))
        .routes(routes!(start_run))
}

/// A workflow of the deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowInfo {
    /// The name in `ORCHESTRATE WORKFLOW "<name>"`.
    pub name: String,
    /// The bot (package) that holds the script; runs act as it.
    pub bot: String,
    /// The script's file name.
    pub script: String,
    /// The SHA-256 of the script's current source: the version new runs pin.
    pub hash: Option<String>,
}

/// A bot package of the deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotInfo {
    /// The bot's name as its folder spells it.
    pub name: String,
    /// Its scripts' file names.
    pub scripts: Vec<String>,
    /// The workflows its scripts declare.
    pub workflows: Vec<String>,
    /// Whether it has a system prompt.
    pub has_prompt: bool,
}

/// Every workflow of the deployment. Roles: admin, operator, viewer.
#[utoipa::path(get, path = "/v1/workflows", tag = "workflows",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The workflows", body = [WorkflowInfo]),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_workflows(
    _auth: Auth<Read>,
    State(state): State<AppState>,
) -> Json<Vec<WorkflowInfo>> {
    let deployment = state.runtime().deployment();
    Json(
        deployment
            .workflows()
            .into_iter()
            .map(|(package, w)| WorkflowInfo {
                hash: package.script(&w.script).map(|s| s.hash.clone()),
                name: w.name,
                bot: package.name.clone(),
                script: w.script,
            })
            .collect(),
    )
}

/// Every bot package of the deployment. Roles: admin, operator, viewer.
#[utoipa::path(get, path = "/v1/bots", tag = "workflows",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bots", body = [BotInfo]),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_bots(_auth: Auth<Read>, State(state): State<AppState>) -> Json<Vec<BotInfo>> {
    let deployment = state.runtime().deployment();
    Json(
        deployment
            .packages
            .values()
            .map(|package| BotInfo {
                name: package.name.clone(),
                scripts: package.scripts.keys().cloned().collect(),
                workflows: package.workflows().into_iter().map(|w| w.name).collect(),
                has_prompt: package.prompt.is_some(),
            })
            .collect(),
    )
}

/// The body of a start request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// The run's id; the same id again returns the existing run (idempotent
    /// start). A fresh UUID v7 when absent.
    pub id: Option<String>,
    /// The run's input: a JSON object (its members become variables).
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
}

/// Starts a run of a workflow and answers once the run exists; the server
/// drives it on (await it with `/result?wait=`). Roles: admin, operator. The run records the token's name as its starter (who may then
/// never approve it).
#[utoipa::path(post, path = "/v1/workflows/{workflow}/runs", tag = "runs",
    security(("bearer" = [])),
    params(("workflow" = String, Path, description = "The workflow's name")),
    request_body(content = StartRun, description = "Optional: an empty body starts a run with no input"),
    responses(
        (status = 201, description = "The run was created", body = RunSummary),
        (status = 200, description = "A run with this id exists; it is returned unchanged", body = RunSummary),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not start runs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad id, input not an object, input over the size cap, or a script with errors", body = Problem, content_type = "application/problem+json"),
    ))]
async fn start_run(
    auth: Auth<Operate>,
    State(state): State<AppState>,
    ApiPath(workflow): ApiPath<String>,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<StartRun>,
) -> ApiResult<Response> {
    check_name(&workflow)?;
    let runtime = state.runtime();
    let found = runtime.workflow(Some(&workflow))?;
    let input = body
        .input
        .unwrap_or_else(|| Value::Object(Default::default()));
    // Answered once the run exists: its first durable point, group-committed
    // with other runs' points, creates it; its driver goes on in the background.
    let (record, created) = runtime
        .launch(&found, input, body.id, Some(auth.name().to_owned()))
        .await?;
    let status = if created {
        state.metrics().run_started(&found.name);
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/runs/{}", record.id);
    let mut response = (status, Json(RunSummary::from(record))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Refuses names that could only be path tricks, before any lookup: a
/// workflow or bot name is never a path.
pub(crate) fn check_name(name: &str) -> ApiResult<()> {
    let bad = name.is_empty()
        || name.len() > 256
        || name.contains("..")
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(Problem::new(
            Kind::UnknownWorkflow,
            format!("there is no workflow named {name:?}; nothing was changed"),
        ));
    }
    Ok(())
}
