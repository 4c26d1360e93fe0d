//! `botflow bench w1`: the reference benchmark W1 ("support-flow",
//! `shared/bench/W1.md`), in process, with the built-in no-op bots.
//!
//! - `w1.rs`: the procedure of W1 §5 (warm-up, phases, figures);
//! - `http.rs`: `--mode http`, the same driver protocol over the HTTP API;
//! - `durability.rs`: W1 §6 (a child process killed with SIGKILL at 40 %);
//! - `report.rs`: the bot-log check, CPU time, the table and the JSON.
//!
//! This module holds what both share: the deployment (the W1 script and the
//! built-in bots), the runtime, and the driver protocol of W1 §4 (a starter
//! per workflow, a separate approver task that learns of each approval
//! request through the engine and decides it as `manager@company.com`).

mod durability;
mod http;
mod nodes;
mod report;
mod w1;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use runtime::{BUILTIN_BOTS, BotLog, Driven, Options, Progress, Runtime, Workflow};
use serde_json::json;
use store::{AnyStore, ApprovalFilter, ApprovalStatus, RunStatus, Store};
use tokio::sync::{broadcast, oneshot};

use crate::UsageError;

/// The W1 workflow script (W1.md §1, with its result built explicitly).
pub const W1_SCRIPT: &str = include_str!("support-flow.bas");
/// Who approves W1-approval requests.
const APPROVER: &str = "manager@company.com";
/// Who starts the runs (never the approver: a starter may not approve).
const STARTER: &str = "bench-driver";

/// Run a reference benchmark.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub workload: Workload,
}

/// The benchmark workloads.
#[derive(Debug, clap::Subcommand)]
pub enum Workload {
    /// W1 "support-flow" (shared/bench/W1.md), in process, built-in no-op bots.
    W1(w1::W1Args),
    /// The durability child process (internal).
    #[command(hide = true)]
    W1Child(durability::ChildArgs),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Quiet by default: the log channel would announce every approval. With
    // `BOTFLOW_LOG` set (e.g. `sqlx::query=debug` to see each statement) the
    // bench logs like the long-running commands.
    if std::env::var_os("BOTFLOW_LOG").is_some() {
        crate::runner::init_logging();
    }
    match args.workload {
        Workload::W1(args) => w1::run(args),
        Workload::W1Child(args) => durability::child(args),
    }
}

/// The two W1 variants (W1.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// `order_amount = 50`: no approval step.
    NoApproval,
    /// `order_amount = 150`: STEP 3 waits for the approver.
    Approval,
}

impl Variant {
    fn order_amount(self) -> i64 {
        match self {
            Variant::NoApproval => 50,
            Variant::Approval => 150,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Variant::NoApproval => "noapproval",
            Variant::Approval => "approval",
        }
    }
}

/// The workflow id of a phase's `i`-th run. Numbers are zero-padded so that
/// ids sort in start order, as UUID v7s (botflow's own ids) and most
/// business ids do: the store's indexes on run ids then grow at their end
/// instead of splitting pages in the middle (`-10` sorting before `-2`).
pub fn workflow_id(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:06}")
}

/// The CPU of the store's PostgreSQL server over a phase, when it runs on
/// this machine (W1.md §5 counts it as the engine's): [`report::ServerCpu::ms`]
/// before and after. Nothing for SQLite, whose work is this process's own,
/// nor for a server elsewhere.
pub struct ServerCpuSpan {
    meter: Option<report::ServerCpu>,
    start: Option<f64>,
}

impl ServerCpuSpan {
    /// Starts measuring the server of `store` (nothing for SQLite).
    pub async fn start(store: &AnyStore) -> ServerCpuSpan {
        let meter = match store {
            AnyStore::Postgres(pg) => pg
                .backend_pid()
                .await
                .ok()
                .and_then(report::ServerCpu::of_backend),
            _ => None,
        };
        ServerCpuSpan {
            meter,
            start: meter.and_then(|m| m.ms()),
        }
    }

    /// The server's CPU milliseconds since [`start`](Self::start).
    pub fn elapsed_ms(&self) -> Option<f64> {
        let end = self.meter.and_then(|m| m.ms())?;
        Some(end - self.start?)
    }
}

