//! `botflow bench w1 --mode http`: the driver protocol of W1.md §4 over the
//! HTTP API, as another system would drive botflow.
//!
//! The engine is an in-process `botflow serve` (the `server` crate, with its
//! worker loop) over the phase's runtime, on a free loopback port. The load
//! generator is a small HTTP client (reqwest, one connection pool) on a
//! thread and single-threaded tokio runtime of its own, so that its CPU time
//! can be told apart from the engine's: the phase's CPU per workflow is the
//! process's minus that thread's.
//!
//! Per workflow: `POST /v1/workflows/support-flow/runs` (the start latency is
//! from the request to its `201`), then `GET /v1/runs/{id}/result?wait=` until
//! the run has ended. For W1-approval, one approver task learns of requests
//! through the long poll `GET /v1/approvals?status=pending&wait=` and decides
//! each with `POST /v1/approvals/{id}/decision`, as `manager@company.com`
//! (an approver token of that name).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use runtime::ApiRole;
use serde::Deserialize;
use serde_json::json;
use server::{AppState, ServerOptions};
use tokio::sync::oneshot;

use super::report::{self, PhaseReport};
use super::w1::{Mode, W1Args};
use super::{APPROVER, Bench, STARTER, Variant};
use crate::UsageError;

/// How long one long poll waits on the server (its cap is 60 s).
const LONG_POLL_S: u64 = 30;

/// Refuses what `--mode http` does not do.
pub fn check(args: &W1Args) -> anyhow::Result<()> {
    if args.mode != Mode::Http {
        return Ok(());
    }
    if args.durability {
        return Err(
            UsageError("--durability runs in process; leave out --mode http".to_owned()).into(),
        );
    }
    if args.nodes > 1 {
        return Err(UsageError(
            "--nodes runs in process; leave out --mode http or --nodes".to_owned(),
        )
        .into());
    }
    Ok(())
}

/// Where one HTTP phase works.
pub struct HttpSetup<'a> {
    pub dir: &'a Path,
    pub db: &'a str,
    pub tag: &'a str,
    pub warmup: usize,
}

/// One phase over HTTP on a fresh store: the server, the warm-up (not
/// measured), then `runs` workflows at concurrency `c`; checked like the
/// in-process phase (results from the store, the bot log).
pub async fn phase(
    setup: HttpSetup<'_>,
    variant: Variant,
    c: usize,
    runs: usize,
    cap: Duration,
) -> anyhow::Result<PhaseReport> {
    let bots = setup.dir.join("bots");
    super::write_deployment(&bots)?;
    let db = if setup.db == "sqlite" {
        setup.dir.join("w1.db").display().to_string()
    } else {
        setup.db.to_owned()
    };
    let bench = super::open(&db, &bots, &setup.dir.join("bot.log"), None).await?;
    let server = HttpServer::start(&bench).await?;
    let prefix = format!("w1-{}-{}-http-c{c}", setup.tag, variant.name());

    let warm = server
        .drive_all(
            variant,
            16,
            setup.warmup,
            Duration::MAX,
            &format!("{prefix}-warm"),
            None,
        )
        .await?;
    if warm.seen.failed > 0 {
        errln!(
            "bench: {} warm-up workflow(s) did not complete",
            warm.seen.failed
        );
    }

    let bar = ProgressBar::new(runs as u64).with_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("W1-{} c={c} http", variant.name()));
    let stats = bench.rt.stats();
    let (points0, commits0) = (stats.points(), stats.commits());
    let server_cpu = super::ServerCpuSpan::start(bench.rt.store()).await;
    let cpu0 = report::cpu_ms();
    let started = Instant::now();
    let run = server
        .drive_all(variant, c, runs, cap, &prefix, Some(&bar))
        .await?;
    let wall = started.elapsed().as_secs_f64();
    // The engine's CPU: the process's, less the client thread's.
    let cpu = report::cpu_ms()
        .zip(cpu0)
        .zip(run.client_cpu_ms)
        .map(|((b, a), client)| b - a - client);
    let server_ms = server_cpu.elapsed_ms();
    let (points, commits) = (stats.points() - points0, stats.commits() - commits0);
    bar.finish_and_clear();
    server.stop().await?;

    // Checked after the clock stopped: each completed run's result is W1's.
    let done = run.seen;
    let (completed, wrong) =
        super::w1::check_results(bench.rt.store(), &done.completed, variant).await?;
    let failed = done.failed + wrong;
    let mut latencies = done.latencies_ms;
    latencies.sort_by(f64::total_cmp);
    let mut starts = done.start_ms;
    starts.sort_by(f64::total_cmp);
    let log = report::check_log(bench.log.path(), &done.started)?;
    bench.rt.store().close().await;
    Ok(PhaseReport {
        variant,
        concurrency: c,
        started: done.started.len(),
        completed,
        failed,
        capped: done.started.len() < runs,
        wall_s: wall,
        wf_per_s: completed as f64 / wall.max(f64::EPSILON),
        p50_ms: report::percentile(&latencies, 50.0),
        p99_ms: report::percentile(&latencies, 99.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        start_p50_ms: Some(report::percentile(&starts, 50.0)),
        start_p99_ms: Some(report::percentile(&starts, 99.0)),
        cpu_ms_per_wf: cpu.map(|ms| (ms + server_ms.unwrap_or(0.0)) / completed.max(1) as f64),
        server_cpu_ms_per_wf: server_ms.map(|ms| ms / completed.max(1) as f64),
        points,
        commits,
        log,
    })
}

