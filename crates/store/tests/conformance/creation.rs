//! Conformance tests for a run created by its first durable point and for a
//! point that gives up the lease.

use serde_json::json;
use store::{PointOutcome, RunCreation, RunStatus, StepStatus, Store};

use crate::harness::{Harness, PROGRAM, point, started_run};
use crate::{entry, step};

fn creation(program: &str) -> RunCreation {
    RunCreation {
        workflow: "wf".to_owned(),
        bot: "bot".to_owned(),
        program_hash: program.to_owned(),
        input: json!({"case": 7}),
        parent_run: None,
        lease_owner: "node-a".to_owned(),
        lease_until: 60_000,
    }
}

pub(crate) async fn a_first_point_creates_the_run_already_leased(h: &Harness) {
    let s = &h.store;
    s.put_program(PROGRAM, "ORCHESTRATE WORKFLOW \"wf\"\nEND WORKFLOW\n")
        .await
        .expect("the program is stored");
    let mut first = point("new", 1, json!({"pc": 1}));
    first.create = Some(Box::new(creation(PROGRAM)));
    first.steps = vec![step("1", StepStatus::Running, 1, None)];
    first.journal = vec![entry("run_started", json!({}))];
    let outcomes = s.commit(vec![first]).await.expect("the commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Ok]);

    let run = s.run("new").await.expect("read").expect("created");
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.state, json!({"pc": 1}));
    assert_eq!(run.input, json!({"case": 7}));
    assert_eq!(run.lease_owner.as_deref(), Some("node-a"));
    assert_eq!(run.lease_epoch, 1);
    assert_eq!(run.lease_until, Some(60_000));
    assert_eq!(run.version, 1);
    assert_eq!(run.created_at, 100);
    assert_eq!(s.steps("new").await.expect("steps").len(), 1);
    assert_eq!(s.journal("new").await.expect("journal").len(), 1);

    // A second creation of the same id writes nothing of its point.
    let mut again = point("new", 1, json!({"pc": 99}));
    again.create = Some(Box::new(creation(PROGRAM)));
    again.journal = vec![entry("run_started", json!({}))];
    let outcomes = s.commit(vec![again]).await.expect("the commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Exists]);
    let run = s.run("new").await.expect("read").expect("still there");
    assert_eq!(run.state, json!({"pc": 1}));
    assert_eq!(s.journal("new").await.expect("journal").len(), 1);

    // The creator goes on under the epoch it created the run with.
    let outcomes = s
        .commit(vec![point("new", 1, json!({"pc": 2}))])
        .await
        .expect("the commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Ok]);
    let run = s.run("new").await.expect("read").expect("there");
    assert_eq!((run.state, run.version), (json!({"pc": 2}), 2));
}

pub(crate) async fn a_creating_point_needs_a_stored_program(h: &Harness) {
    let s = &h.store;
    let mut first = point("orphan", 1, json!({"pc": 1}));
    first.create = Some(Box::new(creation("no-such-program")));
    let outcomes = s.commit(vec![first]).await.expect("the commit runs");
    assert!(
        matches!(&outcomes[..], [PointOutcome::Rejected(r)] if r.contains("no-such-program")),
        "{outcomes:?}"
    );
    assert!(s.run("orphan").await.expect("read").is_none());
}

pub(crate) async fn a_releasing_point_frees_the_lease_and_keeps_the_epoch(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(s, "r1").await;
    let mut waiting = point("r1", epoch, json!({"pc": 3}));
    waiting.status = RunStatus::Waiting;
    waiting.wake_at = Some(50);
    waiting.release = true;
    let outcomes = s.commit(vec![waiting]).await.expect("the commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Ok]);
    let run = s.run("r1").await.expect("read").expect("there");
    assert_eq!(run.lease_owner, None);
    assert_eq!(run.lease_until, None);
    assert_eq!(run.lease_epoch, epoch);

    // The next claim moves the epoch on, which fences the old holder.
    let claimed = s
        .claim_run("r1", "node-b", 100, 60_000)
        .await
        .expect("the claim runs")
        .expect("a released run can be claimed");
    assert_eq!(claimed.lease_epoch, epoch + 1);
    let outcomes = s
        .commit(vec![point("r1", epoch, json!({"pc": 4}))])
        .await
        .expect("the commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Fenced]);
}

/// States and journal entries may travel beside a commit's documents rather
/// than inside them (SQLite's single pass): every byte comes back, whatever
/// the text holds, for a created run and an existing one in one batch.
pub(crate) async fn long_texts_keep_every_byte(h: &Harness) {
    let s = &h.store;
    s.put_program(PROGRAM, "ORCHESTRATE WORKFLOW \"wf\"\nEND WORKFLOW\n")
        .await
        .expect("the program is stored");
    let tricky = json!({
        "quotes": "say \"hi\"", "backslash": "a\\b", "unicode": "naïve 😀 日本",
        "control": "line\nbreak\ttab", "empty": "", "nested": [{"x": [1, 2.5, null]}]
    });
    let existing = started_run(s, "old").await;
    let mut first = point("new", 1, json!({"state": tricky, "of": "new"}));
    first.create = Some(Box::new(creation(PROGRAM)));
    first.journal = vec![
        entry("run_started", tricky.clone()),
        entry("é", json!("😀")),
    ];
    let mut next = point("old", existing, json!({"state": tricky, "of": "old"}));
    next.journal = vec![entry("step_started", tricky.clone())];
    let outcomes = s.commit(vec![first, next]).await.expect("the commit runs");
    assert_eq!(outcomes, vec![PointOutcome::Ok, PointOutcome::Ok]);

    for (run, entries) in [("new", 2), ("old", 1)] {
        let record = s.run(run).await.expect("read").expect("exists");
        assert_eq!(record.state, json!({"state": tricky, "of": run}));
        let journal = s.journal(run).await.expect("journal");
        assert_eq!(journal.len(), entries);
        assert_eq!(journal[0].data, tricky);
    }
    let journal = s.journal("new").await.expect("journal");
    assert_eq!(
        (journal[1].kind.as_str(), &journal[1].data),
        ("é", &json!("😀"))
    );
}
