//! Slow clients over a real socket: a client that trickles its request
//! headers has its connection closed after the header timeout; one that
//! trickles its body gets a `408`; ordinary requests are unaffected; and a
//! shutdown lets a request in flight finish before the server returns.

mod wire;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use server::ServerOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wire::Served;

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support")
}

fn short_timeouts() -> ServerOptions {
    ServerOptions {
        header_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
        ..ServerOptions::default()
    }
}

/// Reads until the server closes the connection (or two minutes pass);
/// returns what it sent and whether it closed.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut got)).await;
    (got, matches!(read, Ok(Ok(_)) | Ok(Err(_))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let served = Served::start(dir.path(), &template(), short_timeouts(), None).await;
    let mut stream = TcpStream::connect(served.addr).await.expect("connects");
    let started = Instant::now();
    // Half a request line, then nothing: the slowloris pattern.
    stream.write_all(b"GET /healthz HT").await.expect("writes");
    let (got, closed) = read_until_closed(&mut stream).await;
    println!(
        "connection closed {:?} after the first byte (header timeout 300 ms); the server sent {:?}",
        started.elapsed(),
        String::from_utf8_lossy(&got)
    );
    assert!(
        closed,
        "the server keeps a trickling client's connection open"
    );
    assert!(
        !String::from_utf8_lossy(&got).contains(" 200 "),
        "the half request was answered as if it were whole"
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_body_gets_408_and_ordinary_requests_pass() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let served = Served::start(dir.path(), &template(), short_timeouts(), None).await;
    let (_, runs_before) = served.call("GET", "/v1/runs", None).await;

    let mut stream = TcpStream::connect(served.addr).await.expect("connects");
    let head = format!(
        "POST /v1/workflows/customer-support/runs HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"input\": ",
        served.admin
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    let (got, _) = read_until_closed(&mut stream).await;
    let (status, _, body) = wire::parse(&got);
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&body));
    let (_, runs_after) = served.call("GET", "/v1/runs", None).await;
    assert_eq!(
        runs_after, runs_before,
        "the abandoned start changed nothing"
    );

    // A whole request on time is answered as always.
    let (status, health) = served.call("GET", "/healthz", None).await;
    assert_eq!(status, 200, "{health:?}");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_in_flight_finish() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let served = Served::start(dir.path(), &template(), ServerOptions::default(), None).await;
    // A long poll for approvals that will never come: in flight at shutdown.
    let addr = served.addr;
    let request = format!(
        "GET /v1/approvals?wait=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Connection: close\r\n\r\n",
        served.admin
    );
    let poll = tokio::spawn(async move { wire::exchange(addr, request.as_bytes()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let report = served.stop().await;
    println!("stopped in {:?}: {report:?}", started.elapsed());
    let raw = poll.await.expect("the poll ends");
    let (status, _, body) = wire::parse(&raw);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(String::from_utf8_lossy(&body), "[]");
    // And nothing is listening any more.
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}
