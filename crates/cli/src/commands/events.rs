//! `botflow events publish|list`: publish an event from outside any run and
//! look at the durable event log (LANGUAGE.md §4.5).
//!
//! Publishing stores the event first, in the transaction that makes the runs
//! waiting for it due, then starts the runs of the deployment's `TRIGGER ON
//! EVENT` scripts (`--bots`). Waiting runs continue in a worker or with
//! `botflow resume`. A bad name, bad `--data` JSON or a payload over the size
//! limit is a usage error (exit 2) and nothing is written.

use std::process::ExitCode;

use store::{EventFilter, EventRecord, Store};

use crate::UsageError;
use crate::runner::{self, BotsArgs, DbArgs};

/// Publish events and look at the event log.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Publish an event: runs waiting for it become due, triggers start runs.
    Publish {
        /// The event name: letters, digits, `_`, `-` and `.`, up to 128 characters.
        name: String,
        /// The payload, as JSON, or `@FILE` to read it from a file.
        #[arg(long, value_name = "JSON|@FILE")]
        data: Option<String>,
        /// The correlation key (`WAIT FOR EVENT ... FOR key`).
        #[arg(long, value_name = "K")]
        key: Option<String>,
        /// Only this bot's runs and triggers receive it.
        #[arg(long, value_name = "BOT")]
        to: Option<String>,
        #[command(flatten)]
        bots: BotsArgs,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        remote: crate::remote::RemoteArgs,
    },
    /// List events, oldest first.
    List {
        /// Only events with this name.
        #[arg(long)]
        name: Option<String>,
        /// Only events this run published.
        #[arg(long, value_name = "ID")]
        run: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print one JSON array on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Publish {
            name,
            data,
            key,
            to,
            bots,
            db,
            remote,
        } => publish(name, data, key, to, &bots, &db, &remote),
        Command::List {
            name,
            run,
            limit,
            json,
            db,
        } => runner::block_on(list(name, run, limit, json, db)),
    }
}

fn publish(
    name: String,
    data: Option<String>,
    key: Option<String>,
    to: Option<String>,
    bots: &BotsArgs,
    db: &DbArgs,
    remote: &crate::remote::RemoteArgs,
) -> anyhow::Result<ExitCode> {
    runtime::check_event_name(&name).map_err(|e| UsageError(e.to_string()))?;
    let data = data
        .map(|given| {
            let text = match given.strip_prefix('@') {
                Some(path) => read_data_file(path)
                    .map_err(|e| UsageError(format!("--data {given}: cannot read {path}: {e}")))?,
                None => given,
            };
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                UsageError(format!(
                    "--data is not valid JSON: {e}; nothing was published"
                ))
            })
        })
        .transpose()?;
    if let Some(remote) = remote.client()? {
        return runner::block_on(remote.publish(&name, data, key, to));
    }
    let deployment = runner::deployment_at(&bots.bots)?;
    runner::block_on(async move {
        let rt = runner::runtime(runner::open_store(db).await?, deployment)?;
        let published = match rt.publish_event(&name, data, key, to).await {
            Ok(event) => event,
            Err(error @ (runtime::Error::BadEvent(_) | runtime::Error::TooLarge { .. })) => {
                rt.store().close().await;
                return Err(UsageError(error.to_string()).into());
            }
            Err(error) => return Err(error.into()),
        };
        outln!("{}", published.id)?;
        errln!("published event {} ({})", published.name, published.id);
        let started = rt.start_triggered().await?;
        if started > 0 {
            errln!("started {started} triggered run(s); a worker or `botflow resume` drives them");
        }
        rt.store().close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The most `--data @FILE` reads: room for pretty-printed JSON whose compact
/// form fits the store's limit, without reading a huge file whole.
const MAX_DATA_TEXT: u64 = 8 * store::MAX_VALUE_BYTES as u64;

fn read_data_file(path: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| crate::inputs::io_reason(&e))?;
    let mut text = String::new();
    file.take(MAX_DATA_TEXT + 1)
        .read_to_string(&mut text)
        .map_err(|e| crate::inputs::io_reason(&e))?;
    if text.len() as u64 > MAX_DATA_TEXT {
        return Err(format!("it is larger than {MAX_DATA_TEXT} bytes"));
    }
    Ok(text)
}

async fn list(
    name: Option<String>,
    run: Option<String>,
    limit: u32,
    json: bool,
    db: DbArgs,
) -> anyhow::Result<ExitCode> {
    let store = runner::open_store(&db).await?;
    let events = store
        .events(EventFilter {
            name,
            from_run: run,
            limit,
            ..EventFilter::default()
        })
        .await?;
    if json {
        let rows: Vec<serde_json::Value> = events.iter().map(to_json).collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
    } else if events.is_empty() {
        errln!("no events");
    } else {
        outln!(
            "{:>6} {:<28} {:<24} {:<24} AT",
            "SEQ",
            "NAME",
            "KEY",
            "FROM"
        )?;
        for e in &events {
            outln!(
                "{:>6} {:<28} {:<24} {:<24} {}",
                e.seq,
                e.name,
                e.key.as_deref().unwrap_or("-"),
                e.from_run
                    .as_deref()
                    .or(e.from_bot.as_deref())
                    .unwrap_or("-"),
                runner::time(e.at)
            )?;
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// One event as the JSON listing shows it.
fn to_json(e: &EventRecord) -> serde_json::Value {
    serde_json::json!({
        "seq": e.seq, "id": e.id, "name": e.name, "key": e.key, "to": e.target_bot,
        "data": e.payload, "from_bot": e.from_bot, "from_run": e.from_run, "at": e.at,
    })
}
