//! The store conformance suite: every test runs against SQLite (always) and
//! PostgreSQL (when reachable), through the same `Store` trait.

#[path = "conformance/api_tokens.rs"]
mod api_tokens;
#[path = "conformance/approvals.rs"]
mod approvals;
#[path = "conformance/creation.rs"]
mod creation;
#[path = "conformance/events.rs"]
mod events;
#[path = "conformance/group.rs"]
mod group;
mod harness;
#[path = "conformance/outbox.rs"]
mod outbox;
#[path = "conformance/schedules.rs"]
mod schedules;
#[path = "conformance/tokens.rs"]
mod tokens;

use api_tokens::*;
use approvals::*;
use creation::*;
use events::*;
use group::*;
use outbox::*;
use schedules::*;
use tokens::*;

use harness::{Harness, PROGRAM, new_run, point, started_run};
use serde_json::{Value, json};
use store::{
    DurablePoint, Error, EventFilter, ListKey, MAX_VALUE_BYTES, MemoryOp, NewEvent,
    NewJournalEntry, PointOutcome, RunFilter, RunOutcome, RunStatus, SCHEMA_VERSION, StepStatus,
    StepWrite, Store,
};

/// Defines each listed test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::run_guarded(crate::Harness::sqlite().await, |h| async move {
                        super::$name(&h).await
                    })
                    .await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(harness) = crate::Harness::postgres(stringify!($name)).await else {
                        return;
                    };
                    crate::run_guarded(harness, |h| async move { super::$name(&h).await }).await;
                }
            )*
        }
    };
}

conformance!(
    a_cancelled_commit_leaves_the_store_usable,
    a_first_point_creates_the_run_already_leased,
    long_texts_keep_every_byte,
    a_creating_point_needs_a_stored_program,
    a_releasing_point_frees_the_lease_and_keeps_the_epoch,
    programs_are_stored_once,
    create_run_is_idempotent,
    create_run_refuses_bad_input,
    create_runs_in_one_call,
    values_round_trip_exactly,
    commit_moves_the_run_forward,
    the_outcome_of_a_run_is_its_record_without_state,
    stale_epoch_is_fenced_while_the_batch_commits,
    a_stale_plain_point_writes_no_row_beside_a_live_one,
    a_batch_writes_every_step_and_event_in_order_whatever_its_size,
    unknown_run_is_rejected,
    steps_are_recorded_exactly_once,
    attempts_are_counted,
    event_ids_are_deduplicated,
    events_are_filtered_in_order,
    memory_set_keeps_history,
    memory_share_replaces_per_source,
    memory_sync_newer_write_wins,
    oversized_value_rejects_the_whole_point,
    same_run_twice_in_a_batch_applies_in_order,
    claim_takes_due_runs_and_expired_leases,
    concurrent_claims_never_share_a_run,
    renew_and_release_respect_the_epoch,
    list_runs_filters_and_pages,
    journal_is_ordered_per_run,
    schema_too_new_is_refused_untouched,
    approval_requests_commit_with_their_point,
    a_decision_is_checked_recorded_once_and_wakes_the_run,
    the_starter_may_not_approve_but_an_admin_may,
    a_quorum_needs_n_approvals_and_any_denial_denies,
    timeouts_resolve_or_escalate_only_pending_requests,
    a_decision_made_while_the_run_is_driven_still_wakes_it,
    approvals_are_listed_by_the_approver_they_are_addressed_to,
    approvals_are_paged_from_the_last_key_of_a_page,
    the_next_timer_leaves_out_runs_that_people_decide,
    events_match_by_name_key_address_and_start,
    consumption_and_delivery_commit_with_the_point,
    publishing_wakes_the_runs_that_wait,
    a_wait_already_satisfied_is_due_at_once,
    messages_are_kept_in_order_and_heard_once,
    event_cursors_only_move_forward,
    event_names_match_ignoring_case,
    a_run_that_ends_leaves_no_waits,
    a_notification_is_owed_with_its_request_and_claimed_once,
    a_notification_owed_again_while_delivered_stays_owed,
    a_notification_owed_claimed_is_hidden_until_done_in_a_group_commit,
    link_tokens_are_spent_once_with_their_decision,
    escalation_revokes_tokens_and_refusals_spend_nothing,
    the_link_secret_is_created_once,
    a_sync_keeps_an_unchanged_schedule_and_resets_a_changed_one,
    due_schedules_come_earliest_first_and_never_is_never_due,
    firing_a_tick_moves_the_schedule_and_creates_its_run_once,
    a_refused_fire_changes_nothing,
    concurrent_fires_of_one_tick_start_one_run,
    api_tokens_are_stored_found_by_hash_and_listed,
    a_revoked_token_is_not_found_and_is_revoked_once,
    the_first_token_is_created_only_into_an_empty_table,
    concurrent_first_tokens_create_exactly_one,
    refused_tokens_change_nothing,
    decisions_ride_on_a_group_commit_and_claim_their_run,
    a_fenced_point_in_a_group_leaves_its_approvals_and_memory_out,
    votes_in_one_group_are_judged_in_the_order_of_the_writes,
    a_failed_group_write_leaves_the_whole_group_unwritten,
);

/// Runs a test body in its own task so that the harness is cleaned up (its
/// PostgreSQL schema dropped) even when the body panics; the panic is re-raised.
async fn run_guarded<F, Fut>(harness: Harness, body: F)
where
    F: FnOnce(std::sync::Arc<Harness>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let harness = std::sync::Arc::new(harness);
    let outcome = tokio::spawn(body(harness.clone())).await;
    harness.finish().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

fn step(path: &str, status: StepStatus, attempts: i32, answer: Option<Value>) -> StepWrite {
    StepWrite {
        path: path.to_owned(),
        number: path.split(['#', '/']).next().unwrap_or(path).to_owned(),
        kind: "bot".to_owned(),
        bot: Some("classifier".to_owned()),
        attempts,
        status,
        answer,
        error: None,
        started_at: Some(50),
        finished_at: None,
    }
}

fn event(id: &str, name: &str, payload: Value) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        name: name.to_owned(),
        key: Some("k1".to_owned()),
        target_bot: None,
        payload: Some(payload),
        from_bot: Some("bot".to_owned()),
        from_run: Some("r1".to_owned()),
    }
}