/// What the client tasks of one `drive_all` saw.
pub struct Seen {
    /// Ids of the workflows started, in no particular order.
    pub started: Vec<String>,
    /// Ids of those that ended `completed`.
    pub completed: Vec<String>,
    pub failed: usize,
    /// End-to-end latency (start request to result) of each completed workflow.
    pub latencies_ms: Vec<f64>,
    /// Start latency (request to `201`) of each completed workflow.
    pub start_ms: Vec<f64>,
}

/// An in-process server over a bench's runtime, and the tokens to drive it.
pub struct HttpServer {
    base: String,
    operator: String,
    approver: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<runtime::WorkerReport, server::Error>>,
}

impl HttpServer {
    /// Serves the API over `bench`'s runtime on a free loopback port, with an
    /// operator token for the starter and an approver token for the approver.
    pub async fn start(bench: &Bench) -> anyhow::Result<HttpServer> {
        let (_, operator) = bench
            .rt
            .create_api_token(ApiRole::Operator, STARTER)
            .await
            .context("cannot create the starter's API token")?;
        let (_, approver) = bench
            .rt
            .create_api_token(ApiRole::Approver, APPROVER)
            .await
            .context("cannot create the approver's API token")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on a loopback port")?;
        let address = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let state = AppState::new(bench.rt.clone(), ServerOptions::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Ok(HttpServer {
            base: format!("http://{address}"),
            operator,
            approver,
            stop: Some(stop),
            task,
        })
    }

    /// Shuts the server down (it drains its drivers) and waits until it has.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .context("the server task failed")?
            .context("the server failed")?;
        Ok(())
    }

    /// Runs workflows `<prefix>-0` … `<prefix>-<runs - 1>` over HTTP with `c`
    /// client tasks, starting none after `cap` (like the in-process
    /// `drive_all`), and returns what they saw and the client's CPU time.
    pub async fn drive_all(
        &self,
        variant: Variant,
        c: usize,
        runs: usize,
        cap: Duration,
        prefix: &str,
        bar: Option<&ProgressBar>,
    ) -> anyhow::Result<ClientRun> {
        let plan = Plan {
            base: self.base.clone(),
            operator: self.operator.clone(),
            approver: self.approver.clone(),
            variant,
            c,
            runs,
            cap,
            prefix: prefix.to_owned(),
            bar: bar.cloned(),
        };
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("w1-http-client".to_owned())
            .spawn(move || {
                let _ = tx.send(client(plan));
            })
            .context("cannot start the HTTP client thread")?;
        rx.await.context("the HTTP client thread died")?
    }
}

/// What the HTTP client saw in one `drive_all`.
pub struct ClientRun {
    pub seen: Seen,
    /// CPU time of the client's thread (not the engine's), when known.
    pub client_cpu_ms: Option<f64>,
}

struct Plan {
    base: String,
    operator: String,
    approver: String,
    variant: Variant,
    c: usize,
    runs: usize,
    cap: Duration,
    prefix: String,
    bar: Option<ProgressBar>,
}

/// The client: runs on the calling thread with a single-threaded runtime,
/// so the thread's CPU time is the client's.
fn client(plan: Plan) -> anyhow::Result<ClientRun> {
    let cpu0 = report::thread_cpu_ms();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the client's async runtime")?;
    let seen = rt.block_on(drive(plan))?;
    let client_cpu_ms = report::thread_cpu_ms().zip(cpu0).map(|(b, a)| b - a);
    Ok(ClientRun {
        seen,
        client_cpu_ms,
    })
}

async fn drive(plan: Plan) -> anyhow::Result<Seen> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(LONG_POLL_S + 60))
        .build()
        .context("cannot build the HTTP client")?;
    let plan = Arc::new(plan);
    let approver = (plan.variant == Variant::Approval)
        .then(|| tokio::spawn(approve_all(http.clone(), plan.clone())));
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.c.min(plan.runs.max(1)) {
        let (http, plan, next) = (http.clone(), plan.clone(), next.clone());
        tasks.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= plan.runs || began.elapsed() >= plan.cap {
                    return seen;
                }
                let id = super::workflow_id(&plan.prefix, i);
                let outcome = one(&http, &plan, &id).await;
                let ok = match outcome {
                    Ok((start_ms, total_ms, status)) if status == "completed" => {
                        Some((start_ms, total_ms))
                    }
                    Ok((_, _, status)) => {
                        errln!("bench: run {id} ended {status}");
                        None
                    }
                    Err(error) => {
                        errln!("bench: run {id}: {error:#}");
                        None
                    }
                };
                if let Some(bar) = &plan.bar {
                    bar.inc(1);
                }
                seen.push((id, ok));
            }
        });
    }
    let mut driven = Seen {
        started: Vec::new(),
        completed: Vec::new(),
        failed: 0,
        latencies_ms: Vec::new(),
        start_ms: Vec::new(),
    };
    while let Some(joined) = tasks.join_next().await {
        let seen = match joined.context("a client task panicked") {
            Ok(seen) => seen,
            Err(error) => {
                errln!("bench: {error:#}");
                continue;
            }
        };
        for (id, times) in seen {
            match times {
                Some((start_ms, total_ms)) => {
                    driven.start_ms.push(start_ms);
                    driven.latencies_ms.push(total_ms);
                    driven.completed.push(id.clone());
                }
                None => driven.failed += 1,
            }
            driven.started.push(id);
        }
    }
    if let Some(approver) = approver {
        approver.abort();
    }
    Ok(driven)
}

