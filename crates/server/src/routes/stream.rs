//! `GET /v1/runs/{id}/stream`: a run's journal as Server-Sent Events, live.
//!
//! # The stream
//!
//! Each journal entry is one event: `id:` its `seq`, `event:` its kind
//! (`run_started`, `talk`, `print`, `step_started`, `waiting`,
//! `run_completed`, ...) and `data:` the entry as JSON
//! (`{"seq","at","kind","data"}`). The entries already committed come first
//! (after `Last-Event-ID`, or `?after=SEQ`), then the new ones as they are
//! committed. When the run has ended, a last event `end` carries its final
//! status (`{"status","result","error"}`, no `id:`, so a reconnect resumes
//! from the last entry) and the stream closes. A waiting run keeps the
//! stream open, with a keep-alive comment every 15 s.
//!
//! # No run state in memory
//!
//! The stream holds only the last `seq` it sent. Every look re-reads the
//! store: on the runtime's progress notifications for this run (runs this
//! process drives), at the server's poll interval (runs driven elsewhere),
//! never more often. A client that goes away drops the response body, which
//! drops the stream and its subscription; nothing else is left behind.
//! At shutdown the stream closes, so a graceful shutdown never waits for
//! followers (they reconnect with `Last-Event-ID`).

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use runtime::Progress;
use serde::Deserialize;
use serde_json::json;
use store::{JournalEntry, RunOutcome, Store};
use tokio::sync::broadcast::{self, error::RecvError};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Auth, Read};
use crate::problem::{ApiPath, ApiQuery, ApiResult, Kind, Problem};

/// The interval of the keep-alive comments of a quiet stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The name of the last event of a stream, sent once the run has ended.
pub const END_EVENT: &str = "end";

/// The name of the event sent when the store cannot be read mid-stream;
/// the stream closes after it (reconnect with `Last-Event-ID`).
pub const ERROR_EVENT: &str = "error";

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream_run))
}

/// Where `GET /v1/runs/{id}/stream` starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Send only the journal entries after this `seq` (the `Last-Event-ID`
    /// header, when sent, takes precedence: it is where a reconnecting
    /// client really stands).
    pub after: Option<i64>,
}

