//! What the run commands share: the database option, opening the store,
//! loading the deployment, building the [`Runtime`], and exit codes.
//!
//! Environment (read once here, in the binary only):
//! - `BOTFLOW_DB`: the database when `--db` is not given, else
//!   `BOTFLOW_DATABASE_URL`, else `./botflow.db`;
//! - `BOTFLOW_REDIS`: Redis for wake-ups across nodes when `--redis` is not given;
//! - `BOTFLOW_LOG`: what the long-running commands log to stderr (a
//!   `tracing` filter; default botflow's warnings, wake-up connection
//!   changes, the approval `log` channel and bots-folder reloads, and only
//!   errors of the database driver);
//! - `BOTFLOW_LEASE_MS`: how long a claim holds a run (default 30000). A
//!   process that died keeps its runs until then; tests set it low;
//! - `BOTFLOW_CRASH_AFTER_COMMITS=N`: the crash-point hook for crash tests:
//!   the process aborts right after its `N`-th group commit, before anybody
//!   is told the points are recorded.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bots::Deployment;
use runtime::{Options, Runtime, WakeupConfig};
use store::{AnyStore, RunStatus};

use crate::UsageError;

/// `--db` and `--redis`, shared by the run commands.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The database: a SQLite file or a postgres:// URL (default:
    /// $BOTFLOW_DATABASE_URL, else botflow.db).
    #[arg(
        long,
        visible_alias = "database",
        env = "BOTFLOW_DB",
        default_value_t = default_db(),
        hide_default_value = true,
        value_name = "FILE"
    )]
    pub db: String,
    /// Redis for wake-ups across nodes (`redis://host:6379`): a node that
    /// makes a run due tells the others at once. Without it, nodes on
    /// PostgreSQL use LISTEN/NOTIFY; either way polling is the safety net.
    #[arg(long, env = "BOTFLOW_REDIS", value_name = "URL")]
    pub redis: Option<String>,
}

/// `BOTFLOW_DATABASE_URL` (the name other tools use), else `botflow.db`.
fn default_db() -> String {
    std::env::var("BOTFLOW_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| "botflow.db".to_owned())
}

/// The wake-up backend for this process's runtimes, chosen by
/// [`open_store`] from the same `DbArgs` (one command per process): Redis
/// when given, else LISTEN/NOTIFY on PostgreSQL, else in-process.
static WAKEUPS: std::sync::Mutex<WakeupConfig> = std::sync::Mutex::new(WakeupConfig::InProcess);

/// Runtimes that may have wake-ups to send before the process exits.
static REMOTE_RUNTIMES: std::sync::Mutex<Vec<Runtime>> = std::sync::Mutex::new(Vec::new());

/// How long an ending command waits for its wake-ups to leave.
const WAKEUP_FLUSH: std::time::Duration = std::time::Duration::from_secs(2);

fn wakeups_for(db: &DbArgs) -> Result<WakeupConfig, UsageError> {
    if let Some(url) = db.redis.as_deref().filter(|u| !u.trim().is_empty()) {
        return WakeupConfig::redis(url.trim()).map_err(|error| UsageError(error.to_string()));
    }
    if db.db.starts_with("postgres://") || db.db.starts_with("postgresql://") {
        return Ok(WakeupConfig::Postgres { channel: None });
    }
    Ok(WakeupConfig::InProcess)
}

/// Runs one command's async work on a fresh tokio runtime.
///
/// The runtime is shut down with a short timeout rather than dropped: the
/// command's answer is already written, and nothing left in the background
/// (a database checkpoint, a connection closing) may keep the process alive.
pub fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(work);
    // Wake-ups this command rang (a decision, an event) reach the other
    // nodes before the process ends; a backend that is down is not waited for.
    let runtimes = std::mem::take(&mut *REMOTE_RUNTIMES.lock().unwrap_or_else(|e| e.into_inner()));
    if !runtimes.is_empty() {
        runtime.block_on(async {
            for rt in &runtimes {
                rt.flush_wakeups(WAKEUP_FLUSH).await;
            }
        });
        drop(runtimes);
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// Opens the store; a corrupt or too-new database is a clear failure, and a
/// database file that cannot be where `--db` says is an unusable argument.
pub async fn open_store(db: &DbArgs) -> anyhow::Result<AnyStore> {
    check_db_path(&db.db)?;
    let wakeups = wakeups_for(db)?;
    *WAKEUPS.lock().unwrap_or_else(|e| e.into_inner()) = wakeups;
    AnyStore::open(&db.db)
        .await
        .with_context(|| format!("cannot open the database {}", store::redact_url(&db.db)))
}

/// Refuses a SQLite `--db` that is a folder or lies in a folder that does
/// not exist, before SQLite tries (and says only "unable to open database
/// file"). A missing file in an existing folder is fine: it is created.
fn check_db_path(db: &str) -> Result<(), UsageError> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Ok(());
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    if path.is_empty() || path.contains("://") {
        // The store names what it cannot use.
        return Ok(());
    }
    let path = Path::new(path);
    if path.is_dir() {
        return Err(UsageError(format!(
            "cannot open the database {db}: {} is a folder; give a database file in it, \
             like {}",
            path.display(),
            path.join("botflow.db").display()
        )));
    }
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) if !folder.exists() => Err(UsageError(format!(
            "cannot open the database {db}: the folder {} does not exist; create it first",
            folder.display()
        ))),
        Some(folder) if !folder.is_dir() => Err(UsageError(format!(
            "cannot open the database {db}: {} is not a folder",
            folder.display()
        ))),
        _ => Ok(()),
    }
}