fn entry(kind: &str, data: Value) -> NewJournalEntry {
    NewJournalEntry {
        kind: kind.to_owned(),
        data,
    }
}

fn set(bot: &str, key: &str, value: Value) -> MemoryOp {
    MemoryOp::Set {
        bot: bot.to_owned(),
        key: key.to_owned(),
        value,
    }
}

fn share(from_bot: &str, key: &str, to_bot: &str) -> MemoryOp {
    MemoryOp::Share {
        from_bot: from_bot.to_owned(),
        key: key.to_owned(),
        to_bot: to_bot.to_owned(),
    }
}

fn sync(bot: &str, from_bot: &str) -> MemoryOp {
    MemoryOp::Sync {
        bot: bot.to_owned(),
        from_bot: from_bot.to_owned(),
    }
}

async fn commit_one(h: &Harness, p: DurablePoint) {
    let outcomes = h.store.commit(vec![p]).await.expect("the commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Ok]);
}

async fn programs_are_stored_once(h: &Harness) {
    let s = &h.store;
    s.put_program("h1", "first").await.expect("stored");
    s.put_program("h1", "second").await.expect("stored again");
    assert_eq!(
        s.program("h1").await.expect("read").as_deref(),
        Some("first")
    );
    assert_eq!(s.program("missing").await.expect("read"), None);
}

async fn create_run_is_idempotent(h: &Harness) {
    let s = &h.store;
    s.put_program(PROGRAM, "src").await.expect("stored");
    let (first, created) = s.create_run(new_run("r1", 5)).await.expect("created");
    assert!(created);
    assert_eq!(first.status, RunStatus::Running);
    assert_eq!(first.lease_epoch, 0);
    assert_eq!(first.version, 0);
    assert_eq!((first.created_at, first.updated_at), (5, 5));

    let mut again = new_run("r1", 9);
    again.input = json!({"case": "other"});
    let (second, created) = s.create_run(again).await.expect("not created twice");
    assert!(!created);
    assert_eq!(second, first);
    assert_eq!(s.run("r1").await.expect("read"), Some(first));
    assert_eq!(
        s.list_runs(RunFilter::default())
            .await
            .expect("listed")
            .len(),
        1
    );
    assert_eq!(s.run("nope").await.expect("read"), None);
}

async fn create_run_refuses_bad_input(h: &Harness) {
    let s = &h.store;
    let error = s
        .create_run(new_run("r1", 1))
        .await
        .expect_err("no program");
    assert!(
        matches!(error, Error::UnknownProgram(ref p) if p == PROGRAM),
        "{error}"
    );

    s.put_program(PROGRAM, "src").await.expect("stored");
    let mut big = new_run("r2", 1);
    big.input = json!("x".repeat(MAX_VALUE_BYTES));
    let error = s.create_run(big).await.expect_err("too large");
    assert!(
        matches!(error, Error::ValueTooLarge { ref what, limit, .. } if what == "run r2 input" && limit == MAX_VALUE_BYTES),
        "{error}"
    );
    assert_eq!(s.run("r2").await.expect("read"), None);
}

async fn create_runs_in_one_call(h: &Harness) {
    let s = &h.store;
    s.put_program(PROGRAM, "src").await.expect("stored");
    s.create_run(new_run("r1", 1)).await.expect("created");
    let created = s
        .create_runs(vec![new_run("r0", 2), new_run("r1", 2), new_run("r2", 2)])
        .await
        .expect("created");
    let seen: Vec<(&str, bool, i64)> = created
        .iter()
        .map(|(run, new)| (run.id.as_str(), *new, run.created_at))
        .collect();
    assert_eq!(
        seen,
        vec![("r0", true, 2), ("r1", false, 1), ("r2", true, 2)]
    );

    // One bad run fails the call and creates nothing.
    let mut bad = new_run("r4", 3);
    bad.program_hash = "missing".to_owned();
    let error = s
        .create_runs(vec![new_run("r3", 3), bad])
        .await
        .expect_err("unknown program");
    assert!(
        matches!(error, Error::UnknownProgram(ref p) if p == "missing"),
        "{error}"
    );
    assert_eq!(s.run("r3").await.expect("read"), None);
    assert!(
        s.create_runs(vec![])
            .await
            .expect("nothing to do")
            .is_empty()
    );
}

async fn values_round_trip_exactly(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    // Key order, big integers, floats and unicode must come back as written.
    let state: Value = serde_json::from_str(
        r#"{"z":1,"a":{"y":[1.5,-0.0,1e300],"b":18446744073709551615},"é":"\"quoted\"\n"}"#,
    )
    .expect("valid JSON");
    let mut p = point("r1", epoch, state.clone());
    p.steps = vec![step("1", StepStatus::Done, 1, Some(state.clone()))];
    p.result = Some(json!(null));
    commit_one(h, p).await;
    let run = s.run("r1").await.expect("read").expect("exists");
    assert_eq!(
        serde_json::to_string(&run.state).expect("serialises"),
        serde_json::to_string(&state).expect("serialises")
    );
    assert_eq!(run.result, Some(Value::Null));
    assert_eq!(run.error, None);
    let steps = s.steps("r1").await.expect("read");
    assert_eq!(
        serde_json::to_string(&steps[0].answer).expect("serialises"),
        serde_json::to_string(&Some(state)).expect("serialises")
    );
}

async fn commit_moves_the_run_forward(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    let mut p = point("r1", epoch, json!({"pc": 1}));
    p.status = RunStatus::Waiting;
    p.wake_at = Some(5_000);
    p.now = 200;
    commit_one(h, p).await;
    let run = s.run("r1").await.expect("read").expect("exists");
    assert_eq!(run.status, RunStatus::Waiting);
    assert_eq!(run.wake_at, Some(5_000));
    assert_eq!(run.state, json!({"pc": 1}));
    assert_eq!(run.version, 1);
    assert_eq!(run.updated_at, 200);
    assert_eq!(run.created_at, 1);

    // Still waiting, until another time: only the time changes.
    let mut p = point("r1", epoch, json!({"pc": 1}));
    p.status = RunStatus::Waiting;
    p.wake_at = Some(6_000);
    commit_one(h, p).await;
    let run = s.run("r1").await.expect("read").expect("exists");
    assert_eq!((run.status, run.wake_at), (RunStatus::Waiting, Some(6_000)));

    let mut p = point("r1", epoch, json!({"pc": 2}));
    p.status = RunStatus::Completed;
    p.result = Some(json!({"ok": true}));
    commit_one(h, p).await;
    let run = s.run("r1").await.expect("read").expect("exists");
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.wake_at, None);
    assert_eq!(run.result, Some(json!({"ok": true})));
    assert_eq!(run.version, 3);
    assert!(s.commit(vec![]).await.expect("empty commit").is_empty());
}

