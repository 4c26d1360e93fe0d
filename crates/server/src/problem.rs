//! Errors as `application/problem+json` (RFC 9457), and the extractors that
//! turn axum's own rejections into them.
//!
//! # The `type` scheme
//!
//! Every problem's `type` is `https://botflow.dev/problems/<kind>`, one
//! stable `<kind>` per kind of error ([`Kind`]); clients branch on it, never
//! on `title` or `detail`, which are for people and may change.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use store::DecisionRefused;
use utoipa::ToSchema;

/// The prefix of every problem `type`.
pub const TYPE_PREFIX: &str = "https://botflow.dev/problems/";

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One kind of error, with its stable `type` suffix and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No bearer token, or one that is unknown or revoked (401).
    Unauthorized,
    /// The token's role may not do this (403).
    Forbidden,
    /// No route has this path (404).
    NotFound,
    /// The route exists but not with this method (405).
    MethodNotAllowed,
    /// No run has this id (404).
    UnknownRun,
    /// No workflow has this name (404).
    UnknownWorkflow,
    /// No approval request has this id (404).
    UnknownApproval,
    /// The body is not valid JSON (400).
    MalformedJson,
    /// The body is JSON of the wrong shape (422).
    InvalidBody,
    /// The body is not declared as `application/json` (415).
    UnsupportedMediaType,
    /// The body is larger than the server accepts (413).
    BodyTooLarge,
    /// A query string parameter is missing or malformed (400).
    InvalidQuery,
    /// A path parameter cannot be read (400).
    InvalidPath,
    /// A value is above the engine's size cap (422).
    ValueTooLarge,
    /// A run id that cannot be used (422).
    InvalidRunId,
    /// The run's input is not a JSON object (422).
    InvalidInput,
    /// An event name that cannot be used (422).
    InvalidEvent,
    /// The workflow script has errors and does not start (422).
    ScriptErrors,
    /// The operation does not apply to the run as it stands (409).
    Conflict,
    /// An approval decision that the rules refuse (409).
    DecisionRefused,
    /// The request took longer than the server allows (408).
    Timeout,
    /// The server is shutting down (503).
    ShuttingDown,
    /// The store cannot be reached (503).
    Unavailable,
    /// Something failed on the server (500).
    Internal,
}

impl Kind {
    /// The stable `<kind>` part of the problem's `type`.
    pub fn slug(self) -> &'static str {
        match self {
            Kind::Unauthorized => "unauthorized",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::UnknownRun => "unknown-run",
            Kind::UnknownWorkflow => "unknown-workflow",
            Kind::UnknownApproval => "unknown-approval",
            Kind::MalformedJson => "malformed-json",
            Kind::InvalidBody => "invalid-body",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::BodyTooLarge => "body-too-large",
            Kind::InvalidQuery => "invalid-query",
            Kind::InvalidPath => "invalid-path",
            Kind::ValueTooLarge => "value-too-large",
            Kind::InvalidRunId => "invalid-run-id",
            Kind::InvalidInput => "invalid-input",
            Kind::InvalidEvent => "invalid-event",
            Kind::ScriptErrors => "script-errors",
            Kind::Conflict => "conflict",
            Kind::DecisionRefused => "decision-refused",
            Kind::Timeout => "timeout",
            Kind::ShuttingDown => "shutting-down",
            Kind::Unavailable => "unavailable",
            Kind::Internal => "internal",
        }
    }

    /// The HTTP status of this kind.
    pub fn status(self) -> StatusCode {
        match self {
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound | Kind::UnknownRun | Kind::UnknownWorkflow | Kind::UnknownApproval => {
                StatusCode::NOT_FOUND
            }
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::MalformedJson | Kind::InvalidQuery | Kind::InvalidPath => StatusCode::BAD_REQUEST,
            Kind::InvalidBody
            | Kind::ValueTooLarge
            | Kind::InvalidRunId
            | Kind::InvalidInput
            | Kind::InvalidEvent
            | Kind::ScriptErrors => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Conflict | Kind::DecisionRefused => StatusCode::CONFLICT,
            Kind::Timeout => StatusCode::REQUEST_TIMEOUT,
            Kind::ShuttingDown | Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short, fixed summary of the kind (RFC 9457 `title`).
    pub fn title(self) -> &'static str {
        match self {
            Kind::Unauthorized => "A valid bearer token is required",
            Kind::Forbidden => "The token's role may not do this",
            Kind::NotFound => "No such route",
            Kind::MethodNotAllowed => "The route does not take this method",
            Kind::UnknownRun => "No such run",
            Kind::UnknownWorkflow => "No such workflow",
            Kind::UnknownApproval => "No such approval request",
            Kind::MalformedJson => "The body is not valid JSON",
            Kind::InvalidBody => "The body does not have the expected fields",
            Kind::UnsupportedMediaType => "The body must be application/json",
            Kind::BodyTooLarge => "The body is too large",
            Kind::InvalidQuery => "The query string cannot be used",
            Kind::InvalidPath => "The path cannot be used",
            Kind::ValueTooLarge => "A value is above the engine's size cap",
            Kind::InvalidRunId => "The run id cannot be used",
            Kind::InvalidInput => "The run's input cannot be used",
            Kind::InvalidEvent => "The event cannot be published",
            Kind::ScriptErrors => "The workflow script has errors",
            Kind::Conflict => "The run is not in a state that allows this",
            Kind::DecisionRefused => "The decision was refused",
            Kind::Timeout => "The request took too long",
            Kind::ShuttingDown => "The server is shutting down",
            Kind::Unavailable => "The store cannot be reached",
            Kind::Internal => "The server failed",
        }
    }
}

