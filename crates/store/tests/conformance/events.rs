//! Conformance tests for events as runs see them: matching, consumption and
//! delivery committed with a point, wake-ups by publishers, messages, cursors.

use serde_json::json;
use store::{
    Error, EventQuery, EventUse, MAX_VALUE_BYTES, NewEvent, PointOutcome, RunStatus, Store, Wait,
};

use crate::harness::{Harness, point, started_run};

fn new_event(id: &str, name: &str, key: Option<&str>, to: Option<&str>) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        name: name.to_owned(),
        key: key.map(str::to_owned),
        target_bot: to.map(str::to_owned),
        payload: Some(json!({"id": id})),
        from_bot: None,
        from_run: None,
    }
}

fn query(run: &str, name: &str, key: Option<&str>, use_: EventUse, exclude: &[&str]) -> EventQuery {
    EventQuery {
        run_id: run.to_owned(),
        name: name.to_owned(),
        key: key.map(str::to_owned),
        use_,
        exclude: exclude.iter().map(|e| (*e).to_owned()).collect(),
    }
}

async fn next_id(h: &Harness, q: EventQuery) -> Option<String> {
    h.store
        .next_event(q)
        .await
        .expect("the search runs")
        .map(|e| e.id)
}

async fn wake_at(h: &Harness, run: &str) -> Option<i64> {
    h.store
        .run(run)
        .await
        .expect("reads")
        .expect("the run")
        .wake_at
}

