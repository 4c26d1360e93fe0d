//! Bad input to `botflow run` and the run commands (issue 4, "Bad input"):
//! each case gives a clear message and a non-zero exit code, and nothing
//! already recorded is lost or changed.
//!
//! Every test first records a completed run `keep` in its database and
//! snapshots it (`runs show keep --json` and `runs list --json`); after the
//! bad command the snapshot must be identical. Where the database file itself
//! is the bad input (corrupt, newer schema) it must be unchanged byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::{botflow, text};
use serde_json::Value;

const ECHO: &str = "RETURN {\"e\": ((x ?? 0) * 3 + 1) MOD 1000, \"last\": action}\n";

const GOOD: &str = r#"ORCHESTRATE WORKFLOW "good"
  STEP 1: BOT "echo" "ping" WITH {"x": n ?? 1}
  SET BOT MEMORY "last", e
  PUBLISH EVENT "good_done" WITH {"e": e}
  TALK "echoed " & e
END WORKFLOW
"#;

const FAILING: &str = r#"ORCHESTRATE WORKFLOW "failing"
  STEP 1: BOT "echo" "ping" WITH {"x": 2}
  STEP 2: BOT "broken" "work"
  TALK "never"
END WORKFLOW
"#;

const HUGE: &str = r#"ORCHESTRATE WORKFLOW "huge"
  STEP 1: BOT "echo" "ping" WITH {"x": 5}
  STEP 2: BOT "grower" "grow"
  TALK "never"
END WORKFLOW
"#;

/// A bot answer of 4 MiB of JSON text: twice the store's value limit.
const GROWER: &str = r#"s = "x"
FOR i = 1 TO 22
  s = s & s
NEXT i
RETURN {"huge": s}
"#;

const LIMIT: &str = "2097152";

fn botflow_with(args: &[&str]) -> Output {
    botflow().args(args).output().expect("botflow runs")
}

/// Writes `<root>/<name>.gbai/<name>.gbdialog/<file>` for each script.
fn package(root: &Path, name: &str, scripts: &[(&str, &str)]) {
    let dialog = root
        .join(format!("{name}.gbai"))
        .join(format!("{name}.gbdialog"));
    std::fs::create_dir_all(&dialog).expect("create a dialog folder");
    for (file, source) in scripts {
        std::fs::write(dialog.join(file), source).expect("write a script");
    }
}

/// A temp folder with a deployment `bots/` and a database `runs.db` that
/// already holds the completed run `keep`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temp dir");
        let bots = dir.path().join("bots");
        package(&bots, "echo", &[("ping.bas", ECHO)]);
        package(&bots, "good", &[("good.bas", GOOD)]);
        package(&bots, "failing", &[("failing.bas", FAILING)]);
        package(
            &bots,
            "broken",
            &[("work.bas", "x = 1 / 0\nRETURN {\"ok\": 1}\n")],
        );
        package(&bots, "huge", &[("huge.bas", HUGE)]);
        package(&bots, "grower", &[("grow.bas", GROWER)]);
        let fixture = Fixture { dir };
        let output = fixture.run("good", r#"{"n": 4}"#, "keep");
        assert_eq!(
            output.status.code(),
            Some(0),
            "the run to keep completes: {}",
            text(&output.stderr)
        );
        fixture
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn bots(&self) -> String {
        self.path("bots").display().to_string()
    }

    fn db(&self) -> String {
        self.path("runs.db").display().to_string()
    }

    fn run(&self, workflow: &str, input: &str, id: &str) -> Output {
        botflow_with(&[
            "run",
            &self.bots(),
            "--workflow",
            workflow,
            "--input",
            input,
            "--id",
            id,
            "--db",
            &self.db(),
            "--json",
        ])
    }

    /// `runs show ID --json` of this database, parsed.
    fn show(&self, id: &str) -> Value {
        let output = botflow_with(&["runs", "show", id, "--json", "--db", &self.db()]);
        assert!(
            output.status.success(),
            "runs show {id}: {}",
            text(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("runs show prints JSON")
    }

    /// The ids of the runs in this database.
    fn run_ids(&self) -> Vec<String> {
        let output = botflow_with(&["runs", "list", "--json", "--db", &self.db()]);
        assert!(
            output.status.success(),
            "runs list: {}",
            text(&output.stderr)
        );
        let rows: Value = serde_json::from_slice(&output.stdout).expect("runs list prints JSON");
        let mut ids: Vec<String> = rows
            .as_array()
            .expect("a JSON array")
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    /// Everything recorded so far that must survive a bad command.
    fn snapshot(&self) -> (Vec<String>, Value) {
        (self.run_ids(), self.show("keep"))
    }
}

/// The message of a command that must fail with `code`, after checking it.
fn refused(output: &Output, code: i32) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; stdout {} stderr {stderr}",
        text(&output.stdout)
    );
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout: {}",
        text(&output.stdout)
    );
    stderr
}

