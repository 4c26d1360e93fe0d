//! The run API as the runtime uses it: blocking, answering, budgets,
//! misuse, and compile errors.

mod common;

use engine::{Answer, CompileError, EngineError, Outcome, RequestKind};
use serde_json::{Map, Value, json};

fn start(source: &str) -> (engine::Compiled, engine::RunState) {
    let compiled = common::compile(source);
    let state = engine::start(&compiled, Map::new(), "run-1");
    (compiled, state)
}

#[test]
fn an_endless_loop_uses_up_its_budget_and_never_hangs() {
    let (compiled, mut state) = start("n = 0\nWHILE TRUE\n  n = n + 1\nWEND\n");
    for _ in 0..3 {
        let advance = engine::advance(&compiled, &mut state, 0, 50);
        assert_eq!(advance.outcome, Outcome::BudgetExhausted);
    }
    let n = state.variables()["n"].as_i64().unwrap_or_default();
    assert!(n > 30 && n < 150, "n = {n}");
}

#[test]
fn parallel_branches_block_at_the_same_time_and_answers_come_in_any_order() {
    let source = "STEP 1: PARALLEL\n  BRANCH A: BOT \"a\" \"x\"\n  BRANCH B: BOT \"b\" \"y\"\nEND PARALLEL\n";
    let (compiled, mut state) = start(source);
    let Outcome::Blocked(open) = engine::advance(&compiled, &mut state, 0, 1000).outcome else {
        panic!("both branches wait for their bots");
    };
    assert_eq!(open.len(), 2);
    assert_eq!(
        open.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["1/A", "1/B"]
    );
    assert!(matches!(&open[0].kind, RequestKind::CallBot { bot, .. } if bot == "a"));
    // B answers first; A is still open and listed again.
    engine::resume(
        &compiled,
        &mut state,
        Answer::ok(open[1].id, json!({"who": "b"})),
    )
    .unwrap();
    let Outcome::Blocked(still) = engine::advance(&compiled, &mut state, 0, 1000).outcome else {
        panic!("A still waits");
    };
    assert_eq!(still, vec![open[0].clone()]);
    assert_eq!(state.pending(), still);
    engine::resume(
        &compiled,
        &mut state,
        Answer::ok(open[0].id, json!({"who": "a"})),
    )
    .unwrap();
    let outcome = engine::advance(&compiled, &mut state, 0, 1000).outcome;
    // Merged in label order: B's write comes last and wins.
    assert_eq!(outcome, Outcome::Completed(json!({"who": "b"})));
}

#[test]
fn misuse_of_resume_is_an_error_and_changes_nothing() {
    let (compiled, mut state) = start("x = BOT \"a\" \"b\"\nRETURN x\n");
    let Outcome::Blocked(open) = engine::advance(&compiled, &mut state, 0, 100).outcome else {
        panic!("waits for the bot");
    };
    let before = state.clone();
    let wrong = engine::resume(
        &compiled,
        &mut state,
        Answer::ok(open[0].id + 7, Value::Null),
    );
    assert_eq!(
        wrong,
        Err(EngineError::UnknownRequest {
            request: open[0].id + 7
        })
    );
    assert_eq!(state, before);
    engine::resume(&compiled, &mut state, Answer::ok(open[0].id, json!(42))).unwrap();
    let again = engine::resume(&compiled, &mut state, Answer::ok(open[0].id, json!(43)));
    assert_eq!(
        again,
        Err(EngineError::UnknownRequest {
            request: open[0].id
        })
    );
    assert_eq!(
        engine::advance(&compiled, &mut state, 0, 100).outcome,
        Outcome::Completed(json!(42))
    );
    // A finished run stays finished.
    assert_eq!(
        engine::advance(&compiled, &mut state, 0, 100).outcome,
        Outcome::Completed(json!(42))
    );
    assert!(state.is_finished());
    assert_eq!(
        engine::resume(&compiled, &mut state, Answer::ok(1, Value::Null)),
        Err(EngineError::Finished)
    );
}

#[test]
fn input_keys_are_case_folded_and_results_default_to_the_variables() {
    let compiled = common::compile("Total = Order_Amount * 2\n");
    let mut input = Map::new();
    input.insert("ORDER_AMOUNT".to_owned(), json!(21));
    let mut state = engine::start(&compiled, input, "run-1");
    let outcome = engine::advance(&compiled, &mut state, 0, 100).outcome;
    assert_eq!(
        outcome,
        Outcome::Completed(json!({"order_amount": 21, "total": 42}))
    );
}

#[test]
fn a_failed_run_reports_the_error_and_its_step() {
    let (compiled, mut state) = start("STEP 7: x = 1 / 0\n");
    let Outcome::Failed(error) = engine::advance(&compiled, &mut state, 0, 100).outcome else {
        panic!("division by zero fails the run");
    };
    assert_eq!(
        (error.kind.as_str(), error.step.as_deref()),
        ("runtime", Some("7"))
    );
    assert_eq!(error.message, "division by zero");
}

#[test]
fn now_and_uuid_come_from_the_inputs() {
    let source = "a = NOW()\nb = UUID()\nc = BOT \"x\" \"y\"\nd = NOW()\ne = UUID()\n";
    let run = |seed: &str| {
        let compiled = common::compile(source);
        let mut state = engine::start(&compiled, Map::new(), seed);
        let Outcome::Blocked(open) = engine::advance(&compiled, &mut state, 1_000, 100).outcome
        else {
            panic!("waits for the bot");
        };
        engine::resume(&compiled, &mut state, Answer::ok(open[0].id, Value::Null)).unwrap();
        engine::advance(&compiled, &mut state, 86_400_000, 100);
        state.variables().clone()
    };
    let first = run("run-1");
    assert_eq!(first["a"], json!("1970-01-01T00:00:01Z"));
    assert_eq!(first["d"], json!("1970-01-02T00:00:00Z"));
    assert_eq!(first, run("run-1"));
    assert_ne!(first["b"], first["e"]);
    assert_ne!(first["b"], run("run-2")["b"]);
}

