//! The crash test of `botflow serve` (issue 6): real server processes on
//! one loopback port over one SQLite file, SIGKILLed while runs are being
//! started over HTTP, while their bot steps run, while approvals are being
//! decided over HTTP and while decided runs go on; each time a new server
//! is started on the same store and port. A request whose answer was lost
//! is sent again: a start is answered with the run (created once), a
//! decision is accepted once or refused as already decided, never applied
//! twice (the test also throws away one acceptance in five, so that some
//! re-sent decisions surely meet a decided request). At the end every run completed, every step is recorded once, every
//! bot step's effects committed once, every request's audit trail holds one
//! decision and every run's journal one `approval_decided`.
//!
//! Prints its seed (`BOTFLOW_TEST_SEED=N` replays the same kill points) and
//! the counts it observed: `cargo test -p botflow --test serve_crash -- --nocapture`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::{RunStatus, StepStatus, Store};

mod common;
#[path = "common/processes.rs"]
mod processes;

use common::serve::{Server, json_of, token};
use processes::{Db, Rng};

const BOSS: &str = "boss@example.com";
const CLERK: &str = "clerk@example.com";
const RUNS: usize = 24;
/// Bot steps before the approval, and in all.
const STEPS_BEFORE: usize = 2;
const STEPS_ALL: usize = 4;
/// The servers' lease: a killed server's runs are taken over this long
/// after the kill. Well above a step's length here, even with every run's
/// steps sharing two cores, so only the kills make a bot be asked again.
const LEASE_MS: &str = "500";

/// Two bot steps, a human approval (a denial continues, so every run
/// completes and its result says which decision it saw), two bot steps.
const GATE: &str = r#"ORCHESTRATE WORKFLOW "gate"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: BOT "clerk" "check"
  STEP 3: HUMAN APPROVAL FROM "boss@example.com"
    TIMEOUT 600
    ON DENY: CONTINUE
  STEP 4: BOT "clerk" "file"
  STEP 5: BOT "clerk" "close"
  RETURN {"approved": approval.approved, "by": approval.by}
END WORKFLOW
"#;

/// Every tool script counts its executions in its bot's memory under
/// `runs_<idempotency key>`. A memory write commits with the step's
/// answer, so a count above 1 is a step whose effects were committed twice.
const COUNTER: &str = "counter_key = \"runs_\" & idempotency_key\n\
                       seen_runs = GET BOT MEMORY(counter_key)\n\
                       SET BOT MEMORY counter_key, (seen_runs ?? 0) + 1\n";

/// Busy work, so that a kill finds bot steps under way.
const SPIN: &str = "spin = 0\nFOR i = 1 TO 2000\n  spin = spin + 1\nNEXT i\n";

const ACTIONS: [&str; STEPS_ALL] = ["prepare", "check", "file", "close"];

/// The bots folder: the `gate` workflow and the `clerk` bot, one tool
/// script per action.
fn deployment(dir: &Path) -> PathBuf {
    let bots = dir.join("bots");
    let flow = bots.join("flow.gbai/flow.gbdialog");
    let clerk = bots.join("clerk.gbai/clerk.gbdialog");
    std::fs::create_dir_all(&flow).expect("the workflow package");
    std::fs::create_dir_all(&clerk).expect("the clerk package");
    std::fs::write(flow.join("main.bas"), GATE).expect("the workflow");
    for action in ACTIONS {
        let tool = format!(
            "DESCRIPTION \"{action}s the case\"\n{COUNTER}{SPIN}RETURN {{\"{action}\": TRUE}}\n"
        );
        std::fs::write(clerk.join(format!("{action}.bas")), tool).expect("a tool script");
    }
    bots
}

/// Every fourth case is denied (and continues, `ON DENY: CONTINUE`).
fn approves(i: usize) -> bool {
    i % 4 != 3
}

/// What became of one HTTP request.
enum Sent {
    /// The server answered (the body is `null` if it was cut off).
    Answered(u16, Value),
    /// No connection: the request never reached a server.
    Refused,
    /// Sent, but the answer was lost: the server may or may not have acted.
    Lost(String),
}

