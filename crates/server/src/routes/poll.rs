//! Long polls: answer when something is true, or when the wait is over.
//!
//! Nothing is held between looks but the request itself: each look reads the
//! store. Looks happen when the runtime reports relevant progress (runs this
//! process drives), at a fallback interval (runs driven elsewhere), at the
//! deadline, and at shutdown.

use std::time::Duration;

use runtime::Progress;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::problem::ApiResult;

/// The wait a long poll honours: `wait` seconds, capped by the server's `max_wait`.
pub(crate) fn wait_of(state: &AppState, wait: Option<u64>) -> Duration {
    let max = state.options().max_wait;
    wait.map_or(Duration::ZERO, |s| Duration::from_secs(s).min(max))
}

/// What makes a long poll look again before its fallback interval.
pub(crate) enum Cue<R> {
    /// The given run stopped being driven here (a per-run signal: other
    /// runs' progress wakes nobody).
    RunStopped(String),
    /// A progress event of any run for which the filter says yes.
    Progress(R),
}

/// A subscribed [`Cue`].
enum Listener<R> {
    Run(runtime::RunWatch),
    Progress(broadcast::Receiver<Progress>, R),
}

impl<R: Fn(&Progress) -> bool> Listener<R> {
    /// Waits for the next cue; `false` when no more will come.
    async fn next(&mut self) -> bool {
        match self {
            Listener::Run(watch) => {
                watch.changed().await;
                true
            }
            Listener::Progress(events, relevant) => loop {
                match events.recv().await {
                    Ok(event) if relevant(&event) => return true,
                    Ok(_) => {}
                    // Missed events may have been relevant: look again.
                    Err(RecvError::Lagged(_)) => return true,
                    Err(RecvError::Closed) => return false,
                }
            },
        }
    }
}

/// Calls `look` until it reports done, `wait` has passed or the server
/// shuts down, and returns its last answer. `cue` says what is worth a new
/// look before the fallback interval.
pub(crate) async fn until<T, R, F, Fut>(
    state: &AppState,
    wait: Duration,
    cue: Cue<R>,
    mut look: F,
) -> ApiResult<T>
where
    R: Fn(&Progress) -> bool,
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<(T, bool)>>,
{
    // Subscribed before the first look, so nothing between the two is missed.
    let mut listener = match cue {
        Cue::RunStopped(run) => Listener::Run(state.runtime().watch_run(&run)),
        Cue::Progress(relevant) => Listener::Progress(state.runtime().subscribe(), relevant),
    };
    let deadline = tokio::time::Instant::now() + wait;
    let interval = state.options().poll_interval;
    let mut live = true;
    // While a driver here drives the run, a look finds it as that driver left
    // it, which the watch reports when the driver stops: the first look waits
    // for that (or the fallback interval). Half the reads of a start-then-
    // await client.
    let mut look_now =
        wait.is_zero() || !matches!(&listener, Listener::Run(watch) if watch.driven_here());
    let mut last = None;
    loop {
        if look_now {
            let (answer, done) = look().await?;
            if done || tokio::time::Instant::now() >= deadline {
                return Ok(answer);
            }
            last = Some(answer);
        }
        look_now = true;
        let next_look =
            tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + interval));
        tokio::pin!(next_look);
        tokio::select! {
            () = &mut next_look => {}
            () = state.shutting_down() => {
                return match last {
                    Some(answer) => Ok(answer),
                    None => Ok(look().await?.0),
                };
            }
            more = listener.next(), if live => {
                if !more {
                    // Nothing more will come: the fallback interval serves.
                    live = false;
                    (&mut next_look).await;
                }
            }
        }
    }
}
