//! Crash tests for waiting runs with real processes and real SIGKILLs
//! (issue 5): runs wait on a human approval, on events and messages, and on
//! timers while `botflow worker` and `botflow approve` processes are killed
//! at random moments. After restarts nothing is lost, no decision is applied
//! twice, no event is consumed twice and no step is recorded twice.
//!
//! Every test prints its seed (`BOTFLOW_TEST_SEED=N` replays the same kill
//! moments) and the counts it observed; see them with
//! `cargo test -p botflow --test wait_crash -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::{RunStatus, StepStatus};

mod common;
#[path = "common/processes.rs"]
mod processes;

use common::{resume, text};
use processes::{Db, Rng, Worker, finish, spawn, start_runs};

const BOSS: &str = "boss@example.com";

/// Waits for a decision; a denial continues, so every run completes and its
/// result says which decision it saw. With `timer`, a `WAIT 1` after the
/// decision keeps whoever drives the decided run busy for a while.
fn gate(timer: bool) -> String {
    let wait = if timer { "  WAIT 1\n" } else { "" };
    format!(
        r#"ORCHESTRATE WORKFLOW "gate"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: HUMAN APPROVAL FROM "{BOSS}"
    TIMEOUT 600
    ON DENY: CONTINUE
  STEP 3: BOT "clerk" "file"
{wait}  STEP 4: BOT "clerk" "close"
  RETURN {{"approved": approval.approved, "by": approval.by}}
END WORKFLOW
"#
    )
}

/// Two waits for the same event name and key, then a message: one event
/// may satisfy only one of the two waits.
const PAY: &str = r#"ORCHESTRATE WORKFLOW "pay"
  first = WAIT FOR EVENT "paid" FOR order TIMEOUT 600
  second = WAIT FOR EVENT "paid" FOR order TIMEOUT 600
  HEAR note
  STEP 1: BOT "clerk" "file"
  RETURN {"first": first.data.n, "second": second.data.n, "note": note}
END WORKFLOW
"#;

/// Two timers around bot steps; the first one's length comes from the input.
const NAPS: &str = r#"ORCHESTRATE WORKFLOW "naps"
  STEP 1: BOT "clerk" "prepare"
  STEP 2: DELAY pause
  STEP 3: BOT "clerk" "file"
  STEP 4: WAIT 1
  STEP 5: BOT "clerk" "close"
  RETURN "rested"
END WORKFLOW
"#;

