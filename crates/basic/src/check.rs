//! The checker: semantic diagnostics over a parsed [`Program`] (LANGUAGE.md §6).

use std::collections::BTreeSet;

use crate::ast::Program;
use crate::diagnostic::Diagnostic;

/// What the checker may know about the deployment around a script.
#[derive(Clone, Debug, Default)]
pub struct CheckContext {
    /// The bots the deployment provides (package names, case-insensitive).
    /// `None` when unknown: then bot names are not checked.
    pub known_bots: Option<BTreeSet<String>>,
}

/// Checks a parsed program and returns its semantic diagnostics, in source order.
pub fn check(program: &Program, context: &CheckContext) -> Vec<Diagnostic> {
    let _ = (program, context);
    Vec::new()
}
