//! Helpers shared by the test files of `basic`: the corpus on disk, the
//! deployment corpus files are checked against, diagnostics as people read
//! them, and trees compared without their spans.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use basic::{CheckContext, Diagnostic, LineIndex, Program};
use serde_json::Value;

/// The bots of the deployment every corpus file is checked against.
pub const BOTS: &[&str] = &[
    "classifier",
    "order-checker",
    "refund-processor",
    "inventory-updater",
    "support-bot-2",
];

/// A check context that knows [`BOTS`].
pub fn deployment() -> CheckContext {
    CheckContext {
        known_bots: Some(BOTS.iter().map(|b| (*b).to_owned()).collect()),
        ..CheckContext::default()
    }
}

/// Every `.bas` file under `tests/data`, sorted.
pub fn corpus_files() -> Vec<PathBuf> {
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("tests/data is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|e| e == "bas") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    collect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"),
        &mut files,
    );
    files.sort();
    files
}

/// Diagnostics as people read them: `code line:col message`, then the hint
/// and the related places; `none` when there are none.
pub fn render(source: &str, diagnostics: &[Diagnostic], none: &str) -> String {
    let index = LineIndex::new(source);
    let at = |offset: u32| {
        let lc = index.line_col(source, offset);
        format!("{}:{}", lc.line, lc.column)
    };
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&format!("{} {} {}\n", d.code, at(d.span.start), d.message));
        if let Some(hint) = &d.hint {
            out.push_str(&format!("  hint: {hint}\n"));
        }
        for label in &d.labels {
            out.push_str(&format!("  {} {}\n", at(label.span.start), label.message));
        }
    }
    if out.is_empty() {
        out.push_str(none);
        out.push('\n');
    }
    out
}

/// The tree as JSON, without the keys that hold source positions.
pub fn without_spans(program: &Program) -> Value {
    let mut value = serde_json::to_value(program).expect("the tree serializes");
    strip_spans(&mut value);
    value
}

/// Removes the keys that hold source positions from a serialised tree.
pub fn strip_spans(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !matches!(key.as_str(), "span" | "number_span" | "keyword_span"));
            map.values_mut().for_each(strip_spans);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}
