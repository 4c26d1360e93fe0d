//! `/v1/events`: publish an event from outside any run, and read the event log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{EventFilter, EventRecord, Store};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Auth, Operate, Read};
use crate::problem::{ApiJson, ApiQuery, ApiResult, Problem};

/// The most events one page lists.
pub const MAX_PAGE: u32 = 1000;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(list_events))
}

/// The body of a publish request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// 1 to 128 letters, digits, `_`, `-` or `.`.
    pub name: String,
    /// The payload (`event.data` in BASIC).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// The correlation key `WAIT FOR EVENT ... WHERE key = ...` matches.
    pub key: Option<String>,
    /// Only this bot's runs and triggers receive it.
    pub to: Option<String>,
}

/// A stored event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    /// Position in the event log: the cursor of `GET /v1/events?after=`.
    pub seq: i64,
    pub id: String,
    pub name: String,
    pub key: Option<String>,
    pub target_bot: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    pub from_bot: Option<String>,
    pub from_run: Option<String>,
    /// Epoch ms.
    pub at: i64,
}

impl From<EventRecord> for Event {
    fn from(e: EventRecord) -> Self {
        Event {
            seq: e.seq,
            id: e.id,
            name: e.name,
            key: e.key,
            target_bot: e.target_bot,
            payload: e.payload,
            from_bot: e.from_bot,
            from_run: e.from_run,
            at: e.at,
        }
    }
}

/// Publishes an event; the runs waiting for it become due in the same
/// transaction. Roles: admin, operator.
#[utoipa::path(post, path = "/v1/events", tag = "events",
    security(("bearer" = [])),
    request_body = NewEvent,
    responses(
        (status = 201, description = "The event is stored", body = Event),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not publish", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad event name, a missing name, or a payload over the size cap", body = Problem, content_type = "application/problem+json"),
    ))]
async fn publish(
    _auth: Auth<Operate>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewEvent>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let record = state
        .runtime()
        .publish_event(&body.name, body.data, body.key, body.to)
        .await?;
    Ok((StatusCode::CREATED, Json(Event::from(record))))
}

/// Filters and paging of `GET /v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Only events after this `seq` (the `next_cursor` of the previous page).
    pub after: Option<i64>,
    /// Only events with this name.
    pub name: Option<String>,
    /// Only events this run published.
    pub run: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// One page of events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<Event>,
    /// Pass as `after` for the next page (the last event's `seq`); absent when
    /// the page is empty.
    pub next_cursor: Option<i64>,
}

/// The event log, oldest first, from a cursor. Roles: admin, operator, viewer.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    security(("bearer" = [])),
    params(EventQuery),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read events", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_events(
    _auth: Auth<Read>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> ApiResult<Json<EventPage>> {
    let rows = state
        .runtime()
        .store()
        .events(EventFilter {
            after_seq: query.after.unwrap_or(0).max(0),
            name: query.name,
            from_run: query.run,
            limit: query.limit.unwrap_or(100).clamp(1, MAX_PAGE),
        })
        .await?;
    let next_cursor = rows.last().map(|e| e.seq);
    Ok(Json(EventPage {
        items: rows.into_iter().map(Event::from).collect(),
        next_cursor,
    }))
}
