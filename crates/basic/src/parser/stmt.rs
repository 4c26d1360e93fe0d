//! Statements of General Bots BASIC (`LANGUAGE.md` §3): dispatch on the
//! first words of a line, assignments, keyword expressions and the one-line
//! statements. Block statements are in `control.rs` and `orchestration.rs`.

use super::{BlockEnd, Closer, Parser, Partial};
use crate::ast::{
    AddBotWith, Expr, ExprKind, Generic, HearType, HttpMethod, KeywordExpr, OnError, Param,
    SetupKind, StmtKind, StrLit,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::{Token, TokenKind};

/// Statement keywords followed by an expression.
const EXPRESSION_KEYWORDS: &[&str] = &[
    "IF", "WHILE", "TALK", "PRINT", "RETURN", "WAIT", "DELAY", "SELECT", "SWITCH",
];

/// Words that never start a generic keyword's argument list, so `x = a AND b` stays an expression.
const OPERATOR_WORDS: &[&str] = &[
    "AND", "OR", "MOD", "IN", "NOT", "THEN", "ELSE", "TO", "STEP",
];

impl Parser<'_> {
    /// Parses one statement, without the end of its (last) line unless it is a block.
    ///
    /// This function is on the recursion path of every nested block (`block` →
    /// `stmt_partial` → `if_stmt` → `block` ...), so it only dispatches: the
    /// statements that open blocks are parsed by their own functions and all
    /// one-line statements by [`Parser::line_stmt`]. Building the large
    /// statement nodes here would give it a frame of many kilobytes in debug
    /// builds, and `MAX_NESTING` levels of it would overflow a 2 MiB thread stack.
    pub(crate) fn stmt_partial(&mut self) -> Partial {
        let token = self.tok();
        if token.kind != TokenKind::Word {
            return self.non_word_statement();
        }
        // `x = ...`, `a.b = ...`, `a[i] = ...` assign whatever word `x` is.
        if let Some(partial) = self.try_assignment(false) {
            return partial;
        }
        // `label:` alone on its line.
        if self.nth(1).kind == TokenKind::Colon && self.next_ends_line(2) {
            return self.label();
        }
        let word = self.text(token);
        let is = |w: &str| word.eq_ignore_ascii_case(w);
        if is("IF") {
            self.if_stmt()
        } else if is("SELECT") || is("SWITCH") {
            self.select_stmt()
        } else if is("FOR") {
            self.for_stmt()
        } else if is("WHILE") {
            self.while_stmt()
        } else if is("DO") {
            self.do_stmt()
        } else if is("SUB") || is("FUNCTION") {
            self.procedure()
        } else if is("ON") {
            self.on_stmt()
        } else if is("WITH") && self.nth(1).kind == TokenKind::Word && self.next_ends_line(2) {
            self.with_block()
        } else if is("ORCHESTRATE") && self.word_at(1, "WORKFLOW") {
            self.workflow()
        } else if is("STEP") && matches!(self.nth(1).kind, TokenKind::Number | TokenKind::Word) {
            self.step()
        } else if is("PARALLEL") && self.next_ends_line(1) {
            self.parallel()
        } else if is("BRANCH") && matches!(self.nth(1).kind, TokenKind::Word | TokenKind::Number) {
            self.stray_branch()
        } else if is("STEP") || is("BRANCH") || (is("LET") && self.nth(1).kind != TokenKind::Word) {
            // These keywords' own forms did not match. They are not generic
            // keyword statements: formatted as one, the line would read as the
            // keyword's own form (`STEP ! x` would print as `STEP NOT x`).
            let what = if is("STEP") {
                "a step number after STEP"
            } else if is("BRANCH") {
                "a branch label after BRANCH"
            } else {
                "a variable after LET"
            };
            self.bump();
            self.expected(what);
            self.error_line()
        } else {
            self.line_stmt()
        }
    }

    /// `label:`
    #[inline(never)]
    fn label(&mut self) -> Partial {
        let label = self.ident();
        self.bump();
        Partial::simple(StmtKind::Label(label))
    }

    /// Parses a statement that opens no block and is no assignment or label.
    #[inline(never)]
    fn line_stmt(&mut self) -> Partial {
        let token = self.tok();
        let word = self.text(token).to_ascii_uppercase();
        match word.as_str() {
            "LET" if self.nth(1).kind == TokenKind::Word => {
                self.bump();
                match self.try_assignment(true) {
                    Some(partial) => partial,
                    None => {
                        self.expected("`=` after the variable");
                        self.error_line()
                    }
                }
            }
            "EXIT" | "CONTINUE" | "BREAK" => self.loop_control(),
            "CALL" => self.call_stmt(),
            "GOTO" => {
                self.bump();
                match self.expect_ident("a label after GOTO") {
                    Some(label) => Partial::simple(StmtKind::Goto(label)),
                    None => self.error_line(),
                }
            }
            "RETURN" => {
                self.bump();
                let value = if self.at_stmt_end() || self.at_word("ELSE") {
                    None
                } else {
                    Some(self.expr())
                };
                Partial::simple(StmtKind::Return(value))
            }
            "TALK" => self.talk(),
            "BEGIN"
                if self.word_at(1, "TALK")
                    || (self.word_at(1, "SYSTEM") && self.word_at(2, "PROMPT")) =>
            {
                self.raw_block()
            }
            "PRINT" => {
                self.bump();
                Partial::simple(StmtKind::Print(self.expr()))
            }
            "HEAR" => {
                self.bump();
                let Some(var) = self.place() else {
                    self.expected("a variable after HEAR");
                    return self.error_line();
                };
                let as_type = self.hear_type();
                Partial::simple(StmtKind::Hear { var, as_type })
            }
            "WAIT" if self.word_at(1, "FOR") && self.word_at(2, "EVENT") => {
                self.wait_for_event_stmt()
            }
            "WAIT" => {
                self.bump();
                Partial::simple(StmtKind::Wait(self.expr()))
            }
            "DELAY" => {
                self.bump();
                Partial::simple(StmtKind::Delay(self.expr()))
            }
            "SET" if self.word_at(1, "BOT") && self.word_at(2, "MEMORY") => {
                self.bump_n(3);
                let (key, value) = self.two_args("SET BOT MEMORY", "a key", "a value");
                Partial::simple(StmtKind::SetBotMemory { key, value })
            }
            "SET" if self.word_at(1, "HEADER") => {
                self.bump_n(2);
                let (name, value) = self.two_args("SET HEADER", "a header name", "a value");
                Partial::simple(StmtKind::SetHeader { name, value })
            }
            "SET" if self.word_at(1, "SCHEDULE") => {
                self.bump_n(2);
                Partial::simple(StmtKind::SetSchedule(self.expr()))
            }
            "SET" if self.word_at(1, "CONTEXT") => self.setup(2, SetupKind::SetContext),
            "REMEMBER" => {
                self.bump();
                let (key, value) = self.two_args("REMEMBER", "a key", "a value");
                let duration = if self.eat(TokenKind::Comma) {
                    Some(self.expr())
                } else {
                    None
                };
                Partial::simple(StmtKind::Remember {
                    key,
                    value,
                    duration,
                })
            }
            "BOT" if self.word_at(1, "SHARE") && self.word_at(2, "MEMORY") => {
                self.bump_n(3);
                let key = self.expr();
                let with_bot = if self.eat_word("WITH") {
                    self.expr()
                } else {
                    self.expected("`WITH \"bot\"` after the key");
                    return self.error_line();
                };
                Partial::simple(StmtKind::BotShareMemory { key, with_bot })
            }
            "BOT" if self.word_at(1, "SYNC") && self.word_at(2, "MEMORY") => {
                self.bump_n(3);
                if !self.eat_word("FROM") {
                    self.expected("`FROM \"bot\"` after BOT SYNC MEMORY");
                    return self.error_line();
                }
                Partial::simple(StmtKind::BotSyncMemory {
                    from_bot: self.expr(),
                })
            }
            "BOT" => match self.bot_call() {
                Some(call) => Partial::simple(StmtKind::Bot(call)),
                None => self.error_line(),
            },
            "POST" | "PUT" | "PATCH" if self.starts_value(1) => {
                let (method, url, body) = self.http();
                Partial::simple(StmtKind::Http { method, url, body })
            }
            "DELETE" if self.word_at(1, "HTTP") => {
                let (method, url, body) = self.http();
                Partial::simple(StmtKind::Http { method, url, body })
            }
            "CLEAR" if self.word_at(1, "HEADERS") => {
                self.bump_n(2);
                Partial::simple(StmtKind::ClearHeaders)
            }
            "CLEAR" if self.word_at(1, "TOOLS") => self.setup(2, SetupKind::ClearTools),
            "CLEAR" if self.word_at(1, "SUGGESTIONS") => self.setup(2, SetupKind::ClearSuggestions),
            "SEND" if self.word_at(1, "MAIL") => {
                self.bump_n(2);
                let to = self.expr();
                let subject = self.comma_expr("a subject");
                let body = self.comma_expr("a body");
                Partial::simple(StmtKind::SendMail { to, subject, body })
            }
            "USE" if self.word_at(1, "KB") => self.setup(2, SetupKind::UseKb),
            "USE" if self.word_at(1, "TOOL") => self.setup(2, SetupKind::UseTool),
            "ADD" if self.word_at(1, "TOOL") => self.setup(2, SetupKind::AddTool),
            "ADD" if self.word_at(1, "SUGGESTION") => {
                self.bump_n(2);
                let mut args = vec![self.expr()];
                if self.eat_word("AS") || self.eat(TokenKind::Comma) {
                    args.push(self.expr());
                }
                Partial::simple(StmtKind::Setup {
                    kind: SetupKind::AddSuggestion,
                    args,
                })
            }
            "ADD" if self.word_at(1, "BOT") => self.add_bot(),
            "DESCRIPTION" => self.setup(1, SetupKind::Description),
            "PARAM" => self.param(),
            "TRIGGER" if self.word_at(1, "ON") && self.word_at(2, "EVENT") => {
                self.bump_n(3);
                Partial::simple(StmtKind::TriggerOnEvent(self.expr()))
            }
            "REMOVE" if self.word_at(1, "BOT") => {
                self.bump_n(2);
                Partial::simple(StmtKind::RemoveBot(self.expr()))
            }
            "DELEGATE" if self.word_at(1, "TO") => {
                self.bump_n(2);
                Partial::simple(StmtKind::DelegateTo(self.expr()))
            }
            "HUMAN" if self.word_at(1, "APPROVAL") => self.approval(),
            "PUBLISH" if self.word_at(1, "EVENT") => self.publish_event(),
            _ => self.call_or_generic(),
        }
    }

    pub(crate) fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    /// An `Error` statement for a line that could not be parsed (already reported).
    pub(crate) fn error_line(&mut self) -> Partial {
        let comment = self.skip_line();
        Partial {
            kind: StmtKind::Error,
            comment,
            end_comment: None,
            line_done: true,
        }
    }

    fn non_word_statement(&mut self) -> Partial {
        // `.field = value` inside `WITH obj`.
        if self.kind() == TokenKind::Dot
            && self.nth(1).kind == TokenKind::Word
            && self.open.last().is_some_and(|open| open.keyword == "WITH")
        {
            self.bump();
            if let Some(partial) = self.try_assignment(false) {
                return partial;
            }
        }
        let token = self.tok();
        if !self.lexical_error(token) {
            let message = format!("expected a statement, found {}", self.describe(token));
            self.report(Diagnostic::new(Code::UnexpectedToken, token.span, message));
        }
        self.bump();
        self.error_line()
    }

    /// `target = value` where the target is a name with `.field`/`[index]`;
    /// `None` (nothing consumed) when the line is not an assignment.
    #[inline(never)]
    fn try_assignment(&mut self, has_let: bool) -> Option<Partial> {
        match self.nth(1).kind {
            TokenKind::Eq => {}
            TokenKind::Dot => {}
            // `IF [a] = b THEN`, `TALK [1, 2] = x`: a statement keyword, a blank,
            // then a list, is that statement with a list operand, not an
            // assignment to an element of a variable named like the keyword
            // (the formatter writes exactly these lines).
            TokenKind::LBracket
                if self.nth(1).span.start > self.tok().span.end
                    && EXPRESSION_KEYWORDS
                        .iter()
                        .any(|k| self.text(self.tok()).eq_ignore_ascii_case(k)) =>
            {
                return None;
            }
            TokenKind::LBracket => {}
            _ => return None,
        }
        let checkpoint = self.checkpoint();
        let target = self.place()?;
        if self.kind() != TokenKind::Eq {
            self.rewind(checkpoint);
            return None;
        }
        self.bump();
        self.skip_continuation();
        let kind = match self.keyword_expr() {
            Some(value) => StmtKind::AssignKeyword {
                target,
                value,
                has_let,
            },
            None => StmtKind::Assign {
                target,
                value: self.expr(),
                has_let,
            },
        };
        // `x = WAIT FOR EVENT ...` may take clause lines.
        if let StmtKind::AssignKeyword {
            value: KeywordExpr::WaitForEvent(wait),
            ..
        } = &kind
        {
            let mut clauses = wait.clauses.clone();
            let (comment, line_done) = self.clause_lines(&mut clauses, false);
            let mut kind = kind;
            if let StmtKind::AssignKeyword {
                value: KeywordExpr::WaitForEvent(wait),
                ..
            } = &mut kind
            {
                wait.clauses = clauses;
            }
            return Some(Partial {
                kind,
                comment,
                end_comment: None,
                line_done,
            });
        }
        Some(Partial::simple(kind))
    }

    /// Whether token `n` ahead can start a value (a generic keyword's argument).
    pub(crate) fn starts_value(&self, n: usize) -> bool {
        let token = self.nth(n);
        match token.kind {
            TokenKind::Str { .. } | TokenKind::Number | TokenKind::LBracket | TokenKind::LBrace => {
                true
            }
            TokenKind::Word => {
                let word = self.text(token);
                !OPERATOR_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))
            }
            _ => false,
        }
    }

    /// The right-hand side keyword expressions of `LANGUAGE.md` §2.
    fn keyword_expr(&mut self) -> Option<KeywordExpr> {
        if self.kind() != TokenKind::Word {
            return None;
        }
        let word = self.text(self.tok()).to_ascii_uppercase();
        let value = match word.as_str() {
            "LLM" if self.starts_value(1) || self.nth(1).kind == TokenKind::LParen => {
                self.bump();
                let prompt = self.expr();
                let mut optimize_for = None;
                let mut max_cost = None;
                while self.at_word("WITH") {
                    if self.word_at(1, "OPTIMIZE") && self.word_at(2, "FOR") {
                        self.bump_n(3);
                        optimize_for = Some(self.expr());
                    } else if self.word_at(1, "MAX_COST") {
                        self.bump_n(2);
                        max_cost = Some(self.expr());
                    } else {
                        break;
                    }
                }
                KeywordExpr::Llm {
                    prompt,
                    optimize_for,
                    max_cost,
                }
            }
            "GET" if self.word_at(1, "BOT") && self.word_at(2, "MEMORY") => {
                self.bump_n(3);
                KeywordExpr::GetBotMemory { key: self.expr() }
            }
            "GET" if self.starts_value(1) => {
                self.bump();
                KeywordExpr::HttpGet { url: self.expr() }
            }
            "RECALL" if self.starts_value(1) || self.nth(1).kind == TokenKind::LParen => {
                self.bump();
                KeywordExpr::Recall { key: self.expr() }
            }
            "BOT" if self.starts_value(1) => KeywordExpr::Bot(self.bot_call()?),
            "WAIT" if self.word_at(1, "FOR") && self.word_at(2, "EVENT") => {
                KeywordExpr::WaitForEvent(self.wait_for_event_head())
            }
            "HEAR" if self.next_ends_line(1) || self.word_at(1, "AS") => {
                self.bump();
                KeywordExpr::Hear {
                    as_type: self.hear_type(),
                }
            }
            "LIST" if self.word_at(1, "BOTS") => {
                self.bump_n(2);
                KeywordExpr::ListBots
            }
            "POST" | "PUT" | "PATCH" if self.starts_value(1) => {
                let (method, url, body) = self.http();
                KeywordExpr::Http { method, url, body }
            }
            "DELETE" if self.word_at(1, "HTTP") => {
                let (method, url, body) = self.http();
                KeywordExpr::Http { method, url, body }
            }
            _ if self.nth(1).kind != TokenKind::LParen
                && !["TRUE", "FALSE", "NULL", "NOT"].contains(&word.as_str())
                && self.starts_value(1)
                && self.nth(1).kind != TokenKind::LBracket =>
            {
                KeywordExpr::Generic(self.generic())
            }
            _ => return None,
        };
        Some(value)
    }

    fn hear_type(&mut self) -> Option<HearType> {
        if !self.eat_word("AS") {
            return None;
        }
        match self.kind() {
            TokenKind::Word => {
                let token = self.bump();
                Some(HearType::Named(self.text(token).to_ascii_uppercase()))
            }
            _ => Some(HearType::Choices(self.expr())),
        }
    }

    /// `POST url, data`, `PUT`, `PATCH`, `DELETE HTTP url`.
    fn http(&mut self) -> (HttpMethod, Expr, Option<Expr>) {
        let word = self.text(self.tok()).to_ascii_uppercase();
        let method = match word.as_str() {
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            "PATCH" => HttpMethod::Patch,
            _ => {
                self.bump();
                HttpMethod::Delete
            }
        };
        self.bump();
        let url = self.expr();
        let body = if self.eat(TokenKind::Comma) {
            self.skip_continuation();
            Some(self.expr())
        } else {
            None
        };
        (method, url, body)
    }

    /// `first, second` after a keyword.
    fn two_args(&mut self, keyword: &str, first: &str, second: &str) -> (Expr, Expr) {
        if self.at_stmt_end() {
            self.expected(&format!("{first} after {keyword}"));
        }
        let a = self.expr();
        let b = self.comma_expr(second);
        (a, b)
    }

    /// `, expr`, reporting a missing comma.
    fn comma_expr(&mut self, what: &str) -> Expr {
        if !self.eat(TokenKind::Comma) {
            self.expected(&format!("`,` and {what}"));
            let span = self.tok().span;
            return Expr {
                kind: ExprKind::Error,
                span,
            };
        }
        self.skip_continuation();
        self.expr()
    }

    fn setup(&mut self, words: usize, kind: SetupKind) -> Partial {
        self.bump_n(words);
        let args = self.args();
        Partial::simple(StmtKind::Setup { kind, args })
    }

    fn add_bot(&mut self) -> Partial {
        self.bump_n(2);
        let bot = self.expr();
        let with = if self.eat_word("WITH") {
            let kind = if self.eat_word("TRIGGER") {
                AddBotWith::Trigger
            } else if self.eat_word("TOOLS") {
                AddBotWith::Tools
            } else if self.eat_word("SCHEDULE") {
                AddBotWith::Schedule
            } else {
                self.expected("TRIGGER, TOOLS or SCHEDULE after WITH");
                return self.error_line();
            };
            Some((kind, self.expr()))
        } else {
            None
        };
        Partial::simple(StmtKind::AddBot { bot, with })
    }

    /// `PARAM name [AS TYPE] [LIKE "ex"] [DESCRIPTION "..."]`
    fn param(&mut self) -> Partial {
        self.bump();
        let Some(name) = self.expect_ident("a parameter name after PARAM") else {
            return self.error_line();
        };
        let mut param = Param {
            name,
            type_name: None,
            example: None,
            description: None,
        };
        loop {
            if self.eat_word("AS") {
                if self.kind() == TokenKind::Word {
                    let token = self.bump();
                    param.type_name = Some(self.text(token).to_ascii_uppercase());
                } else {
                    self.expected("a type name after AS");
                    return self.error_line();
                }
            } else if self.eat_word("LIKE") {
                param.example = Some(self.expr());
            } else if self.eat_word("DESCRIPTION") {
                param.description = Some(self.expr());
            } else {
                break;
            }
        }
        Partial::simple(StmtKind::Param(param))
    }

    fn talk(&mut self) -> Partial {
        self.bump();
        let to = if self.at_word("TO") && self.starts_value(1) {
            self.bump();
            let who = self.expr();
            if !self.eat(TokenKind::Comma) {
                self.expected("`,` and the message after TALK TO");
                return self.error_line();
            }
            self.skip_continuation();
            Some(who)
        } else {
            None
        };
        if self.at_stmt_end() {
            self.expected("a message after TALK");
            return self.error_line();
        }
        let message = self.expr();
        Partial::simple(StmtKind::Talk { to, message })
    }

    /// `BEGIN TALK` / `BEGIN SYSTEM PROMPT`, the raw lines, and the `END` line.
    fn raw_block(&mut self) -> Partial {
        let talk = self.word_at(1, "TALK");
        let opener = self.tok().span;
        self.bump_n(if talk { 2 } else { 3 });
        let comment = self.line_end();
        let mut talk_lines = Vec::new();
        let mut prompt_lines = Vec::new();
        while self.kind() == TokenKind::RawLine {
            let token = self.bump();
            let text = self.text(token);
            let trimmed = text.trim();
            let start = token.span.start as usize + (text.len() - text.trim_start().len());
            if talk {
                let parts = self.string_parts(start, start + trimmed.len(), false);
                talk_lines.push(StrLit {
                    raw: trimmed.to_string(),
                    parts,
                });
            } else {
                prompt_lines.push(trimmed.to_string());
            }
            self.eat(TokenKind::Newline);
        }
        let (closer, keyword, close_with) = if talk {
            (Closer::EndTalk, "BEGIN TALK", "END TALK")
        } else {
            (
                Closer::EndSystemPrompt,
                "BEGIN SYSTEM PROMPT",
                "END SYSTEM PROMPT",
            )
        };
        let end_comment = if self.closer_here() == Some(closer) {
            self.eat_closer(closer);
            self.line_end()
        } else {
            self.unclosed(keyword, close_with, opener, BlockEnd::Eof);
            None
        };
        let kind = if talk {
            StmtKind::TalkBlock { lines: talk_lines }
        } else {
            StmtKind::SystemPrompt {
                lines: prompt_lines,
            }
        };
        Partial {
            kind,
            comment,
            end_comment,
            line_done: true,
        }
    }

    fn call_stmt(&mut self) -> Partial {
        self.bump();
        if matches!(self.kind(), TokenKind::Str { .. }) {
            return Partial::simple(StmtKind::CallScript { path: self.expr() });
        }
        let Some(name) = self.expect_ident("a procedure name or a script file after CALL") else {
            return self.error_line();
        };
        let args = if self.eat(TokenKind::LParen) {
            let mut args = Vec::new();
            self.skip_continuation();
            if self.kind() != TokenKind::RParen {
                loop {
                    args.push(self.expr());
                    self.skip_continuation_before(&[TokenKind::RParen, TokenKind::Comma]);
                    if !self.eat(TokenKind::Comma) {
                        break;
                    }
                    self.skip_continuation();
                }
            }
            if !self.eat(TokenKind::RParen) {
                self.expected("`)` after the arguments");
                return self.error_line();
            }
            args
        } else {
            self.args()
        };
        Partial::simple(StmtKind::Call { name, args })
    }

    /// `ON ERROR ...` and `ON EVENT ... DO`.
    fn on_stmt(&mut self) -> Partial {
        if self.word_at(1, "ERROR") {
            self.bump_n(2);
            if self.eat_word("RESUME") {
                if !self.eat_word("NEXT") {
                    self.expected("NEXT after ON ERROR RESUME");
                    return self.error_line();
                }
                return Partial::simple(StmtKind::OnError(OnError::ResumeNext));
            }
            if !self.eat_word("GOTO") {
                self.expected("GOTO or RESUME NEXT after ON ERROR");
                return self.error_line();
            }
            if self.kind() == TokenKind::Number && self.text(self.tok()) == "0" {
                self.bump();
                return Partial::simple(StmtKind::OnError(OnError::GotoZero));
            }
            return match self.expect_ident("a label after ON ERROR GOTO") {
                Some(label) => Partial::simple(StmtKind::OnError(OnError::Goto(label))),
                None => self.error_line(),
            };
        }
        if self.word_at(1, "EVENT") {
            return self.on_event();
        }
        if self.word_at(1, "TIMEOUT") || self.word_at(1, "DENY") {
            let span = self.tok().span;
            self.report(
                Diagnostic::new(
                    Code::UnexpectedToken,
                    span,
                    "this clause belongs right under a HUMAN APPROVAL or WAIT FOR EVENT line",
                )
                .with_hint("move it to the line after the statement it belongs to, with no blank line between"),
            );
            return self.error_line();
        }
        self.call_or_generic()
    }

    /// A bare call statement (`Log(x)`) or a keyword statement botflow does not know.
    fn call_or_generic(&mut self) -> Partial {
        if self.nth(1).kind == TokenKind::LParen {
            let checkpoint = self.checkpoint();
            let expr = self.expr();
            if self.at_stmt_end() && matches!(expr.kind, ExprKind::Call { .. }) {
                return Partial::simple(StmtKind::Expr(expr));
            }
            self.rewind(checkpoint);
        }
        Partial::simple(StmtKind::Generic(self.generic()))
    }

    /// A keyword botflow does not know, with its arguments: the first word and
    /// any upper-case words after it are the keyword (`WEBSITE OF`); the rest
    /// is a list of expressions, or kept as written when it is not one.
    pub(crate) fn generic(&mut self) -> Generic {
        let first = self.bump();
        let mut keyword = self.text(first).to_ascii_uppercase();
        let mut keyword_span = first.span;
        while self.kind() == TokenKind::Word && self.nth(1).kind != TokenKind::LParen {
            let token = self.tok();
            let word = self.text(token);
            let all_caps = word.bytes().any(|b| b.is_ascii_uppercase())
                && !word.bytes().any(|b| b.is_ascii_lowercase())
                && !OPERATOR_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))
                && !["TRUE", "FALSE", "NULL"]
                    .iter()
                    .any(|w| word.eq_ignore_ascii_case(w));
            if !all_caps {
                break;
            }
            self.bump();
            keyword.push(' ');
            keyword.push_str(word);
            keyword_span = keyword_span.cover(token.span);
        }
        if self.at_stmt_end() {
            return Generic {
                keyword,
                keyword_span,
                args: Vec::new(),
                rest: None,
            };
        }
        let checkpoint = self.checkpoint();
        let args = self.args();
        if self.at_stmt_end() && !self.reported_since(checkpoint) {
            return Generic {
                keyword,
                keyword_span,
                args,
                rest: None,
            };
        }
        // Not a list of expressions: keep the text as written, up to a comment.
        // A line that ends with an operator, a comma or an open bracket goes on
        // on the next line here too, as it would in an expression; the parts
        // are joined by one blank so the formatter writes one line.
        self.rewind(checkpoint);
        let mut rest = String::new();
        let mut previous: Option<Token> = None;
        loop {
            match self.kind() {
                TokenKind::Eof => break,
                TokenKind::Newline | TokenKind::Comment(_)
                    if !previous.is_some_and(|p| continues_line(p.kind)) =>
                {
                    break;
                }
                TokenKind::Newline | TokenKind::Comment(_) => {
                    self.bump();
                    continue;
                }
                _ => {}
            }
            let token = self.bump();
            self.lexical_error(token);
            if previous.is_some_and(|p| p.span.end < token.span.start) {
                rest.push(' ');
            }
            rest.push_str(self.text(token));
            previous = Some(token);
        }
        Generic {
            keyword,
            keyword_span,
            args: Vec::new(),
            rest: Some(rest),
        }
    }
}

/// Whether a line that ends with this token goes on on the next line
/// (`LANGUAGE.md` §1): a binary operator, a comma or an open bracket.
fn continues_line(kind: TokenKind) -> bool {
    super::expr::binary_symbol(kind).is_some()
        || matches!(
            kind,
            TokenKind::Comma | TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace
        )
}
