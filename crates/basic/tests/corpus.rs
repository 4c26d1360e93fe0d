//! The whole data corpus, parsed: every `tests/data/**/*.bas` gets one snapshot
//! with the diagnostics of `parse` and then of `check` (as people read them:
//! `code line:col message`, the hint and the related places), followed by the
//! tree in a YAML form.
//!
//! The tree is the serde JSON of the [`Program`] made readable: span keys are
//! dropped (the diagnostics carry positions), so are keys whose value is
//! `null` (an absent optional part), and a few nodes get a short form (see
//! [`shorthand`]). Nothing else is left out, so a change in the tree shows up here.

mod common;

use basic::{Program, check, parse};
use common::{deployment, render};
use serde_json::Value;

/// The tree as JSON without spans and nulls, expressions collapsed to their kind.
fn readable_tree(program: &Program) -> Value {
    fn tidy(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|key, value| {
                    !value.is_null()
                        && !matches!(key.as_str(), "span" | "number_span" | "keyword_span")
                });
                map.values_mut().for_each(tidy);
                if let Some(short) = shorthand(map) {
                    *value = short;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(tidy),
            _ => {}
        }
    }
    // Invariant: the tree holds only strings, numbers, options and vectors, so it always serializes.
    let mut value = serde_json::to_value(program).expect("the tree serializes to JSON");
    tidy(&mut value);
    value
}

/// The short form of a node, if it has one: an expression `{"kind": X}` is
/// `X`, an identifier `{"name": "x"}` is `"x"`, and a string literal whose one
/// part is its raw text is that text.
fn shorthand(map: &mut serde_json::Map<String, Value>) -> Option<Value> {
    if map.len() == 1 {
        if let Some(kind) = map.get("kind") {
            return Some(kind.clone());
        }
        if let Some(name @ Value::String(_)) = map.get("name") {
            return Some(name.clone());
        }
    }
    if map.len() == 2
        && let (Some(raw), Some(Value::Array(parts))) = (map.get("raw"), map.get("parts"))
    {
        let plain = match parts.as_slice() {
            [] => raw.as_str() == Some(""),
            [Value::Object(part)] => part.len() == 1 && part.get("Text") == Some(raw),
            _ => false,
        };
        if plain {
            return Some(raw.clone());
        }
    }
    None
}

/// A one-key map holding a scalar (`{Int: 1}`), written on one line in flow style.
fn is_short(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.len() == 1
                && map
                    .values()
                    .all(|v| !matches!(v, Value::Array(_) | Value::Object(_)))
        }
        _ => false,
    }
}

/// Writes `value` as block-style YAML; strings are double-quoted (JSON escapes are YAML escapes).
fn yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                item_body(item, indent + 2, out);
            }
        }
        Value::Object(map) if !map.is_empty() && !is_short(value) => {
            for (key, item) in map {
                out.push_str(&pad);
                out.push_str(key);
                out.push(':');
                nested(item, indent + 2, out);
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

/// The value after `- ` of a list item: a map's first key goes on the dash line.
fn item_body(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() && !is_short(value) => {
            let mut first = true;
            for (key, item) in map {
                if !first {
                    out.push_str(&" ".repeat(indent));
                }
                first = false;
                out.push_str(key);
                out.push(':');
                nested(item, indent + 2, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            yaml(value, indent, out);
        }
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

/// The value after `key:`: a scalar on the same line, a collection below it.
fn nested(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            yaml(value, indent, out);
        }
        Value::Object(map) if !map.is_empty() && !is_short(value) => {
            out.push('\n');
            yaml(value, indent, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::Object(map) if is_short(value) => {
            let (key, item) = map
                .iter()
                .next()
                .map_or(("", &Value::Null), |(k, v)| (k, v));
            format!("{{{key}: {}}}", inline(item))
        }
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
        Value::String(s) if is_variant_name(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The unit variants of the tree's enums (`Blank`, `Error`, `Eq`, ...): they
/// are written bare, every other string quoted, so text from the source is
/// always recognizable as such.
const UNIT_VARIANTS: &[&str] = &[
    "Add",
    "AddSuggestion",
    "AddTool",
    "All",
    "And",
    "Any",
    "Blank",
    "ClearHeaders",
    "ClearSuggestions",
    "ClearTools",
    "Coalesce",
    "Concat",
    "Continue",
    "Delete",
    "Description",
    "Div",
    "Do",
    "Eq",
    "Error",
    "Fail",
    "For",
    "Ge",
    "Get",
    "GotoZero",
    "Gt",
    "Hash",
    "Le",
    "ListBots",
    "Lt",
    "Mod",
    "Mul",
    "Ne",
    "Neg",
    "Not",
    "Null",
    "OnDenyContinue",
    "Or",
    "Patch",
    "Post",
    "Pow",
    "Put",
    "Quote",
    "Rem",
    "ResumeNext",
    "Schedule",
    "SetContext",
    "Slashes",
    "Sub",
    "Tools",
    "Trigger",
    "UseKb",
    "UseTool",
    "While",
];

fn is_variant_name(s: &str) -> bool {
    UNIT_VARIANTS.contains(&s)
}

/// The snapshot text of one source.
fn snapshot(source: &str) -> String {
    let parsed = parse(source);
    let checked = check(&parsed.program, &deployment());
    let mut out = String::new();
    out.push_str("parse:\n");
    out.push_str(&render(source, &parsed.diagnostics, "(none)"));
    out.push_str("check:\n");
    out.push_str(&render(source, &checked, "(none)"));
    out.push_str("tree:\n");
    let tree = readable_tree(&parsed.program);
    yaml(&tree["body"], 2, &mut out);
    out
}

#[test]
fn snapshots() {
    // The nesting file holds a tree `MAX_NESTING` blocks deep; turning it into
    // JSON and YAML recurses several frames per block, more than the 2 MiB of
    // a test thread holds in a debug build. The parser itself needs no such help
    // (`tests/parser_edges.rs` parses deep inputs on an ordinary test thread).
    let worker = std::thread::Builder::new()
        .name("corpus".into())
        .stack_size(64 << 20)
        .spawn(|| {
            insta::glob!("data/**/*.bas", |path| {
                let source = std::fs::read_to_string(path).expect("corpus files are UTF-8");
                insta::assert_snapshot!(snapshot(&source));
            });
        })
        .expect("a thread can be spawned");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}