/// The runtime options the environment asks for.
pub fn options() -> anyhow::Result<Options> {
    let mut options = Options::default();
    if let Some(ms) = env_number("BOTFLOW_LEASE_MS")? {
        options.lease_ttl_ms = i64::try_from(ms).unwrap_or(i64::MAX).max(1);
    }
    options.crash_after_commits = env_number("BOTFLOW_CRASH_AFTER_COMMITS")?;
    Ok(options)
}

fn env_number(name: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| UsageError(format!("{name}={text:?} is not a whole number")).into()),
        Err(_) => Ok(None),
    }
}

/// The runtime options [`runtime`] uses: the environment's, with the
/// wake-ups [`open_store`] chose (for `serve`, which builds a runtime per
/// reloaded deployment).
pub fn runtime_options() -> anyhow::Result<Options> {
    let mut options = options()?;
    options.wakeups = WAKEUPS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(options)
}

/// Builds the runtime on an open store, with the wake-ups [`open_store`] chose.
pub fn runtime(store: AnyStore, deployment: Deployment) -> anyhow::Result<Runtime> {
    Ok(runtime_with(store, deployment, runtime_options()?))
}

/// [`runtime`] with options of the caller's (from [`runtime_options`]).
pub fn runtime_with(store: AnyStore, deployment: Deployment, options: Options) -> Runtime {
    let remote = options.wakeups != WakeupConfig::InProcess;
    let rt = Runtime::new(store, deployment, options);
    if remote {
        REMOTE_RUNTIMES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rt.clone());
    }
    rt
}

/// Logs the runtime's warnings (and wake-up connection changes) to stderr,
/// for the long-running commands; `BOTFLOW_LOG` is a `tracing` filter that
/// replaces the default. Installing twice is harmless.
pub fn init_logging() {
    let filter = std::env::var("BOTFLOW_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| {
            tracing_subscriber::EnvFilter::new(
                "warn,sqlx=error,runtime::wakeups=info,runtime::notify=info,server::reload=info",
            )
        });
    let colour = std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    // Another subscriber already installed keeps logging; nothing to do.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

/// The deployment in `path` for commands that continue runs (`resume`,
/// `runs retry`): a folder of packages, a package, or a folder with none.
pub fn deployment_at(path: &Path) -> anyhow::Result<Deployment> {
    if !path.exists() {
        return Err(UsageError(format!("cannot read {}: no such folder", path.display())).into());
    }
    match bots::layout::find_packages(path) {
        Ok(found) if found.is_empty() && bots::layout::package_name(path).is_none() => {
            Ok(runtime::empty_deployment(path))
        }
        _ => bots::load_deployment(path).map_err(|e| anyhow::anyhow!(e)),
    }
}

/// `--bots`, for commands that continue runs and so may ask bots.
#[derive(Debug, Clone, clap::Args)]
pub struct BotsArgs {
    /// The folder of bot packages the runs' steps ask.
    #[arg(long, env = "BOTFLOW_BOTS", default_value = ".", value_name = "FOLDER")]
    pub bots: PathBuf,
}

/// The exit code for a run's status: 0 completed, 1 ended otherwise, 3 waiting.
pub fn exit_code(status: RunStatus) -> ExitCode {
    match status {
        RunStatus::Completed => ExitCode::SUCCESS,
        RunStatus::Waiting | RunStatus::Running => ExitCode::from(3),
        RunStatus::Failed | RunStatus::Rejected | RunStatus::Cancelled => ExitCode::FAILURE,
    }
}

/// Epoch milliseconds as an RFC 3339 UTC time, for listings.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}
