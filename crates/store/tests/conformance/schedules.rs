//! Conformance tests for schedules (`SET SCHEDULE`): a sync keeps the next
//! tick of an unchanged schedule and resets a changed one; firing a tick is a
//! compare-and-set that creates the tick's run in the same transaction, so
//! of concurrent fires of one tick exactly one starts a run, and a stale
//! tick starts nothing.

use store::{Error, NEVER, RunFilter, Store};

use crate::harness::{Harness, PROGRAM, new_run};

const KEY: &str = "bot/wf";

async fn stored_tick(h: &Harness, key: &str) -> Option<i64> {
    h.store
        .schedules()
        .await
        .expect("schedules are listed")
        .into_iter()
        .find(|s| s.key == key)
        .map(|s| s.next_tick)
}

async fn run_ids(h: &Harness) -> Vec<String> {
    let mut ids: Vec<String> = h
        .store
        .list_runs(RunFilter::default())
        .await
        .expect("runs are listed")
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

pub async fn a_sync_keeps_an_unchanged_schedule_and_resets_a_changed_one(h: &Harness) {
    let s = &h.store;
    let first = s
        .sync_schedule(KEY, "every 1 second", "h1", 5_000, 100)
        .await
        .expect("inserted");
    assert_eq!(
        (
            first.key.as_str(),
            first.schedule.as_str(),
            first.program_hash.as_str()
        ),
        (KEY, "every 1 second", "h1")
    );
    assert_eq!((first.next_tick, first.updated_at), (5_000, 100));

    // A restart (another process, same text, later first tick, new program):
    // the stored tick stays, so ticks missed meanwhile are still due.
    let reopened = h.reopen().await.expect("the database reopens");
    let kept = reopened
        .sync_schedule(KEY, "every 1 second", "h2", 9_000, 200)
        .await
        .expect("updated");
    reopened.close().await;
    assert_eq!(
        kept.next_tick, 5_000,
        "an unchanged schedule keeps its tick"
    );
    assert_eq!((kept.program_hash.as_str(), kept.updated_at), ("h2", 200));

    // A changed text starts over at the caller's first tick.
    let reset = s
        .sync_schedule(KEY, "every 2 seconds", "h2", 12_000, 300)
        .await
        .expect("updated");
    assert_eq!(reset.next_tick, 12_000);
    assert_eq!(reset.schedule, "every 2 seconds");
    assert_eq!(stored_tick(h, KEY).await, Some(12_000));
}

pub async fn due_schedules_come_earliest_first_and_never_is_never_due(h: &Harness) {
    let s = &h.store;
    assert_eq!(s.next_schedule_tick().await.expect("read"), None);
    assert!(
        s.due_schedules(i64::MAX, 10)
            .await
            .expect("read")
            .is_empty()
    );
    for (key, tick) in [("b/late", 3_000), ("a/early", 1_000), ("c/mid", 2_000)] {
        s.sync_schedule(key, "hourly", PROGRAM, tick, 1)
            .await
            .expect("inserted");
    }
    s.sync_schedule("d/never", "0 0 31 2 *", PROGRAM, NEVER, 1)
        .await
        .expect("inserted");
    let keys = |due: Vec<store::ScheduleRecord>| -> Vec<String> {
        due.into_iter().map(|s| s.key).collect()
    };
    assert!(s.due_schedules(999, 10).await.expect("read").is_empty());
    assert_eq!(
        keys(s.due_schedules(2_000, 10).await.expect("read")),
        ["a/early", "c/mid"]
    );
    assert_eq!(
        keys(s.due_schedules(i64::MAX - 1, 2).await.expect("read")),
        ["a/early", "c/mid"],
        "the limit holds"
    );
    assert_eq!(
        keys(s.due_schedules(i64::MAX - 1, 10).await.expect("read")),
        ["a/early", "c/mid", "b/late"]
    );
    assert_eq!(s.next_schedule_tick().await.expect("read"), Some(1_000));
    let all = keys(s.schedules().await.expect("read"));
    assert_eq!(all, ["a/early", "b/late", "c/mid", "d/never"]);

    assert!(s.remove_schedule("a/early").await.expect("removed"));
    assert!(
        !s.remove_schedule("a/early")
            .await
            .expect("nothing to remove")
    );
    assert_eq!(s.next_schedule_tick().await.expect("read"), Some(2_000));
}

pub async fn firing_a_tick_moves_the_schedule_and_creates_its_run_once(h: &Harness) {
    let s = &h.store;
    s.put_program(PROGRAM, "src").await.expect("stored");
    s.sync_schedule(KEY, "every 1 second", PROGRAM, 1_000, 1)
        .await
        .expect("inserted");

    assert!(
        s.fire_schedule(KEY, 1_000, 2_000, new_run("wf@1000", 1_005))
            .await
            .expect("fires")
    );
    assert_eq!(stored_tick(h, KEY).await, Some(2_000));
    let run = s.run("wf@1000").await.expect("read").expect("created");
    assert_eq!(run.created_at, 1_005);

    // A stale tick (fired already): nothing moves, nothing is created.
    assert!(
        !s.fire_schedule(KEY, 1_000, 2_000, new_run("wf@1000-again", 1_006))
            .await
            .expect("runs")
    );
    // A tick not yet reached is stale too.
    assert!(
        !s.fire_schedule(KEY, 3_000, 4_000, new_run("wf@3000", 1_006))
            .await
            .expect("runs")
    );
    // An unknown schedule fires nothing.
    assert!(
        !s.fire_schedule("bot/none", 2_000, 3_000, new_run("none@2000", 1_006))
            .await
            .expect("runs")
    );
    assert_eq!(stored_tick(h, KEY).await, Some(2_000));
    assert_eq!(run_ids(h).await, ["wf@1000"]);

    // A run id that exists: the tick moves, the run is not created twice.
    assert!(
        s.fire_schedule(KEY, 2_000, 3_000, new_run("wf@1000", 2_005))
            .await
            .expect("fires")
    );
    assert_eq!(stored_tick(h, KEY).await, Some(3_000));
    let again = s.run("wf@1000").await.expect("read").expect("still there");
    assert_eq!(
        again.created_at, 1_005,
        "the existing run is left as it was"
    );
}

pub async fn a_refused_fire_changes_nothing(h: &Harness) {
    let s = &h.store;
    s.sync_schedule(KEY, "every 1 second", PROGRAM, 1_000, 1)
        .await
        .expect("inserted");

    // The program was never stored: the run is refused, and the tick with it.
    let error = s
        .fire_schedule(KEY, 1_000, 2_000, new_run("wf@1000", 1_005))
        .await
        .expect_err("unknown program");
    assert!(matches!(error, Error::UnknownProgram(_)), "{error}");
    assert_eq!(stored_tick(h, KEY).await, Some(1_000));

    // A next tick that does not move forward is refused before anything runs.
    s.put_program(PROGRAM, "src").await.expect("stored");
    for next in [1_000, 999] {
        let error = s
            .fire_schedule(KEY, 1_000, next, new_run("wf@1000", 1_005))
            .await
            .expect_err("does not move forward");
        assert!(matches!(error, Error::InvalidSchedule(_)), "{error}");
        assert!(error.to_string().contains("not after"), "{error}");
    }
    assert_eq!(stored_tick(h, KEY).await, Some(1_000));
    assert!(run_ids(h).await.is_empty());
}

pub async fn concurrent_fires_of_one_tick_start_one_run(h: &Harness) {
    const TICKS: i64 = 10;
    const RACERS: i64 = 4;
    let s = &h.store;
    s.put_program(PROGRAM, "src").await.expect("stored");
    s.sync_schedule(KEY, "every 1 second", PROGRAM, 1_000, 1)
        .await
        .expect("inserted");
    for tick in (1..=TICKS).map(|t| t * 1_000) {
        let mut racers = Vec::new();
        for racer in 0..RACERS {
            let store = s.clone();
            racers.push(tokio::spawn(async move {
                // Distinct ids per racer, so a doubled tick would show as two
                // runs instead of hiding behind the id's idempotence.
                let run = new_run(&format!("wf@{tick}-racer{racer}"), tick);
                store
                    .fire_schedule(KEY, tick, tick + 1_000, run)
                    .await
                    .expect("fire runs")
            }));
        }
        let mut fired = 0;
        for racer in racers {
            fired += usize::from(racer.await.expect("the racer finished"));
        }
        assert_eq!(fired, 1, "exactly one fire of tick {tick} wins");
    }
    let ids = run_ids(h).await;
    assert_eq!(ids.len(), TICKS as usize, "one run per tick: {ids:?}");
    for tick in (1..=TICKS).map(|t| t * 1_000) {
        let prefix = format!("wf@{tick}-");
        assert_eq!(
            ids.iter().filter(|id| id.starts_with(&prefix)).count(),
            1,
            "tick {tick}: {ids:?}"
        );
    }
    assert_eq!(stored_tick(h, KEY).await, Some((TICKS + 1) * 1_000));
}
