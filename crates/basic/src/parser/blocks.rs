//! Blocks: runs of statement lines, and how they end.

use super::{BlockEnd, Closer, OpenBlock, Parser, Partial};
use crate::ast::{Block, Stmt, StmtKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::TokenKind;
use crate::span::Span;

impl Parser<'_> {
    /// Parses statement lines until a line that closes a block or the end of
    /// the input. A closer that no open block accepts is reported and skipped.
    pub(crate) fn block(&mut self, closers: &'static [Closer]) -> (Block, BlockEnd) {
        let mut body: Block = Vec::new();
        loop {
            if self.gave_up {
                return (body, BlockEnd::GaveUp);
            }
            match self.kind() {
                TokenKind::Eof => return (body, BlockEnd::Eof),
                TokenKind::Newline => {
                    let start = self.tok().span.start;
                    while self.kind() == TokenKind::Newline {
                        self.bump();
                    }
                    if body
                        .last()
                        .is_none_or(|last: &Stmt| last.kind != StmtKind::Blank)
                    {
                        body.push(Stmt {
                            kind: StmtKind::Blank,
                            span: Span::new(start, start),
                            comment: None,
                            end_comment: None,
                        });
                    }
                }
                TokenKind::Comment(_) => {
                    let span = self.tok().span;
                    let comment = self.comment();
                    self.eat(TokenKind::Newline);
                    body.push(Stmt {
                        kind: StmtKind::Comment(comment),
                        span,
                        comment: None,
                        end_comment: None,
                    });
                }
                _ => {
                    if let Some(closer) = self.closer_here() {
                        if closers.contains(&closer) {
                            return (body, BlockEnd::Closer(closer));
                        }
                        if self.open.iter().any(|open| open.closers.contains(&closer)) {
                            return (body, BlockEnd::Interrupted(closer));
                        }
                        if closer != Closer::Branch {
                            self.stray_closer(closer);
                            continue;
                        }
                        // A `BRANCH` with no `PARALLEL` open is a statement in the
                        // wrong place (`E008`), not a stray end: its body still parses.
                    }
                    let stmt = self.full_stmt();
                    body.push(stmt);
                }
            }
        }
    }

    /// Parses a block inside `open`, which is pushed on the stack of open blocks meanwhile.
    pub(crate) fn block_in(&mut self, open: OpenBlock) -> (Block, BlockEnd) {
        let closers = open.closers;
        let span = open.span;
        if !self.enter(span) {
            return (Vec::new(), BlockEnd::GaveUp);
        }
        self.open.push(open);
        let result = self.block(closers);
        self.open.pop();
        self.leave();
        result
    }

    /// Reports that the block opened at `open` ended without its closer.
    pub(crate) fn unclosed(&mut self, keyword: &str, close_with: &str, span: Span, end: BlockEnd) {
        let diagnostic = match end {
            BlockEnd::Closer(_) | BlockEnd::GaveUp => return,
            BlockEnd::Eof => Diagnostic::new(
                Code::UnclosedBlock,
                span,
                format!("this `{keyword}` is never closed: the file ends first"),
            ),
            BlockEnd::Interrupted(closer) => {
                let at = self.tok().span;
                Diagnostic::new(
                    Code::UnclosedBlock,
                    span,
                    format!("this `{keyword}` is not closed before `{}`", closer.text()),
                )
                .with_label(at, format!("`{}` closes an outer block", closer.text()))
            }
        };
        self.report(diagnostic.with_hint(format!("add `{close_with}`")));
    }

    /// A line that closes no open block: `E005` inside a block for an end
    /// word, `E006` otherwise. The line is skipped.
    fn stray_closer(&mut self, closer: Closer) {
        let start = self.tok().span.start;
        let line_end = self.line_span_end();
        let span = Span::new(start, line_end);
        let diagnostic = match self.open.last() {
            Some(open) if closer.is_end() => Diagnostic::new(
                Code::MismatchedBlockEnd,
                span,
                format!(
                    "`{}` does not close the `{}` that is open here",
                    closer.text(),
                    open.keyword
                ),
            )
            .with_label(open.span, format!("this `{}` is still open", open.keyword))
            .with_hint(format!(
                "close the `{}` with `{}` first",
                open.keyword, open.close_with
            )),
            _ => Diagnostic::new(
                Code::UnmatchedBlockEnd,
                span,
                format!("`{}` without a block to close", closer.text()),
            )
            .with_hint("remove it, or add the statement that opens its block"),
        };
        self.report(diagnostic);
        self.skip_line();
    }

    /// The end offset of the current line's last token before any comment.
    fn line_span_end(&self) -> u32 {
        let mut end = self.tok().span.end;
        let mut n = 0;
        loop {
            let token = self.nth(n);
            match token.kind {
                TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_) => return end,
                _ => end = token.span.end,
            }
            n += 1;
        }
    }

    /// Whether the current line starts with a block closer, and which.
    pub(crate) fn closer_here(&self) -> Option<Closer> {
        let token = self.tok();
        if token.kind == TokenKind::RBrace {
            return Some(Closer::Brace);
        }
        if token.kind != TokenKind::Word || self.nth(1).kind == TokenKind::Eq {
            return None;
        }
        let word = self.text(token);
        let is = |w: &str| word.eq_ignore_ascii_case(w);
        if is("END") {
            let next = |w: &str| self.word_at(1, w);
            return if next("IF") {
                Some(Closer::EndIf)
            } else if next("SELECT") {
                Some(Closer::EndSelect)
            } else if next("SWITCH") {
                Some(Closer::EndSwitch)
            } else if next("WHILE") {
                Some(Closer::EndWhile)
            } else if next("SUB") {
                Some(Closer::EndSub)
            } else if next("FUNCTION") {
                Some(Closer::EndFunction)
            } else if next("WITH") {
                Some(Closer::EndWith)
            } else if next("WORKFLOW") {
                Some(Closer::EndWorkflow)
            } else if next("ON") {
                Some(Closer::EndOn)
            } else if next("PARALLEL") {
                Some(Closer::EndParallel)
            } else if next("BRANCH") {
                Some(Closer::EndBranch)
            } else if next("TALK") {
                Some(Closer::EndTalk)
            } else if next("SYSTEM") && self.word_at(2, "PROMPT") {
                Some(Closer::EndSystemPrompt)
            } else {
                None
            };
        }
        if is("ENDIF") {
            Some(Closer::EndIf)
        } else if is("ELSEIF") {
            Some(Closer::ElseIf)
        } else if is("ELSE") {
            Some(if self.word_at(1, "IF") {
                Closer::ElseIf
            } else {
                Closer::Else
            })
        } else if is("CASE") {
            Some(if self.word_at(1, "ELSE") {
                Closer::CaseElse
            } else {
                Closer::Case
            })
        } else if is("DEFAULT") && matches!(self.nth(1).kind, TokenKind::Colon)
            || is("DEFAULT") && self.next_ends_line(1)
        {
            Some(Closer::Default)
        } else if is("NEXT") {
            Some(Closer::Next)
        } else if is("WEND") {
            Some(Closer::Wend)
        } else if is("LOOP") {
            Some(Closer::Loop)
        } else if is("BRANCH") && matches!(self.nth(1).kind, TokenKind::Word | TokenKind::Number) {
            Some(Closer::Branch)
        } else {
            None
        }
    }

    /// Whether token `n` ahead ends the line.
    pub(crate) fn next_ends_line(&self, n: usize) -> bool {
        matches!(
            self.nth(n).kind,
            TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_) | TokenKind::Semicolon
        )
    }

    /// Consumes the words of a closer line (`END IF`, `NEXT`, `}` ...), not its line end.
    pub(crate) fn eat_closer(&mut self, closer: Closer) {
        let words = match closer {
            Closer::ElseIf if self.at_word("ELSEIF") => 1,
            Closer::EndIf if self.at_word("ENDIF") => 1,
            Closer::ElseIf | Closer::EndIf => 2,
            Closer::Brace
            | Closer::Else
            | Closer::Next
            | Closer::Wend
            | Closer::Loop
            | Closer::Default
            | Closer::Case
            | Closer::Branch => 1,
            Closer::EndSystemPrompt => 3,
            _ => 2,
        };
        for _ in 0..words {
            self.bump();
        }
    }

    /// Parses one whole statement, its line end included.
    pub(crate) fn full_stmt(&mut self) -> Stmt {
        let start = self.tok().span.start;
        let mut partial = self.stmt_partial();
        if !partial.line_done {
            partial.comment = self.line_end();
        }
        self.stmt(start, partial)
    }

    /// Parses a statement that stands inside another line (`STEP 1: ...`,
    /// `BRANCH A: ...`, a one-line `IF`), counting it as one level of nesting.
    pub(crate) fn nested_partial(&mut self) -> Partial {
        let span = self.tok().span;
        if !self.enter(span) {
            return Partial {
                kind: StmtKind::Error,
                comment: None,
                end_comment: None,
                line_done: true,
            };
        }
        let partial = self.stmt_partial();
        self.leave();
        partial
    }
}
