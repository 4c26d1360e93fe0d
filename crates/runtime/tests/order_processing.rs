//! The `templates/order-processing` template end to end, offline: a low-risk
//! order completes; a high-risk order waits for the risk team and completes
//! once approved; without a decision it is rejected (`ON TIMEOUT: REJECT ORDER`).

mod common;

use std::path::{Path, PathBuf};

use common::runtime_at;
use runtime::Runtime;
use serde_json::{Value, json};
use store::{RunStatus, Store};

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/order-processing")
}

/// Copies the template, applying `edit` to each script.
fn copy(from: &Path, to: &Path, edit: &dyn Fn(String) -> String) {
    std::fs::create_dir_all(to).expect("create a folder");
    for entry in std::fs::read_dir(from).expect("read the template") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy(&entry.path(), &target, edit);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("read a file");
            std::fs::write(target, edit(text)).expect("write a file");
        }
    }
}

async fn start(rt: &Runtime, input: Value) -> (String, RunStatus) {
    let workflow = rt
        .workflow(Some("order-processing"))
        .expect("the workflow is found");
    let (run, _) = rt
        .start_by(&workflow, input, None, Some("shop".to_owned()))
        .await
        .expect("the run starts");
    let status = rt.run_to_end(&run.id).await.expect("driven");
    (run.id, status)
}

fn order(id: &str, amount: f64, country: &str, new_customer: bool, method: &str) -> Value {
    json!({"order_id": id, "amount": amount, "country": country,
           "new_customer": new_customer, "payment_method": method})
}

const HIGH_RISK: (&str, f64, &str, bool, &str) = ("ORD-8", 2500.0, "XX", true, "invoice");

#[tokio::test]
async fn a_low_risk_order_completes_without_approval() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = runtime_at(&template(), &dir.path().join("runs.db")).await;
    let (run, status) = start(&rt, order("ORD-7", 80.0, "PT", false, "card")).await;
    assert_eq!(status, RunStatus::Completed);
    let view = rt.view(&run).await.expect("reads back");
    assert_eq!(
        view.result,
        Some(
            json!({"order_id": "ORD-7", "risk": "low", "payment": "charged",
                    "reservation": "RS-ORD-7", "tracking": "TRK-PT-ORD-7",
                    "customer_notified": true})
        )
    );
    assert!(rt.pending_approvals(&run).await.expect("read").is_empty());
    assert!(view.events.iter().any(|e| e.name == "order_processed"));
    let shared = rt
        .store()
        .shared_memory("customer-care")
        .await
        .expect("read");
    assert_eq!(shared.len(), 1);
}

#[tokio::test]
async fn a_high_risk_order_waits_for_the_risk_team_and_completes_once_approved() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = runtime_at(&template(), &dir.path().join("runs.db")).await;
    let (id, amount, country, new_customer, method) = HIGH_RISK;
    let (run, status) = start(&rt, order(id, amount, country, new_customer, method)).await;
    assert_eq!(status, RunStatus::Waiting);
    let pending = rt.pending_approvals(&run).await.expect("read");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].approvers, ["risk@company.com"]);
    assert!(
        pending[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("ORD-8")),
        "{:?}",
        pending[0].message
    );
    rt.decide(&run, true, "risk@company.com", None, "cli")
        .await
        .expect("approved");
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view(&run).await.expect("reads back");
    let result = view.result.expect("a result");
    assert_eq!(result["risk"], "high");
    assert_eq!(result["payment"], "invoiced");
}

#[tokio::test]
async fn a_high_risk_order_without_a_decision_is_rejected_at_the_timeout() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let bots = dir.path().join("bots");
    copy(&template(), &bots, &|text| {
        text.replace("TIMEOUT 3600", "TIMEOUT 1")
    });
    let rt = runtime_at(&bots, &dir.path().join("runs.db")).await;
    let (id, amount, country, new_customer, method) = HIGH_RISK;
    let (run, status) = start(&rt, order(id, amount, country, new_customer, method)).await;
    assert_eq!(status, RunStatus::Waiting);
    let deadline = rt.pending_approvals(&run).await.expect("read")[0]
        .due_at
        .expect("a deadline");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(
        u64::try_from(deadline - now + 20).unwrap_or(0),
    ))
    .await;
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Rejected
    );
    let view = rt.view(&run).await.expect("reads back");
    assert_eq!(view.variables["approval"]["reason"], "ORDER");
    assert!(
        view.steps.iter().all(|s| s.number != "3"),
        "no payment after a rejection"
    );
}
