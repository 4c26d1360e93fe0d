//! What the bench measures and reports: CPU time of this process, the
//! bot-log correctness check (W1.md §3, §5.4), latency percentiles, the
//! summary table (PEERS.md's columns) and the JSON.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::Variant;

/// What every W1 run must have in the bot log exactly once.
pub const EXPECTED: [&str; 5] = [
    "classifier",
    "order-checker",
    "refund-processor",
    "inventory-updater",
    "event:workflow_completed",
];

/// User+system CPU time of this process so far, in milliseconds.
///
/// Read from `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s
/// on Linux), which covers every thread of the process: the engine, its
/// store and the in-process driver tasks. `None` where there is no `/proc`.
pub fn cpu_ms() -> Option<f64> {
    cpu_ms_of("/proc/self/stat")
}

/// User+system CPU time of the calling thread so far, in milliseconds
/// (`/proc/thread-self/stat`, same fields): what the HTTP bench's client
/// thread costs, to be told apart from the engine's.
pub fn thread_cpu_ms() -> Option<f64> {
    cpu_ms_of("/proc/thread-self/stat")
}

fn cpu_ms_of(path: &str) -> Option<f64> {
    let stat = Stat::read(path)?;
    Some((stat.utime + stat.stime) * 10.0)
}

/// The fields of a `/proc/<pid>/stat` the bench reads (times in ticks of
/// 1/100 s).
struct Stat {
    ppid: u32,
    utime: f64,
    stime: f64,
    /// Time of reaped children.
    cutime: f64,
    cstime: f64,
}

impl Stat {
    fn read(path: &str) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(path).ok()?)
    }

    fn parse(stat: &str) -> Option<Stat> {
        // The command name (field 2) may hold spaces; fields after it follow ")".
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // `after` starts at field 3: field n is index n - 3.
        let number = |field: usize| fields.get(field - 3)?.parse::<f64>().ok();
        Some(Stat {
            ppid: fields.get(1)?.parse().ok()?,
            utime: number(14)?,
            stime: number(15)?,
            cutime: number(16)?,
            cstime: number(17)?,
        })
    }
}

/// The CPU time of a PostgreSQL server on this machine (W1.md §5: the
/// engine's CPU includes its store's server): the main process's own time
/// and that of its reaped children (backends that exited), plus the live
/// children's (backends, WAL writer, checkpointer, ...).
#[derive(Clone, Copy, Debug)]
pub struct ServerCpu {
    main: u32,
}

impl ServerCpu {
    /// The server whose backend has process id `backend`: its parent, if
    /// this machine's `/proc` shows both as `postgres` processes. `None`
    /// for a server elsewhere (another machine or container).
    pub fn of_backend(backend: i32) -> Option<ServerCpu> {
        let backend = u32::try_from(backend).ok()?;
        let is_postgres = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| matches!(comm.trim(), "postgres" | "postmaster"))
        };
        let main = Stat::read(&format!("/proc/{backend}/stat"))?.ppid;
        (is_postgres(backend) && is_postgres(main)).then_some(ServerCpu { main })
    }

    /// The server's CPU time so far, in milliseconds.
    pub fn ms(&self) -> Option<f64> {
        let main = Stat::read(&format!("/proc/{}/stat", self.main))?;
        let mut ticks = main.utime + main.stime + main.cutime + main.cstime;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            // A process may exit between the listing and the read: skipped,
            // its time is then in the main process's reaped-children time.
            if let Some(child) = Stat::read(&format!("/proc/{pid}/stat"))
                && child.ppid == self.main
            {
                ticks += child.utime + child.stime;
            }
        }
        Some(ticks * 10.0)
    }
}

/// The bot-log check over a set of runs.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct LogCheck {
    /// Runs checked.
    pub runs: usize,
    /// Runs whose log has each expected line exactly once.
    pub exact: usize,
    /// Expected (run, bot or event) lines that are not there.
    pub missing: usize,
    /// Lines beyond the first of any (run, bot or event).
    pub duplicates: usize,
    /// Runs that published `workflow_completed` more than once.
    pub double_publishes: usize,
    /// Bot executions beyond one per run and bot.
    pub bot_reexecutions: usize,
    /// Lines of runs outside the checked set, or that do not parse.
    pub foreign_lines: usize,
}

impl LogCheck {
    /// Whether every run ran each bot and published exactly once.
    pub fn ok(&self) -> bool {
        self.exact == self.runs && self.missing == 0 && self.duplicates == 0
    }
}

/// Reads the bot log at `path` and checks the runs in `ids`.
pub fn check_log(path: &Path, ids: &[String]) -> anyhow::Result<LogCheck> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the bot log {}", path.display()))?;
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    let mut check = LogCheck {
        runs: ids.len(),
        ..LogCheck::default()
    };
    for line in text.lines() {
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(run), Some(what), Some(_pid), None) if wanted.contains(run) => {
                *counts.entry((run, what)).or_default() += 1;
            }
            _ => check.foreign_lines += 1,
        }
    }
    for (&(_, what), &n) in &counts {
        if n > 1 {
            check.duplicates += n - 1;
            if what == "event:workflow_completed" {
                check.double_publishes += 1;
            } else if !what.starts_with("event:") {
                check.bot_reexecutions += n - 1;
            }
        }
    }
    for id in ids {
        let mut exact = true;
        for what in EXPECTED {
            match counts.get(&(id.as_str(), what)).copied().unwrap_or(0) {
                0 => {
                    check.missing += 1;
                    exact = false;
                }
                1 => {}
                _ => exact = false,
            }
        }
        if exact {
            check.exact += 1;
        }
    }
    Ok(check)
}

