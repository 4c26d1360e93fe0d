//! Control-flow blocks: `IF` (block, one-line and brace forms), `SELECT CASE`
//! / `SWITCH`, the loops, `SUB` / `FUNCTION` and `WITH`.

use super::{BlockEnd, Closer, OpenBlock, Parser, Partial};
use crate::ast::{
    BinaryOp, CaseArm, CasePattern, Expr, If, IfArm, LoopCond, LoopKind, Procedure, Select,
    StmtKind,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::TokenKind;

const IF_CLOSERS: &[Closer] = &[Closer::Else, Closer::ElseIf, Closer::EndIf];
const ELSE_CLOSERS: &[Closer] = &[Closer::EndIf];
const BRACE_CLOSERS: &[Closer] = &[Closer::Brace];
const SELECT_CLOSERS: &[Closer] = &[
    Closer::Case,
    Closer::CaseElse,
    Closer::Default,
    Closer::EndSelect,
    Closer::EndSwitch,
];
const NEXT_CLOSERS: &[Closer] = &[Closer::Next];
const WHILE_CLOSERS: &[Closer] = &[Closer::Wend, Closer::EndWhile];
const LOOP_CLOSERS: &[Closer] = &[Closer::Loop];
const SUB_CLOSERS: &[Closer] = &[Closer::EndSub];
const FUNCTION_CLOSERS: &[Closer] = &[Closer::EndFunction];
const WITH_CLOSERS: &[Closer] = &[Closer::EndWith];

/// The part of a `FOR` line after the loop variable.
enum ForHead {
    Each(Expr),
    Count {
        from: Expr,
        to: Expr,
        step: Option<Expr>,
    },
}

impl Parser<'_> {
    pub(crate) fn if_stmt(&mut self) -> Partial {
        let opener = self.bump().span;
        let cond = self.expr();
        if self.kind() == TokenKind::LBrace {
            return self.brace_if(opener, cond);
        }
        let has_then = self.eat_word("THEN");
        if !has_then && !self.at_stmt_end() {
            // `IF c stmt`: most likely a one-line IF that lost its THEN. Reading
            // it as one keeps the statement and reports the mistake once.
            self.expected("THEN after the condition");
            if self.kind() == TokenKind::Word && !self.then_later_on_line() {
                return self.inline_if(cond);
            }
            return self.error_line();
        }
        if has_then && !self.at_stmt_end() {
            return self.inline_if(cond);
        }
        let comment = self.line_end();
        let mut arms = vec![IfArm {
            cond,
            body: Vec::new(),
            comment: None,
        }];
        let mut else_body = None;
        let mut else_comment = None;
        let mut end_comment = None;
        loop {
            let in_else = else_body.is_some();
            let closers = if in_else { ELSE_CLOSERS } else { IF_CLOSERS };
            let (body, end) = self.block_in(OpenBlock {
                closers,
                keyword: "IF",
                close_with: "END IF",
                span: opener,
            });
            match (&mut else_body, arms.last_mut()) {
                (Some(else_body), _) => *else_body = body,
                (None, Some(arm)) => arm.body = body,
                (None, None) => {}
            }
            match end {
                BlockEnd::Closer(Closer::ElseIf) => {
                    self.eat_closer(Closer::ElseIf);
                    let cond = self.expr();
                    if !self.eat_word("THEN") && !self.at_stmt_end() {
                        self.expected("THEN after the condition");
                        self.skip_line();
                    }
                    let comment = self.line_end();
                    arms.push(IfArm {
                        cond,
                        body: Vec::new(),
                        comment,
                    });
                }
                BlockEnd::Closer(Closer::Else) => {
                    self.eat_closer(Closer::Else);
                    else_comment = self.line_end();
                    else_body = Some(Vec::new());
                }
                BlockEnd::Closer(closer) => {
                    self.eat_closer(closer);
                    end_comment = self.line_end();
                    break;
                }
                end => {
                    self.unclosed("IF", "END IF", opener, end);
                    break;
                }
            }
        }
        let kind = StmtKind::If(If {
            arms,
            else_body,
            else_comment,
            inline: false,
        });
        Partial {
            kind,
            comment,
            end_comment,
            line_done: true,
        }
    }

    /// Whether a `THEN` comes later on the current line.
    fn then_later_on_line(&self) -> bool {
        let mut n = 0;
        loop {
            let token = self.nth(n);
            match token.kind {
                TokenKind::Newline | TokenKind::Eof => return false,
                TokenKind::Word if self.text(token).eq_ignore_ascii_case("THEN") => return true,
                _ => n += 1,
            }
        }
    }

    /// `IF c THEN stmt [ELSE stmt]` on one line.
    pub(crate) fn inline_if(&mut self, cond: Expr) -> Partial {
        let start = self.tok().span.start;
        let then = self.nested_partial();
        let then_done = then.line_done;
        let then = self.stmt(start, then);
        let mut else_body = None;
        if !then_done && self.at_word("ELSE") {
            self.bump();
            let start = self.tok().span.start;
            let otherwise = self.nested_partial();
            let done = otherwise.line_done;
            else_body = Some(vec![self.stmt(start, otherwise)]);
            if done {
                let kind = StmtKind::If(If {
                    arms: vec![IfArm {
                        cond,
                        body: vec![then],
                        comment: None,
                    }],
                    else_body,
                    else_comment: None,
                    inline: true,
                });
                return Partial {
                    kind,
                    comment: None,
                    end_comment: None,
                    line_done: true,
                };
            }
        }
        let kind = StmtKind::If(If {
            arms: vec![IfArm {
                cond,
                body: vec![then],
                comment: None,
            }],
            else_body,
            else_comment: None,
            inline: true,
        });
        Partial {
            kind,
            comment: None,
            end_comment: None,
            line_done: then_done,
        }
    }

    /// `if c { ... } else if c { ... } else { ... }`, as Rhai writes it.
    fn brace_if(&mut self, opener: crate::span::Span, cond: Expr) -> Partial {
        let mut arms = Vec::new();
        let mut else_body = None;
        let mut cond = Some(cond);
        let mut comment = None;
        // Whether the last block ended at its own `}` (consumed), so the line goes on after it.
        let mut closed;
        loop {
            self.bump(); // `{`
            closed = false;
            let (line_comment, body, end) = self.brace_body(OpenBlock {
                closers: BRACE_CLOSERS,
                keyword: "if",
                close_with: "}",
                span: opener,
            });
            if comment.is_none() && arms.is_empty() {
                comment = line_comment;
            }
            if end != BlockEnd::Closer(Closer::Brace) {
                self.unclosed("if", "}", opener, end);
                match cond.take() {
                    Some(cond) => arms.push(IfArm {
                        cond,
                        body,
                        comment: None,
                    }),
                    None => else_body = Some(body),
                }
                break;
            }
            self.bump(); // `}`
            closed = true;
            match cond.take() {
                Some(cond) => arms.push(IfArm {
                    cond,
                    body,
                    comment: None,
                }),
                None => {
                    else_body = Some(body);
                    break;
                }
            }
            if !self.eat_word("ELSE") {
                break;
            }
            if self.eat_word("IF") {
                cond = Some(self.expr());
            }
            if self.kind() != TokenKind::LBrace {
                self.expected("`{`");
                break;
            }
        }
        // An unclosed block stopped at the end of the input or at a line that
        // closes an outer block: that line is not this statement's to read.
        let (end_comment, line_done) = if closed {
            self.after_brace()
        } else {
            (None, true)
        };
        if arms.is_empty() {
            return Partial {
                kind: StmtKind::Error,
                comment,
                end_comment,
                line_done,
            };
        }
        let kind = StmtKind::If(If {
            arms,
            else_body,
            else_comment: None,
            inline: false,
        });
        Partial {
            kind,
            comment,
            end_comment,
            line_done,
        }
    }

    pub(crate) fn select_stmt(&mut self) -> Partial {
        let opener = self.tok().span;
        let switch = self.at_word("SWITCH");
        self.bump();
        if !switch {
            self.eat_word("CASE");
        }
        let subject = self.expr();
        let comment = self.line_end();
        let (keyword, close_with) = if switch {
            ("SWITCH", "END SWITCH")
        } else {
            ("SELECT", "END SELECT")
        };
        let open = |closers| OpenBlock {
            closers,
            keyword,
            close_with,
            span: opener,
        };
        let (leading, mut end) = self.block_in(open(SELECT_CLOSERS));
        for stmt in &leading {
            if !matches!(
                stmt.kind,
                StmtKind::Blank | StmtKind::Comment(_) | StmtKind::Error
            ) {
                self.report(
                    Diagnostic::new(
                        Code::UnexpectedToken,
                        stmt.span,
                        "a statement before the first CASE never runs",
                    )
                    .with_hint("put it under a CASE, or before the SELECT"),
                );
            }
        }
        let mut select = Select {
            subject,
            arms: Vec::new(),
            else_body: None,
            switch,
            leading,
            else_comment: None,
        };
        let end_comment;
        loop {
            match end {
                BlockEnd::Closer(Closer::Case) => {
                    self.bump();
                    let patterns = self.case_patterns();
                    self.eat(TokenKind::Colon);
                    let comment = self.line_end();
                    let (body, next) = self.block_in(open(SELECT_CLOSERS));
                    select.arms.push(CaseArm {
                        patterns,
                        body,
                        comment,
                    });
                    end = next;
                }
                BlockEnd::Closer(closer @ (Closer::CaseElse | Closer::Default)) => {
                    self.bump_n(if closer == Closer::CaseElse { 2 } else { 1 });
                    self.eat(TokenKind::Colon);
                    select.else_comment = self.line_end();
                    let (body, next) = self.block_in(open(SELECT_CLOSERS));
                    select.else_body = Some(body);
                    end = next;
                }
                BlockEnd::Closer(closer) => {
                    self.eat_closer(closer);
                    end_comment = self.line_end();
                    break;
                }
                end => {
                    self.unclosed(keyword, close_with, opener, end);
                    end_comment = None;
                    break;
                }
            }
        }
        Partial {
            kind: StmtKind::Select(select),
            comment,
            end_comment,
            line_done: true,
        }
    }

    fn case_patterns(&mut self) -> Vec<CasePattern> {
        let mut patterns = Vec::new();
        loop {
            if self.eat_word("IS") {
                let op = match self.kind() {
                    TokenKind::Eq | TokenKind::EqEq => BinaryOp::Eq,
                    TokenKind::Ne => BinaryOp::Ne,
                    TokenKind::Lt => BinaryOp::Lt,
                    TokenKind::Gt => BinaryOp::Gt,
                    TokenKind::Le => BinaryOp::Le,
                    TokenKind::Ge => BinaryOp::Ge,
                    _ => {
                        self.expected("a comparison (`=`, `<>`, `<`, `>`, `<=`, `>=`) after IS");
                        return patterns;
                    }
                };
                self.bump();
                patterns.push(CasePattern::Is(op, self.expr()));
            } else {
                let value = self.expr();
                if self.eat_word("TO") {
                    patterns.push(CasePattern::Range(value, self.expr()));
                } else {
                    patterns.push(CasePattern::Value(value));
                }
            }
            if !self.eat(TokenKind::Comma) {
                return patterns;
            }
            self.skip_continuation();
        }
    }

    pub(crate) fn for_stmt(&mut self) -> Partial {
        let opener = self.bump().span;
        let header = self.for_header();
        let open = |closers, close_with| OpenBlock {
            closers,
            keyword: "FOR",
            close_with,
            span: opener,
        };
        let (comment, body, end, close_with) = if header.is_none() {
            // The header is broken (and reported), but its block still runs to
            // its NEXT: the body is not misread as top-level lines and the NEXT
            // is not reported a second time as a stray one.
            let comment = self.skip_line();
            let (body, end) = self.block_in(open(NEXT_CLOSERS, "NEXT"));
            (comment, body, end, "NEXT")
        } else if self.eat(TokenKind::LBrace) {
            let (comment, body, end) = self.brace_body(open(BRACE_CLOSERS, "}"));
            (comment, body, end, "}")
        } else {
            let comment = self.line_end();
            let (body, end) = self.block_in(open(NEXT_CLOSERS, "NEXT"));
            (comment, body, end, "NEXT")
        };
        let (end_comment, line_done) = self.close_loop(end, "FOR", close_with, opener);
        let kind = match header {
            Some((var, ForHead::Each(iterable))) => StmtKind::ForEach {
                var,
                iterable,
                body,
            },
            Some((var, ForHead::Count { from, to, step })) => StmtKind::ForTo {
                var,
                from,
                to,
                step,
                body,
            },
            None => StmtKind::Error,
        };
        Partial {
            kind,
            comment,
            end_comment,
            line_done,
        }
    }

    /// `[EACH] v IN list` or `v = a TO b [STEP s]` after `FOR`; `None` when
    /// malformed (reported).
    fn for_header(&mut self) -> Option<(crate::ast::Ident, ForHead)> {
        let each = self.eat_word("EACH");
        let var = self.expect_ident("a loop variable")?;
        if each || self.at_word("IN") {
            if !self.eat_word("IN") {
                self.expected("IN after the loop variable");
                return None;
            }
            return Some((var, ForHead::Each(self.expr())));
        }
        if !self.eat(TokenKind::Eq) {
            self.expected("`=` or IN after the loop variable");
            return None;
        }
        let from = self.expr();
        if !self.eat_word("TO") {
            self.expected("TO after the start value");
            return None;
        }
        let to = self.expr();
        let step = if self.eat_word("STEP") {
            Some(self.expr())
        } else {
            None
        };
        Some((var, ForHead::Count { from, to, step }))
    }

    /// Closes a loop block: its closer line (with `NEXT i`'s name), or `E004`.
    /// Returns the closer line's comment, and whether the line end was read:
    /// after a `}` another `}` may follow on the same line (`if a { while b { x } }`).
    fn close_loop(
        &mut self,
        end: BlockEnd,
        keyword: &str,
        close_with: &str,
        opener: crate::span::Span,
    ) -> (Option<crate::ast::Comment>, bool) {
        if end == BlockEnd::Closer(Closer::Brace) {
            self.bump();
            return self.after_brace();
        }
        (
            self.close_block(end, keyword, close_with, opener, true),
            true,
        )
    }

    /// After the `}` that closes a brace block: the line end, unless a `}` of
    /// an enclosing one-line brace block follows.
    pub(crate) fn after_brace(&mut self) -> (Option<crate::ast::Comment>, bool) {
        if self.kind() == TokenKind::RBrace {
            (None, false)
        } else {
            (self.line_end(), true)
        }
    }

    /// The body of a brace block after its `{`: statements on the `{` line
    /// itself (separated by `;`, as in `if x { a = 1; b = 2 }`), then, unless a
    /// `}` closes the block on that line, the lines up to its `}` (not consumed).
    /// Returns the comment of the `{` line, the body and how it ended.
    pub(crate) fn brace_body(
        &mut self,
        open: OpenBlock,
    ) -> (Option<crate::ast::Comment>, crate::ast::Block, BlockEnd) {
        if !self.enter(open.span) {
            return (None, Vec::new(), BlockEnd::GaveUp);
        }
        self.open.push(open);
        let result = self.brace_body_inside();
        self.open.pop();
        self.leave();
        result
    }

    fn brace_body_inside(&mut self) -> (Option<crate::ast::Comment>, crate::ast::Block, BlockEnd) {
        let mut body = Vec::new();
        let mut comment = None;
        loop {
            match self.kind() {
                TokenKind::RBrace => return (None, body, BlockEnd::Closer(Closer::Brace)),
                TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_) => {
                    comment = self.line_end();
                    break;
                }
                _ => {}
            }
            let start = self.tok().span.start;
            let partial = self.nested_partial();
            let line_done = partial.line_done;
            body.push(self.stmt(start, partial));
            if line_done {
                break;
            }
            let mut separated = false;
            while self.eat(TokenKind::Semicolon) {
                separated = true;
            }
            if !separated
                && !matches!(
                    self.kind(),
                    TokenKind::RBrace | TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_)
                )
            {
                // Reports what follows the statement and skips the rest of the line.
                comment = self.line_end();
                break;
            }
        }
        let (mut rest, end) = self.block(BRACE_CLOSERS);
        body.append(&mut rest);
        (comment, body, end)
    }

    /// Consumes a block's closer line (with `NEXT i`'s name when `named`) or
    /// reports the block unclosed; returns the closer line's comment.
    pub(crate) fn close_block(
        &mut self,
        end: BlockEnd,
        keyword: &str,
        close_with: &str,
        opener: crate::span::Span,
        named: bool,
    ) -> Option<crate::ast::Comment> {
        match end {
            BlockEnd::Closer(closer) => {
                self.eat_closer(closer);
                if named && closer == Closer::Next && self.kind() == TokenKind::Word {
                    self.bump();
                }
                self.line_end()
            }
            end => {
                self.unclosed(keyword, close_with, opener, end);
                None
            }
        }
    }

    pub(crate) fn while_stmt(&mut self) -> Partial {
        let opener = self.bump().span;
        let cond = self.expr();
        let open = |closers, close_with| OpenBlock {
            closers,
            keyword: "WHILE",
            close_with,
            span: opener,
        };
        let (comment, body, end, close_with) = if self.eat(TokenKind::LBrace) {
            let (comment, body, end) = self.brace_body(open(BRACE_CLOSERS, "}"));
            (comment, body, end, "}")
        } else {
            let comment = self.line_end();
            let (body, end) = self.block_in(open(WHILE_CLOSERS, "WEND"));
            (comment, body, end, "WEND")
        };
        let (end_comment, line_done) = self.close_loop(end, "WHILE", close_with, opener);
        Partial {
            kind: StmtKind::While {
                cond,
                until: false,
                body,
            },
            comment,
            end_comment,
            line_done,
        }
    }

    pub(crate) fn do_stmt(&mut self) -> Partial {
        let opener = self.bump().span;
        let head = if self.at_word("WHILE") || self.at_word("UNTIL") {
            let until = self.at_word("UNTIL");
            self.bump();
            Some((until, self.expr()))
        } else {
            None
        };
        let comment = self.line_end();
        let (body, end) = self.block_in(OpenBlock {
            closers: LOOP_CLOSERS,
            keyword: "DO",
            close_with: "LOOP",
            span: opener,
        });
        let mut tail = None;
        let end_comment = match end {
            BlockEnd::Closer(closer) => {
                self.eat_closer(closer);
                if self.at_word("WHILE") || self.at_word("UNTIL") {
                    let until = self.at_word("UNTIL");
                    let at = self.bump().span;
                    let cond = self.expr();
                    if head.is_some() {
                        self.report(
                            Diagnostic::new(
                                Code::UnexpectedToken,
                                at,
                                "this DO loop already has a condition",
                            )
                            .with_hint(
                                "give the condition either after DO or after LOOP, not both",
                            ),
                        );
                    } else {
                        tail = Some(LoopCond { until, cond });
                    }
                }
                self.line_end()
            }
            end => {
                self.unclosed("DO", "LOOP", opener, end);
                None
            }
        };
        let kind = match head {
            Some((until, cond)) => StmtKind::While { cond, until, body },
            None => StmtKind::DoLoop { body, cond: tail },
        };
        Partial {
            kind,
            comment,
            end_comment,
            line_done: true,
        }
    }

    pub(crate) fn loop_control(&mut self) -> Partial {
        let token = self.bump();
        let exit = !self.text(token).eq_ignore_ascii_case("CONTINUE");
        let kind = if self.eat_word("FOR") {
            LoopKind::For
        } else if self.eat_word("DO") {
            LoopKind::Do
        } else if self.eat_word("WHILE") {
            LoopKind::While
        } else if exit && (self.eat_word("SUB") || self.eat_word("FUNCTION")) {
            // `EXIT SUB` leaves the procedure, which is what `RETURN` does.
            return Partial::simple(StmtKind::Return(None));
        } else {
            self.expected("FOR, DO or WHILE");
            return self.error_line();
        };
        Partial::simple(if exit {
            StmtKind::Exit(kind)
        } else {
            StmtKind::Continue(kind)
        })
    }

    pub(crate) fn procedure(&mut self) -> Partial {
        let token = self.bump();
        let is_sub = self.text(token).eq_ignore_ascii_case("SUB");
        let Some(name) = self.expect_ident("a name") else {
            return self.error_line();
        };
        let mut params = Vec::new();
        if self.eat(TokenKind::LParen) {
            while self.kind() == TokenKind::Word {
                params.push(self.ident());
                // `name AS TYPE` in a parameter list: the type is not kept.
                if self.eat_word("AS") && self.kind() == TokenKind::Word {
                    self.bump();
                }
                if !self.eat(TokenKind::Comma) {
                    break;
                }
            }
            if !self.eat(TokenKind::RParen) {
                self.expected("`)` after the parameters");
                self.skip_line();
            }
        }
        let comment = self.line_end();
        let (keyword, close_with, closers) = if is_sub {
            ("SUB", "END SUB", SUB_CLOSERS)
        } else {
            ("FUNCTION", "END FUNCTION", FUNCTION_CLOSERS)
        };
        let (body, end) = self.block_in(OpenBlock {
            closers,
            keyword,
            close_with,
            span: token.span,
        });
        let end_comment = self.close_block(end, keyword, close_with, token.span, false);
        let procedure = Procedure { name, params, body };
        let kind = if is_sub {
            StmtKind::Sub(procedure)
        } else {
            StmtKind::Function(procedure)
        };
        Partial {
            kind,
            comment,
            end_comment,
            line_done: true,
        }
    }

    pub(crate) fn with_block(&mut self) -> Partial {
        let opener = self.bump().span;
        let object = self.ident();
        let comment = self.line_end();
        let (body, end) = self.block_in(OpenBlock {
            closers: WITH_CLOSERS,
            keyword: "WITH",
            close_with: "END WITH",
            span: opener,
        });
        let end_comment = self.close_block(end, "WITH", "END WITH", opener, false);
        Partial {
            kind: StmtKind::With { object, body },
            comment,
            end_comment,
            line_done: true,
        }
    }
}
