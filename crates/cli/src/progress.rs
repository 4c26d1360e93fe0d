//! Live progress of a run on stderr: on a terminal, a spinner per step
//! (indicatif) that turns into a line with the bot and the duration; else
//! plain lines. The final run is summarised when it stops.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use runtime::{Progress, RunView};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

/// The display task of one run.
pub struct Display {
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
    bars: MultiProgress,
}

impl Display {
    /// Starts showing the progress of run `id`.
    pub fn start(
        rx: broadcast::Receiver<Progress>,
        id: &str,
        workflow: &str,
        created: bool,
        tty: bool,
    ) -> Display {
        let bars = MultiProgress::new();
        if !tty {
            bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let verb = if created { "started" } else { "continued" };
        line(
            &bars,
            tty,
            format!("run {id} of workflow \"{workflow}\" {verb}"),
        );
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(show(rx, id.to_owned(), bars.clone(), tty, stopped));
        Display { task, stop, bars }
    }

    /// The progress bars, to hide while the operator is asked something
    /// (`MultiProgress::suspend`): a ticking spinner would draw over the question.
    pub fn bars(&self) -> MultiProgress {
        self.bars.clone()
    }

    /// Shows what is left and the run's final state.
    pub async fn finish(self, view: &RunView) -> std::io::Result<()> {
        let _ = self.stop.send(());
        let _ = self.task.await;
        let tty = !self.bars.is_hidden();
        let status = view.status.to_string();
        // A waiting run is described once, by `run/waits.rs`: what it waits
        // for, until when, and the exact commands that continue it.
        if view.status != store::RunStatus::Waiting {
            let mut summary = format!("run {} {status}", view.id);
            if let Some(error) = &view.error {
                let message = error
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("(no message)");
                summary.push_str(&format!(": {message}"));
            }
            line(&self.bars, tty, summary);
        }
        if let Some(result) = &view.result {
            outln!(
                "{}",
                serde_json::to_string_pretty(result).unwrap_or_else(|_| result.to_string())
            )?;
        }
        Ok(())
    }
}

fn line(bars: &MultiProgress, tty: bool, text: String) {
    if tty {
        let _ = bars.println(text);
    } else {
        errln!("{text}");
    }
}

async fn show(
    mut rx: broadcast::Receiver<Progress>,
    id: String,
    bars: MultiProgress,
    tty: bool,
    mut stopped: oneshot::Receiver<()>,
) {
    let style = ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut open: HashMap<String, ProgressBar> = HashMap::new();
    let mut stopping = false;
    loop {
        let event = if stopping {
            match rx.try_recv() {
                Ok(event) => event,
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = &mut stopped => {
                    stopping = true;
                    continue;
                }
            }
        };
        if event.run() != id {
            continue;
        }
        match event {
            Progress::StepStarted {
                path,
                number,
                bot,
                kind,
                ..
            } => {
                let who = bot.map_or_else(|| kind.clone(), |b| format!("{kind} {b}"));
                let text = format!("step {} {who}", label(&number, &path));
                if tty {
                    let bar = bars.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_message(text);
                    bar.enable_steady_tick(Duration::from_millis(100));
                    open.insert(path, bar);
                } else {
                    errln!("  started  {text}");
                }
            }
            Progress::StepFinished {
                path,
                number,
                bot,
                attempts,
                duration_ms,
                error,
                ..
            } => {
                let mark = if error.is_some() { "✗" } else { "✓" };
                let mut text = format!("{mark} step {}", label(&number, &path));
                if let Some(bot) = bot {
                    text.push_str(&format!(" {bot}"));
                }
                if let Some(ms) = duration_ms {
                    text.push_str(&format!(" {ms} ms"));
                }
                if attempts > 1 {
                    text.push_str(&format!(" after {attempts} attempts"));
                }
                if let Some(error) = error {
                    text.push_str(&format!(": {error}"));
                }
                match open.remove(&path) {
                    Some(bar) => {
                        bar.finish_and_clear();
                        bars.remove(&bar);
                        let _ = bars.println(format!("  {text}"));
                    }
                    None => line(&bars, tty, format!("  {text}")),
                }
            }
            Progress::Talk { bot, text, .. } => line(&bars, tty, format!("  {bot}: {text}")),
            Progress::Print { bot, text, .. } => line(&bars, tty, format!("  [{bot}] {text}")),
            Progress::ApprovalRequested {
                approvers,
                message,
                due_at,
                ..
            } => {
                let mut text = format!("⏸ waiting for approval from {}", approvers.join(", "));
                if let Some(message) = message {
                    text.push_str(&format!(": {message}"));
                }
                if let Some(due) = due_at {
                    text.push_str(&format!(" (until {})", crate::runner::time(due)));
                }
                line(&bars, tty, format!("  {text}"));
            }
            Progress::RunStopped { .. } => {}
        }
    }
    for (_, bar) in open {
        bar.finish_and_clear();
    }
}

/// `3`, or `3 (3#2)` when the path says more than the number.
fn label(number: &str, path: &str) -> String {
    if number == path {
        number.to_owned()
    } else {
        format!("{number} ({path})")
    }
}
