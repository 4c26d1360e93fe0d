//! The OpenAPI document: its base (title, security scheme, shared schemas)
//! and `GET /openapi.json`. The paths come from the `#[utoipa::path]` of each
//! handler, registered with the router in one go (see [`crate::api_router`]).

use std::sync::Arc;

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/openapi.json";

/// The document as JSON text, serialised once when the router was built.
#[derive(Debug, Clone)]
pub(crate) struct Document(pub(crate) Arc<String>);

/// The name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "botflow",
        description = "Durable multi-bot workflows: runs, approvals and events. \
            Every route but /healthz, /readyz and /openapi.json needs \
            `Authorization: Bearer <token>` (see the roles in each operation's description). \
            Errors are application/problem+json with a stable `type` \
            (https://botflow.dev/problems/<kind>)."
    ),
    paths(openapi_json),
    components(schemas(Problem)),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document before the routes add their paths.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
pub(crate) async fn openapi_json(Extension(Document(text)): Extension<Document>) -> Response {
    let mut response = text.as_str().to_owned().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
