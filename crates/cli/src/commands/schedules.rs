//! `botflow schedules`: the `SET SCHEDULE` headers a worker recorded, with
//! the next tick each will start (UTC). Read-only: a worker records the
//! deployment's schedules when it starts (`botflow worker`).

use std::process::ExitCode;

use store::{NEVER, ScheduleRecord, Store};

use crate::runner::{self, DbArgs};

/// List the recorded schedules and their next ticks.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON array on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    runner::block_on(async move {
        let store = runner::open_store(&args.db).await?;
        let schedules = store.schedules().await?;
        store.close().await;
        if args.json {
            let rows: Vec<serde_json::Value> = schedules.iter().map(to_json).collect();
            outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        } else if schedules.is_empty() {
            errln!("no schedules (a worker records them when it starts: botflow worker)");
        } else {
            outln!("{:<40} {:<28} NEXT TICK (UTC)", "WORKFLOW", "SCHEDULE")?;
            for s in &schedules {
                outln!("{:<40} {:<28} {}", s.key, s.schedule, next_tick(s))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn next_tick(s: &ScheduleRecord) -> String {
    if s.next_tick == NEVER {
        "never".to_owned()
    } else {
        runner::time(s.next_tick)
    }
}

/// One schedule as the JSON listing shows it.
fn to_json(s: &ScheduleRecord) -> serde_json::Value {
    serde_json::json!({
        "workflow": s.key,
        "schedule": s.schedule,
        "program_hash": s.program_hash,
        "next_tick": (s.next_tick != NEVER).then_some(s.next_tick),
        "next_tick_at": (s.next_tick != NEVER).then(|| runner::time(s.next_tick)),
        "updated_at": s.updated_at,
    })
}
