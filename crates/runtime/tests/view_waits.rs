//! `RunView::waits`: what a waiting run waits for, data-driven. Each case is
//! a workflow body, started by `clerk@x`, driven until it waits; its waits
//! (deadlines checked against the timeout, then scrubbed) must equal the
//! expected JSON. Runs that do not wait list no waits.

mod common;

use common::{Fixture, package};
use serde_json::{Value, json};

const STARTER: &str = "clerk@x";

struct Case {
    name: &'static str,
    body: &'static str,
    input: Value,
    /// The waits, with each deadline replaced by the timeout in seconds it
    /// must be about (`null` for no deadline).
    expected: Value,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "approval: the starter gets no command",
            body: "  HUMAN APPROVAL FROM \"m@x\", \"clerk@x\"\n    TIMEOUT 600\n    MESSAGE \"refund?\"\n",
            input: json!({}),
            expected: json!([{
                "kind": "approval",
                "approvers": ["m@x", "clerk@x"],
                "require": 1,
                "message": "refund?",
                "commands": ["botflow approve <id> --as m@x"],
                "deadline": 600,
            }]),
        },
        Case {
            name: "event with a key and a timeout",
            body: "  WAIT FOR EVENT \"paid\" FOR order TIMEOUT 120\n",
            input: json!({"order": "o-7"}),
            expected: json!([{"kind": "event", "name": "paid", "key": "o-7", "deadline": 120}]),
        },
        Case {
            name: "event without a timeout",
            body: "  WAIT FOR EVENT \"stock_low\"\n",
            input: json!({}),
            expected: json!([{"kind": "event", "name": "stock_low", "key": null, "deadline": null}]),
        },
        Case {
            name: "HEAR with a type",
            body: "  HEAR n AS INTEGER\n",
            input: json!({}),
            expected: json!([{"kind": "message", "as_type": "INTEGER", "deadline": null}]),
        },
        Case {
            name: "DELAY beyond anything driven",
            body: "  DELAY 3600\n",
            input: json!({}),
            expected: json!([{"kind": "timer", "deadline": 3600}]),
        },
        Case {
            name: "an ON EVENT handler beside the wait",
            body: "  ON EVENT \"note\" DO\n    TALK \"noted\"\n  END ON\n  WAIT FOR EVENT \"done\"\n",
            input: json!({}),
            expected: json!([
                {"kind": "event", "name": "done", "key": null, "deadline": null},
                {"kind": "handler", "name": "note", "deadline": null},
            ]),
        },
        Case {
            name: "a run that completes waits for nothing",
            body: "  TALK \"done\"\n",
            input: json!({}),
            expected: json!([]),
        },
    ]
}

/// The waits as the case states them: request ids replaced by `<id>`, paths
/// dropped, and each deadline checked (about `timeout` s after the run was
/// created, RFC 3339 beside epoch ms) then replaced by that timeout.
fn normalised(waits: &Value, created_at: i64, case: &str) -> Value {
    let items = waits.as_array().expect("waits is an array");
    Value::Array(
        items
            .iter()
            .map(|wait| {
                let mut wait = wait.as_object().expect("a wait is an object").clone();
                assert!(wait.remove("path").is_some_and(|p| p.is_string()), "{case}");
                let deadline_ms = wait.remove("deadline_ms").expect("deadline_ms is there");
                let text = wait.remove("deadline").expect("deadline is there");
                let timeout = match deadline_ms.as_i64() {
                    None => {
                        assert!(text.is_null(), "{case}: text without ms: {text}");
                        Value::Null
                    }
                    Some(ms) => {
                        let text = text.as_str().expect("RFC 3339 text");
                        assert!(text.ends_with('Z') && text.contains('T'), "{case}: {text}");
                        // Whole seconds from the creation: the driver set it
                        // within the same drive, well under a second later.
                        json!((ms - created_at) / 1000)
                    }
                };
                wait.insert("deadline".to_owned(), timeout);
                if let Some(id) = wait.get("id").and_then(Value::as_str).map(str::to_owned) {
                    wait.insert("id".to_owned(), json!("<id>"));
                    if let Some(commands) = wait.get_mut("commands").and_then(Value::as_array_mut) {
                        for command in commands {
                            let replaced =
                                command.as_str().unwrap_or_default().replace(&id, "<id>");
                            *command = json!(replaced);
                        }
                    }
                }
                wait.remove("id");
                Value::Object(wait)
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_run_says_what_it_waits_for() {
    for case in cases() {
        let fixture = Fixture::new();
        let source = format!("ORCHESTRATE WORKFLOW \"w\"\n{}END WORKFLOW\n", case.body);
        package(&fixture.bots(), "flow", &[("main.bas", &source)], "");
        let rt = fixture.runtime().await;
        let workflow = rt.workflow(Some("w")).expect("the workflow exists");
        let (run, _) = rt
            .start_by(
                &workflow,
                case.input.clone(),
                Some("r1".to_owned()),
                Some(STARTER.to_owned()),
            )
            .await
            .expect("starts");
        rt.drive(&run.id).await.expect("drives");
        let view = rt.view(&run.id).await.expect("reads the run back");
        let waits = serde_json::to_value(&view.waits).expect("waits serialise");
        let got = normalised(&waits, view.created_at, case.name);
        assert_eq!(got, case.expected, "{}: {waits:#}", case.name);
        // Every wait has a one-line description naming what it waits for.
        for wait in &view.waits {
            let line = wait.describe();
            assert!(!line.contains('\n'), "{}: {line}", case.name);
            assert!(
                line.contains(match &wait.what {
                    runtime::WaitFor::Approval { .. } => "approval",
                    runtime::WaitFor::Event { .. } => "event",
                    runtime::WaitFor::Message { .. } => "message",
                    runtime::WaitFor::Timer => "timer",
                    runtime::WaitFor::Retry { .. } => "attempt",
                    runtime::WaitFor::Handler { .. } => "ON EVENT",
                }),
                "{}: {line}",
                case.name
            );
        }
        rt.store().close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decided_approval_is_no_longer_waited_for() {
    let fixture = Fixture::new();
    let source = "ORCHESTRATE WORKFLOW \"w\"\n  HUMAN APPROVAL FROM \"m@x\"\n  WAIT FOR EVENT \"next\"\nEND WORKFLOW\n";
    package(&fixture.bots(), "flow", &[("main.bas", source)], "");
    let rt = fixture.runtime().await;
    let workflow = rt.workflow(Some("w")).expect("the workflow exists");
    let (run, _) = rt
        .start_by(&workflow, json!({}), None, Some(STARTER.to_owned()))
        .await
        .expect("starts");
    rt.drive(&run.id).await.expect("drives");
    let view = rt.view(&run.id).await.expect("reads the run back");
    let [wait] = view.waits.as_slice() else {
        panic!("one wait: {:?}", view.waits);
    };
    let runtime::WaitFor::Approval { id, .. } = &wait.what else {
        panic!("an approval: {wait:?}");
    };
    rt.decide(id, true, "m@x", None, "test")
        .await
        .expect("m@x decides");
    rt.drive(&run.id).await.expect("drives on");
    let view = rt.view(&run.id).await.expect("reads the run back");
    let kinds: Vec<String> = view.waits.iter().map(|w| w.describe()).collect();
    assert_eq!(kinds, vec!["event \"next\" (no deadline)".to_owned()]);
    rt.store().close().await;
}