/// A bots folder: the workflow package and the `clerk` bot with one tool
/// script per action, each answering at once.
fn deployment(dir: &Path, workflow: &str) -> PathBuf {
    let bots = dir.join("bots");
    let flow = bots.join("flow.gbai/flow.gbdialog");
    let clerk = bots.join("clerk.gbai/clerk.gbdialog");
    std::fs::create_dir_all(&flow).expect("the workflow package");
    std::fs::create_dir_all(&clerk).expect("the clerk package");
    std::fs::write(flow.join("main.bas"), workflow).expect("the workflow");
    for action in ["prepare", "file", "close"] {
        let tool = format!("DESCRIPTION \"{action}s the case\"\nRETURN {{\"{action}d\": TRUE}}\n");
        std::fs::write(clerk.join(format!("{action}.bas")), tool).expect("a tool script");
    }
    bots
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// `botflow approve|deny ID --as WHO --bots BOTS`, spawned.
fn decide(bots: &Path, db: &Path, verb: &str, id: &str, envs: &[(&str, &str)]) -> Child {
    spawn(
        &[verb, id, "--as", BOSS, "--bots", path_str(bots)],
        db,
        envs,
    )
}

/// What every test checks of a run that must have ended well: completed,
/// every step recorded once and `done`, the run ended once. Returns how many
/// bot attempts were repeated (a bot asked again after a crash between
/// asking and recording: allowed, counted, never recorded twice).
fn assert_recorded_once(db: &Db, id: &str) -> i64 {
    let run = db.run(id);
    assert_eq!(
        run.status,
        RunStatus::Completed,
        "run {id}: {:?}",
        run.error
    );
    let steps = db.steps(id);
    assert!(!steps.is_empty(), "run {id} recorded its steps");
    for step in &steps {
        assert_eq!(step.status, StepStatus::Done, "run {id} step {}", step.path);
    }
    let mut finished: BTreeMap<String, usize> = BTreeMap::new();
    for entry in db.journal_kind(id, "step_finished") {
        let path = entry.data["path"].as_str().unwrap_or_default().to_owned();
        *finished.entry(path).or_default() += 1;
    }
    assert_eq!(
        finished.len(),
        steps.len(),
        "run {id}: one step_finished per step row: {finished:?}"
    );
    assert!(
        finished.values().all(|&n| n == 1),
        "run {id}: a step finished twice: {finished:?}"
    );
    assert_eq!(db.journal_kind(id, "run_completed").len(), 1, "run {id}");
    steps
        .iter()
        .filter(|s| s.kind == "bot")
        .map(|s| i64::from(s.attempts - 1))
        .sum()
}

/// The run journals its decision exactly once, whatever crashed around it.
fn assert_decision_journaled_once(db: &Db, id: &str) {
    let entries = db.journal_kind(id, "approval_decided");
    assert_eq!(
        entries.len(),
        1,
        "{id}: the decision is journaled once: {}",
        journal_summary(db, id)
    );
}

/// The run's journal as `seq kind data` lines, for failure messages.
fn journal_summary(db: &Db, id: &str) -> String {
    db.journal(id)
        .iter()
        .map(|e| format!("\n  {} {} {}", e.seq, e.kind, e.data))
        .collect()
}

/// 1. Runs waiting on an approval: a worker killed while they wait; half
///    decided while no worker runs, by `botflow approve` processes killed
///    while they drive the decided run (retried when the kill came before
///    the decision committed); the rest decided while a worker runs, which
///    is killed while it drives them; a last worker finishes everything.
#[test]
fn approvals_survive_killed_workers_and_each_decision_applies_once() {
    const RUNS: usize = 20;
    let mut rng = Rng::seeded("approval wait");
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path(), &gate(true));
    let db_path = dir.path().join("runs.db");
    let ids: Vec<String> = (0..RUNS).map(|i| format!("gate-{i:02}")).collect();
    let runs: Vec<(String, String)> = ids.iter().map(|id| (id.clone(), "{}".into())).collect();
    start_runs(&bots, &db_path, &runs);
    let db = Db::open(&db_path);
    // Every fourth case is denied (and continues, ON DENY: CONTINUE).
    let approve = |i: usize| i % 4 != 3;
    let verb = |i: usize| if approve(i) { "approve" } else { "deny" };

    let mut worker_kills = 0;
    let first = Worker::start(&bots, &db_path, dir.path(), 1);
    std::thread::sleep(rng.millis(200, 600));
    assert!(first.kill(), "the first worker was still running");
    worker_kills += 1;
    for id in &ids {
        assert_eq!(
            db.status(id),
            RunStatus::Waiting,
            "{id} waits after the kill"
        );
    }

    // No worker: each decision's own process drives the run until it dies.
    let mut approve_kills = 0;
    let mut killed_before_commit = 0;
    for (i, id) in ids.iter().enumerate().take(RUNS / 2) {
        let request = format!("{id}:2");
        for attempt in 1.. {
            assert!(
                attempt <= 30,
                "{request}: no decision committed in 30 tries"
            );
            let mut child = decide(&bots, &db_path, verb(i), &request, &[]);
            std::thread::sleep(rng.millis(10, 700));
            let _ = child.kill();
            let _ = child.wait();
            approve_kills += 1;
            let status = db
                .approvals()
                .into_iter()
                .find(|a| a.id == request)
                .map(|a| a.status.as_str().to_owned())
                .expect("the request exists");
            if status != "pending" {
                break;
            }
            killed_before_commit += 1;
        }
    }

    // A worker takes over those, and the rest are decided while it runs.
    let second = Worker::start(&bots, &db_path, dir.path(), 2);
    let deciders: Vec<(String, Child)> = ids
        .iter()
        .enumerate()
        .skip(RUNS / 2)
        .map(|(i, id)| {
            (
                id.clone(),
                decide(&bots, &db_path, verb(i), &format!("{id}:2"), &[]),
            )
        })
        .collect();
    // Killed once a random share of the runs has ended: mid-way through.
    let target = rng.between(3, RUNS as u64 - 3) as usize;
    let clock = Instant::now();
    while db.unfinished() > target && clock.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let unfinished_at_kill = db.unfinished();
    assert!(second.kill(), "the second worker was still running");
    worker_kills += 1;
    let third = Worker::start(&bots, &db_path, dir.path(), 3);
    for (id, child) in deciders {
        let output = finish(child, Duration::from_secs(30));
        assert_eq!(
            output.status.code(),
            Some(0),
            "deciding {id} completes its run: {}",
            text(&output.stderr)
        );
    }
    let ended = db.wait_all_ended(Duration::from_secs(30));
    let log = third.log();
    assert!(third.kill(), "the last worker was still running");
    assert!(ended, "every run ended; last worker: {log}");

    let mut reexecutions = 0;
    let approvals = db.approvals();
    assert_eq!(approvals.len(), RUNS, "one request per run");
    for (i, id) in ids.iter().enumerate() {
        reexecutions += assert_recorded_once(&db, id);
        let run = db.run(id);
        assert_eq!(
            run.result,
            Some(json!({"approved": approve(i), "by": BOSS})),
            "run {id} saw its decision"
        );
        let request = format!("{id}:2");
        let record = approvals
            .iter()
            .find(|a| a.id == request)
            .expect("the request");
        let decided = if approve(i) { "approved" } else { "denied" };
        assert_eq!(record.status.as_str(), decided, "{request}");
        let audit = db.audit(&request);
        let kinds: Vec<&str> = audit.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| ["approved", "denied", "vote"].contains(k))
                .count(),
            1,
            "{request}: one decision in the audit trail: {kinds:?}"
        );
        assert_eq!(kinds.iter().filter(|k| **k == "created").count(), 1);
        assert_eq!(db.journal_kind(id, "approval_requested").len(), 1, "{id}");
        assert_decision_journaled_once(&db, id);
    }
    println!(
        "approval wait: {RUNS} runs, {worker_kills} worker SIGKILLs ({unfinished_at_kill} runs \
         unfinished at the second), {approve_kills} approve/deny SIGKILLs ({killed_before_commit} \
         before the decision committed), {RUNS} decisions ({} denials), each audited once, \
         {reexecutions} bot re-executions, each decision journaled once",
        (0..RUNS).filter(|i| !approve(*i)).count()
    );
}