#[test]
fn programs_that_cannot_run_do_not_compile() {
    let compile = |source: &str| engine::compile(&basic::parse(source).program);
    assert!(
        matches!(compile("GOTO nowhere\n"), Err(CompileError::MissingLabel { label, .. }) if label == "nowhere")
    );
    assert!(matches!(
        compile("ON ERROR GOTO nowhere\n"),
        Err(CompileError::MissingLabel { .. })
    ));
    assert!(matches!(
        compile("CALL missing(1)\n"),
        Err(CompileError::UnknownProcedure { .. })
    ));
    assert!(matches!(
        compile("WHILE TRUE\n  EXIT FOR\nWEND\n"),
        Err(CompileError::LoopControlOutsideLoop { .. })
    ));
    let twice = "SUB a()\nEND SUB\nSUB A()\nEND SUB\n";
    assert!(matches!(
        compile(twice),
        Err(CompileError::DuplicateProcedure { .. })
    ));
    let ok = compile("ORCHESTRATE WORKFLOW \"w\"\nPARAM x AS STRING\nEND WORKFLOW\n").unwrap();
    assert_eq!(ok.workflow(), Some("w"));
    assert_eq!(ok.params(), ["x"]);
}

#[test]
fn evaluate_reads_variables_outside_a_run() {
    let parsed = basic::parse("x = a.b + 1\n");
    let Some(basic::ast::StmtKind::Assign { value, .. }) =
        parsed.program.body.first().map(|s| &s.kind)
    else {
        panic!("an assignment");
    };
    let vars: Map<String, Value> = serde_json::from_value(json!({"a": {"b": 41}})).unwrap();
    assert_eq!(engine::evaluate(value, &vars, 0), Ok(json!(42)));
}

#[test]
fn compiled_programs_and_states_can_cross_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<engine::Compiled>();
    shareable::<engine::RunState>();
}

#[test]
fn every_template_script_compiles_and_the_tool_scripts_answer() {
    fn scripts(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                scripts(&path, out);
            } else if path.extension().is_some_and(|e| e == "bas") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let mut found = Vec::new();
    scripts(&root, &mut found);
    assert!(!found.is_empty(), "the templates folder has scripts");
    for path in &found {
        let source = std::fs::read_to_string(path).unwrap();
        common::compile(&source);
    }
    let classifier = found
        .iter()
        .find(|p| p.ends_with("analyze-complaint.bas"))
        .expect("the classifier tool");
    let compiled = common::compile(&std::fs::read_to_string(classifier).unwrap());
    let input = serde_json::from_value(json!({"complaint": "My parcel arrived BROKEN"})).unwrap();
    let mut state = engine::start(&compiled, input, "run-1");
    let outcome = engine::advance(&compiled, &mut state, 0, 1000).outcome;
    assert_eq!(
        outcome,
        Outcome::Completed(json!({"category": "damaged", "confidence": 0.9}))
    );
}

#[test]
fn a_state_stored_before_branch_writes_were_tracked_still_joins() {
    let source = "x = 0\nSTEP 1: PARALLEL\n  BRANCH A:\n    x = 1\n    BOT \"a\" \"go\"\n  END BRANCH\n  BRANCH B:\n    y = 2\n    BOT \"b\" \"go\"\n  END BRANCH\nEND PARALLEL\n";
    let (compiled, mut state) = start(source);
    let Outcome::Blocked(open) = engine::advance(&compiled, &mut state, 0, 1000).outcome else {
        panic!("both branches wait for their bots");
    };
    // The stored JSON of an older engine has no `written` in its fibers.
    let mut stored = serde_json::to_value(&state).unwrap();
    let fibers = stored["fibers"].as_object_mut().unwrap();
    let mut stripped = 0;
    for fiber in fibers.values_mut() {
        stripped += usize::from(fiber.as_object_mut().unwrap().remove("written").is_some());
    }
    assert_eq!(stripped, 2, "both branches record their writes");
    let mut state: engine::RunState = serde_json::from_value(stored).unwrap();
    for request in &open {
        engine::resume(&compiled, &mut state, Answer::ok(request.id, json!({}))).unwrap();
    }
    let outcome = engine::advance(&compiled, &mut state, 0, 1000).outcome;
    assert_eq!(outcome, Outcome::Completed(json!({"x": 1, "y": 2})));
}

// A run's state is written at every durable point: what holds its default
// is left out, and reads back as the default.
#[test]
fn a_stored_state_leaves_out_what_is_empty() {
    let (compiled, mut state) = start("STEP 1: BOT \"a\" \"go\"\n");
    let Outcome::Blocked(_) = engine::advance(&compiled, &mut state, 0, 1000).outcome else {
        panic!("the step waits for its bot");
    };
    let text = serde_json::to_string(&state).unwrap();
    for absent in [
        "\"outbox\"",
        "\"handlers\"",
        "\"headers\"",
        "\"temps\"",
        "\"loops\"",
        "\"locals\"",
        "\"prefix\"",
        "\"label\"",
        "\"finished\"",
    ] {
        assert!(!text.contains(absent), "{absent} is written: {text}");
    }
    assert!(
        text.contains("\"steps\":[{"),
        "the open STEP is kept: {text}"
    );
    let back: engine::RunState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, state);
}
