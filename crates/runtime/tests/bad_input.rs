//! Bad input through the runtime's API (issue 4, "Bad input"): every case is
//! refused or recorded with a clear error, and a run recorded before it is
//! still there, identical.

mod common;

use common::{Fixture, package};
use runtime::{Error, Runtime};
use serde_json::{Value, json};
use store::{MAX_VALUE_BYTES, RunFilter, RunStatus, Store};

const ECHO: &str = "RETURN {\"e\": ((x ?? 0) * 3 + 1) MOD 1000}\n";

/// A deployment whose workflow `main` is `body`, with the `echo` bot.
fn deploy(fixture: &Fixture, body: &str) {
    package(
        &fixture.bots(),
        "flow",
        &[(
            "main.bas",
            &format!("ORCHESTRATE WORKFLOW \"main\"\n{body}END WORKFLOW\n"),
        )],
        "",
    );
    package(&fixture.bots(), "echo", &[("ping.bas", ECHO)], "");
}

/// Records the completed run `keep` and returns how it reads back.
async fn keep(fixture: &Fixture) -> Value {
    deploy(
        fixture,
        "  STEP 1: BOT \"echo\" \"ping\" WITH {\"x\": 4}\n  SET BOT MEMORY \"last\", e\n",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    rt.start(&workflow, json!({}), Some("keep".into()))
        .await
        .expect("starts");
    assert_eq!(
        rt.run_to_end("keep").await.expect("driven"),
        RunStatus::Completed
    );
    snapshot(&rt).await
}

/// Every run in the store, as it reads back, and the bot memory `keep` wrote.
async fn snapshot(rt: &Runtime) -> Value {
    let mut runs = Vec::new();
    for summary in rt
        .store()
        .list_runs(RunFilter::default())
        .await
        .expect("lists")
    {
        if summary.id == "keep" {
            let view = rt.view("keep").await.expect("reads");
            runs.push(serde_json::to_value(view).expect("a view is JSON"));
        } else {
            runs.push(json!(summary.id));
        }
    }
    let memory = rt.store().memory("flow", "last").await.expect("reads");
    json!({"runs": runs, "memory": memory})
}

/// The snapshot of `keep` alone, whatever other runs were added.
fn kept(snapshot: &Value) -> Value {
    let runs = snapshot["runs"].as_array().expect("runs");
    let keep: Vec<&Value> = runs.iter().filter(|r| r["id"] == "keep").collect();
    json!({"keep": keep, "memory": snapshot["memory"]})
}

#[tokio::test]
async fn an_input_over_the_size_limit_is_refused_naming_the_limit() {
    let fixture = Fixture::new();
    let before = keep(&fixture).await;
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let big = "x".repeat(MAX_VALUE_BYTES);
    let refused = rt
        .start(&workflow, json!({"big": big}), Some("big".into()))
        .await;
    let Err(error @ Error::TooLarge { .. }) = refused else {
        panic!("expected TooLarge, got {refused:?}");
    };
    let message = error.to_string();
    assert!(
        message.contains("the run's input")
            && message.contains(&format!("above the limit of {MAX_VALUE_BYTES} bytes"))
            && message.contains("nothing was written"),
        "{message}"
    );
    // Just under the limit the input fits but the run's first state (the
    // input plus the engine's own fields) does not: refused the same way.
    let almost = "x".repeat(MAX_VALUE_BYTES - 100);
    let refused = rt
        .start(&workflow, json!({"almost": almost}), Some("almost".into()))
        .await;
    let Err(error) = refused else {
        panic!("a state over the limit was stored");
    };
    let message = error.to_string();
    assert!(
        matches!(error, Error::TooLarge { .. })
            && message.contains("the run's state")
            && message.contains("its input of")
            && message.contains(&format!("above the limit of {MAX_VALUE_BYTES} bytes"))
            && message.contains("nothing was written"),
        "{message}"
    );
    // Well under the limit is accepted: the limit is the stated one.
    let half = "x".repeat(MAX_VALUE_BYTES / 2);
    rt.start(&workflow, json!({"half": half}), Some("half".into()))
        .await
        .expect("an input of half the limit starts");
    for id in ["big", "almost"] {
        assert!(rt.store().run(id).await.expect("reads").is_none(), "{id}");
    }
    assert_eq!(kept(&snapshot(&rt).await), kept(&before));
}

#[tokio::test]
async fn an_input_that_is_not_an_object_is_refused() {
    let fixture = Fixture::new();
    let before = keep(&fixture).await;
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    for (input, kind) in [
        (json!([1]), "a list"),
        (json!("text"), "a string"),
        (json!(3), "a number"),
        (json!(true), "a boolean"),
    ] {
        let refused = rt.start(&workflow, input, Some("bad".into())).await;
        let Err(error @ Error::InputNotObject(_)) = refused else {
            panic!("expected InputNotObject, got {refused:?}");
        };
        assert_eq!(
            error.to_string(),
            format!("the run's input must be a JSON object, not {kind}")
        );
    }
    assert_eq!(snapshot(&rt).await, before);
}

#[tokio::test]
async fn an_unknown_run_id_is_refused_by_every_operation() {
    let fixture = Fixture::new();
    let before = keep(&fixture).await;
    let rt = fixture.runtime().await;
    let expected = "there is no run with id \"ghost\"";
    let results = [
        rt.view("ghost").await.map(|_| ()),
        rt.drive("ghost").await.map(|_| ()),
        rt.run_to_end("ghost").await.map(|_| ()),
        rt.retry("ghost").await.map(|_| ()),
        rt.cancel("ghost").await,
    ];
    for result in results {
        let Err(error @ Error::UnknownRun(_)) = result else {
            panic!("expected UnknownRun, got {result:?}");
        };
        assert_eq!(error.to_string(), expected);
    }
    assert_eq!(snapshot(&rt).await, before);
}

#[tokio::test]
async fn a_workflow_with_check_errors_never_starts() {
    let fixture = Fixture::new();
    let before = keep(&fixture).await;
    for (body, code) in [
        ("  STEP 1: BOT \"nobody\" \"help\"\n", "E010"),
        ("  IF e > 1 THEN\n    b = 1\n", "E004"),
    ] {
        deploy(&fixture, body);
        let rt = fixture.runtime().await;
        let workflow = rt.workflow(None).expect("one workflow");
        let refused = rt.start(&workflow, json!({}), Some("bad".into())).await;
        let Err(error @ Error::Check { .. }) = refused else {
            panic!("{code}: expected a check error, got {refused:?}");
        };
        let Error::Check {
            file, diagnostics, ..
        } = &error
        else {
            unreachable!("matched above")
        };
        assert!(file.ends_with("main.bas"), "{file}");
        assert!(
            diagnostics.iter().any(|d| d.code.as_str() == code),
            "{code}: {diagnostics:?}"
        );
        assert!(error.to_string().contains("run `botflow check"), "{error}");
        assert_eq!(snapshot(&rt).await, before, "{code}: nothing was written");
    }
}

#[tokio::test]
async fn a_failing_bot_script_fails_the_run_with_its_error_recorded() {
    let fixture = Fixture::new();
    let before = keep(&fixture).await;
    deploy(
        &fixture,
        "  STEP 1: BOT \"echo\" \"ping\" WITH {\"x\": 2}\n  STEP 2: BOT \"broken\" \"work\" RETRY 1\n",
    );
    package(
        &fixture.bots(),
        "broken",
        &[("work.bas", "x = 1 / 0\nRETURN {\"ok\": 1}\n")],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    rt.start(&workflow, json!({}), Some("fails".into()))
        .await
        .expect("starts");
    assert_eq!(
        rt.run_to_end("fails").await.expect("driven"),
        RunStatus::Failed
    );
    let view = rt.view("fails").await.expect("reads");
    let error = view.error.clone().expect("the error is recorded");
    assert_eq!(error["step"], json!("2"));
    assert_eq!(error["kind"], json!("bot"));
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("bot \"broken\" failed") && message.contains("division by zero"),
        "{message}"
    );
    let steps: Vec<(&str, &str, i32)> = view
        .steps
        .iter()
        .map(|s| (s.path.as_str(), s.status.as_str(), s.attempts))
        .collect();
    assert_eq!(steps, vec![("1", "done", 1), ("2", "failed", 2)]);
    assert_eq!(view.variables["e"], json!(7), "step 1's answer is kept");
    assert_eq!(kept(&snapshot(&rt).await), kept(&before));
}

#[tokio::test]
async fn an_oversized_answer_fails_the_run_at_its_last_good_point() {
    let fixture = Fixture::new();
    let before = keep(&fixture).await;
    deploy(
        &fixture,
        "  STEP 1: BOT \"echo\" \"ping\" WITH {\"x\": 5}\n  STEP 2: BOT \"grower\" \"grow\"\n  TALK \"never\"\n",
    );
    package(
        &fixture.bots(),
        "grower",
        &[(
            "grow.bas",
            "s = \"x\"\nFOR i = 1 TO 22\n  s = s & s\nNEXT i\nRETURN {\"huge\": s}\n",
        )],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    rt.start(&workflow, json!({}), Some("huge".into()))
        .await
        .expect("starts");
    // The driver reports the rejected point as an error or as the failed
    // status; either way what counts is what was recorded.
    let _ = rt.run_to_end("huge").await;
    let view = rt.view("huge").await.expect("reads");
    assert_eq!(view.status, RunStatus::Failed);
    let error = view.error.clone().expect("the error is recorded");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("above the limit of {MAX_VALUE_BYTES} bytes"))
            && message.contains("step 2: the answer of bot \"grower\" to \"grow\"")
            && message.contains("(4.0 MiB)"),
        "{message}"
    );
    // The oversized answer is a failed attempt of its step, named in the error.
    assert_eq!(error["step"], json!("2"));
    let steps: Vec<(&str, &str)> = view
        .steps
        .iter()
        .map(|s| (s.path.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(steps, vec![("1", "done"), ("2", "failed")]);
    assert_eq!(view.variables["e"], json!(16), "step 1's answer is kept");
    assert!(!view.variables.contains_key("huge"));
    assert!(view.transcript.is_empty());
    let shown = serde_json::to_string(&view).expect("JSON");
    assert!(shown.len() < 100_000, "{} bytes recorded", shown.len());
    assert_eq!(kept(&snapshot(&rt).await), kept(&before));
}

#[tokio::test]
async fn a_corrupt_database_is_refused_and_left_unchanged() {
    let fixture = Fixture::new();
    let path = fixture.dir.path().join("corrupt.db");
    let mut seed: u32 = 0x9e37_79b9;
    let bytes: Vec<u8> = (0..16_384)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect();
    std::fs::write(&path, &bytes).expect("write garbage");
    let opened = store::AnyStore::open(&path.display().to_string()).await;
    let Err(error) = opened else {
        panic!("a corrupt file opened as a database");
    };
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string())
            && message.contains("is not a botflow SQLite database (or it is corrupt)"),
        "{message}"
    );
    assert!(
        std::fs::read(&path).expect("reads") == bytes,
        "file changed"
    );
}

