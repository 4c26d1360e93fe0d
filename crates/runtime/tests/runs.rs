//! Runs of small workflows against SQLite in a temp folder.

mod common;

use common::{Fixture, package, runtime_at, template};
use runtime::{Driven, Error};
use serde_json::{Value, json};
use store::{RunFilter, RunStatus, Store};

fn step_paths(view: &runtime::RunView) -> Vec<(String, String, i32)> {
    view.steps
        .iter()
        .map(|s| (s.path.clone(), s.status.clone(), s.attempts))
        .collect()
}

#[tokio::test]
async fn the_template_completes_with_its_variables_steps_memory_and_events() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("the template has one workflow");
    assert_eq!(workflow.name, "customer-support");
    assert_eq!(workflow.bot, "customer-support");
    let input = json!({"complaint": "my order arrived broken", "order_amount": 50});
    let (run, created) = rt
        .start(&workflow, input, Some("case-1".into()))
        .await
        .expect("the run starts");
    assert!(created);
    let status = rt.run_to_end(&run.id).await.expect("the run is driven");
    assert_eq!(status, RunStatus::Completed);

    let view = rt.view("case-1").await.expect("the run reads back");
    assert_eq!(view.status, RunStatus::Completed);
    assert_eq!(view.variables["category"], json!("damaged"));
    assert_eq!(view.variables["order_id"], json!("ORD-1001"));
    assert_eq!(view.variables["refund_id"], json!("RF-ORD-1001"));
    assert_eq!(view.variables["updated"], json!(true));
    assert_eq!(
        step_paths(&view),
        vec![
            ("1".into(), "done".into(), 1),
            ("2".into(), "done".into(), 1),
            ("4".into(), "done".into(), 0),
            ("4/A".into(), "done".into(), 1),
            ("4/B".into(), "done".into(), 1),
        ]
    );
    let bots: Vec<Option<&str>> = view.steps.iter().map(|s| s.bot.as_deref()).collect();
    assert_eq!(
        bots,
        vec![
            Some("classifier"),
            Some("order-checker"),
            None,
            Some("refund-processor"),
            Some("inventory-updater")
        ]
    );

    // The refund bot's memory write committed with its answer; the share was recorded.
    let refund = rt
        .store()
        .memory("refund-processor", "last_refund")
        .await
        .expect("memory reads");
    assert_eq!(
        refund,
        Some(json!({"refund_id": "RF-ORD-1001", "order_id": "ORD-1001", "amount": 50}))
    );
    let shared = rt
        .store()
        .shared_memory("support-bot-2")
        .await
        .expect("shared memory reads");
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].key, "resolution_method");
    assert_eq!(shared[0].source_bot, "customer-support");

    // Events: the script's own and the engine's, each once, with stable ids.
    let names: Vec<(&str, &str)> = view
        .events
        .iter()
        .map(|e| (e.id.as_str(), e.name.as_str()))
        .collect();
    assert!(names.contains(&("case-1:workflow_started", "workflow_started")));
    assert!(names.contains(&("case-1:event#1", "workflow_completed")));
    assert!(names.contains(&("case-1:workflow_completed", "workflow_completed")));
    assert!(names.contains(&("case-1:1:workflow_step_complete", "workflow_step_complete")));
    assert!(names.contains(&("case-1:4/A:bot_response_ready", "bot_response_ready")));
    let mut ids: Vec<&str> = names.iter().map(|(id, _)| *id).collect();
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "no event id twice");

    // The PRINT of the inventory bot is in the journal.
    assert!(
        view.journal
            .iter()
            .any(|e| e.kind == "print" && e.data["bot"] == json!("inventory-updater"))
    );
}

