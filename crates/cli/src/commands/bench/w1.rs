//! `botflow bench w1`: the procedure of W1.md §5, in process (over HTTP
//! with `--mode http`: `http.rs`).
//!
//! For each variant and concurrency: a fresh store (a new SQLite file with
//! the store's default `synchronous=FULL`) and bot log, a warm-up that is
//! not measured, then the phase with fresh workflow ids. Each of the `c`
//! driver tasks runs one workflow end to end (start → result) and takes the
//! next; no new workflow starts after the time cap.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use store::{RunStatus, Store};

use super::report::{self, PhaseReport};
use super::{Bench, Variant, WorkDir};
use crate::UsageError;
use crate::runner;

/// How often a starter looks at its run by itself while the approver has it.
const POLL: Duration = Duration::from_secs(1);

/// How the driver reaches the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Through the runtime's API, in this process.
    Inproc,
    /// Through the HTTP API of a server in this process, from a loopback
    /// client (`http.rs`); start latencies are reported too.
    Http,
}

/// Which variants to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VariantArg {
    Noapproval,
    Approval,
    Both,
}

/// Run workload W1 "support-flow" (shared/bench/W1.md) in process.
#[derive(Debug, clap::Args)]
pub struct W1Args {
    /// How the driver reaches the engine: in process, or over HTTP.
    #[arg(long, value_enum, default_value = "inproc")]
    pub mode: Mode,
    /// The store: `sqlite` (a fresh SQLite file per phase, in a temp folder)
    /// or a postgres:// URL (shared by the phases; runs get fresh ids).
    #[arg(long, default_value = "sqlite", value_name = "sqlite|URL")]
    pub db: String,
    /// Which variant(s) to run.
    #[arg(long, value_enum, default_value = "both")]
    pub variant: VariantArg,
    /// The concurrency of each phase.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    pub concurrency: Vec<usize>,
    /// Workflows per phase (default: 300 at c=1, 2000 otherwise; with
    /// `--durability`, 400).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Warm-up workflows before each phase, at concurrency 16, not measured.
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,
    /// Seconds after which a phase starts no new workflow (W1_TIME_CAP_S).
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub time_cap: f64,
    /// Also write every figure as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Keep the stores and bot logs in this (new or empty) folder.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Run the durability procedure (W1.md §6) instead: W1-approval at
    /// concurrency 32 in a child process killed with SIGKILL at 40 %.
    #[arg(long)]
    pub durability: bool,
    /// The most the durability run waits after 40 % before the kill (W1.md:
    /// 150 ms). Tests with few workflows lower it so the kill lands before
    /// the child has finished them all.
    #[arg(long, default_value_t = 150, hide = true, value_name = "MS")]
    pub max_kill_delay_ms: u64,
    /// Nodes sharing the PostgreSQL store, each a runtime of its own (node
    /// id, connection pool, group committer) driving its share of the
    /// concurrency and the workflows.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub nodes: usize,
}