/// `GET /v1/runs/{id}/result`: the fields the driver reads.
#[derive(Deserialize)]
struct RunResult {
    status: String,
    finished: bool,
}

/// `GET /v1/approvals`: the field the approver reads.
#[derive(Deserialize)]
struct Approval {
    id: String,
}

/// W1 §4 steps 1 and 3 over HTTP for run `id`: the start latency (request
/// to `201`), the end-to-end latency, and the final status.
async fn one(http: &reqwest::Client, plan: &Plan, id: &str) -> anyhow::Result<(f64, f64, String)> {
    let t0 = Instant::now();
    let started = http
        .post(format!("{}/v1/workflows/support-flow/runs", plan.base))
        .bearer_auth(&plan.operator)
        .json(&json!({"id": id, "input": {"order_amount": plan.variant.order_amount()}}))
        .send()
        .await
        .context("the start request failed")?;
    let start_ms = t0.elapsed().as_secs_f64() * 1000.0;
    if started.status() != reqwest::StatusCode::CREATED {
        let status = started.status();
        let body = started.text().await.unwrap_or_default();
        anyhow::bail!("the start answered {status}, not 201 Created: {body}");
    }
    loop {
        let answer = http
            .get(format!(
                "{}/v1/runs/{id}/result?wait={LONG_POLL_S}",
                plan.base
            ))
            .bearer_auth(&plan.operator)
            .send()
            .await
            .context("the result request failed")?;
        let status = answer.status();
        if !status.is_success() {
            let body = answer.text().await.unwrap_or_default();
            anyhow::bail!("the result request answered {status}: {body}");
        }
        let result: RunResult = answer.json().await.context("the result is not JSON")?;
        if result.finished {
            let total_ms = t0.elapsed().as_secs_f64() * 1000.0;
            return Ok((start_ms, total_ms, result.status));
        }
    }
}

/// The approver of W1 §4 step 2 over HTTP: waits on the long poll of pending
/// requests addressed to it, approves each request it lists (all at once),
/// and waits again once they are decided, until the phase aborts it.
async fn approve_all(http: reqwest::Client, plan: Arc<Plan>) {
    loop {
        let pending = http
            .get(format!(
                "{}/v1/approvals?status=pending&limit=500&wait={LONG_POLL_S}",
                plan.base
            ))
            .bearer_auth(&plan.approver)
            .send()
            .await;
        let pending: Vec<Approval> = match pending {
            Ok(answer) if answer.status().is_success() => match answer.json().await {
                Ok(list) => list,
                Err(error) => {
                    errln!("bench: the approvals list is not JSON: {error}");
                    Vec::new()
                }
            },
            Ok(answer) => {
                errln!("bench: listing approvals answered {}", answer.status());
                Vec::new()
            }
            Err(error) => {
                errln!("bench: listing approvals failed: {error}");
                Vec::new()
            }
        };
        if pending.is_empty() {
            // Only after an error (the long poll answers when one exists).
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        // The listed requests stay pending until decided: decide them all
        // before asking again, so the long poll does not answer with them.
        let mut decisions = tokio::task::JoinSet::new();
        for approval in pending {
            let (http, plan) = (http.clone(), plan.clone());
            decisions.spawn(async move { decide(&http, &plan, &approval.id).await });
        }
        let mut refused = false;
        while let Some(decided) = decisions.join_next().await {
            refused |= !matches!(decided, Ok(true));
        }
        if refused {
            // A request that stays pending is listed again at once: not in a hot loop.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Approves request `id`; false when that failed. A request decided
/// meanwhile (`409`) is fine: the decision is idempotent per request. Other
/// failures are logged; the request stays pending and is listed again.
async fn decide(http: &reqwest::Client, plan: &Plan, id: &str) -> bool {
    let answer = http
        .post(format!("{}/v1/approvals/{id}/decision", plan.base))
        .bearer_auth(&plan.approver)
        .json(&json!({"decision": "approve"}))
        .send()
        .await;
    match answer {
        Ok(answer)
            if answer.status().is_success() || answer.status() == reqwest::StatusCode::CONFLICT =>
        {
            true
        }
        Ok(answer) => {
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            errln!("bench: approving {id} answered {status}: {body}");
            false
        }
        Err(error) => {
            errln!("bench: approving {id} failed: {error}");
            false
        }
    }
}