#[tokio::test]
async fn the_template_waits_for_the_manager_then_completes() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt
        .workflow(Some("customer-support"))
        .expect("found by name");
    let input = json!({"complaint": "broken", "order_amount": 150});
    let (run, _) = rt
        .start_by(&workflow, input, None, Some("clerk".into()))
        .await
        .expect("starts");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Waiting
    );
    let pending = rt.pending_approvals(&run.id).await.expect("listed");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].approvers, ["manager@company.com"]);
    assert_eq!(pending[0].path, "3");
    rt.decide(&run.id, true, "manager@company.com", None, "cli")
        .await
        .expect("the manager decides");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view(&run.id).await.expect("reads back");
    assert_eq!(view.variables["approval"]["approved"], json!(true));
    assert!(
        view.steps
            .iter()
            .any(|s| s.path == "3" && s.status == "done")
    );
}

#[tokio::test]
async fn the_same_id_never_starts_two_runs() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let input = json!({"complaint": "late", "order_amount": 10});
    let (first, created) = rt
        .start(&workflow, input.clone(), Some("same".into()))
        .await
        .expect("starts");
    assert!(created);
    assert_eq!(
        rt.run_to_end("same").await.expect("driven"),
        RunStatus::Completed
    );
    let (second, created) = rt
        .start(&workflow, json!({"other": 1}), Some("same".into()))
        .await
        .expect("returns the existing run");
    assert!(!created);
    assert_eq!(second.id, first.id);
    assert_eq!(second.status, RunStatus::Completed);
    assert_eq!(second.input, input);
    let runs = rt
        .store()
        .list_runs(RunFilter::default())
        .await
        .expect("lists");
    assert_eq!(runs.len(), 1);
}

const FLAKY: &str = r#"
' Fails its first two attempts, then answers.
IF attempt < 3 THEN
  boom = 1 / 0
END IF
SET BOT MEMORY "answered", attempt
RETURN {"tries": attempt}
"#;

#[tokio::test]
async fn a_failing_attempt_is_retried_and_only_the_answer_that_counts_is_recorded() {
    let fixture = Fixture::new();
    package(
        &fixture.bots(),
        "flow",
        &[(
            "main.bas",
            "ORCHESTRATE WORKFLOW \"retrying\"\n  STEP 1: BOT \"flaky\" \"work\" RETRY 3\nEND WORKFLOW\n",
        )],
        "",
    );
    package(&fixture.bots(), "flaky", &[("work.bas", FLAKY)], "");
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let (run, _) = rt.start(&workflow, json!({}), None).await.expect("starts");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view(&run.id).await.expect("reads");
    assert_eq!(view.variables["tries"], json!(3));
    assert_eq!(step_paths(&view), vec![("1".into(), "done".into(), 3)]);
    let history = rt
        .store()
        .memory_history("flaky", "answered")
        .await
        .expect("history reads");
    assert!(
        history.is_empty(),
        "failed attempts wrote nothing: {history:?}"
    );
    assert_eq!(
        rt.store().memory("flaky", "answered").await.expect("reads"),
        Some(json!(3))
    );
}

#[tokio::test]
async fn a_bot_script_that_fails_fails_the_run_and_retry_continues_from_that_step() {
    let fixture = Fixture::new();
    package(
        &fixture.bots(),
        "flow",
        &[(
            "main.bas",
            "ORCHESTRATE WORKFLOW \"w\"\n  STEP 1: BOT \"ok\" \"first\"\n  STEP 2: BOT \"bad\" \"second\"\n  TALK \"done \" & answer\nEND WORKFLOW\n",
        )],
        "",
    );
    package(
        &fixture.bots(),
        "ok",
        &[("first.bas", "RETURN {\"one\": 1}\n")],
        "",
    );
    package(
        &fixture.bots(),
        "bad",
        &[("second.bas", "x = 1 / 0\nRETURN {\"answer\": 2}\n")],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let (run, _) = rt
        .start(&workflow, json!({}), Some("r".into()))
        .await
        .expect("starts");
    assert_eq!(rt.run_to_end("r").await.expect("driven"), RunStatus::Failed);
    let view = rt.view("r").await.expect("reads");
    let error = view.error.clone().expect("recorded");
    assert_eq!(error["step"], json!("2"));
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("bot \"bad\" failed") && m.contains("division by zero")),
        "{error}"
    );
    assert_eq!(view.steps[1].status, "failed");
    drop(rt);

    // Fix the bot and retry: step 1 is not asked again, step 2 is.
    package(
        &fixture.bots(),
        "bad",
        &[("second.bas", "RETURN {\"answer\": 2}\n")],
        "",
    );
    let rt = fixture.runtime().await;
    assert_eq!(
        rt.retry(&run.id).await.expect("retried"),
        RunStatus::Completed
    );
    let view = rt.view("r").await.expect("reads");
    assert_eq!(
        step_paths(&view),
        vec![
            ("1".into(), "done".into(), 1),
            ("2".into(), "done".into(), 2)
        ]
    );
    assert_eq!(view.transcript.len(), 1);
    assert_eq!(view.transcript[0].text, "done 2");
    assert!(matches!(rt.retry("r").await, Err(Error::Conflict { .. })));
}

