//! The `botflow` command-line tool.
//!
//! Each command lives in its own module under `commands/` with an `Args`
//! struct and a `run` function; this file only parses the command line and
//! turns the outcome into an exit code: 0 success, 1 failure (errors in the
//! scripts, or an operation that failed), 2 unusable arguments.

#[macro_use]
mod out;

mod commands;
mod config;
mod inputs;
mod progress;
mod remote;
mod report;
mod runner;
mod source;

use std::process::ExitCode;

/// mimalloc instead of the system allocator: a busy node allocates small
/// values from several threads at once (the runtime's workers and each
/// SQLite connection's thread), where glibc malloc spent a fifth of the CPU
/// of `botflow bench w1` at 256 concurrent runs. Its `override` feature
/// also gives it the C `malloc`/`free` of the process: SQLite allocates on
/// every statement (JSON documents, rows, cursors), and on the single
/// writer's thread that was glibc's `malloc` and `free`, about 8 % of its
/// instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// Durable multi-bot workflows for General Bots `.gbai` packages.
#[derive(Debug, Parser)]
#[command(name = "botflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(commands::check::Args),
    Fmt(commands::fmt::Args),
    Run(commands::run::Args),
    Runs(commands::runs::Args),
    Resume(commands::resume::Args),
    /// See human approval requests.
    Approvals(commands::approvals::ListArgs),
    /// Approve a human approval request, then continue its run.
    Approve(commands::approvals::DecideArgs),
    /// Deny a human approval request, then continue its run.
    Deny(commands::approvals::DecideArgs),
    /// Publish events and look at the event log.
    Events(commands::events::Args),
    /// Run a reference benchmark (`bench w1`: shared/bench/W1.md).
    Bench(commands::bench::Args),
    /// Drive runs as they become due (timers, decisions, events) until stopped.
    Worker(commands::worker::Args),
    /// List the recorded SET SCHEDULE headers and their next ticks.
    Schedules(commands::schedules::Args),
    /// Serve the HTTP API (and drive runs) until stopped.
    Serve(commands::serve::Args),
    /// Apply the database migrations and print the schema version.
    Migrate(commands::migrate::Args),
    /// Create, list and revoke the HTTP API's bearer tokens.
    Tokens(commands::tokens::Args),
}

/// Arguments that cannot be used (a missing path, a file of the wrong kind):
/// exit code 2, like clap's own usage errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Fmt(args) => commands::fmt::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Runs(args) => commands::runs::run(args),
        Command::Resume(args) => commands::resume::run(args),
        Command::Approvals(args) => commands::approvals::list(args),
        Command::Approve(args) => commands::approvals::decide(args, true),
        Command::Deny(args) => commands::approvals::decide(args, false),
        Command::Bench(args) => commands::bench::run(args),
        Command::Events(args) => commands::events::run(args),
        Command::Worker(args) => commands::worker::run(args),
        Command::Schedules(args) => commands::schedules::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Migrate(args) => commands::migrate::run(args),
        Command::Tokens(args) => commands::tokens::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            errln!("botflow: {error:#}");
            if error.is::<UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