/// A group commit whose caller stops waiting (its future dropped at some
/// await) leaves the store as if it had committed whole or not at all: the
/// next commits and reads work, and each whole commit moves the run's version
/// by one.
async fn a_cancelled_commit_leaves_the_store_usable(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    for i in 0..24u64 {
        let p = point("r1", epoch, json!({"pc": i}));
        // Dropped after its first poll, or a moment later: at every stage of
        // the commit in turn, whichever the timing hits.
        let wait = std::time::Duration::from_micros(i * 40);
        let _ = tokio::time::timeout(wait, s.commit(vec![p])).await;
    }
    // A commit queues behind whatever a cancelled one left running.
    commit_one(h, point("r1", epoch, json!({"pc": "settled"}))).await;
    let settled = s.run("r1").await.expect("read").expect("exists");
    assert_eq!(settled.state, json!({"pc": "settled"}));
    commit_one(h, point("r1", epoch, json!({"pc": "last"}))).await;
    let last = s.run("r1").await.expect("read").expect("exists");
    assert_eq!(last.state, json!({"pc": "last"}));
    assert_eq!(last.version, settled.version + 1, "one commit, one version");
}

/// `run_outcome` reads what a run's record says of its status, outcome and
/// timers, at every stage of the run, and nothing for an unknown run.
async fn the_outcome_of_a_run_is_its_record_without_state(h: &Harness) {
    async fn outcome_matches_record(h: &Harness, id: &str) -> RunOutcome {
        let run = h.store.run(id).await.expect("read").expect("exists");
        let outcome = h
            .store
            .run_outcome(id)
            .await
            .expect("read")
            .expect("exists");
        let expected = RunOutcome {
            id: run.id,
            status: run.status,
            result: run.result,
            error: run.error,
            wake_at: run.wake_at,
            lease_until: run.lease_until,
        };
        assert_eq!(outcome, expected);
        outcome
    }
    assert_eq!(h.store.run_outcome("nobody").await.expect("read"), None);

    let epoch = started_run(&h.store, "r1").await;
    let running = outcome_matches_record(h, "r1").await;
    assert_eq!(running.status, RunStatus::Running);
    assert!(running.lease_until.is_some(), "a started run is leased");

    let mut p = point("r1", epoch, json!({"pc": 1}));
    p.status = RunStatus::Waiting;
    p.wake_at = Some(5_000);
    commit_one(h, p).await;
    assert_eq!(outcome_matches_record(h, "r1").await.wake_at, Some(5_000));

    let mut p = point("r1", epoch, json!({"pc": 2}));
    p.status = RunStatus::Failed;
    p.error = Some(json!({"message": "bot \"x\" failed", "step": "2"}));
    commit_one(h, p).await;
    let failed = outcome_matches_record(h, "r1").await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.result, None);

    let epoch = started_run(&h.store, "r2").await;
    let mut p = point("r2", epoch, json!({"pc": 9}));
    p.status = RunStatus::Completed;
    p.result = Some(json!({"refund": "r-2", "items": [1, 2.5, null]}));
    commit_one(h, p).await;
    let done = outcome_matches_record(h, "r2").await;
    assert_eq!(
        done.result,
        Some(json!({"refund": "r-2", "items": [1, 2.5, null]}))
    );
}

/// Starts runs "a" and "b"; another node then takes "a" over once its lease
/// has expired. Returns a's old epoch, b's epoch and a's new record.
async fn a_taken_over_beside_b(h: &Harness) -> (i64, i64, store::RunRecord) {
    let stale = started_run(&h.store, "a").await;
    let fresh_b = started_run(&h.store, "b").await;
    let taken = h
        .store
        .claim_run("a", "other", 10 + 60_001, 60_000)
        .await
        .expect("claim runs")
        .expect("expired lease is taken");
    assert_eq!(taken.lease_epoch, stale + 1);
    (stale, fresh_b, taken)
}

