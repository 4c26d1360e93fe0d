//! `botflow runs list|show|retry|cancel|send`: look at and act on recorded runs.

use std::process::ExitCode;

use runtime::RunView;
use store::{RunFilter, RunStatus, Store};

use crate::UsageError;
use crate::runner::{self, BotsArgs, DbArgs};

/// Look at and act on recorded runs.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List runs, newest first.
    List {
        /// Only runs with this status (running, waiting, completed, failed, rejected, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print one JSON array on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Show one run: its state, steps and journal timeline.
    Show {
        id: String,
        /// Print the run as one JSON object on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Continue a failed run from the step that failed.
    Retry {
        id: String,
        #[command(flatten)]
        bots: BotsArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Cancel a run that is running or waiting.
    Cancel {
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Send a message to a run, for its `HEAR`; the run becomes due if it waits.
    Send {
        id: String,
        /// The message.
        text: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    runner::block_on(async move {
        match args.command {
            Command::List {
                status,
                limit,
                json,
                db,
            } => list(status, limit, json, &db).await,
            Command::Show { id, json, db } => show(&id, json, &db).await,
            Command::Retry { id, bots, db } => {
                let deployment = runner::deployment_at(&bots.bots)?;
                let rt = runner::runtime(runner::open_store(&db).await?, deployment)?;
                let status = rt.retry(&id).await?;
                let view = rt.view(&id).await?;
                errln!("run {id} {status}");
                print_error(&view);
                rt.store().close().await;
                Ok(runner::exit_code(status))
            }
            Command::Cancel { id, db } => {
                let rt = runner::runtime(
                    runner::open_store(&db).await?,
                    runtime::empty_deployment(std::path::Path::new(".")),
                )?;
                rt.cancel(&id).await?;
                errln!("run {id} cancelled");
                rt.store().close().await;
                Ok(ExitCode::SUCCESS)
            }
            Command::Send { id, text, db } => {
                let rt = runner::runtime(
                    runner::open_store(&db).await?,
                    runtime::empty_deployment(std::path::Path::new(".")),
                )?;
                let sent = rt.send_message(&id, &text).await;
                rt.store().close().await;
                let message = sent?;
                outln!("{}", message.id)?;
                errln!(
                    "sent message {} to run {id}; a worker or `botflow resume` continues it",
                    message.seq
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn list(
    status: Option<String>,
    limit: u32,
    json: bool,
    db: &DbArgs,
) -> anyhow::Result<ExitCode> {
    let status = status
        .map(|s| {
            s.parse::<RunStatus>().map_err(|_| {
                UsageError(format!(
                    "unknown status {s:?}; use running, waiting, completed, failed, rejected or cancelled"
                ))
            })
        })
        .transpose()?;
    let store = runner::open_store(db).await?;
    let runs = store
        .list_runs(RunFilter {
            status,
            limit,
            ..RunFilter::default()
        })
        .await?;
    if json {
        let rows: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "workflow": r.workflow, "bot": r.bot, "status": r.status,
                    "wake_at": r.wake_at, "version": r.version,
                    "created_at": r.created_at, "updated_at": r.updated_at,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
    } else if runs.is_empty() {
        errln!("no runs");
    } else {
        outln!("{:<38} {:<24} {:<10} UPDATED", "ID", "WORKFLOW", "STATUS")?;
        for r in &runs {
            outln!(
                "{:<38} {:<24} {:<10} {}",
                r.id,
                r.workflow,
                r.status.as_str(),
                runner::time(r.updated_at)
            )?;
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn show(id: &str, json: bool, db: &DbArgs) -> anyhow::Result<ExitCode> {
    let rt = runner::runtime(
        runner::open_store(db).await?,
        runtime::empty_deployment(std::path::Path::new(".")),
    )?;
    let view = rt.view(id).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&view)?)?;
    } else {
        print_view(&view)?;
        if view.status == RunStatus::Waiting {
            crate::commands::run::waits::print_for_show(&view)?;
        }
    }
    rt.store().close().await;
    Ok(ExitCode::SUCCESS)
}

fn print_error(view: &RunView) {
    if let Some(error) = &view.error {
        errln!(
            "error: {}",
            error.get("message").and_then(|m| m.as_str()).unwrap_or("?")
        );
    }
}

fn print_view(view: &RunView) -> std::io::Result<()> {
    outln!("run       {}", view.id)?;
    outln!("workflow  {} (bot {})", view.workflow, view.bot)?;
    outln!("status    {}", view.status)?;
    outln!("program   {}", view.program_hash)?;
    outln!("created   {}", runner::time(view.created_at))?;
    outln!(
        "updated   {} ({} durable points)",
        runner::time(view.updated_at),
        view.version
    )?;
    if let Some(result) = &view.result {
        outln!("result    {result}")?;
    }
    if let Some(error) = &view.error {
        outln!("error     {error}")?;
    }
    outln!("\nsteps")?;
    for step in &view.steps {
        outln!(
            "  {:<10} {:<6} {:<20} {:<9} attempts {}",
            step.path,
            step.number,
            step.bot.as_deref().unwrap_or(&step.kind),
            step.status,
            step.attempts
        )?;
    }
    outln!("\ntimeline")?;
    for entry in &view.journal {
        outln!(
            "  {:>4} {} {:<16} {}",
            entry.seq,
            runner::time(entry.at),
            entry.kind,
            entry.data
        )?;
    }
    Ok(())
}
