//! Crash tests with real processes (DESIGN.md, Tests).
//!
//! A child `botflow run` is killed at every durable point in turn — by the
//! crash-point hook `BOTFLOW_CRASH_AFTER_COMMITS=N`, which aborts the process
//! right after its N-th group commit and before anybody hears of it — and at
//! random moments with SIGKILL. Then `botflow resume` (or, after a random
//! kill, starting the same run id again) must finish the run
//! with every step recorded once, the same final variables as a run that
//! never crashed, and no bot side effect committed twice.
//!
//! Every bot script of the copied template counts its executions in its own
//! memory under `runs_<idempotency key>`: a bot memory write commits with the
//! step's answer, so a count above 1 is a step whose effects were recorded
//! twice. The steps' `attempts` show re-asked bots (at most one extra ask per
//! step in flight at the kill).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

mod common;

use common::{botflow, resume, show};
use serde_json::Value;

const COUNTER: &str = "counter_key = \"runs_\" & idempotency_key\n\
                       seen_runs = GET BOT MEMORY(counter_key)\n\
                       SET BOT MEMORY counter_key, (seen_runs ?? 0) + 1\n";

const LOOPS: &str = r#"ORCHESTRATE WORKFLOW "loops"
  total = 0
  FOR i = 1 TO 3
    STEP 1: BOT "adder" "add" WITH {"n": i, "total": total}
  NEXT i
  STEP 2: PARALLEL
    BRANCH A: BOT "adder" "add" WITH {"n": 10, "total": total} INTO extra
    BRANCH B:
      STEP 3: BOT "order-checker" "validate order"
    END BRANCH
  END PARALLEL
  PUBLISH EVENT "loops_done" WITH {"total": total}
END WORKFLOW
"#;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a folder");
    for entry in std::fs::read_dir(from).expect("read a folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// The template, with every bot script counting its executions, plus the
/// `loops` workflow and its `adder` bot.
fn deployment(dir: &Path) -> PathBuf {
    let bots = dir.join("bots");
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support");
    copy_dir(&template, &bots);
    for bot in [
        "classifier",
        "order-checker",
        "refund-processor",
        "inventory-updater",
    ] {
        let dialog = bots.join(format!("{bot}.gbai/{bot}.gbdialog"));
        for entry in std::fs::read_dir(&dialog).expect("read a dialog folder") {
            let path = entry.expect("an entry").path();
            let source = std::fs::read_to_string(&path).expect("read a script");
            std::fs::write(&path, format!("{COUNTER}{source}")).expect("write a script");
        }
    }
    let flow = bots.join("loops.gbai/loops.gbdialog");
    std::fs::create_dir_all(&flow).expect("create loops");
    std::fs::write(flow.join("loops.bas"), LOOPS).expect("write loops");
    let adder = bots.join("adder.gbai/adder.gbdialog");
    std::fs::create_dir_all(&adder).expect("create adder");
    std::fs::write(
        adder.join("add.bas"),
        format!("{COUNTER}RETURN {{\"total\": total + n}}\n"),
    )
    .expect("write adder");
    bots
}

struct Case<'a> {
    workflow: &'a str,
    input: &'a str,
}

fn run(bots: &Path, db: &Path, case: &Case<'_>, id: &str, crash_after: Option<u64>) -> Output {
    let mut command = botflow();
    command.args([
        "run",
        &bots.display().to_string(),
        "--workflow",
        case.workflow,
        "--input",
        case.input,
        "--id",
        id,
        "--db",
        &db.display().to_string(),
        "--json",
    ]);
    if let Some(n) = crash_after {
        command.env("BOTFLOW_CRASH_AFTER_COMMITS", n.to_string());
    }
    command.output().expect("botflow runs")
}

/// How many times each bot step's effects were committed, from the bots' memory.
fn counters(db: &Path, run: &Value) -> Vec<(String, i64)> {
    let id = run["id"].as_str().expect("an id");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        use store::Store;
        let store = store::AnyStore::open(&db.display().to_string())
            .await
            .expect("the database opens");
        let mut found = Vec::new();
        for step in run["steps"].as_array().expect("steps") {
            let Some(bot) = step["bot"].as_str() else {
                continue;
            };
            let path = step["path"].as_str().expect("a path");
            let key = format!("runs_{id}:{path}");
            let count = store
                .memory(bot, &key)
                .await
                .expect("memory reads")
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            found.push((path.to_owned(), count));
        }
        store.close().await;
        found
    })
}

