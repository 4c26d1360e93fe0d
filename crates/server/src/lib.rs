//! The botflow HTTP API (`botflow serve`): everything the CLI does with runs,
//! approvals and events, over JSON under `/v1`, with an OpenAPI document,
//! bearer-token roles and Prometheus metrics.
//!
//! [`router`] builds the axum router over an [`AppState`]; [`serve`] runs it on
//! a listener together with the runtime's worker loop, which drives the runs
//! the API starts or makes due, and drains both at shutdown. [`serve_with`]
//! also watches the bots folder and swaps in a changed deployment once it
//! checks clean ([`reload`]).
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
//! at most [`ServerOptions::max_wait`], on top). A client that does not send
//! its request headers within [`ServerOptions::header_timeout`] has its
//! connection closed (slowloris). CORS is off unless
//! [`ServerOptions::cors_origins`] lists origins: then only those get
//! `Access-Control-*` headers; every other origin gets none, so browsers
//! refuse its cross-origin calls.
//!
//! # Adding a route
//!
//! A module under `routes/` with a `router()` of `#[utoipa::path]` handlers,
//! merged in [`api_router`]; its first extractor is an [`auth::Auth`] policy
//! (or none, for pages that carry their own proof, like the signed approval
//! links). The role table test (`tests/routes_roles.rs`) fails until the new
//! route has its row there.

pub mod auth;
mod http;
mod metrics;
pub mod openapi;
pub mod problem;
pub mod reload;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use runtime::{Pass, Runtime, WorkerOptions, WorkerReport};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;

pub use metrics::Metrics;
pub use problem::{Kind, Problem};
pub use reload::Reload;

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
    /// The longest a client may take to send a request's headers before its
    /// connection is closed without an answer (slowloris clients).
    pub header_timeout: Duration,
    /// The origins allowed to call the API from a browser (CORS), like
    /// `https://app.example.com`; `*` allows any. Empty: CORS is off.
    pub cors_origins: Vec<String>,
    /// The worker loop [`serve`] runs next to the HTTP server.
    pub worker: WorkerOptions,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            header_timeout: Duration::from_secs(10),
            cors_origins: Vec::new(),
            worker: WorkerOptions::default(),
        }
    }
}

/// What the handlers share: the runtime, the metrics and the shutdown flag.
/// Cloning is cheap.
///
/// A reload of the bots folder makes a new state over the new runtime with
/// [`with_runtime`](Self::with_runtime); the metrics, options and shutdown
/// flag stay shared by every generation.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    runtime: Runtime,
    common: Arc<Common>,
}

/// What every generation of a server's state shares.
struct Common {
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
                common: Arc::new(Common {
                    options,
                    metrics: Metrics::new(),
                    shutdown,
                }),
            }),
        }
    }

    /// The same server over another runtime (a reloaded deployment): options,
    /// metrics and the shutdown flag are shared with `self`.
    pub fn with_runtime(&self, runtime: Runtime) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                runtime,
                common: self.inner.common.clone(),
            }),
        }
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The options.
    pub fn options(&self) -> &ServerOptions {
        &self.inner.common.options
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.common.metrics
    }

    /// Tells long polls to answer now: the server is shutting down.
    pub fn begin_shutdown(&self) {
        self.inner.common.shutdown.send_replace(true);
    }

    /// Resolves once [`begin_shutdown`](Self::begin_shutdown) was called.
    pub async fn shutting_down(&self) {
        let mut rx = self.inner.common.shutdown.subscribe();
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
    let cors = cors_layer(&state.options().cors_origins);
    let router = router
        .route(
            openapi::DOCUMENT_PATH,
            axum::routing::get(openapi::openapi_json),
        )
        .layer(axum::Extension(doc))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    // Outermost, so a preflight is answered before authentication (browsers
    // send no token with it) and every answer, errors too, carries the headers.
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Whether `origin` can be an allowed CORS origin: `*`, or a scheme, a host
/// and maybe a port (`https://app.example.com:8443`), with no path.
pub fn check_cors_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && !host.contains('/') && HeaderValue::from_str(origin).is_ok() =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{origin:?} is not a CORS origin: give a scheme and a host with no path, \
             like https://app.example.com, or * for any origin"
        )),
    }
}

/// The CORS layer for `origins`; `None` when the list is empty (CORS off).
/// Origins that [`check_cors_origin`] refuses are left out.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<&String> = origins
        .iter()
        .filter(|o| check_cors_origin(o).is_ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o.as_str() == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("last-event-id"),
            ])
            // A browser shows a script only the headers listed here: the
            // new run's address and the approval list's page cursor.
            .expose_headers([
                header::LOCATION,
                HeaderName::from_static(routes::approvals::NEXT_CURSOR),
            ])
            .max_age(Duration::from_secs(600)),
    )
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
/// (within the worker's grace period), and returns. The deployment is the
/// runtime's, fixed; [`serve_with`] reloads it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<WorkerReport, Error> {
    serve_with(listener, state, None, shutdown).await
}

