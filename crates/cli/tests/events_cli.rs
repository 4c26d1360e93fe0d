//! `botflow events publish|list` and `botflow runs send` as a user runs them,
//! with bad input refused (exit 2 or 1) and nothing written; and crash tests:
//! a `botflow` process killed at each durable point while a run waits on
//! events and while it commits the point that consumes one, after which
//! `botflow resume` finishes the run with each event consumed exactly once.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{botflow, resume, show, text};
use serde_json::Value;

const TICKS: &str = r#"ORCHESTRATE WORKFLOW "ticks"
  a = WAIT FOR EVENT "tick"
  TALK "first " & a.data.n
  b = WAIT FOR EVENT "tick"
  TALK "second " & b.data.n
  RETURN {"a": a.data.n, "b": b.data.n}
END WORKFLOW
"#;

const ASK: &str = r#"ORCHESTRATE WORKFLOW "ask"
  HEAR n AS INTEGER
  RETURN {"n": n}
END WORKFLOW
"#;

fn deployment(dir: &Path, file: &str, source: &str) -> PathBuf {
    let bots = dir.join("bots");
    let dialog = bots.join("flow.gbai/flow.gbdialog");
    std::fs::create_dir_all(&dialog).expect("the dialog folder");
    std::fs::write(dialog.join(file), source).expect("the workflow");
    bots
}

fn cli(db: &Path, args: &[&str]) -> Output {
    botflow()
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("botflow runs")
}

fn publish(bots: &Path, db: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["events", "publish"];
    args.extend_from_slice(extra);
    args.extend(["--bots", bots.to_str().expect("a UTF-8 path")]);
    cli(db, &args)
}

fn start(bots: &Path, db: &Path, id: &str, crash_after: Option<u64>) -> Output {
    let mut command = botflow();
    command
        .args(["run"])
        .arg(bots)
        .args(["--id", id, "--db"])
        .arg(db);
    if let Some(n) = crash_after {
        command.env("BOTFLOW_CRASH_AFTER_COMMITS", n.to_string());
    }
    command.output().expect("botflow run runs")
}

fn events_json(db: &Path) -> Vec<Value> {
    let listed = cli(db, &["events", "list", "--json", "--name", "tick"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    serde_json::from_slice::<Value>(&listed.stdout)
        .expect("a JSON array")
        .as_array()
        .cloned()
        .expect("an array")
}

#[test]
fn publish_list_and_resume_a_waiting_run() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path(), "ticks.bas", TICKS);
    let db = dir.path().join("runs.db");
    let run = start(&bots, &db, "r1", None);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));

    for n in ["1", "2"] {
        let data = format!(r#"{{"n": {n}}}"#);
        let out = publish(&bots, &db, &["tick", "--data", &data]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("ev:"), "prints the event id");
    }
    let events = events_json(&db);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["data"]["n"], 1);
    assert_eq!(events[1]["data"]["n"], 2);

    resume(&bots, &db);
    let view = show(&db, "r1");
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(view["result"]["a"], 1);
    assert_eq!(view["result"]["b"], 2);
}

#[test]
fn bad_events_are_refused_and_nothing_is_published() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path(), "ticks.bas", TICKS);
    let db = dir.path().join("runs.db");
    let big = dir.path().join("big.json");
    let payload = format!(r#"{{"blob": "{}"}}"#, "x".repeat(store::MAX_VALUE_BYTES));
    std::fs::write(&big, payload).expect("the big payload");
    let big_arg = format!("@{}", big.display());
    let long_name = "n".repeat(129);
    let cases: [(&[&str], &str); 5] = [
        (&["bad name!"], "cannot be used"),
        (&[long_name.as_str()], "at most 128"),
        (&["tick", "--data", "{not json"], "not valid JSON"),
        (&["tick", "--data", big_arg.as_str()], "above the limit"),
        (&["tick", "--data", "@/no/such/file.json"], "cannot read"),
    ];
    for (args, says) in cases {
        let out = publish(&bots, &db, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?} should say {says:?}: {stderr}"
        );
    }
    let listed = cli(&db, &["events", "list", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let all: Value = serde_json::from_slice(&listed.stdout).expect("a JSON array");
    assert_eq!(all, Value::Array(Vec::new()), "nothing was published");
}

#[test]
fn runs_send_answers_hear() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path(), "ask.bas", ASK);
    let db = dir.path().join("runs.db");
    let unknown = cli(&db, &["runs", "send", "nobody", "42"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("no run with id"),
        "{}",
        text(&unknown.stderr)
    );

    let run = start(&bots, &db, "r1", None);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    for message in ["lots", "42"] {
        let sent = cli(&db, &["runs", "send", "r1", message]);
        assert!(sent.status.success(), "{}", text(&sent.stderr));
    }
    resume(&bots, &db);
    let view = show(&db, "r1");
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(view["result"]["n"], 42);
    let transcript = view["transcript"].to_string();
    assert!(
        transcript.contains("Please answer with a whole number."),
        "{transcript}"
    );

    let late = cli(&db, &["runs", "send", "r1", "more"]);
    assert_eq!(late.status.code(), Some(1));
    assert!(
        text(&late.stderr).contains("has ended"),
        "{}",
        text(&late.stderr)
    );
}

/// How many `event_received` entries the run's journal holds: one per event
/// consumption that was committed.
fn consumptions(view: &Value) -> usize {
    view["journal"].as_array().map_or(0, |entries| {
        entries
            .iter()
            .filter(|e| e["kind"] == "event_received")
            .count()
    })
}

/// Crashes the process that waits (`run`), then the one that consumes
/// (`resume` after both ticks are published), at each of its commits in
/// turn; the run always ends with each tick consumed once, in order.
#[test]
fn a_crash_at_any_point_never_consumes_an_event_twice() {
    let mut crashed = 0;
    for crash_after in 1..=4_u64 {
        for phase in ["waiting", "consuming"] {
            let dir = tempfile::tempdir().expect("a temp dir");
            let bots = deployment(dir.path(), "ticks.bas", TICKS);
            let db = dir.path().join("runs.db");
            let first = start(
                &bots,
                &db,
                "r1",
                (phase == "waiting").then_some(crash_after),
            );
            if first.status.code().is_none_or(|c| c != 3) {
                crashed += 1;
                std::thread::sleep(std::time::Duration::from_millis(300));
                resume(&bots, &db);
            }
            for n in ["1", "2"] {
                let data = format!(r#"{{"n": {n}}}"#);
                let out = publish(&bots, &db, &["tick", "--data", &data]);
                assert!(out.status.success(), "{}", text(&out.stderr));
            }
            if phase == "consuming" {
                let out = botflow()
                    .args(["resume", "--bots"])
                    .arg(&bots)
                    .arg("--db")
                    .arg(&db)
                    .env("BOTFLOW_CRASH_AFTER_COMMITS", crash_after.to_string())
                    .output()
                    .expect("botflow resume runs");
                if !out.status.success() {
                    crashed += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            resume(&bots, &db);
            let view = show(&db, "r1");
            assert_eq!(view["status"], "completed", "{phase} {crash_after}: {view}");
            assert_eq!(view["result"]["a"], 1, "{phase} {crash_after}");
            assert_eq!(view["result"]["b"], 2, "{phase} {crash_after}");
            assert_eq!(consumptions(&view), 2, "{phase} {crash_after}: {view}");
        }
    }
    assert!(crashed >= 3, "the crash hook fired only {crashed} times");
}
