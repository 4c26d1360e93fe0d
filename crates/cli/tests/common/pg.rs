//! What the tests of many nodes on one PostgreSQL share (issue 7): a fresh
//! schema per test with a store on it, the workflows and their `clerk` bot,
//! real `botflow worker` processes with their logs, and the checks every
//! such test ends with (each step recorded once; one driver per lease epoch).
//!
//! PostgreSQL comes from `BOTFLOW_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`), Redis from `BOTFLOW_TEST_REDIS`
//! (default `redis://127.0.0.1:6379`); unreachable, a test prints a notice and
//! passes, unless `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use runtime::{Options, Runtime, WakeupConfig};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use store::{AnyStore, RunFilter, RunRecord, RunStatus, StepStatus, Store};

use super::botflow;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// Steps, then two branches at once, then a last step.
pub const MULTI: &str = r#"ORCHESTRATE WORKFLOW "multi"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: PARALLEL
    BRANCH A: BOT "clerk" "file"
    BRANCH B: BOT "clerk" "check"
  END PARALLEL
  STEP 3: BOT "clerk" "close"
  RETURN "done"
END WORKFLOW
"#;

/// The same around a human approval.
pub const GATED: &str = r#"ORCHESTRATE WORKFLOW "gated"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: HUMAN APPROVAL FROM "boss@example.com"
    TIMEOUT 600
    ON DENY: CONTINUE
  STEP 3: PARALLEL
    BRANCH A: BOT "clerk" "file"
    BRANCH B: BOT "clerk" "check"
  END PARALLEL
  STEP 4: BOT "clerk" "close"
  RETURN approval.approved
END WORKFLOW
"#;

/// Six steps one after the other: runs that keep a driver busy a while.
pub const LONG: &str = r#"ORCHESTRATE WORKFLOW "long"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: BOT "clerk" "file"
  STEP 3: BOT "clerk" "check"
  STEP 4: BOT "clerk" "file"
  STEP 5: BOT "clerk" "check"
  STEP 6: BOT "clerk" "close"
  RETURN "done"
END WORKFLOW
"#;

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

pub fn skip(test: &str, what: &str, why: &str) {
    assert!(!in_ci(), "{what} is unreachable and CI=true: {why}");
    eprintln!("notice: skipping {test}: {what} unreachable: {why}");
}

/// SplitMix64, seeded from `BOTFLOW_TEST_SEED` or the clock (printed).
pub struct Rng(u64);

impl Rng {
    pub fn seeded(test: &str) -> Rng {
        let seed = std::env::var("BOTFLOW_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(7, |d| d.as_nanos() as u64)
            });
        println!("{test}: seed {seed} (replay with BOTFLOW_TEST_SEED={seed})");
        Rng(seed)
    }

    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Duration::from_millis(lo + z % (hi - lo + 1))
    }
}

/// A fresh schema of the test database and a store on it, through which
/// the test starts runs and looks at what the workers did.
pub struct Db {
    pub rt: tokio::runtime::Runtime,
    pub base: String,
    pub schema: String,
    /// The URL the processes get: the schema as the search path, and the
    /// schema's name as the application name of their sessions (so a test
    /// can find its workers' backends, and only those).
    pub url: String,
    pub store: AnyStore,
}