async fn stale_epoch_is_fenced_while_the_batch_commits(h: &Harness) {
    let s = &h.store;
    let (stale, fresh_b, taken) = a_taken_over_beside_b(h).await;

    let mut old = point("a", stale, json!({"from": "stale"}));
    old.steps = vec![step("1", StepStatus::Done, 1, Some(json!("stale")))];
    old.memory = vec![set("bot", "k", json!("stale"))];
    old.events = vec![event("a:1", "done", json!(1))];
    old.journal = vec![entry("stale", json!(null))];
    let mut good = point("b", fresh_b, json!({"from": "b"}));
    good.steps = vec![step("1", StepStatus::Done, 1, Some(json!("b")))];
    good.journal = vec![entry("ok", json!(null))];

    let outcomes = s.commit(vec![old, good]).await.expect("commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Fenced, PointOutcome::Ok]);

    let a = s.run("a").await.expect("read").expect("exists");
    assert_eq!(a.state, json!({"pc": 0}));
    assert_eq!(a.version, 0);
    assert_eq!(a.lease_owner.as_deref(), Some("other"));
    assert!(s.steps("a").await.expect("read").is_empty());
    assert!(s.journal("a").await.expect("read").is_empty());
    assert_eq!(s.memory("bot", "k").await.expect("read"), None);
    assert!(
        s.events(EventFilter::default())
            .await
            .expect("read")
            .is_empty()
    );

    let b = s.run("b").await.expect("read").expect("exists");
    assert_eq!(b.state, json!({"from": "b"}));
    assert_eq!(s.steps("b").await.expect("read").len(), 1);
    assert_eq!(s.journal("b").await.expect("read").len(), 1);

    // The new holder's epoch commits.
    commit_one(h, point("a", taken.lease_epoch, json!({"from": "new"}))).await;
}

/// Batches of one to seventy steps and events, each beside a fenced point:
/// at every size each row is written whole, events in the batch's order,
/// and the fenced point's rows are left out.
async fn a_batch_writes_every_step_and_event_in_order_whatever_its_size(h: &Harness) {
    let s = &h.store;
    // (runs, steps and events per run): 1, 4, 6, 32, 33 and 70 rows of each.
    let sizes = [(1, 1), (2, 2), (3, 2), (4, 8), (3, 11), (5, 14)];
    let (stale, _, _) = a_taken_over_beside_b(h).await;
    let mut after_seq = 0;
    for (batch, (runs, per_run)) in sizes.into_iter().enumerate() {
        let mut points = Vec::new();
        let mut expected = Vec::new();
        for r in 0..runs {
            let run = format!("big-{batch}-{r}");
            let epoch = started_run(s, &run).await;
            let mut p = point(&run, epoch, json!({"batch": batch}));
            for i in 0..per_run {
                let mut write = step(&format!("{}", i + 1), StepStatus::Done, i + 1, None);
                write.answer = Some(json!({"run": run, "i": i, "quote": "\"'\\"}));
                write.bot = (i % 2 == 0).then(|| format!("bot-{i}"));
                write.finished_at = Some(i64::from(i) * 7);
                p.steps.push(write);
                let mut e = event(
                    &format!("{run}:e{i}"),
                    &format!("name-{}", i % 3),
                    json!([i]),
                );
                e.key = (i % 2 == 1).then(|| format!("key-{i}"));
                e.target_bot = (i % 3 == 2).then(|| "target".to_owned());
                e.from_run = Some(run.clone());
                expected.push(e.clone());
                p.events.push(e);
            }
            points.push(p);
        }
        // A fenced point in the middle of the batch writes nothing.
        let mut fenced = point("a", stale, json!({"from": "stale"}));
        fenced.steps = vec![step("1", StepStatus::Done, 1, None)];
        fenced.events = vec![event(&format!("a:fenced-{batch}"), "fenced", json!(1))];
        points.insert(points.len() / 2, fenced);
        let outcomes = s.commit(points).await.expect("the batch commits");
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == PointOutcome::Fenced)
                .count(),
            1
        );
        assert_eq!(
            outcomes.iter().filter(|o| **o == PointOutcome::Ok).count(),
            runs
        );

        let written = s
            .events(EventFilter {
                after_seq,
                limit: 1000,
                ..EventFilter::default()
            })
            .await
            .expect("events read");
        after_seq = written.last().map_or(after_seq, |e| e.seq);
        let got: Vec<_> = written
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    e.name.clone(),
                    e.key.clone(),
                    e.target_bot.clone(),
                    e.payload.clone(),
                    e.from_bot.clone(),
                    e.from_run.clone(),
                )
            })
            .collect();
        let want: Vec<_> = expected
            .into_iter()
            .map(|e| {
                (
                    e.id,
                    e.name,
                    e.key,
                    e.target_bot,
                    e.payload,
                    e.from_bot,
                    e.from_run,
                )
            })
            .collect();
        assert_eq!(got, want, "batch {batch}: every event, in order");
        for r in 0..runs {
            let run = format!("big-{batch}-{r}");
            let steps = s.steps(&run).await.expect("steps read");
            assert_eq!(steps.len(), per_run as usize, "batch {batch}, {run}");
            for i in 0..per_run {
                let row = steps
                    .iter()
                    .find(|row| row.path == format!("{}", i + 1))
                    .expect("every step has its row");
                assert_eq!(row.attempts, i + 1);
                assert_eq!(row.status, StepStatus::Done);
                assert_eq!(row.bot, (i % 2 == 0).then(|| format!("bot-{i}")));
                assert_eq!(
                    row.answer,
                    Some(json!({"run": run, "i": i, "quote": "\"'\\"}))
                );
                assert_eq!(
                    (row.started_at, row.finished_at),
                    (Some(50), Some(i64::from(i) * 7))
                );
            }
        }
    }
    assert!(s.steps("a").await.expect("read").is_empty());
}

/// The batch SQLite writes in one pass (plain points: no memory, approvals
/// or event marks) must leave out a fenced point's rows just the same.
async fn a_stale_plain_point_writes_no_row_beside_a_live_one(h: &Harness) {
    let s = &h.store;
    let (stale, fresh_b, taken) = a_taken_over_beside_b(h).await;

    let before = s.run("a").await.expect("read").expect("exists");
    let mut old = point("a", stale, json!({"from": "stale"}));
    old.steps = vec![step("1", StepStatus::Done, 1, Some(json!("stale")))];
    old.events = vec![event("a:1", "done", json!(1))];
    old.journal = vec![entry("stale", json!(null))];
    old.waits = Some(Vec::new());
    // Status and wake-up time are written apart from the rest: fenced too.
    old.status = RunStatus::Waiting;
    old.wake_at = Some(99);
    let mut good = point("b", fresh_b, json!({"from": "b"}));
    good.steps = vec![step("1", StepStatus::Done, 1, Some(json!("b")))];
    good.events = vec![event("b:1", "done", json!(2))];
    good.journal = vec![entry("ok", json!(null))];
    good.waits = Some(Vec::new());

    let outcomes = s.commit(vec![old, good]).await.expect("commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Fenced, PointOutcome::Ok]);

    let a = s.run("a").await.expect("read").expect("exists");
    assert_eq!(a.state, json!({"pc": 0}));
    assert_eq!(a.lease_epoch, taken.lease_epoch);
    assert_eq!((a.status, a.wake_at), (before.status, before.wake_at));
    assert!(s.steps("a").await.expect("read").is_empty());
    assert!(s.journal("a").await.expect("read").is_empty());
    let events = s.events(EventFilter::default()).await.expect("read");
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["b:1"]);

    let b = s.run("b").await.expect("read").expect("exists");
    assert_eq!(b.state, json!({"from": "b"}));
    assert_eq!(b.version, 1);
    assert_eq!(s.steps("b").await.expect("read").len(), 1);
    assert_eq!(s.journal("b").await.expect("read").len(), 1);
}

