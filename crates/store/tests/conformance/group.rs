//! Conformance tests for the writes that ride on a group commit beside the
//! durable points: decisions (with the claim of the run they make due),
//! approval audits and notifications' done marks.

use serde_json::json;
use store::{
    ApprovalDecision, ApprovalStatus, ApprovalWrite, DecisionRefused, Error, GroupClaim,
    GroupCommitted, GroupWrite, GroupWritten, MemoryOp, NewApproval, NoticeReason, OwedNotice,
    PointOutcome, RunStatus, Store,
};

use crate::harness::{Harness, point, started_run};

fn request(run: &str) -> NewApproval {
    NewApproval {
        id: format!("{run}:3"),
        run_id: run.to_owned(),
        path: "3".to_owned(),
        step: Some("3".to_owned()),
        approvers: vec!["m@x".to_owned()],
        group: None,
        require_n: 1,
        message: None,
        via: "log".to_owned(),
        timeout_ms: Some(1_000),
        on_timeout: None,
        escalations: 0,
        started_by: Some("alice".to_owned()),
        due_at: Some(1_100),
    }
}

fn decide(run: &str, who: &str, claim: Option<GroupClaim>) -> GroupWrite {
    GroupWrite::Decide {
        id: format!("{run}:3"),
        decision: ApprovalDecision {
            approve: true,
            who: who.to_owned(),
            comment: None,
            channel: "api".to_owned(),
            admin: false,
            now: 300,
        },
        claim,
    }
}

/// Makes `run` wait for its approval request `<run>:3`; returns its epoch.
async fn waiting(h: &Harness, run: &str) -> i64 {
    let epoch = started_run(&h.store, run).await;
    let mut p = point(run, epoch, json!({"pc": 1}));
    p.status = RunStatus::Waiting;
    p.wake_at = Some(1_100);
    p.release = true;
    p.approvals = vec![ApprovalWrite::Create(request(run))];
    assert_eq!(
        h.store.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    epoch
}

pub async fn decisions_ride_on_a_group_commit_and_claim_their_run(h: &Harness) {
    let s = &h.store;
    waiting(h, "r1").await;
    let epoch2 = waiting(h, "r2").await;
    let epoch3 = started_run(s, "r3").await;
    let claim = GroupClaim {
        owner: "n2".to_owned(),
        ttl_ms: 1_000,
    };
    let audit = ApprovalWrite::Audit {
        id: "r1:3".to_owned(),
        kind: "notified".to_owned(),
        who: Some("m@x".to_owned()),
        channel: Some("log".to_owned()),
        detail: json!({"ok": true}),
    };
    let GroupCommitted {
        outcomes, written, ..
    } = s
        .commit_group(
            vec![point("r3", epoch3, json!({"pc": 2}))],
            vec![
                // Refused: eve is no approver. Only this write is undone.
                decide("r1", "eve@x", None),
                decide("r2", "m@x", Some(claim.clone())),
                GroupWrite::Approval {
                    write: Box::new(audit),
                    now: 250,
                },
            ],
        )
        .await
        .expect("the group commits");
    assert_eq!(outcomes, vec![PointOutcome::Ok]);
    assert_eq!(written.len(), 3);
    assert!(
        matches!(
            &written[0],
            Err(Error::Refused(DecisionRefused::NotAnApprover { .. }))
        ),
        "{:?}",
        written[0]
    );
    match &written[1] {
        Ok(GroupWritten::Decided { approval, claimed }) => {
            assert_eq!(approval.status, ApprovalStatus::Approved);
            let run = claimed.as_ref().expect("the settled run is claimed");
            assert_eq!(run.id, "r2");
            assert_eq!(run.lease_owner.as_deref(), Some("n2"));
            assert_eq!(run.lease_epoch, epoch2 + 1);
            assert_eq!(run.lease_until, Some(300 + 1_000));
        }
        other => panic!("expected a decision, got {other:?}"),
    }
    assert!(matches!(&written[2], Ok(GroupWritten::Approval)));

    // What committed is what each write answered.
    let r3 = s.run("r3").await.expect("read").expect("r3");
    assert_eq!(r3.state, json!({"pc": 2}));
    let r1 = s.approval("r1:3").await.expect("read").expect("r1:3");
    assert_eq!((r1.status, r1.votes.len()), (ApprovalStatus::Pending, 0));
    let kinds: Vec<String> = s
        .approval_audit("r1:3")
        .await
        .expect("audit")
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, ["created", "notified"]);
    let r2 = s.run("r2").await.expect("read").expect("r2");
    assert_eq!(
        (r2.status, r2.lease_owner.as_deref(), r2.lease_epoch),
        (RunStatus::Waiting, Some("n2"), epoch2 + 1)
    );

    // A decision that settles nothing (already decided) is refused; a claim
    // of a run that somebody leases is not made.
    let GroupCommitted { written: again, .. } = s
        .commit_group(Vec::new(), vec![decide("r2", "m@x", Some(claim.clone()))])
        .await
        .expect("the group commits");
    assert!(
        matches!(
            &again[0],
            Err(Error::Refused(DecisionRefused::NotPending { .. }))
        ),
        "{:?}",
        again[0]
    );
    s.claim_run("r1", "other", 200, 10_000)
        .await
        .expect("the claim runs")
        .expect("r1 is free");
    let GroupCommitted { written: held, .. } = s
        .commit_group(Vec::new(), vec![decide("r1", "m@x", Some(claim))])
        .await
        .expect("the group commits");
    match &held[0] {
        Ok(GroupWritten::Decided { approval, claimed }) => {
            assert_eq!(approval.status, ApprovalStatus::Approved);
            assert!(claimed.is_none(), "{claimed:?}");
        }
        other => panic!("expected a decision, got {other:?}"),
    }
    let r1 = s.run("r1").await.expect("read").expect("r1");
    assert_eq!(r1.lease_owner.as_deref(), Some("other"));
}

