//! `HUMAN APPROVAL` end to end over SQLite: requests, decisions, deny,
//! timeouts (short real ones), escalation, quorum and the decision rules.

mod common;

use common::{Fixture, package};
use runtime::{Error, Runtime};
use serde_json::{Value, json};
use store::{ApprovalStatus, DecisionRefused, RunStatus, Store};

/// A runtime over one package `flow` whose workflow is `body`.
async fn flow(fixture: &Fixture, body: &str, config: &str) -> Runtime {
    let source = format!("ORCHESTRATE WORKFLOW \"w\"\n{body}END WORKFLOW\n");
    package(&fixture.bots(), "flow", &[("w.bas", &source)], config);
    fixture.runtime().await
}

/// Starts the workflow as `alice` and drives it until it waits.
async fn start(rt: &Runtime) -> String {
    let workflow = rt.workflow(Some("w")).expect("the workflow is found");
    let (run, _) = rt
        .start_by(&workflow, json!({}), None, Some("alice".to_owned()))
        .await
        .expect("the run starts");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Waiting
    );
    run.id
}

async fn decide(rt: &Runtime, id: &str, approve: bool, who: &str) -> store::ApprovalRecord {
    rt.decide(id, approve, who, Some(format!("{who} decided")), "cli")
        .await
        .expect("the decision is recorded")
}

fn refusal(result: runtime::Result<store::ApprovalRecord>) -> DecisionRefused {
    match result {
        Err(Error::Store(store::Error::Refused(why))) => why,
        other => panic!("expected a refused decision, got {other:?}"),
    }
}

/// Sleeps until the run's deadline has passed (no timing is asserted).
async fn past_deadline(rt: &Runtime, run: &str) {
    let record = rt.store().run(run).await.expect("read").expect("the run");
    let due = record
        .wake_at
        .expect("a waiting run with a timeout has a deadline");
    let now = jiff_free_now();
    let wait = u64::try_from(due - now + 20).unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
}

fn jiff_free_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn event_names(rt: &Runtime, run: &str) -> Vec<String> {
    let view = rt.view(run).await.expect("reads back");
    view.events.into_iter().map(|e| e.name).collect()
}

async fn approval_var(rt: &Runtime, run: &str) -> Value {
    let view = rt.view(run).await.expect("reads back");
    view.variables
        .get("approval")
        .cloned()
        .unwrap_or(Value::Null)
}

const ASK: &str = "  STEP 1: HUMAN APPROVAL FROM \"m@x\"\n    TIMEOUT 600\n    MESSAGE \"refund?\"\n  TALK \"approved: \" + approval.approved\n";

#[tokio::test]
async fn an_approved_request_lets_the_run_go_on() {
    let fixture = Fixture::new();
    let rt = flow(&fixture, ASK, "").await;
    let run = start(&rt).await;
    let record = rt.store().run(&run).await.expect("read").expect("run");
    assert_eq!(record.status, RunStatus::Waiting);
    assert!(record.lease_owner.is_none(), "a waiting run holds no lease");
    let pending = rt.pending_approvals(&run).await.expect("listed");
    assert_eq!(pending.len(), 1);
    let request = &pending[0];
    assert_eq!(request.id, format!("{run}:1"));
    assert_eq!(request.approvers, ["m@x"]);
    assert_eq!(request.message.as_deref(), Some("refund?"));
    assert_eq!(
        record.wake_at, request.due_at,
        "the deadline is the run's timer"
    );

    let decided = decide(&rt, &run, true, "m@x").await;
    assert_eq!(decided.status, ApprovalStatus::Approved);
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    let approval = approval_var(&rt, &run).await;
    assert_eq!(approval["approved"], json!(true));
    assert_eq!(approval["by"], json!("m@x"));
    assert_eq!(approval["comment"], json!("m@x decided"));
    let names = event_names(&rt, &run).await;
    assert!(
        names.contains(&"approval_requested".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"approval_received".to_owned()), "{names:?}");
    let view = rt.view(&run).await.expect("view");
    assert!(view.transcript.iter().any(|l| l.text == "approved: true"));
    let trail: Vec<String> = rt
        .store()
        .approval_audit(&decided.id)
        .await
        .expect("audit")
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(trail, ["created", "notified", "approved"]);
}