/// An RFC 9457 problem: the body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `https://botflow.dev/problems/<kind>`: stable, one per kind of error.
    #[serde(rename = "type")]
    pub kind_uri: String,
    /// A short summary of the kind.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this request, for people.
    pub detail: String,
    /// Machine-readable details of some kinds (the cap of `value-too-large`,
    /// the diagnostics of `script-errors`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub extra: Option<Box<serde_json::Map<String, Value>>>,
    #[serde(skip)]
    kind: Option<Kind>,
}

impl Problem {
    /// A problem of `kind` saying `detail`.
    pub fn new(kind: Kind, detail: impl Into<String>) -> Problem {
        Problem {
            kind_uri: format!("{TYPE_PREFIX}{}", kind.slug()),
            title: kind.title(),
            status: kind.status().as_u16(),
            detail: detail.into(),
            extra: None,
            kind: Some(kind),
        }
    }

    /// Adds a machine-readable member to the problem.
    pub fn with(mut self, key: &str, value: Value) -> Problem {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value);
        self
    }

    /// The kind of the problem.
    pub fn kind(&self) -> Kind {
        self.kind.unwrap_or(Kind::Internal)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let kind = self.kind();
        let status = kind.status();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if kind == Kind::Unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"botflow\""),
            );
        }
        response
    }
}

impl From<runtime::Error> for Problem {
    fn from(error: runtime::Error) -> Problem {
        use runtime::Error as E;
        let detail = error.to_string();
        match error {
            E::UnknownRun(_) => Problem::new(Kind::UnknownRun, detail),
            E::Workflow(_) => Problem::new(Kind::UnknownWorkflow, detail),
            E::TooLarge { what, bytes, limit } => Problem::new(Kind::ValueTooLarge, detail)
                .with("value", Value::from(what))
                .with("bytes", Value::from(bytes))
                .with("cap", Value::from(limit)),
            E::InvalidRunId { .. } => Problem::new(Kind::InvalidRunId, detail),
            E::InputNotObject(_) => Problem::new(Kind::InvalidInput, detail),
            E::BadEvent(_) => Problem::new(Kind::InvalidEvent, detail),
            E::Check {
                file,
                source_text,
                diagnostics,
            } => Problem::new(Kind::ScriptErrors, detail).with(
                "diagnostics",
                serde_json::to_value(crate::routes::check::diagnostics(
                    &file,
                    &source_text,
                    &diagnostics,
                ))
                .unwrap_or(Value::Null),
            ),
            E::Conflict { .. } => Problem::new(Kind::Conflict, detail),
            E::Approval(_) => Problem::new(Kind::UnknownApproval, detail),
            E::Closed => Problem::new(Kind::ShuttingDown, detail),
            E::Store(store) => Problem::from(store),
            // Compile, MissingProgram, BadState, Commit, BadLink and kinds
            // added later: the server's side, not the caller's.
            other => {
                tracing::error!(error = %other, "request failed");
                Problem::new(Kind::Internal, other.to_string())
            }
        }
    }
}

