//! The orchestration forms of `LANGUAGE.md` §4: workflows, steps, bot
//! calls, human approval, parallel branches and events.

use super::{BlockEnd, Closer, OpenBlock, Parser, Partial};
use crate::ast::{
    Approval, Approvers, BotCall, Branch, Clause, ClauseKind, Comment, Ident, Join, Parallel,
    PublishEvent, Step, Stmt, StmtKind, TimeoutAction, WaitForEvent, Workflow,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::TokenKind;
use crate::span::Span;

const WORKFLOW_CLOSERS: &[Closer] = &[Closer::EndWorkflow];
const ON_CLOSERS: &[Closer] = &[Closer::EndOn];
const PARALLEL_CLOSERS: &[Closer] = &[Closer::Branch, Closer::EndParallel];
const BRANCH_CLOSERS: &[Closer] = &[Closer::EndBranch, Closer::Branch, Closer::EndParallel];

/// Which clauses a statement takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clauses {
    /// `HUMAN APPROVAL`: all of them.
    Approval,
    /// `WAIT FOR EVENT`: `TIMEOUT` and `ON TIMEOUT:`.
    Wait,
}

impl Parser<'_> {
    pub(crate) fn workflow(&mut self) -> Partial {
        let opener = self.tok().span;
        self.bump_n(2);
        let name = self.expr();
        let comment = self.line_end();
        let (mut body, end) = self.block_in(OpenBlock {
            closers: WORKFLOW_CLOSERS,
            keyword: "ORCHESTRATE WORKFLOW",
            close_with: "END WORKFLOW",
            span: opener,
        });
        let (closed, end_comment) = match end {
            BlockEnd::Closer(closer) => {
                self.eat_closer(closer);
                (true, self.line_end())
            }
            // The block may run to the end of the file (`LANGUAGE.md` §4.1).
            BlockEnd::Eof => {
                while body.last().is_some_and(|stmt| stmt.kind == StmtKind::Blank) {
                    body.pop();
                }
                (false, None)
            }
            end => {
                self.unclosed("ORCHESTRATE WORKFLOW", "END WORKFLOW", opener, end);
                (false, None)
            }
        };
        Partial {
            kind: StmtKind::Workflow(Workflow { name, body, closed }),
            comment,
            end_comment,
            line_done: true,
        }
    }

    /// `STEP n: <statement>`; the line's comments belong to the inner statement.
    pub(crate) fn step(&mut self) -> Partial {
        self.bump();
        let number_start = self.tok().span.start;
        let mut number_end = number_start;
        // The number is the run of touching tokens before the `:` (`1`, `2.1`, `3a`).
        while matches!(
            self.kind(),
            TokenKind::Number | TokenKind::Word | TokenKind::Dot
        ) && (self.tok().span.start == number_end || number_end == number_start)
        {
            number_end = self.bump().span.end;
        }
        let number_span = Span::new(number_start, number_end);
        let number = self.src[number_span.range()].to_string();
        if !self.eat(TokenKind::Colon) {
            self.expected(&format!("`:` after `STEP {number}`"));
        }
        let body_start = self.tok().span.start;
        let body = if self.at_stmt_end() {
            self.expected(&format!("a statement after `STEP {number}:`"));
            let comment = self.line_end();
            Stmt {
                kind: StmtKind::Error,
                span: Span::new(body_start, body_start),
                comment,
                end_comment: None,
            }
        } else {
            let mut partial = self.nested_partial();
            if !partial.line_done {
                partial.comment = self.line_end();
            }
            self.stmt(body_start, partial)
        };
        let kind = StmtKind::Step(Step {
            number,
            number_span,
            body: Box::new(body),
        });
        Partial {
            kind,
            comment: None,
            end_comment: None,
            line_done: true,
        }
    }

    /// `BOT "name" "action" [INTO v] [WITH expr] [TIMEOUT s] [RETRY n] [CACHE s]`.
    pub(crate) fn bot_call(&mut self) -> Option<BotCall> {
        self.bump();
        if self.at_stmt_end() {
            self.expected("a bot name after BOT");
            return None;
        }
        let bot = self.expr();
        if self.at_stmt_end() {
            self.expected("the action after the bot name (BOT \"name\" \"action\")");
            return None;
        }
        let action = self.expr();
        let mut call = BotCall {
            bot,
            action,
            into: None,
            with: None,
            timeout: None,
            retry: None,
            cache: None,
        };
        loop {
            let slot = if self.at_word("INTO") {
                &mut call.into
            } else if self.at_word("WITH") {
                &mut call.with
            } else if self.at_word("TIMEOUT") {
                &mut call.timeout
            } else if self.at_word("RETRY") {
                &mut call.retry
            } else if self.at_word("CACHE") {
                &mut call.cache
            } else {
                return Some(call);
            };
            let clause = self.bump();
            let duplicate = slot.is_some();
            let value = if self.text(clause).eq_ignore_ascii_case("INTO") {
                match self.place() {
                    Some(place) => place,
                    None => {
                        self.expected("a variable after INTO");
                        return None;
                    }
                }
            } else if self.at_stmt_end() {
                let word = self.text(clause).to_ascii_uppercase();
                let diagnostic = if word == "TIMEOUT" {
                    timeout_without_value(clause.span)
                } else {
                    Diagnostic::new(
                        Code::UnexpectedToken,
                        clause.span,
                        format!("{word} needs a value"),
                    )
                };
                self.report(diagnostic);
                return None;
            } else {
                self.expr()
            };
            // Invariant: `slot` borrows `call`; re-find it after parsing the value.
            let slot = match self.text(clause).to_ascii_uppercase().as_str() {
                "INTO" => &mut call.into,
                "WITH" => &mut call.with,
                "TIMEOUT" => &mut call.timeout,
                "RETRY" => &mut call.retry,
                _ => &mut call.cache,
            };
            if duplicate {
                let word = self.text(clause).to_ascii_uppercase();
                self.report(Diagnostic::new(
                    Code::UnexpectedToken,
                    clause.span,
                    format!("{word} is given twice"),
                ));
            }
            *slot = Some(value);
        }
    }

    pub(crate) fn approval(&mut self) -> Partial {
        self.bump_n(2);
        if !self.eat_word("FROM") {
            self.expected("FROM and the approvers after HUMAN APPROVAL");
            return self.error_line();
        }
        let from = if self.eat_word("GROUP") {
            Approvers::Group(self.expr())
        } else {
            let mut people = vec![self.expr()];
            while self.eat(TokenKind::Comma) {
                self.skip_continuation();
                people.push(self.expr());
            }
            Approvers::People(people)
        };
        let mut clauses = Vec::new();
        let Some(()) = self.clauses_on_line(&mut clauses, Clauses::Approval, false) else {
            return self.error_line();
        };
        let (comment, line_done) = self.clause_lines_of(&mut clauses, Clauses::Approval);
        Partial {
            kind: StmtKind::HumanApproval(Approval { from, clauses }),
            comment,
            end_comment: None,
            line_done,
        }
    }

    /// `WAIT FOR EVENT "name" [FOR key]` and the clauses on its line.
    pub(crate) fn wait_for_event_head(&mut self) -> WaitForEvent {
        self.bump_n(3);
        let name = self.expr();
        let key = if self.eat_word("FOR") {
            Some(self.expr())
        } else {
            None
        };
        let mut clauses = Vec::new();
        // A malformed clause is reported; the line end check reports what follows it.
        let _ = self.clauses_on_line(&mut clauses, Clauses::Wait, false);
        WaitForEvent { name, key, clauses }
    }

    pub(crate) fn wait_for_event_stmt(&mut self) -> Partial {
        let mut wait = self.wait_for_event_head();
        let (comment, line_done) = self.clause_lines(&mut wait.clauses, true);
        Partial {
            kind: StmtKind::WaitForEvent(wait),
            comment,
            end_comment: None,
            line_done,
        }
    }

    /// Reads the end of a `WAIT FOR EVENT` line and the clause lines under it.
    pub(crate) fn clause_lines(
        &mut self,
        clauses: &mut Vec<Clause>,
        _statement: bool,
    ) -> (Option<Comment>, bool) {
        self.clause_lines_of(clauses, Clauses::Wait)
    }

    /// Reads the end of the statement's first line, then every following line
    /// that starts with one of its clauses. A line's comment goes to the clause
    /// that ends the line, or to the statement when the line has no clause.
    fn clause_lines_of(
        &mut self,
        clauses: &mut Vec<Clause>,
        which: Clauses,
    ) -> (Option<Comment>, bool) {
        if !matches!(
            self.kind(),
            TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_)
        ) {
            // Something else follows on the line (or a `;`): the caller reports it.
            return (None, false);
        }
        let mut comment = self.line_end();
        if let Some(last) = clauses.last_mut() {
            last.comment = comment.take();
        }
        while self.clause_starts(which) {
            let first = clauses.len();
            if self.clauses_on_line(clauses, which, true).is_none() {
                self.skip_line();
                continue;
            }
            if clauses.len() == first {
                break;
            }
            let line_comment = self.line_end();
            if let Some(last) = clauses.last_mut() {
                last.comment = line_comment;
            }
        }
        (comment, true)
    }

    /// Whether the current line starts with a clause of `which`.
    fn clause_starts(&self, which: Clauses) -> bool {
        if self.nth(1).kind == TokenKind::Eq {
            return false;
        }
        let any = which == Clauses::Approval;
        self.at_word("TIMEOUT")
            || (self.at_word("ON") && self.word_at(1, "TIMEOUT"))
            || (any
                && (self.at_word("MESSAGE")
                    || self.at_word("REQUIRE")
                    || self.at_word("VIA")
                    || (self.at_word("ON") && self.word_at(1, "DENY"))))
    }

    /// The clauses on the rest of the current line. `None` after a malformed clause (reported).
    fn clauses_on_line(
        &mut self,
        clauses: &mut Vec<Clause>,
        which: Clauses,
        own_line: bool,
    ) -> Option<()> {
        let mut first = own_line;
        while self.clause_starts(which) {
            let start = self.tok().span.start;
            let kind = self.clause(which)?;
            clauses.push(Clause {
                kind,
                span: self.span_from(start),
                own_line: first,
                comment: None,
            });
            first = false;
        }
        Some(())
    }

    fn clause(&mut self, which: Clauses) -> Option<ClauseKind> {
        let token = self.bump();
        let word = self.text(token).to_ascii_uppercase();
        let kind = match word.as_str() {
            "TIMEOUT" => {
                if self.at_stmt_end() {
                    self.report(timeout_without_value(token.span));
                    return None;
                }
                ClauseKind::Timeout(self.expr())
            }
            "MESSAGE" => ClauseKind::Message(self.expr()),
            "REQUIRE" => ClauseKind::Require(self.expr()),
            "VIA" => ClauseKind::Via(self.expr()),
            _ => {
                // `ON TIMEOUT:` / `ON DENY:`
                let deny = self.at_word("DENY");
                self.bump();
                self.eat(TokenKind::Colon);
                if deny {
                    if !self.eat_word("CONTINUE") {
                        self.expected("CONTINUE after `ON DENY:`");
                        return None;
                    }
                    ClauseKind::OnDenyContinue
                } else {
                    ClauseKind::OnTimeout(self.timeout_action(which)?)
                }
            }
        };
        Some(kind)
    }

    fn timeout_action(&mut self, which: Clauses) -> Option<TimeoutAction> {
        if self.eat_word("ESCALATE") {
            if !self.eat_word("TO") {
                self.expected("TO after ESCALATE");
                return None;
            }
            return Some(TimeoutAction::Escalate(self.expr()));
        }
        if which == Clauses::Approval && self.eat_word("REJECT") {
            let mut words: Vec<&str> = Vec::new();
            while self.kind() == TokenKind::Word && !self.clause_starts(which) {
                let token = self.bump();
                words.push(self.text(token));
            }
            return Some(TimeoutAction::Reject(
                (!words.is_empty()).then(|| words.join(" ")),
            ));
        }
        if which == Clauses::Approval && self.eat_word("APPROVE") {
            let warning = self.at_word("WITH") && self.word_at(1, "WARNING");
            if warning {
                self.bump_n(2);
            }
            return Some(TimeoutAction::Approve { warning });
        }
        if which == Clauses::Wait && self.eat_word("FAIL") {
            return Some(TimeoutAction::Fail);
        }
        if which == Clauses::Wait && self.eat_word("CONTINUE") {
            return Some(TimeoutAction::Continue);
        }
        let expected = match which {
            Clauses::Approval => "ESCALATE TO, REJECT or APPROVE after `ON TIMEOUT:`",
            Clauses::Wait => "ESCALATE TO, FAIL or CONTINUE after `ON TIMEOUT:`",
        };
        self.expected(expected);
        None
    }

    pub(crate) fn parallel(&mut self) -> Partial {
        let opener = self.bump().span;
        let comment = self.line_end();
        let open = || OpenBlock {
            closers: PARALLEL_CLOSERS,
            keyword: "PARALLEL",
            close_with: "END PARALLEL",
            span: opener,
        };
        let mut branches = Vec::new();
        let trailing;
        let mut join = Join::All;
        let mut end_comment = None;
        // Where the last block branch's body ended, when that already is the next line to handle.
        let mut pending: Option<BlockEnd> = None;
        loop {
            let (between, end) = match pending.take() {
                Some(end) => (Vec::new(), end),
                None => self.block_in(open()),
            };
            self.only_trivia(&between);
            match end {
                BlockEnd::Closer(Closer::Branch) => {
                    let (branch, after) = self.branch(between);
                    branches.push(branch);
                    pending = after;
                }
                BlockEnd::Closer(_) => {
                    trailing = between;
                    self.end_parallel(&mut join, &mut end_comment);
                    break;
                }
                other => {
                    trailing = between;
                    self.unclosed("PARALLEL", "END PARALLEL", opener, other);
                    break;
                }
            }
        }
        let kind = StmtKind::Parallel(Parallel {
            branches,
            join,
            trailing,
        });
        Partial {
            kind,
            comment,
            end_comment,
            line_done: true,
        }
    }

    /// Reports statements other than comments and blank lines where only branches belong.
    fn only_trivia(&mut self, stmts: &[Stmt]) {
        for stmt in stmts {
            if !matches!(
                stmt.kind,
                StmtKind::Blank | StmtKind::Comment(_) | StmtKind::Error
            ) {
                self.report(
                    Diagnostic::new(
                        Code::InvalidParallel,
                        stmt.span,
                        "only BRANCH blocks may stand inside PARALLEL",
                    )
                    .with_hint("put this statement inside a BRANCH, or before the PARALLEL"),
                );
            }
        }
    }

    /// `END PARALLEL [WAIT ANY | WAIT n]`.
    fn end_parallel(&mut self, join: &mut Join, end_comment: &mut Option<Comment>) {
        self.eat_closer(Closer::EndParallel);
        if self.eat_word("WAIT") {
            if self.eat_word("ANY") {
                *join = Join::Any;
            } else if self.at_stmt_end() {
                self.expected("ANY or a number of branches after WAIT");
            } else {
                *join = Join::Count(self.expr());
            }
        }
        *end_comment = self.line_end();
    }

    /// One `BRANCH label:` with its body. Returns where a block branch ended
    /// when that was not its own `END BRANCH` (`None` otherwise).
    fn branch(&mut self, leading: Vec<Stmt>) -> (Branch, Option<BlockEnd>) {
        let start = self.bump().span;
        let label_token = self.bump();
        let label = Ident {
            name: self.text(label_token).to_string(),
            span: label_token.span,
        };
        if !self.eat(TokenKind::Colon) {
            self.expected(&format!("`:` after `BRANCH {}`", label.name));
        }
        let mut branch = Branch {
            leading,
            label,
            body: Vec::new(),
            inline: false,
            explicit_end: false,
            comment: None,
            span: start,
        };
        if !matches!(
            self.kind(),
            TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_)
        ) {
            let body_start = self.tok().span.start;
            let mut partial = self.nested_partial();
            if !partial.line_done {
                partial.comment = self.line_end();
            }
            branch.body = vec![self.stmt(body_start, partial)];
            branch.inline = true;
            branch.span = self.span_from(start.start);
            return (branch, None);
        }
        branch.comment = self.line_end();
        let (body, end) = self.block_in(OpenBlock {
            closers: BRANCH_CLOSERS,
            keyword: "BRANCH",
            close_with: "END BRANCH",
            span: start,
        });
        branch.body = body;
        branch.span = self.span_from(start.start);
        match end {
            BlockEnd::Closer(Closer::EndBranch) => {
                self.eat_closer(Closer::EndBranch);
                branch.explicit_end = true;
                // The tree has no place for a comment on `END BRANCH`; it is dropped.
                self.line_end();
                (branch, None)
            }
            other => (branch, Some(other)),
        }
    }

    /// `BRANCH` outside `PARALLEL`: `E008`; an inline body is still parsed.
    pub(crate) fn stray_branch(&mut self) -> Partial {
        let span = Span::new(self.tok().span.start, self.nth(1).span.end);
        self.report(
            Diagnostic::new(
                Code::BranchOutsideParallel,
                span,
                "BRANCH outside a PARALLEL block",
            )
            .with_hint("put the branches between `PARALLEL` and `END PARALLEL`"),
        );
        self.bump_n(2);
        self.eat(TokenKind::Colon);
        if matches!(
            self.kind(),
            TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_)
        ) {
            let comment = self.line_end();
            return Partial {
                kind: StmtKind::Error,
                comment,
                end_comment: None,
                line_done: true,
            };
        }
        self.nested_partial()
    }

    /// `PUBLISH EVENT "name" [WITH data] [FOR key] [TO "bot"]`, clauses in any order.
    pub(crate) fn publish_event(&mut self) -> Partial {
        self.bump_n(2);
        let name = self.expr();
        let mut publish = PublishEvent {
            name,
            data: None,
            key: None,
            to: None,
        };
        loop {
            let which = if self.at_word("WITH") {
                0
            } else if self.at_word("FOR") {
                1
            } else if self.at_word("TO") {
                2
            } else {
                break;
            };
            let clause = self.bump();
            let value = self.expr();
            let slot = match which {
                0 => &mut publish.data,
                1 => &mut publish.key,
                _ => &mut publish.to,
            };
            if slot.is_some() {
                let word = self.text(clause).to_ascii_uppercase();
                self.report(Diagnostic::new(
                    Code::UnexpectedToken,
                    clause.span,
                    format!("{word} is given twice"),
                ));
            }
            *slot = Some(value);
        }
        Partial::simple(StmtKind::PublishEvent(publish))
    }

    /// `ON EVENT "name" DO` … `END ON`.
    pub(crate) fn on_event(&mut self) -> Partial {
        let opener = self.tok().span;
        self.bump_n(2);
        let name = self.expr();
        self.eat_word("DO");
        let comment = self.line_end();
        let (body, end) = self.block_in(OpenBlock {
            closers: ON_CLOSERS,
            keyword: "ON EVENT",
            close_with: "END ON",
            span: opener,
        });
        let end_comment = match end {
            BlockEnd::Closer(closer) => {
                self.eat_closer(closer);
                self.line_end()
            }
            end => {
                self.unclosed("ON EVENT", "END ON", opener, end);
                None
            }
        };
        Partial {
            kind: StmtKind::OnEvent { name, body },
            comment,
            end_comment,
            line_done: true,
        }
    }
}

/// `E011` for a `TIMEOUT` with nothing after it.
fn timeout_without_value(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::MalformedTimeout,
        span,
        "TIMEOUT needs a number of seconds",
    )
    // The checker refuses duration strings after TIMEOUT, so the hint offers none.
    .with_hint("write a number of seconds, as in `TIMEOUT 1800` for 30 minutes")
}