#[tokio::test]
async fn a_decision_that_launches_drives_the_run_on_without_a_worker() {
    let fixture = Fixture::new();
    let rt = flow(&fixture, ASK, "").await;
    let run = start(&rt).await;
    let decided = rt
        .decide_and_launch(&run, true, "m@x", None, "api")
        .await
        .expect("the decision is recorded");
    assert_eq!(decided.status, ApprovalStatus::Approved);
    // No worker runs here: the decision's own driver finishes the run.
    let mut status = RunStatus::Waiting;
    for _ in 0..500 {
        status = rt
            .store()
            .run(&run)
            .await
            .expect("read")
            .expect("run")
            .status;
        if status.is_terminal() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status, RunStatus::Completed);
    assert_eq!(approval_var(&rt, &run).await["approved"], json!(true));
    assert_eq!(
        rt.drain_launched(std::time::Duration::from_secs(5)).await,
        0
    );

    // A decision on a run that waits for nothing is refused.
    let again = rt.decide_and_launch(&run, true, "m@x", None, "api").await;
    assert!(matches!(again, Err(Error::Approval(_))), "{again:?}");
}

#[tokio::test]
async fn a_denial_rejects_the_run() {
    let fixture = Fixture::new();
    let rt = flow(&fixture, ASK, "").await;
    let run = start(&rt).await;
    decide(&rt, &run, false, "m@x").await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Rejected
    );
    assert_eq!(approval_var(&rt, &run).await["approved"], json!(false));
    let names = event_names(&rt, &run).await;
    assert!(names.contains(&"approval_denied".to_owned()), "{names:?}");
    let view = rt.view(&run).await.expect("view");
    assert!(
        !view
            .transcript
            .iter()
            .any(|l| l.text.starts_with("approved"))
    );
}

#[tokio::test]
async fn on_deny_continue_goes_on_with_the_denial() {
    let fixture = Fixture::new();
    let body = "  STEP 1: HUMAN APPROVAL FROM \"m@x\"\n    ON DENY: CONTINUE\n  TALK \"approved: \" + approval.approved\n";
    let rt = flow(&fixture, body, "").await;
    let run = start(&rt).await;
    assert_eq!(
        rt.store()
            .run(&run)
            .await
            .expect("read")
            .expect("run")
            .wake_at,
        None,
        "no timeout, no deadline"
    );
    decide(&rt, &run, false, "m@x").await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view(&run).await.expect("view");
    assert!(view.transcript.iter().any(|l| l.text == "approved: false"));
}

#[tokio::test]
async fn a_timeout_without_on_timeout_is_a_denial() {
    let fixture = Fixture::new();
    let body = "  STEP 1: HUMAN APPROVAL FROM \"m@x\"\n    TIMEOUT 1\n";
    let rt = flow(&fixture, body, "").await;
    let run = start(&rt).await;
    past_deadline(&rt, &run).await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Rejected
    );
    let approval = approval_var(&rt, &run).await;
    assert_eq!(approval["approved"], json!(false));
    assert_eq!(approval["by"], json!("system:timeout"));
    assert_eq!(approval["reason"], json!("timeout"));
    let view = rt.view(&run).await.expect("view");
    let timeout = view
        .events
        .iter()
        .find(|e| e.name == "timeout_occurred")
        .expect("timeout_occurred is published");
    assert_eq!(
        timeout.payload,
        Some(json!({"step": "1", "timeout_seconds": 1.0}))
    );
    // A decision after the timeout is refused and changes nothing.
    let late = refusal(
        rt.decide(&format!("{run}:1"), true, "m@x", None, "cli")
            .await,
    );
    assert!(matches!(
        late,
        DecisionRefused::NotPending {
            status: ApprovalStatus::TimedOut,
            ..
        }
    ));
}

#[tokio::test]
async fn reject_words_on_timeout_are_the_reason() {
    let fixture = Fixture::new();
    let body =
        "  STEP 1: HUMAN APPROVAL FROM \"m@x\"\n    TIMEOUT 1\n    ON TIMEOUT: REJECT ORDER\n";
    let rt = flow(&fixture, body, "").await;
    let run = start(&rt).await;
    past_deadline(&rt, &run).await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Rejected
    );
    assert_eq!(approval_var(&rt, &run).await["reason"], json!("ORDER"));
}

