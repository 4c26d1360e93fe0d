//! `/healthz` (the process answers), `/readyz` (the store answers) and
//! `/metrics` (Prometheus text; any valid token).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use store::{RunFilter, Store};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{AnyRole, Auth};
use crate::problem::{ApiResult, Kind, Problem};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up. No token needed.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "The process answers", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The store answers a cheap query. No token needed.
#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses(
        (status = 200, description = "The store answers", body = Health),
        (status = 503, description = "The store cannot be reached", body = Problem,
            content_type = "application/problem+json"),
    ))]
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state
        .runtime()
        .store()
        .list_runs(RunFilter {
            limit: 1,
            ..RunFilter::default()
        })
        .await
        .map_err(|error| Problem::new(Kind::Unavailable, error.to_string()))?;
    Ok(Json(Health { status: "ok" }))
}

/// Prometheus metrics in the text exposition format. Any valid token
/// (scrapers send theirs as a bearer token).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text", content_type = "text/plain"),
        (status = 401, description = "No valid token", body = Problem,
            content_type = "application/problem+json"),
    ))]
async fn metrics(_auth: Auth<AnyRole>, State(state): State<AppState>) -> Response {
    let text = state.metrics().render(&state).await;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
