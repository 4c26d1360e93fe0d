//! Conformance tests for approval requests: created with their durable point,
//! decided under the store's rules, resolved or escalated by later points.

use serde_json::json;
use store::{
    ApprovalDecision, ApprovalFilter, ApprovalStatus, ApprovalWrite, DecisionRefused, Error,
    ListKey, NewApproval, PointOutcome, RunStatus, Store,
};

use crate::harness::{Harness, new_run, point, started_run};

fn request(run: &str, id: &str, approvers: &[&str], require_n: i32) -> NewApproval {
    NewApproval {
        id: id.to_owned(),
        run_id: run.to_owned(),
        path: "3".to_owned(),
        step: Some("3".to_owned()),
        approvers: approvers.iter().map(|a| (*a).to_owned()).collect(),
        group: None,
        require_n,
        message: Some("refund 150?".to_owned()),
        via: "log".to_owned(),
        timeout_ms: Some(1_000),
        on_timeout: Some(json!({"action": "reject", "reason": "ORDER"})),
        escalations: 0,
        started_by: Some("alice".to_owned()),
        due_at: Some(1_100),
    }
}

fn decision(approve: bool, who: &str, now: i64) -> ApprovalDecision {
    ApprovalDecision {
        approve,
        who: who.to_owned(),
        comment: Some(format!("{who} says so")),
        channel: "cli".to_owned(),
        admin: false,
        now,
    }
}

/// Creates run `run` waiting on a new request; returns its lease epoch.
async fn waiting_on(h: &Harness, run: &str, new: NewApproval) -> i64 {
    waiting_on_at(h, run, new, None).await
}

