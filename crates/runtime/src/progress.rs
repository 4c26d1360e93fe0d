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
/// instead of every listener of the progress broadcast. Also which runs are
/// being driven here, so that a long poll that starts meanwhile knows a look
/// at the store can wait for the signal.
#[derive(Debug, Default)]
pub(crate) struct RunWatchers {
    /// Runs watched right now; checked without the lock so that an unwatched
    /// runtime pays one atomic load per stopped run.
    watched: AtomicUsize,
    state: Mutex<Watched>,
}

#[derive(Debug, Default)]
struct Watched {
    signals: HashMap<String, Signal>,
    /// Runs a driver here is driving, with how many drivers.
    driving: HashMap<String, usize>,
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
        let mut state = self.lock();
        let driven_here = state.driving.contains_key(run);
        let signal = state.signals.entry(run.to_owned()).or_insert_with(|| {
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
            driven_here,
        }
    }

    /// Marks `run` as driven here until the returned guard drops, which
    /// wakes whoever watches it.
    pub(crate) fn driving(self: &Arc<Self>, run: &str) -> Driving {
        *self.lock().driving.entry(run.to_owned()).or_default() += 1;
        Driving {
            run: run.to_owned(),
            watchers: self.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Watched> {
        // The map is left consistent at every await-free step, so a panic
        // elsewhere while holding the lock cannot have torn it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A driver's mark on the run it drives ([`RunWatchers::driving`]).
#[derive(Debug)]
pub(crate) struct Driving {
    run: String,
    watchers: Arc<RunWatchers>,
}

impl Drop for Driving {
    fn drop(&mut self) {
        let mut state = self.watchers.lock();
        // Unmarked before the signal, under one lock: a watch that begins
        // after this sees the run not driven here and looks at once.
        if let Some(drivers) = state.driving.get_mut(&self.run) {
            *drivers -= 1;
            if *drivers == 0 {
                state.driving.remove(&self.run);
            }
        }
        if self.watchers.watched.load(Ordering::Relaxed) > 0
            && let Some(signal) = state.signals.get(&self.run)
        {
            signal.sender.send_modify(|stops| *stops += 1);
        }
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
    driven_here: bool,
}

impl RunWatch {
    /// Whether a driver here was driving the run when the watch began: then
    /// [`changed`](Self::changed) resolves when it stops, and until then a
    /// look at the store finds the run as that driver left it.
    pub fn driven_here(&self) -> bool {
        self.driven_here
    }

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
        let mut state = self.watchers.lock();
        if let Some(signal) = state.signals.get_mut(&self.run) {
            signal.holders -= 1;
            if signal.holders == 0 {
                state.signals.remove(&self.run);
                self.watchers.watched.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn hears_stop(watch: &mut RunWatch) -> bool {
        tokio::time::timeout(Duration::from_secs(5), watch.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_watch_knows_whether_a_driver_here_drives_the_run_and_hears_it_stop() {
        let watchers = Arc::new(RunWatchers::default());
        let mut before = watchers.watch("r1");
        assert!(!before.driven_here(), "nobody drives r1 yet");

        let driving = watchers.driving("r1");
        let mut during = watchers.watch("r1");
        assert!(during.driven_here());
        assert!(!watchers.watch("r2").driven_here(), "only r1 is driven");

        drop(driving);
        assert!(hears_stop(&mut during).await, "the driver's stop is told");
        assert!(hears_stop(&mut before).await, "to every watch of the run");
        assert!(!watchers.watch("r1").driven_here(), "after the stop");
    }

    #[tokio::test]
    async fn a_run_stays_driven_here_until_its_last_driver_stops() {
        let watchers = Arc::new(RunWatchers::default());
        let (first, second) = (watchers.driving("r1"), watchers.driving("r1"));
        drop(first);
        assert!(watchers.watch("r1").driven_here());
        drop(second);
        assert!(!watchers.watch("r1").driven_here());
        assert!(watchers.lock().driving.is_empty() && watchers.lock().signals.is_empty());
    }
}
