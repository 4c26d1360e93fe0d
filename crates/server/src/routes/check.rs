//! `POST /v1/check`: the diagnostics of a script, as `botflow check --format json`
//! gives them (the designer's live validation uses it).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{AnyRole, Auth};
use crate::problem::{ApiJson, Problem};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(check))
}

/// The body of a check request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The BASIC source.
    pub source: String,
    /// The file name the diagnostics name (default `script.bas`).
    pub file: Option<String>,
}

/// One diagnostic. Lines and columns are 1-based; columns count characters.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiagnosticInfo {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    /// The code (`E004`, `W001`, ...), documented in docs/diagnostics.md.
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    pub message: String,
    pub hint: Option<String>,
}

/// What the checker says about a script.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckReport {
    pub errors: usize,
    pub warnings: usize,
    /// In source order.
    pub diagnostics: Vec<DiagnosticInfo>,
}

/// The diagnostics of `source`, in source order.
pub(crate) fn diagnostics(
    file: &str,
    source: &str,
    diagnostics: &[basic::Diagnostic],
) -> Vec<DiagnosticInfo> {
    let index = basic::LineIndex::new(source);
    let mut sorted: Vec<&basic::Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| (d.span.start, d.span.end));
    sorted
        .into_iter()
        .map(|d| {
            let start = index.line_col(source, d.span.start);
            let end = index.line_col(source, d.span.end);
            DiagnosticInfo {
                file: file.to_owned(),
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                code: d.code.as_str().to_owned(),
                severity: if d.is_error() { "error" } else { "warning" }.to_owned(),
                message: d.message.clone(),
                hint: d.hint.clone(),
            }
        })
        .collect()
}

/// Parses and checks a script against this deployment's bots; changes
/// nothing. Any valid token.
#[utoipa::path(post, path = "/v1/check", tag = "workflows",
    security(("bearer" = [])),
    request_body = CheckRequest,
    responses(
        (status = 200, description = "The diagnostics (an empty list for a clean script)", body = CheckReport),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body lacks `source`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn check(
    _auth: Auth<AnyRole>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CheckRequest>,
) -> Json<CheckReport> {
    let deployment = state.runtime().deployment();
    let parsed = basic::parse(&body.source);
    #[allow(
        clippy::needless_update,
        reason = "CheckContext gains fields; their defaults apply here"
    )]
    let context = basic::CheckContext {
        known_bots: (!deployment.packages.is_empty()).then(|| deployment.bot_names()),
        ..basic::CheckContext::default()
    };
    let mut found = parsed.diagnostics;
    found.extend(basic::check(&parsed.program, &context));
    let file = body.file.unwrap_or_else(|| "script.bas".to_owned());
    let list = diagnostics(&file, &body.source, &found);
    let errors = found.iter().filter(|d| d.is_error()).count();
    Json(CheckReport {
        errors,
        warnings: found.len() - errors,
        diagnostics: list,
    })
}
