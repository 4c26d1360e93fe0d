//! Showing diagnostics: rustc-style text on stderr (with `codespan-reporting`)
//! or one JSON array on stdout, and the counts behind the summary line and
//! the exit code.

use std::io::{IsTerminal, Write};

use basic::{Diagnostic, LineIndex, Severity};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

/// `--color`: when to color text output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// Color when stderr is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// `--format`: how diagnostics are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style text on stderr, then a summary line.
    #[default]
    Human,
    /// One JSON array of diagnostics on stdout.
    Json,
}

/// One diagnostic as `--format json` writes it. Lines and columns are 1-based;
/// columns count characters.
#[derive(Debug, Serialize)]
struct JsonDiagnostic {
    file: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    /// `null` for problems with a whole file (too large, unreadable).
    code: Option<&'static str>,
    severity: Severity,
    message: String,
    hint: Option<String>,
}

/// Collects and writes the diagnostics of one command.
pub struct Reporter {
    format: Format,
    stderr: termcolor::StandardStream,
    config: term::Config,
    json: Vec<JsonDiagnostic>,
    pub errors: usize,
    pub warnings: usize,
}

impl Reporter {
    pub fn new(format: Format, color: Color) -> Reporter {
        let colored = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        let choice = if colored {
            termcolor::ColorChoice::Always
        } else {
            termcolor::ColorChoice::Never
        };
        Reporter {
            format,
            stderr: termcolor::StandardStream::stderr(choice),
            config: term::Config::default(),
            json: Vec::new(),
            errors: 0,
            warnings: 0,
        }
    }

    /// Reports the diagnostics of one file, whose text is `source`, in source order.
    pub fn diagnostics(&mut self, file: &str, source: &str, diagnostics: &[Diagnostic]) {
        let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
        sorted.sort_by_key(|d| (d.span.start, d.span.end));
        let index = LineIndex::new(source);
        for diagnostic in sorted {
            match diagnostic.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
            match self.format {
                Format::Human => self.emit(file, source, &index, diagnostic),
                Format::Json => {
                    let start = index.line_col(source, diagnostic.span.start);
                    let end = index.line_col(source, diagnostic.span.end);
                    self.json.push(JsonDiagnostic {
                        file: file.to_string(),
                        line: start.line,
                        column: start.column,
                        end_line: end.line,
                        end_column: end.column,
                        code: Some(diagnostic.code.as_str()),
                        severity: diagnostic.severity,
                        message: diagnostic.message.clone(),
                        hint: diagnostic.hint.clone(),
                    });
                }
            }
        }
    }

    /// Reports an error about a whole file (it could not be read, ...).
    pub fn file_error(&mut self, file: &str, message: &str) {
        self.whole_file_error(file, message, format!("{file}: {message}"));
    }

    /// Reports an error whose message already names the file or folder it is about.
    pub fn located_error(&mut self, file: &str, message: &str) {
        self.whole_file_error(file, message, message.to_string());
    }

    fn whole_file_error(&mut self, file: &str, message: &str, headline: String) {
        self.errors += 1;
        match self.format {
            Format::Human => {
                let diagnostic = cs::Diagnostic::<()>::error().with_message(headline);
                let files = SimpleFile::new(file, "");
                // Writing to stderr can only fail when stderr is gone; there is nobody left to tell.
                let _ = term::emit_to_write_style(
                    &mut self.stderr.lock(),
                    &self.config,
                    &files,
                    &diagnostic,
                );
            }
            Format::Json => self.json.push(JsonDiagnostic {
                file: file.to_string(),
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
                code: None,
                severity: Severity::Error,
                message: message.to_string(),
                hint: None,
            }),
        }
    }

    /// Writes a plain line to stderr (human format only).
    pub fn note(&mut self, line: &str) {
        if self.format == Format::Human {
            let _ = writeln!(self.stderr.lock(), "{line}");
        }
    }

    /// The `checked N files: E errors, W warnings` line.
    pub fn summary(&self, files: usize) -> String {
        format!(
            "checked {}: {}, {}",
            plural(files, "file"),
            plural(self.errors, "error"),
            plural(self.warnings, "warning")
        )
    }

    /// Writes what was collected for `--format json` (nothing for text, which is written as it comes).
    pub fn finish(self) -> std::io::Result<()> {
        if self.format == Format::Json {
            outln!("{}", serde_json::to_string_pretty(&self.json)?)?;
        }
        Ok(())
    }

    fn emit(&mut self, file: &str, source: &str, index: &LineIndex, diagnostic: &Diagnostic) {
        let severity = match diagnostic.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
        };
        let mut labels = vec![cs::Label::primary(
            (),
            clamp(diagnostic.span.range(), source),
        )];
        labels.extend(diagnostic.labels.iter().map(|label| {
            cs::Label::secondary((), clamp(label.span.range(), source)).with_message(&label.message)
        }));
        let mut rendered = cs::Diagnostic::new(severity)
            .with_code(diagnostic.code.as_str())
            .with_message(&diagnostic.message)
            .with_labels(labels);
        if let Some(hint) = &diagnostic.hint {
            rendered = rendered.with_notes(vec![format!("help: {hint}")]);
        }
        let files = SimpleFile::new(file, source);
        let mut stderr = self.stderr.lock();
        if term::emit_to_write_style(&mut stderr, &self.config, &files, &rendered).is_err() {
            // The span does not fit the text (a bug elsewhere): still say what is wrong and where.
            let at = index.line_col(source, diagnostic.span.start);
            let _ = writeln!(
                stderr,
                "{}[{}]: {}\n  --> {file}:{}:{}",
                if severity == cs::Severity::Error {
                    "error"
                } else {
                    "warning"
                },
                diagnostic.code,
                diagnostic.message,
                at.line,
                at.column
            );
        }
    }
}

/// Keeps a range inside the text and on character boundaries, so rendering never fails on it.
fn clamp(range: std::ops::Range<usize>, source: &str) -> std::ops::Range<usize> {
    let fit = |mut at: usize| {
        at = at.min(source.len());
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let start = fit(range.start);
    start..fit(range.end).max(start)
}

/// `1 file`, `2 files`, `0 errors`.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
