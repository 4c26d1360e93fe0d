//! What a waiting run waits for, through real `botflow` processes: `run`
//! exits 3 and says it (with the exact command that continues the run),
//! `runs show` says it too, and `runs show --json` carries it as `waits`.
//! Data-driven: one workflow per case, the lines each output must contain
//! (`{approval}` stands for the pending request's id, read from the JSON).

use std::path::Path;

mod common;

use common::{botflow, show, text};

struct Case {
    name: &'static str,
    body: &'static str,
    input: &'static str,
    /// Extra `botflow run` arguments.
    args: &'static [&'static str],
    /// What `run`'s stderr must contain.
    run_says: &'static [&'static str],
    /// What `runs show`'s stdout must contain.
    show_says: &'static [&'static str],
    /// The `kind` of the one wait in `runs show --json`.
    kind: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "event",
        body: "  WAIT FOR EVENT \"paid\" FOR order TIMEOUT 600\n",
        input: r#"{"order":"o-7"}"#,
        args: &[],
        run_says: &[
            "run r1 waits for event \"paid\" for key \"o-7\" (until 20",
            "`botflow events publish paid --key o-7 --bots ",
        ],
        show_says: &["waiting for\n  event \"paid\" for key \"o-7\" (until 20"],
        kind: "event",
    },
    Case {
        name: "approval, prompt disabled",
        body: "  HUMAN APPROVAL FROM \"m@x\", \"clerk@x\"\n    TIMEOUT 600\n",
        input: "{}",
        args: &["--no-prompt"],
        run_says: &[
            "run r1 waits for approval {approval} from m@x, clerk@x (until 20",
            "  botflow approve {approval} --as m@x --bots ",
            "  botflow deny {approval} --as m@x --bots ",
        ],
        show_says: &[
            "waiting for\n  approval {approval} from m@x, clerk@x",
            "    botflow approve {approval} --as m@x\n",
        ],
        kind: "approval",
    },
    Case {
        name: "message",
        body: "  HEAR n AS INTEGER\n",
        input: "{}",
        args: &[],
        run_says: &[
            "run r1 waits for a message of type INTEGER (no deadline)",
            "`botflow runs send r1 TEXT",
        ],
        show_says: &["waiting for\n  a message of type INTEGER (no deadline)"],
        kind: "message",
    },
];

fn bots(dir: &Path, body: &str) -> std::path::PathBuf {
    let bots = dir.join("bots");
    let dialog = bots.join("flow.gbai/flow.gbdialog");
    std::fs::create_dir_all(&dialog).expect("create the package");
    let source = format!("ORCHESTRATE WORKFLOW \"w\"\n{body}END WORKFLOW\n");
    std::fs::write(dialog.join("main.bas"), source).expect("write the workflow");
    bots
}

#[test]
fn run_and_runs_show_say_what_a_waiting_run_waits_for() {
    for case in CASES {
        let dir = tempfile::tempdir().expect("a temp dir");
        let bots = bots(dir.path(), case.body);
        let db = dir.path().join("runs.db");
        let run = botflow()
            .args([
                "run", "--id", "r1", "--as", "clerk@x", "--input", case.input,
            ])
            .args(case.args)
            .arg("--db")
            .arg(&db)
            .arg(&bots)
            .output()
            .expect("botflow run runs");
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(3), "{}: {stderr}", case.name);

        let json = show(&db, "r1");
        let waits = json["waits"].as_array().expect("waits in --json");
        assert_eq!(waits.len(), 1, "{}: {json:#}", case.name);
        assert_eq!(waits[0]["kind"], case.kind, "{}", case.name);
        let approval = waits[0]["id"].as_str().unwrap_or("<none>");

        for line in case.run_says {
            let line = line.replace("{approval}", approval);
            assert!(
                stderr.contains(&line),
                "{}: {line:?} in\n{stderr}",
                case.name
            );
        }
        let shown = botflow()
            .args(["runs", "show", "r1", "--db"])
            .arg(&db)
            .output()
            .expect("botflow runs show runs");
        assert!(shown.status.success(), "{}", text(&shown.stderr));
        let stdout = text(&shown.stdout);
        for line in case.show_says {
            let line = line.replace("{approval}", approval);
            assert!(
                stdout.contains(&line),
                "{}: {line:?} in\n{stdout}",
                case.name
            );
        }
    }
}

#[test]
fn the_starter_is_offered_no_command_to_approve_their_own_run() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = bots(dir.path(), "  HUMAN APPROVAL FROM \"m@x\", \"clerk@x\"\n");
    let db = dir.path().join("runs.db");
    let run = botflow()
        .args(["run", "--id", "r1", "--as", "clerk@x", "--db"])
        .arg(&db)
        .arg(&bots)
        .output()
        .expect("botflow run runs");
    let stderr = text(&run.stderr);
    // No terminal: no prompt, whatever the flags; the run is left waiting.
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("[a/d/skip]"), "{stderr}");
    // The summary printed at exit 3 (the live progress lines come before it).
    let summary = stderr
        .split_once("run r1 waits for ")
        .map_or("", |(_, summary)| summary);
    assert!(summary.contains("botflow approve r1:"), "{stderr}");
    assert!(summary.contains("--as m@x"), "{stderr}");
    assert!(!summary.contains("--as clerk@x"), "{stderr}");
}

/// `botflow run` on a terminal (a pseudo-terminal from util-linux `script`)
/// asks about the pending approval as the approver who did not start the
/// run, and acts on the answer. Skipped, with a notice, without `script`.
#[test]
fn on_a_terminal_run_asks_and_acts_on_the_answer() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    if Command::new("script").arg("--version").output().is_err() {
        // util-linux's `script` (Debian's essential bsdutils) is on every CI machine.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs util-linux `script` to give `botflow run` a terminal"
        );
        eprintln!("skipped: no util-linux `script` to give `botflow run` a terminal");
        return;
    }
    // (typed, final status, exit code)
    let cases = [
        ("a\n", "completed", 0),
        ("d\n", "rejected", 1),
        ("skip\n", "waiting", 3),
    ];
    for (typed, status, code) in cases {
        let dir = tempfile::tempdir().expect("a temp dir");
        let bots = bots(
            dir.path(),
            "  HUMAN APPROVAL FROM \"clerk@x\", \"m@x\"\n  TALK \"decided\"\n",
        );
        let db = dir.path().join("runs.db");
        let line = format!(
            "'{}' run --id r1 --as clerk@x --db '{}' '{}'",
            env!("CARGO_BIN_EXE_botflow"),
            db.display(),
            bots.display()
        );
        let mut script = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("BOTFLOW_LEASE_MS", "200")
            .env("NO_COLOR", "1")
            .env_remove("BOTFLOW_CRASH_AFTER_COMMITS")
            .env_remove("BOTFLOW_DB")
            .env_remove("BOTFLOW_BOTS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script starts");
        script
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(typed.as_bytes())
            .expect("types the answer");
        let output = script.wait_with_output().expect("script ends");
        // The terminal merges stdout and stderr into script's stdout.
        let shown = text(&output.stdout);
        assert!(
            shown.contains("approve or deny request r1:_ as m@x? [a/d/skip]"),
            "{typed:?}: {shown}"
        );
        assert_eq!(output.status.code(), Some(code), "{typed:?}: {shown}");
        assert_eq!(show(&db, "r1")["status"], status, "{typed:?}: {shown}");
    }
}
