//! The botflow BASIC front end.
//!
//! [`parse`] turns a source text into a [`Program`] and a list of
//! [`Diagnostic`]s; it never fails and never panics. [`check`] adds the
//! semantic errors and warnings of `LANGUAGE.md` §6, and [`format()`] writes a
//! tree back in the canonical style.
//!
//! Architecture invariant: this crate does no I/O. It sees text and returns
//! values; the callers read files and print.

pub mod ast;
pub mod builtins;
mod check;
pub mod diagnostic;
mod format;
mod lexer;
mod parser;
pub mod schedule;
pub mod span;

pub use ast::Program;
pub use check::{CheckContext, check};
pub use diagnostic::{Code, Diagnostic, Severity, has_errors};
pub use format::format;
pub use span::{LineCol, LineIndex, Span};

/// The largest source the parser accepts: spans are 32-bit byte offsets.
pub const MAX_SOURCE_LEN: usize = u32::MAX as usize;

/// How deep blocks and expressions may nest before the parser gives up on the
/// rest of the file with [`Code::NestingTooDeep`] (deeper trees would risk the
/// stack of every recursive pass over them).
pub const MAX_NESTING: usize = 128;

/// A parsed script: the tree and every diagnostic the parser produced.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub program: Program,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one script. Never panics; on bad input the tree holds
/// [`ast::StmtKind::Error`] nodes and `diagnostics` says what was wrong.
pub fn parse(source: &str) -> Parsed {
    parser::parse(source)
}

/// Decodes a file's bytes as UTF-8, or returns the diagnostic for the first
/// invalid byte.
pub fn decode(bytes: &[u8]) -> Result<&str, Diagnostic> {
    if bytes.len() > MAX_SOURCE_LEN {
        let end = MAX_SOURCE_LEN as u32;
        return Err(Diagnostic::new(
            Code::InvalidUtf8,
            Span::new(end, end),
            "source is larger than 4 GiB",
        ));
    }
    std::str::from_utf8(bytes).map_err(|error| {
        let at = error.valid_up_to() as u32;
        let len = error.error_len().unwrap_or(1) as u32;
        Diagnostic::new(
            Code::InvalidUtf8,
            Span::new(at, at + len),
            format!("the file is not valid UTF-8 (invalid byte at offset {at})"),
        )
        .with_hint("save the file as UTF-8")
    })
}