/// [`waiting_on`], the request created at `now` when given.
async fn waiting_on_at(h: &Harness, run: &str, new: NewApproval, now: Option<i64>) -> i64 {
    let epoch = started_run(&h.store, run).await;
    let mut p = point(run, epoch, json!({"pc": 1}));
    if let Some(now) = now {
        p.now = now;
    }
    p.status = RunStatus::Waiting;
    p.wake_at = new.due_at;
    p.approvals = vec![ApprovalWrite::Create(new)];
    assert_eq!(
        h.store.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    epoch
}

fn refused(result: store::Result<store::ApprovalRecord>) -> DecisionRefused {
    match result {
        Err(Error::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

pub async fn approval_requests_commit_with_their_point(h: &Harness) {
    let s = &h.store;
    let epoch = waiting_on(h, "r1", request("r1", "r1:3", &["m@x"], 1)).await;
    let got = s.approval("r1:3").await.expect("read").expect("created");
    assert_eq!(got.status, ApprovalStatus::Pending);
    assert_eq!(got.approvers, vec!["m@x".to_owned()]);
    assert_eq!((got.run_id.as_str(), got.path.as_str()), ("r1", "3"));
    assert_eq!(
        got.on_timeout,
        Some(json!({"action": "reject", "reason": "ORDER"}))
    );
    assert_eq!(
        (got.due_at, got.created_at, got.decision),
        (Some(1_100), 100, None)
    );
    assert_eq!(got.started_by.as_deref(), Some("alice"));

    // A replayed point creates nothing new; a fenced one writes nothing.
    let mut again = point("r1", epoch, json!({"pc": 1}));
    again.approvals = vec![ApprovalWrite::Create(request(
        "r1",
        "r1:3",
        &["other@x"],
        1,
    ))];
    s.commit(vec![again]).await.expect("commit");
    let mut stale = point("r1", epoch - 1, json!({"pc": 9}));
    stale.approvals = vec![ApprovalWrite::Create(request("r1", "r1:9", &["m@x"], 1))];
    assert_eq!(
        s.commit(vec![stale]).await.expect("commit"),
        vec![PointOutcome::Fenced]
    );
    assert_eq!(s.approval("r1:9").await.expect("read"), None);
    let got = s
        .approval("r1:3")
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(got.approvers, vec!["m@x".to_owned()]);
    let trail = s.approval_audit("r1:3").await.expect("audit");
    assert_eq!(
        trail.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["created"]
    );

    let pending = s
        .approvals(ApprovalFilter {
            status: Some(ApprovalStatus::Pending),
            ..ApprovalFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(pending.len(), 1);
    let none = s
        .approvals(ApprovalFilter {
            status: Some(ApprovalStatus::Approved),
            ..ApprovalFilter::default()
        })
        .await
        .expect("list");
    assert!(none.is_empty());
}

pub async fn a_decision_is_checked_recorded_once_and_wakes_the_run(h: &Harness) {
    let s = &h.store;
    waiting_on(h, "r1", request("r1", "r1:3", &["m@x"], 1)).await;
    let unknown = refused(s.decide_approval("nope", decision(true, "m@x", 200)).await);
    assert_eq!(unknown, DecisionRefused::Unknown("nope".to_owned()));
    let stranger = refused(
        s.decide_approval("r1:3", decision(true, "eve@x", 200))
            .await,
    );
    assert!(
        matches!(stranger, DecisionRefused::NotAnApprover { .. }),
        "{stranger}"
    );
    assert!(stranger.to_string().contains("m@x"), "{stranger}");

    let before = s.approval("r1:3").await.expect("read");
    let run_before = s.run("r1").await.expect("read").expect("run");
    let decided = s
        .decide_approval("r1:3", decision(true, "m@x", 300))
        .await
        .expect("the approver decides");
    assert_eq!(decided.status, ApprovalStatus::Approved);
    assert_eq!(
        decided.decision,
        Some(json!({"approved": true, "by": "m@x", "comment": "m@x says so", "at": 300}))
    );
    assert_eq!(decided.decided_at, Some(300));
    assert_ne!(before.as_ref(), Some(&decided));
    let run = s.run("r1").await.expect("read").expect("run");
    assert_eq!((run.status, run.wake_at), (RunStatus::Waiting, Some(300)));
    assert_eq!(run.version, run_before.version);

    // Deciding again is refused and changes nothing.
    let twice = refused(s.decide_approval("r1:3", decision(false, "m@x", 400)).await);
    assert_eq!(
        twice,
        DecisionRefused::NotPending {
            id: "r1:3".to_owned(),
            status: ApprovalStatus::Approved
        }
    );
    assert_eq!(s.approval("r1:3").await.expect("read"), Some(decided));
    let trail = s.approval_audit("r1:3").await.expect("audit");
    let kinds: Vec<(&str, Option<&str>, Option<&str>)> = trail
        .iter()
        .map(|a| (a.kind.as_str(), a.who.as_deref(), a.channel.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("created", None, Some("log")),
            ("approved", Some("m@x"), Some("cli"))
        ]
    );
    assert_eq!(trail.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2]);
}

pub async fn the_starter_may_not_approve_but_an_admin_may(h: &Harness) {
    let s = &h.store;
    waiting_on(h, "r1", request("r1", "r1:3", &["alice", "m@x"], 1)).await;
    let own = refused(
        s.decide_approval("r1:3", decision(true, "alice", 200))
            .await,
    );
    assert!(matches!(own, DecisionRefused::SelfApproval { .. }), "{own}");
    assert_eq!(
        s.approval("r1:3")
            .await
            .expect("read")
            .map(|a| (a.status, a.votes.len())),
        Some((ApprovalStatus::Pending, 0))
    );
    let mut admin = decision(false, "root", 250);
    admin.admin = true;
    let denied = s
        .decide_approval("r1:3", admin)
        .await
        .expect("an admin decides");
    assert_eq!(denied.status, ApprovalStatus::Denied);
    assert_eq!(
        denied.decision.as_ref().and_then(|d| d.get("approved")),
        Some(&json!(false))
    );
}

pub async fn a_quorum_needs_n_approvals_and_any_denial_denies(h: &Harness) {
    let s = &h.store;
    waiting_on(h, "r1", request("r1", "r1:3", &["a@x", "b@x", "c@x"], 2)).await;
    let first = s
        .decide_approval("r1:3", decision(true, "a@x", 200))
        .await
        .expect("vote");
    assert_eq!(
        (first.status, first.votes.len()),
        (ApprovalStatus::Pending, 1)
    );
    assert_eq!(
        s.run("r1").await.expect("read").expect("run").wake_at,
        Some(1_100)
    );
    let again = refused(s.decide_approval("r1:3", decision(true, "a@x", 210)).await);
    assert!(
        matches!(again, DecisionRefused::AlreadyVoted { .. }),
        "{again}"
    );
    let done = s
        .decide_approval("r1:3", decision(true, "b@x", 220))
        .await
        .expect("vote");
    assert_eq!(done.status, ApprovalStatus::Approved);
    assert_eq!(
        done.decision.as_ref().and_then(|d| d.get("approvers")),
        Some(&json!(["a@x", "b@x"]))
    );

    waiting_on(h, "r2", request("r2", "r2:3", &["a@x", "b@x", "c@x"], 2)).await;
    s.decide_approval("r2:3", decision(true, "a@x", 200))
        .await
        .expect("vote");
    let denied = s
        .decide_approval("r2:3", decision(false, "c@x", 230))
        .await
        .expect("vote");
    assert_eq!(denied.status, ApprovalStatus::Denied);
    assert_eq!(
        denied.decision.as_ref().and_then(|d| d.get("by")),
        Some(&json!("c@x"))
    );
}

pub async fn timeouts_resolve_or_escalate_only_pending_requests(h: &Harness) {
    let s = &h.store;
    let epoch = waiting_on(h, "r1", request("r1", "r1:3", &["m@x"], 1)).await;
    let mut next = request("r1", "r1:3:e1", &["d@x"], 1);
    next.escalations = 1;
    next.due_at = Some(2_200);
    let mut p = point("r1", epoch, json!({"pc": 2}));
    p.status = RunStatus::Waiting;
    p.wake_at = Some(2_200);
    p.now = 1_200;
    p.approvals = vec![ApprovalWrite::Escalate {
        id: "r1:3".to_owned(),
        to: next,
    }];
    assert_eq!(
        s.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    let old = s.approval("r1:3").await.expect("read").expect("old");
    assert_eq!(
        (old.status, old.decided_at),
        (ApprovalStatus::Escalated, Some(1_200))
    );
    let new = s.approval("r1:3:e1").await.expect("read").expect("new");
    assert_eq!((new.status, new.escalations), (ApprovalStatus::Pending, 1));
    let late = refused(
        s.decide_approval("r1:3", decision(true, "m@x", 1_300))
            .await,
    );
    assert!(matches!(
        late,
        DecisionRefused::NotPending {
            status: ApprovalStatus::Escalated,
            ..
        }
    ));
    let of_step = s
        .approvals(ApprovalFilter {
            run_id: Some("r1".to_owned()),
            path: Some("3".to_owned()),
            ..ApprovalFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        of_step.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["r1:3", "r1:3:e1"]
    );

    let reject = json!({"approved": false, "by": "system:timeout", "reason": "timeout"});
    let resolve = ApprovalWrite::Resolve {
        id: "r1:3:e1".to_owned(),
        status: ApprovalStatus::TimedOut,
        decision: reject.clone(),
        kind: "timed_out".to_owned(),
        who: "system:timeout".to_owned(),
    };
    let mut p = point("r1", epoch, json!({"pc": 3}));
    p.approvals = vec![resolve.clone()];
    s.commit(vec![p]).await.expect("commit");
    let timed_out = s.approval("r1:3:e1").await.expect("read").expect("new");
    assert_eq!(
        (timed_out.status, timed_out.decision.clone()),
        (ApprovalStatus::TimedOut, Some(reject))
    );
    let after = refused(
        s.decide_approval("r1:3:e1", decision(true, "d@x", 2_300))
            .await,
    );
    assert!(matches!(after, DecisionRefused::NotPending { .. }));

    // Resolving or escalating a request that is no longer pending does nothing.
    let mut p = point("r1", epoch, json!({"pc": 4}));
    p.approvals = vec![ApprovalWrite::Escalate {
        id: "r1:3:e1".to_owned(),
        to: request("r1", "r1:3:e2", &["x@x"], 1),
    }];
    s.commit(vec![p]).await.expect("commit");
    assert_eq!(s.approval("r1:3:e2").await.expect("read"), None);
    assert_eq!(s.approval("r1:3:e1").await.expect("read"), Some(timed_out));
    let kinds: Vec<String> = s
        .approval_audit("r1:3")
        .await
        .expect("audit")
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, ["created", "escalated"]);
}

pub async fn a_decision_made_while_the_run_is_driven_still_wakes_it(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(&h.store, "r1").await;
    let mut p = point("r1", epoch, json!({"pc": 1}));
    p.approvals = vec![ApprovalWrite::Create(request("r1", "r1:3", &["m@x"], 1))];
    s.commit(vec![p]).await.expect("commit");
    let wake = || ApprovalWrite::WakeIfSettled {
        run_id: "r1".to_owned(),
        id: "r1:3".to_owned(),
    };
    // Still pending: the run waits until its deadline.
    let mut p = point("r1", epoch, json!({"pc": 2}));
    (p.status, p.wake_at, p.now) = (RunStatus::Waiting, Some(1_100), 150);
    p.approvals = vec![wake()];
    s.commit(vec![p]).await.expect("commit");
    assert_eq!(
        s.run("r1").await.expect("read").expect("run").wake_at,
        Some(1_100)
    );

    // Decided while the run was `running` (a driver was busy elsewhere):
    // the point that makes it wait makes it due instead.
    let mut p = point("r1", epoch, json!({"pc": 3}));
    p.now = 160;
    s.commit(vec![p]).await.expect("commit");
    s.decide_approval("r1:3", decision(true, "m@x", 170))
        .await
        .expect("decided");
    assert_eq!(
        s.run("r1").await.expect("read").expect("run").status,
        RunStatus::Running
    );
    let mut p = point("r1", epoch, json!({"pc": 4}));
    (p.status, p.wake_at, p.now) = (RunStatus::Waiting, Some(1_100), 180);
    p.approvals = vec![wake()];
    s.commit(vec![p]).await.expect("commit");
    let run = s.run("r1").await.expect("read").expect("run");
    assert_eq!((run.status, run.wake_at), (RunStatus::Waiting, Some(180)));
}

pub async fn approvals_are_listed_by_the_approver_they_are_addressed_to(h: &Harness) {
    let s = &h.store;
    waiting_on(h, "r1", request("r1", "r1:3", &["m@x"], 1)).await;
    let mut group = request("r2", "r2:3", &["a@x", "m@x"], 1);
    group.group = Some("finance".to_owned());
    waiting_on(h, "r2", group).await;
    waiting_on(h, "r3", request("r3", "r3:3", &["a@x", "o\"brien%@x"], 1)).await;
    let addressed_to = |who: &str, status: Option<ApprovalStatus>, limit: u32| {
        let filter = ApprovalFilter {
            approver: Some(who.to_owned()),
            status,
            limit,
            ..ApprovalFilter::default()
        };
        async move {
            s.approvals(filter)
                .await
                .expect("list")
                .into_iter()
                .map(|a| a.id)
                .collect::<Vec<_>>()
        }
    };

    // Addressed means listed among the approvers, a group's members included.
    assert_eq!(addressed_to("m@x", None, 100).await, ["r1:3", "r2:3"]);
    assert_eq!(addressed_to("a@x", None, 100).await, ["r2:3", "r3:3"]);
    // Names match whole and exactly: no substring, no pattern, no JSON quoting.
    assert!(addressed_to("x", None, 100).await.is_empty());
    assert!(addressed_to("M@X", None, 100).await.is_empty());
    assert!(addressed_to("finance", None, 100).await.is_empty());
    assert!(addressed_to("%", None, 100).await.is_empty());
    assert_eq!(addressed_to("o\"brien%@x", None, 100).await, ["r3:3"]);
    // The limit counts addressed requests only, so none is crowded out.
    assert_eq!(addressed_to("a@x", None, 1).await, ["r2:3"]);

    // It combines with the other filters.
    s.decide_approval("r2:3", decision(true, "a@x", 200))
        .await
        .expect("the approver decides");
    let pending = Some(ApprovalStatus::Pending);
    assert_eq!(addressed_to("m@x", pending, 100).await, ["r1:3"]);
    assert_eq!(addressed_to("a@x", pending, 100).await, ["r3:3"]);
    let of_run = s
        .approvals(ApprovalFilter {
            approver: Some("m@x".to_owned()),
            run_id: Some("r2".to_owned()),
            ..ApprovalFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        of_run
            .iter()
            .map(|a| (a.id.as_str(), a.status))
            .collect::<Vec<_>>(),
        [("r2:3", ApprovalStatus::Approved)]
    );
}

/// Pages of requests go on from the previous page's last key, in the
/// listing order (oldest first, then by id), and combine with the filters.
pub async fn approvals_are_paged_from_the_last_key_of_a_page(h: &Harness) {
    let s = &h.store;
    // "r9:3" is older than the others, which share one time: the order is
    // by time first, then by id.
    waiting_on_at(h, "r9", request("r9", "r9:3", &["m@x"], 1), Some(50)).await;
    for run in ["r1", "r2", "r3"] {
        let approvers: &[&str] = if run == "r2" { &["a@x"] } else { &["m@x"] };
        let id = format!("{run}:3");
        waiting_on_at(h, run, request(run, &id, approvers, 1), Some(70)).await;
    }
    let page = |after: Option<ListKey>, approver: Option<&str>, limit: u32| {
        let filter = ApprovalFilter {
            after,
            approver: approver.map(str::to_owned),
            limit,
            ..ApprovalFilter::default()
        };
        async move { s.approvals(filter).await.expect("list") }
    };
    let ids = |records: &[store::ApprovalRecord]| {
        records.iter().map(|a| a.id.clone()).collect::<Vec<_>>()
    };

    let first = page(None, None, 2).await;
    assert_eq!(ids(&first), ["r9:3", "r1:3"]);
    let second = page(first.last().map(ListKey::from), None, 2).await;
    assert_eq!(ids(&second), ["r2:3", "r3:3"]);
    let last = page(second.last().map(ListKey::from), None, 2).await;
    assert!(last.is_empty(), "nothing after the last request");

    // With a filter, the key only says where to go on from.
    let key = ListKey::from(&first[0]);
    assert_eq!(
        ids(&page(Some(key.clone()), Some("m@x"), 10).await),
        ["r1:3", "r3:3"]
    );
    assert_eq!(ids(&page(Some(key), Some("a@x"), 10).await), ["r2:3"]);
    // A key of no stored request still places the page.
    let between = ListKey {
        created_at: 70,
        id: "r1:9".to_owned(),
    };
    assert_eq!(ids(&page(Some(between), None, 10).await), ["r2:3", "r3:3"]);
}

pub async fn the_next_timer_leaves_out_runs_that_people_decide(h: &Harness) {
    let s = &h.store;
    // Held by a pending request whose deadline (1_100) comes first; its
    // driver let go of the lease, as a driver of a waiting run does.
    let epoch = started_run(&h.store, "held").await;
    let mut p = point("held", epoch, json!({"pc": 1}));
    p.status = RunStatus::Waiting;
    p.wake_at = Some(1_100);
    p.release = true;
    p.approvals = vec![ApprovalWrite::Create(request(
        "held",
        "held:3",
        &["m@x"],
        1,
    ))];
    assert_eq!(
        s.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    assert_eq!(s.next_timer(10_000).await.expect("read"), None);

    for (id, status, wake_at) in [
        ("later", RunStatus::Waiting, Some(5_000)),
        ("sooner", RunStatus::Waiting, Some(2_000)),
        ("no-timer", RunStatus::Waiting, None),
        ("ended", RunStatus::Completed, Some(1_500)),
    ] {
        let mut run = new_run(id, 1);
        run.status = status;
        run.wake_at = wake_at;
        s.create_run(run).await.expect("created");
    }
    assert_eq!(s.next_timer(10_000).await.expect("read"), Some(2_000));
    assert_eq!(s.next_timer(2_000).await.expect("read"), Some(2_000));
    assert_eq!(s.next_timer(1_999).await.expect("read"), None);

    // Decided, the request no longer holds its run, which is due at once.
    s.decide_approval("held:3", decision(true, "m@x", 300))
        .await
        .expect("the approver decides");
    assert_eq!(s.next_timer(10_000).await.expect("read"), Some(300));

    // Claimed by a driver, it can be claimed again when the lease lapses.
    s.claim_run("held", "n1", 400, 1_000)
        .await
        .expect("the claim runs")
        .expect("claimed");
    assert_eq!(s.next_timer(10_000).await.expect("read"), Some(1_400));
}
