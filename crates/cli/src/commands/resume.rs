//! `botflow resume`: drive every run that is runnable (left `running` by a
//! process that died, or `waiting` and due) until none is, then exit.
//!
//! Runs still leased by a process that may have died are waited for until
//! the lease lapses (`BOTFLOW_LEASE_MS`). It then sleeps through the waiting
//! runs' own timers (a `RETRY` back-off the dead process left, a `DELAY`)
//! that fall due within `--wait-timers` seconds of its start and drives
//! those runs on; approvals, events and messages are not waited for.
//! (`botflow run --wait-timers` bounds each timer of its one run instead.)

use std::process::ExitCode;

use crate::runner::{self, BotsArgs, DbArgs};

/// Continue every run that is due.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub bots: BotsArgs,
    #[command(flatten)]
    pub db: DbArgs,

    /// Sleep through the timers of waiting runs (`DELAY`, `WAIT`, retry
    /// back-off) due within this many seconds of the start and drive those
    /// runs on; a later timer is left to `botflow worker`.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub wait_timers: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let deployment = runner::deployment_at(&args.bots.bots)?;
    runner::block_on(async move {
        let rt = runner::runtime(runner::open_store(&args.db).await?, deployment)?;
        let wait = std::time::Duration::from_secs(args.wait_timers);
        let report = rt.resume_all_with_timers(wait).await?;
        errln!(
            "resumed {} run(s): {} ended, {} waiting",
            report.driven,
            report.finished,
            report.waiting
        );
        rt.store().close().await;
        Ok(ExitCode::SUCCESS)
    })
}