/// Like [`serve`], and with `reload` it watches the bots folder: a changed
/// deployment that checks clean serves new requests and runs from then on
/// (see [`reload`]); one that does not is logged and left aside.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    reload: Option<Reload>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<WorkerReport, Error> {
    let signal = state.clone();
    tokio::spawn(async move {
        shutdown.await;
        signal.begin_shutdown();
    });
    let (apps, app) = watch::channel(router(state.clone()));
    let http = {
        let state = state.clone();
        let header_timeout = state.options().header_timeout;
        tokio::spawn(async move {
            http::serve(listener, app, header_timeout, async move {
                state.shutting_down().await
            })
            .await;
        })
    };
    let workers = tokio::spawn(supervise(state.clone(), reload, apps));
    let http = http.await.map_err(|e| Error::Task(e.to_string()));
    // A listener task that failed stops the worker too.
    state.begin_shutdown();
    let report = workers.await.map_err(|e| Error::Task(e.to_string()))?;
    http?;
    report
}

/// Runs the worker loop of the current generation, and with `reload` looks
/// at the bots folder every interval, swapping in a new generation (state,
/// router, worker) when it changed and checks clean. Returns the sum of every
/// generation's worker report once the server shuts down.
async fn supervise(
    first: AppState,
    reload: Option<Reload>,
    apps: watch::Sender<Router>,
) -> Result<WorkerReport, Error> {
    let mut report = WorkerReport::default();
    let mut failure = None;
    let mut workers = JoinSet::new();
    let mut current = first;
    let (mut stop, stopped) = watch::channel(false);
    let mut current_worker = spawn_worker(&mut workers, &current, stopped);
    let mut watcher = match &reload {
        Some(reload) => {
            let (folder, deployment) = (
                reload.folder.clone(),
                current.runtime().deployment().clone(),
            );
            tokio::task::spawn_blocking(move || reload::Watcher::new(&folder, &deployment))
                .await
                .ok()
        }
        None => None,
    };
    let interval = reload
        .as_ref()
        .map_or(Duration::from_secs(1), |r| r.interval);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = current.shutting_down() => break,
            joined = workers.join_next_with_id(), if !workers.is_empty() => {
                let ended_current = matches!(&joined, Some(Ok((id, _))) if *id == current_worker);
                if let Some(joined) = joined && let Err(error) = add_report(&mut report, joined) {
                    failure.get_or_insert(error);
                    break;
                }
                // The current worker only ends by itself when it failed.
                if ended_current {
                    break;
                }
            }
            _ = tick.tick(), if watcher.is_some() && reload.is_some() => {
                let (Some(mut looking), Some(reload)) = (watcher.take(), reload.as_ref()) else {
                    continue;
                };
                let looked = tokio::task::spawn_blocking(move || {
                    let look = looking.look();
                    (looking, look)
                })
                .await;
                let look = match looked {
                    Ok((looking, look)) => {
                        watcher = Some(looking);
                        look
                    }
                    Err(error) => {
                        tracing::error!(
                            %error,
                            "watching the bots folder failed; it is no longer watched"
                        );
                        continue;
                    }
                };
                match look {
                    reload::Look::Unchanged => {}
                    reload::Look::Restored => current.metrics().reload_restored(),
                    reload::Look::Changed(deployment) => {
                        let next = current.with_runtime((reload.make_runtime)(*deployment));
                        // Requests in flight keep the previous router (and runtime).
                        drop(apps.send_replace(router(next.clone())));
                        // The previous worker stops claiming; its drivers
                        // reach their next stop within its grace period.
                        stop.send_replace(true);
                        let (next_stop, stopped) = watch::channel(false);
                        stop = next_stop;
                        current_worker = spawn_worker(&mut workers, &next, stopped);
                        current = next;
                        current.metrics().reload(false);
                        reload::log_applied(&reload.folder, current.runtime().deployment());
                    }
                    reload::Look::Refused(refusal) => {
                        reload::log_refused(&reload.folder, &refusal);
                        current.metrics().reload(true);
                    }
                }
            }
        }
    }
    // Every worker stops at shutdown (the current one may have failed).
    current.begin_shutdown();
    drop(stop);
    while let Some(joined) = workers.join_next_with_id().await {
        if let Err(error) = add_report(&mut report, joined) {
            failure.get_or_insert(error);
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(report),
    }
}

/// Starts the worker loop of `state`'s runtime, which runs until `stop` or
/// the server's shutdown, and counts its runtime's progress in the metrics.
fn spawn_worker(
    workers: &mut JoinSet<Result<WorkerReport, runtime::Error>>,
    state: &AppState,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::Id {
    let state = state.clone();
    workers
        .spawn(async move {
            let progress = metrics::watch_progress(state.clone());
            let options = state.options().worker.clone();
            let stopping = {
                let state = state.clone();
                async move {
                    tokio::select! {
                        // A dropped sender (the server is ending) stops it too.
                        _ = stop.wait_for(|stop| *stop) => {}
                        () = state.shutting_down() => {}
                    }
                }
            };
            // Runs that end are counted from their drivers' progress.
            let report = state.runtime().work(options, stopping, |_: &Pass| {}).await;
            progress.abort();
            report
        })
        .id()
}

/// Adds one ended worker's report to `total`.
fn add_report(
    total: &mut WorkerReport,
    joined: Result<(tokio::task::Id, Result<WorkerReport, runtime::Error>), tokio::task::JoinError>,
) -> Result<(), Error> {
    let report = joined
        .map_err(|e| Error::Task(e.to_string()))?
        .1
        .map_err(Error::Worker)?;
    total.driven += report.driven;
    total.finished += report.finished;
    total.waiting += report.waiting;
    total.errors += report.errors;
    total.aborted += report.aborted;
    Ok(())
}
