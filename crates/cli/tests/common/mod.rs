//! Helpers shared by the tests that drive the `botflow` binary as a user would.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

pub mod serve;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

pub mod pg;

/// The `botflow` binary with an environment that cannot leak into a test: no
/// crash hook, no default database or bots folder, no colours, no stdin, and
/// short leases so a killed process's runs are taken over quickly.
pub fn botflow() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_botflow"));
    command
        .env("BOTFLOW_LEASE_MS", "200")
        .env("NO_COLOR", "1")
        .env_remove("BOTFLOW_CRASH_AFTER_COMMITS")
        .env_remove("BOTFLOW_DB")
        .env_remove("BOTFLOW_BOTS")
        .stdin(Stdio::null());
    command
}

/// Output bytes as text, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `botflow resume`, which must succeed.
pub fn resume(bots: &Path, db: &Path) {
    let output = botflow()
        .args(["resume", "--bots"])
        .arg(bots)
        .arg("--db")
        .arg(db)
        .output()
        .expect("botflow resume runs");
    assert!(
        output.status.success(),
        "resume failed: {}",
        text(&output.stderr)
    );
}

/// `botflow runs show ID --json`, which must succeed.
pub fn show(db: &Path, id: &str) -> Value {
    let output = botflow()
        .args(["runs", "show", id, "--json", "--db"])
        .arg(db)
        .output()
        .expect("botflow runs show runs");
    assert!(
        output.status.success(),
        "runs show {id} failed: {}",
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("runs show prints JSON")
}