/// Writes the W1 deployment into `root`: the workflow's package, and an
/// empty package per built-in bot so that `botflow check` knows their names.
pub fn write_deployment(root: &Path) -> anyhow::Result<()> {
    let flow = root.join("support-flow.gbai/support-flow.gbdialog");
    std::fs::create_dir_all(&flow).with_context(|| format!("cannot create {}", flow.display()))?;
    std::fs::write(flow.join("support-flow.bas"), W1_SCRIPT)
        .with_context(|| format!("cannot write the W1 script in {}", flow.display()))?;
    for bot in BUILTIN_BOTS {
        let package = root.join(format!("{bot}.gbai/{bot}.gbdialog"));
        std::fs::create_dir_all(&package)
            .with_context(|| format!("cannot create {}", package.display()))?;
    }
    Ok(())
}

/// What one store-and-runtime setup of the bench is made of.
pub struct Bench {
    pub rt: Runtime,
    pub workflow: Workflow,
    pub log: Arc<BotLog>,
    pub completions: Completions,
}

/// Opens the store `db`, the bot log `log` and a runtime answering the
/// built-in bots, over the deployment in `bots`.
pub async fn open(
    db: &str,
    bots: &Path,
    log: &Path,
    lease_ms: Option<i64>,
) -> anyhow::Result<Bench> {
    let deployment = bots::load_deployment(bots).map_err(|e| anyhow::anyhow!(e))?;
    let store = AnyStore::open(db)
        .await
        .with_context(|| format!("cannot open the database {db}"))?;
    let log = Arc::new(
        BotLog::open(log).with_context(|| format!("cannot open the bot log {}", log.display()))?,
    );
    let mut options = Options {
        builtin_bots: Some(log.clone()),
        ..Options::default()
    };
    if let Some(ms) = lease_ms {
        options.lease_ttl_ms = ms;
    }
    let rt = Runtime::new(store, deployment, options);
    let workflow = rt.workflow(Some("support-flow"))?;
    Ok(Bench {
        rt,
        workflow,
        log,
        completions: Completions::default(),
    })
}

/// Where a run's end is handed from the task that drove it to its starter.
#[derive(Clone, Default)]
pub struct Completions {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

enum Slot {
    Waiter(oneshot::Sender<RunStatus>),
    Done(RunStatus),
}

impl Completions {
    /// Records that run `id` ended with `status`, waking its starter.
    pub fn complete(&self, id: &str, status: RunStatus) {
        let mut slots = lock(&self.slots);
        if let Some(Slot::Waiter(tx)) = slots.remove(id)
            && tx.send(status).is_ok()
        {
            return;
        }
        slots.insert(id.to_owned(), Slot::Done(status));
    }

