//! Diagnostics are data: the parser and the checker return them next to the
//! tree and never fail. Renderers (CLI, API, designer) turn them into text.
//!
//! Every diagnostic has a stable [`Code`]. The codes are documented in
//! `docs/diagnostics.md`; a test keeps that page and this enum in step.

use serde::Serialize;

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $severity:ident; )*) => {
        /// A stable diagnostic code. Errors are `E0xx`, warnings `W0xx`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as users see it, for example `E004`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// Whether this code is an error or a warning.
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }

            /// The first line of the code's documentation.
            pub fn summary(self) -> &'static str {
                match self { $( Code::$variant => first_doc_line(&[$($doc),*]), )* }
            }
        }
    };
}

const fn first_doc_line(lines: &[&'static str]) -> &'static str {
    match lines.first() {
        Some(line) => line,
        None => "",
    }
}

codes! {
    /// A character that cannot start any token (for example a NUL byte or `$`).
    InvalidCharacter = "E001", Error;
    /// A string literal that is not closed before the end of its line.
    UnterminatedString = "E002", Error;
    /// A token that does not fit where it stands.
    UnexpectedToken = "E003", Error;
    /// A block that is never closed (`IF` without `END IF`, ...).
    UnclosedBlock = "E004", Error;
    /// A block closed by the wrong word (`FOR` closed by `END IF`).
    MismatchedBlockEnd = "E005", Error;
    /// A block end with no block open (`END IF`, `NEXT`, `WEND` on their own).
    UnmatchedBlockEnd = "E006", Error;
    /// `STEP` outside an `ORCHESTRATE WORKFLOW` block.
    StepOutsideWorkflow = "E007", Error;
    /// `BRANCH` outside a `PARALLEL` block.
    BranchOutsideParallel = "E008", Error;
    /// `GOTO` (or `ON ERROR GOTO`) names a label that does not exist in the script.
    MissingLabel = "E009", Error;
    /// A bot that no package in the deployment provides.
    UnknownBot = "E010", Error;
    /// A `TIMEOUT` that is not a non-negative number of seconds.
    MalformedTimeout = "E011", Error;
    /// A statement inside a workflow that botflow cannot run.
    UnknownStatementInWorkflow = "E012", Error;
    /// Blocks or expressions nested deeper than the parser allows.
    NestingTooDeep = "E013", Error;
    /// The same label defined twice in one script.
    DuplicateLabel = "E014", Error;
    /// A workflow block inside another workflow block, or a second workflow in one file.
    NestedWorkflow = "E015", Error;
    /// `EXIT`/`CONTINUE` outside a loop of that kind.
    LoopControlOutsideLoop = "E016", Error;
    /// An event name with characters other than letters, digits, `_`, `-` and `.`, or longer than 128.
    InvalidEventName = "E017", Error;
    /// A `SET SCHEDULE` that is neither a cron expression nor a known phrase.
    InvalidSchedule = "E018", Error;
    /// A `SUB` or `FUNCTION` defined twice, or inside another block.
    DuplicateProcedure = "E019", Error;
    /// `CALL name(...)` of a procedure that the script does not define.
    UnknownProcedure = "E020", Error;
    /// A built-in function called with the wrong number of arguments.
    WrongArgumentCount = "E021", Error;
    /// A `STEP` whose body cannot be a durable step.
    InvalidStepBody = "E022", Error;
    /// A `PARALLEL` block with no branches, or a `WAIT n` join that asks for more branches than exist.
    InvalidParallel = "E023", Error;
    /// The source is not valid UTF-8.
    InvalidUtf8 = "E024", Error;
    /// A variable read that nothing in the script assigns.
    UnassignedVariable = "W001", Warning;
    /// A keyword that botflow accepts but cannot carry out here.
    UnsupportedKeyword = "W002", Warning;
    /// `WAIT FOR EVENT` without a `TIMEOUT`: the run may wait for ever.
    WaitWithoutTimeout = "W003", Warning;
    /// Two steps with the same number in one block.
    DuplicateStepNumber = "W004", Warning;
    /// A call to a function that is neither built in nor defined in the script.
    UnknownFunction = "W005", Warning;
    /// Statements after `RETURN`, `GOTO` or `EXIT` that can never run.
    UnreachableCode = "W006", Warning;
    /// `HUMAN APPROVAL` without a `TIMEOUT`: the run may wait for ever.
    ApprovalWithoutTimeout = "W007", Warning;
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A secondary location that explains a diagnostic ("the block opened here").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in a source text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// Where the problem is.
    pub span: Span,
    /// One sentence, no trailing period.
    pub message: String,
    /// How to fix it, when there is a likely fix.
    pub hint: Option<String>,
    /// Related places, such as the line that opened an unclosed block.
    pub labels: Vec<Label>,
}

impl Diagnostic {
    /// A diagnostic with the code's own severity.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            span,
            message: message.into(),
            hint: None,
            labels: Vec::new(),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Whether any of `diagnostics` is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}