/// The figures of one phase.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseReport {
    pub variant: Variant,
    pub concurrency: usize,
    /// Workflows started (fewer than asked when the time cap stopped the phase).
    pub started: usize,
    /// Workflows that ended `completed` with a W1 result.
    pub completed: usize,
    /// Workflows that ended otherwise, or whose start or drive failed.
    pub failed: usize,
    /// Whether the time cap stopped the phase from starting all its workflows.
    pub capped: bool,
    pub wall_s: f64,
    pub wf_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Over HTTP: the start latency (request to `201`), p50 and p99.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_p99_ms: Option<f64>,
    /// User+system CPU per completed workflow of this process and, on
    /// PostgreSQL on this machine, of its server (`None` without `/proc`).
    pub cpu_ms_per_wf: Option<f64>,
    /// The PostgreSQL server's part of `cpu_ms_per_wf`, when it is counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_ms_per_wf: Option<f64>,
    /// Durable points and group commits during the phase.
    pub points: u64,
    pub commits: u64,
    pub log: LogCheck,
}

impl PhaseReport {
    /// Whether the phase is correct: all started runs completed and the bot log is exact.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.completed == self.started && self.log.ok()
    }
}

/// The `p`-th percentile (0–100) of sorted `values`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints the summary table to stdout. Phases run over HTTP (they have
/// start latencies) get the start p50 and p99 columns.
pub fn print_table(phases: &[PhaseReport], db: &str) -> anyhow::Result<()> {
    let http = phases.iter().any(|p| p.start_p50_ms.is_some());
    let (how, start_head, start_rule) = if http {
        (
            "over HTTP (loopback)",
            " start p50 ms | start p99 ms |",
            "---|---|",
        )
    } else {
        ("in-process", "", "")
    };
    outln!("\nW1 support-flow, {how}, store {db}")?;
    outln!(
        "| variant | c | completed | wf/s | p50 ms | p99 ms | max ms |{start_head} CPU ms/wf | points/commit | bot log |"
    )?;
    outln!("|---|---|---|---|---|---|---|{start_rule}---|---|---|")?;
    for p in phases {
        let cpu = p
            .cpu_ms_per_wf
            .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.3}"));
        let log = if p.log.ok() {
            "ok".to_owned()
        } else {
            format!("{} missing, {} duplicate", p.log.missing, p.log.duplicates)
        };
        let starts = if http {
            let ms = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"));
            format!(" {} | {} |", ms(p.start_p50_ms), ms(p.start_p99_ms))
        } else {
            String::new()
        };
        outln!(
            "| {} | {} | {}/{} | {:.1}{} | {:.2} | {:.2} | {:.2} |{} {} | {:.1} | {} |",
            p.variant.name(),
            p.concurrency,
            p.completed,
            p.started,
            p.wf_per_s,
            if p.capped { "*" } else { "" },
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            starts,
            cpu,
            p.points as f64 / p.commits.max(1) as f64,
            log
        )?;
    }
    if phases.iter().any(|p| p.capped) {
        outln!("* the time cap stopped the phase before it started all its workflows")?;
    }
    if http {
        outln!("CPU ms/wf over HTTP: the process (server and engine) less the client's thread")?;
    }
    Ok(())
}

/// The figures of the durability run (W1.md §6).
#[derive(Clone, Debug, Serialize)]
pub struct DurabilityReport {
    pub runs: usize,
    pub concurrency: usize,
    /// Workflows completed (from the store) after the restart.
    pub completed: usize,
    /// Runs whose `PUBLISH EVENT` is in the store exactly once.
    pub published_in_store: usize,
    /// Runs whose `PUBLISH EVENT` is in the store more than once.
    pub double_publishes_in_store: usize,
    /// Publishes in the store whose log line the kill lost (between the
    /// commit and the log write); not counted as missing.
    pub unlogged_publishes: usize,
    /// Expected log lines missing that no such lost publish explains.
    pub missing_unexplained: usize,
    /// How many had published when the child was killed.
    pub published_at_kill: usize,
    /// The random wait after reaching 40 %, in milliseconds.
    pub kill_delay_ms: u64,
    /// Runs with more than one `workflow_completed` line in the bot log.
    pub double_publishes: usize,
    /// Bot executions beyond one per run and bot (steps in flight at the kill).
    pub bot_reexecutions: usize,
    /// Seconds from the SIGKILL to the last completion (the restarted child's end).
    pub recovery_s: f64,
    pub log: LogCheck,
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod stat_tests {
    use super::{ServerCpu, Stat};

    #[test]
    fn a_stat_line_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (post gres) (x)) S 77 4242 4242 0 -1 4194560 100 0 0 0 \
                    1500 250 30 7 20 0 1 0 123 0 0";
        let stat = Stat::parse(line).expect("parses");
        assert_eq!(stat.ppid, 77);
        assert_eq!(
            (stat.utime, stat.stime, stat.cutime, stat.cstime),
            (1500.0, 250.0, 30.0, 7.0)
        );
        assert!(Stat::parse("4242 (cut short) S 77").is_none());
    }

    #[test]
    fn a_process_that_is_not_a_postgres_backend_has_no_server() {
        assert!(ServerCpu::of_backend(std::process::id() as i32).is_none());
        assert!(ServerCpu::of_backend(-1).is_none());
    }
}
