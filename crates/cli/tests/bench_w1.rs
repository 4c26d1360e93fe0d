//! `botflow bench w1`: a small, fast run of the benchmark that checks only
//! correctness (every workflow completed, each bot ran and the event was
//! published exactly once, the JSON has every figure), never timing.

mod common;

use serde_json::Value;

use common::{botflow, text};

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the bench wrote its JSON");
    serde_json::from_str(&text).expect("the JSON parses")
}

/// Runs `botflow bench w1 ARGS --json JSON`, asserts it succeeded and
/// returns its stdout (the table).
fn bench_w1(args: &[&str], json: &std::path::Path) -> String {
    let output = botflow()
        .args(["bench", "w1"])
        .args(args)
        .arg("--json")
        .arg(json)
        .output()
        .expect("botflow bench runs");
    assert!(
        output.status.success(),
        "bench failed: {}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

#[test]
fn every_phase_of_both_variants_completes_each_workflow_exactly_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let json = dir.path().join("w1.json");
    let stdout = bench_w1(
        &[
            "--variant",
            "both",
            "--concurrency",
            "1,4,16",
            "--runs",
            "12",
            "--warmup",
            "3",
        ],
        &json,
    );
    assert!(stdout.contains("| variant | c |"), "no table: {stdout}");

    let report = read_json(&json);
    assert_eq!(report["workload"], "W1");
    assert_eq!(report["mode"], "inproc");
    let phases = report["phases"].as_array().expect("phases");
    let seen: Vec<(String, u64)> = phases
        .iter()
        .map(|p| {
            (
                p["variant"].as_str().expect("variant").to_owned(),
                p["concurrency"].as_u64().expect("concurrency"),
            )
        })
        .collect();
    let mut expected = Vec::new();
    for variant in ["noapproval", "approval"] {
        for c in [1, 4, 16] {
            expected.push((variant.to_owned(), c));
        }
    }
    assert_eq!(seen, expected);
    for phase in phases {
        let what = format!("{} c={}", phase["variant"], phase["concurrency"]);
        assert_eq!(phase["started"], 12, "{what}");
        assert_eq!(phase["completed"], 12, "{what}");
        assert_eq!(phase["failed"], 0, "{what}");
        assert_eq!(phase["capped"], false, "{what}");
        for field in [
            "wall_s",
            "wf_per_s",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "cpu_ms_per_wf",
        ] {
            assert!(phase[field].is_number(), "{what}: {field} missing");
        }
        let log = &phase["log"];
        assert_eq!(log["runs"], 12, "{what}");
        assert_eq!(log["exact"], 12, "{what}");
        assert_eq!(log["missing"], 0, "{what}");
        assert_eq!(log["duplicates"], 0, "{what}");
    }
}

#[test]
fn over_http_every_phase_of_both_variants_completes_each_workflow_exactly_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let json = dir.path().join("w1-http.json");
    let stdout = bench_w1(
        &[
            "--mode",
            "http",
            "--variant",
            "both",
            "--concurrency",
            "1,4",
            "--runs",
            "8",
            "--warmup",
            "2",
        ],
        &json,
    );
    assert!(
        stdout.contains("start p50 ms"),
        "no start latency column: {stdout}"
    );

    let report = read_json(&json);
    assert_eq!(report["mode"], "http");
    let phases = report["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 4, "two variants at two concurrencies");
    for phase in phases {
        let what = format!("{} c={}", phase["variant"], phase["concurrency"]);
        assert_eq!(phase["started"], 8, "{what}");
        assert_eq!(phase["completed"], 8, "{what}");
        assert_eq!(phase["failed"], 0, "{what}");
        for field in [
            "wf_per_s",
            "p50_ms",
            "p99_ms",
            "start_p50_ms",
            "start_p99_ms",
        ] {
            assert!(phase[field].is_number(), "{what}: {field} missing");
        }
        let log = &phase["log"];
        assert_eq!(log["exact"], 8, "{what}");
        assert_eq!(log["missing"], 0, "{what}");
        assert_eq!(log["duplicates"], 0, "{what}");
    }
}

#[test]
fn a_killed_and_restarted_durability_run_completes_every_workflow_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let json = dir.path().join("durability.json");
    // Kill at 40 % at once: 40 workflows can finish within 150 ms.
    bench_w1(
        &["--durability", "--runs", "40", "--max-kill-delay-ms", "0"],
        &json,
    );
    let report = read_json(&json);
    assert_eq!(report["killed"], true, "the child was never killed");
    let d = &report["durability"];
    assert_eq!(d["runs"], 40);
    assert_eq!(d["completed"], 40);
    assert_eq!(d["double_publishes"], 0);
    assert_eq!(d["published_in_store"], 40);
    assert_eq!(d["double_publishes_in_store"], 0);
    assert_eq!(d["missing_unexplained"], 0);
    assert!(d["recovery_s"].is_number());
    assert!(d["published_at_kill"].as_u64().expect("published_at_kill") >= 16);
    // Re-executions only for steps in flight at the kill: at most 32 runs
    // were in flight, each with at most two bot steps (the PARALLEL branches).
    let reexecutions = d["bot_reexecutions"].as_u64().expect("bot_reexecutions");
    assert!(reexecutions <= 64, "{reexecutions} bot re-executions");
}

#[test]
fn bad_bench_arguments_are_refused_with_a_usage_error() {
    for args in [
        &["bench", "w1", "--db", "mysql://x"][..],
        &["bench", "w1", "--concurrency", "0"],
        &["bench", "w1", "--runs", "0"],
        &["bench", "w1", "--time-cap", "-1"],
        &["bench", "w1", "--mode", "http", "--durability"],
    ] {
        let output = botflow().args(args).output().expect("botflow runs");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
}

/// W1.md §5: on PostgreSQL the engine's CPU includes its server's. The
/// server here runs on this machine, so the bench finds it and counts it.
#[test]
fn on_postgresql_the_cpu_per_workflow_includes_the_servers() {
    let Some(db) = common::pg::Db::open("bench_w1_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let json = dir.path().join("w1-pg.json");
    let stdout = bench_w1(
        &[
            "--db",
            &db.url,
            "--variant",
            "noapproval",
            "--concurrency",
            "2",
            "--runs",
            "6",
            "--warmup",
            "1",
        ],
        &json,
    );
    assert!(
        stdout.contains("CPU includes its server's"),
        "the table says what its CPU counts: {stdout}"
    );
    let report = read_json(&json);
    assert_eq!(report["db"], "postgres");
    assert_eq!(report["pg_cpu_included"], true);
    let phase = &report["phases"][0];
    assert_eq!(phase["completed"], 6);
    let server = phase["server_cpu_ms_per_wf"]
        .as_f64()
        .expect("the server's CPU per workflow");
    let total = phase["cpu_ms_per_wf"].as_f64().expect("CPU per workflow");
    assert!(
        server >= 0.0 && total >= server,
        "server {server} ms within total {total} ms"
    );
}
