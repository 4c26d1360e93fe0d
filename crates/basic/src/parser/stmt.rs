//! Statements of General Bots BASIC (`LANGUAGE.md` §3): dispatch on the
//! first words of a line, control-flow blocks, and the one-line statements.

use super::{BlockEnd, Closer, OpenBlock, Parser, Partial};
use crate::ast::{
    AddBotWith, BinaryOp, CaseArm, CasePattern, Expr, ExprKind, Generic, HearType, HttpMethod, If,
    IfArm, KeywordExpr, LoopCond, LoopKind, OnError, Param, Procedure, Select, SetupKind, StmtKind,
    StrLit,
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
        let saved_pos = self.pos;
        let saved_diagnostics = self.diagnostics.len();
        let saved_end = self.last_end;
        let target = self.place()?;
        if self.kind() != TokenKind::Eq {
            self.pos = saved_pos;
            self.diagnostics.truncate(saved_diagnostics);
            self.last_end = saved_end;
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

    // ---- Control flow -----------------------------------------------------------

    fn if_stmt(&mut self) -> Partial {
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
    fn inline_if(&mut self, cond: Expr) -> Partial {
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

    fn select_stmt(&mut self) -> Partial {
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

    fn for_stmt(&mut self) -> Partial {
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
    fn close_block(
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

    fn while_stmt(&mut self) -> Partial {
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

    fn do_stmt(&mut self) -> Partial {
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

    fn loop_control(&mut self) -> Partial {
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

    fn procedure(&mut self) -> Partial {
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

    fn with_block(&mut self) -> Partial {
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
            let saved_pos = self.pos;
            let saved_diagnostics = self.diagnostics.len();
            let saved_end = self.last_end;
            let expr = self.expr();
            if self.at_stmt_end() && matches!(expr.kind, ExprKind::Call { .. }) {
                return Partial::simple(StmtKind::Expr(expr));
            }
            self.pos = saved_pos;
            self.diagnostics.truncate(saved_diagnostics);
            self.last_end = saved_end;
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
        let saved_pos = self.pos;
        let saved_diagnostics = self.diagnostics.len();
        let saved_end = self.last_end;
        let args = self.args();
        if self.at_stmt_end() && self.diagnostics.len() == saved_diagnostics {
            return Generic {
                keyword,
                keyword_span,
                args,
                rest: None,
            };
        }
        // Not a list of expressions: keep the text as written, up to a comment.
        self.pos = saved_pos;
        self.diagnostics.truncate(saved_diagnostics);
        self.last_end = saved_end;
        let start = self.tok().span.start;
        while !matches!(
            self.kind(),
            TokenKind::Newline | TokenKind::Eof | TokenKind::Comment(_)
        ) {
            let token = self.bump();
            self.lexical_error(token);
        }
        let rest = self.src[start as usize..self.last_end.max(start) as usize]
            .trim()
            .to_string();
        Generic {
            keyword,
            keyword_span,
            args: Vec::new(),
            rest: Some(rest),
        }
    }
}
