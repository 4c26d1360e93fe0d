//! `botflow resume`: drive every run that is runnable (left `running` by a
//! process that died, or `waiting` and due) until none is, then exit.
//!
//! Runs still leased by a process that may have died are waited for until
//! the lease lapses (`BOTFLOW_LEASE_MS`).

use std::process::ExitCode;

use crate::runner::{self, BotsArgs, DbArgs};

/// Continue every run that is due.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub bots: BotsArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let deployment = runner::deployment_at(&args.bots.bots)?;
    runner::block_on(async move {
        let rt = runner::runtime(runner::open_store(&args.db).await?, deployment)?;
        let report = rt.resume_all().await?;
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
