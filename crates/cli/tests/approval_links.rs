//! Signed approval links through real `botflow` processes, and a process
//! that dies in the middle of a decision: `approvals redeem` aborts (the
//! `BOTFLOW_CRASH_AFTER_DECISION` hook, or the commit hook while the run is
//! resumed) after the decision committed. After the restart the decision is
//! recorded once, `botflow resume` finishes the run, and deciding again —
//! by the same link or by `botflow approve` — is refused and changes nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use runtime::{Options, Runtime};
use serde_json::Value;
use store::{AnyStore, ApprovalStatus, RunStatus, Store};

const RISK: &str = "risk@company.com";
const HIGH_RISK: &str = r#"{"order_id":"ORD-8","amount":2500,"country":"XX","new_customer":true,"payment_method":"invoice"}"#;

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/order-processing")
}

fn botflow(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_botflow"));
    command
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("BOTFLOW_DB")
        .env_remove("BOTFLOW_CRASH_AFTER_COMMITS")
        .env_remove("BOTFLOW_CRASH_AFTER_DECISION")
        .env_remove("BOTFLOW_SECRET")
        .env("BOTFLOW_LEASE_MS", "200")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("botflow runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn runtime(db: &Path) -> Runtime {
    let deployment = bots::load_deployment(&template()).expect("the template loads");
    let store = AnyStore::open(&db.display().to_string())
        .await
        .expect("the database opens");
    Runtime::new(store, deployment, Options::default())
}

/// Starts a high-risk order; returns the run id, the request id and its approve link.
async fn waiting_order(db: &Path) -> (String, String, String) {
    let template = template();
    let path = template.to_str().expect("a UTF-8 path");
    let run = botflow(db, &["run", path, "--input", HIGH_RISK], &[]);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let rt = runtime(db).await;
    let list = rt
        .store()
        .approvals(store::ApprovalFilter::default())
        .await
        .expect("list");
    let request = list.last().expect("a pending request").clone();
    let links = rt.approval_links(&request.id).await.expect("links");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].approver, RISK);
    let approve = links[0].approve.clone().expect("an approve link");
    rt.store().close().await;
    (request.run_id, request.id, approve)
}

#[tokio::test]
async fn a_decision_survives_its_process_dying_and_is_applied_once() {
    let cases: [(&str, &str); 3] = [
        ("BOTFLOW_CRASH_AFTER_DECISION", "1"),
        ("BOTFLOW_CRASH_AFTER_COMMITS", "1"),
        ("BOTFLOW_CRASH_AFTER_COMMITS", "2"),
    ];
    for (hook, value) in cases {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("runs.db");
        let template = template();
        let bots = template.to_str().expect("a UTF-8 path");
        let (run, request, link) = waiting_order(&db).await;

        let crashed = botflow(
            &db,
            &["approvals", "redeem", &link, "--yes", "--bots", bots],
            &[(hook, value)],
        );
        assert_eq!(
            crashed.status.code(),
            None,
            "{hook}={value}: the process aborted: {}",
            text(&crashed.stderr)
        );

        // After the restart: decided once, the link spent.
        let again = botflow(
            &db,
            &["approvals", "redeem", &link, "--yes", "--bots", bots],
            &[],
        );
        assert_eq!(
            again.status.code(),
            Some(1),
            "{hook}: {}",
            text(&again.stderr)
        );
        assert!(
            text(&again.stderr).contains("already used"),
            "{}",
            text(&again.stderr)
        );
        let approve = botflow(
            &db,
            &["approve", &request, "--as", RISK, "--bots", bots],
            &[],
        );
        assert_eq!(
            approve.status.code(),
            Some(1),
            "{hook}: {}",
            text(&approve.stderr)
        );
        assert!(
            text(&approve.stderr).contains("already approved"),
            "{}",
            text(&approve.stderr)
        );

        let resume = botflow(&db, &["resume", "--bots", bots], &[]);
        assert!(resume.status.success(), "{hook}: {}", text(&resume.stderr));

        let rt = runtime(&db).await;
        let record = rt
            .store()
            .approval(&request)
            .await
            .expect("read")
            .expect("the request");
        assert_eq!(record.status, ApprovalStatus::Approved, "{hook}");
        assert_eq!(record.votes.len(), 1, "{hook}");
        let trail = rt.store().approval_audit(&request).await.expect("audit");
        assert_eq!(
            trail.iter().filter(|a| a.kind == "approved").count(),
            1,
            "{hook}"
        );
        let view = rt.view(&run).await.expect("reads back");
        assert_eq!(view.status, RunStatus::Completed, "{hook}");
        let approval: &Value = &view.variables["approval"];
        assert_eq!(approval["by"], RISK, "{hook}");
        rt.store().close().await;
    }
}

#[test]
fn a_link_can_be_previewed_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("runs.db");
    let template = template();
    let bots = template.to_str().expect("a UTF-8 path");
    let tokio = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let (run, _, link) = tokio.block_on(waiting_order(&db));
    let preview = botflow(&db, &["approvals", "redeem", &link, "--bots", bots], &[]);
    assert!(preview.status.success(), "{}", text(&preview.stderr));
    assert!(
        text(&preview.stderr).contains("--yes"),
        "{}",
        text(&preview.stderr)
    );
    // Change the last digit of the signature.
    let last = if link.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &link[..link.len() - 1]);
    let bad = botflow(
        &db,
        &["approvals", "redeem", &forged, "--yes", "--bots", bots],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("nothing was changed"),
        "{}",
        text(&bad.stderr)
    );
    let used = botflow(
        &db,
        &["approvals", "redeem", &link, "--yes", "--bots", bots],
        &[],
    );
    assert_eq!(used.status.code(), Some(0), "{}", text(&used.stderr));
    assert!(
        text(&used.stderr).contains(&format!("run {run} completed")),
        "{}",
        text(&used.stderr)
    );
}