async fn send(request: reqwest::RequestBuilder) -> Sent {
    match request.send().await {
        Ok(response) => {
            let (status, body) = json_of(response).await;
            Sent::Answered(status, body)
        }
        Err(error) if error.is_connect() => Sent::Refused,
        Err(error) => Sent::Lost(error.to_string()),
    }
}

/// One round of requests, four at a time, on the test's runtime; `answered`
/// counts the answers as they come, so the caller can kill the server
/// part-way through.
fn round(
    rt: &tokio::runtime::Runtime,
    requests: Vec<(usize, reqwest::RequestBuilder)>,
    answered: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<Vec<(usize, Sent)>> {
    rt.spawn(async move {
        let gate = Arc::new(tokio::sync::Semaphore::new(4));
        let mut tasks = tokio::task::JoinSet::new();
        for (n, request) in requests {
            let (gate, answered) = (gate.clone(), answered.clone());
            tasks.spawn(async move {
                let _slot = gate
                    .acquire_owned()
                    .await
                    .expect("the semaphore stays open");
                let sent = send(request).await;
                if matches!(sent, Sent::Answered(..)) {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                (n, sent)
            });
        }
        let mut all = Vec::new();
        while let Some(done) = tasks.join_next().await {
            all.push(done.expect("a request task"));
        }
        all
    })
}

/// A client with no pooled connections to a killed server.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// The servers of the test, one at a time, on one store and one port.
struct Servers {
    db: PathBuf,
    bots: PathBuf,
    address: String,
    current: Option<Server>,
    kills: usize,
    starts: usize,
}

impl Servers {
    fn first(db: &Path, bots: &Path) -> Servers {
        let server =
            Server::try_start_with(db, bots, "127.0.0.1:0", &[("BOTFLOW_LEASE_MS", LEASE_MS)])
                .unwrap_or_else(|stderr| panic!("the first server starts:\n{stderr}"));
        Servers {
            db: db.to_owned(),
            bots: bots.to_owned(),
            address: server.address().to_owned(),
            current: Some(server),
            kills: 0,
            starts: 1,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// SIGKILLs the server.
    fn kill(&mut self) {
        let server = self.current.take().expect("a server runs");
        assert!(server.kill(), "the server was still running when killed");
        self.kills += 1;
    }

    /// Starts the next server on the same store and port (retried briefly
    /// should the port still be held).
    fn restart(&mut self) {
        let mut tries = 0;
        let next = loop {
            let lease = [("BOTFLOW_LEASE_MS", LEASE_MS)];
            match Server::try_start_with(&self.db, &self.bots, &self.address, &lease) {
                Ok(server) => break server,
                Err(stderr) => {
                    tries += 1;
                    assert!(
                        tries < 20,
                        "no server restarts on {}:\n{stderr}",
                        self.address
                    );
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        };
        self.starts += 1;
        self.current = Some(next);
    }

    fn kill_and_restart(&mut self) {
        self.kill();
        self.restart();
    }

    fn stop(mut self) -> String {
        let server = self.current.take().expect("a server runs");
        let (status, stderr) = server.terminate(Duration::from_secs(60));
        assert!(
            status.success(),
            "the last server stops on SIGTERM: {stderr}"
        );
        stderr
    }
}

/// Polls until `done()`; false after `deadline`.
fn wait_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let clock = Instant::now();
    while clock.elapsed() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Bot steps recorded `done`, over all runs.
fn bot_steps_done(db: &Db, ids: &[String]) -> usize {
    ids.iter()
        .map(|id| {
            db.steps(id)
                .iter()
                .filter(|s| s.kind == "bot" && s.status == StepStatus::Done)
                .count()
        })
        .sum()
}

/// Bot steps with an attempt under way, over all runs.
fn bot_steps_running(db: &Db, ids: &[String]) -> usize {
    ids.iter()
        .map(|id| {
            db.steps(id)
                .iter()
                .filter(|s| s.kind == "bot" && s.status == StepStatus::Running)
                .count()
        })
        .sum()
}

/// Kills the server once `target` bot steps are done (or after 20 s) and
/// restarts it; returns the bot steps under way at the kill.
fn kill_at_progress(servers: &mut Servers, db: &Db, ids: &[String], target: usize) -> usize {
    wait_until(Duration::from_secs(20), || {
        bot_steps_done(db, ids) >= target
    });
    servers.kill();
    let under_way = bot_steps_running(db, ids);
    servers.restart();
    under_way
}

/// How many times each bot step's effects were committed, from the bot's memory.
fn effect_counts(db: &Path, id: &str, paths: &[String]) -> Vec<(String, i64)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let store = store::AnyStore::open(db.to_str().expect("a UTF-8 path"))
            .await
            .expect("the store opens");
        let mut counts = Vec::new();
        for path in paths {
            let count = store
                .memory("clerk", &format!("runs_{id}:{path}"))
                .await
                .expect("memory reads")
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            counts.push((path.clone(), count));
        }
        store.close().await;
        counts
    })
}

#[test]
fn killed_servers_lose_no_run_and_apply_each_decision_once() {
    let mut rng = Rng::seeded("serve crash");
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path());
    let db_path = dir.path().join("runs.db");
    let operator = token(&db_path, "operator", CLERK);
    let boss = token(&db_path, "approver", BOSS);
    let ids: Vec<String> = (0..RUNS).map(|i| format!("gate-{i:02}")).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut servers = Servers::first(&db_path, &bots);
    let db = Db::open(&db_path);

    // 1. Start the runs over HTTP, killing the server part-way through;
    //    whatever got no answer is sent again to the next server.
    let mut to_start: Vec<usize> = (0..RUNS).collect();
    let mut created = [0usize; RUNS];
    let (mut starts_resent, mut starts_existing) = (0, 0);
    let mut tried = [false; RUNS];
    for attempt in 0.. {
        assert!(attempt < 10, "runs still not started: {to_start:?}");
        let client = client();
        let base = servers.url();
        let requests = to_start
            .iter()
            .map(|&i| {
                let request = client
                    .post(format!("{base}/v1/workflows/gate/runs"))
                    .bearer_auth(&operator)
                    .json(&json!({"id": ids[i], "input": {"case": i}}));
                (i, request)
            })
            .collect();
        let answered = Arc::new(AtomicUsize::new(0));
        let handle = round(&rt, requests, answered.clone());
        let kill = attempt == 0 && to_start.len() > 1;
        if kill {
            let target = rng.between(1, to_start.len() as u64 - 1) as usize;
            wait_until(Duration::from_secs(20), || {
                answered.load(Ordering::SeqCst) >= target
            });
            servers.kill_and_restart();
        }
        let results = rt.block_on(handle).expect("the round");
        to_start.clear();
        for (i, sent) in results {
            if tried[i] {
                starts_resent += 1;
            }
            tried[i] = true;
            match sent {
                Sent::Answered(201, _) => created[i] += 1,
                Sent::Answered(200, run) => {
                    assert!(
                        attempt > 0,
                        "{}: a first start found an existing run: {run}",
                        ids[i]
                    );
                    assert_eq!(run["id"], ids[i].as_str(), "{run}");
                    starts_existing += 1;
                }
                Sent::Answered(status, body) => {
                    panic!("{}: start answered {status}: {body}", ids[i])
                }
                Sent::Refused | Sent::Lost(_) if kill => to_start.push(i),
                Sent::Refused => panic!("{}: not delivered, with no kill", ids[i]),
                Sent::Lost(why) => panic!("{}: no answer, with no kill: {why}", ids[i]),
            }
        }
        if to_start.is_empty() {
            break;
        }
    }
    for (i, id) in ids.iter().enumerate() {
        assert!(created[i] <= 1, "{id} was created {} times", created[i]);
    }

    // 2. Kill the server three times while the bot steps before the
    //    approvals run, each once a random share of them is done.
    let before = RUNS * STEPS_BEFORE;
    let targets = [
        rng.between(1, before as u64 / 3),
        rng.between(before as u64 / 3 + 1, before as u64 * 2 / 3),
        rng.between(before as u64 * 2 / 3 + 1, before as u64 - 2),
    ];
    let mut under_way = Vec::new();
    for target in targets {
        under_way.push(kill_at_progress(&mut servers, &db, &ids, target as usize));
    }
    assert!(
        wait_until(Duration::from_secs(30), || {
            db.approvals()
                .iter()
                .filter(|a| a.status.as_str() == "pending")
                .count()
                == RUNS
        }),
        "every run asks for its approval: {:?}\n{}",
        ids.iter()
            .map(|id| (db.status(id), db.steps(id).len()))
            .collect::<Vec<_>>(),
        servers
            .current
            .as_ref()
            .map(|s| s.stderr())
            .unwrap_or_default()
    );

    // 3. Decide over HTTP, killing the server part-way through the first
    //    three rounds; a decision without an answer is sent again.
    let mut to_decide: Vec<usize> = (0..RUNS).collect();
    let mut unanswered = [false; RUNS];
    let (mut decisions_sent, mut decisions_resent, mut refused, mut accepted_on_resend) =
        (0, 0, 0, 0);
    let (mut lost_answers, mut not_delivered, mut dropped) = (0, 0, 0);
    let mut accepted = [0usize; RUNS];
    let mut refused_after_loss = [false; RUNS];
    let mut thrown = [false; RUNS];
    for attempt in 0.. {
        assert!(attempt < 10, "decisions still not answered: {to_decide:?}");
        let client = client();
        let base = servers.url();
        let requests = to_decide
            .iter()
            .map(|&i| {
                let decision = if approves(i) { "approve" } else { "deny" };
                let request = client
                    .post(format!("{base}/v1/approvals/{}:3/decision", ids[i]))
                    .bearer_auth(&boss)
                    .json(&json!({"decision": decision, "comment": format!("try {attempt}")}));
                (i, request)
            })
            .collect();
        decisions_sent += to_decide.len();
        let answered = Arc::new(AtomicUsize::new(0));
        let handle = round(&rt, requests, answered.clone());
        let kill = attempt < 3;
        if kill {
            let target = rng.between(0, to_decide.len().saturating_sub(1) as u64) as usize;
            wait_until(Duration::from_secs(20), || {
                answered.load(Ordering::SeqCst) >= target
            });
            servers.kill_and_restart();
        }
        let results = rt.block_on(handle).expect("the round");
        to_decide.clear();
        for (i, sent) in results {
            let request = format!("{}:3", ids[i]);
            let resent = unanswered[i];
            if resent {
                decisions_resent += 1;
            }
            // Every fifth request's first acceptance is thrown away, as if the connection
            // had dropped after the server answered, so that some re-sent
            // decisions surely meet a request that is already decided.
            let sent = match sent {
                Sent::Answered(200, _) if i % 5 == 0 && !thrown[i] => {
                    thrown[i] = true;
                    dropped += 1;
                    Sent::Lost("thrown away by the test".to_owned())
                }
                sent => sent,
            };
            let kill = kill || matches!(&sent, Sent::Lost(why) if why == "thrown away by the test");
            match sent {
                Sent::Answered(200, body) => {
                    let status = if approves(i) { "approved" } else { "denied" };
                    assert_eq!(body["status"], status, "{request}: {body}");
                    accepted[i] += 1;
                    if resent {
                        accepted_on_resend += 1;
                    }
                    unanswered[i] = false;
                }
                Sent::Answered(409, body) => {
                    assert!(resent, "{request}: a first decision refused: {body}");
                    let decided = if approves(i) { "approved" } else { "denied" };
                    let detail = body["detail"].as_str().unwrap_or_default();
                    assert!(
                        detail
                            .contains(&format!("approval request {request} is already {decided}")),
                        "{request}: refused as already decided by the lost one: {body}"
                    );
                    refused += 1;
                    refused_after_loss[i] = true;
                    unanswered[i] = false;
                }
                Sent::Answered(status, body) => {
                    panic!("{request}: decision answered {status}: {body}")
                }
                Sent::Refused if kill => {
                    not_delivered += 1;
                    to_decide.push(i);
                }
                Sent::Lost(_) if kill => {
                    lost_answers += 1;
                    unanswered[i] = true;
                    to_decide.push(i);
                }
                Sent::Refused => panic!("{request}: not delivered, with no kill"),
                Sent::Lost(why) => panic!("{request}: no answer, with no kill: {why}"),
            }
        }
        if to_decide.is_empty() {
            break;
        }
    }

    // 4. One more kill while the decided runs go on, then the last server
    //    finishes them.
    let all = RUNS * STEPS_ALL;
    let target = rng.between(before as u64 + 1, all as u64 - 2) as usize;
    let late_under_way = if bot_steps_done(&db, &ids) < target {
        Some(kill_at_progress(&mut servers, &db, &ids, target))
    } else {
        None
    };
    let ended = db.wait_all_ended(Duration::from_secs(30));
    let (kills, starts) = (servers.kills, servers.starts);
    let stderr = servers.stop();
    assert!(
        ended,
        "every run ended: {:?}; the last server said:\n{stderr}",
        ids.iter()
            .map(|id| (db.status(id), db.steps(id).len()))
            .collect::<Vec<_>>()
    );

    // Every run completed with its decision; every step recorded once,
    // its effects committed once; one decision audited and journaled.
    let approvals = db.approvals();
    assert_eq!(approvals.len(), RUNS, "one request per run");
    let mut reexecutions = 0;
    for (i, id) in ids.iter().enumerate() {
        let run = db.run(id);
        assert_eq!(run.status, RunStatus::Completed, "{id}: {:?}", run.error);
        assert_eq!(
            run.result,
            Some(json!({"approved": approves(i), "by": BOSS})),
            "{id} saw its decision"
        );
        let steps = db.steps(id);
        let paths: Vec<String> = steps.iter().map(|s| s.path.clone()).collect();
        assert_eq!(
            paths,
            ["1", "2", "3", "4", "5"],
            "{id}: each step recorded once"
        );
        for step in &steps {
            assert_eq!(step.status, StepStatus::Done, "{id} step {}", step.path);
        }
        let mut finished: BTreeMap<String, usize> = BTreeMap::new();
        for entry in db.journal_kind(id, "step_finished") {
            let path = entry.data["path"].as_str().unwrap_or_default().to_owned();
            *finished.entry(path).or_default() += 1;
        }
        assert!(
            finished.len() == steps.len() && finished.values().all(|&n| n == 1),
            "{id}: one step_finished per step: {finished:?}"
        );
        let bot_paths: Vec<String> = steps
            .iter()
            .filter(|s| s.kind == "bot")
            .map(|s| s.path.clone())
            .collect();
        for (path, count) in effect_counts(&db_path, id, &bot_paths) {
            assert_eq!(count, 1, "{id} step {path}: its effects committed once");
        }
        reexecutions += steps
            .iter()
            .filter(|s| s.kind == "bot")
            .map(|s| i64::from(s.attempts - 1))
            .sum::<i64>();
        assert_eq!(db.journal_kind(id, "run_completed").len(), 1, "{id}");

        let request = format!("{id}:3");
        let record = approvals
            .iter()
            .find(|a| a.id == request)
            .unwrap_or_else(|| panic!("{request} exists"));
        let decided = if approves(i) { "approved" } else { "denied" };
        assert_eq!(record.status.as_str(), decided, "{request}");
        let kinds: Vec<String> = db.audit(&request).into_iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| ["approved", "denied", "vote"].contains(&k.as_str()))
                .count(),
            1,
            "{request}: one decision in the audit trail: {kinds:?}"
        );
        assert_eq!(
            accepted[i] + usize::from(refused_after_loss[i]),
            1,
            "{request}: accepted once over HTTP, or refused after a lost answer"
        );
        assert_eq!(db.journal_kind(id, "approval_requested").len(), 1, "{id}");
        assert_eq!(
            db.journal_kind(id, "approval_decided").len(),
            1,
            "{id}: the decision is journaled once"
        );
    }
    println!(
        "serve crash: {RUNS} runs, {kills} server SIGKILLs ({starts} servers started on one \
         port), {starts_resent} starts re-sent ({starts_existing} answered with the existing \
         run), bot steps under way at the step kills {under_way:?} and after the decisions \
         {late_under_way:?}; {decisions_sent} decisions sent: {lost_answers} answers lost \
         ({dropped} of them thrown away by the test), {not_delivered} not delivered, \
         {decisions_resent} re-sent, {refused} refused as already decided, {accepted_on_resend} accepted on re-send; every decision audited \
         and journaled once; {reexecutions} bot re-executions, each step's effects committed once"
    );
}

