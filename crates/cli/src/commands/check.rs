//! `botflow check PATH...`: parse and check scripts, packages and deployments,
//! and report every diagnostic.
//!
//! Exit code 0 when there is no error (warnings allowed), 1 when there is one.

use std::path::PathBuf;
use std::process::ExitCode;

use basic::CheckContext;

use crate::inputs;
use crate::report::{Color, Format, Reporter};
use crate::source::{self, Source};

/// Check BASIC scripts for errors and warnings.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `.bas` files, `.gbai` packages, or folders of packages.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// How to write the diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// When to color the text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let inputs = inputs::collect(&args.paths)?;
    let mut reporter = Reporter::new(args.format, args.color);
    for problem in &inputs.problems {
        reporter.located_error(&problem.path.display().to_string(), &problem.message);
    }
    for input in &inputs.scripts {
        let file = input.path.display().to_string();
        match source::read(&input.path) {
            Err(message) => reporter.file_error(&file, &message),
            Ok(Source::NotUtf8 { text, diagnostic }) => {
                reporter.diagnostics(&file, &text, &[diagnostic])
            }
            Ok(Source::Text(text)) => {
                let diagnostics = check_source(&text, input.known_bots.clone());
                reporter.diagnostics(&file, &text, &diagnostics);
            }
        }
    }
    let summary = reporter.summary(inputs.scripts.len());
    reporter.note(&summary);
    let failed = reporter.errors > 0;
    reporter.finish()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The parser's and the checker's diagnostics for one script.
pub fn check_source(
    text: &str,
    known_bots: Option<std::collections::BTreeSet<String>>,
) -> Vec<basic::Diagnostic> {
    let parsed = basic::parse(text);
    #[allow(
        clippy::needless_update,
        reason = "CheckContext gains fields; their defaults apply here"
    )]
    let context = CheckContext {
        known_bots,
        ..CheckContext::default()
    };
    let mut diagnostics = parsed.diagnostics;
    diagnostics.extend(basic::check(&parsed.program, &context));
    diagnostics
}