impl Db {
    pub fn open(test: &str) -> Option<Db> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let base = std::env::var("BOTFLOW_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let schema = format!("mn_{}", uuid::Uuid::now_v7().simple());
        let created = rt.block_on(async {
            let mut conn =
                tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&base))
                    .await
                    .map_err(|_| "timed out after 5 s".to_owned())?
                    .map_err(|e| e.to_string())?;
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok::<_, String>(())
        });
        if let Err(why) = created {
            skip(test, &base, &why);
            return None;
        }
        let glue = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{glue}options=-c%20search_path%3D{schema}");
        let store = rt
            .block_on(AnyStore::open(&url))
            .expect("the store opens on the new schema");
        let url = format!("{url}&application_name={schema}");
        Some(Db {
            rt,
            base,
            schema,
            url,
            store,
        })
    }

    pub fn run(&self, id: &str) -> RunRecord {
        self.rt
            .block_on(self.store.run(id))
            .expect("read the run")
            .unwrap_or_else(|| panic!("run {id} exists"))
    }

    /// Every run, by id.
    pub fn runs(&self) -> BTreeMap<String, RunRecord> {
        self.rt.block_on(async {
            let summaries = self
                .store
                .list_runs(RunFilter {
                    limit: 100_000,
                    ..RunFilter::default()
                })
                .await
                .expect("list the runs");
            let mut runs = BTreeMap::new();
            for summary in summaries {
                if let Some(run) = self.store.run(&summary.id).await.expect("read a run") {
                    runs.insert(run.id.clone(), run);
                }
            }
            runs
        })
    }

    pub fn unfinished(&self) -> usize {
        self.rt
            .block_on(self.store.list_runs(RunFilter {
                limit: 100_000,
                ..RunFilter::default()
            }))
            .expect("list the runs")
            .iter()
            .filter(|r| !r.status.is_terminal())
            .count()
    }

    pub fn wait_all_ended(&self, deadline: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if self.unfinished() == 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Runs `node` drives right now: `running`, leased to it, lease not lapsed.
    pub fn held_by(&self, node: &str) -> BTreeMap<String, i64> {
        let now = now_ms();
        self.runs()
            .into_values()
            .filter(|r| {
                r.status == RunStatus::Running
                    && r.lease_owner.as_deref() == Some(node)
                    && r.lease_until.is_some_and(|until| until > now)
            })
            .map(|r| (r.id, r.lease_epoch))
            .collect()
    }

    /// A runtime of the test's own, a node that starts runs (and rings its
    /// wake-ups as `wakeups` says); it drives nothing.
    pub fn starter(&self, bots: &Path, wakeups: WakeupConfig) -> Runtime {
        let deployment = bots::load_deployment(bots).expect("the deployment loads");
        let store = self.store.clone();
        self.rt.block_on(async move {
            Runtime::new(
                store,
                deployment,
                Options {
                    wakeups,
                    ..Options::default()
                },
            )
        })
    }

    /// Starts runs of `workflow` with these ids, in one transaction.
    pub fn start(&self, starter: &Runtime, workflow: &str, ids: &[String]) {
        self.rt.block_on(async {
            let workflow = starter.workflow(Some(workflow)).expect("the workflow");
            let runs = ids.iter().map(|id| (json!({}), Some(id.clone()))).collect();
            let started = starter
                .start_many(&workflow, runs)
                .await
                .expect("the runs start");
            assert!(started.iter().all(|(_, created)| *created), "new runs");
            starter.flush_wakeups(Duration::from_secs(2)).await;
        });
    }

    /// What every run must show at the end: completed, every step row
    /// `done`, one `step_finished` per step row, one `run_completed`.
    /// Returns (steps, repeated bot attempts).
    pub fn assert_recorded_once(&self, id: &str) -> (usize, i64) {
        let run = self.run(id);
        assert_eq!(run.status, RunStatus::Completed, "{id}: {:?}", run.error);
        let (steps, journal) = self.rt.block_on(async {
            (
                self.store.steps(id).await.expect("read the steps"),
                self.store.journal(id).await.expect("read the journal"),
            )
        });
        assert!(!steps.is_empty(), "{id} recorded its steps");
        for step in &steps {
            assert_eq!(step.status, StepStatus::Done, "{id} step {}", step.path);
        }
        let mut finished: BTreeMap<String, usize> = BTreeMap::new();
        for entry in journal.iter().filter(|e| e.kind == "step_finished") {
            let path = entry.data["path"].as_str().unwrap_or_default().to_owned();
            *finished.entry(path).or_default() += 1;
        }
        // Every numbered step journals its end; a branch's bot call is a
        // step row of its own (`2/A`) that ends with its `PARALLEL`.
        let numbered: BTreeSet<&str> = steps
            .iter()
            .map(|s| s.path.as_str())
            .filter(|p| !p.contains('/'))
            .collect();
        let journaled: BTreeSet<&str> = finished.keys().map(String::as_str).collect();
        assert_eq!(
            journaled, numbered,
            "{id}: one step_finished per numbered step"
        );
        assert!(
            finished.values().all(|&n| n == 1),
            "{id}: a step finished twice: {finished:?}"
        );
        let completed = journal.iter().filter(|e| e.kind == "run_completed").count();
        assert_eq!(completed, 1, "{id}: the run completed once");
        let repeated = steps
            .iter()
            .filter(|s| s.kind == "bot")
            .map(|s| i64::from(s.attempts - 1))
            .sum();
        (steps.len(), repeated)
    }

    /// From now on, every change of a run's row that matters to fencing is
    /// recorded, in the order the row lock serialised them, in the table
    /// `commit_log` of the test's schema: a run created already leased
    /// (`create`), a lease taken (`claim`: the new epoch and its node), and
    /// every committed durable point (`commit`: the run's new version, the
    /// epoch it was fenced by, and the node holding that epoch). Rows of a
    /// transaction that did not commit vanish with it.
    ///
    /// The store's journal entries do not name the epoch they were written
    /// under, so this is the journal of epochs [`Db::assert_one_driver_per_epoch`] reads.
    pub fn record_commits(&self) {
        let s = &self.schema;
        let statements = [
            format!(
                "CREATE TABLE {s}.commit_log (seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, \
                 kind TEXT NOT NULL, version BIGINT NOT NULL, epoch BIGINT NOT NULL, node TEXT)"
            ),
            format!(
                "CREATE FUNCTION {s}.log_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF TG_OP = 'INSERT' THEN
                     INSERT INTO {s}.commit_log (run_id, kind, version, epoch, node)
                       VALUES (NEW.id, 'create', NEW.version, NEW.lease_epoch, NEW.lease_owner);
                   ELSIF NEW.version <> OLD.version THEN
                     -- A commit may give the lease up: the holder is the old owner.
                     INSERT INTO {s}.commit_log (run_id, kind, version, epoch, node)
                       VALUES (NEW.id, 'commit', NEW.version, NEW.lease_epoch, OLD.lease_owner);
                   ELSIF NEW.lease_epoch <> OLD.lease_epoch THEN
                     INSERT INTO {s}.commit_log (run_id, kind, version, epoch, node)
                       VALUES (NEW.id, 'claim', NEW.version, NEW.lease_epoch, NEW.lease_owner);
                   END IF;
                   RETURN NULL;
                 END $$"
            ),
            format!(
                "CREATE TRIGGER log_commit AFTER INSERT OR UPDATE ON {s}.runs \
                 FOR EACH ROW EXECUTE FUNCTION {s}.log_commit()"
            ),
        ];
        self.rt.block_on(async {
            let mut conn = PgConnection::connect(&self.base)
                .await
                .expect("connect to install the commit log");
            for statement in statements {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await
                    .expect("install the commit log");
            }
            let _ = conn.close().await;
        });
    }

    /// Reads `commit_log` (see [`Db::record_commits`]) and checks that no run
    /// ever had two concurrent drivers: for each run, in the order of its
    /// row's changes, the epochs never go down, every epoch was taken by one
    /// node once, every commit was fenced by the epoch its node held, and
    /// each commit applied to the state the previous one left (versions
    /// 1, 2, 3, … without a gap or a repeat). Returns (runs checked,
    /// commits, claims).
    pub fn assert_one_driver_per_epoch(&self) -> (usize, usize, usize) {
        type Row = (String, String, i64, i64, Option<String>);
        let rows: Vec<Row> = self.rt.block_on(async {
            let mut conn = PgConnection::connect(&self.base)
                .await
                .expect("connect to read the commit log");
            let rows = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT run_id, kind, version, epoch, node FROM {}.commit_log ORDER BY seq",
                self.schema
            )))
            .fetch_all(&mut conn)
            .await
            .expect("read the commit log");
            let _ = conn.close().await;
            rows
        });
        let mut by_run: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for row in &rows {
            by_run.entry(row.0.as_str()).or_default().push(row);
        }
        let (mut commits, mut claims) = (0, 0);
        for (run, history) in &by_run {
            // Who holds each epoch, from the claim (or creation) that set it.
            let mut holders: BTreeMap<i64, Option<&str>> = BTreeMap::new();
            let mut last_epoch = i64::MIN;
            let mut last_version = 0;
            for (_, kind, version, epoch, node) in history {
                assert!(
                    *epoch >= last_epoch,
                    "{run}: epoch {epoch} came after {last_epoch}: {history:?}"
                );
                last_epoch = *epoch;
                match kind.as_str() {
                    "create" | "claim" => {
                        if kind == "claim" {
                            claims += 1;
                        }
                        let before = holders.insert(*epoch, node.as_deref());
                        assert!(
                            before.is_none(),
                            "{run}: epoch {epoch} was taken twice: {history:?}"
                        );
                        if kind == "create" {
                            // Version 1 when its first point created it
                            // (leased), else 0 (started for a worker to claim).
                            assert!(*version <= 1, "{run}: created at version {version}");
                            last_version = *version;
                        }
                    }
                    "commit" => {
                        commits += 1;
                        let holder = holders.get(epoch).copied().flatten();
                        assert!(
                            node.is_some() && node.as_deref() == holder,
                            "{run}: a commit under epoch {epoch} by {node:?}, which {holder:?} \
                             holds: {history:?}"
                        );
                        assert_eq!(
                            *version,
                            last_version + 1,
                            "{run}: each commit applies to the state the previous one left: \
                             {history:?}"
                        );
                        last_version = *version;
                    }
                    other => panic!("{run}: unknown commit log kind {other}"),
                }
            }
        }
        (by_run.len(), commits, claims)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.rt.block_on(async {
            self.store.close().await;
            if let Ok(mut conn) = PgConnection::connect(&self.base).await {
                // Best effort: a leftover schema harms no other test.
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP SCHEMA {} CASCADE",
                    self.schema
                )))
                .execute(&mut conn)
                .await;
                let _ = conn.close().await;
            }
        });
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The test Redis, or `None` (after a notice) when nothing answers there.
pub fn redis(test: &str) -> Option<String> {
    let url = std::env::var("BOTFLOW_TEST_REDIS").unwrap_or_else(|_| DEFAULT_REDIS.to_owned());
    let authority = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or_default();
    let hostport = authority.rsplit('@').next().unwrap_or_default();
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|addr| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)));
    match reachable {
        Some(Ok(_)) => Some(url),
        Some(Err(error)) => {
            skip(test, &url, &error.to_string());
            None
        }
        None => {
            skip(test, &url, "the address does not resolve");
            None
        }
    }
}

