//! `SET SCHEDULE` (LANGUAGE.md §3): a worker starts one run per tick, with
//! ids `<workflow>:tick:<tick ms>`, never skipping or doubling a tick, also across
//! a restart after downtime (the missed ticks are started, each once). Tick
//! arithmetic is checked from fixed instants, without a clock.

mod common;

use std::time::Duration;

use basic::schedule::parse_schedule;
use common::{Fixture, package};
use runtime::{MAX_TICKS_PER_PASS, Runtime, WorkerOptions, next_tick, tick_text};
use serde_json::json;
use store::{RunFilter, RunStatus, Store};

const EVERY_SECOND: &str = "SET SCHEDULE \"every 1 second\"\n\
ORCHESTRATE WORKFLOW \"beat\"\n  RETURN tick\nEND WORKFLOW\n";

/// Epoch milliseconds of an RFC 3339 instant.
fn ms(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>()
        .expect("a valid instant")
        .as_millisecond()
}

fn next(schedule: &str, after: &str) -> String {
    let schedule = parse_schedule(schedule).expect("a valid schedule");
    tick_text(next_tick(&schedule, ms(after)).expect("the schedule fires again"))
}

/// Runs a worker for `time`, then stops it (in-flight runs finish).
async fn work_for(rt: &Runtime, time: Duration) {
    let options = WorkerOptions {
        poll: Duration::from_millis(200),
        ..WorkerOptions::default()
    };
    rt.work(options, tokio::time::sleep(time), |_| {})
        .await
        .expect("the worker runs");
}

/// The ticks of the runs of workflow `beat`, in order, from their ids.
async fn ticks(rt: &Runtime) -> Vec<i64> {
    let runs = rt
        .store()
        .list_runs(RunFilter {
            limit: 10_000,
            ..RunFilter::default()
        })
        .await
        .expect("runs are listed");
    let mut ticks: Vec<i64> = runs
        .iter()
        .map(|run| {
            let tick = run
                .id
                .strip_prefix("beat:tick:")
                .unwrap_or_else(|| panic!("a scheduled run id: {}", run.id));
            tick.parse().expect("the id ends with the tick in ms")
        })
        .collect();
    ticks.sort_unstable();
    ticks
}

/// Every tick from the first to the last, 1000 ms apart, each once.
fn assert_gapless(ticks: &[i64]) {
    assert!(!ticks.is_empty(), "no run was started");
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            1_000,
            "ticks are exactly one second apart: {ticks:?}"
        );
    }
    assert!(
        ticks.iter().all(|t| t % 1_000 == 0),
        "whole seconds: {ticks:?}"
    );
}

/// Every run completed and returned its own tick, which it got as input.
async fn assert_each_run_got_its_tick(rt: &Runtime, ticks: &[i64]) {
    rt.resume_all().await.expect("left-over runs are driven");
    for tick in ticks {
        let id = format!("beat:tick:{tick}");
        let run = rt.store().run(&id).await.expect("read").expect("the run");
        assert_eq!(run.status, RunStatus::Completed, "{id}");
        assert_eq!(run.input, json!({"tick": tick_text(*tick)}), "{id}");
        assert_eq!(run.result, Some(json!(tick_text(*tick))), "{id}");
    }
}

#[test]
fn phrases_and_cron_compute_their_next_ticks_from_fixed_instants() {
    // 2025-03-01 is a Saturday.
    assert_eq!(
        next("every 5 minutes", "2025-03-01T10:02:03Z"),
        "2025-03-01T10:05:00Z"
    );
    assert_eq!(
        next("every 5 minutes", "2025-03-01T10:05:00Z"),
        "2025-03-01T10:10:00Z",
        "strictly after"
    );
    assert_eq!(
        next("every monday at 9am", "2025-03-01T10:00:00Z"),
        "2025-03-03T09:00:00Z"
    );
    assert_eq!(
        next("every monday at 9am", "2025-03-03T09:00:00Z"),
        "2025-03-10T09:00:00Z"
    );
    assert_eq!(
        next("weekdays at 8am", "2025-03-07T08:00:00Z"),
        "2025-03-10T08:00:00Z",
        "Friday 8am → Monday 8am"
    );
    assert_eq!(
        next("weekdays at 8am", "2025-03-04T07:59:59.999Z"),
        "2025-03-04T08:00:00Z"
    );
    assert_eq!(
        next("0 9 * * 1-5", "2025-12-31T23:00:00Z"),
        "2026-01-01T09:00:00Z"
    );
    assert_eq!(
        next("* * * * * *", "2025-03-01T10:00:00.500Z"),
        "2025-03-01T10:00:01Z"
    );
    assert_eq!(
        next("every 1 second", "2025-03-01T23:59:59Z"),
        "2025-03-02T00:00:00Z"
    );
    let never = parse_schedule("0 0 31 2 *").expect("valid, but never fires");
    assert_eq!(next_tick(&never, ms("2025-03-01T00:00:00Z")), None);
}

