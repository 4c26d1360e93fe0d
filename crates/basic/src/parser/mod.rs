//! The recovering parser: tokens to a [`Program`] plus diagnostics.
//!
//! It is a hand-written recursive-descent parser over the whole token list
//! (see [`crate::lexer`]). Statements are line-based; blocks are parsed by
//! [`Parser::block`], which stops at the first line that closes a block and
//! decides, with the stack of open blocks, whether that line closes the
//! current block, an enclosing one (the current block was left open: `E004`)
//! or none at all (`E005`/`E006`, the line is skipped). That is how one
//! mistake produces one diagnostic and the rest of the file still parses.
//!
//! Guarantees, each guarded by tests: the parser never panics, always makes
//! progress (every loop consumes a token or returns), and never recurses
//! deeper than [`MAX_NESTING`]: past it, it reports `E013` and skips the rest
//! of the file.

mod blocks;
mod control;
mod expr;
mod orchestration;
mod stmt;

use crate::ast::{Comment, CommentMarker, Program, Stmt, StmtKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::{Token, TokenKind, tokenize};
use crate::span::Span;
use crate::{MAX_NESTING, Parsed};

/// More diagnostics than this for one file help nobody and cost memory on
/// pathological input (a 50 MB binary file); the rest are dropped.
const MAX_DIAGNOSTICS: usize = 1000;

pub(crate) fn parse(source: &str) -> Parsed {
    if source.len() > crate::MAX_SOURCE_LEN {
        let diagnostic = Diagnostic::new(
            Code::InvalidUtf8,
            Span::new(0, 0),
            "source is larger than 4 GiB",
        );
        return Parsed {
            program: Program { body: Vec::new() },
            diagnostics: vec![diagnostic],
        };
    }
    let mut parser = Parser::new(source, 0, source.len(), 0);
    let mut body = parser.top_level();
    // Blank lines at the end of the file are not part of the program.
    while body.last().is_some_and(|stmt| stmt.kind == StmtKind::Blank) {
        body.pop();
    }
    let mut diagnostics = parser.diagnostics;
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Parsed {
        program: Program { body },
        diagnostics,
    }
}

/// What closes a block: the first words of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closer {
    EndIf,
    Else,
    ElseIf,
    Case,
    CaseElse,
    Default,
    EndSelect,
    EndSwitch,
    Next,
    Wend,
    EndWhile,
    Loop,
    EndSub,
    EndFunction,
    EndWith,
    EndWorkflow,
    EndOn,
    Branch,
    EndBranch,
    EndParallel,
    EndTalk,
    EndSystemPrompt,
    Brace,
}

impl Closer {
    /// How the closer is written, for messages.
    fn text(self) -> &'static str {
        match self {
            Closer::EndIf => "END IF",
            Closer::Else => "ELSE",
            Closer::ElseIf => "ELSEIF",
            Closer::Case => "CASE",
            Closer::CaseElse => "CASE ELSE",
            Closer::Default => "DEFAULT",
            Closer::EndSelect => "END SELECT",
            Closer::EndSwitch => "END SWITCH",
            Closer::Next => "NEXT",
            Closer::Wend => "WEND",
            Closer::EndWhile => "END WHILE",
            Closer::Loop => "LOOP",
            Closer::EndSub => "END SUB",
            Closer::EndFunction => "END FUNCTION",
            Closer::EndWith => "END WITH",
            Closer::EndWorkflow => "END WORKFLOW",
            Closer::EndOn => "END ON",
            Closer::Branch => "BRANCH",
            Closer::EndBranch => "END BRANCH",
            Closer::EndParallel => "END PARALLEL",
            Closer::EndTalk => "END TALK",
            Closer::EndSystemPrompt => "END SYSTEM PROMPT",
            Closer::Brace => "}",
        }
    }

    /// Closers that end a block (as opposed to `ELSE`, `CASE` or `BRANCH`,
    /// which continue one): finding one of these in the wrong block is a mismatch.
    fn is_end(self) -> bool {
        !matches!(
            self,
            Closer::Else
                | Closer::ElseIf
                | Closer::Case
                | Closer::CaseElse
                | Closer::Default
                | Closer::Branch
        )
    }
}

