//! A real server on a loopback port (`server::serve_with`), and a tiny
//! HTTP/1.1 client over a `TcpStream` that speaks to it byte by byte, for the
//! tests that need the socket: reloads (the router is swapped behind the
//! listener), slow clients, graceful shutdown.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use runtime::{ApiRole, Options, Runtime, WorkerOptions, WorkerReport};
use serde_json::Value;
use server::{AppState, Reload, ServerOptions};
use store::AnyStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// A running server: its address, an admin token, and the way to stop it.
pub struct Served {
    pub addr: SocketAddr,
    pub admin: String,
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<WorkerReport, server::Error>>,
}

impl Served {
    /// Serves the deployment in `bots` over a SQLite file in `dir`; with
    /// `reload_every` the bots folder is watched that often.
    pub async fn start(
        dir: &Path,
        bots: &Path,
        options: ServerOptions,
        reload_every: Option<Duration>,
    ) -> Served {
        let db = dir.join("botflow.db");
        let store = AnyStore::open(db.to_str().expect("a UTF-8 path"))
            .await
            .expect("the store opens");
        let deployment = bots::load_deployment(bots).expect("the deployment loads");
        let rt = Runtime::new(store.clone(), deployment, Options::default());
        let node = rt.node_id().to_owned();
        let admin = rt
            .create_api_token(ApiRole::Admin, "admin")
            .await
            .expect("a token")
            .1;
        let reload = reload_every.map(|interval| Reload {
            folder: bots.to_path_buf(),
            interval,
            make_runtime: std::sync::Arc::new(move |deployment| {
                let options = Options {
                    node_id: Some(node.clone()),
                    ..Options::default()
                };
                Runtime::new(store.clone(), deployment, options)
            }),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("an address");
        let state = AppState::new(
            rt,
            ServerOptions {
                poll_interval: Duration::from_millis(100),
                worker: WorkerOptions {
                    poll: Duration::from_millis(100),
                    ..WorkerOptions::default()
                },
                ..options
            },
        );
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve_with(
            listener,
            state.clone(),
            reload,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
        Served {
            addr,
            admin,
            state,
            stop,
            task,
        }
    }

    /// One request as the admin; `body` is sent as JSON.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            self.admin,
            body.len()
        );
        let raw = exchange(self.addr, request.as_bytes()).await;
        let (status, _, body) = parse(&raw);
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        (status, json)
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        match self.call("GET", "/metrics", None).await {
            (200, Value::String(text)) => text,
            other => panic!("/metrics answered {other:?}"),
        }
    }

    /// Stops the server and waits for it to return.
    pub async fn stop(self) -> WorkerReport {
        self.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the server stops within a minute")
            .expect("the server task ends")
            .expect("the server stops cleanly")
    }
}

/// Writes `request` on a new connection and reads until the server closes it.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(request).await.expect("writes");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes within two minutes")
        .expect("reads");
    raw
}

/// Status, head and body (de-chunked) of a raw HTTP/1.1 response.
pub fn parse(raw: &[u8]) -> (u16, String, Vec<u8>) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}
