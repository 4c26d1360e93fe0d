//! The customer-support template with its manager approval, through real
//! `botflow` processes: `run` stops waiting (exit 3) and tells how to decide,
//! `approvals list` shows the request, `approve` / `deny` decide it and
//! continue the run; refused decisions exit 1 and change nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const MANAGER: &str = "manager@company.com";

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support")
}

fn botflow(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_botflow"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("BOTFLOW_DB")
        .env_remove("BOTFLOW_CRASH_AFTER_COMMITS")
        .env("BOTFLOW_USER", "clerk@company.com")
        .stdin(Stdio::null())
        .output()
        .expect("botflow runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Starts a case of 150 (over the approval threshold) and returns the pending request id.
fn start_case(db: &Path, extra: &[&str]) -> String {
    let template = template();
    let mut args = vec![
        "run",
        template.to_str().expect("a UTF-8 path"),
        "--input",
        r#"{"complaint":"my blender arrived broken","order_amount":150}"#,
    ];
    args.extend_from_slice(extra);
    let run = botflow(db, &args);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("from {MANAGER}")), "{stderr}");
    let list = botflow(db, &["approvals", "list", "--status", "pending", "--json"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let rows: Value = serde_json::from_slice(&list.stdout).expect("a JSON array");
    let id = rows
        .as_array()
        .and_then(|rows| rows.last())
        .and_then(|row| row["id"].as_str())
        .expect("a pending request")
        .to_owned();
    assert!(
        stderr.contains(&format!("waits for approval {id} from {MANAGER}")),
        "the summary names the approval the run waits for: {stderr}"
    );
    // Described once: the live progress line offers no command of its own.
    assert_eq!(
        stderr.matches("waiting for approval").count(),
        1,
        "{stderr}"
    );
    let command = format!("botflow approve {id} --as {MANAGER}");
    if extra.contains(&MANAGER) {
        // The manager started the run: a command they may not use is never offered.
        assert!(!stderr.contains(&command), "{stderr}");
    } else {
        assert!(
            stderr.contains(&command),
            "the exact command is printed: {stderr}"
        );
    }
    id
}

fn decide(db: &Path, verb: &str, id: &str, who: &str) -> Output {
    let template = template();
    botflow(
        db,
        &[
            verb,
            id,
            "--as",
            who,
            "--comment",
            "checked",
            "--bots",
            template.to_str().expect("a UTF-8 path"),
        ],
    )
}

fn run_of(id: &str) -> &str {
    id.rsplit_once(':').map_or(id, |(run, _)| run)
}

fn show(db: &Path, run: &str) -> Value {
    let shown = botflow(db, &["runs", "show", run, "--json"]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    serde_json::from_slice(&shown.stdout).expect("the run as JSON")
}

#[test]
fn the_manager_approves_and_the_case_completes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("runs.db");
    let id = start_case(&db, &[]);
    let run = run_of(&id).to_owned();

    let shown = botflow(&db, &["runs", "show", &run]);
    let out = text(&shown.stdout);
    assert!(
        out.contains("waiting for") && out.contains(MANAGER),
        "{out}"
    );

    let stranger = decide(&db, "approve", &id, "someone@company.com");
    assert_eq!(stranger.status.code(), Some(1));
    assert!(
        text(&stranger.stderr).contains("may not decide"),
        "{}",
        text(&stranger.stderr)
    );

    let approved = decide(&db, "approve", &id, MANAGER);
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}",
        text(&approved.stderr)
    );
    let view = show(&db, &run);
    assert_eq!(view["status"], "completed");
    assert_eq!(view["variables"]["approval"]["by"], MANAGER);
    assert_eq!(view["variables"]["approval"]["comment"], "checked");

    let again = decide(&db, "deny", &id, MANAGER);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already approved"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(show(&db, &run)["status"], "completed");
}

#[test]
fn a_denial_rejects_the_case() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("runs.db");
    let id = start_case(&db, &[]);
    let denied = decide(&db, "deny", run_of(&id), MANAGER);
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied.stderr));
    let view = show(&db, run_of(&id));
    assert_eq!(view["status"], "rejected");
    assert_eq!(view["variables"]["approval"]["approved"], false);
}

#[test]
fn the_starter_may_not_approve_their_own_case() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("runs.db");
    let id = start_case(&db, &["--as", MANAGER]);
    let own = decide(&db, "approve", &id, MANAGER);
    assert_eq!(own.status.code(), Some(1));
    assert!(
        text(&own.stderr).contains("started the run"),
        "{}",
        text(&own.stderr)
    );
    assert_eq!(show(&db, run_of(&id))["status"], "waiting");
}

/// A `botflow run` killed right after its N-th group commit, for every N up
/// to the one that would have committed the wait: `resume` finishes what was
/// cut off, the request exists exactly once, one approval completes the case.
#[test]
fn a_crash_around_the_request_loses_nothing_and_decides_once() {
    let template = template();
    let template = template.to_str().expect("a UTF-8 path");
    let mut crashed = 0;
    for n in 1..=20 {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("runs.db");
        let run = Command::new(env!("CARGO_BIN_EXE_botflow"))
            .args(["run", template, "--id", "case", "--db"])
            .arg(&db)
            .args(["--input", r#"{"complaint":"broken","order_amount":150}"#])
            .env_remove("BOTFLOW_DB")
            .env("BOTFLOW_USER", "clerk@company.com")
            .env("BOTFLOW_CRASH_AFTER_COMMITS", n.to_string())
            .env("BOTFLOW_LEASE_MS", "200")
            .stdin(Stdio::null())
            .output()
            .expect("botflow runs");
        if run.status.code() == Some(3) {
            break;
        }
        crashed += 1;
        let resumed = Command::new(env!("CARGO_BIN_EXE_botflow"))
            .args(["resume", "--bots", template, "--db"])
            .arg(&db)
            .env_remove("BOTFLOW_DB")
            .env_remove("BOTFLOW_CRASH_AFTER_COMMITS")
            .env("BOTFLOW_LEASE_MS", "200")
            .stdin(Stdio::null())
            .output()
            .expect("botflow resume runs");
        assert!(resumed.status.success(), "{}", text(&resumed.stderr));
        assert_eq!(
            show(&db, "case")["status"],
            "waiting",
            "after a crash at commit {n}"
        );

        let listed = botflow(&db, &["approvals", "list", "--json"]);
        let rows: Value = serde_json::from_slice(&listed.stdout).expect("a JSON array");
        assert_eq!(
            rows.as_array().map(Vec::len),
            Some(1),
            "one request: {rows}"
        );
        assert_eq!(rows[0]["id"], "case:3");
        let approved = decide(&db, "approve", "case", MANAGER);
        assert_eq!(
            approved.status.code(),
            Some(0),
            "{}",
            text(&approved.stderr)
        );
        let view = show(&db, "case");
        assert_eq!(view["status"], "completed");
        let count = |name: &str| {
            view["events"].as_array().map_or(0, |events| {
                events.iter().filter(|e| e["name"] == name).count()
            })
        };
        assert_eq!(
            (count("approval_requested"), count("approval_received")),
            (1, 1)
        );
        let journal = view["journal"].as_array().cloned().unwrap_or_default();
        let requested = journal
            .iter()
            .filter(|e| e["kind"] == "approval_requested")
            .count();
        assert_eq!(requested, 1, "the request is recorded once");
        let steps = view["steps"].as_array().cloned().unwrap_or_default();
        assert!(steps.iter().all(|s| s["status"] == "done"), "{steps:?}");
    }
    assert!(crashed >= 2, "the hook cut the run short at least twice");
}