/// A block being parsed, for recovery and messages.
pub(crate) struct OpenBlock {
    pub closers: &'static [Closer],
    /// The opening keyword, for messages (`IF`, `FOR`, ...).
    pub keyword: &'static str,
    /// What closes it, for hints.
    pub close_with: &'static str,
    pub span: Span,
}

/// How a block ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockEnd {
    /// At a line that closes it (not consumed yet).
    Closer(Closer),
    /// At the end of the input.
    Eof,
    /// At a line that closes an enclosing block: this one was left open.
    Interrupted(Closer),
    /// Nesting went too deep; everything after has been skipped.
    GaveUp,
}

/// A statement as its parser returns it, before its line end is read.
pub(crate) struct Partial {
    pub kind: StmtKind,
    pub comment: Option<Comment>,
    pub end_comment: Option<Comment>,
    /// The statement's parser has already read its last line's end (block
    /// statements, and statements with clause lines); otherwise the caller reads it.
    pub line_done: bool,
}

impl Partial {
    pub fn simple(kind: StmtKind) -> Partial {
        Partial {
            kind,
            comment: None,
            end_comment: None,
            line_done: false,
        }
    }
}

/// A parser position saved by [`Parser::checkpoint`].
#[derive(Clone, Copy)]
pub(crate) struct Checkpoint {
    pos: usize,
    diagnostics: usize,
    last_end: u32,
}

pub(crate) struct Parser<'s> {
    pub src: &'s str,
    pub tokens: Vec<Token>,
    pub pos: usize,
    pub diagnostics: Vec<Diagnostic>,
    /// Current nesting of blocks, inline statements and expressions.
    pub depth: usize,
    /// Set when nesting went past [`MAX_NESTING`]: the rest of the input is skipped.
    pub gave_up: bool,
    pub open: Vec<OpenBlock>,
    /// End offset of the last token consumed that is not a newline or comment.
    pub last_end: u32,
}

impl<'s> Parser<'s> {
    pub fn new(src: &'s str, start: usize, end: usize, depth: usize) -> Parser<'s> {
        Parser {
            src,
            tokens: tokenize(src, start, end),
            pos: 0,
            diagnostics: Vec::new(),
            depth,
            gave_up: false,
            open: Vec::new(),
            last_end: start as u32,
        }
    }

    // ---- Tokens -----------------------------------------------------------------

    pub fn tok(&self) -> Token {
        self.nth(0)
    }

    pub fn nth(&self, n: usize) -> Token {
        // Invariant: the token list always ends with `Eof`, and `pos` never moves past it.
        let last = self.tokens.len() - 1;
        self.tokens[(self.pos + n).min(last)]
    }

    pub fn kind(&self) -> TokenKind {
        self.tok().kind
    }

    pub fn text(&self, token: Token) -> &'s str {
        &self.src[token.span.range()]
    }

    pub fn bump(&mut self) -> Token {
        let token = self.tok();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        if !matches!(
            token.kind,
            TokenKind::Newline | TokenKind::Comment(_) | TokenKind::Eof
        ) {
            self.last_end = token.span.end;
        }
        token
    }

    /// Whether token `n` ahead is the word `word` (any case).
    pub fn word_at(&self, n: usize, word: &str) -> bool {
        let token = self.nth(n);
        token.kind == TokenKind::Word && self.text(token).eq_ignore_ascii_case(word)
    }

    pub fn at_word(&self, word: &str) -> bool {
        self.word_at(0, word)
    }

    pub fn eat_word(&mut self, word: &str) -> bool {
        let found = self.at_word(word);
        if found {
            self.bump();
        }
        found
    }

    pub fn eat(&mut self, kind: TokenKind) -> bool {
        let found = self.kind() == kind;
        if found {
            self.bump();
        }
        found
    }