/// One group commit of points that request approvals and write memory,
/// beside a plain point and a decision: what the points beside a fenced one
/// write lands, and the fenced point writes nothing, its approval and memory
/// writes included.
pub async fn a_fenced_point_in_a_group_leaves_its_approvals_and_memory_out(h: &Harness) {
    let s = &h.store;
    let epoch1 = started_run(s, "r1").await;
    let epoch2 = started_run(s, "r2").await;
    let epoch3 = started_run(s, "r3").await;
    waiting(h, "r4").await;
    let asking = |run: &str, epoch: i64| {
        let mut p = point(run, epoch, json!({"pc": 5}));
        p.status = RunStatus::Waiting;
        p.wake_at = Some(1_100);
        p.release = true;
        p.approvals = vec![ApprovalWrite::Create(request(run))];
        p.memory = vec![MemoryOp::Set {
            bot: "b".to_owned(),
            key: run.to_owned(),
            value: json!(run),
        }];
        p
    };
    let GroupCommitted {
        outcomes, written, ..
    } = s
        .commit_group(
            vec![
                asking("r1", epoch1),
                // A stale epoch: another driver owns r2.
                asking("r2", epoch2 - 1),
                point("r3", epoch3, json!({"pc": 2})),
            ],
            vec![decide("r4", "m@x", None)],
        )
        .await
        .expect("the group commits");
    assert_eq!(
        outcomes,
        vec![PointOutcome::Ok, PointOutcome::Fenced, PointOutcome::Ok]
    );
    // A decision answers with the request as it now stands in the store.
    let r4 = s.approval("r4:3").await.expect("read").expect("r4:3");
    assert_eq!(r4.status, ApprovalStatus::Approved);
    match &written[..] {
        [Ok(GroupWritten::Decided { approval, .. })] => assert_eq!(**approval, r4),
        other => panic!("expected a decision, got {other:?}"),
    }
    let r1 = s.approval("r1:3").await.expect("read").expect("r1:3");
    assert_eq!(r1.status, ApprovalStatus::Pending);
    assert_eq!(s.memory("b", "r1").await.expect("read"), Some(json!("r1")));
    assert!(s.approval("r2:3").await.expect("read").is_none());
    assert_eq!(s.memory("b", "r2").await.expect("read"), None);
    let r2 = s.run("r2").await.expect("read").expect("r2");
    assert_eq!(r2.status, RunStatus::Running);
    let r3 = s.run("r3").await.expect("read").expect("r3");
    assert_eq!(r3.state, json!({"pc": 2}));
}