#[test]
fn malformed_input_json_is_an_unusable_argument_and_writes_nothing() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    for (input, expected) in [
        (r#"{"n": 4"#, "--input is not valid JSON"),
        ("{n: 4}", "--input is not valid JSON"),
        ("", "--input is not valid JSON"),
        ("[1, 2]", "--input must be a JSON object"),
        ("42", "--input must be a JSON object"),
    ] {
        let message = refused(&fixture.run("good", input, "bad-json"), 2);
        assert!(message.contains(expected), "{input:?}: {message}");
    }
    assert_eq!(fixture.snapshot(), before);

    // Refused before any database is opened: a fresh one is never created.
    let fresh = fixture.path("fresh.db");
    let output = botflow_with(&[
        "run",
        &fixture.bots(),
        "--workflow",
        "good",
        "--input",
        "{oops",
        "--db",
        &fresh.display().to_string(),
    ]);
    refused(&output, 2);
    assert!(!fresh.exists(), "no database was created");
}

#[test]
fn a_missing_package_or_path_is_an_unusable_argument() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let missing = fixture.path("bots/missing.gbai").display().to_string();
    let nowhere = fixture.path("nowhere").display().to_string();
    let cases = [
        vec!["run", missing.as_str(), "--db", "DB"],
        vec!["run", nowhere.as_str(), "--db", "DB"],
        vec!["resume", "--bots", nowhere.as_str(), "--db", "DB"],
        vec![
            "runs",
            "retry",
            "keep",
            "--bots",
            nowhere.as_str(),
            "--db",
            "DB",
        ],
    ];
    let db = fixture.db();
    for case in cases {
        let args: Vec<&str> = case
            .iter()
            .map(|a| if *a == "DB" { db.as_str() } else { a })
            .collect();
        let message = refused(&botflow_with(&args), 2);
        let named = if args.contains(&missing.as_str()) {
            &missing
        } else {
            &nowhere
        };
        assert!(
            message.contains(named.as_str()) && message.contains(": no such "),
            "{args:?}: {message}"
        );
    }

    // A file that is not a script is refused the same way.
    let notes = fixture.path("notes.txt");
    std::fs::write(&notes, "hello").expect("write a file");
    let message = refused(
        &botflow_with(&["run", &notes.display().to_string(), "--db", &db]),
        2,
    );
    assert!(message.contains("is not a .bas"), "{message}");
    assert_eq!(fixture.snapshot(), before);
}

#[test]
fn an_unknown_workflow_name_is_refused_naming_the_workflows_there_are() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let message = refused(&fixture.run("nope", "{}", "no-workflow"), 1);
    assert!(
        message.contains("no workflow named \"nope\"") && message.contains("\"good\""),
        "{message}"
    );
    assert_eq!(fixture.snapshot(), before);
}

#[test]
fn a_bot_that_does_not_exist_is_refused_by_the_checker_before_the_run_starts() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    package(
        &fixture.path("bots"),
        "lost",
        &[(
            "lost.bas",
            "ORCHESTRATE WORKFLOW \"lost\"\n  STEP 1: BOT \"echo\" \"ping\"\n  STEP 2: BOT \"nobody\" \"help\"\nEND WORKFLOW\n",
        )],
    );
    let output = fixture.run("lost", "{}", "lost-1");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let message = text(&output.stderr);
    assert!(
        message.contains("error[E010]")
            && message.contains("no bot \"nobody\"")
            && message.contains("nobody.gbai")
            && message.contains("lost.bas:3:")
            && message.contains("the run was not started"),
        "{message}"
    );
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    // Step 1 was not asked either: no run exists at all.
    assert_eq!(fixture.snapshot(), before);
}

