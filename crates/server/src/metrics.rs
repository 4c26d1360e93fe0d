//! Prometheus metrics, rendered by `GET /metrics` (no listener of their own).
//!
//! Each server has its own registry (a local recorder, not the process-wide
//! one), so two servers in one test process never mix their counts.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `botflow_http_requests_seconds` | histogram | `method`, `route`, `status` |
//! | `botflow_runs_started_total` | counter | `workflow` (runs created over the API) |
//! | `botflow_runs_finished_total` | counter | `status` (runs this process drove to an end) |
//! | `botflow_steps_total` | counter | `outcome` (`done`, `failed`) |
//! | `botflow_step_seconds` | histogram | |
//! | `botflow_approvals_requested_total` | counter | |
//! | `botflow_approval_seconds` | histogram (request created → settled over the API) | |
//! | `botflow_commits_total`, `botflow_commit_points_total` | counter | (their ratio is the mean group-commit batch size) |
//! | `botflow_runs_waiting` | gauge | read from the store at scrape time, counted up to 10,000 |
//! | `botflow_reloads_total` | counter | `outcome` (`applied`, `refused`: changes of the bots folder) |
//! | `botflow_reload_refused` | gauge | 1 while the last change of the bots folder is refused, else 0 |

use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use runtime::Progress;
use store::{RunFilter, RunStatus, Store};

use crate::AppState;

/// The most waiting runs counted at a scrape: counting more would cost the
/// scrape more than the number is worth (the store has no count query).
const WAITING_COUNT_CAP: u32 = 10_000;

/// Bucket bounds, in seconds, of every latency histogram.
const BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0, 1800.0, 3600.0, 86_400.0,
];

/// A server's metrics registry.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Metrics {
        let builder = PrometheusBuilder::new();
        // Only an empty bucket list is refused, and `BUCKETS` is not empty.
        let builder = match builder.set_buckets(BUCKETS) {
            Ok(with_buckets) => with_buckets,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Metrics { recorder, handle }
    }

    fn record(&self, f: impl FnOnce()) {
        metrics::with_local_recorder(&self.recorder, f);
    }

    /// One HTTP request answered.
    pub(crate) fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.record(|| {
            histogram!("botflow_http_requests_seconds",
                "method" => method, "route" => route, "status" => status.to_string())
            .record(took.as_secs_f64());
        });
    }

    /// A run created over the API.
    pub(crate) fn run_started(&self, workflow: &str) {
        let workflow = workflow.to_owned();
        self.record(|| counter!("botflow_runs_started_total", "workflow" => workflow).increment(1));
    }

    /// A run ended by the API (cancelled).
    pub(crate) fn run_finished(&self, status: RunStatus) {
        self.record(|| {
            counter!("botflow_runs_finished_total", "status" => status.as_str()).increment(1);
        });
    }

    /// An approval request settled over the API, `took` after it was created.
    pub(crate) fn approval_settled(&self, took: Duration) {
        self.record(|| histogram!("botflow_approval_seconds").record(took.as_secs_f64()));
    }

    /// A change of the bots folder was applied, or refused (the reason is
    /// logged, not made a label: one series per message would grow forever).
    pub(crate) fn reload(&self, refused: bool) {
        let outcome = if refused { "refused" } else { "applied" };
        self.record(|| {
            counter!("botflow_reloads_total", "outcome" => outcome).increment(1);
            gauge!("botflow_reload_refused").set(if refused { 1.0 } else { 0.0 });
        });
    }

    /// The bots folder is back to the deployment in use after a refused change.
    pub(crate) fn reload_restored(&self) {
        self.record(|| gauge!("botflow_reload_refused").set(0.0));
    }

    fn progress(&self, progress: &Progress) {
        match progress {
            Progress::StepFinished {
                duration_ms, error, ..
            } => self.record(|| {
                let outcome = if error.is_some() { "failed" } else { "done" };
                counter!("botflow_steps_total", "outcome" => outcome).increment(1);
                if let Some(ms) = duration_ms {
                    histogram!("botflow_step_seconds").record(*ms as f64 / 1000.0);
                }
            }),
            Progress::ApprovalRequested { .. } => {
                self.record(|| counter!("botflow_approvals_requested_total").increment(1));
            }
            // Every driver says how it stopped: the worker's, and those a
            // start or a decision launched.
            Progress::RunStopped { status, .. } => {
                if let Ok(status) = status.parse::<RunStatus>()
                    && status.is_terminal()
                {
                    self.run_finished(status);
                }
            }
            _ => {}
        }
    }

    /// The Prometheus text of every metric, with the store-derived ones read now.
    pub(crate) async fn render(&self, state: &AppState) -> String {
        let runtime = state.runtime();
        let stats = runtime.stats();
        let waiting = runtime
            .store()
            .list_runs(RunFilter {
                status: Some(RunStatus::Waiting),
                limit: WAITING_COUNT_CAP,
                ..RunFilter::default()
            })
            .await
            .map(|runs| runs.len());
        self.record(|| {
            counter!("botflow_commits_total").absolute(stats.commits());
            counter!("botflow_commit_points_total").absolute(stats.points());
            if let Ok(waiting) = waiting {
                gauge!("botflow_runs_waiting").set(waiting as f64);
            }
        });
        self.handle.render()
    }
}

/// Counts steps and approval requests from the runtime's progress events
/// until the returned task is aborted.
pub(crate) fn watch_progress(state: AppState) -> tokio::task::JoinHandle<()> {
    let mut events = state.runtime().subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(progress) => state.metrics().progress(&progress),
                // Missed events only make the counts low; keep counting.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}
