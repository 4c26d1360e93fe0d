//! `GET /v1/runs/{id}/stream`: a run's journal as Server-Sent Events. An
//! ended run streams every entry, then `end`, then closes; `Last-Event-ID`
//! (or `?after=`) resumes without repeats; a waiting run keeps the stream
//! open until a decision lets it finish; a client that goes away leaves
//! nothing behind; unknown runs and bad resume points are refused first.

mod common;

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::{Method, Request, StatusCode, header};
use common::{Harness, MANAGER};
use futures_util::StreamExt;
use serde_json::Value;
use server::routes::stream::open_streams;
use store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// One SSE event as a client sees it.
#[derive(Debug, Clone, PartialEq)]
struct Sse {
    id: Option<i64>,
    event: String,
    data: Value,
}

/// Reads SSE events from a response body, skipping keep-alive comments.
struct Reader {
    body: BodyDataStream,
    buffer: String,
}

impl Reader {
    /// The next event; `None` once the server closed the stream.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&frame) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(60), self.body.next())
                .await
                .expect("the stream sends something within 60 s");
            match chunk {
                Some(bytes) => self
                    .buffer
                    .push_str(std::str::from_utf8(&bytes.expect("a chunk")).expect("UTF-8")),
                None => {
                    assert!(
                        self.buffer.trim().is_empty(),
                        "the stream ended mid-event: {:?}",
                        self.buffer
                    );
                    return None;
                }
            }
        }
    }

    /// Every event until the server closes the stream.
    async fn all(&mut self) -> Vec<Sse> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }

    /// Events up to and including the first one named `name`.
    async fn until(&mut self, name: &str) -> Vec<Sse> {
        let mut events = Vec::new();
        loop {
            let event = self
                .next()
                .await
                .unwrap_or_else(|| panic!("the stream closed before `{name}`: {events:?}"));
            let found = event.event == name;
            events.push(event);
            if found {
                return events;
            }
        }
    }
}

/// One frame (`field: value` lines); `None` for a comment-only frame.
fn parse(frame: &str) -> Option<Sse> {
    let mut id = None;
    let mut event = None;
    let mut data = Vec::new();
    for line in frame.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(": ").unwrap_or((line, ""));
        match field {
            "id" => id = Some(value.parse().expect("a numeric id")),
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value.to_owned()),
            other => panic!("unexpected SSE field {other:?} in {frame:?}"),
        }
    }
    let event = event?;
    let data = serde_json::from_str(&data.join("\n")).expect("data is JSON");
    Some(Sse { id, event, data })
}

/// Opens the stream of `run` as `token`, with optional extra headers.
async fn open(h: &Harness, path: &str, token: &str, last_event_id: Option<&str>) -> Reader {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = h
        .app
        .clone()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("the router answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream",
        "{:?}",
        response.headers()
    );
    Reader {
        body: response.into_body().into_data_stream(),
        buffer: String::new(),
    }
}

/// The run's journal as `(seq, kind)`, read from the store.
async fn journal(h: &Harness, run: &str) -> Vec<(i64, String)> {
    h.state
        .runtime()
        .store()
        .journal(run)
        .await
        .expect("the journal reads")
        .into_iter()
        .map(|e| (e.seq, e.kind))
        .collect()
}

fn entries(events: &[Sse]) -> Vec<(i64, String)> {
    events
        .iter()
        .filter(|e| e.event != "end")
        .map(|e| (e.id.expect("every entry has an id"), e.event.clone()))
        .collect()
}

#[tokio::test]
async fn an_ended_run_streams_every_entry_then_end_and_closes() {
    let h = Harness::new().await;
    let run = h.start("sse-done", 50).await;
    assert_eq!(h.finished(&run).await["status"], "completed");

    let events = open(&h, &format!("/v1/runs/{run}/stream"), &h.viewer, None)
        .await
        .all()
        .await;
    let stored = journal(&h, &run).await;
    assert!(
        stored.len() >= 3,
        "a run journals several entries: {stored:?}"
    );
    assert_eq!(entries(&events), stored, "every entry, in order, once");
    assert_eq!(stored[0].1, "run_started");
    // Each entry carries the stored entry itself.
    let first = &events[0];
    assert_eq!(first.data["seq"], 1);
    assert_eq!(first.data["kind"], "run_started");
    assert!(first.data["at"].as_i64().is_some());
    let end = events.last().expect("events");
    assert_eq!(end.event, "end");
    assert_eq!(
        end.id, None,
        "`end` has no id: a reconnect resumes after the last entry"
    );
    assert_eq!(end.data["status"], "completed");
    assert_eq!(end.data["error"], Value::Null);
    assert_eq!(
        events.iter().filter(|e| e.event == "end").count(),
        1,
        "one `end`, last"
    );
    assert_eq!(
        open_streams(&run),
        0,
        "a closed stream leaves nothing behind"
    );
    h.stop().await;
}

