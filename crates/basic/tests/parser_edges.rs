//! Parser edge cases that a data file cannot hold well: byte-order marks,
//! CRLF line ends, pathological nesting, and spans on odd text.

use std::path::PathBuf;

mod common;

use basic::{Code, Diagnostic, check, decode, parse};
use common::{corpus_files, without_spans};
use serde_json::Value;

fn codes(diagnostics: &[Diagnostic]) -> Vec<&'static str> {
    diagnostics.iter().map(|d| d.code.as_str()).collect()
}

fn corpus() -> Vec<(PathBuf, String)> {
    let files = corpus_files();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
            (path, text)
        })
        .collect()
}

/// Runs `f` on a thread with a large stack. Only the corpus tests need it:
/// the nesting file's tree is `MAX_NESTING` blocks deep, and serializing it to
/// JSON recurses several serde frames per block, more than a 2 MiB debug test
/// thread holds. Parsing itself runs on ordinary threads in the other tests.
fn with_big_stack(f: impl FnOnce() + Send + 'static) {
    let worker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("a thread can be spawned");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let plain = "TALK \"hi\"\nx = 1\n";
    let with_bom = format!("\u{feff}{plain}");
    let a = parse(plain);
    let b = parse(&with_bom);
    assert!(b.diagnostics.is_empty(), "{:#?}", b.diagnostics);
    assert_eq!(without_spans(&a.program), without_spans(&b.program));
    // The spans still point into the text with the mark: `TALK` starts after its 3 bytes.
    let json = serde_json::to_value(&b.program).expect("the tree serializes");
    assert_eq!(json["body"][0]["span"]["start"], 3);
    // A mark anywhere but at the start is an invalid character.
    let later = parse("x = 1\n\u{feff}y = 2\n");
    assert_eq!(codes(&later.diagnostics), ["E001"]);
}

#[test]
fn crlf_line_ends_parse_like_lf() {
    with_big_stack(crlf_corpus);
}

fn crlf_corpus() {
    for (path, text) in corpus() {
        let lf = parse(&text);
        let crlf_text = text.replace('\n', "\r\n");
        let crlf = parse(&crlf_text);
        assert_eq!(
            codes(&lf.diagnostics),
            codes(&crlf.diagnostics),
            "{} gets other diagnostics with CRLF",
            path.display()
        );
        assert_eq!(
            without_spans(&lf.program),
            without_spans(&crlf.program),
            "{} parses to another tree with CRLF",
            path.display()
        );
    }
}

#[test]
fn ten_thousand_nested_ifs_give_one_e013() {
    let mut source = String::new();
    for _ in 0..10_000 {
        source.push_str("IF x THEN\n");
    }
    source.push_str("TALK \"deep\"\n");
    for _ in 0..10_000 {
        source.push_str("END IF\n");
    }
    let parsed = parse(&source);
    assert_eq!(codes(&parsed.diagnostics), ["E013"]);
    // The tree stops at the limit, and the other passes cope with it.
    let _ = check(&parsed.program, &Default::default());
}

#[test]
fn ten_thousand_open_parens_give_one_e013() {
    let source = format!("x = {}", "(".repeat(10_000));
    let parsed = parse(&source);
    assert_eq!(codes(&parsed.diagnostics), ["E013"]);
}

/// Every construct that nests, far past the limit, on an ordinary test
/// thread: the parser's frames are small enough for `MAX_NESTING` levels of
/// any of them in a debug build, and it never recurses past the limit.
#[test]
fn deep_nesting_of_every_kind_stops_at_the_limit() {
    let n = 1_000;
    let cases: Vec<(&str, String)> = vec![
        ("block IF", "IF a THEN\n".repeat(n)),
        ("one-line IF", format!("{}TALK 1\n", "IF a THEN ".repeat(n))),
        ("brace if", "if a {\n".repeat(n)),
        ("one-line brace if", "if a { ".repeat(n)),
        ("ELSEIF", "IF a THEN\nELSEIF b THEN\n".repeat(n)),
        ("FOR", "FOR i = 1 TO 2\n".repeat(n)),
        ("FOR EACH", "FOR EACH v IN vs\n".repeat(n)),
        ("WHILE", "WHILE x\n".repeat(n)),
        ("DO", "DO\n".repeat(n)),
        ("SELECT", "SELECT CASE x\nCASE 1\n".repeat(n)),
        ("SUB", "SUB a()\n".repeat(n)),
        ("WITH", "WITH a\n".repeat(n)),
        ("ON EVENT", "ON EVENT \"a\" DO\n".repeat(n)),
        ("workflow", "ORCHESTRATE WORKFLOW \"a\"\n".repeat(n)),
        ("STEP", format!("{}BOT \"a\" \"b\"\n", "STEP 1: ".repeat(n))),
        ("PARALLEL", "STEP 1: PARALLEL\nBRANCH A:\n".repeat(n)),
        ("parentheses", format!("x = {}", "(".repeat(n))),
        ("lists", format!("x = {}", "[".repeat(n))),
        ("objects", format!("x = {}", "{a: ".repeat(n))),
        ("indexes", format!("x = a{}", "[".repeat(n))),
        ("calls", format!("x = {}", "f(".repeat(n))),
        ("negation", format!("x = {}1", "-".repeat(n))),
        ("NOT", format!("x = {}1", "NOT ".repeat(n))),
        ("power", format!("x = {}1", "2 ^ ".repeat(n))),
        (
            "interpolation",
            format!("x = {}1{}", "\"${".repeat(n), "}\"".repeat(n)),
        ),
    ];
    for (what, source) in cases {
        let parsed = parse(&source);
        assert_eq!(
            codes(&parsed.diagnostics)
                .iter()
                .filter(|c| **c == "E013")
                .count(),
            1,
            "{what}: {:?}",
            codes(&parsed.diagnostics)
        );
    }
}