#[tokio::test]
async fn approve_with_warning_on_timeout_approves() {
    let fixture = Fixture::new();
    let body = "  STEP 1: HUMAN APPROVAL FROM \"m@x\"\n    TIMEOUT 1\n    ON TIMEOUT: APPROVE WITH WARNING\n  TALK \"done\"\n";
    let rt = flow(&fixture, body, "").await;
    let run = start(&rt).await;
    past_deadline(&rt, &run).await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    let approval = approval_var(&rt, &run).await;
    assert_eq!(approval["approved"], json!(true));
    assert_eq!(approval["by"], json!("system:timeout"));
    assert_eq!(approval["warning"], json!(true));
}

#[tokio::test]
async fn escalation_revokes_the_first_approver_and_asks_the_next() {
    let fixture = Fixture::new();
    let body = "  STEP 1: HUMAN APPROVAL FROM \"m@x\"\n    TIMEOUT 1\n    ON TIMEOUT: ESCALATE TO \"d@x\"\n";
    let rt = flow(&fixture, body, "").await;
    let run = start(&rt).await;
    past_deadline(&rt, &run).await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Waiting
    );
    let pending = rt.pending_approvals(&run).await.expect("listed");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].approvers, ["d@x"]);
    assert_eq!(pending[0].escalations, 1);
    assert_eq!(
        pending[0].timeout_ms,
        Some(1_000),
        "a fresh timeout of the same length"
    );

    let old = refusal(
        rt.decide(&format!("{run}:1"), true, "m@x", None, "cli")
            .await,
    );
    assert!(matches!(
        old,
        DecisionRefused::NotPending {
            status: ApprovalStatus::Escalated,
            ..
        }
    ));
    let not_theirs = refusal(rt.decide(&run, true, "m@x", None, "cli").await);
    assert!(matches!(not_theirs, DecisionRefused::NotAnApprover { .. }));
    decide(&rt, &run, true, "d@x").await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    assert_eq!(approval_var(&rt, &run).await["by"], json!("d@x"));
    let names = event_names(&rt, &run).await;
    let requested = names.iter().filter(|n| *n == "approval_requested").count();
    assert_eq!(requested, 2, "{names:?}");
}

#[tokio::test]
async fn the_starter_may_not_approve_their_own_run() {
    let fixture = Fixture::new();
    let body = "  STEP 1: HUMAN APPROVAL FROM \"alice\", \"m@x\"\n";
    let rt = flow(&fixture, body, "").await;
    let run = start(&rt).await;
    let own = refusal(rt.decide(&run, true, "alice", None, "cli").await);
    assert!(matches!(own, DecisionRefused::SelfApproval { .. }), "{own}");
    let pending = rt.pending_approvals(&run).await.expect("listed");
    assert_eq!((pending.len(), pending[0].votes.len()), (1, 0));
    decide(&rt, &run, true, "m@x").await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
}

#[tokio::test]
async fn a_second_decision_is_refused_and_changes_nothing() {
    let fixture = Fixture::new();
    let rt = flow(&fixture, ASK, "").await;
    let run = start(&rt).await;
    let first = decide(&rt, &run, true, "m@x").await;
    let twice = refusal(rt.decide(&first.id, false, "m@x", None, "cli").await);
    assert!(matches!(twice, DecisionRefused::NotPending { .. }));
    assert_eq!(
        rt.store().approval(&first.id).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    let by_run = rt.decide(&run, false, "m@x", None, "cli").await;
    assert!(matches!(by_run, Err(Error::Approval(_))), "{by_run:?}");
    let names = event_names(&rt, &run).await;
    assert_eq!(
        names.iter().filter(|n| *n == "approval_received").count(),
        1
    );
    assert!(!names.contains(&"approval_denied".to_owned()));
}

#[tokio::test]
async fn require_two_waits_for_two_approvals() {
    let fixture = Fixture::new();
    let body = "  STEP 1: HUMAN APPROVAL FROM GROUP \"finance\"\n    REQUIRE 2\n";
    let rt = flow(&fixture, body, "approver-group-finance,a@x;b@x;c@x\n").await;
    let run = start(&rt).await;
    let pending = rt.pending_approvals(&run).await.expect("listed");
    assert_eq!(pending[0].approvers, ["a@x", "b@x", "c@x"]);
    assert_eq!(pending[0].group.as_deref(), Some("finance"));
    let one = decide(&rt, &run, true, "a@x").await;
    assert_eq!(one.status, ApprovalStatus::Pending);
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Waiting
    );
    decide(&rt, &run, true, "c@x").await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    assert_eq!(
        approval_var(&rt, &run).await["approvers"],
        json!(["a@x", "c@x"])
    );
}

