//! `botflow fmt PATH... [--check]`: rewrite scripts in the canonical style.
//!
//! Only scripts that parse without errors are formatted; the others are
//! reported with their diagnostics and left untouched. A file is replaced
//! atomically (a temporary file in the same folder, then a rename), so an
//! interrupted run never leaves half a script.
//!
//! Before writing, the formatted text is parsed again and must give the same
//! tree as the original, spans aside. The formatter is meant to guarantee this;
//! checking it here means a formatter bug can never change what a user's
//! script does: the file is left alone and the error says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use basic::Program;

use crate::inputs;
use crate::report::{Color, Format, Reporter, plural};
use crate::source::{self, Source};

/// Format BASIC scripts in place.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `.bas` files, `.gbai` packages, or folders of packages.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Write nothing; list the files that would change and fail if there are any.
    #[arg(long)]
    pub check: bool,

    /// When to color the diagnostics of files that do not parse.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// What formatting one file came to.
enum Outcome {
    Unchanged,
    /// The canonical text, different from the file's.
    Changed(String),
    /// Reported already; the file is left as it is.
    Failed,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let inputs = inputs::collect(&args.paths)?;
    let mut reporter = Reporter::new(Format::Human, args.color);
    for problem in &inputs.problems {
        reporter.located_error(&problem.path.display().to_string(), &problem.message);
    }
    let mut changed = 0;
    let mut failures = 0;
    for input in &inputs.scripts {
        let file = input.path.display().to_string();
        match format_file(&input.path, &file, &mut reporter) {
            Outcome::Unchanged => {}
            Outcome::Failed => failures += 1,
            Outcome::Changed(_) if args.check => {
                changed += 1;
                outln!("{file}")?;
            }
            Outcome::Changed(text) => match write_atomically(&input.path, &text) {
                Ok(()) => changed += 1,
                Err(error) => {
                    failures += 1;
                    reporter.file_error(&file, &format!("{error:#}"));
                }
            },
        }
    }
    let unchanged = inputs.scripts.len() - changed - failures;
    let mut summary = match (args.check, changed) {
        (true, 0) => format!("{} already formatted", plural(unchanged, "file")),
        (true, n) => format!("{} would be reformatted", plural(n, "file")),
        (false, 0) if failures > 0 => "formatted 0 files".to_string(),
        (false, 0) => format!(
            "nothing to do: {} already formatted",
            plural(unchanged, "file")
        ),
        (false, n) => format!("formatted {}", plural(n, "file")),
    };
    if failures > 0 {
        summary.push_str(&format!(
            "; {} could not be formatted",
            plural(failures, "file")
        ));
    }
    reporter.note(&summary);
    Ok(
        if failures > 0 || !inputs.problems.is_empty() || (args.check && changed > 0) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn format_file(path: &Path, file: &str, reporter: &mut Reporter) -> Outcome {
    let text = match source::read(path) {
        Err(message) => {
            reporter.file_error(file, &message);
            return Outcome::Failed;
        }
        Ok(Source::NotUtf8 { text, diagnostic }) => {
            reporter.diagnostics(file, &text, &[diagnostic]);
            return Outcome::Failed;
        }
        Ok(Source::Text(text)) => text,
    };
    let parsed = basic::parse(&text);
    if basic::has_errors(&parsed.diagnostics) {
        let errors: Vec<_> = parsed
            .diagnostics
            .into_iter()
            .filter(basic::Diagnostic::is_error)
            .collect();
        reporter.diagnostics(file, &text, &errors);
        reporter.note(&format!("{file}: not formatted because it has errors"));
        return Outcome::Failed;
    }
    let formatted = basic::format(&parsed.program);
    if formatted == text {
        return Outcome::Unchanged;
    }
    if formatted.trim().is_empty() != text.trim().is_empty()
        || !same_meaning(&parsed.program, &formatted)
    {
        reporter.file_error(
            file,
            "the formatter would change what this script means; the file is left as it is (please report this bug)",
        );
        return Outcome::Failed;
    }
    Outcome::Changed(formatted)
}

/// Whether `formatted` parses to the same tree as `original`, ignoring spans.
fn same_meaning(original: &Program, formatted: &str) -> bool {
    let reparsed = basic::parse(formatted);
    if basic::has_errors(&reparsed.diagnostics) {
        return false;
    }
    match (
        serde_json::to_value(original),
        serde_json::to_value(&reparsed.program),
    ) {
        (Ok(mut a), Ok(mut b)) => {
            strip_spans(&mut a);
            strip_spans(&mut b);
            a == b
        }
        _ => false,
    }
}

/// Removes every `span` and `*_span` field, recursively.
fn strip_spans(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|key, _| key != "span" && !key.ends_with("_span"));
            map.values_mut().for_each(strip_spans);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

/// Replaces `path` with `text` through a temporary file in the same folder,
/// keeping the file's permissions.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(path)
        .with_context(|| "cannot read the file's permissions")?
        .permissions();
    let mut temp = tempfile::Builder::new()
        .prefix(".botflow-fmt-")
        .tempfile_in(folder)
        .with_context(|| format!("cannot create a temporary file in {}", folder.display()))?;
    temp.write_all(text.as_bytes())
        .context("cannot write the temporary file")?;
    temp.as_file()
        .sync_all()
        .context("cannot write the temporary file")?;
    temp.as_file()
        .set_permissions(permissions)
        .context("cannot copy the file's permissions")?;
    temp.persist(path)
        .map_err(|error| error.error)
        .context("cannot replace the file")?;
    Ok(())
}
