//! Long polls: answer when something is true, or when the wait is over.
//!
//! Nothing is held between looks but the request itself: each look reads the
//! store. Looks happen when the runtime reports relevant progress (runs this
//! process drives), at a fallback interval (runs driven elsewhere), at the
//! deadline, and at shutdown.

use std::time::Duration;

use runtime::Progress;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::problem::ApiResult;

/// The wait a long poll honours: `wait` seconds, capped by the server's `max_wait`.
pub(crate) fn wait_of(state: &AppState, wait: Option<u64>) -> Duration {
    let max = state.options().max_wait;
    wait.map_or(Duration::ZERO, |s| Duration::from_secs(s).min(max))
}

/// Calls `look` until it reports done, `wait` has passed or the server
/// shuts down, and returns its last answer. `relevant` says which progress
/// events are worth a new look.
pub(crate) async fn until<T, F, Fut>(
    state: &AppState,
    wait: Duration,
    relevant: impl Fn(&Progress) -> bool,
    mut look: F,
) -> ApiResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ApiResult<(T, bool)>>,
{
    // Subscribed before the first look, so nothing between the two is missed.
    let mut events = state.runtime().subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    let interval = state.options().poll_interval;
    loop {
        let (answer, done) = look().await?;
        if done || tokio::time::Instant::now() >= deadline {
            return Ok(answer);
        }
        let next_look =
            tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + interval));
        tokio::pin!(next_look);
        loop {
            tokio::select! {
                () = &mut next_look => break,
                () = state.shutting_down() => return Ok(answer),
                event = events.recv() => match event {
                    Ok(event) if relevant(&event) => break,
                    Ok(_) => {}
                    // Missed events may have been relevant: look again.
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => {
                        (&mut next_look).await;
                        break;
                    }
                },
            }
        }
    }
}
