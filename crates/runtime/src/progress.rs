//! Progress of runs as they are driven, for live displays (`botflow run`).
//!
//! Every event is sent after the durable point that recorded it committed,
//! so a display never shows something a crash could take back.

use serde::Serialize;

/// One thing that happened in a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Progress {
    /// A step began; `bot` is the bot it asks, when it asks one.
    StepStarted {
        run: String,
        path: String,
        number: String,
        kind: String,
        bot: Option<String>,
    },
    /// A step ended after `duration_ms` (as this process saw it).
    StepFinished {
        run: String,
        path: String,
        number: String,
        bot: Option<String>,
        attempts: u32,
        duration_ms: Option<u64>,
        error: Option<String>,
    },
    /// A `TALK` of the workflow or of a bot it asked.
    Talk {
        run: String,
        bot: String,
        text: String,
    },
    /// A `PRINT`.
    Print {
        run: String,
        bot: String,
        text: String,
    },
    /// A `HUMAN APPROVAL` request was created (or escalated) and the
    /// approvers notified; the run waits for `approvers` to decide until `due_at`.
    ApprovalRequested {
        run: String,
        approval: String,
        approvers: Vec<String>,
        message: Option<String>,
        due_at: Option<i64>,
        /// Who started the run: never allowed to approve it.
        started_by: Option<String>,
    },
    /// The run stopped being driven here: finished, waiting, or taken over.
    RunStopped { run: String, status: String },
}

impl Progress {
    /// The run the event belongs to.
    pub fn run(&self) -> &str {
        match self {
            Progress::StepStarted { run, .. }
            | Progress::StepFinished { run, .. }
            | Progress::Talk { run, .. }
            | Progress::Print { run, .. }
            | Progress::ApprovalRequested { run, .. }
            | Progress::RunStopped { run, .. } => run,
        }
    }
}