/// 2. `botflow approve` processes SIGKILLed at random moments, from before
///    the process has opened the store to after it has finished: each
///    request is decided once or still pending; pending ones are decided
///    again, decided ones refuse a second decision; all runs complete.
#[test]
fn approve_processes_killed_mid_decision_decide_once_or_not_at_all() {
    const RUNS: usize = 24;
    let mut rng = Rng::seeded("middle of a decision");
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path(), &gate(false));
    let db_path = dir.path().join("runs.db");
    let ids: Vec<String> = (0..RUNS).map(|i| format!("case-{i:02}")).collect();
    let runs: Vec<(String, String)> = ids.iter().map(|id| (id.clone(), "{}".into())).collect();
    start_runs(&bots, &db_path, &runs);
    let db = Db::open(&db_path);

    // How long a whole decision takes here, so the kills spread over it.
    let clock = Instant::now();
    let output = finish(
        decide(&bots, &db_path, "approve", "case-00:2", &[]),
        Duration::from_secs(30),
    );
    let whole = clock.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let spread = (whole.as_millis() as u64 * 6 / 5).max(30);

    let (mut before, mut during, mut after) = (0, 0, 0);
    for id in ids.iter().skip(1) {
        let mut child = decide(&bots, &db_path, "approve", &format!("{id}:2"), &[]);
        std::thread::sleep(rng.millis(0, spread));
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        let _ = child.kill();
        let _ = child.wait();
        let request = db
            .approvals()
            .into_iter()
            .find(|a| a.id == format!("{id}:2"))
            .expect("the request");
        let audit = db.audit(&request.id);
        let decisions = audit.iter().filter(|a| a.kind == "approved").count();
        match request.status.as_str() {
            "pending" => {
                assert_eq!(decisions, 0, "{id}: pending, so no decision audited");
                before += 1;
            }
            "approved" => {
                assert_eq!(decisions, 1, "{id}: decided once: {audit:?}");
                if exited || db.status(id) == RunStatus::Completed {
                    after += 1;
                } else {
                    during += 1;
                }
            }
            other => panic!("{id}: the request became {other}"),
        }
    }

    // Decide again: pending ones are decided now; decided ones refuse.
    let mut refused = 0;
    for id in &ids {
        let request = format!("{id}:2");
        let pending = db
            .approvals()
            .into_iter()
            .any(|a| a.id == request && a.status.as_str() == "pending");
        let trail = db.audit(&request).len();
        let output = finish(
            decide(&bots, &db_path, "approve", &request, &[]),
            Duration::from_secs(30),
        );
        let stderr = text(&output.stderr);
        if pending {
            assert_eq!(output.status.code(), Some(0), "{id}: {stderr}");
        } else {
            assert_eq!(output.status.code(), Some(1), "{id}: {stderr}");
            assert!(
                stderr.contains(&format!("approval request {request} is already approved"))
                    && stderr.contains("nothing was changed"),
                "{id}: a clear refusal: {stderr}"
            );
            assert_eq!(db.audit(&request).len(), trail, "{id}: nothing audited");
            refused += 1;
        }
    }
    // Runs whose approve process died while driving them are finished by resume.
    resume(&bots, &db_path);

    let mut reexecutions = 0;
    for id in &ids {
        reexecutions += assert_recorded_once(&db, id);
        assert_eq!(
            db.run(id).result,
            Some(json!({"approved": true, "by": BOSS})),
            "{id}"
        );
        let audit = db.audit(&format!("{id}:2"));
        assert_eq!(
            audit.iter().filter(|a| a.kind == "approved").count(),
            1,
            "{id}: {audit:?}"
        );
        assert_decision_journaled_once(&db, id);
    }
    assert!(
        refused >= 1,
        "at least the first request refuses a second decision"
    );
    println!(
        "middle of a decision: {RUNS} runs, {} approve SIGKILLs over 0..{spread} ms (a whole \
         decision took {} ms): {before} before the commit, {during} after it while driving, \
         {after} after the end; {refused} second decisions refused, {before} re-issued; \
         {reexecutions} bot re-executions, each decision journaled once",
        RUNS - 1,
        whole.as_millis()
    );
}

