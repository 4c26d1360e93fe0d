//! What the run commands share: the database option, opening the store,
//! loading the deployment, building the [`Runtime`], and exit codes.
//!
//! Environment (read once here, in the binary only):
//! - `BOTFLOW_DB`: the database when `--db` is not given (default `./botflow.db`);
//! - `BOTFLOW_LEASE_MS`: how long a claim holds a run (default 30000). A
//!   process that died keeps its runs until then; tests set it low;
//! - `BOTFLOW_CRASH_AFTER_COMMITS=N`: the crash-point hook for crash tests:
//!   the process aborts right after its `N`-th group commit, before anybody
//!   is told the points are recorded.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bots::Deployment;
use runtime::{Options, Runtime};
use store::{AnyStore, RunStatus};

use crate::UsageError;

/// `--db`, shared by the run commands.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The database: a SQLite file or a postgres:// URL.
    #[arg(
        long,
        env = "BOTFLOW_DB",
        default_value = "botflow.db",
        value_name = "FILE"
    )]
    pub db: String,
}

/// A tokio runtime for one command.
pub fn tokio() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Opens the store; a corrupt or too-new database is a clear failure.
pub async fn open_store(db: &DbArgs) -> anyhow::Result<AnyStore> {
    AnyStore::open(&db.db)
        .await
        .with_context(|| format!("cannot open the database {}", db.db))
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

/// Builds the runtime on an open store.
pub fn runtime(store: AnyStore, deployment: Deployment) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(store, deployment, options()?))
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