#[tokio::test]
async fn an_unknown_group_fails_the_step_clearly() {
    let fixture = Fixture::new();
    let body = "  STEP 1: HUMAN APPROVAL FROM GROUP \"legal\"\n";
    let rt = flow(&fixture, body, "").await;
    let workflow = rt.workflow(Some("w")).expect("found");
    let (run, _) = rt.start(&workflow, json!({}), None).await.expect("starts");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Failed
    );
    let error = rt
        .view(&run.id)
        .await
        .expect("view")
        .error
        .expect("an error");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("approver-group-legal")),
        "{error}"
    );
}

#[tokio::test]
async fn deciding_an_unknown_request_is_a_clear_error() {
    let fixture = Fixture::new();
    let rt = flow(&fixture, ASK, "").await;
    let result = rt.decide("no-such-thing", true, "m@x", None, "cli").await;
    let Err(Error::Approval(message)) = result else {
        panic!("expected an approval error, got {result:?}");
    };
    assert!(message.contains("no-such-thing"), "{message}");
}

#[tokio::test]
async fn an_approval_in_a_parallel_branch_waits_beside_the_other_branch() {
    let fixture = Fixture::new();
    let body = "  STEP 1: PARALLEL\n    BRANCH A: HUMAN APPROVAL FROM \"m@x\"\n    BRANCH B:\n      WAIT 0\n      TALK \"b done\"\n    END BRANCH\n  END PARALLEL\n  TALK \"joined \" + approval.approved\n";
    let rt = flow(&fixture, body, "").await;
    let run = start(&rt).await;
    let view = rt.view(&run).await.expect("view");
    assert!(view.transcript.iter().any(|l| l.text == "b done"));
    assert_eq!(rt.pending_approvals(&run).await.expect("listed").len(), 1);
    decide(&rt, &run, true, "m@x").await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view(&run).await.expect("view");
    assert!(
        view.transcript.iter().any(|l| l.text == "joined true"),
        "{:?}",
        view.transcript
    );
}

#[tokio::test]
async fn an_admin_decides_any_request_under_the_same_rules() {
    let fixture = Fixture::new();
    let rt = flow(&fixture, ASK, "").await;
    let run = start(&rt).await;
    let admin = runtime::Decider::admin;
    // A plain name decides only what is addressed to it.
    let stranger = refusal(rt.decide(&run, true, "root", None, "api").await);
    assert!(
        matches!(stranger, DecisionRefused::NotAnApprover { .. }),
        "{stranger}"
    );
    // Being admin lifts only that rule: the starter still may not approve.
    let own = refusal(rt.decide(&run, true, admin("alice"), None, "api").await);
    assert!(matches!(own, DecisionRefused::SelfApproval { .. }), "{own}");
    let pending = rt.pending_approvals(&run).await.expect("listed");
    assert_eq!((pending.len(), pending[0].votes.len()), (1, 0));

    let decided = rt
        .decide(&run, true, admin("root"), Some("ok".to_owned()), "api")
        .await
        .expect("an admin decides a request not addressed to it");
    assert_eq!(decided.status, ApprovalStatus::Approved);
    assert_eq!(decided.votes[0]["who"], json!("root"));
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    assert_eq!(approval_var(&rt, &run).await["by"], json!("root"));
    // Nor may an admin decide twice.
    let twice = refusal(
        rt.decide(&decided.id, false, admin("root"), None, "api")
            .await,
    );
    assert!(
        matches!(twice, DecisionRefused::NotPending { .. }),
        "{twice}"
    );
}
