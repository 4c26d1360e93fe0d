//! Property tests of the parser's robustness (`LANGUAGE.md` §6: it never
//! panics, on any input, and reports every error it recovers from):
//!
//! - arbitrary bytes and strings parse, and the checker and formatter cope
//!   with whatever tree comes out;
//! - mutated corpus programs (ranges deleted, duplicated, swapped, block
//!   words and brackets inserted) likewise, and a tree holding an `Error`
//!   node always comes with an error diagnostic;
//! - a program that parses without errors formats to text that parses
//!   without errors again.

use std::sync::OnceLock;

mod common;

use basic::{CheckContext, Parsed, check, decode, format, has_errors, parse};
use proptest::prelude::*;
use serde_json::Value;

/// Every corpus program, as characters (mutations stay on character boundaries).
fn corpus() -> &'static [Vec<char>] {
    static CORPUS: OnceLock<Vec<Vec<char>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut files = common::corpus_files();
        // The nesting file is left out: its tree is `MAX_NESTING` deep, and the
        // JSON walk below would need more stack than a test thread has.
        // `tests/parser_edges.rs` covers deep input.
        files.retain(|p| !p.to_string_lossy().contains("nesting_too_deep"));
        files
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .expect("corpus files are UTF-8")
                    .chars()
                    .collect()
            })
            .collect()
    })
}

/// Text that block structure and lexing hinge on.
const SNIPPETS: &[&str] = &[
    "END IF\n",
    "NEXT\n",
    "WEND\n",
    "LOOP\n",
    "END SELECT\n",
    "CASE 1\n",
    "ELSE\n",
    "END WORKFLOW\n",
    "END PARALLEL\n",
    "END BRANCH\n",
    "BRANCH A:",
    "BRANCH B: ",
    "STEP 1: ",
    "PARALLEL\n",
    "ORCHESTRATE WORKFLOW \"w\"\n",
    "IF x THEN\n",
    "IF x THEN ",
    "FOR i = 1 TO 3\n",
    "ON EVENT \"e\" DO\n",
    "END ON\n",
    "BEGIN TALK\n",
    "END TALK\n",
    "HUMAN APPROVAL FROM ",
    "TIMEOUT",
    "ON TIMEOUT: ",
    "WAIT FOR EVENT ",
    "\"",
    "\"${",
    "}",
    "{",
    "(",
    ")",
    "[",
    "]",
    ",",
    "_\n",
    "\n",
    ":",
    ";",
    "'",
    "REM ",
    "#",
    "\0",
    "é",
    "☕",
    "\r",
    "\u{feff}",
    "=",
    " AND ",
    "-",
];

#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, snippet: usize },
    Duplicate { at: usize, len: usize },
    Swap { a: usize, b: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..SNIPPETS.len())
            .prop_map(|(at, snippet)| Mutation::Insert { at, snippet }),
        (any::<usize>(), 1usize..60).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (any::<usize>(), any::<usize>(), 1usize..30).prop_map(|(a, b, len)| Mutation::Swap {
            a,
            b,
            len
        }),
    ]
}

fn apply(text: &mut Vec<char>, mutation: &Mutation) {
    let n = text.len();
    let clamp = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
    match *mutation {
        Mutation::Delete { at, len } => {
            let at = clamp(at);
            let end = (at + len).min(n);
            text.drain(at..end);
        }
        Mutation::Insert { at, snippet } => {
            let at = clamp(at);
            let insert: Vec<char> = SNIPPETS[snippet].chars().collect();
            text.splice(at..at, insert);
        }
        Mutation::Duplicate { at, len } => {
            let at = clamp(at);
            let end = (at + len).min(n);
            let copy: Vec<char> = text[at..end].to_vec();
            text.splice(end..end, copy);
        }
        Mutation::Swap { a, b, len } => {
            if n == 0 {
                return;
            }
            let (a, b) = (a % n, b % n);
            let (first, second) = (a.min(b), a.max(b));
            let len = len.min(second - first).min(n - second);
            for i in 0..len {
                text.swap(first + i, second + i);
            }
        }
    }
}

/// Whether the tree holds a `StmtKind::Error` or `ExprKind::Error` anywhere.
fn has_error_node(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.get("kind").and_then(Value::as_str) == Some("Error")
                || map.values().any(has_error_node)
        }
        Value::Array(items) => items.iter().any(has_error_node),
        _ => false,
    }
}