impl From<store::Error> for Problem {
    fn from(error: store::Error) -> Problem {
        let detail = error.to_string();
        match error {
            store::Error::UnknownRun(_) => Problem::new(Kind::UnknownRun, detail),
            store::Error::ValueTooLarge { what, bytes, limit } => {
                Problem::new(Kind::ValueTooLarge, detail)
                    .with("value", Value::from(what))
                    .with("bytes", Value::from(bytes))
                    .with("cap", Value::from(limit))
            }
            store::Error::RunEnded { .. } => Problem::new(Kind::Conflict, detail),
            store::Error::Refused(refused) => Problem::from(refused),
            store::Error::Database(_) => {
                tracing::error!(error = %detail, "the store failed");
                Problem::new(Kind::Unavailable, detail)
            }
            _ => {
                tracing::error!(error = %detail, "the store failed");
                Problem::new(Kind::Internal, detail)
            }
        }
    }
}

impl From<DecisionRefused> for Problem {
    fn from(refused: DecisionRefused) -> Problem {
        let detail = refused.to_string();
        match refused {
            DecisionRefused::Unknown(_) => Problem::new(Kind::UnknownApproval, detail),
            DecisionRefused::NotAnApprover { .. } => Problem::new(Kind::Forbidden, detail),
            _ => Problem::new(Kind::DecisionRefused, detail),
        }
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Problem {
        Problem::new(Kind::InvalidQuery, rejection.body_text())
    }
}

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Problem {
        Problem::new(Kind::InvalidPath, rejection.body_text())
    }
}

/// A JSON body whose rejections are problems: not `application/json` → 415,
/// not JSON → 400, JSON of the wrong shape → 422, over the body limit → 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match read_json(req, state, false).await? {
            Some(value) => Ok(ApiJson(value)),
            None => Err(Problem::new(
                Kind::InvalidBody,
                "the request needs a JSON body",
            )),
        }
    }
}

/// Like [`ApiJson`], but an empty body without a `Content-Type` is the
/// type's default: `POST .../runs` with no body starts a run with no input.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJsonOrEmpty<T>(pub T);

impl<S, T> FromRequest<S> for ApiJsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ApiJsonOrEmpty(
            read_json(req, state, true).await?.unwrap_or_default(),
        ))
    }
}

/// The body as `T`; `None` for an empty body without a `Content-Type`
/// when `empty_allowed`.
async fn read_json<S, T>(req: Request, state: &S, empty_allowed: bool) -> Result<Option<T>, Problem>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                Kind::BodyTooLarge,
                format!(
                    "the request body is larger than {} bytes; nothing was changed",
                    crate::MAX_BODY_BYTES
                ),
            )
            .with("cap", Value::from(crate::MAX_BODY_BYTES))
        } else {
            Problem::new(Kind::MalformedJson, rejection.body_text())
        }
    })?;
    match content_type {
        None if empty_allowed && bytes.is_empty() => return Ok(None),
        Some(ref ct) if is_json(ct) => {}
        Some(ct) => {
            return Err(Problem::new(
                Kind::UnsupportedMediaType,
                format!("the body is {ct}; send application/json"),
            ));
        }
        None => {
            return Err(Problem::new(
                Kind::UnsupportedMediaType,
                "the request has no Content-Type; send application/json",
            ));
        }
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|error| {
        use serde_json::error::Category;
        match error.classify() {
            Category::Data => Problem::new(
                Kind::InvalidBody,
                format!("the body has the wrong shape: {error}"),
            ),
            Category::Syntax | Category::Eof | Category::Io => Problem::new(
                Kind::MalformedJson,
                format!("the body is not JSON: {error}"),
            ),
        }
    })
}

/// `application/json`, or any `+json` type, with or without parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `axum::extract::Query` whose rejections are problems (400).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(Problem::from)
    }
}

/// `axum::extract::Path` whose rejections are problems (400).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(Problem::from)
    }
}

/// The answer of a handler: a value or a problem.
pub type ApiResult<T> = Result<T, Problem>;