#[tokio::test]
async fn parallel_branches_and_loops_of_steps_record_every_path_once() {
    let fixture = Fixture::new();
    package(
        &fixture.bots(),
        "flow",
        &[(
            "main.bas",
            r#"ORCHESTRATE WORKFLOW "loops"
  total = 0
  FOR i = 1 TO 3
    STEP 1: BOT "adder" "add" WITH {"n": i, "total": total}
  NEXT i
  STEP 2: PARALLEL
    BRANCH A: BOT "adder" "add" WITH {"n": 10, "total": total} INTO extra
    BRANCH B:
      STEP 3: BOT "echo" "echo"
    END BRANCH
  END PARALLEL
END WORKFLOW
"#,
        )],
        "",
    );
    package(
        &fixture.bots(),
        "adder",
        &[("add.bas", "RETURN {\"total\": total + n}\n")],
        "",
    );
    package(
        &fixture.bots(),
        "echo",
        &[(
            "start.bas",
            "TALK \"echo \" & action\nRETURN {\"echoed\": action}\n",
        )],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let (run, _) = rt.start(&workflow, json!({}), None).await.expect("starts");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view(&run.id).await.expect("reads");
    assert_eq!(view.variables["total"], json!(6));
    assert_eq!(view.variables["extra"], json!({"total": 16}));
    assert_eq!(view.variables["echoed"], json!("echo"));
    let mut paths: Vec<String> = view.steps.iter().map(|s| s.path.clone()).collect();
    paths.sort();
    assert_eq!(paths, vec!["1#1", "1#2", "1#3", "2", "2/A", "2/B/3"]);
    assert!(view.steps.iter().all(|s| s.status == "done"));
    assert_eq!(view.transcript.len(), 1);
    assert_eq!(view.transcript[0].bot.as_deref(), Some("echo"));
}

#[tokio::test]
async fn memory_is_read_your_writes_and_call_script_shares_variables() {
    let fixture = Fixture::new();
    package(
        &fixture.bots(),
        "flow",
        &[
            (
                "main.bas",
                r#"ORCHESTRATE WORKFLOW "mem"
  SET BOT MEMORY "counter", 41
  seen = GET BOT MEMORY "counter"
  CALL "helper.bas"
  SET BOT MEMORY "counter", seen + 1
  after = GET BOT MEMORY "counter"
END WORKFLOW
"#,
            ),
            ("helper.bas", "helped = seen * 2\n"),
        ],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let (run, _) = rt.start(&workflow, json!({}), None).await.expect("starts");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view(&run.id).await.expect("reads");
    assert_eq!(view.variables["seen"], json!(41));
    assert_eq!(view.variables["helped"], json!(82));
    assert_eq!(view.variables["after"], json!(42));
    let history = rt
        .store()
        .memory_history("flow", "counter")
        .await
        .expect("reads");
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn a_delay_is_a_durable_timer() {
    let fixture = Fixture::new();
    package(
        &fixture.bots(),
        "flow",
        &[(
            "main.bas",
            "ORCHESTRATE WORKFLOW \"t\"\n  a = 1\n  DELAY 0.2\n  b = 2\nEND WORKFLOW\n",
        )],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let (run, _) = rt.start(&workflow, json!({}), None).await.expect("starts");
    let driven = rt.drive(&run.id).await.expect("driven");
    let Driven::Waiting { wake_at: Some(_) } = driven else {
        panic!("expected a timer wait, got {driven:?}");
    };
    let stored = rt
        .store()
        .run(&run.id)
        .await
        .expect("reads")
        .expect("exists");
    assert_eq!(stored.status, RunStatus::Waiting);
    assert_eq!(stored.lease_owner, None, "a waiting run holds no lease");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Completed
    );
    let view = rt.view(&run.id).await.expect("reads");
    assert_eq!(view.variables["b"], json!(2));
}

#[tokio::test]
async fn runs_left_running_are_resumed() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    for n in 0..5 {
        rt.start(
            &workflow,
            json!({"complaint": "late", "order_amount": n}),
            None,
        )
        .await
        .expect("starts");
    }
    let report = rt.resume_all().await.expect("resumes");
    assert_eq!(report.driven, 5);
    assert_eq!(report.finished, 5);
    let done = rt
        .store()
        .list_runs(RunFilter {
            status: Some(RunStatus::Completed),
            ..RunFilter::default()
        })
        .await
        .expect("lists");
    assert_eq!(done.len(), 5);
}

#[tokio::test]
async fn the_group_committer_batches_points_of_concurrent_runs() {
    let fixture = Fixture::new();
    let rt = runtime_at(&template(), &fixture.db()).await;
    let workflow = rt.workflow(None).expect("one workflow");
    let inputs = (0..64)
        .map(|n| (json!({"complaint": "broken", "order_amount": n}), None))
        .collect();
    let runs = rt.start_many(&workflow, inputs).await.expect("starts");
    let mut tasks = tokio::task::JoinSet::new();
    for (record, _) in runs {
        let rt = rt.clone();
        tasks.spawn(async move { rt.run_to_end(&record.id).await });
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.expect("joined").expect("driven"), RunStatus::Completed);
    }
    let stats = rt.stats();
    println!("{} points in {} commits", stats.points(), stats.commits());
    assert!(stats.points() >= 64 * 4);
    assert!(
        stats.commits() < stats.points(),
        "{} commits for {} points",
        stats.commits(),
        stats.points()
    );
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_written() {
    let fixture = Fixture::new();
    package(
        &fixture.bots(),
        "flow",
        &[(
            "main.bas",
            "ORCHESTRATE WORKFLOW \"w\"\n  STEP 1: BOT \"nobody\" \"x\"\nEND WORKFLOW\n",
        )],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    // A bot no package provides is a check error: the run never starts.
    let refused = rt.start(&workflow, json!({}), Some("a".into())).await;
    assert!(matches!(refused, Err(Error::Check { .. })), "{refused:?}");
    assert!(rt.store().run("a").await.expect("reads").is_none());

    package(
        &fixture.bots(),
        "flow",
        &[(
            "main.bas",
            "ORCHESTRATE WORKFLOW \"w\"\n  x = 1\nEND WORKFLOW\n",
        )],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let big = "x".repeat(store::MAX_VALUE_BYTES + 1);
    let refused = rt
        .start(&workflow, json!({"big": big}), Some("b".into()))
        .await;
    assert!(
        matches!(refused, Err(Error::TooLarge { .. })),
        "{refused:?}"
    );
    let refused = rt.start(&workflow, json!([1]), Some("c".into())).await;
    assert!(
        matches!(refused, Err(Error::InputNotObject(_))),
        "{refused:?}"
    );
    assert!(
        rt.store()
            .list_runs(RunFilter::default())
            .await
            .expect("lists")
            .is_empty()
    );
    assert!(matches!(rt.view("nope").await, Err(Error::UnknownRun(_))));
    let _ = Value::Null;
}