/// The run's journal as Server-Sent Events, live, until the run ends.
///
/// Events: one per journal entry (`id:` seq, `event:` kind, `data:`
/// `{"seq","at","kind","data"}`), then `end` with `{"status","result","error"}`
/// once the run has ended. Resume with `Last-Event-ID` (or `?after=SEQ`).
/// A waiting run keeps the stream open, with a keep-alive comment every 15 s.
/// Roles: admin, operator, viewer.
#[utoipa::path(get, path = "/v1/runs/{id}/stream", tag = "runs",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The run's id"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this journal seq"),
        StreamQuery,
    ),
    responses(
        (status = 200, description = "The journal as Server-Sent Events", content_type = "text/event-stream", body = String),
        (status = 400, description = "`after` or `Last-Event-ID` is not a journal seq", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read runs", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ))]
async fn stream_run(
    _auth: Auth<Read>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let after = match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| {
                Problem::new(
                    Kind::InvalidQuery,
                    "the Last-Event-ID header is not a journal seq (an integer this stream sent as `id:`)",
                )
            })?,
        None => query.after.unwrap_or(0),
    };
    // Subscribed before the first look, so nothing committed in between is missed.
    let progress = state.runtime().subscribe();
    // The 404 comes before the stream starts; the first look reads the run again.
    if state.runtime().store().run_outcome(&id).await?.is_none() {
        return Err(Problem::from(runtime::Error::UnknownRun(id)));
    }
    let follow = Follow {
        _open: OpenGuard::new(&id),
        state,
        run: id,
        after,
        progress,
        queue: VecDeque::new(),
        looked: false,
        done: false,
    };
    Ok(Sse::new(futures_util::stream::unfold(follow, Follow::next))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// One client following one run: what the stream carries between events.
struct Follow {
    state: AppState,
    run: String,
    /// The last journal seq sent (or skipped by the client's resume point).
    after: i64,
    progress: broadcast::Receiver<Progress>,
    /// Events read from the store and not sent yet.
    queue: VecDeque<Event>,
    /// Whether the store was read at least once.
    looked: bool,
    /// Whether the last event is queued: nothing more is read.
    done: bool,
    /// Held for the count of open streams; dropped with the stream.
    _open: OpenGuard,
}

impl Follow {
    /// The next event, or `None` when the stream is over.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Follow)> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            if self.looked && !self.wait().await {
                return None;
            }
            self.looked = true;
            self.look().await;
        }
    }

    /// Waits until the store is worth reading again; `false` at shutdown.
    async fn wait(&mut self) -> bool {
        let next_look = tokio::time::sleep(self.state.options().poll_interval);
        tokio::pin!(next_look);
        loop {
            tokio::select! {
                () = &mut next_look => return true,
                () = self.state.shutting_down() => return false,
                event = self.progress.recv() => match event {
                    Ok(event) if event.run() == self.run => return true,
                    Ok(_) => {}
                    // Missed notifications may have been about this run.
                    Err(RecvError::Lagged(_)) => return true,
                    Err(RecvError::Closed) => {
                        (&mut next_look).await;
                        return true;
                    }
                },
            }
        }
    }

    /// Reads the run and its new journal entries into the queue.
    async fn look(&mut self) {
        let store = self.state.runtime().store();
        // The run is read before its journal: if it had ended then, the
        // journal read after it holds every entry, the last one included.
        let read = async {
            let record = store.run_outcome(&self.run).await?;
            let journal = store.journal(&self.run).await?;
            Ok::<_, store::Error>((record, journal))
        };
        match read.await {
            Ok((Some(record), journal)) => {
                let sent = self.after;
                for entry in journal.into_iter().filter(|e| e.seq > sent) {
                    self.after = entry.seq;
                    self.queue.push_back(entry_event(&entry));
                }
                if record.status.is_terminal() {
                    self.queue.push_back(end_event(&record));
                    self.done = true;
                }
            }
            // A run is never deleted while it exists; answer like the 404 would.
            Ok((None, _)) => {
                self.queue
                    .push_back(error_event(&Problem::from(runtime::Error::UnknownRun(
                        self.run.clone(),
                    ))));
                self.done = true;
            }
            Err(error) => {
                tracing::warn!(run = %self.run, %error, "a run's stream could not read the store");
                self.queue.push_back(error_event(&Problem::from(error)));
                self.done = true;
            }
        }
    }
}

/// The event of one journal entry.
fn entry_event(entry: &JournalEntry) -> Event {
    let data = json!({
        "seq": entry.seq,
        "at": entry.at,
        "kind": entry.kind,
        "data": entry.data,
    });
    Event::default()
        .id(entry.seq.to_string())
        .event(event_name(&entry.kind))
        // Compact JSON has no raw line breaks; `data` would split them anyway.
        .data(data.to_string())
}

/// The last event of the stream of an ended run.
fn end_event(record: &RunOutcome) -> Event {
    let data = json!({
        "status": record.status.as_str(),
        "result": record.result,
        "error": record.error,
    });
    Event::default().event(END_EVENT).data(data.to_string())
}

/// The event that closes a stream the store could not serve.
fn error_event(problem: &Problem) -> Event {
    Event::default()
        .event(ERROR_EVENT)
        .data(serde_json::to_string(problem).unwrap_or_else(|_| "{}".to_owned()))
}

/// A journal kind as an SSE event name. Kinds are the runtime's own
/// identifiers; anything outside `[A-Za-z0-9_.-]` becomes `_`, because a
/// line break in a field would make axum panic and would break the framing.
fn event_name(kind: &str) -> String {
    let name: String = kind
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "entry".to_owned()
    } else {
        name
    }
}

/// How many streams are open, per run: what a disconnecting client leaves
/// behind is visible (it must be nothing).
static OPEN: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// How many streams of `run` are open right now in this process.
pub fn open_streams(run: &str) -> usize {
    OPEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(run)
        .copied()
        .unwrap_or(0)
}

/// Counts one open stream for as long as it lives.
struct OpenGuard {
    run: String,
}

impl OpenGuard {
    fn new(run: &str) -> OpenGuard {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        *open.entry(run.to_owned()).or_insert(0) += 1;
        OpenGuard {
            run: run.to_owned(),
        }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.run) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_never_carry_line_breaks() {
        assert_eq!(event_name("run_started"), "run_started");
        assert_eq!(event_name("a\nb\rc d"), "a_b_c_d");
        assert_eq!(event_name(""), "entry");
    }
}