async fn unknown_run_is_rejected(h: &Harness) {
    let outcomes = h
        .store
        .commit(vec![point("ghost", 1, json!({}))])
        .await
        .expect("commit runs");
    assert!(matches!(&outcomes[..], [PointOutcome::Rejected(r)] if r.contains("ghost")));
}

async fn steps_are_recorded_exactly_once(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    let mut p = point("r1", epoch, json!({}));
    p.steps = vec![
        step("3#1", StepStatus::Running, 1, None),
        step("3#1", StepStatus::Done, 1, Some(json!("first"))),
        step("4/A", StepStatus::Done, 1, Some(json!("a"))),
    ];
    commit_one(h, p).await;

    // A replayed point (same paths, other answers) must not change recorded steps.
    let mut replay = point("r1", epoch, json!({}));
    replay.steps = vec![
        step("3#1", StepStatus::Done, 2, Some(json!("second"))),
        step("4/A", StepStatus::Running, 3, None),
        step("3#2", StepStatus::Done, 1, Some(json!("next"))),
    ];
    commit_one(h, replay).await;

    let steps = s.steps("r1").await.expect("read");
    let rows: Vec<(&str, StepStatus, Option<&Value>, i32)> = steps
        .iter()
        .map(|s| (s.path.as_str(), s.status, s.answer.as_ref(), s.attempts))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("3#1", StepStatus::Done, Some(&json!("first")), 1),
            ("3#2", StepStatus::Done, Some(&json!("next")), 1),
            ("4/A", StepStatus::Done, Some(&json!("a")), 1),
        ]
    );
    assert_eq!(steps[0].number, "3");
    assert_eq!(steps[0].bot.as_deref(), Some("classifier"));
}

async fn attempts_are_counted(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    for (attempts, status) in [
        (1, StepStatus::Running),
        (2, StepStatus::Failed),
        (1, StepStatus::Running),
        (3, StepStatus::Done),
    ] {
        let mut p = point("r1", epoch, json!({}));
        let mut write = step("2", status, attempts, None);
        write.started_at = Some(100 + i64::from(attempts));
        write.error = (status == StepStatus::Failed).then(|| json!({"message": "boom"}));
        p.steps = vec![write];
        commit_one(h, p).await;
    }
    let steps = s.steps("r1").await.expect("read");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].attempts, 3);
    assert_eq!(steps[0].status, StepStatus::Done);
    assert_eq!(steps[0].started_at, Some(101), "the first start is kept");
    assert_eq!(steps[0].error, None);
}

async fn event_ids_are_deduplicated(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    let mut p = point("r1", epoch, json!({}));
    p.events = vec![
        event("r1:1", "stock_low", json!({"n": 1})),
        event("r1:1", "stock_low", json!({"n": 2})),
    ];
    commit_one(h, p).await;
    let mut again = point("r1", epoch, json!({}));
    again.events = vec![
        event("r1:1", "stock_low", json!({"n": 3})),
        event("r1:2", "done", json!(null)),
    ];
    commit_one(h, again).await;

    let events = s.events(EventFilter::default()).await.expect("read");
    let seen: Vec<(&str, Option<&Value>)> = events
        .iter()
        .map(|e| (e.id.as_str(), e.payload.as_ref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("r1:1", Some(&json!({"n": 1}))),
            ("r1:2", Some(&Value::Null))
        ]
    );
    assert!(events[0].seq < events[1].seq);
    assert_eq!(events[0].key.as_deref(), Some("k1"));
    assert_eq!(events[0].from_run.as_deref(), Some("r1"));
    assert_eq!(events[0].at, 100);
}

async fn events_are_filtered_in_order(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    let mut p = point("r1", epoch, json!({}));
    p.events = (0..6)
        .map(|i| {
            event(
                &format!("e{i}"),
                if i % 2 == 0 { "even" } else { "odd" },
                json!(i),
            )
        })
        .collect();
    let mut untargeted = event("e6", "odd", json!(6));
    untargeted.key = None;
    untargeted.payload = None;
    untargeted.target_bot = Some("purchasing".to_owned());
    p.events.push(untargeted);
    commit_one(h, p).await;

    let all = s.events(EventFilter::default()).await.expect("read");
    let ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4", "e5", "e6"]);
    assert_eq!(all[6].payload, None);
    assert_eq!(all[6].target_bot.as_deref(), Some("purchasing"));

    let odd = s
        .events(EventFilter {
            after_seq: all[1].seq,
            name: Some("odd".to_owned()),
            limit: 1,
            ..EventFilter::default()
        })
        .await
        .expect("read");
    assert_eq!(odd.len(), 1);
    assert_eq!(odd[0].id, "e3");

    let by_run = |run: &str| EventFilter {
        from_run: Some(run.to_owned()),
        limit: 100,
        ..EventFilter::default()
    };
    let mine = s.events(by_run("r1")).await.expect("read");
    assert_eq!(mine.len(), 7, "every event of run r1");
    let theirs = s.events(by_run("r2")).await.expect("read");
    assert!(theirs.is_empty(), "no event of another run: {theirs:?}");
}

async fn memory_set_keeps_history(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![set("bot", "k", json!(1)), set("bot", "k", json!(2))];
    p.now = 100;
    commit_one(h, p).await;
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![set("bot", "k", json!({"v": 3}))];
    p.now = 200;
    commit_one(h, p).await;

    assert_eq!(
        s.memory("bot", "k").await.expect("read"),
        Some(json!({"v": 3}))
    );
    let history = s.memory_history("bot", "k").await.expect("read");
    let seen: Vec<(Value, i64, i64)> = history
        .into_iter()
        .map(|m| (m.value, m.version, m.at))
        .collect();
    assert_eq!(seen, vec![(json!(1), 1, 100), (json!(2), 2, 200)]);
    assert_eq!(s.memory("other", "k").await.expect("read"), None);
}

