//! `botflow serve`: the HTTP API (see the `server` crate) and the worker
//! loop in one process, until Ctrl-C or SIGTERM.
//!
//! It prints `listening on http://ADDR` to stderr once the socket is bound
//! (with the real port when `--listen` asks for port 0), and on a first
//! start with no API token at all, one admin token, once.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use runtime::WorkerOptions;
use server::{AppState, ServerOptions};

use crate::commands::worker::stop_signal;
use crate::runner::{self, BotsArgs, DbArgs};

/// Serve the HTTP API and drive runs until stopped.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub bots: BotsArgs,
    #[command(flatten)]
    pub db: DbArgs,
    /// The longest pause between looks for due runs, in milliseconds.
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
    runner::block_on(async move {
        let rt = runner::runtime(runner::open_store(&args.db).await?, deployment)?;
        if let Some(token) = rt
            .ensure_admin_token()
            .await
            .context("cannot create the first admin token")?
        {
            errln!(
                "created the first API token (role admin); it is shown only this once:\n{token}"
            );
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let options = ServerOptions {
            worker: WorkerOptions {
                poll: Duration::from_millis(args.poll_ms),
                // Bounded by the parser above (at most 65,536), so it fits.
                concurrency: usize::try_from(args.concurrency).unwrap_or(256),
                ..WorkerOptions::default()
            },
            ..ServerOptions::default()
        };
        let state = AppState::new(rt.clone(), options);
        errln!("listening on http://{address}");
        let report = server::serve(listener, state, stop_signal()).await?;
        errln!(
            "server stopped: {} pass(es), {} run(s) ended, {} left waiting, {} error(s), {} aborted",
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
