//! `docs/diagnostics.md` documents every diagnostic code, and only real ones:
//! each `Code` has a `## CODE title` section, and every code-shaped word on the
//! page (`E0xx`, `W0xx`) is a code that exists.

use std::collections::BTreeSet;

use basic::Code;

const PAGE: &str = include_str!("../../../docs/diagnostics.md");

/// The codes that head a section (`## E007 step outside workflow`).
fn section_codes() -> Vec<&'static str> {
    PAGE.lines()
        .filter_map(|line| line.strip_prefix("## "))
        .filter_map(|title| title.split_whitespace().next())
        .collect()
}

/// Every word of the page that looks like a code: `E` or `W` and three digits.
fn code_shaped_words() -> BTreeSet<&'static str> {
    PAGE.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| {
            word.len() == 4
                && (word.starts_with('E') || word.starts_with('W'))
                && word[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .collect()
}

#[test]
fn every_code_has_a_section() {
    let sections = section_codes();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !sections.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/diagnostics.md has no section for {missing:?}"
    );
}

#[test]
fn the_page_names_only_codes_that_exist() {
    let real: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let unknown: Vec<&str> = code_shaped_words()
        .into_iter()
        .filter(|w| !real.contains(w))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/diagnostics.md names codes that do not exist: {unknown:?}"
    );
}

#[test]
fn sections_are_unique_and_in_code_order() {
    let sections = section_codes();
    let codes: Vec<&str> = sections
        .iter()
        .copied()
        .filter(|s| code_shaped_words().contains(s))
        .collect();
    let expected: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        codes, expected,
        "sections of docs/diagnostics.md must follow the Code enum, once each"
    );
}
