//! `SET SCHEDULE` across crashes, with real processes: a `botflow worker`
//! serving a one-second schedule is SIGKILLed at random moments and
//! restarted (sometimes after a pause, so ticks fall due while nothing
//! runs). Afterwards the runs form a gapless sequence of ticks from the first
//! to the last, each started once, and every one completed: no tick skipped
//! or doubled, whenever the kill came.
//!
//! The kill times come from a seed printed by the test; set
//! `BOTFLOW_TEST_SEED` to replay one.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::{botflow, resume, text};

const BEAT: &str = "SET SCHEDULE \"every 1 second\"\n\
ORCHESTRATE WORKFLOW \"beat\"\n  RETURN tick\nEND WORKFLOW\n";

/// How many times the worker is killed.
const KILLS: usize = 8;

fn bots(dir: &Path) -> PathBuf {
    let bots = dir.join("bots");
    let dialog = bots.join("clock.gbai/clock.gbdialog");
    std::fs::create_dir_all(&dialog).expect("create the package");
    std::fs::write(dialog.join("beat.bas"), BEAT).expect("write the workflow");
    bots
}

fn worker(bots: &Path, db: &Path) -> Child {
    botflow()
        .args(["worker", "--poll-ms", "100", "--bots"])
        .arg(bots)
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("botflow worker starts")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift64*), so a failing seed replays.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Every run as (id, status), from `botflow runs list --json`.
fn runs(db: &Path) -> Vec<(String, String)> {
    let output = botflow()
        .args(["runs", "list", "--json", "--limit", "100000", "--db"])
        .arg(db)
        .output()
        .expect("botflow runs list runs");
    assert!(
        output.status.success(),
        "runs list failed: {}",
        text(&output.stderr)
    );
    let rows: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("runs list prints JSON");
    rows.as_array()
        .expect("a JSON array")
        .iter()
        .map(|row| {
            (
                row["id"].as_str().expect("an id").to_owned(),
                row["status"].as_str().expect("a status").to_owned(),
            )
        })
        .collect()
}

/// The tick of a scheduled run's id (`beat:tick:<ms>`).
fn tick_of(id: &str) -> i64 {
    id.strip_prefix("beat:tick:")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("not a scheduled run id: {id}"))
}

#[test]
fn a_schedule_killed_at_random_moments_never_skips_or_doubles_a_tick() {
    let seed = std::env::var("BOTFLOW_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::try_from(now_ms()).unwrap_or(1) | 1);
    println!("seed {seed} (replay with BOTFLOW_TEST_SEED={seed})");
    let mut random = Random(seed);
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = bots(dir.path());
    let db = dir.path().join("botflow.db");

    for kill in 1..=KILLS {
        let mut child = worker(&bots, &db);
        let uptime = 100 + random.below(1_300);
        std::thread::sleep(Duration::from_millis(uptime));
        child.kill().expect("SIGKILL the worker");
        child.wait().expect("the killed worker is reaped");
        // Sometimes nothing runs for a while, and ticks fall due meanwhile.
        let downtime = random.below(1_500);
        println!("kill {kill}: after {uptime} ms up, then {downtime} ms down");
        std::thread::sleep(Duration::from_millis(downtime));
    }

    // The last worker catches up every tick missed so far, then is stopped.
    let restarted_at = now_ms();
    let last = worker(&bots, &db);
    let deadline = Instant::now() + Duration::from_secs(60);
    let caught_up = loop {
        let latest = runs(&db).iter().map(|(id, _)| tick_of(id)).max();
        if latest.is_some_and(|tick| tick >= restarted_at) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let pid = last.id().to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let output = last.wait_with_output().expect("the worker stops");
    assert!(
        caught_up,
        "the last worker started the ticks up to its start: {}",
        text(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // Runs created by a worker's last pass before it stopped or was killed
    // are driven by the next `resume`, as any run left behind.
    resume(&bots, &db);

    let runs = runs(&db);
    let mut ticks: Vec<i64> = runs.iter().map(|(id, _)| tick_of(id)).collect();
    ticks.sort_unstable();
    let first = ticks[0];
    let last = ticks[ticks.len() - 1];
    let expected: Vec<i64> = (0..=(last - first) / 1_000)
        .map(|n| first + n * 1_000)
        .collect();
    assert_eq!(
        ticks, expected,
        "one run per tick from the first to the last, none missing or twice"
    );
    let unfinished: Vec<&(String, String)> = runs
        .iter()
        .filter(|(_, status)| status != "completed")
        .collect();
    assert!(unfinished.is_empty(), "every run completed: {unfinished:?}");
    println!(
        "{} ticks ({} .. {}), {KILLS} kills, every tick started once and completed",
        ticks.len(),
        first,
        last
    );
}