/// Everything a caller may do with a parse result: check it, and format it
/// when it has no errors. None of it may panic.
fn exercise(source: &str) -> Parsed {
    let parsed = parse(source);
    for context in [CheckContext::default(), deployment()] {
        let _ = check(&parsed.program, &context);
    }
    if !has_errors(&parsed.diagnostics) {
        let formatted = format(&parsed.program);
        let again = parse(&formatted);
        assert!(
            !has_errors(&again.diagnostics),
            "the formatted text of an error-free program has errors: {:#?}\n--- source ---\n{source}\n--- formatted ---\n{formatted}",
            again.diagnostics
        );
    }
    parsed
}

fn deployment() -> CheckContext {
    CheckContext {
        known_bots: Some(["classifier".to_owned(), "order-checker".to_owned()].into()),
        ..CheckContext::default()
    }
}

fn assert_error_nodes_are_reported(source: &str, parsed: &Parsed) {
    let tree = serde_json::to_value(&parsed.program).expect("the tree serializes");
    if has_error_node(&tree) {
        assert!(
            has_errors(&parsed.diagnostics),
            "an Error node without an error diagnostic\n--- source ---\n{source}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        match decode(&bytes) {
            Ok(text) => {
                let parsed = exercise(text);
                assert_error_nodes_are_reported(text, &parsed);
            }
            Err(diagnostic) => {
                prop_assert_eq!(diagnostic.code.as_str(), "E024");
                let text = String::from_utf8_lossy(&bytes);
                let parsed = exercise(&text);
                assert_error_nodes_are_reported(&text, &parsed);
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        let parsed = exercise(&text);
        assert_error_nodes_are_reported(&text, &parsed);
    }

    /// Strings made of the language's own pieces reach deeper than random characters.
    #[test]
    fn strings_of_language_pieces_never_panic(
        pieces in prop::collection::vec(
            prop_oneof![
                (0..SNIPPETS.len()).prop_map(|i| SNIPPETS[i].to_owned()),
                "[a-zA-Z_ ]{1,6}",
                "[0-9.eE+-]{1,4}",
            ],
            0..60,
        )
    ) {
        let text: String = pieces.concat();
        let parsed = exercise(&text);
        assert_error_nodes_are_reported(&text, &parsed);
    }

    #[test]
    fn mutated_corpus_programs_never_panic(
        file in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let programs = corpus();
        let mut text = programs[file.index(programs.len())].clone();
        for m in &mutations {
            apply(&mut text, m);
        }
        let text: String = text.into_iter().collect();
        let parsed = exercise(&text);
        assert_error_nodes_are_reported(&text, &parsed);
    }
}

#[test]
fn every_error_free_corpus_program_formats_to_error_free_text() {
    for program in corpus() {
        let text: String = program.iter().collect();
        let parsed = exercise(&text);
        assert_error_nodes_are_reported(&text, &parsed);
    }
}

#[test]
fn the_error_node_check_sees_error_nodes() {
    let parsed = parse("x = * 3\nTALK\n");
    let tree = serde_json::to_value(&parsed.program).expect("the tree serializes");
    assert!(has_error_node(&tree));
    assert!(!has_error_node(
        &serde_json::to_value(&parse("x = (1)\n").program).expect("the tree serializes")
    ));
}

/// Found by `strings_of_language_pieces_never_panic`: a one-line IF whose
/// statement opens a workflow, which with no `END WORKFLOW` runs to the end
/// of the file. It used to be formatted as a block IF whose `END IF` closed
/// nothing (or was swallowed by a line left open, `a+{`); it stays one line.
#[test]
fn a_workflow_opened_by_a_one_line_if_formats_to_the_same_program() {
    for source in [
        "IF x THEN ORCHESTRATE WORKFLOW \"w\"\nTALK \"inside\"\n",
        "IF x THEN ORCHESTRATE WORKFLOW \"w\"\nFOR i = 1 TO 2\nTALK i\nNEXT\n",
        "IF x THEN ORCHESTRATE WORKFLOW \"w\"\na+{",
        "IF x THEN ORCHESTRATE WORKFLOW \"w\"\nuVRN g3+5EeIF x THEN B _A jE++++' kU \n",
    ] {
        let parsed = exercise(source);
        assert!(!has_errors(&parsed.diagnostics), "{source}");
        let formatted = format(&parsed.program);
        let again = parse(&formatted);
        assert_eq!(formatted, format(&again.program), "{source}");
        assert_eq!(
            common::without_spans(&parsed.program),
            common::without_spans(&again.program),
            "{source}\n--- formatted ---\n{formatted}"
        );
    }
}