#[tokio::test]
async fn last_event_id_resumes_after_that_seq_with_no_repeats() {
    let h = Harness::new().await;
    let run = h.start("sse-resume", 50).await;
    h.finished(&run).await;
    let stored = journal(&h, &run).await;
    let path = format!("/v1/runs/{run}/stream");

    let resumed = open(&h, &path, &h.operator, Some("2")).await.all().await;
    assert_eq!(entries(&resumed), stored[2..].to_vec());
    assert_eq!(resumed.last().map(|e| e.event.as_str()), Some("end"));

    // `?after=` does the same; the header wins over it, as a reconnecting
    // EventSource keeps its first URL and sends where it really stands.
    let after = open(&h, &format!("{path}?after=2"), &h.admin, None)
        .await
        .all()
        .await;
    assert_eq!(after, resumed);
    let both = open(&h, &format!("{path}?after=0"), &h.viewer, Some("2"))
        .await
        .all()
        .await;
    assert_eq!(both, resumed);

    // Past the last entry: only `end`.
    let last = stored.last().expect("entries").0.to_string();
    let tail = open(&h, &path, &h.viewer, Some(&last)).await.all().await;
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].event, "end");
    h.stop().await;
}

#[tokio::test]
async fn a_waiting_run_streams_up_to_waiting_then_the_rest_after_the_decision() {
    let h = Harness::new().await;
    let run = h.start("sse-wait", 150).await;
    let mut reader = open(&h, &format!("/v1/runs/{run}/stream"), &h.viewer, None).await;
    let before = reader.until("waiting").await;
    assert!(before.iter().all(|e| e.event != "end"));
    let status = h
        .state
        .runtime()
        .store()
        .run(&run)
        .await
        .expect("read")
        .expect("the run")
        .status;
    assert_eq!(
        status.as_str(),
        "waiting",
        "the stream stays open while the run waits"
    );
    assert_eq!(open_streams(&run), 1);

    let approval = h.pending_approval(&run).await;
    h.state
        .runtime()
        .decide(&approval, true, MANAGER, Some("fine".into()), "test")
        .await
        .expect("the manager approves");
    let after = reader.all().await;
    assert_eq!(after.last().map(|e| e.event.as_str()), Some("end"));
    assert_eq!(after.last().expect("end").data["status"], "completed");
    assert!(after.iter().any(|e| e.event == "run_completed"));

    let mut streamed = entries(&before);
    streamed.extend(entries(&after));
    assert_eq!(
        streamed,
        journal(&h, &run).await,
        "every entry once, in order"
    );
    assert_eq!(open_streams(&run), 0);
    h.stop().await;
}

#[tokio::test]
async fn a_client_that_drops_the_stream_leaves_nothing_behind() {
    let h = Harness::new().await;
    let run = h.start("sse-drop", 150).await;
    let mut reader = open(&h, &format!("/v1/runs/{run}/stream"), &h.viewer, None).await;
    reader.until("waiting").await;
    assert_eq!(open_streams(&run), 1);
    drop(reader);
    assert_eq!(open_streams(&run), 0, "dropping the body ends the stream");

    // The run is untouched and finishes as usual.
    let approval = h.pending_approval(&run).await;
    h.state
        .runtime()
        .decide(&approval, true, MANAGER, None, "test")
        .await
        .expect("the manager approves");
    assert_eq!(h.finished(&run).await["status"], "completed");
    h.stop().await;
}

#[tokio::test]
async fn a_client_that_disconnects_from_a_real_server_leaves_nothing_behind() {
    let h = Harness::new().await;
    let run = h.start("sse-tcp", 150).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    let app = h.app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut socket = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!(
        "GET /v1/runs/{run}/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Accept: text/event-stream\r\n\r\n",
        h.viewer
    );
    socket
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("event: waiting") {
        let n = tokio::time::timeout(Duration::from_secs(60), socket.read(&mut buf))
            .await
            .expect("the stream sends within 60 s")
            .expect("reads");
        assert!(n > 0, "the server closed the stream early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert_eq!(open_streams(&run), 1);
    drop(socket);

    // The server notices at its next write at the latest (the 15 s keep-alive).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while open_streams(&run) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream of a gone client was still open after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
    h.stop().await;
}

#[tokio::test]
async fn unknown_runs_bad_resume_points_and_roles_are_refused_before_streaming() {
    let h = Harness::new().await;
    let unknown = h
        .call(
            Method::GET,
            "/v1/runs/no-such-run/stream",
            Some(&h.viewer),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.problem(), "unknown-run");
    assert_eq!(unknown.content_type(), "application/problem+json");

    let run = h.start("sse-refused", 50).await;
    h.finished(&run).await;
    let path = format!("/v1/runs/{run}/stream");
    let bad_header = h
        .send(
            Request::builder()
                .uri(&path)
                .header(header::AUTHORIZATION, format!("Bearer {}", h.viewer))
                .header("Last-Event-ID", "seven")
                .body(Body::empty())
                .expect("a request"),
        )
        .await;
    assert_eq!(bad_header.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_header.problem(), "invalid-query");
    let bad_query = h
        .call(
            Method::GET,
            &format!("{path}?after=x"),
            Some(&h.viewer),
            None,
        )
        .await;
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);

    let anonymous = h.call(Method::GET, &path, None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    // Approvers see approvals, not runs (the role table of `auth.rs`).
    let approver = h.call(Method::GET, &path, Some(&h.manager), None).await;
    assert_eq!(approver.status, StatusCode::FORBIDDEN);
    assert_eq!(open_streams(&run), 0);
    h.stop().await;
}