async fn memory_share_replaces_per_source(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    // A share in the same point sees the set before it.
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![
        set("a", "k", json!("a1")),
        share("a", "k", "b"),
        share("c", "k", "b"),
    ];
    p.now = 100;
    commit_one(h, p).await;
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![set("a", "k", json!("a2")), share("a", "k", "b")];
    p.now = 200;
    commit_one(h, p).await;

    let shared = s.shared_memory("b").await.expect("read");
    let seen: Vec<(&str, &str, &Value, i64, i64)> = shared
        .iter()
        .map(|e| {
            (
                e.key.as_str(),
                e.source_bot.as_str(),
                &e.value,
                e.version,
                e.shared_at,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("k", "a", &json!("a2"), 2, 200),
            ("k", "c", &Value::Null, 1, 100),
        ]
    );
    assert!(s.shared_memory("a").await.expect("read").is_empty());
    // Sharing does not write the receiver's own memory.
    assert_eq!(s.memory("b", "k").await.expect("read"), None);
}

async fn memory_sync_newer_write_wins(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![
        set("b", "old", json!("b-old")),
        set("b", "mine", json!("b-mine")),
    ];
    p.now = 100;
    commit_one(h, p).await;
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![
        set("a", "old", json!("a-old")),
        set("a", "new", json!("a-new")),
        share("a", "old", "b"),
        share("a", "new", "b"),
    ];
    p.now = 200;
    commit_one(h, p).await;
    // "mine" is written after the share was made, so it must survive the sync.
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![set("a", "mine", json!("a-mine")), share("a", "mine", "b")];
    p.now = 250;
    commit_one(h, p).await;
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![set("b", "mine", json!("b-mine-2"))];
    p.now = 300;
    commit_one(h, p).await;

    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![sync("b", "a")];
    p.now = 400;
    commit_one(h, p).await;

    assert_eq!(
        s.memory("b", "old").await.expect("read"),
        Some(json!("a-old"))
    );
    assert_eq!(
        s.memory("b", "new").await.expect("read"),
        Some(json!("a-new"))
    );
    assert_eq!(
        s.memory("b", "mine").await.expect("read"),
        Some(json!("b-mine-2"))
    );
    let history = s.memory_history("b", "old").await.expect("read");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].value, json!("b-old"));
    assert_eq!(history[0].at, 400);
    assert_eq!(s.memory_history("b", "new").await.expect("read"), vec![]);

    // Syncing again changes nothing: the shares are no newer than the copies.
    let mut p = point("r1", epoch, json!({}));
    p.memory = vec![sync("b", "a")];
    p.now = 500;
    commit_one(h, p).await;
    assert_eq!(s.memory_history("b", "old").await.expect("read").len(), 1);
    assert_eq!(
        s.memory("b", "old").await.expect("read"),
        Some(json!("a-old"))
    );
}

async fn oversized_value_rejects_the_whole_point(h: &Harness) {
    let s = &h.store;
    let epoch_a = started_run(&h.store, "a").await;
    let epoch_b = started_run(&h.store, "b").await;
    let mut big = point("a", epoch_a, json!({"pc": 9}));
    big.steps = vec![
        step("1", StepStatus::Done, 1, Some(json!("fine"))),
        step(
            "2",
            StepStatus::Done,
            1,
            Some(json!("x".repeat(MAX_VALUE_BYTES))),
        ),
    ];
    big.memory = vec![set("bot", "k", json!(1))];
    big.events = vec![event("a:1", "n", json!(1))];
    big.journal = vec![entry("j", json!(1))];
    let mut fine = point("b", epoch_b, json!({"pc": 1}));
    fine.memory = vec![set("bot", "b", json!("b"))];

    let outcomes = s.commit(vec![big, fine]).await.expect("commit runs");
    match &outcomes[..] {
        [PointOutcome::Rejected(reason), PointOutcome::Ok] => {
            assert!(reason.contains("step 2 answer"), "{reason}");
            assert!(reason.contains(&MAX_VALUE_BYTES.to_string()), "{reason}");
        }
        other => panic!("unexpected outcomes {other:?}"),
    }
    let a = s.run("a").await.expect("read").expect("exists");
    assert_eq!((a.version, a.state), (0, json!({"pc": 0})));
    assert!(s.steps("a").await.expect("read").is_empty());
    assert!(s.journal("a").await.expect("read").is_empty());
    assert!(
        s.events(EventFilter::default())
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(s.memory("bot", "k").await.expect("read"), None);
    assert_eq!(s.memory("bot", "b").await.expect("read"), Some(json!("b")));

    // Each kind of value is checked: state, memory and payloads too.
    let big_state = point("a", epoch_a, json!("x".repeat(MAX_VALUE_BYTES)));
    let mut big_memory = point("a", epoch_a, json!({}));
    big_memory.memory = vec![set("bot", "k", json!("y".repeat(MAX_VALUE_BYTES + 1)))];
    let outcomes = s
        .commit(vec![big_state, big_memory])
        .await
        .expect("commit runs");
    assert!(
        matches!(&outcomes[..], [PointOutcome::Rejected(a), PointOutcome::Rejected(b)]
            if a.contains("state") && b.contains("memory bot.k")),
        "{outcomes:?}"
    );
    let mut p = point("a", epoch_a, json!({}));
    p.events = vec![event("a:2", "n", json!("z".repeat(MAX_VALUE_BYTES)))];
    let outcomes = s.commit(vec![p]).await.expect("commit runs");
    assert!(matches!(&outcomes[..], [PointOutcome::Rejected(r)] if r.contains("payload")));
    assert_eq!(s.run("a").await.expect("read").expect("exists").version, 0);
}

async fn same_run_twice_in_a_batch_applies_in_order(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    let other = started_run(&h.store, "r2").await;
    let mut first = point("r1", epoch, json!({"pc": 1}));
    first.steps = vec![step("1", StepStatus::Done, 1, Some(json!("one")))];
    first.journal = vec![entry("first", json!(1))];
    let mut second = point("r1", epoch, json!({"pc": 2}));
    second.steps = vec![step("1", StepStatus::Done, 1, Some(json!("replayed")))];
    second.journal = vec![entry("second", json!(2))];
    let outcomes = s
        .commit(vec![first, point("r2", other, json!({"pc": 5})), second])
        .await
        .expect("commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Ok; 3]);
    let run = s.run("r1").await.expect("read").expect("exists");
    assert_eq!((run.version, run.state), (2, json!({"pc": 2})));
    let steps = s.steps("r1").await.expect("read");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].answer, Some(json!("one")));
    let kinds: Vec<String> = s
        .journal("r1")
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["first", "second"]);
}