/// A process that records a decision and dies right after its first group
/// commit: `resume` finishes the run, and its journal says once that the
/// request was decided.
///
/// Guards the order of effects in `Driver::approval`
/// (`runtime/src/driver/approvals.rs`): the `approval_decided` entry goes
/// into the point that records the answer, not into the point being built,
/// which may commit with the engine state from before the answer. Otherwise
/// a crash between the two commits leaves the request open in the stored
/// state and the next driver journals the decision a second time.
#[test]
fn a_decision_is_journaled_once_when_the_deciding_process_dies_after_its_first_commit() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path(), &gate(false));
    let db_path = dir.path().join("runs.db");
    start_runs(&bots, &db_path, &[("case".to_owned(), "{}".to_owned())]);
    let output = finish(
        decide(
            &bots,
            &db_path,
            "approve",
            "case:2",
            &[("BOTFLOW_CRASH_AFTER_COMMITS", "1")],
        ),
        Duration::from_secs(30),
    );
    assert_eq!(
        output.status.code(),
        None,
        "the crash hook killed the process after its first commit: {}",
        text(&output.stderr)
    );
    std::thread::sleep(Duration::from_millis(300));
    resume(&bots, &db_path);
    let db = Db::open(&db_path);
    assert_recorded_once(&db, "case");
    assert_decision_journaled_once(&db, "case");
}