#[test]
fn a_program_with_check_errors_prints_its_diagnostics_and_creates_no_run() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    package(
        &fixture.path("bots"),
        "typo",
        &[(
            "typo.bas",
            "ORCHESTRATE WORKFLOW \"typo\"\n  STEP 1: BOT \"echo\" \"ping\"\n  IF e > 1 THEN\n    b = (1 +\nEND WORKFLOW\n",
        )],
    );
    let output = fixture.run("typo", "{}", "typo-1");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let message = text(&output.stderr);
    assert!(
        message.contains("error[E004]")
            && message.contains("this `IF` is never closed")
            && message.contains("typo.bas:3:")
            && message.contains("error[E003]")
            && message.contains("2 errors")
            && message.contains("the run was not started"),
        "{message}"
    );
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert_eq!(fixture.snapshot(), before);

    // A lone script outside any package is checked the same way.
    let lone = fixture.path("lone.bas");
    std::fs::write(&lone, "x = (1 +\n").expect("write a script");
    let output = botflow_with(&["run", &lone.display().to_string(), "--db", &fixture.db()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("the run was not started"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(fixture.snapshot(), before);
}

#[test]
fn a_bot_script_that_fails_fails_the_run_with_the_error_recorded() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let output = fixture.run("failing", "{}", "fails");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("--json prints the run");
    let shown = fixture.show("fails");
    for run in [&printed, &shown] {
        assert_eq!(run["status"], "failed", "{run}");
        assert_eq!(run["error"]["step"], "2", "{run}");
        assert_eq!(run["error"]["kind"], "bot", "{run}");
        let message = run["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("bot \"broken\"")
                && message.contains("\"work\"")
                && message.contains("division by zero"),
            "{message}"
        );
        let steps: Vec<(&str, &str)> = run["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                (
                    s["path"].as_str().unwrap_or_default(),
                    s["status"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(steps, vec![("1", "done"), ("2", "failed")], "{run}");
        // What step 1 answered is kept.
        assert_eq!(run["variables"]["e"], 7, "{run}");
        assert!(run["transcript"].as_array().is_some_and(Vec::is_empty));
    }
    let (ids, keep) = fixture.snapshot();
    assert_eq!(ids, vec!["fails".to_owned(), "keep".to_owned()]);
    assert_eq!(keep, before.1);
}

/// Runs the `huge` workflow, whose step 2 answers 4 MiB.
fn run_huge(fixture: &Fixture) -> Output {
    fixture.run("huge", "{}", "huge")
}

#[test]
fn an_oversized_value_fails_the_run_naming_the_limit_and_stores_nothing_of_it() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let output = run_huge(&fixture);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("above the limit of {LIMIT} bytes")),
        "{stderr}"
    );
    let run = fixture.show("huge");
    assert_eq!(run["status"], "failed", "{run}");
    let message = run["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("above the limit of {LIMIT} bytes")),
        "{message}"
    );
    // The run stopped at its last good point: step 1's answer is kept, the
    // oversized answer was never stored anywhere in the run.
    assert_eq!(run["variables"]["e"], 16, "{run}");
    assert!(run["variables"].get("huge").is_none(), "{run}");
    let stored = run.to_string();
    assert!(stored.len() < 100_000, "{} bytes shown", stored.len());
    assert!(run["transcript"].as_array().is_some_and(Vec::is_empty));
    let (ids, keep) = fixture.snapshot();
    assert_eq!(ids, vec!["huge".to_owned(), "keep".to_owned()]);
    assert_eq!(keep, before.1);
}

#[test]
fn an_oversized_answer_fails_its_step_and_names_it() {
    let fixture = Fixture::new();
    run_huge(&fixture);
    let run = fixture.show("huge");
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["step"], "2", "{run}");
    let statuses: Vec<&str> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["done", "failed"], "{run}");
}

#[test]
fn run_json_prints_the_failed_run_after_an_oversized_value() {
    let fixture = Fixture::new();
    let output = run_huge(&fixture);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("--json prints the run");
    assert_eq!(printed["status"], "failed", "{printed}");
    assert_eq!(printed, fixture.show("huge"));
    let message = printed["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("step 2: the answer of bot \"grower\" to \"grow\" is 4194")
            && message.contains("(4.0 MiB)"),
        "{message}"
    );
}