/// Votes on one request in one group commit, among its other writes: each
/// is judged against the request as the writes before it left it (a second
/// vote of the same approver is refused), each answers with the request as
/// it stood after it, and the audit trail keeps the order of the writes.
pub async fn votes_in_one_group_are_judged_in_the_order_of_the_writes(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(s, "r1").await;
    let mut p = point("r1", epoch, json!({"pc": 1}));
    p.status = RunStatus::Waiting;
    p.wake_at = Some(1_100);
    p.release = true;
    p.approvals = vec![
        ApprovalWrite::Create(NewApproval {
            approvers: vec!["a@x".to_owned(), "b@x".to_owned()],
            require_n: 2,
            ..request("r1")
        }),
        ApprovalWrite::OweNotice {
            id: "r1:3".to_owned(),
            reason: NoticeReason::Requested,
            claim: None,
        },
    ];
    assert_eq!(
        s.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    let notified = GroupWrite::Approval {
        write: Box::new(ApprovalWrite::Audit {
            id: "r1:3".to_owned(),
            kind: "notified".to_owned(),
            who: Some("b@x".to_owned()),
            channel: Some("log".to_owned()),
            detail: json!({}),
        }),
        now: 200,
    };
    let claim = GroupClaim {
        owner: "n2".to_owned(),
        ttl_ms: 1_000,
    };
    let GroupCommitted { written, .. } = s
        .commit_group(
            Vec::new(),
            vec![
                decide("r1", "a@x", Some(claim.clone())),
                notified,
                GroupWrite::NoticeDone(OwedNotice {
                    approval_id: "r1:3".to_owned(),
                    reason: NoticeReason::Requested,
                    owed_at: 100,
                }),
                decide("r1", "a@x", Some(claim.clone())),
                decide("r1", "b@x", Some(claim.clone())),
                decide("nobody", "a@x", Some(claim)),
            ],
        )
        .await
        .expect("the group commits");
    assert_eq!(written.len(), 6);
    match &written[0] {
        Ok(GroupWritten::Decided { approval, claimed }) => {
            assert_eq!(
                (approval.status, approval.votes.len()),
                (ApprovalStatus::Pending, 1)
            );
            assert!(
                claimed.is_none(),
                "a vote that settles nothing claims nothing"
            );
        }
        other => panic!("expected a vote, got {other:?}"),
    }
    assert!(matches!(&written[1], Ok(GroupWritten::Approval)));
    assert!(matches!(&written[2], Ok(GroupWritten::NoticeDone)));
    assert!(
        matches!(
            &written[3],
            Err(Error::Refused(DecisionRefused::AlreadyVoted { .. }))
        ),
        "{:?}",
        written[3]
    );
    let stored = s.approval("r1:3").await.expect("read").expect("r1:3");
    match &written[4] {
        Ok(GroupWritten::Decided { approval, claimed }) => {
            assert_eq!(**approval, stored);
            let run = claimed.as_ref().expect("the settled run is claimed");
            assert_eq!((run.id.as_str(), run.lease_epoch), ("r1", epoch + 1));
        }
        other => panic!("expected a decision, got {other:?}"),
    }
    assert!(
        matches!(
            &written[5],
            Err(Error::Refused(DecisionRefused::Unknown(_)))
        ),
        "{:?}",
        written[5]
    );
    assert_eq!(
        (stored.status, stored.votes.len()),
        (ApprovalStatus::Approved, 2)
    );
    let trail: Vec<(i64, String)> = s
        .approval_audit("r1:3")
        .await
        .expect("audit")
        .into_iter()
        .map(|a| (a.seq, a.kind))
        .collect();
    let expected = [
        (1, "created"),
        (2, "vote"),
        (3, "notified"),
        (4, "approved"),
    ];
    assert_eq!(
        trail,
        expected.map(|(seq, kind)| (seq, kind.to_owned())).to_vec()
    );
    assert!(
        s.owed_notices(10_000, 10_000, 10)
            .await
            .expect("the outbox reads")
            .is_empty(),
        "the done mark removed the notification"
    );
    let run = s.run("r1").await.expect("read").expect("r1");
    assert_eq!(
        (run.wake_at, run.lease_owner.as_deref()),
        (Some(300), Some("n2"))
    );
}

/// A group whose write the database refuses (an audit entry of a request
/// that does not exist) fails as a whole: its points are not written either.
pub async fn a_failed_group_write_leaves_the_whole_group_unwritten(h: &Harness) {
    let s = &h.store;
    let epoch = started_run(s, "r1").await;
    let before = s.run("r1").await.expect("read").expect("r1");
    let orphan = GroupWrite::Approval {
        write: Box::new(ApprovalWrite::Audit {
            id: "nobody:3".to_owned(),
            kind: "notified".to_owned(),
            who: None,
            channel: Some("log".to_owned()),
            detail: json!({}),
        }),
        now: 200,
    };
    let result = s
        .commit_group(vec![point("r1", epoch, json!({"pc": 9}))], vec![orphan])
        .await;
    // The database refused it (the request it names does not exist), not
    // anything before it.
    assert!(matches!(result, Err(Error::Database(_))), "{result:?}");
    let after = s.run("r1").await.expect("read").expect("r1");
    assert_eq!((after.state, after.version), (before.state, before.version));
    // The writer is usable again: the next group commits.
    let GroupCommitted { outcomes, .. } = s
        .commit_group(vec![point("r1", epoch, json!({"pc": 10}))], Vec::new())
        .await
        .expect("the next group commits");
    assert_eq!(outcomes, vec![PointOutcome::Ok]);
}