/// A bot step that takes longer than the lease is asked once.
///
/// A driver keeps its run's lease while a bot step is under way
/// (`Driver::recv_leased` in `runtime/src/driver.rs` renews it every third of
/// its length), so the server's worker never finds the run claimable while
/// its own driver still waits for the bot. Here a step of a second or more
/// under a 200 ms lease (`BOTFLOW_LEASE_MS`): the bot is asked once and the
/// run completes.
#[test]
fn a_bot_step_longer_than_the_lease_is_asked_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = dir.path().join("bots");
    let flow = bots.join("flow.gbai/flow.gbdialog");
    let clerk = bots.join("clerk.gbai/clerk.gbdialog");
    std::fs::create_dir_all(&flow).expect("the workflow package");
    std::fs::create_dir_all(&clerk).expect("the clerk package");
    std::fs::write(
        flow.join("main.bas"),
        "ORCHESTRATE WORKFLOW \"slow\"\n  STEP 1: BOT \"clerk\" \"ponder\"\n  RETURN \"done\"\nEND WORKFLOW\n",
    )
    .expect("the workflow");
    std::fs::write(
        clerk.join("ponder.bas"),
        format!(
            "DESCRIPTION \"ponders the case\"\n{COUNTER}spin = 0\nFOR i = 1 TO 200000\n  spin = spin + 1\nNEXT i\nRETURN {{\"pondered\": TRUE}}\n"
        ),
    )
    .expect("the tool script");
    let db_path = dir.path().join("runs.db");
    let operator = token(&db_path, "operator", CLERK);
    let server = Server::try_start_with(
        &db_path,
        &bots,
        "127.0.0.1:0",
        &[("BOTFLOW_LEASE_MS", "200")],
    )
    .unwrap_or_else(|stderr| panic!("the server starts:\n{stderr}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (status, body) = rt.block_on(async {
        json_of(
            client()
                .post(format!("{}/v1/workflows/slow/runs", server.url()))
                .bearer_auth(&operator)
                .json(&json!({"id": "slow-1"}))
                .send()
                .await
                .expect("the server answers"),
        )
        .await
    });
    assert_eq!(status, 201, "{body}");
    let db = Db::open(&db_path);
    let clock = Instant::now();
    let ended = db.wait_all_ended(Duration::from_secs(30));
    let took = clock.elapsed();
    let steps = db.steps("slow-1");
    let (_, stderr) = server.terminate(Duration::from_secs(60));
    let attempts: Vec<i32> = steps.iter().map(|s| s.attempts).collect();
    println!(
        "a slow step under a 200 ms lease: ended {ended} after {took:?}, attempts {attempts:?}"
    );
    assert!(ended, "the run ends: {:?}\n{stderr}", db.status("slow-1"));
    assert_eq!(attempts, [1], "the bot was asked once");
    let counts = effect_counts(&db_path, "slow-1", &["1".to_owned()]);
    assert_eq!(counts, [("1".to_owned(), 1)]);
}
