//! The formatter: writes a [`Program`] back in the canonical style.

use crate::ast::Program;

/// Formats a program. The caller must only format programs without parse errors.
pub fn format(program: &Program) -> String {
    let _ = program;
    String::new()
}