#[tokio::test]
async fn a_one_second_schedule_starts_one_run_per_tick() {
    let fixture = Fixture::new();
    package(&fixture.bots(), "clock", &[("beat.bas", EVERY_SECOND)], "");
    let rt = fixture.runtime().await;
    work_for(&rt, Duration::from_millis(3_500)).await;

    let ticks = ticks(&rt).await;
    assert!(ticks.len() >= 2, "several ticks in 3.5 s: {ticks:?}");
    assert_gapless(&ticks);
    assert_each_run_got_its_tick(&rt, &ticks).await;
    println!("{} ticks in 3.5 s: {ticks:?}", ticks.len());
}

#[tokio::test]
async fn a_restart_after_downtime_starts_every_missed_tick_once() {
    let fixture = Fixture::new();
    package(&fixture.bots(), "clock", &[("beat.bas", EVERY_SECOND)], "");
    let first = fixture.runtime().await;
    work_for(&first, Duration::from_millis(1_500)).await;
    let before = ticks(&first).await;
    first.store().close().await;
    let stopped_at = jiff::Timestamp::now().as_millisecond();

    // Nothing runs while ticks fall due.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let restarted_at = jiff::Timestamp::now().as_millisecond();
    let second = fixture.runtime().await;
    work_for(&second, Duration::from_millis(1_500)).await;

    let after = ticks(&second).await;
    assert!(
        after.starts_with(&before),
        "the first worker's runs are kept: {before:?} vs {after:?}"
    );
    assert_gapless(&after);
    let missed: Vec<i64> = after
        .iter()
        .copied()
        .filter(|t| *t > stopped_at && *t < restarted_at)
        .collect();
    assert!(
        !missed.is_empty(),
        "ticks of the downtime ({stopped_at}..{restarted_at}) were started: {after:?}"
    );
    assert_each_run_got_its_tick(&second, &after).await;
    println!(
        "{} ticks before the stop, {} missed during the downtime, {} in all",
        before.len(),
        missed.len(),
        after.len()
    );
}

#[tokio::test]
async fn a_long_downtime_is_caught_up_a_bounded_number_of_ticks_per_pass() {
    let fixture = Fixture::new();
    package(&fixture.bots(), "clock", &[("beat.bas", EVERY_SECOND)], "");
    let rt = fixture.runtime().await;
    let synced = rt.sync_schedules().await.expect("schedules are recorded");
    assert_eq!(synced.len(), 1);
    assert_eq!(synced[0].key, "clock/beat");
    assert_eq!(synced[0].schedule, "every 1 second");
    let first = synced[0].next_tick;

    // As if the worker had been down for 250 ticks.
    let now = first + 249_000;
    let mut passes = Vec::new();
    loop {
        let fired = rt.start_scheduled(now).await.expect("a pass runs");
        if fired == 0 {
            break;
        }
        passes.push(fired);
    }
    let per_pass = MAX_TICKS_PER_PASS;
    assert_eq!(passes, [per_pass, per_pass, 250 - 2 * per_pass]);
    let ticks = ticks(&rt).await;
    assert_eq!(ticks.len(), 250);
    assert_eq!((ticks[0], ticks[249]), (first, now));
    assert_gapless(&ticks);
    assert_eq!(
        rt.next_schedule_tick().await.expect("read"),
        Some(now + 1_000)
    );
}

#[tokio::test]
async fn a_changed_schedule_starts_over_and_a_removed_one_is_dropped() {
    let fixture = Fixture::new();
    package(&fixture.bots(), "clock", &[("beat.bas", EVERY_SECOND)], "");
    let rt = fixture.runtime().await;
    let first = rt.sync_schedules().await.expect("recorded")[0].next_tick;
    // Ticks fall due but nobody fires them yet.
    rt.start_scheduled(first + 5_000)
        .await
        .expect("a pass runs");
    rt.store().close().await;

    // Same text after a restart: the stored tick holds.
    let again = fixture.runtime().await;
    let kept = again.sync_schedules().await.expect("recorded");
    assert_eq!(kept[0].next_tick, first + 6_000);
    again.store().close().await;

    // A new text starts at its own first tick after now.
    let changed = EVERY_SECOND.replace("every 1 second", "every 2 hours");
    package(&fixture.bots(), "clock", &[("beat.bas", &changed)], "");
    let edited = fixture.runtime().await;
    let reset = edited.sync_schedules().await.expect("recorded");
    assert_eq!(reset[0].schedule, "every 2 hours");
    let now = jiff::Timestamp::now().as_millisecond();
    assert!(
        reset[0].next_tick > now && reset[0].next_tick % 7_200_000 == 0,
        "the next even hour: {}",
        tick_text(reset[0].next_tick)
    );
    edited.store().close().await;

    // Without the header, the schedule is gone and nothing is due.
    let plain = EVERY_SECOND.replace("SET SCHEDULE \"every 1 second\"\n", "");
    package(&fixture.bots(), "clock", &[("beat.bas", &plain)], "");
    let unscheduled = fixture.runtime().await;
    assert!(
        unscheduled
            .sync_schedules()
            .await
            .expect("synced")
            .is_empty()
    );
    assert!(
        unscheduled
            .store()
            .schedules()
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(unscheduled.next_schedule_tick().await.expect("read"), None);
}
