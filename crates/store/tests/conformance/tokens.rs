//! Conformance tests for signed-link tokens: issued with their durable
//! point, spent once together with their decision, refused (and left
//! unspent) when unknown, mismatched, expired, revoked or when the decision
//! itself is refused; and the deployment secret, created once.

use serde_json::json;
use store::{
    ApprovalStatus, ApprovalWrite, DecisionRefused, Error, NewApproval, NewToken, PointOutcome,
    RunStatus, Store, TokenRedemption,
};

use crate::harness::{Harness, point, started_run};

fn request(run: &str, id: &str, approvers: &[&str], escalations: i32) -> NewApproval {
    NewApproval {
        id: id.to_owned(),
        run_id: run.to_owned(),
        path: "3".to_owned(),
        step: Some("3".to_owned()),
        approvers: approvers.iter().map(|a| (*a).to_owned()).collect(),
        group: None,
        require_n: 1,
        message: Some("ship it?".to_owned()),
        via: "email".to_owned(),
        timeout_ms: Some(1_000),
        on_timeout: None,
        escalations,
        started_by: Some("alice".to_owned()),
        due_at: Some(1_100),
    }
}

fn tokens(approval: &str, approvers: &[&str]) -> Vec<NewToken> {
    approvers
        .iter()
        .flat_map(|who| {
            ["approve", "deny"].map(|action| NewToken {
                id: format!("{approval}/{who}/{action}"),
                approval_id: approval.to_owned(),
                approver: (*who).to_owned(),
                action: action.to_owned(),
                expires_at: 1_100,
            })
        })
        .collect()
}