/// A bots folder: the workflows and the `clerk` bot, one tool script per action.
pub fn deployment(dir: &Path) -> PathBuf {
    let bots = dir.join("bots");
    let flow = bots.join("flow.gbai/flow.gbdialog");
    let clerk = bots.join("clerk.gbai/clerk.gbdialog");
    std::fs::create_dir_all(&flow).expect("the workflow package");
    std::fs::create_dir_all(&clerk).expect("the clerk package");
    for (file, source) in [
        ("multi.bas", MULTI),
        ("gated.bas", GATED),
        ("long.bas", LONG),
    ] {
        std::fs::write(flow.join(file), source).expect("a workflow");
    }
    for action in ["prepare", "file", "check", "close"] {
        let tool = format!("DESCRIPTION \"{action}s the case\"\nRETURN {{\"{action}\": TRUE}}\n");
        std::fs::write(clerk.join(format!("{action}.bas")), tool).expect("a tool script");
    }
    bots
}

/// A `botflow worker` on the shared database, its output in a file.
pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

impl Worker {
    /// Worker `n` on `db`, with wake-ups over `redis` when given (else
    /// PostgreSQL LISTEN/NOTIFY), polling every `poll_ms`, holding its
    /// claims for `lease_ms`.
    pub fn start(
        bots: &Path,
        db: &Db,
        redis: Option<&str>,
        dir: &Path,
        n: usize,
        poll_ms: u64,
        lease_ms: &str,
    ) -> Worker {
        let log = dir.join(format!("worker-{n}.log"));
        let out = File::create(&log).expect("the worker's log");
        let err = out.try_clone().expect("the worker's log, again");
        let mut command = botflow();
        command
            .env("BOTFLOW_LEASE_MS", lease_ms)
            .env_remove("BOTFLOW_REDIS")
            .args(["worker", "--poll-ms", &poll_ms.to_string(), "--bots"])
            .arg(bots)
            .args(["--db", &db.url]);
        if let Some(redis) = redis {
            command.args(["--redis", redis]);
        }
        let child = command
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("botflow worker starts");
        Worker { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The node id it printed at start (waits for it).
    pub fn node(&self) -> String {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.starts_with("worker "))
                && let Some(id) = line.split_whitespace().nth(1)
            {
                return id.to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the worker never said it started: {}", self.log());
    }

    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal}");
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL and reap; false when it had already exited (workers never do).
    pub fn kill(&mut self) -> bool {
        let alive = self.alive();
        let _ = self.child.kill();
        let _ = self.child.wait();
        alive
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
