//! Hot reload of the bots folder: a changed script serves new runs while a
//! run already started keeps the program it was pinned to; a broken script
//! is refused (its error logged with file and line) and the previous version
//! stays; fixing it is picked up.

mod wire;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use server::ServerOptions;
use wire::Served;

/// The script of workflow `pinned` at one version: the first version waits
/// for the event `go` before it answers, so its run is in flight across the
/// reload; later versions answer at once.
fn flow(version: &str, waits: bool) -> String {
    let wait = if waits {
        "  WAIT FOR EVENT \"go\" TIMEOUT 600\n"
    } else {
        ""
    };
    format!("ORCHESTRATE WORKFLOW \"pinned\"\n{wait}  RETURN \"{version}\"\nEND WORKFLOW\n")
}

fn write_script(bots: &Path, source: &str) {
    let dialog = bots.join("flow.gbai").join("flow.gbdialog");
    std::fs::create_dir_all(&dialog).expect("a dialog folder");
    // Written whole and renamed, as editors do, so no look sees half a file.
    let temp = dialog.join("main.bas.tmp");
    std::fs::write(&temp, source).expect("writes the script");
    std::fs::rename(&temp, dialog.join("main.bas")).expect("renames the script");
}

/// A `tracing` writer that keeps everything logged in this test binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log buffer")
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the log buffer")).into_owned()
    }
}

/// Waits until `/metrics` has `line` (a reload was applied or refused).
async fn until_metric(served: &Served, line: &str) {
    for _ in 0..300 {
        if served.metrics().await.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/metrics never had {line:?}:\n{}", served.metrics().await);
}

async fn start(served: &Served, id: &str) -> Value {
    let (status, run) = served
        .call(
            "POST",
            "/v1/workflows/pinned/runs",
            Some(&json!({"id": id, "input": {}})),
        )
        .await;
    assert_eq!(status, 201, "{run:?}");
    run
}

async fn result(served: &Served, id: &str) -> Value {
    for _ in 0..10 {
        let (status, body) = served
            .call("GET", &format!("/v1/runs/{id}/result?wait=10"), None)
            .await;
        assert_eq!(status, 200, "{body:?}");
        if body["finished"] == json!(true) {
            return body["result"].clone();
        }
    }
    panic!("run {id} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_scripts_serve_new_runs_broken_ones_are_refused_and_runs_stay_pinned() {
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let log = log.clone();
            move || log.clone()
        })
        .with_ansi(false)
        .with_env_filter("server=info")
        .finish();
    // Global: the watcher logs from the server's tasks, on any thread.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = dir.path().join("bots");
    write_script(&bots, &flow("version one", true));
    let served = Served::start(
        dir.path(),
        &bots,
        ServerOptions::default(),
        Some(Duration::from_millis(100)),
    )
    .await;

    // A run of the first version, waiting in the store for its event.
    let old = start(&served, "old").await;
    let (_, waiting) = served.call("GET", "/v1/runs/old", None).await;
    assert_eq!(waiting["status"], json!("waiting"), "{waiting:?}");

    // The script changes: new runs take it once the reload is applied.
    write_script(&bots, &flow("v2", false));
    until_metric(&served, "botflow_reloads_total{outcome=\"applied\"} 1").await;
    let new = start(&served, "new").await;
    assert_eq!(result(&served, "new").await, json!("v2"));
    assert_ne!(old["program_hash"], new["program_hash"]);

    // The old run, resumed by the new generation's worker, keeps its program.
    let (status, event) = served
        .call("POST", "/v1/events", Some(&json!({"name": "go"})))
        .await;
    assert!(status == 200 || status == 201, "{event:?}");
    assert_eq!(result(&served, "old").await, json!("version one"));

    // A broken script is refused: the error is logged, the old version stays.
    write_script(
        &bots,
        "ORCHESTRATE WORKFLOW \"pinned\"\n  RETURN (\nEND WORKFLOW\n",
    );
    until_metric(&served, "botflow_reloads_total{outcome=\"refused\"} 1").await;
    assert!(served.metrics().await.contains("botflow_reload_refused 1"));
    let logged = log.text();
    println!("logged:\n{logged}");
    assert!(
        // The parser finds the unclosed `(` at the next line's token.
        logged.contains("ERROR") && logged.contains("main.bas") && logged.contains("line=3"),
        "the refusal names the file and line:\n{logged}"
    );
    assert!(logged.contains("previous version stays in use"), "{logged}");
    start(&served, "while-broken").await;
    assert_eq!(result(&served, "while-broken").await, json!("v2"));

    // Fixed: picked up.
    write_script(&bots, &flow("version four", false));
    until_metric(&served, "botflow_reloads_total{outcome=\"applied\"} 2").await;
    assert!(served.metrics().await.contains("botflow_reload_refused 0"));
    start(&served, "fixed").await;
    assert_eq!(result(&served, "fixed").await, json!("version four"));

    let report = served.stop().await;
    println!("worker report over every generation: {report:?}");
    assert_eq!(report.errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_and_removed_workflows_follow_the_folder() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = dir.path().join("bots");
    write_script(&bots, &flow("one", false));
    let served = Served::start(
        dir.path(),
        &bots,
        ServerOptions::default(),
        Some(Duration::from_millis(100)),
    )
    .await;
    let extra = bots
        .join("flow.gbai")
        .join("flow.gbdialog")
        .join("extra.bas");
    std::fs::write(
        &extra,
        "ORCHESTRATE WORKFLOW \"extra\"\n  RETURN \"added\"\nEND WORKFLOW\n",
    )
    .expect("writes");
    until_metric(&served, "botflow_reloads_total{outcome=\"applied\"} 1").await;
    let (status, run) = served
        .call(
            "POST",
            "/v1/workflows/extra/runs",
            Some(&json!({"id": "x"})),
        )
        .await;
    assert_eq!(status, 201, "{run:?}");
    assert_eq!(result(&served, "x").await, json!("added"));

    std::fs::remove_file(&extra).expect("removes");
    until_metric(&served, "botflow_reloads_total{outcome=\"applied\"} 2").await;
    let (status, body) = served
        .call(
            "POST",
            "/v1/workflows/extra/runs",
            Some(&json!({"id": "y"})),
        )
        .await;
    assert_eq!(status, 404, "a removed workflow is gone: {body:?}");
    served.stop().await;
}