#[tokio::test]
async fn answers_that_fit_alone_but_not_together_fail_the_step_that_overflowed() {
    let fixture = Fixture::new();
    let before = keep(&fixture).await;
    deploy(
        &fixture,
        "  STEP 1: BOT \"grower\" \"grow\" WITH {\"name\": \"a\"}\n  STEP 2: BOT \"grower\" \"grow\" WITH {\"name\": \"b\"}\n  STEP 3: BOT \"echo\" \"ping\"\n",
    );
    // 1 MiB each: one fits in the run's state, two do not.
    package(
        &fixture.bots(),
        "grower",
        &[(
            "grow.bas",
            "s = \"x\"\nFOR i = 1 TO 20\n  s = s & s\nNEXT i\nIF name = \"a\" THEN\n  RETURN {\"a\": s}\nEND IF\nRETURN {\"b\": s}\n",
        )],
        "",
    );
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    rt.start(&workflow, json!({}), Some("two".into()))
        .await
        .expect("starts");
    // The failure is recorded and reported as the run's status, not an error.
    assert_eq!(
        rt.run_to_end("two").await.expect("driven"),
        RunStatus::Failed
    );
    let view = rt.view("two").await.expect("reads");
    let error = view.error.clone().expect("the error is recorded");
    assert_eq!(error["step"], json!("2"), "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("step 2: with the answer of bot \"grower\"")
            && message.contains("the run's state would be")
            && message.contains(&format!("above the limit of {MAX_VALUE_BYTES} bytes")),
        "{message}"
    );
    let steps: Vec<(&str, &str)> = view
        .steps
        .iter()
        .map(|s| (s.path.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(steps, vec![("1", "done"), ("2", "failed")]);
    assert!(view.variables.contains_key("a"));
    assert!(!view.variables.contains_key("b"));
    // `runs retry` continues from the last good state: step 2 is asked
    // again and overflows again, recorded the same way.
    assert_eq!(rt.retry("two").await.expect("retried"), RunStatus::Failed);
    let again = rt.view("two").await.expect("reads");
    assert_eq!(again.error, view.error);
    assert_eq!(again.steps[1].attempts, 2);
    assert_eq!(kept(&snapshot(&rt).await), kept(&before));
}

#[tokio::test]
async fn an_unusable_run_id_is_refused_before_anything_is_written() {
    let fixture = Fixture::new();
    let before = keep(&fixture).await;
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(None).expect("one workflow");
    let long = "x".repeat(runtime::MAX_RUN_ID_CHARS + 1);
    for (id, why) in [
        ("", "it is empty"),
        ("a b", "contains ' '"),
        ("run/1", "contains '/'"),
        (long.as_str(), "characters long"),
    ] {
        let refused = rt.start(&workflow, json!({}), Some(id.to_owned())).await;
        let Err(error @ Error::InvalidRunId { .. }) = refused else {
            panic!("{id:?}: expected InvalidRunId, got {refused:?}");
        };
        assert!(error.to_string().contains(why), "{error}");
        assert!(runtime::check_run_id(id).is_err());
    }
    assert_eq!(snapshot(&rt).await, before);
    // The characters allowed are allowed.
    rt.start(&workflow, json!({}), Some("Order-7_b.2:x".into()))
        .await
        .expect("a usable id starts");
}