/// Run `run` waiting on a new request with its tokens; returns the epoch.
async fn waiting_with_tokens(h: &Harness, run: &str, new: NewApproval) -> i64 {
    let epoch = started_run(&h.store, run).await;
    let mut p = point(run, epoch, json!({"pc": 1}));
    p.status = RunStatus::Waiting;
    p.wake_at = new.due_at;
    let approvers: Vec<&str> = new.approvers.iter().map(String::as_str).collect();
    let issued = tokens(&new.id, &approvers);
    p.approvals = vec![
        ApprovalWrite::Create(new),
        ApprovalWrite::IssueTokens(issued),
    ];
    assert_eq!(
        h.store.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    epoch
}

fn redemption(token: &str, now: i64) -> TokenRedemption {
    let mut parts = token.splitn(3, '/');
    let approval = parts.next().unwrap_or_default().to_owned();
    let approver = parts.next().unwrap_or_default().to_owned();
    let action = parts.next().unwrap_or_default().to_owned();
    TokenRedemption {
        token_id: token.to_owned(),
        approval_id: approval,
        approver,
        action,
        comment: None,
        now,
    }
}

fn refused(result: store::Result<store::ApprovalRecord>) -> DecisionRefused {
    match result {
        Err(Error::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn used_at(h: &Harness, token: &str) -> Option<i64> {
    h.store
        .approval_token(token)
        .await
        .expect("read")
        .expect("the token")
        .used_at
}

pub async fn link_tokens_are_spent_once_with_their_decision(h: &Harness) {
    let s = &h.store;
    let run_epoch = waiting_with_tokens(h, "t1", request("t1", "t1:3", &["m@x"], 0)).await;
    let _ = run_epoch;
    let issued = s.approval_tokens("t1:3").await.expect("tokens");
    assert_eq!(issued.len(), 2);
    assert!(
        issued
            .iter()
            .all(|t| t.used_at.is_none() && t.expires_at == 1_100)
    );
    let approve = "t1:3/m@x/approve";
    let deny = "t1:3/m@x/deny";

    // Unknown, mismatched (a deny link claiming the approve token) and expired: refused.
    assert!(matches!(
        refused(s.redeem_token(redemption("t1:3/m@x/nope", 500)).await),
        DecisionRefused::UnknownToken(_)
    ));
    let mut mismatched = redemption(approve, 500);
    mismatched.action = "deny".to_owned();
    assert!(matches!(
        refused(s.redeem_token(mismatched).await),
        DecisionRefused::UnknownToken(_)
    ));
    assert_eq!(
        refused(s.redeem_token(redemption(approve, 1_100)).await),
        DecisionRefused::TokenExpired
    );
    assert_eq!(used_at(h, approve).await, None);
    assert_eq!(
        s.approval("t1:3").await.expect("read").expect("row").status,
        ApprovalStatus::Pending
    );

    let decided = s
        .redeem_token(redemption(approve, 500))
        .await
        .expect("redeemed");
    assert_eq!(decided.status, ApprovalStatus::Approved);
    assert_eq!(decided.votes[0]["channel"], "link");
    assert_eq!(used_at(h, approve).await, Some(500));
    let run = s.run("t1").await.expect("read").expect("run");
    assert_eq!(run.wake_at, Some(500), "the decision makes the run due");

    assert_eq!(
        refused(s.redeem_token(redemption(approve, 600)).await),
        DecisionRefused::TokenUsed
    );
    assert!(matches!(
        refused(s.redeem_token(redemption(deny, 600)).await),
        DecisionRefused::NotPending { .. }
    ));
    assert_eq!(
        used_at(h, deny).await,
        None,
        "a refused decision spends nothing"
    );
    let trail = s.approval_audit("t1:3").await.expect("audit");
    let approved: Vec<_> = trail.iter().filter(|a| a.kind == "approved").collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].channel.as_deref(), Some("link"));
}

pub async fn escalation_revokes_tokens_and_refusals_spend_nothing(h: &Harness) {
    let s = &h.store;
    let epoch = waiting_with_tokens(h, "t2", request("t2", "t2:3", &["alice", "m@x"], 0)).await;
    // The run's starter may not approve through a link either; the token stays unspent.
    assert!(matches!(
        refused(s.redeem_token(redemption("t2:3/alice/approve", 500)).await),
        DecisionRefused::SelfApproval { .. }
    ));
    assert_eq!(used_at(h, "t2:3/alice/approve").await, None);

    // Tokens for a request that does not exist are not issued (and do not fail the point).
    let mut p = point("t2", epoch, json!({"pc": 2}));
    p.approvals = vec![ApprovalWrite::IssueTokens(tokens("t2:nothing", &["m@x"]))];
    assert_eq!(
        s.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    assert!(
        s.approval_tokens("t2:nothing")
            .await
            .expect("read")
            .is_empty()
    );

    // The request escalates: its unused tokens are revoked.
    let mut p = point("t2", epoch, json!({"pc": 3}));
    p.status = RunStatus::Waiting;
    p.approvals = vec![
        ApprovalWrite::Escalate {
            id: "t2:3".to_owned(),
            to: request("t2", "t2:3:e1", &["d@x"], 1),
        },
        ApprovalWrite::IssueTokens(tokens("t2:3:e1", &["d@x"])),
    ];
    assert_eq!(
        s.commit(vec![p]).await.expect("commit"),
        vec![PointOutcome::Ok]
    );
    let old = s.approval_tokens("t2:3").await.expect("read");
    assert_eq!(old.len(), 4);
    assert!(old.iter().all(|t| t.revoked_at.is_some()));
    assert_eq!(
        refused(s.redeem_token(redemption("t2:3/m@x/approve", 600)).await),
        DecisionRefused::TokenRevoked("t2:3".to_owned())
    );
    let decided = s
        .redeem_token(redemption("t2:3:e1/d@x/deny", 600))
        .await
        .expect("the new approver decides");
    assert_eq!(decided.status, ApprovalStatus::Denied);
}

pub async fn the_link_secret_is_created_once(h: &Harness) {
    let s = &h.store;
    assert_eq!(s.link_secret("first").await.expect("secret"), "first");
    assert_eq!(s.link_secret("second").await.expect("secret"), "first");
}
