//! The built-in no-op bots of benchmark workload W1 (`shared/bench/W1.md` §3)
//! and their bot log.
//!
//! They exist so that W1 measures the engine and not the bots: each answers
//! at once with the exact JSON of W1 and appends one line
//! `<run id> <bot> <pid>\n` to the [`BotLog`], so a bot executed twice shows
//! up as two lines. They are reachable only when [`Options::builtin_bots`]
//! is set (the `botflow bench` command does), never through normal bot
//! resolution. `PUBLISH EVENT`s of a run appear in the same log as
//! `<run id> event:<name> <pid>` once the point carrying them committed.
//!
//! [`Options::builtin_bots`]: crate::Options::builtin_bots

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The names of the built-in W1 bots.
pub const BUILTIN_BOTS: [&str; 4] = [
    "classifier",
    "order-checker",
    "refund-processor",
    "inventory-updater",
];

/// An append-only log of bot executions and published events.
///
/// The file is opened with `O_APPEND` and every line is one `write()` call,
/// so lines from concurrent tasks and processes never interleave.
#[derive(Debug)]
pub struct BotLog {
    path: PathBuf,
    file: File,
    pid: u32,
}

impl BotLog {
    /// Opens (creating it if needed) the log at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<BotLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(BotLog {
            path: path.to_path_buf(),
            file,
            pid: std::process::id(),
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `<run> <what> <pid>\n` in one `write()`.
    pub fn append(&self, run: &str, what: &str) -> std::io::Result<()> {
        let line = format!("{run} {what} {}\n", self.pid);
        // `&File` implements `Write`; one `write` of a short line to an
        // `O_APPEND` file is one atomic append on local file systems.
        let written = (&self.file).write(line.as_bytes())?;
        if written != line.len() {
            return Err(std::io::Error::other(format!(
                "the bot log took {written} of {} bytes",
                line.len()
            )));
        }
        Ok(())
    }

    /// Records a published event of `run`.
    pub(crate) fn event(&self, run: &str, name: &str) {
        if let Err(error) = self.append(run, &format!("event:{name}")) {
            tracing::warn!(%error, run, "cannot write the bot log");
        }
    }
}

/// The answer of built-in bot `bot` for the step with idempotency key `key`
/// (`<run id>:<step path>`) and the step's input (the run's variables), after
/// logging the execution; `None` when `bot` is not a built-in bot.
pub(crate) fn answer(
    log: &BotLog,
    key: &str,
    bot: &str,
    input: &Value,
) -> Option<Result<Value, String>> {
    let run = key.rsplit_once(':').map_or(key, |(run, _)| run);
    let value = match bot {
        "classifier" => json!({"category": "refund", "confidence": 0.93}),
        "order-checker" => json!({
            "order_id": format!("o-{run}"),
            "order_amount": input.get("order_amount").cloned().unwrap_or(Value::Null),
        }),
        "refund-processor" => json!({"refund_id": format!("r-{run}"), "status": "refunded"}),
        "inventory-updater" => json!({"updated": true, "sku": "sku-1"}),
        _ => return None,
    };
    Some(
        log.append(run, bot)
            .map(|()| value)
            .map_err(|error| format!("cannot write the bot log {}: {error}", log.path.display())),
    )
}
