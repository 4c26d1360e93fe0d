//! The botflow HTTP API (`botflow serve`): everything the CLI does with runs,
//! approvals and events, over JSON under `/v1`, with an OpenAPI document,
//! bearer-token roles and Prometheus metrics.
//!
//! [`router`] builds the axum router over an [`AppState`]; [`serve`] runs it on
//! a listener together with the runtime's worker loop, which drives the runs
//! the API starts or makes due, and drains both at shutdown.
//!
//! # Invariants
//!
//! - **No run state in memory.** Every answer is read from the store; long
//!   polls re-read it when the runtime's progress notifications (or a fallback
//!   interval) say it may have changed.
//! - **Refused requests change nothing.** Authentication and the role check
//!   run before the body is read; bad bodies are refused before the runtime is
//!   called; the runtime refuses bad values before it writes.
//! - **Errors are `application/problem+json`** with a stable `type` per kind
//!   (see [`problem`]).
//!
//! # Limits
//!
//! Request bodies over [`MAX_BODY_BYTES`] get `413`; values over the engine's
//! cap `422` naming the cap; a request (body included) that takes longer than
//! [`ServerOptions::request_timeout`] gets `408` (long polls get their `wait`,
//! at most [`ServerOptions::max_wait`], on top). CORS is off: no
//! `Access-Control-*` header is ever sent, so browsers refuse cross-origin calls.
//!
//! # Adding a route
//!
//! A module under `routes/` with a `router()` of `#[utoipa::path]` handlers,
//! merged in [`api_router`]; its first extractor is an [`auth::Auth`] policy
//! (or none, for pages that carry their own proof, like the signed approval
//! links). The role table test (`tests/routes_roles.rs`) fails until the new
//! route has its row there.

pub mod auth;
mod metrics;
pub mod openapi;
pub mod problem;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use runtime::{Pass, Runtime, WorkerOptions, WorkerReport};
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;

pub use metrics::Metrics;
pub use problem::{Kind, Problem};

/// The largest request body accepted: the engine's value cap
/// ([`store::MAX_VALUE_BYTES`], 2 MiB) plus 64 KiB for the JSON around the
/// value, so a value just over the cap is refused with a `422` naming the
/// cap, and anything larger with a `413`.
pub const MAX_BODY_BYTES: usize = store::MAX_VALUE_BYTES + 64 * 1024;

/// How a server behaves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The longest a request may take (reading its body included) before it
    /// is answered `408`; long polls get their `wait` on top.
    pub request_timeout: Duration,
    /// The longest `wait=SECONDS` a long poll honours; larger values are capped.
    pub max_wait: Duration,
    /// How often a long poll re-reads the store when no progress
    /// notification came (runs driven by other processes).
    pub poll_interval: Duration,
    /// The worker loop [`serve`] runs next to the HTTP server.
    pub worker: WorkerOptions,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            worker: WorkerOptions::default(),
        }
    }
}

/// What the handlers share: the runtime, the metrics and the shutdown flag.
/// Cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    runtime: Runtime,
    options: ServerOptions,
    metrics: Metrics,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("runtime", &self.inner.runtime)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of a server over `runtime`.
    pub fn new(runtime: Runtime, options: ServerOptions) -> AppState {
        let (shutdown, _) = watch::channel(false);
        AppState {
            inner: Arc::new(Shared {
                runtime,
                options,
                metrics: Metrics::new(),
                shutdown,
            }),
        }
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The options.
    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Tells long polls to answer now: the server is shutting down.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Resolves once [`begin_shutdown`](Self::begin_shutdown) was called.
    pub async fn shutting_down(&self) {
        let mut rx = self.inner.shutdown.subscribe();
        // An error means the sender is gone, which only happens with the state itself.
        let _ = rx.wait_for(|down| *down).await;
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The HTTP server failed (the listener broke).
    #[error("the HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    /// The worker loop failed (the store could not be read to claim runs).
    #[error("the worker loop failed: {0}")]
    Worker(#[source] runtime::Error),
    /// A task of the server panicked or was cancelled.
    #[error("a server task failed: {0}")]
    Task(String),
}

/// Every documented route, with the OpenAPI document built from the same
/// registrations: a route cannot be served without being documented.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(routes::health::router())
        .merge(routes::workflows::router())
        .merge(routes::runs::router())
        .merge(routes::approvals::router())
        .merge(routes::events::router())
        .merge(routes::check::router())
        .merge(routes::stream::router())
        .merge(routes::approve_page::router())
}

/// The OpenAPI document of the API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// The router of the whole API over `state`.
pub fn router(state: AppState) -> Router {
    let (router, doc) = api_router().split_for_parts();
    let doc = openapi::Document(Arc::new(
        doc.to_pretty_json().unwrap_or_else(|_| "{}".to_owned()),
    ));
    router
        .route(
            openapi::DOCUMENT_PATH,
            axum::routing::get(openapi::openapi_json),
        )
        .layer(axum::Extension(doc))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> Problem {
    Problem::new(Kind::NotFound, "no route has this path")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        Kind::MethodNotAllowed,
        "this route does not take this method",
    )
}

/// Times every request out (`408`) and records its latency by route.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // A long poll may wait up to `max_wait` on top of the ordinary limit.
    let long_poll = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("wait=")));
    let options = state.options();
    let limit = if long_poll {
        options.request_timeout + options.max_wait
    } else {
        options.request_timeout
    };
    let response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            Kind::Timeout,
            format!(
                "the request took longer than {} s and was abandoned",
                limit.as_secs()
            ),
        )
        .into_response(),
    };
    state.metrics().http_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Serves the API on `listener` and runs the worker loop next to it until
/// `shutdown` resolves; then stops accepting connections, answers pending
/// long polls, lets in-flight requests finish and in-flight drivers commit
/// (within the worker's grace period), and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<WorkerReport, Error> {
    let runtime = state.runtime().clone();
    let progress = metrics::watch_progress(state.clone());
    let signal = state.clone();
    tokio::spawn(async move {
        shutdown.await;
        signal.begin_shutdown();
    });
    let http = {
        let state = state.clone();
        let app = router(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { state.shutting_down().await })
                .await
        })
    };
    let worker = {
        let state = state.clone();
        let options = state.options().worker.clone();
        let metrics_state = state.clone();
        tokio::spawn(async move {
            let stop = state.clone();
            let report = runtime
                .work(options, async move { stop.shutting_down().await }, {
                    move |pass: &Pass| metrics_state.metrics().pass(pass)
                })
                .await;
            // A worker that failed (the store is gone) stops the HTTP server too.
            state.begin_shutdown();
            report
        })
    };
    let http = http.await.map_err(|e| Error::Task(e.to_string()));
    // A listener that broke stops the worker too.
    state.begin_shutdown();
    let http = http?;
    let report = worker.await.map_err(|e| Error::Task(e.to_string()))?;
    progress.abort();
    http.map_err(Error::Http)?;
    report.map_err(Error::Worker)
}
