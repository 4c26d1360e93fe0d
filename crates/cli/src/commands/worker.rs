//! `botflow worker`: the long-running process that drives every run of the
//! deployment as it becomes due (timers, decisions, events), until Ctrl-C or
//! SIGTERM. It prints one line per run that ends. Settings come from the
//! flags, their environment variables, then `--config botflow.toml`
//! (see `config.rs`), then the defaults.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use runtime::{Driven, Pass};

use crate::runner::{self, DbArgs};

/// Drive runs as they become due until stopped.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub node: crate::config::NodeArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let node = args.node.merge()?;
    let deployment = runner::deployment_at(&node.bots)?;
    runner::init_logging();
    runner::block_on(async move {
        let store = open_store_retrying(&node.db, node.connect_timeout).await?;
        let rt = runner::runtime_with(store, deployment, node.runtime_options()?);
        errln!("worker {} started", rt.node_id());
        let report = rt
            .work(node.worker_options(), stop_signal(), print_pass)
            .await?;
        errln!(
            "worker stopped: {} pass(es), {} run(s) ended, {} left waiting, {} error(s), {} aborted",
            report.driven,
            report.finished,
            report.waiting,
            report.errors,
            report.aborted
        );
        rt.store().close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The first pause before trying the database again; it doubles up to [`RETRY_MAX`].
const RETRY_START: Duration = Duration::from_millis(250);
/// The longest pause between attempts to reach the database.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Opens the store, trying again with back-off for up to `within` while the
/// database cannot be reached (it may be starting, or restarting, with the
/// node), and printing each failed attempt. What a retry cannot fix (a login
/// or database the server refused, a schema newer than this botflow, a bad
/// URL) is reported at once. Either way the message names the database, its
/// password hidden.
pub(crate) async fn open_store_retrying(
    db: &DbArgs,
    within: Duration,
) -> anyhow::Result<store::AnyStore> {
    let started = Instant::now();
    let target = store::redact_url(&db.db);
    let mut pause = RETRY_START;
    let mut attempt: u32 = 1;
    loop {
        let error = match runner::open_store(db).await {
            Ok(store) => {
                if attempt > 1 {
                    errln!("reached the database {target} (attempt {attempt})");
                }
                return Ok(store);
            }
            Err(error) => error,
        };
        // Errors of the store carry what the server said; others (a bad
        // `--redis`, a SQLite path) are already precise.
        let Some(cause) = error.downcast_ref::<store::Error>() else {
            return Err(error);
        };
        if !cause.is_unreachable() {
            return Err(anyhow::anyhow!(
                "cannot open the database {target}: {cause}"
            ));
        }
        let left = within.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(anyhow::anyhow!(
                "cannot reach the database {target}: {cause}; gave up after {attempt} \
                 attempt(s) in {:.1} s (--connect-timeout {})",
                started.elapsed().as_secs_f64(),
                within.as_secs()
            ));
        }
        let wait = pause.min(left);
        errln!(
            "cannot reach the database {target} (attempt {attempt}): {cause}; retrying in {:.2} s",
            wait.as_secs_f64()
        );
        tokio::time::sleep(wait).await;
        pause = (pause * 2).min(RETRY_MAX);
        attempt += 1;
    }
}

/// One line per run that ends or fails to be driven.
fn print_pass(pass: &Pass) {
    match &pass.outcome {
        Ok(Driven::Finished(status)) => {
            // The worker keeps driving runs even if its output cannot be written.
            if let Err(error) = outln!("{} {status}", pass.run) {
                errln!("cannot write to stdout: {error}");
            }
        }
        Err(error) => errln!("{}: {error}", pass.run),
        // Its lease lapsed (this process paused or was cut off) and another
        // node claimed it: the store refused this worker's write.
        Ok(Driven::Fenced) => errln!(
            "{}: taken over by another node (this worker's lease lapsed; its write was refused); let go",
            pass.run
        ),
        Ok(Driven::Waiting { .. }) => {}
    }
}

/// Resolves on Ctrl-C or SIGTERM. If a handler cannot be installed the
/// worker runs until killed (its state is durable either way).
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
