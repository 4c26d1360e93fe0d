//! `botflow worker`: the long-running process that drives every run of the
//! deployment as it becomes due (timers, decisions, events), until Ctrl-C or
//! SIGTERM. It prints one line per run that ends.

use std::process::ExitCode;
use std::time::Duration;

use runtime::{Driven, Pass, WorkerOptions};

use crate::runner::{self, BotsArgs, DbArgs};

/// Drive runs as they become due until stopped.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub bots: BotsArgs,
    #[command(flatten)]
    pub db: DbArgs,
    /// The longest pause between looks for due runs, in milliseconds (a
    /// safety net: runs this worker drives wake it on time).
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub poll_ms: u64,
    /// The most runs driven at once.
    #[arg(long, default_value_t = 256, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub concurrency: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let deployment = runner::deployment_at(&args.bots.bots)?;
    runner::init_logging();
    runner::block_on(async move {
        let rt = runner::runtime(runner::open_store(&args.db).await?, deployment)?;
        let options = WorkerOptions {
            poll: Duration::from_millis(args.poll_ms),
            // Bounded by the parser above (at most 65,536), so it fits.
            concurrency: usize::try_from(args.concurrency).unwrap_or(256),
            ..WorkerOptions::default()
        };
        errln!("worker {} started", rt.node_id());
        let report = rt.work(options, stop_signal(), print_pass).await?;
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