/// Every way of opening the database `db` must be refused with exit 1 and a
/// message containing `expected`; the file must stay exactly as it was.
fn assert_every_command_refuses(fixture: &Fixture, db: &Path, expected: &[&str]) {
    let original = std::fs::read(db).expect("read the database");
    let db_arg = db.display().to_string();
    let bots = fixture.bots();
    let commands: Vec<Vec<&str>> = vec![
        vec!["runs", "list", "--db", &db_arg],
        vec!["runs", "show", "keep", "--db", &db_arg],
        vec!["runs", "cancel", "keep", "--db", &db_arg],
        vec!["runs", "retry", "keep", "--bots", &bots, "--db", &db_arg],
        vec!["resume", "--bots", &bots, "--db", &db_arg],
        vec![
            "run",
            &bots,
            "--workflow",
            "good",
            "--id",
            "new",
            "--db",
            &db_arg,
        ],
    ];
    for args in commands {
        let message = refused(&botflow_with(&args), 1);
        assert!(
            message.contains("cannot open the database") && message.contains(&db_arg),
            "{args:?}: {message}"
        );
        for part in expected {
            assert!(message.contains(part), "{args:?}: {message}");
        }
        assert!(
            std::fs::read(db).expect("read the database") == original,
            "{args:?} changed the database file"
        );
    }
}

#[test]
fn a_corrupt_database_is_refused_and_left_byte_for_byte() {
    let fixture = Fixture::new();
    // Not a database at all: bytes from a fixed pseudo-random sequence.
    let garbage = fixture.path("garbage.db");
    let mut seed: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..8192)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        })
        .collect();
    std::fs::write(&garbage, bytes).expect("write garbage");
    assert_every_command_refuses(
        &fixture,
        &garbage,
        &["is not a botflow SQLite database (or it is corrupt)"],
    );

    // A real database cut in half (a disk that lost its tail).
    let real = std::fs::read(fixture.path("runs.db")).expect("read the database");
    assert!(
        real.len() >= 8192,
        "the database has pages to cut: {}",
        real.len()
    );
    let cut = fixture.path("cut.db");
    std::fs::write(&cut, &real[..real.len() / 2]).expect("write the half");
    assert_every_command_refuses(
        &fixture,
        &cut,
        &["is not a botflow SQLite database (or it is corrupt)"],
    );
}

/// Runs a Python snippet with the `sqlite3` module on `db`; `None` when no
/// Python is available (then the test is skipped, except under CI).
fn python_sqlite(db: &Path, statement: &str) -> Option<()> {
    let script = format!(
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute({statement:?})\nc.commit()\nc.close()\n"
    );
    let output = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(db)
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "python3 is needed to edit a database: {error}"
            );
            println!("skipped: python3 is not available ({error})");
            return None;
        }
    };
    assert!(
        output.status.success(),
        "python3 sqlite3 failed: {}",
        text(&output.stderr)
    );
    Some(())
}

#[test]
fn a_database_with_a_newer_schema_is_refused_and_left_byte_for_byte() {
    let fixture = Fixture::new();
    let db = fixture.path("runs.db");
    let Some(()) = python_sqlite(
        &db,
        "UPDATE meta SET value = '999' WHERE key = 'schema_version'",
    ) else {
        return;
    };
    assert_every_command_refuses(
        &fixture,
        &db,
        &[
            "schema is version 999",
            "newer than this botflow supports",
            "upgrade botflow",
        ],
    );
    // Nothing was lost: put the version back and the run is all there.
    let supported = store::SCHEMA_VERSION.to_string();
    python_sqlite(
        &db,
        &format!("UPDATE meta SET value = '{supported}' WHERE key = 'schema_version'"),
    );
    let keep = fixture.show("keep");
    assert_eq!(keep["status"], "completed", "{keep}");
    assert_eq!(keep["variables"]["e"], 13, "{keep}");
}

#[test]
fn an_unknown_run_id_is_refused_by_show_retry_and_cancel() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let db = fixture.db();
    let bots = fixture.bots();
    for args in [
        vec!["runs", "show", "no-such-run", "--db", &db],
        vec!["runs", "show", "no-such-run", "--json", "--db", &db],
        vec!["runs", "retry", "no-such-run", "--bots", &bots, "--db", &db],
        vec!["runs", "cancel", "no-such-run", "--db", &db],
    ] {
        let message = refused(&botflow_with(&args), 1);
        assert!(
            message.contains("there is no run with id \"no-such-run\""),
            "{args:?}: {message}"
        );
    }
    // A run that exists but cannot take the operation says why.
    let message = refused(&botflow_with(&["runs", "cancel", "keep", "--db", &db]), 1);
    assert!(message.contains("already ended (completed)"), "{message}");
    let message = refused(
        &botflow_with(&["runs", "retry", "keep", "--bots", &bots, "--db", &db]),
        1,
    );
    assert!(
        message.contains("only a failed run can be retried"),
        "{message}"
    );
    assert_eq!(fixture.snapshot(), before);
}