pub fn run(args: W1Args) -> anyhow::Result<ExitCode> {
    if !(args.time_cap.is_finite() && args.time_cap > 0.0) {
        return Err(UsageError(format!(
            "--time-cap {}: give a positive number of seconds",
            args.time_cap
        ))
        .into());
    }
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        return Err(
            UsageError("--concurrency: give positive numbers, e.g. 1,16,256".to_owned()).into(),
        );
    }
    if args.runs == Some(0) {
        return Err(UsageError("--runs 0: give at least one workflow".to_owned()).into());
    }
    let is_pg = args.db.starts_with("postgres://") || args.db.starts_with("postgresql://");
    if args.db != "sqlite" && !is_pg {
        return Err(UsageError(format!(
            "--db {:?}: give `sqlite` (a fresh file per phase) or a postgres:// URL",
            args.db
        ))
        .into());
    }
    super::nodes::check(args.nodes, is_pg, args.mode == Mode::Http)?;
    super::http::check(&args)?;
    if args.durability {
        return super::durability::run(&args);
    }
    let variants = match args.variant {
        VariantArg::Noapproval => vec![Variant::NoApproval],
        VariantArg::Approval => vec![Variant::Approval],
        VariantArg::Both => vec![Variant::NoApproval, Variant::Approval],
    };
    let work = WorkDir::new(args.keep.as_deref())?;
    // Fresh ids even on a shared PostgreSQL store.
    let tag = format!(
        "{:x}",
        std::process::id() ^ (crate::commands::bench::durability::random_u64() as u32)
    );
    let cap = Duration::from_secs_f64(args.time_cap);
    let phases = runner::block_on(async {
        let mut phases = Vec::new();
        for &variant in &variants {
            for &c in &args.concurrency {
                let runs = args.runs.unwrap_or(if c == 1 { 300 } else { 2000 });
                let dir = work.path().join(format!("{}-c{c}", variant.name()));
                let setup = Setup {
                    dir: &dir,
                    db: &args.db,
                    tag: &tag,
                    warmup: args.warmup,
                    nodes: args.nodes,
                };
                phases.push(match args.mode {
                    Mode::Inproc => phase(setup, variant, c, runs, cap).await?,
                    Mode::Http => {
                        let setup = super::http::HttpSetup {
                            dir: &dir,
                            db: &args.db,
                            tag: &tag,
                            warmup: args.warmup,
                        };
                        super::http::phase(setup, variant, c, runs, cap).await?
                    }
                });
            }
        }
        Ok(phases)
    })?;
    let server_cpu_counted = phases.iter().all(|p| p.server_cpu_ms_per_wf.is_some());
    let store_label = match (is_pg, server_cpu_counted) {
        (false, _) => "SQLite synchronous=FULL",
        (true, true) => "PostgreSQL (CPU includes its server's)",
        (true, false) => "PostgreSQL (CPU of the server not counted: not on this machine)",
    };
    let store_label = match args.nodes {
        1 => store_label.to_owned(),
        n => format!("{store_label}, {n} nodes"),
    };
    report::print_table(&phases, &store_label)?;
    if let Some(path) = &args.json {
        let all = json!({
            "workload": "W1",
            "mode": match args.mode {
                Mode::Inproc => "inproc",
                Mode::Http => "http",
            },
            "db": if is_pg { "postgres" } else { "sqlite" },
            "pg_cpu_included": is_pg && server_cpu_counted,
            "nodes": args.nodes,
            "phases": phases,
        });
        report::write_json(path, &all)?;
    }
    if let WorkDir::Kept(dir) = &work {
        errln!("stores and bot logs kept in {}", dir.display());
    }
    Ok(if phases.iter().all(PhaseReport::ok) {
        ExitCode::SUCCESS
    } else {
        errln!("bench: some workflows did not complete exactly once (see the table)");
        ExitCode::FAILURE
    })
}

struct Setup<'a> {
    dir: &'a Path,
    db: &'a str,
    tag: &'a str,
    warmup: usize,
    nodes: usize,
}

/// One phase on a fresh store: warm-up, then `runs` workflows at concurrency `c`.
async fn phase(
    setup: Setup<'_>,
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
    let bench = Arc::new(super::open(&db, &bots, &setup.dir.join("bot.log"), None).await?);
    let approver =
        (variant == Variant::Approval).then(|| super::spawn_approver(&bench, bench.rt.subscribe()));
    let prefix = format!("w1-{}-{}-c{c}", setup.tag, variant.name());
    let others =
        super::nodes::Others::open(&db, &bots, &setup.dir.join("bot.log"), setup.nodes, variant)
            .await?;

    let warm = drive_all(
        &bench,
        variant,
        16,
        setup.warmup,
        Duration::MAX,
        &format!("{prefix}-warm"),
        None,
    )
    .await;
    if warm.failed > 0 {
        errln!(
            "bench: {} warm-up workflow(s) did not complete",
            warm.failed
        );
    }

    let bar = ProgressBar::new(runs as u64).with_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("W1-{} c={c}", variant.name()));
    let stats = bench.rt.stats();
    let (more_points0, more_commits0) = others.totals();
    let (points0, commits0) = (
        stats.points() + more_points0,
        stats.commits() + more_commits0,
    );
    let server_cpu = super::ServerCpuSpan::start(bench.rt.store()).await;
    let cpu0 = report::cpu_ms();
    let started = Instant::now();
    let done =
        super::nodes::drive_all(&bench, &others, variant, c, runs, cap, &prefix, Some(&bar)).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = report::cpu_ms().zip(cpu0).map(|(b, a)| b - a);
    let server_ms = server_cpu.elapsed_ms();
    let (more_points, more_commits) = others.totals();
    let (points, commits) = (
        stats.points() + more_points - points0,
        stats.commits() + more_commits - commits0,
    );
    bar.finish_and_clear();
    if let Some(approver) = approver {
        approver.abort();
    }

    // Checked after the clock stopped: each completed run's result is W1's.
    let (completed, wrong) = check_results(bench.rt.store(), &done.completed, variant).await?;
    let failed = done.failed + wrong;
    let mut latencies = done.latencies_ms;
    latencies.sort_by(f64::total_cmp);
    let log = report::check_log(bench.log.path(), &done.started)?;
    others.close().await;
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
        start_p50_ms: None,
        start_p99_ms: None,
        cpu_ms_per_wf: cpu.map(|ms| (ms + server_ms.unwrap_or(0.0)) / completed.max(1) as f64),
        server_cpu_ms_per_wf: server_ms.map(|ms| ms / completed.max(1) as f64),
        points,
        commits,
        log,
    })
}

