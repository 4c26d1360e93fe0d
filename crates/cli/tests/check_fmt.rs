//! `botflow check` and `botflow fmt`, driven through the real binary.
//!
//! Tests marked "needs the parser", "needs the checker" or "needs the
//! formatter" state behaviour that holds once `basic` implements them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn botflow(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_botflow"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Writes `files` (relative path, contents) under a fresh temporary folder.
fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
    dir
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The process ended by itself with `code`, without a panic.
#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert!(
        !stderr(output).contains("panicked"),
        "panic:\n{}",
        stderr(output)
    );
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

fn json(output: &Output) -> Vec<Value> {
    let value: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(output)));
    value.as_array().expect("a JSON array").clone()
}

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support")
}

// ---- check: exit codes ------------------------------------------------------

#[test]
fn a_clean_script_passes_with_exit_0_and_a_summary() {
    let dir = tree(&[("hello.bas", b"TALK \"Hello\"\n")]);
    let output = botflow(&["check", "hello.bas"], dir.path());
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains("checked 1 file: 0 errors, 0 warnings"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_customer_support_template_has_no_errors() {
    let output = botflow(&["check", template().to_str().unwrap()], Path::new("."));
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains("checked 6 files: 0 errors"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unclosed_block_is_an_error_with_exit_1() {
    // Needs the parser.
    let dir = tree(&[("broken.bas", b"IF x > 1 THEN\n  TALK \"big\"\n")]);
    let output = botflow(&["check", "--color", "never", "broken.bas"], dir.path());
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(text.contains("error[E004]"), "{text}");
    assert!(
        text.contains("broken.bas:1:"),
        "rustc-style location: {text}"
    );
    assert!(text.contains("checked 1 file: 1 error"), "{text}");
}

#[test]
fn warnings_alone_exit_0() {
    // Needs the checker.
    let dir = tree(&[(
        "wait.bas",
        b"ORCHESTRATE WORKFLOW \"w\"\n  WAIT FOR EVENT \"paid\"\nEND WORKFLOW\n",
    )]);
    let output = botflow(&["check", "wait.bas"], dir.path());
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains("warning[W003]"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_or_unusable_paths_exit_2_with_one_line() {
    let dir = tree(&[("notes.txt", b"hello"), ("empty/readme.md", b"")]);
    for args in [
        &["check", "missing.bas"][..],
        &["check", "notes.txt"],
        &["check", "empty"],
        &["fmt", "missing.bas"],
    ] {
        let output = botflow(args, dir.path());
        assert_exit(&output, 2);
        let text = stderr(&output);
        assert_eq!(
            text.lines().count(),
            1,
            "{args:?}: one line expected:\n{text}"
        );
        assert!(text.starts_with("botflow: "), "{text}");
    }
    let empty = botflow(&["check", "empty"], dir.path());
    assert!(
        stderr(&empty).contains("<bot>.gbai"),
        "names what was expected: {}",
        stderr(&empty)
    );
}

#[test]
fn no_path_at_all_is_a_usage_error() {
    let dir = tree(&[]);
    assert_exit(&botflow(&["check"], dir.path()), 2);
    assert_exit(&botflow(&["fmt"], dir.path()), 2);
    assert_exit(
        &botflow(&["check", "--format", "xml", "a.bas"], dir.path()),
        2,
    );
}

// ---- check: deployments ----------------------------------------------------

#[test]
fn every_script_of_every_package_of_a_folder_is_checked() {
    let dir = tree(&[
        ("bots/a.gbai/a.gbdialog/one.bas", b"TALK 1\n"),
        ("bots/a.gbai/a.gbdialog/two.bas", b"TALK 2\n"),
        ("bots/b.gbai/b.gbdialog/start.bas", b"RETURN 1\n"),
        ("bots/b.gbai/b.gbdialog/readme.txt", b"not a script"),
    ]);
    let output = botflow(&["check", "bots"], dir.path());
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains("checked 3 files"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_broken_package_is_an_error_and_the_others_are_still_checked() {
    let dir = tree(&[
        ("bots/a.gbai/a.gbdialog/one.bas", b"TALK 1\n"),
        ("bots/b.gbai/README.md", b""),
    ]);
    let output = botflow(&["check", "--color", "never", "bots"], dir.path());
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(text.contains("b.gbdialog"), "{text}");
    assert!(text.contains("checked 1 file: 1 error"), "{text}");
}

#[test]
fn unknown_bots_are_errors_inside_a_deployment_only() {
    // Needs the parser and the checker.
    let script = b"ORCHESTRATE WORKFLOW \"w\"\n  STEP 1: BOT \"nobody\" \"help\"\n  STEP 2: BOT \"shop\" \"help\"\nEND WORKFLOW\n";
    let dir = tree(&[
        ("bots/flow.gbai/flow.gbdialog/flow.bas", script),
        ("bots/shop.gbai/shop.gbdialog/help.bas", b"RETURN 1\n"),
        ("loose/flow.bas", script),
    ]);
    for path in [
        "bots",
        "bots/flow.gbai",
        "bots/flow.gbai/flow.gbdialog/flow.bas",
    ] {
        let output = botflow(&["check", "--format", "json", path], dir.path());
        assert_exit(&output, 1);
        let codes: Vec<Value> = json(&output).iter().map(|d| d["code"].clone()).collect();
        assert_eq!(codes, ["E010"], "{path}: only \"nobody\" is unknown");
    }
    // A script outside any package cannot know the bots: no bot is unknown.
    let output = botflow(&["check", "--format", "json", "loose/flow.bas"], dir.path());
    assert_exit(&output, 0);
}

// ---- check: JSON -----------------------------------------------------------

#[test]
fn json_output_is_one_array_of_positioned_diagnostics() {
    let dir = tree(&[
        ("bad.bas", b"TALK \"ok\"\nTALK \"caf\xe9\"\n"),
        ("good.bas", b"TALK 1\n"),
    ]);
    let output = botflow(
        &["check", "--format", "json", "bad.bas", "good.bas"],
        dir.path(),
    );
    assert_exit(&output, 1);
    assert_eq!(
        json(&output),
        [serde_json::json!({
            "file": "bad.bas",
            "line": 2,
            "column": 10,
            "end_line": 2,
            "end_column": 11,
            "code": "E024",
            "severity": "error",
            "message": "the file is not valid UTF-8 (invalid byte at offset 19)",
            "hint": "save the file as UTF-8",
        })]
    );
    assert!(
        stderr(&output).is_empty(),
        "JSON mode keeps stderr quiet: {}",
        stderr(&output)
    );
}

#[test]
fn json_output_of_a_clean_run_is_an_empty_array() {
    let dir = tree(&[("good.bas", b"TALK 1\n")]);
    let output = botflow(&["check", "--format", "json", "good.bas"], dir.path());
    assert_exit(&output, 0);
    assert_eq!(json(&output), Vec::<Value>::new());
}

#[test]
fn json_diagnostics_have_every_field() {
    // Needs the parser.
    let dir = tree(&[("broken.bas", b"TALK \"a\"\nEND IF\n")]);
    let output = botflow(&["check", "--format", "json", "broken.bas"], dir.path());
    assert_exit(&output, 1);
    let diagnostics = json(&output);
    assert!(!diagnostics.is_empty());
    for diagnostic in diagnostics {
        let object = diagnostic.as_object().unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "file",
                "line",
                "column",
                "end_line",
                "end_column",
                "code",
                "severity",
                "message",
                "hint"
            ]
        );
        assert_eq!(object["file"], "broken.bas");
        assert_eq!(object["line"], 2);
        assert_eq!(object["code"], "E006");
    }
}

// ---- check: bad input never crashes ----------------------------------------

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let dir = tree(&[("latin1.bas", b"TALK \"ol\xe1\"\n")]);
    let output = botflow(&["check", "--color", "never", "latin1.bas"], dir.path());
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("error[E024]"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_nul_byte_is_a_diagnostic() {
    // Needs the parser.
    let dir = tree(&[("nul.bas", b"TALK \"a\"\n\0\nTALK \"b\"\n")]);
    let output = botflow(&["check", "--color", "never", "nul.bas"], dir.path());
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("error[E001]"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn ten_thousand_nested_ifs_are_a_diagnostic() {
    // Needs the parser.
    let mut source = "IF x THEN\n".repeat(10_000);
    source.push_str(&"END IF\n".repeat(10_000));
    let dir = tree(&[("deep.bas", source.as_bytes())]);
    let output = botflow(&["check", "--color", "never", "deep.bas"], dir.path());
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("error[E013]"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_50_mb_file_is_refused() {
    let dir = tree(&[]);
    let file = fs::File::create(dir.path().join("huge.bas")).unwrap();
    file.set_len(50 * 1024 * 1024).unwrap(); // sparse: costs no disk
    let output = botflow(&["check", "--color", "never", "huge.bas"], dir.path());
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains("huge.bas") && text.contains("more than the limit of 8 MiB"),
        "{text}"
    );
    let output = botflow(&["fmt", "huge.bas"], dir.path());
    assert_exit(&output, 1);
}

// ---- fmt -------------------------------------------------------------------

#[test]
fn fmt_check_lists_a_file_that_would_change_and_writes_nothing() {
    // Needs the parser and the formatter.
    let messy = b"talk   \"hi\"\nif x then\ntalk 1\nend if\n";
    let dir = tree(&[("messy.bas", messy)]);
    let output = botflow(&["fmt", "--check", "messy.bas"], dir.path());
    assert_exit(&output, 1);
    assert_eq!(stdout(&output).trim(), "messy.bas");
    assert_eq!(
        fs::read(dir.path().join("messy.bas")).unwrap(),
        messy,
        "--check writes nothing"
    );
}

#[test]
fn fmt_formats_in_place_then_has_nothing_to_do() {
    // Needs the parser and the formatter.
    let dir = tree(&[("messy.bas", b"talk   \"hi\"\nif x then\ntalk 1\nend if\n")]);
    let output = botflow(&["fmt", "messy.bas"], dir.path());
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains("formatted 1 file"),
        "{}",
        stderr(&output)
    );
    let formatted = fs::read_to_string(dir.path().join("messy.bas")).unwrap();
    assert!(formatted.contains("TALK \"hi\""), "{formatted}");

    let again = botflow(&["fmt", "--check", "messy.bas"], dir.path());
    assert_exit(&again, 0);
    assert_eq!(stdout(&again), "", "a formatted file needs no change");
    let again = botflow(&["fmt", "messy.bas"], dir.path());
    assert_exit(&again, 0);
    assert!(
        stderr(&again).contains("nothing to do"),
        "{}",
        stderr(&again)
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["messy.bas"], "no temporary file is left behind");
}

#[test]
fn fmt_check_passes_on_the_template() {
    // Needs the parser and the formatter (and a template written in the canonical style).
    let output = botflow(
        &["fmt", "--check", template().to_str().unwrap()],
        Path::new("."),
    );
    assert_exit(&output, 0);
}

#[test]
fn fmt_leaves_a_file_with_errors_untouched() {
    // Needs the parser.
    let broken = b"talk   \"hi\"\nIF x THEN\n";
    let dir = tree(&[("broken.bas", broken)]);
    let output = botflow(&["fmt", "--color", "never", "broken.bas"], dir.path());
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("error[E004]"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read(dir.path().join("broken.bas")).unwrap(), broken);
}

#[test]
fn fmt_refuses_invalid_utf8_and_leaves_the_file() {
    let bad = b"talk \"\xff\"\n";
    let dir = tree(&[("bad.bas", bad)]);
    let output = botflow(&["fmt", "--color", "never", "bad.bas"], dir.path());
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("error[E024]"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read(dir.path().join("bad.bas")).unwrap(), bad);
}
