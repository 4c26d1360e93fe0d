//! Conformance tests for the approval notification outbox: a notification
//! owed in the point that creates its request, listed once its grace period
//! is over, claimed by compare-and-set (one claimant at a time, a lapsed
//! claim can be taken over), and marked done only in the version delivered.

use serde_json::json;
use store::{
    ApprovalWrite, GroupWrite, GroupWritten, NewApproval, NoticeClaim, NoticeReason, OwedNotice,
    PointOutcome, RunStatus, Store,
};

use crate::harness::{Harness, point, started_run};

fn request(run: &str) -> NewApproval {
    NewApproval {
        id: format!("{run}:3"),
        run_id: run.to_owned(),
        path: "3".to_owned(),
        step: Some("3".to_owned()),
        approvers: vec!["m@x.com".to_owned()],
        group: None,
        require_n: 1,
        message: Some("refund 150?".to_owned()),
        via: "webhook".to_owned(),
        timeout_ms: None,
        on_timeout: None,
        escalations: 0,
        started_by: None,
        due_at: None,
    }
}

/// Commits a point of `run` at `now` carrying `writes`.
async fn commit(h: &Harness, run: &str, epoch: i64, now: i64, writes: Vec<ApprovalWrite>) {
    let mut p = point(run, epoch, json!({"pc": now}));
    p.status = RunStatus::Waiting;
    p.now = now;
    p.approvals = writes;
    assert_eq!(
        h.store.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
}

async fn owed(h: &Harness, before: i64, now: i64) -> Vec<OwedNotice> {
    h.store
        .owed_notices(before, now, 100)
        .await
        .expect("the outbox reads")
}

pub async fn a_notification_is_owed_with_its_request_and_claimed_once(h: &Harness) {
    let epoch = started_run(&h.store, "r1").await;
    let id = "r1:3".to_owned();
    commit(
        h,
        "r1",
        epoch,
        100,
        vec![
            ApprovalWrite::Create(request("r1")),
            ApprovalWrite::OweNotice {
                id: id.clone(),
                reason: NoticeReason::Requested,
                claim: None,
            },
        ],
    )
    .await;
    let notice = OwedNotice {
        approval_id: id.clone(),
        reason: NoticeReason::Requested,
        owed_at: 100,
    };
    assert!(owed(h, 99, 200).await.is_empty(), "still within its grace");
    assert_eq!(owed(h, 100, 200).await, vec![notice.clone()]);

    // Two claimants: one wins; the claim hides it until it lapses.
    assert!(
        h.store
            .claim_notice(&notice, "a", 200, 1_200)
            .await
            .expect("claims")
    );
    assert!(
        !h.store
            .claim_notice(&notice, "b", 300, 1_300)
            .await
            .expect("claims")
    );
    assert!(owed(h, 1_000, 500).await.is_empty(), "claimed");
    assert_eq!(owed(h, 1_000, 1_200).await, vec![notice.clone()], "lapsed");
    assert!(
        h.store
            .claim_notice(&notice, "b", 1_200, 2_200)
            .await
            .expect("claims")
    );

    // Done: gone for good.
    h.store.notice_done(&notice).await.expect("done");
    assert!(owed(h, 10_000, 10_000).await.is_empty());
    assert!(
        !h.store
            .claim_notice(&notice, "c", 10_000, 11_000)
            .await
            .expect("claims")
    );
}

pub async fn a_notification_owed_again_while_delivered_stays_owed(h: &Harness) {
    let epoch = started_run(&h.store, "r1").await;
    let id = "r1:3".to_owned();
    let owe = |reason| ApprovalWrite::OweNotice {
        id: id.clone(),
        reason,
        claim: None,
    };
    commit(
        h,
        "r1",
        epoch,
        100,
        vec![
            ApprovalWrite::Create(request("r1")),
            owe(NoticeReason::Reminder),
        ],
    )
    .await;
    let first = owed(h, 100, 100).await;
    assert_eq!(first.len(), 1);
    assert!(
        h.store
            .claim_notice(&first[0], "a", 150, 10_000)
            .await
            .expect("claims")
    );
    // A later reminder is owed while the first is being delivered, and a
    // replayed point owes the same one again: one row, the newer version.
    commit(h, "r1", epoch, 500, vec![owe(NoticeReason::Reminder)]).await;
    commit(h, "r1", epoch, 500, vec![owe(NoticeReason::Reminder)]).await;
    h.store.notice_done(&first[0]).await.expect("done");
    // The newer version is still owed (once the first claim lapses).
    let left = owed(h, 1_000, 10_000).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].owed_at, 500);
    assert_eq!(left[0].reason, NoticeReason::Reminder);
    // Reasons are owed separately.
    commit(h, "r1", epoch, 600, vec![owe(NoticeReason::Requested)]).await;
    assert_eq!(owed(h, 1_000, 10_000).await.len(), 2);
}

/// The committing node delivers right after its commit: the point claims the
/// notification for it, so no sweep sends it meanwhile and no claim
/// transaction is needed; the done mark rides on a group commit.
pub async fn a_notification_owed_claimed_is_hidden_until_done_in_a_group_commit(h: &Harness) {
    let epoch = started_run(&h.store, "r1").await;
    let id = "r1:3".to_owned();
    let claimed = |node: &str, until| ApprovalWrite::OweNotice {
        id: id.clone(),
        reason: NoticeReason::Requested,
        claim: Some(NoticeClaim {
            node: node.to_owned(),
            until,
        }),
    };
    commit(
        h,
        "r1",
        epoch,
        100,
        vec![ApprovalWrite::Create(request("r1")), claimed("a", 1_100)],
    )
    .await;
    let notice = OwedNotice {
        approval_id: id.clone(),
        reason: NoticeReason::Requested,
        owed_at: 100,
    };
    assert!(owed(h, 500, 500).await.is_empty(), "claimed by its point");
    assert!(
        !h.store
            .claim_notice(&notice, "b", 500, 1_500)
            .await
            .expect("claims"),
        "a sweep cannot take a held claim"
    );
    assert_eq!(
        owed(h, 500, 1_100).await,
        vec![notice.clone()],
        "a lapsed claim is a sweep's"
    );
    // Owing it again without a claim keeps the claim it has.
    commit(
        h,
        "r1",
        epoch,
        200,
        vec![ApprovalWrite::OweNotice {
            id: id.clone(),
            reason: NoticeReason::Requested,
            claim: None,
        }],
    )
    .await;
    assert!(owed(h, 500, 500).await.is_empty(), "still claimed");

    // Done on a group commit, in the version delivered only.
    let stale = h
        .store
        .commit_group(Vec::new(), vec![GroupWrite::NoticeDone(notice.clone())])
        .await
        .expect("the group commits");
    assert!(matches!(
        stale.written.as_slice(),
        [Ok(GroupWritten::NoticeDone)]
    ));
    let again = OwedNotice {
        owed_at: 200,
        ..notice
    };
    assert_eq!(
        owed(h, 500, 1_100).await,
        vec![again.clone()],
        "owed again meanwhile"
    );
    h.store
        .commit_group(Vec::new(), vec![GroupWrite::NoticeDone(again)])
        .await
        .expect("the group commits");
    assert!(owed(h, 10_000, 10_000).await.is_empty(), "done");
}