#[test]
fn an_empty_run_id_is_an_unusable_argument() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let long = "x".repeat(129);
    for (id, why) in [
        ("", "it is empty"),
        ("a b", "contains ' '"),
        ("../x", "contains '/'"),
        (long.as_str(), "129 characters long"),
    ] {
        let message = refused(&fixture.run("good", "{}", id), 2);
        assert!(
            message.contains("--id") && message.contains(why),
            "{id:?}: {message}"
        );
    }
    assert_eq!(fixture.snapshot(), before);
    let output = fixture.run("good", "{}", "Order-7_b.2:x");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_database_that_cannot_be_opened_is_refused_naming_it() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let missing = fixture.path("no-such-folder/runs.db").display().to_string();
    let folder = fixture.path("bots").display().to_string();
    for db in [&missing, &folder] {
        let output = botflow_with(&["runs", "list", "--db", db]);
        assert!(!output.status.success(), "{db}");
        let message = text(&output.stderr);
        assert!(
            message.contains(&format!("cannot open the database {db}")),
            "{message}"
        );
    }
    assert!(!fixture.path("no-such-folder").exists());
    assert_eq!(fixture.snapshot(), before);
}

#[test]
fn a_database_in_a_missing_folder_is_an_unusable_argument() {
    let fixture = Fixture::new();
    let db = fixture.path("no-such-folder/runs.db").display().to_string();
    let message = refused(&botflow_with(&["runs", "list", "--db", &db]), 2);
    assert!(
        message.contains(&format!("cannot open the database {db}"))
            && message.contains("the folder")
            && message.contains("no-such-folder")
            && message.contains("does not exist")
            && message.matches("unable to open").count() <= 1,
        "{message}"
    );
    // The same for `run`, and for a --db that is a folder.
    let bots = fixture.bots();
    let folder = fixture.path("bots").display().to_string();
    for db in [&db, &folder] {
        let message = refused(
            &botflow_with(&["run", &bots, "--workflow", "good", "--db", db]),
            2,
        );
        assert!(
            message.contains(&format!("cannot open the database {db}")),
            "{message}"
        );
    }
    assert!(!fixture.path("no-such-folder").exists());
}

