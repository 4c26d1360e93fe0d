//! The checker on real text: every `tests/data/check/*.bas` is parsed, checked
//! against a fixed deployment, and its diagnostics snapshotted as people read
//! them (`code line:col message`, then the hint and the related places).
//!
//! File names carry the promise: `clean_*.bas` gets no diagnostic at all, and
//! `e010_*.bas` / `w004_*.bas` get at least one of their code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod common;

use basic::{CheckContext, Code, Diagnostic, check, has_errors, parse};
use common::{corpus_files, deployment, render};

/// Parses `source`, which must have no syntax errors, and checks it.
fn check_source(source: &str, context: &CheckContext, what: &str) -> Vec<Diagnostic> {
    let parsed = parse(source);
    assert!(
        !has_errors(&parsed.diagnostics),
        "{what} has syntax errors: {:#?}",
        parsed.diagnostics
    );
    assert!(
        parsed.diagnostics.is_empty(),
        "{what} has parser warnings: {:#?}",
        parsed.diagnostics
    );
    check(&parsed.program, context)
}

#[test]
fn snapshots() {
    insta::glob!("data/check/*.bas", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let diagnostics = check_source(&source, &deployment(), &path.display().to_string());
        insta::assert_snapshot!(render(&source, &diagnostics, "(no diagnostics)"));
    });
}

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/check");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "bas"));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn file_names_say_what_each_file_gets() {
    for (name, source) in corpus() {
        let diagnostics = check_source(&source, &deployment(), &name);
        let prefix = name.split('_').next().unwrap().to_uppercase();
        if prefix == "CLEAN" {
            assert!(
                diagnostics.is_empty(),
                "{name} should be clean:\n{}",
                render(&source, &diagnostics, "(no diagnostics)")
            );
        } else {
            assert!(
                diagnostics.iter().any(|d| d.code.as_str() == prefix),
                "{name} never gets {prefix}:\n{}",
                render(&source, &diagnostics, "(no diagnostics)")
            );
        }
    }
}

/// The codes the checker reports; the parser owns the syntax errors and E024.
const CHECKER_CODES: &[Code] = &[
    Code::StepOutsideWorkflow,
    Code::MissingLabel,
    Code::UnknownBot,
    Code::MalformedTimeout,
    Code::UnknownStatementInWorkflow,
    Code::DuplicateLabel,
    Code::NestedWorkflow,
    Code::LoopControlOutsideLoop,
    Code::InvalidEventName,
    Code::InvalidSchedule,
    Code::DuplicateProcedure,
    Code::UnknownProcedure,
    Code::WrongArgumentCount,
    Code::InvalidStepBody,
    Code::InvalidParallel,
    Code::UnassignedVariable,
    Code::UnsupportedKeyword,
    Code::WaitWithoutTimeout,
    Code::DuplicateStepNumber,
    Code::UnknownFunction,
    Code::UnreachableCode,
    Code::ApprovalWithoutTimeout,
];

#[test]
fn every_checker_code_has_a_corpus_file() {
    let prefixes: BTreeSet<String> = corpus()
        .into_iter()
        .map(|(name, _)| name.split('_').next().unwrap().to_uppercase())
        .collect();
    for code in CHECKER_CODES {
        assert!(
            prefixes.contains(code.as_str()),
            "no tests/data/check/{}_*.bas",
            code.as_str().to_lowercase()
        );
    }
}

const HEADLINE: &str = r#"ORCHESTRATE WORKFLOW "customer-support"
  STEP 1: BOT "classifier" "analyze complaint"
  STEP 2: BOT "order-checker" "validate order"
  IF order_amount > 100 THEN
    STEP 3: HUMAN APPROVAL FROM "manager@company.com"
      TIMEOUT 1800
  END IF
  STEP 4: PARALLEL
    BRANCH A: BOT "refund-processor" "process refund"
    BRANCH B: BOT "inventory-updater" "update stock"
  END PARALLEL
  BOT SHARE MEMORY "resolution_method" WITH "support-bot-2"
  PUBLISH EVENT "workflow_completed"
END WORKFLOW
"#;

#[test]
fn the_headline_program_is_clean_with_or_without_a_deployment() {
    for context in [CheckContext::default(), deployment()] {
        let diagnostics = check_source(HEADLINE, &context, "the headline program");
        assert!(
            diagnostics.is_empty(),
            "{}",
            render(HEADLINE, &diagnostics, "(no diagnostics)")
        );
    }
}

#[test]
fn bots_are_not_checked_when_the_deployment_is_unknown() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/check/e010_unknown_bot.bas"),
    )
    .unwrap();
    let diagnostics = check_source(&source, &CheckContext::default(), "e010");
    assert!(
        diagnostics.iter().all(|d| d.code != Code::UnknownBot),
        "{}",
        render(&source, &diagnostics, "(no diagnostics)")
    );
}

#[test]
fn an_empty_deployment_says_so() {
    let context = CheckContext {
        known_bots: Some(BTreeSet::new()),
        ..CheckContext::default()
    };
    let source = "DELEGATE TO \"anyone\"\n";
    let diagnostics = check_source(source, &context, "delegate");
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, Code::UnknownBot);
    assert!(diagnostics[0].hint.as_deref().unwrap().contains("no bots"));
}

#[test]
fn many_bots_are_listed_in_part() {
    let bots = (1..=8).map(|i| format!("bot-number-{i}")).collect();
    let context = CheckContext {
        known_bots: Some(bots),
        ..CheckContext::default()
    };
    let diagnostics = check_source("DELEGATE TO \"zzz\"\n", &context, "delegate");
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some(
            "the deployment's bots are \"bot-number-1\", \"bot-number-2\", \"bot-number-3\", \"bot-number-4\", \
             \"bot-number-5\" and 3 more"
        )
    );
}

#[test]
fn caller_variables_are_assigned() {
    let source = "TALK greeting & \", \" & Customer\n";
    let context = CheckContext {
        variables: ["greeting".to_owned(), "CUSTOMER".to_owned()].into(),
        ..CheckContext::default()
    };
    assert!(check_source(source, &context, "variables").is_empty());
    assert_eq!(
        check_source(source, &CheckContext::default(), "variables").len(),
        2
    );
}

#[test]
fn diagnostics_come_in_source_order() {
    for (name, source) in corpus() {
        let diagnostics = check_source(&source, &deployment(), &name);
        assert!(
            diagnostics
                .windows(2)
                .all(|w| w[0].span.start <= w[1].span.start),
            "{name} is out of order"
        );
    }
}

#[test]
fn the_checker_never_panics_on_any_corpus_file() {
    for path in corpus_files() {
        let source = std::fs::read_to_string(&path).unwrap();
        let parsed = parse(&source);
        for context in [CheckContext::default(), deployment()] {
            let _ = check(&parsed.program, &context);
        }
    }
}