async fn claim_takes_due_runs_and_expired_leases(h: &Harness) {
    let s = &h.store;
    s.put_program(PROGRAM, "src").await.expect("stored");
    let mut runs = vec![new_run("running", 1)];
    let mut due_later = new_run("waiting-due", 1);
    due_later.status = RunStatus::Waiting;
    due_later.wake_at = Some(1_000);
    runs.push(due_later);
    let mut forever = new_run("waiting-event", 1);
    forever.status = RunStatus::Waiting;
    runs.push(forever);
    let mut done = new_run("completed", 1);
    done.status = RunStatus::Completed;
    runs.push(done);
    for run in runs {
        s.create_run(run).await.expect("created");
    }

    let claimed = s.claim("n1", 500, 100, 10).await.expect("claim runs");
    let ids: Vec<(&str, i64, Option<i64>)> = claimed
        .iter()
        .map(|r| (r.id.as_str(), r.lease_epoch, r.lease_until))
        .collect();
    assert_eq!(ids, vec![("running", 1, Some(600))]);
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("n1"));

    // Held until 600: nobody else gets it before.
    assert!(
        s.claim("n2", 600, 100, 10)
            .await
            .expect("claim runs")
            .is_empty()
    );
    let taken = s.claim("n2", 601, 100, 10).await.expect("claim runs");
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].id.as_str(), taken[0].lease_epoch), ("running", 2));

    // At 1000 the waiting run is due and n2's lease (until 701) has expired.
    let mut due = s.claim("n3", 1_000, 100, 10).await.expect("claim runs");
    due.sort_by(|a, b| a.id.cmp(&b.id));
    let ids: Vec<(&str, i64)> = due.iter().map(|r| (r.id.as_str(), r.lease_epoch)).collect();
    assert_eq!(ids, [("running", 3), ("waiting-due", 1)]);

    // A specific waiting run can be claimed before it is due (an event came).
    let woken = s
        .claim_run("waiting-event", "n3", 1_000, 100)
        .await
        .expect("claim runs")
        .expect("claimed");
    assert_eq!(woken.lease_epoch, 1);
    assert!(
        s.claim_run("completed", "n3", 1_000, 100)
            .await
            .expect("claim runs")
            .is_none()
    );
    assert!(
        s.claim_run("waiting-event", "n4", 1_050, 100)
            .await
            .expect("claim runs")
            .is_none()
    );
    assert!(
        s.claim_run("missing", "n4", 1_050, 100)
            .await
            .expect("claim runs")
            .is_none()
    );

    // The limit is respected. At 2000 every lease above has expired: the five
    // new runs, "running" and "waiting-due" are claimable, but "waiting-event"
    // has no wake-up time and is only claimed by id.
    for i in 0..5 {
        s.create_run(new_run(&format!("more{i}"), 2))
            .await
            .expect("created");
    }
    assert_eq!(
        s.claim("n5", 2_000, 100, 3)
            .await
            .expect("claim runs")
            .len(),
        3
    );
    assert_eq!(
        s.claim("n5", 2_000, 100, 10)
            .await
            .expect("claim runs")
            .len(),
        4
    );
    assert!(
        s.claim("n5", 2_000, 100, 10)
            .await
            .expect("claim runs")
            .is_empty()
    );
}

async fn concurrent_claims_never_share_a_run(h: &Harness) {
    let s = &h.store;
    s.put_program(PROGRAM, "src").await.expect("stored");
    for i in 0..40 {
        s.create_run(new_run(&format!("r{i:02}"), 1))
            .await
            .expect("created");
    }
    let mut tasks = Vec::new();
    for node in 0..4 {
        let store = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim(&format!("n{node}"), 10, 1_000, 3)
                    .await
                    .expect("claim runs");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|r| r.id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("claimer finished"));
    }
    all.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("r{i:02}")).collect();
    assert_eq!(all, expected, "every run claimed exactly once");
}

async fn renew_and_release_respect_the_epoch(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    assert!(
        !s.renew("r1", "node", epoch + 1, 20, 100)
            .await
            .expect("renew runs")
    );
    assert!(
        !s.renew("r1", "intruder", epoch, 20, 100)
            .await
            .expect("renew runs")
    );
    assert!(
        s.renew("r1", "node", epoch, 20, 100)
            .await
            .expect("renew runs")
    );
    assert_eq!(
        s.run("r1")
            .await
            .expect("read")
            .expect("exists")
            .lease_until,
        Some(120)
    );
    assert!(
        !s.release("r1", "node", epoch + 1)
            .await
            .expect("release runs")
    );
    assert!(s.release("r1", "node", epoch).await.expect("release runs"));
    let run = s.run("r1").await.expect("read").expect("exists");
    assert_eq!(
        (run.lease_owner, run.lease_until, run.lease_epoch),
        (None, None, epoch)
    );

    // Free again: the next claim fences the old holder.
    let next = s
        .claim_run("r1", "n2", 30, 100)
        .await
        .expect("claim")
        .expect("free");
    assert_eq!(next.lease_epoch, epoch + 1);
    let outcomes = s
        .commit(vec![point("r1", epoch, json!({}))])
        .await
        .expect("commit");
    assert_eq!(outcomes, vec![PointOutcome::Fenced]);
    assert!(!s.release("r1", "node", epoch).await.expect("release runs"));
}