    /// At the end of a statement: a line end, a comment or a `;`.
    pub fn at_stmt_end(&self) -> bool {
        matches!(
            self.kind(),
            TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_) | TokenKind::Semicolon
        )
    }

    /// The span from `start` to the end of the last token consumed.
    pub fn span_from(&self, start: u32) -> Span {
        Span::new(start, self.last_end.max(start))
    }

    /// How a token reads in a message.
    pub fn describe(&self, token: Token) -> String {
        match token.kind {
            TokenKind::Newline => "the end of the line".to_string(),
            TokenKind::Eof => "the end of the file".to_string(),
            TokenKind::Comment(_) => "a comment".to_string(),
            TokenKind::Str { .. } => "a string".to_string(),
            _ => {
                let text = self.text(token);
                let text: String = text.chars().take(40).collect();
                format!("`{}`", text.escape_debug())
            }
        }
    }

    /// Where the parser is, to come back to after a speculative parse.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            pos: self.pos,
            diagnostics: self.diagnostics.len(),
            last_end: self.last_end,
        }
    }

    /// Goes back to `checkpoint`, forgetting what was reported since.
    pub fn rewind(&mut self, checkpoint: Checkpoint) {
        self.pos = checkpoint.pos;
        self.diagnostics.truncate(checkpoint.diagnostics);
        self.last_end = checkpoint.last_end;
    }

    /// Whether anything was reported since `checkpoint`.
    pub fn reported_since(&self, checkpoint: Checkpoint) -> bool {
        self.diagnostics.len() > checkpoint.diagnostics
    }

    // ---- Diagnostics ------------------------------------------------------------

    /// Records a diagnostic. A second error at the very place of the last one
    /// is dropped: it is the same mistake seen by another rule (a missing
    /// operand is also a missing `,`), and one mistake gets one diagnostic.
    pub fn report(&mut self, diagnostic: Diagnostic) {
        if let Some(last) = self.diagnostics.last()
            && last.is_error()
            && diagnostic.is_error()
            && last.span.start == diagnostic.span.start
        {
            return;
        }
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(diagnostic);
        }
    }

    /// Whether an error was already reported on the line of `offset`, at or
    /// before it: what follows on that line is then a consequence, not news.
    fn error_on_line_before(&self, offset: u32) -> bool {
        let line_start = self.src[..offset as usize]
            .rfind(['\n', '\r'])
            .map_or(0, |i| i as u32 + 1);
        self.diagnostics.last().is_some_and(|last| {
            last.is_error() && last.span.start >= line_start && last.span.start <= offset
        })
    }

    /// `E003` at the current token: `expected ..., found ...`.
    pub fn expected(&mut self, what: &str) {
        // After giving up on deep nesting, the unwinding callers would only add noise.
        if self.gave_up {
            return;
        }
        let token = self.tok();
        if self.lexical_error(token) {
            return;
        }
        let message = format!("expected {what}, found {}", self.describe(token));
        self.report(Diagnostic::new(Code::UnexpectedToken, token.span, message));
    }

    /// Reports the lexical error a token stands for, if any (`E001`, `E002`).
    pub fn lexical_error(&mut self, token: Token) -> bool {
        match token.kind {
            TokenKind::Unknown if self.text(token) == "_" => {
                self.report(
                    Diagnostic::new(Code::InvalidCharacter, token.span, "a lone `_` joins lines only at the end of a line")
                        .with_hint("remove it, or end the line with it to continue the statement on the next line"),
                );
                true
            }
            TokenKind::Unknown => {
                let c = self.text(token).chars().next().unwrap_or('?');
                let shown = if c.is_control() || c.is_whitespace() {
                    format!("U+{:04X}", u32::from(c))
                } else {
                    format!("`{c}` (U+{:04X})", u32::from(c))
                };
                self.report(
                    Diagnostic::new(Code::InvalidCharacter, token.span, format!("invalid character {shown}"))
                        .with_hint("outside strings and comments, BASIC uses only letters, digits and operators"),
                );
                true
            }
            TokenKind::Str { terminated: false } => {
                self.report(
                    Diagnostic::new(
                        Code::UnterminatedString,
                        token.span,
                        "this string is not closed on its line",
                    )
                    .with_hint(
                        "add the closing `\"`; a `\"` inside a string is written `\"\"` or `\\\"`",
                    ),
                );
                true
            }
            _ => false,
        }
    }

    // ---- Lines ------------------------------------------------------------------

    /// Reads the end of a statement's line: `;`s, a trailing comment and the line
    /// break. After a `;` another statement may follow on the same line.
    pub fn line_end(&mut self) -> Option<Comment> {
        let mut semicolon = false;
        while self.eat(TokenKind::Semicolon) {
            semicolon = true;
        }
        match self.kind() {
            TokenKind::Comment(_) => {
                let comment = self.comment();
                self.eat(TokenKind::Newline);
                Some(comment)
            }
            TokenKind::Newline => {
                self.bump();
                None
            }
            TokenKind::Eof => None,
            _ if semicolon => None,
            _ => {
                let token = self.bump();
                if self.error_on_line_before(token.span.start) {
                    // The statement was already reported broken; the rest of its line is noise.
                    return self.skip_line();
                }
                if !self.lexical_error(token) {
                    let what = self.describe(token);
                    let what = what.strip_prefix("a ").unwrap_or(&what);
                    let message = format!("unexpected {what} after the end of the statement");
                    self.report(
                        Diagnostic::new(Code::UnexpectedToken, token.span, message)
                            .with_hint("each statement stands on its own line"),
                    );
                }
                self.skip_line()
            }
        }
    }

    /// Skips the rest of the line (reporting lexical errors on the way) and its
    /// line break; returns its trailing comment.
    pub fn skip_line(&mut self) -> Option<Comment> {
        loop {
            match self.kind() {
                TokenKind::Newline => {
                    self.bump();
                    return None;
                }
                TokenKind::Eof => return None,
                TokenKind::Comment(_) => {
                    let comment = self.comment();
                    self.eat(TokenKind::Newline);
                    return Some(comment);
                }
                _ => {
                    let token = self.bump();
                    self.lexical_error(token);
                }
            }
        }
    }

    /// Consumes a comment token and returns its text.
    pub fn comment(&mut self) -> Comment {
        let token = self.bump();
        let marker = match token.kind {
            TokenKind::Comment(marker) => marker,
            _ => CommentMarker::Quote,
        };
        let text = self.text(token);
        let marker_len = match marker {
            CommentMarker::Quote | CommentMarker::Hash => 1,
            CommentMarker::Slashes => 2,
            CommentMarker::Rem => 3,
        };
        let body = text.get(marker_len..).unwrap_or("");
        // One blank after the marker is the marker's; the formatter writes it back.
        let body = body.strip_prefix([' ', '\t']).unwrap_or(body);
        Comment {
            marker,
            text: body.trim_end().to_string(),
        }
    }

    // ---- Nesting ----------------------------------------------------------------

    /// Enters one level of nesting. False (after reporting `E013` once and
    /// skipping the rest of the input) when that goes past [`MAX_NESTING`].
    pub fn enter(&mut self, span: Span) -> bool {
        if self.gave_up {
            return false;
        }
        self.depth += 1;
        if self.depth > MAX_NESTING {
            self.depth -= 1;
            self.gave_up = true;
            self.report(
                Diagnostic::new(
                    Code::NestingTooDeep,
                    span,
                    format!("blocks and expressions nest more than {MAX_NESTING} deep here; the rest of the file is not read"),
                )
                .with_hint("move the inner part into a SUB or FUNCTION"),
            );
            self.pos = self.tokens.len() - 1;
            return false;
        }
        true
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- The program ------------------------------------------------------------

    fn top_level(&mut self) -> Vec<Stmt> {
        let mut body = Vec::new();
        loop {
            let (mut stmts, end) = self.block(&[]);
            body.append(&mut stmts);
            match end {
                BlockEnd::Eof | BlockEnd::GaveUp => return body,
                // `block` reports and skips closers nobody accepts, so at top level it only stops at the end.
                BlockEnd::Closer(_) | BlockEnd::Interrupted(_) => {
                    self.skip_line();
                }
            }
        }
    }

    /// Builds a statement node.
    pub fn stmt(&self, start: u32, partial: Partial) -> Stmt {
        Stmt {
            kind: partial.kind,
            span: self.span_from(start),
            comment: partial.comment,
            end_comment: partial.end_comment,
        }
    }
}