/// Commits a waiting point of `run` that waits for `waits`.
async fn wait_for(h: &Harness, run: &str, epoch: i64, waits: Vec<Wait>, now: i64) {
    let mut p = point(run, epoch, json!({"pc": 1}));
    p.status = RunStatus::Waiting;
    p.waits = Some(waits);
    p.now = now;
    assert_eq!(
        h.store.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
}

/// Test runs are created at time 1 and act as bot `bot`.
pub async fn events_match_by_name_key_address_and_start(h: &Harness) {
    started_run(&h.store, "r1").await;
    let s = &h.store;
    s.publish_event(new_event("e0", "paid", None, None), 0)
        .await
        .expect("publishes");
    for (id, key, to) in [
        ("e1", None, None),
        ("e2", Some("k"), None),
        ("e3", None, Some("other")),
        ("e4", Some("r1"), Some("bot")),
        ("e5", Some(""), Some("")),
    ] {
        let (_, created) = s
            .publish_event(new_event(id, "paid", key, to), 5)
            .await
            .expect("publishes");
        assert!(created);
    }
    s.publish_event(new_event("e6", "other", None, None), 5)
        .await
        .expect("publishes");
    let (again, created) = s
        .publish_event(new_event("e1", "paid", None, None), 9)
        .await
        .expect("publishes");
    assert!(!created, "the same id is not published twice");
    assert_eq!(again.at, 5);

    let c = EventUse::Consume;
    // e0 is older than the run, e2 has another key, e3 is addressed elsewhere.
    assert_eq!(
        next_id(h, query("r1", "paid", None, c, &[]))
            .await
            .as_deref(),
        Some("e1")
    );
    assert_eq!(
        next_id(h, query("r1", "paid", None, c, &["e1"]))
            .await
            .as_deref(),
        Some("e4")
    );
    assert_eq!(
        next_id(h, query("r1", "paid", None, c, &["e1", "e4"]))
            .await
            .as_deref(),
        Some("e5")
    );
    assert_eq!(
        next_id(h, query("r1", "paid", None, c, &["e1", "e4", "e5"])).await,
        None
    );
    assert_eq!(
        next_id(h, query("r1", "paid", Some("k"), c, &[]))
            .await
            .as_deref(),
        Some("e2")
    );
    assert_eq!(
        next_id(h, query("r1", "paid", Some("zz"), c, &[])).await,
        None
    );
    assert_eq!(
        next_id(h, query("nobody", "paid", None, c, &[])).await,
        None
    );
}

pub async fn consumption_and_delivery_commit_with_the_point(h: &Harness) {
    let epoch = started_run(&h.store, "r1").await;
    for id in ["e1", "e2"] {
        h.store
            .publish_event(new_event(id, "tick", None, None), 5)
            .await
            .expect("publishes");
    }
    let mut p = point("r1", epoch, json!({"pc": 1}));
    p.consumed = vec!["e1".to_owned()];
    assert_eq!(
        h.store.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    let (c, d) = (EventUse::Consume, EventUse::Deliver);
    assert_eq!(
        next_id(h, query("r1", "tick", None, c, &[]))
            .await
            .as_deref(),
        Some("e2")
    );
    // Consumption is not delivery: a handler still gets e1.
    assert_eq!(
        next_id(h, query("r1", "tick", None, d, &[]))
            .await
            .as_deref(),
        Some("e1")
    );

    // A fenced point consumes nothing.
    let mut stale = point("r1", epoch - 1, json!({"pc": 9}));
    stale.consumed = vec!["e2".to_owned()];
    assert_eq!(
        h.store.commit(vec![stale]).await.expect("commit"),
        vec![PointOutcome::Fenced]
    );
    assert_eq!(
        next_id(h, query("r1", "tick", None, c, &[]))
            .await
            .as_deref(),
        Some("e2")
    );

    let mut p = point("r1", epoch, json!({"pc": 2}));
    p.delivered = vec!["e1".to_owned(), "e2".to_owned()];
    p.consumed = vec!["e2".to_owned()];
    assert_eq!(
        h.store.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    assert_eq!(next_id(h, query("r1", "tick", None, c, &[])).await, None);
    assert_eq!(next_id(h, query("r1", "tick", None, d, &[])).await, None);
}

pub async fn publishing_wakes_the_runs_that_wait(h: &Harness) {
    let keyed = started_run(&h.store, "keyed").await;
    let plain = started_run(&h.store, "plain").await;
    let publisher = started_run(&h.store, "publisher").await;
    let key = Some("k".to_owned());
    wait_for(
        h,
        "keyed",
        keyed,
        vec![Wait::Event {
            name: "paid".into(),
            key,
        }],
        100,
    )
    .await;
    wait_for(
        h,
        "plain",
        plain,
        vec![Wait::Handler { name: "go".into() }],
        100,
    )
    .await;
    assert_eq!(wake_at(h, "keyed").await, None);
    assert_eq!(wake_at(h, "plain").await, None);

    h.store
        .publish_event(new_event("x1", "paid", Some("other"), None), 150)
        .await
        .expect("publishes");
    assert_eq!(wake_at(h, "keyed").await, None, "another key wakes nobody");
    h.store
        .publish_event(new_event("x2", "paid", Some("k"), None), 200)
        .await
        .expect("publishes");
    assert_eq!(wake_at(h, "keyed").await, Some(200));

    // Published by another run's durable point, in its commit, which tells
    // whether it made a waiting run due (so a worker need look only then).
    let publish = |n: i64, name: &'static str| {
        let mut p = point("publisher", publisher, json!({"pc": n}));
        p.events = vec![new_event(&format!("publisher:event#{n}"), name, None, None)];
        p.now = 200 + 50 * n;
        async move {
            let committed = h
                .store
                .commit_group(vec![p], Vec::new())
                .await
                .expect("commit");
            assert_eq!(committed.outcomes, vec![PointOutcome::Ok]);
            committed.woke_waiters
        }
    };
    assert!(
        !publish(1, "nobody-waits").await,
        "an event nobody waits for wakes nobody"
    );
    assert!(publish(2, "go").await, "the plain run was made due");
    assert_eq!(wake_at(h, "plain").await, Some(300));
}

pub async fn a_wait_already_satisfied_is_due_at_once(h: &Harness) {
    let epoch = started_run(&h.store, "r1").await;
    h.store
        .publish_event(new_event("early", "ready", None, None), 50)
        .await
        .expect("publishes");
    wait_for(
        h,
        "r1",
        epoch,
        vec![Wait::Event {
            name: "ready".into(),
            key: None,
        }],
        120,
    )
    .await;
    assert_eq!(wake_at(h, "r1").await, Some(120));

    let other = started_run(&h.store, "r2").await;
    wait_for(
        h,
        "r2",
        other,
        vec![Wait::Event {
            name: "late".into(),
            key: None,
        }],
        120,
    )
    .await;
    assert_eq!(wake_at(h, "r2").await, None);
}

pub async fn messages_are_kept_in_order_and_heard_once(h: &Harness) {
    let s = &h.store;
    assert!(matches!(
        s.send_message("nobody", "hi", 5).await,
        Err(Error::UnknownRun(_))
    ));
    let epoch = started_run(s, "r1").await;
    wait_for(h, "r1", epoch, vec![Wait::Message], 100).await;
    assert_eq!(wake_at(h, "r1").await, None);
    let first = s.send_message("r1", "hello", 300).await.expect("sends");
    assert_eq!((first.id.as_str(), first.seq), ("r1:msg:1", 1));
    assert_eq!(wake_at(h, "r1").await, Some(300));
    s.send_message("r1", "again", 301).await.expect("sends");
    let big = "x".repeat(MAX_VALUE_BYTES + 1);
    assert!(matches!(
        s.send_message("r1", &big, 302).await,
        Err(Error::ValueTooLarge { .. })
    ));

    let heard = s
        .next_message("r1", vec![])
        .await
        .expect("reads")
        .expect("a message");
    assert_eq!(heard.text, "hello");
    let skipped = s
        .next_message("r1", vec![heard.id.clone()])
        .await
        .expect("reads");
    assert_eq!(skipped.map(|m| m.text).as_deref(), Some("again"));
    let mut p = point("r1", epoch, json!({"pc": 2}));
    p.consumed = vec![heard.id];
    p.status = RunStatus::Completed;
    assert_eq!(
        s.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    let next = s
        .next_message("r1", vec![])
        .await
        .expect("reads")
        .expect("a message");
    assert_eq!((next.text.as_str(), next.seq), ("again", 2));
    assert!(matches!(
        s.send_message("r1", "late", 400).await,
        Err(Error::RunEnded { .. })
    ));
    let after = s.next_message("r1", vec![next.id]).await.expect("reads");
    assert_eq!(after, None, "a refused message is not stored");
}

pub async fn event_cursors_only_move_forward(h: &Harness) {
    let s = &h.store;
    assert_eq!(s.event_cursor("t").await.expect("reads"), 0);
    s.set_event_cursor("t", 5).await.expect("sets");
    s.set_event_cursor("t", 3).await.expect("sets");
    assert_eq!(s.event_cursor("t").await.expect("reads"), 5);
    s.set_event_cursor("t", 8).await.expect("sets");
    assert_eq!(s.event_cursor("t").await.expect("reads"), 8);
    assert_eq!(s.event_cursor("u").await.expect("reads"), 0);
}

/// Event names match ignoring case: whatever the spelling of the publish,
/// the wait, the handler or the listing, it is the same event.
pub async fn event_names_match_ignoring_case(h: &Harness) {
    let waiter = started_run(&h.store, "waiter").await;
    let handler = started_run(&h.store, "handler").await;
    started_run(&h.store, "reader").await;
    wait_for(
        h,
        "waiter",
        waiter,
        vec![Wait::Event {
            name: "ORDER.paid".into(),
            key: None,
        }],
        100,
    )
    .await;
    wait_for(
        h,
        "handler",
        handler,
        vec![Wait::Handler {
            name: "order.PAID".into(),
        }],
        100,
    )
    .await;
    let (record, created) = h
        .store
        .publish_event(new_event("p1", "Order.Paid", None, None), 150)
        .await
        .expect("publishes");
    assert!(created);
    assert_eq!(record.name, "order.paid", "names are kept in lower case");
    assert_eq!(wake_at(h, "waiter").await, Some(150), "the wait is met");
    assert_eq!(wake_at(h, "handler").await, Some(150), "the handler is met");
    for spelling in ["order.paid", "ORDER.PAID", "Order.Paid"] {
        assert_eq!(
            next_id(h, query("reader", spelling, None, EventUse::Consume, &[]))
                .await
                .as_deref(),
            Some("p1"),
            "{spelling}"
        );
        let listed = h
            .store
            .events(store::EventFilter {
                name: Some(spelling.to_owned()),
                ..store::EventFilter::default()
            })
            .await
            .expect("lists");
        assert_eq!(listed.len(), 1, "{spelling}");
    }

    // Published by a durable point, in another spelling: the same name.
    let publisher = started_run(&h.store, "publisher").await;
    let mut p = point("publisher", publisher, json!({"pc": 1}));
    p.events = vec![new_event("publisher:event#1", "ORDER.PAID", None, None)];
    assert_eq!(
        h.store.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    assert_eq!(
        next_id(
            h,
            query("reader", "order.paid", None, EventUse::Consume, &["p1"])
        )
        .await
        .as_deref(),
        Some("publisher:event#1")
    );
}

/// How many waits the store holds for `run`.
async fn waits_of(h: &Harness, run: &str) -> String {
    h.text(&format!(
        "SELECT CAST(count(*) AS TEXT) FROM event_waits WHERE run_id = '{run}'"
    ))
    .await
    .unwrap_or_default()
}

/// A run that ends waits for nothing: a point that ends it (cancelled,
/// failed after a rejected point, or any terminal status) deletes its waits
/// in its own transaction, even when it says nothing about them.
pub async fn a_run_that_ends_leaves_no_waits(h: &Harness) {
    for (run, status) in [
        ("cancelled", RunStatus::Cancelled),
        ("failed", RunStatus::Failed),
        ("rejected", RunStatus::Rejected),
    ] {
        let epoch = started_run(&h.store, run).await;
        wait_for(
            h,
            run,
            epoch,
            vec![
                Wait::Event {
                    name: "paid".into(),
                    key: Some("k".into()),
                },
                Wait::Handler { name: "go".into() },
            ],
            100,
        )
        .await;
        assert_eq!(
            waits_of(h, run).await,
            "2",
            "{run}: the waits are registered"
        );
        let mut end = point(run, epoch, json!({"pc": 2}));
        end.status = status;
        end.now = 200;
        assert!(
            end.waits.is_none(),
            "the ending point says nothing of waits"
        );
        assert_eq!(
            h.store.commit(vec![end]).await.expect("commit"),
            vec![PointOutcome::Ok]
        );
        assert_eq!(waits_of(h, run).await, "0", "{run}: no wait is left");
    }
    // A run that only goes on waiting keeps its waits.
    let epoch = started_run(&h.store, "still").await;
    wait_for(
        h,
        "still",
        epoch,
        vec![Wait::Handler { name: "go".into() }],
        100,
    )
    .await;
    let mut more = point("still", epoch, json!({"pc": 3}));
    more.status = RunStatus::Waiting;
    assert_eq!(
        h.store.commit(vec![more]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    assert_eq!(waits_of(h, "still").await, "1");
}
