//! `botflow worker`, `botflow run --wait-timers` and `botflow resume
//! --wait-timers` as a user runs them: a run left waiting on a timer exits 3
//! and says when it is due; a worker killed with SIGKILL before the timer
//! fires loses nothing, and the next worker fires it; SIGTERM stops a worker
//! with exit code 0; `resume` sleeps through a timer due within its bound.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{botflow, show, text};

const NAP: &str = "ORCHESTRATE WORKFLOW \"nap\"\n  DELAY 1\n  RETURN \"rested\"\nEND WORKFLOW\n";

/// A bots folder with one package whose workflow naps for a second.
fn bots(dir: &Path) -> PathBuf {
    bots_with(dir, NAP)
}

/// A bots folder with one package whose workflow is `source`.
fn bots_with(dir: &Path, source: &str) -> PathBuf {
    let bots = dir.join("bots");
    let dialog = bots.join("flow.gbai/flow.gbdialog");
    std::fs::create_dir_all(&dialog).expect("create the package");
    std::fs::write(dialog.join("main.bas"), source).expect("write the workflow");
    bots
}

/// `botflow run --wait-timers 0 --id ID`: the run is left on its timer.
fn run_without_waiting(bots: &Path, db: &Path, id: &str) {
    let output = botflow()
        .args(["run", "--wait-timers", "0", "--json", "--id", id, "--db"])
        .arg(db)
        .arg(bots)
        .output()
        .expect("botflow run runs");
    assert_eq!(
        output.status.code(),
        Some(3),
        "a run waiting on a timer exits 3: {}",
        text(&output.stderr)
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("waits for a timer due at") && stderr.contains("botflow worker"),
        "says what the run waits for: {stderr}"
    );
    assert_eq!(show(db, id)["status"], "waiting");
}

fn worker(bots: &Path, db: &Path) -> Child {
    botflow()
        .args(["worker", "--poll-ms", "100", "--bots"])
        .arg(bots)
        .arg("--db")
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("botflow worker starts")
}

/// Polls `runs show` until the run has the status (or 20 s pass).
fn wait_for_status(db: &Path, id: &str, status: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if show(db, id)["status"] == status {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn terminate(child: &Child) {
    let pid = child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn run_wait_timers_zero_exits_3_and_names_the_timer() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = bots(dir.path());
    run_without_waiting(&bots, &dir.path().join("botflow.db"), "nap-1");
}

#[test]
fn a_worker_killed_before_a_timer_fires_loses_nothing_and_the_next_one_fires_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = bots(dir.path());
    let db = dir.path().join("botflow.db");
    run_without_waiting(&bots, &db, "nap-2");

    let mut first = worker(&bots, &db);
    std::thread::sleep(Duration::from_millis(300));
    first.kill().expect("SIGKILL the worker");
    first.wait().expect("the killed worker is reaped");
    assert_eq!(show(&db, "nap-2")["status"], "waiting");

    // Nothing runs while the timer falls due; the next worker fires it.
    std::thread::sleep(Duration::from_millis(1000));
    let second = worker(&bots, &db);
    let completed = wait_for_status(&db, "nap-2", "completed");
    terminate(&second);
    let output = second.wait_with_output().expect("the worker stops");
    assert!(completed, "the run completed: {}", text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("nap-2 completed"),
        "one line per run that ends: {}",
        text(&output.stdout)
    );
}

#[test]
fn resume_sleeps_through_a_timer_due_within_its_bound_and_leaves_a_later_one() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = bots_with(dir.path(), &NAP.replace("DELAY 1", "DELAY pause"));
    let db = dir.path().join("botflow.db");
    for (id, pause) in [("short", 1), ("long", 600)] {
        let output = botflow()
            .args(["run", "--wait-timers", "0", "--id", id, "--input"])
            .arg(format!(r#"{{"pause": {pause}}}"#))
            .arg("--db")
            .arg(&db)
            .arg(&bots)
            .output()
            .expect("botflow run runs");
        assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    }

    let output = botflow()
        .args(["resume", "--wait-timers", "30", "--bots"])
        .arg(&bots)
        .arg("--db")
        .arg(&db)
        .output()
        .expect("botflow resume runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let said = text(&output.stderr);
    assert!(
        said.contains("resumed 1 run(s): 1 ended, 0 waiting"),
        "{said}"
    );
    let short = show(&db, "short");
    assert_eq!(short["status"], "completed");
    assert_eq!(short["result"], "rested");
    assert_eq!(
        show(&db, "long")["status"],
        "waiting",
        "due after the bound"
    );
}