#[derive(Default, Debug)]
struct Tally {
    kills: usize,
    completed: usize,
    duplicates: usize,
    extra_asks: usize,
}

/// Checks a crashed-then-resumed run against the reference run.
fn verify(db: &Path, id: &str, reference: &Value, tally: &mut Tally) {
    let run = show(db, id);
    assert_eq!(run["status"], "completed", "run {id}: {run}");
    tally.completed += 1;
    assert_eq!(
        run["variables"], reference["variables"],
        "run {id} variables"
    );
    let steps = run["steps"].as_array().expect("steps");
    let mut paths: Vec<&str> = steps.iter().filter_map(|s| s["path"].as_str()).collect();
    let expected: Vec<&str> = reference["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    paths.sort_unstable();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort_unstable();
    assert_eq!(paths, expected_sorted, "run {id}: every step recorded once");
    for step in steps {
        assert_eq!(step["status"], "done", "run {id}: {step}");
        let attempts = step["attempts"].as_i64().expect("attempts");
        assert!(
            attempts <= 2,
            "run {id}: step asked more than twice: {step}"
        );
        if attempts == 2 {
            tally.extra_asks += 1;
        }
    }
    for (path, count) in counters(db, &run) {
        assert!(count >= 1, "run {id}: step {path} has no recorded effect");
        if count > 1 {
            tally.duplicates += 1;
        }
    }
    let events: Vec<&str> = run["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    let reference_events = reference["events"].as_array().expect("events").len();
    assert_eq!(
        events.len(),
        reference_events,
        "run {id}: events published once"
    );
}

fn crash_at_every_point(case: &Case<'_>, label: &str) -> Tally {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let db = dir.path().join("runs.db");

    let reference = run(&bots, &db, case, &format!("{label}-reference"), None);
    assert!(
        reference.status.success(),
        "the reference run failed: {}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let reference: Value = serde_json::from_slice(&reference.stdout).expect("--json output");
    let points = reference["version"]
        .as_u64()
        .expect("the run's point count");
    assert!(points >= 3, "{label}: {points} durable points");

    // The number of points can differ between runs (answers of parallel
    // branches may share a point or not), so crash at 1, 2, ... until a run
    // gets through without reaching its crash point.
    let mut tally = Tally::default();
    for n in 1..=points + 4 {
        let id = format!("{label}-crash-{n}");
        let output = run(&bots, &db, case, &id, Some(n));
        let died = !output.status.success() && output.status.code().is_none();
        if died {
            tally.kills += 1;
        } else {
            assert!(
                output.status.success(),
                "{id}: {:?} {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        resume(&bots, &db);
        verify(&db, &id, &reference, &mut tally);
        if !died {
            break;
        }
        assert!(n < points + 4, "{label}: still crashing after {n} commits");
    }

    // Kills at random moments (a fixed seed keeps the test reproducible).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for k in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let id = format!("{label}-kill-{k}");
        let mut command = botflow();
        command
            .args([
                "run",
                &bots.display().to_string(),
                "--workflow",
                case.workflow,
                "--input",
                case.input,
                "--id",
                &id,
                "--db",
                &db.display().to_string(),
                "--json",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("botflow starts");
        std::thread::sleep(Duration::from_millis(5 + seed % 60));
        let killed = child.kill().is_ok();
        let _ = child.wait();
        if killed {
            tally.kills += 1;
        }
        // Starting the same id again continues the run (or starts it, when
        // the kill came before it was created): never two runs.
        let again = run(&bots, &db, case, &id, None);
        assert!(
            again.status.success(),
            "{id}: the second start failed: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        verify(&db, &id, &reference, &mut tally);
    }
    println!(
        "{label}: {points} durable points; kills performed {}, runs completed {}, \
         duplicates found {}, steps asked twice {}",
        tally.kills, tally.completed, tally.duplicates, tally.extra_asks
    );
    tally
}

#[test]
fn the_template_survives_a_crash_at_every_durable_point() {
    let tally = crash_at_every_point(
        &Case {
            workflow: "customer-support",
            input: r#"{"complaint":"my order arrived broken","order_amount":50}"#,
        },
        "support",
    );
    assert_eq!(tally.duplicates, 0);
}

#[test]
fn a_parallel_and_loop_workflow_survives_a_crash_at_every_durable_point() {
    let tally = crash_at_every_point(
        &Case {
            workflow: "loops",
            input: "{}",
        },
        "loops",
    );
    assert_eq!(tally.duplicates, 0);
}