/// How many of the runs the client saw complete hold W1's result in the
/// store, and how many do not (each of those is reported with what it holds).
pub(super) async fn check_results(
    store: &store::AnyStore,
    ids: &[String],
    variant: Variant,
) -> anyhow::Result<(usize, usize)> {
    let mut right = 0;
    let mut wrong = 0;
    for id in ids {
        match store.run_outcome(id).await? {
            Some(record) if is_w1_result(record.result.as_ref(), id, variant) => right += 1,
            Some(record) => {
                wrong += 1;
                let (status, result, error) = (record.status, record.result, record.error);
                let held = match (result, error) {
                    (Some(result), _) => format!("result {result}"),
                    (None, Some(error)) => format!("error {error}"),
                    (None, None) => "neither result nor error".to_owned(),
                };
                errln!("bench: run {id} is {status}, not W1's result: it holds {held}");
            }
            None => {
                wrong += 1;
                errln!("bench: run {id} was seen to complete but is not in the store");
            }
        }
    }
    Ok((right, wrong))
}

/// Whether `result` is W1's result (W1.md §3, `END WORKFLOW`) for run `id`.
pub(super) fn is_w1_result(result: Option<&Value>, id: &str, variant: Variant) -> bool {
    let Some(Value::Object(result)) = result else {
        return false;
    };
    let approval_ok = match variant {
        Variant::NoApproval => result.get("approval") == Some(&Value::Null),
        Variant::Approval => {
            result.get("approval").and_then(|a| a.get("approved")) == Some(&Value::Bool(true))
        }
    };
    result.get("wf") == Some(&json!(id))
        && result.get("status") == Some(&json!("completed"))
        && result.get("category") == Some(&json!("refund"))
        && result.get("order_amount") == Some(&json!(variant.order_amount()))
        && result.get("refund") == Some(&json!(format!("r-{id}")))
        && result.get("inventory").is_some_and(Value::is_object)
        && approval_ok
        && result.len() == 7
}

/// What the driver tasks of one phase saw.
pub struct Driven {
    /// Ids of the workflows started, in no particular order.
    pub started: Vec<String>,
    /// Ids of those that ended `completed`.
    pub completed: Vec<String>,
    pub failed: usize,
    /// End-to-end latency of each completed workflow.
    pub latencies_ms: Vec<f64>,
}

/// Runs workflows `<prefix>-0` … `<prefix>-<runs - 1>` with `c` driver tasks,
/// starting none after `cap`.
pub async fn drive_all(
    bench: &Arc<Bench>,
    variant: Variant,
    c: usize,
    runs: usize,
    cap: Duration,
    prefix: &str,
    bar: Option<&ProgressBar>,
) -> Driven {
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..c.min(runs.max(1)) {
        let bench = bench.clone();
        let next = next.clone();
        let prefix = prefix.to_owned();
        let bar = bar.cloned();
        tasks.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= runs || began.elapsed() >= cap {
                    return seen;
                }
                let id = super::workflow_id(&prefix, i);
                let t0 = Instant::now();
                let outcome = super::run_one(&bench, &id, variant, POLL).await;
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                let ok = match outcome {
                    Ok(RunStatus::Completed) => true,
                    Ok(status) => {
                        errln!("bench: run {id} ended {status}");
                        false
                    }
                    Err(error) => {
                        errln!("bench: run {id}: {error:#}");
                        false
                    }
                };
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                seen.push((id, ok.then_some(ms)));
            }
        });
    }
    let mut driven = Driven {
        started: Vec::new(),
        completed: Vec::new(),
        failed: 0,
        latencies_ms: Vec::new(),
    };
    while let Some(joined) = tasks.join_next().await {
        let seen = match joined.context("a driver task panicked") {
            Ok(seen) => seen,
            Err(error) => {
                errln!("bench: {error:#}");
                continue;
            }
        };
        for (id, latency) in seen {
            match latency {
                Some(ms) => {
                    driven.latencies_ms.push(ms);
                    driven.completed.push(id.clone());
                }
                None => driven.failed += 1,
            }
            driven.started.push(id);
        }
    }
    driven
}
