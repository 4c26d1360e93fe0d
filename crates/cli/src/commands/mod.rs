//! One module per `botflow` command. Each has an `Args` (clap derive) and a
//! `run(args) -> anyhow::Result<ExitCode>`.

pub mod approvals;
pub mod bench;
pub mod check;
pub mod events;
pub mod fmt;
pub mod migrate;
pub mod resume;
pub mod run;
pub mod runs;
pub mod schedules;
pub mod serve;
pub mod tokens;
pub mod worker;