async fn list_runs_filters_and_pages(h: &Harness) {
    let s = &h.store;
    s.put_program(PROGRAM, "src").await.expect("stored");
    for i in 0..6_i64 {
        let mut run = new_run(&format!("r{i}"), 100 + i);
        run.workflow = if i % 2 == 0 { "even" } else { "odd" }.to_owned();
        run.bot = if i < 3 { "low" } else { "high" }.to_owned();
        if i == 4 {
            run.status = RunStatus::Failed;
            run.parent_run = Some("r0".to_owned());
        }
        s.create_run(run).await.expect("created");
    }
    let ids =
        |runs: Vec<store::RunSummary>| -> Vec<String> { runs.into_iter().map(|r| r.id).collect() };
    let all = s.list_runs(RunFilter::default()).await.expect("listed");
    assert_eq!(all[4].parent_run, None);
    assert_eq!(all[1].parent_run.as_deref(), Some("r0"));
    assert_eq!(ids(all), ["r5", "r4", "r3", "r2", "r1", "r0"]);
    let even = RunFilter {
        workflow: Some("even".to_owned()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(s.list_runs(even.clone()).await.expect("listed")),
        ["r4", "r2", "r0"]
    );
    let failed = RunFilter {
        status: Some(RunStatus::Failed),
        ..RunFilter::default()
    };
    assert_eq!(ids(s.list_runs(failed).await.expect("listed")), ["r4"]);
    let running_even = RunFilter {
        status: Some(RunStatus::Running),
        ..even
    };
    assert_eq!(
        ids(s.list_runs(running_even).await.expect("listed")),
        ["r2", "r0"]
    );
    let high = RunFilter {
        bot: Some("high".to_owned()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(s.list_runs(high).await.expect("listed")),
        ["r5", "r4", "r3"]
    );
    let page = RunFilter {
        limit: 2,
        offset: 3,
        ..RunFilter::default()
    };
    assert_eq!(ids(s.list_runs(page).await.expect("listed")), ["r2", "r1"]);

    // Keyset pages go on after a run's key, in the listing order, and
    // combine with the filters.
    let first = s
        .list_runs(RunFilter {
            limit: 2,
            ..RunFilter::default()
        })
        .await
        .expect("listed");
    let after_first = RunFilter {
        before: first.last().map(ListKey::from),
        limit: 2,
        ..RunFilter::default()
    };
    assert_eq!(
        ids(s.list_runs(after_first.clone()).await.expect("listed")),
        ["r3", "r2"]
    );
    let even_after = RunFilter {
        workflow: Some("even".to_owned()),
        ..after_first
    };
    assert_eq!(
        ids(s.list_runs(even_after).await.expect("listed")),
        ["r2", "r0"]
    );
    // Runs created at the same time are ordered by id.
    for id in ["t-a", "t-b"] {
        s.create_run(new_run(id, 100)).await.expect("created");
    }
    let same_time = RunFilter {
        before: Some(ListKey {
            created_at: 100,
            id: "t-b".to_owned(),
        }),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(s.list_runs(same_time).await.expect("listed")),
        ["t-a", "r0"]
    );
}

async fn journal_is_ordered_per_run(h: &Harness) {
    let s = &h.store;
    let a = started_run(&h.store, "a").await;
    let b = started_run(&h.store, "b").await;
    let mut pa = point("a", a, json!({}));
    pa.journal = vec![entry("a1", json!(1)), entry("a2", json!(2))];
    pa.now = 10;
    let mut pb = point("b", b, json!({}));
    pb.journal = vec![entry("b1", json!({"x": [1]}))];
    s.commit(vec![pa, pb]).await.expect("commit runs");
    let mut pa = point("a", a, json!({}));
    pa.journal = vec![entry("a3", json!(3))];
    pa.now = 20;
    commit_one(h, pa).await;

    let journal = s.journal("a").await.expect("read");
    let seen: Vec<(i64, i64, &str, &Value)> = journal
        .iter()
        .map(|e| (e.seq, e.at, e.kind.as_str(), &e.data))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, 10, "a1", &json!(1)),
            (2, 10, "a2", &json!(2)),
            (3, 20, "a3", &json!(3)),
        ]
    );
    let journal = s.journal("b").await.expect("read");
    assert_eq!(journal.len(), 1);
    assert_eq!((journal[0].seq, &journal[0].data), (1, &json!({"x": [1]})));
}

async fn schema_too_new_is_refused_untouched(h: &Harness) {
    const VERSION: &str = "SELECT value FROM meta WHERE key = 'schema_version'";
    assert_eq!(h.text(VERSION).await, Some(SCHEMA_VERSION.to_string()));
    // Reopening a current database is fine and idempotent.
    h.reopen().await.expect("reopens").close().await;

    h.exec("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        .await;
    let migrations = h
        .text("SELECT CAST(count(*) AS TEXT) FROM _sqlx_migrations")
        .await;
    match h.reopen().await {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (999, SCHEMA_VERSION));
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer schema must not open"),
    }
    assert_eq!(h.text(VERSION).await.as_deref(), Some("999"));
    assert_eq!(
        h.text("SELECT CAST(count(*) AS TEXT) FROM _sqlx_migrations")
            .await,
        migrations
    );
}

/// SQLite-only: a file that is not a database gets a clear error and is left as is.
#[tokio::test]
async fn sqlite_corrupt_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("junk.db");
    let junk: Vec<u8> = (0..8192_u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &junk).expect("written");
    let error = store::SqliteStore::open(&path)
        .await
        .expect_err("not a database");
    assert!(matches!(error, Error::NotADatabase { .. }), "{error:?}");
    assert!(error.to_string().contains("junk.db"), "{error}");
    assert_eq!(std::fs::read(&path).expect("readable"), junk);

    let url = format!("sqlite://{}", path.display());
    let error = store::AnyStore::open(&url)
        .await
        .expect_err("not a database");
    assert!(matches!(error, Error::NotADatabase { .. }), "{error:?}");
}

/// SQLite-only: the URL forms `AnyStore::open` accepts.
#[tokio::test]
async fn any_store_opens_by_url() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let plain = dir.path().join("plain.db");
    let store = store::AnyStore::open(&plain.display().to_string())
        .await
        .expect("plain path opens");
    assert!(matches!(store, store::AnyStore::Sqlite(_)));
    store.put_program("h", "src").await.expect("stored");
    store.close().await;

    let url = format!("sqlite://{}", plain.display());
    let store = store::AnyStore::open(&url).await.expect("sqlite URL opens");
    assert_eq!(
        store.program("h").await.expect("read").as_deref(),
        Some("src")
    );
    store.close().await;

    let options = store::OpenOptions {
        sqlite: store::SqliteOptions {
            durability: store::Durability::Normal,
            ..Default::default()
        },
        ..Default::default()
    };
    let url = format!("sqlite:{}", dir.path().join("normal.db").display());
    let store = store::AnyStore::open_with(&url, options)
        .await
        .expect("opens");
    store.close().await;

    for bad in ["mysql://x/y", ""] {
        let error = store::AnyStore::open(bad).await.expect_err("unsupported");
        assert!(matches!(error, Error::UnsupportedUrl(_)), "{error:?}");
    }
}
