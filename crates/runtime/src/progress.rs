//! Progress of runs as they are driven, for live displays (`botflow run`).
//!
//! Every event is sent after the durable point that recorded it committed,
//! so a display never shows something a crash could take back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::watch;

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

/// Who waits for which run to stop being driven here: one signal per watched
/// run, so a run's end wakes only the long polls waiting for that run
/// instead of every listener of the progress broadcast.
#[derive(Debug, Default)]
pub(crate) struct RunWatchers {
    /// Runs watched right now; checked without the lock so that an unwatched
    /// runtime pays one atomic load per stopped run.
    watched: AtomicUsize,
    signals: Mutex<HashMap<String, Signal>>,
}

/// One watched run's signal and how many [`RunWatch`]es hold it.
#[derive(Debug)]
struct Signal {
    holders: usize,
    sender: watch::Sender<u64>,
}

impl RunWatchers {
    /// Starts watching `run`.
    pub(crate) fn watch(self: &Arc<Self>, run: &str) -> RunWatch {
        let mut signals = self.lock();
        let signal = signals.entry(run.to_owned()).or_insert_with(|| {
            self.watched.fetch_add(1, Ordering::Relaxed);
            Signal {
                holders: 0,
                sender: watch::Sender::new(0),
            }
        });
        signal.holders += 1;
        RunWatch {
            receiver: signal.sender.subscribe(),
            run: run.to_owned(),
            watchers: self.clone(),
        }
    }

    /// Wakes whoever watches `run`.
    pub(crate) fn stopped(&self, run: &str) {
        if self.watched.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(signal) = self.lock().get(run) {
            signal.sender.send_modify(|stops| *stops += 1);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Signal>> {
        // The map is left consistent at every await-free step, so a panic
        // elsewhere while holding the lock cannot have torn it.
        self.signals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A long poll's interest in one run: [`changed`](RunWatch::changed)
/// resolves each time the run stops being driven by this runtime (finished,
/// waiting, or taken over). Dropping it stops the watch.
#[derive(Debug)]
pub struct RunWatch {
    receiver: watch::Receiver<u64>,
    run: String,
    watchers: Arc<RunWatchers>,
}

impl RunWatch {
    /// Resolves when the run stopped since the last call (or since the watch
    /// began).
    pub async fn changed(&mut self) {
        if self.receiver.changed().await.is_err() {
            // Unreachable: the sender stays in the map while this watch
            // holds it, so the channel cannot close. Never resolve rather
            // than report a stop that did not happen.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for RunWatch {
    fn drop(&mut self) {
        let mut signals = self.watchers.lock();
        if let Some(signal) = signals.get_mut(&self.run) {
            signal.holders -= 1;
            if signal.holders == 0 {
                signals.remove(&self.run);
                self.watchers.watched.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}