    /// Waits until run `id` ended. Cancel-safe: a dropped wait leaves the
    /// status for the next one.
    async fn wait(&self, id: &str) -> RunStatus {
        let rx = {
            let mut slots = lock(&self.slots);
            if let Some(Slot::Done(status)) = slots.get(id) {
                let status = *status;
                slots.remove(id);
                return status;
            }
            let (tx, rx) = oneshot::channel();
            slots.insert(id.to_owned(), Slot::Waiter(tx));
            rx
        };
        // The sender lives in the map until `complete` uses it; a replaced
        // sender (a later wait for the same id) ends this wait, which the
        // caller's poll then retries.
        match rx.await {
            Ok(status) => status,
            Err(_) => std::future::pending().await,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock leaves a plain map: still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts run `id` of W1 (idempotent by id) and drives it until it ends:
/// W1 §4 steps 1 and 3. A run waiting for its approval is left to the
/// approver; `poll` is how often the starter looks again by itself (after a
/// restart, or when a driver holding the run died).
pub async fn run_one(
    bench: &Bench,
    id: &str,
    variant: Variant,
    poll: Duration,
) -> anyhow::Result<RunStatus> {
    let input = json!({"order_amount": variant.order_amount()});
    // The first pass creates the run with its first durable point (or finds
    // the run of a previous attempt with this id) and drives it.
    let mut driven = bench
        .rt
        .execute(
            &bench.workflow,
            input,
            Some(id.to_owned()),
            Some(STARTER.to_owned()),
        )
        .await
        .with_context(|| format!("cannot start run {id}"))?
        .driven;
    loop {
        match driven {
            Driven::Finished(status) => return Ok(status),
            Driven::Waiting { .. } | Driven::Fenced => {
                tokio::select! {
                    status = bench.completions.wait(id) => return Ok(status),
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
        driven = bench
            .rt
            .drive(id)
            .await
            .with_context(|| format!("cannot drive run {id}"))?;
    }
}

/// The approver of W1 §4 step 2: a task separate from the starters that
/// learns of each approval request through the engine (the runtime's
/// `ApprovalRequested` progress, and the store's pending requests at start
/// and whenever it missed progress), decides it through the normal decision
/// path as `manager@company.com`, and drives the decided run to its end.
pub fn spawn_approver(
    bench: &Bench,
    mut rx: broadcast::Receiver<Progress>,
) -> tokio::task::JoinHandle<()> {
    let rt = bench.rt.clone();
    let completions = bench.completions.clone();
    tokio::spawn(async move {
        let mut seen: HashSet<String> = HashSet::new();
        // Requests made before this task existed (a restarted process).
        scan_pending(&rt, &completions, &mut seen).await;
        loop {
            match rx.recv().await {
                Ok(Progress::ApprovalRequested { run, approval, .. }) => {
                    if seen.insert(approval.clone()) {
                        tokio::spawn(approve(rt.clone(), completions.clone(), run, approval));
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    scan_pending(&rt, &completions, &mut seen).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}

async fn scan_pending(rt: &Runtime, completions: &Completions, seen: &mut HashSet<String>) {
    let filter = ApprovalFilter {
        status: Some(ApprovalStatus::Pending),
        limit: 100_000,
        ..ApprovalFilter::default()
    };
    match rt.store().approvals(filter).await {
        Ok(pending) => {
            for request in pending {
                if seen.insert(request.id.clone()) {
                    tokio::spawn(approve(
                        rt.clone(),
                        completions.clone(),
                        request.run_id,
                        request.id,
                    ));
                }
            }
        }
        Err(error) => errln!("bench: cannot list pending approvals: {error}"),
    }
}

async fn approve(rt: Runtime, completions: Completions, run: String, approval: String) {
    // W1 §6: every call is retried until it succeeds. A decision that fails
    // (a transient store error such as a deadlock) is sent again while the
    // request is still pending; a decision is idempotent per request.
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        // The decision and the claim of the run it makes due ride on one group
        // commit; the claimed run is driven here at once.
        let error = match rt
            .decide_and_drive(&approval, true, APPROVER, None, "bench")
            .await
        {
            Ok((_, Some(Driven::Finished(status)))) => {
                completions.complete(&run, status);
                return;
            }
            Ok(_) => break,
            Err(error) => error,
        };
        let still_pending = match rt.pending_approvals(&run).await {
            Ok(pending) => pending.iter().any(|p| p.id == approval),
            Err(_) => true,
        };
        if !still_pending {
            break;
        }
        if attempt >= 100 {
            errln!("bench: cannot approve {approval} of run {run}: {error}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt.min(20)))).await;
    }
    // The run is due now. Another driver may hold it for a moment (a
    // starter's poll, or a restarted process), and then `drive` reports the
    // stored status: try again shortly while the run waits for nothing else.
    // The starter's own poll is the backstop.
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < give_up {
        match rt.drive(&run).await {
            Ok(Driven::Finished(status)) => {
                completions.complete(&run, status);
                return;
            }
            Ok(Driven::Fenced) => {}
            Ok(Driven::Waiting { .. }) => match rt.pending_approvals(&run).await {
                Ok(pending) if pending.is_empty() => {}
                // Another approval to wait for: its own request comes as progress.
                Ok(_) => return,
                Err(error) => {
                    errln!("bench: cannot read the approvals of run {run}: {error}");
                    return;
                }
            },
            Err(error) => {
                errln!("bench: cannot drive run {run} after its approval: {error}");
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The folder a bench works in: `--keep DIR` (kept), else a temp folder.
pub enum WorkDir {
    Kept(PathBuf),
    Temp(tempfile::TempDir),
}

impl WorkDir {
    pub fn new(keep: Option<&Path>) -> anyhow::Result<WorkDir> {
        match keep {
            Some(dir) => {
                if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                    return Err(UsageError(format!(
                        "--keep {}: the folder is not empty; give a new or empty folder",
                        dir.display()
                    ))
                    .into());
                }
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(WorkDir::Kept(dir.to_path_buf()))
            }
            None => Ok(WorkDir::Temp(
                tempfile::tempdir().context("cannot create a temp folder")?,
            )),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            WorkDir::Kept(path) => path,
            WorkDir::Temp(dir) => dir.path(),
        }
    }
}