/// 3. Runs waiting on two events of one name and key, then on a message:
///    workers killed while they wait and at random moments after publishes;
///    events published and messages sent while a worker runs and while none
///    does. Each event is consumed by exactly one run, once; an event
///    published twice with the same payload is two events; events that match
///    no wait (another key, no key) are consumed by nobody.
#[test]
fn event_and_message_waits_survive_killed_workers_and_consume_each_event_once() {
    const RUNS: usize = 16;
    let mut rng = Rng::seeded("event wait");
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path(), PAY);
    let db_path = dir.path().join("runs.db");
    let ids: Vec<String> = (0..RUNS).map(|i| format!("pay-{i:02}")).collect();
    let runs: Vec<(String, String)> = ids
        .iter()
        .map(|id| {
            (
                id.clone(),
                json!({"order": format!("order-{id}")}).to_string(),
            )
        })
        .collect();
    start_runs(&bots, &db_path, &runs);
    let db = Db::open(&db_path);

    let publish = |key: Option<&str>, n: i64| -> String {
        let data = json!({"n": n}).to_string();
        let mut args = vec!["events", "publish", "paid", "--data", &data];
        if let Some(key) = key {
            args.extend(["--key", key]);
        }
        args.extend(["--bots", path_str(&bots)]);
        let output = finish(spawn(&args, &db_path, &[]), Duration::from_secs(30));
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout).trim().to_owned()
    };
    let send = |id: &str| {
        let note = format!("note {id}");
        let output = finish(
            spawn(&["runs", "send", id, &note], &db_path, &[]),
            Duration::from_secs(30),
        );
        assert!(output.status.success(), "{}", text(&output.stderr));
    };

    let mut kills = 0;
    let mut workers = 1;
    let first = Worker::start(&bots, &db_path, dir.path(), workers);
    std::thread::sleep(rng.millis(200, 600));
    assert!(first.kill(), "the first worker was still running");
    kills += 1;

    // While no worker runs: every run's first event, and two that match nobody.
    let mut published: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in &ids {
        let key = format!("order-{id}");
        published
            .entry(id.clone())
            .or_default()
            .push(publish(Some(&key), 1));
    }
    let strangers = [publish(Some("order-nobody"), 9), publish(None, 9)];

    // Then the second events (the same payload again for even runs: still a
    // second event) and the messages, with a worker killed now and then.
    let mut actions: Vec<(usize, bool)> = (0..RUNS).map(|i| (i, true)).collect();
    actions.extend((0..RUNS).map(|i| (i, false)));
    let forced: BTreeSet<usize> = [actions.len() / 4, actions.len() / 2, actions.len() * 3 / 4]
        .into_iter()
        .collect();
    let mut worker = None;
    let mut published_while_dead = RUNS + strangers.len();
    for (n, (i, is_event)) in actions.iter().copied().enumerate() {
        if worker.is_none() && rng.between(0, 2) > 0 {
            workers += 1;
            worker = Some(Worker::start(&bots, &db_path, dir.path(), workers));
        }
        if worker.is_none() {
            published_while_dead += 1;
        }
        let id = &ids[i];
        if is_event {
            let payload = if i % 2 == 0 { 1 } else { 2 };
            let event = publish(Some(&format!("order-{id}")), payload);
            published.entry(id.clone()).or_default().push(event);
        } else {
            send(id);
        }
        if worker.is_some() && (forced.contains(&n) || rng.between(0, 5) == 0) {
            std::thread::sleep(rng.millis(0, 80));
            let killed: Worker = worker.take().expect("a worker runs");
            assert!(killed.kill(), "the worker was still running");
            kills += 1;
        }
    }
    let last = match worker {
        Some(worker) => worker,
        None => {
            workers += 1;
            Worker::start(&bots, &db_path, dir.path(), workers)
        }
    };
    let ended = db.wait_all_ended(Duration::from_secs(30));
    let log = last.log();
    assert!(last.kill(), "the last worker was still running");
    assert!(ended, "every run ended; last worker: {log}");

    let mut consumers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut reexecutions = 0;
    for (i, id) in ids.iter().enumerate() {
        reexecutions += assert_recorded_once(&db, id);
        let second = if i % 2 == 0 { 1 } else { 2 };
        assert_eq!(
            db.run(id).result,
            Some(json!({"first": 1, "second": second, "note": format!("note {id}")})),
            "{id}"
        );
        let received: Vec<String> = db
            .journal_kind(id, "event_received")
            .iter()
            .map(|e| e.data["event"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            received, published[id],
            "{id} consumed its two events, each once, in order"
        );
        for event in received {
            consumers.entry(event).or_default().push(id.clone());
        }
        assert_eq!(db.journal_kind(id, "heard").len(), 1, "{id} heard once");
    }
    let all = db.events("paid");
    assert_eq!(
        all.len(),
        2 * RUNS + strangers.len(),
        "every publish stored once"
    );
    for event in &all {
        let by = consumers.get(&event.id).cloned().unwrap_or_default();
        if strangers.contains(&event.id) {
            assert!(by.is_empty(), "{} matches no wait: {by:?}", event.id);
        } else {
            assert_eq!(by.len(), 1, "{} consumed by one run: {by:?}", event.id);
        }
    }
    println!(
        "event wait: {RUNS} runs, {} events ({published_while_dead} published or sent while no \
         worker ran), {RUNS} messages, {kills} worker SIGKILLs over {workers} workers, {} \
         consumptions (each event once), {reexecutions} bot re-executions",
        all.len(),
        consumers.values().map(Vec::len).sum::<usize>()
    );
}