/// `run --json` with `--input ARG`, feeding `stdin` when given.
fn run_with_input(fixture: &Fixture, input: &str, id: &str, stdin: Option<&[u8]>) -> Output {
    let mut command = botflow();
    command.args([
        "run",
        &fixture.bots(),
        "--workflow",
        "good",
        "--input",
        input,
        "--id",
        id,
        "--db",
        &fixture.db(),
        "--json",
    ]);
    let Some(bytes) = stdin else {
        return command.output().expect("botflow runs");
    };
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("botflow starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    std::io::Write::write_all(&mut pipe, bytes).expect("write stdin");
    drop(pipe);
    child.wait_with_output().expect("botflow runs")
}

#[test]
fn input_is_read_from_a_file_or_stdin_beyond_the_command_line_limit() {
    let fixture = Fixture::new();
    // 512 KiB: far above what one command-line argument may hold (128 KiB).
    let pad = "y".repeat(512 * 1024);
    let big = serde_json::json!({"n": 5, "pad": pad}).to_string();
    let file = fixture.path("input.json");
    std::fs::write(&file, &big).expect("write the input");
    let output = run_with_input(&fixture, &format!("@{}", file.display()), "from-file", None);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let run: Value = serde_json::from_slice(&output.stdout).expect("--json prints the run");
    assert_eq!(run["variables"]["e"], 16, "n came from the file");

    let output = run_with_input(&fixture, "-", "from-stdin", Some(br#"{"n": 2}"#));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let run: Value = serde_json::from_slice(&output.stdout).expect("--json prints the run");
    assert_eq!(run["variables"]["e"], 7, "n came from stdin");

    let help = botflow_with(&["run", "--help"]);
    let help = text(&help.stdout);
    assert!(help.contains("@FILE") && help.contains("stdin"), "{help}");
}

#[test]
fn input_from_a_file_or_stdin_that_cannot_be_used_is_an_unusable_argument() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let missing = fixture.path("missing.json").display().to_string();
    let message = refused(
        &run_with_input(&fixture, &format!("@{missing}"), "m", None),
        2,
    );
    assert!(
        message.contains(&format!("cannot read {missing}: no such file")),
        "{message}"
    );
    let folder = fixture.path("bots").display().to_string();
    let message = refused(
        &run_with_input(&fixture, &format!("@{folder}"), "m", None),
        2,
    );
    assert!(message.contains("is a folder"), "{message}");
    let message = refused(&run_with_input(&fixture, "@", "m", None), 2);
    assert!(message.contains("needs a file name"), "{message}");

    let bad = fixture.path("bad.json");
    std::fs::write(&bad, "[1, 2]").expect("write");
    let message = refused(
        &run_with_input(&fixture, &format!("@{}", bad.display()), "m", None),
        2,
    );
    assert!(message.contains("must be a JSON object"), "{message}");
    let message = refused(&run_with_input(&fixture, "-", "m", Some(b"{oops")), 2);
    assert!(
        message.contains("--input - (stdin) is not valid JSON"),
        "{message}"
    );

    // Over the limit as compact JSON: refused by the command, naming the limit.
    let over = serde_json::json!({"pad": "z".repeat(2 * 1024 * 1024)}).to_string();
    std::fs::write(&bad, &over).expect("write");
    let message = refused(
        &run_with_input(&fixture, &format!("@{}", bad.display()), "m", None),
        2,
    );
    assert!(
        message.contains(&format!(
            "above the limit of {LIMIT} bytes for the run's input"
        )),
        "{message}"
    );
    // Just under it: the input fits, the run's first state does not; the
    // runtime refuses it before writing anything, and says so in those terms.
    let almost = serde_json::json!({"pad": "z".repeat(2 * 1024 * 1024 - 100)}).to_string();
    let message = refused(
        &run_with_input(&fixture, "-", "m", Some(almost.as_bytes())),
        2,
    );
    assert!(
        message.contains("the run's state (its input of")
            && message.contains(&format!("above the limit of {LIMIT} bytes"))
            && message.contains("nothing was written"),
        "{message}"
    );
    assert_eq!(fixture.snapshot(), before);
}

/// Runs botflow with stdout a pipe whose reader is gone before it writes.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = botflow()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("botflow starts");
    // Close the read end at once: every write to stdout meets a broken pipe.
    drop(child.stdout.take());
    child.wait_with_output().expect("botflow runs")
}

#[test]
fn a_reader_that_stops_early_is_no_panic() {
    let fixture = Fixture::new();
    // Output larger than a pipe's buffer, so no write can slip through first.
    let pad = "y".repeat(256 * 1024);
    let input = fixture.path("input.json");
    std::fs::write(&input, serde_json::json!({"pad": pad}).to_string()).expect("write");
    let input = format!("@{}", input.display());
    let db = fixture.db();
    let bots = fixture.bots();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (
            vec![
                "run",
                &bots,
                "--workflow",
                "good",
                "--input",
                &input,
                "--id",
                "piped",
                "--db",
                &db,
                "--json",
            ],
            0,
        ),
        (
            vec!["run", &bots, "--workflow", "failing", "--db", &db, "--json"],
            1,
        ),
        (vec!["runs", "show", "piped", "--json", "--db", &db], 0),
        (vec!["runs", "show", "piped", "--db", &db], 0),
        (vec!["runs", "list", "--db", &db], 0),
        (vec!["runs", "list", "--json", "--db", &db], 0),
        (vec!["approvals", "list", "--json", "--db", &db], 0),
        (vec!["check", &bots, "--format", "json"], 0),
        (vec!["--help"], 0),
    ];
    for (args, code) in cases {
        let output = with_closed_stdout(&args);
        let stderr = text(&output.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    }
    // What was run while nobody read is recorded all the same.
    assert_eq!(fixture.show("piped")["status"], "completed");
}

#[test]
fn a_password_in_a_database_url_never_reaches_a_message() {
    let output = botflow_with(&["runs", "list", "--db", "mysql://app:s3cret@127.0.0.1/x"]);
    assert!(!output.status.success());
    let message = text(&output.stderr);
    assert!(
        message.contains("mysql://app:***@127.0.0.1/x") && !message.contains("s3cret"),
        "{message}"
    );
}
