//! Helpers for tests that drive a real `botflow serve` process: a copy of
//! the customer-support template, starting the server on a loopback port
//! (a free one, or the same one again after a SIGKILL), reading the address
//! it prints, stopping it with SIGTERM or SIGKILL, API tokens made with
//! `botflow tokens create`, and a local webhook sink standing in for the
//! approvers' endpoint.
//!
//! Used as `mod common;` then `common::serve::...`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::common::{botflow, text};

/// The customer-support template of the repository.
pub fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support")
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("a readable folder") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copy");
        }
    }
}

/// A copy of the customer-support template in `dir/bots`, which a test may
/// change without touching the repository.
pub fn customer_support(dir: &Path) -> PathBuf {
    let bots = dir.join("bots");
    copy_dir(&template(), &bots);
    bots
}

/// A running `botflow serve`, SIGKILLed and reaped when dropped, so a
/// failing test never leaves one behind.
pub struct Server {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Server {
    /// `botflow serve` on a free loopback port (`--listen 127.0.0.1:0`).
    pub fn start(db: &Path, bots: &Path) -> Server {
        Server::start_on(db, bots, "127.0.0.1:0")
    }

    /// `botflow serve --listen ADDR`, once it has printed
    /// `listening on http://ADDR`. Panics with what the server printed
    /// when it exits first or prints nothing for a minute.
    pub fn start_on(db: &Path, bots: &Path, listen: &str) -> Server {
        Server::try_start_on(db, bots, listen).unwrap_or_else(|stderr| {
            panic!("botflow serve --listen {listen} did not start:\n{stderr}")
        })
    }

    /// Like [`Server::start_on`]; a server that exits before it listens
    /// (say, the port is taken) is an `Err` with what it printed.
    pub fn try_start_on(db: &Path, bots: &Path, listen: &str) -> Result<Server, String> {
        Server::try_start_with(db, bots, listen, &[])
    }

    /// Like [`Server::try_start_on`], with more environment variables for
    /// the server (say, `BOTFLOW_LEASE_MS`, which [`botflow`] sets to 200).
    pub fn try_start_with(
        db: &Path,
        bots: &Path,
        listen: &str,
        envs: &[(&str, &str)],
    ) -> Result<Server, String> {
        let mut command = botflow();
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command
            .args(["serve", "--listen", listen, "--poll-ms", "200"])
            .arg("--db")
            .arg(db)
            .arg("--bots")
            .arg(bots)
            // Nothing from the caller's environment reaches the server.
            .env_remove("BOTFLOW_CONFIG")
            .env_remove("BOTFLOW_REDIS")
            .env_remove("BOTFLOW_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("botflow serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("a stderr pipe");
        let collected = stderr.clone();
        // Read stderr to the end, so the server never blocks on a full pipe;
        // the sender is dropped when the server exits.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
                if let Ok(mut text) = collected.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            stderr,
            reader: Some(reader),
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => {
                server.url = url;
                Ok(server)
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = server.child.wait();
                Err(server.finish_reading())
            }
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "no `listening on` line within 60 s:\n{}",
                server.stderr()
            )),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on, `127.0.0.1:PORT`, to start another
    /// server on the same port.
    pub fn address(&self) -> &str {
        self.url.strip_prefix("http://").unwrap_or(&self.url)
    }

    /// Everything the server printed to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap. False when the server had already exited,
    /// which it never does on its own: the caller fails the test.
    pub fn kill(mut self) -> bool {
        let running = matches!(self.child.try_wait(), Ok(None));
        // `Child::kill` is SIGKILL on Unix.
        let _ = self.child.kill();
        let _ = self.child.wait();
        running
    }

    /// SIGTERM, then waits up to `deadline` for the server to exit; returns
    /// its exit status and everything it printed. Panics when it is still
    /// running at the deadline.
    pub fn terminate(mut self, deadline: Duration) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM could not be sent to {pid}");
        let clock = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("an exit status") {
                break status;
            }
            assert!(
                clock.elapsed() < deadline,
                "the server did not stop within {deadline:?} of SIGTERM:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.finish_reading())
    }

    /// Once the process has exited: waits for the reader to reach the end
    /// of stderr, so the last lines are there, and returns all of it.
    fn finish_reading(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.stderr()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `botflow tokens create --role ROLE --name NAME --db DB`: the new
/// token's secret (created before or while a server runs on `db`).
pub fn token(db: &Path, role: &str, name: &str) -> String {
    let out = botflow()
        .args(["tokens", "create", "--role", role, "--name", name])
        .arg("--db")
        .arg(db)
        .output()
        .expect("botflow tokens runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// A response's status and its JSON body (`null` when it has none).
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A local HTTP listener standing in for the approvers' webhook: answers
/// every request 200 and hands over each JSON body. Runs on the calling
/// tokio runtime; returns the URL to configure.
pub async fn webhook_sink() -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let body = loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        break data[end + 4..end + 4 + length].to_vec();
                    }
                };
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                if let Ok(value) = serde_json::from_slice(&body) {
                    let _ = tx.send(value);
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}/hook"), rx)
}