/// 4. Many runs on timers of different lengths: three workers killed while
///    the timers are armed and firing, a fourth finishes: every run
///    completes once, no timer step or bot step recorded twice.
#[test]
fn many_timers_survive_three_killed_workers() {
    const RUNS: usize = 50;
    let mut rng = Rng::seeded("timer wait");
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = deployment(dir.path(), NAPS);
    let db_path = dir.path().join("runs.db");
    let ids: Vec<String> = (0..RUNS).map(|i| format!("nap-{i:02}")).collect();
    let runs: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let pause = 1.0 + (i % 6) as f64 * 0.3;
            (id.clone(), json!({"pause": pause}).to_string())
        })
        .collect();
    start_runs(&bots, &db_path, &runs);
    let db = Db::open(&db_path);

    let mut waiting_at_kills = Vec::new();
    // Each kill comes once a random share of the runs has ended, so all
    // three land while timers are still armed (some of them firing).
    let targets = [rng.between(35, 45), rng.between(20, 30), rng.between(5, 15)];
    for (n, target) in (1..).zip(targets) {
        let worker = Worker::start(&bots, &db_path, dir.path(), n);
        std::thread::sleep(rng.millis(100, 400));
        let clock = Instant::now();
        while db.unfinished() > target as usize && clock.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        waiting_at_kills.push(db.unfinished());
        assert!(worker.kill(), "worker {n} was still running");
        std::thread::sleep(rng.millis(0, 300));
    }
    let last = Worker::start(&bots, &db_path, dir.path(), 4);
    let ended = db.wait_all_ended(Duration::from_secs(30));
    let log = last.log();
    assert!(last.kill(), "the last worker was still running");
    assert!(ended, "every run ended; last worker: {log}");

    let mut reexecutions = 0;
    for id in &ids {
        reexecutions += assert_recorded_once(&db, id);
        assert_eq!(db.run(id).result, Some(Value::from("rested")), "{id}");
        let steps = db.steps(id);
        let paths: Vec<&str> = steps.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths.len(),
            5,
            "{id}: five steps, two of them timers: {paths:?}"
        );
    }
    println!(
        "timer wait: {RUNS} runs, 3 worker SIGKILLs with {waiting_at_kills:?} runs unfinished \
         at each, every run completed once, {reexecutions} bot re-executions"
    );
}