#[test]
fn a_hundred_thousand_nested_interpolations_lex_without_recursion() {
    let n = 100_000;
    let closed = format!("x = {}1{}\n", "\"${".repeat(n), "}\"".repeat(n));
    assert_eq!(codes(&parse(&closed).diagnostics), ["E013"]);
    let open = format!("x = {}\n", "\"${".repeat(n));
    assert_eq!(codes(&parse(&open).diagnostics), ["E002"]);
}

#[test]
fn a_quote_at_the_end_of_the_file_is_unterminated() {
    for source in ["\"", "TALK \"", "x = 1\nTALK \"abc", "TALK \"a ${x"] {
        let parsed = parse(source);
        assert_eq!(codes(&parsed.diagnostics), ["E002"], "{source:?}");
    }
}

#[test]
fn invalid_utf8_is_e024_from_decode() {
    let error = decode(b"TALK \"caf\xe9\"\n").expect_err("not UTF-8");
    assert_eq!(error.code, Code::InvalidUtf8);
    assert_eq!((error.span.start, error.span.end), (9, 10));
    assert_eq!(decode(b"TALK 1\n"), Ok("TALK 1\n"));
}

/// Inputs chosen to break position arithmetic: multi-byte characters next to
/// errors, errors at the very end, lone `\r`, NULs, a mark in the middle.
const NASTY: &[&str] = &[
    "",
    "\"",
    "\r",
    "\r\r\n\n",
    "\0",
    "é",
    "x = é + ☕",
    "TALK \"日本語",
    "TALK \"${日本}\" 語",
    "IF 日本 THEN\n",
    "x = (\u{feff}",
    "x = 1 ☕☕☕",
    "FOR i = 1 TO\n",
    "SELECT CASE\n  CASE IS ☕\n",
    "STEP 日: BOT",
    "BRANCH ☕:",
    "x = [1,\n",
    "x = {\"é\": }",
    "HUMAN APPROVAL FROM \"a\" TIMEOUT",
    "WAIT FOR EVENT \"e\" TIMEOUT\n  ON TIMEOUT: ☕",
    "END IF ☕",
    "}\u{2028}",
    "x = 1 _",
    "x = 1 _\n",
    "TALK \"a\" _\n_\n_",
    "BEGIN TALK\n☕ ${",
    "BEGIN SYSTEM PROMPT\n",
    "x = \"\\",
    "x = \"${\"${\"${",
    "ON ERROR GOTO ☕",
    "PUBLISH EVENT ☕ WITH",
    "#☕\n'☕\nREM☕\n//☕",
];

#[test]
fn every_span_lies_in_the_source_on_char_boundaries() {
    with_big_stack(spans_of_nasty_inputs_and_the_corpus);
}

fn spans_of_nasty_inputs_and_the_corpus() {
    let mut sources: Vec<String> = NASTY.iter().map(|s| (*s).to_owned()).collect();
    sources.extend(corpus().into_iter().map(|(_, text)| text));
    for source in &sources {
        let parsed = parse(source);
        let checked = check(&parsed.program, &Default::default());
        for d in parsed.diagnostics.iter().chain(&checked) {
            let spans = std::iter::once(d.span).chain(d.labels.iter().map(|l| l.span));
            for span in spans {
                assert!(
                    span.start <= span.end && span.end as usize <= source.len(),
                    "{source:?}: {} span {span:?} out of range",
                    d.code
                );
                assert!(
                    source.is_char_boundary(span.start as usize)
                        && source.is_char_boundary(span.end as usize),
                    "{source:?}: {} span {span:?} splits a character",
                    d.code
                );
            }
        }
        assert_spans_in_tree(
            &serde_json::to_value(&parsed.program).expect("serializes"),
            source,
        );
    }
}

/// Every span in the tree, too, lies in the source on char boundaries.
fn assert_spans_in_tree(value: &Value, source: &str) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if matches!(key.as_str(), "span" | "number_span" | "keyword_span") {
                    let start = item["start"].as_u64().unwrap_or(u64::MAX) as usize;
                    let end = item["end"].as_u64().unwrap_or(u64::MAX) as usize;
                    assert!(
                        start <= end
                            && end <= source.len()
                            && source.is_char_boundary(start)
                            && source.is_char_boundary(end),
                        "{source:?}: tree span {start}..{end} is not a slice of the source"
                    );
                } else {
                    assert_spans_in_tree(item, source);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| assert_spans_in_tree(item, source)),
        _ => {}
    }
}
