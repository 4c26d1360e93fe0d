//! The formatter: writes a [`Program`] back in the canonical style.
//!
//! Keywords are upper case, blocks are indented by two spaces, comments and
//! blank-line groups stay where they were (a [`StmtKind::Blank`] prints one
//! empty line), string literals are written exactly as they were read, and
//! expressions use the canonical operator spellings (see [`expr`]).
//!
//! Invariant: for a tree the parser produced without errors, formatting and
//! parsing again gives the same tree (spans aside), and formatting is
//! idempotent. `tests/format.rs` and `tests/format_props.rs` check both.

mod expr;

use crate::ast::{
    AddBotWith, Approval, Approvers, BotCall, Branch, CasePattern, Clause, ClauseKind, Comment,
    CommentMarker, Expr, Generic, HearType, HttpMethod, If, Join, KeywordExpr, LoopKind, OnError,
    Parallel, Param, Procedure, Program, PublishEvent, Select, SetupKind, Stmt, StmtKind,
    TimeoutAction, WaitForEvent,
};
use expr::{write_expr, write_list};

/// Formats a program. The caller must only format programs without parse errors;
/// an [`StmtKind::Error`] node prints as a `' <unformattable>` comment line.
pub fn format(program: &Program) -> String {
    let mut printer = Printer::default();
    printer.block(&program.body, 0);
    printer.out
}

const INDENT: &str = "  ";

#[derive(Default)]
struct Printer {
    out: String,
    /// Text that goes before the next line's own text, on the same line
    /// (`STEP 4: ` before `PARALLEL`, `BRANCH A: ` before a statement).
    prefix: String,
}

/// One line of a statement being assembled: its text and the comment that ends it.
struct Line<'a> {
    text: String,
    comment: Option<&'a Comment>,
}

impl<'a> Line<'a> {
    fn new(text: String, comment: Option<&'a Comment>) -> Line<'a> {
        Line { text, comment }
    }
}

impl Printer {
    fn block(&mut self, block: &[Stmt], indent: usize) {
        for stmt in block {
            self.stmt(stmt, indent);
        }
    }

    /// Writes one line: indentation, any pending prefix, the text, and the comment after two spaces.
    fn line(&mut self, indent: usize, text: &str, comment: Option<&Comment>) {
        let prefix = std::mem::take(&mut self.prefix);
        let mut content = prefix;
        content.push_str(text);
        if let Some(comment) = comment {
            if !content.is_empty() {
                content.push_str("  ");
            }
            push_comment(&mut content, comment);
        }
        let content = content.trim_end();
        if !content.is_empty() {
            for _ in 0..indent {
                self.out.push_str(INDENT);
            }
            self.out.push_str(content);
        }
        self.out.push('\n');
    }

    fn stmt(&mut self, stmt: &Stmt, indent: usize) {
        let comment = stmt.comment.as_ref();
        let end_comment = stmt.end_comment.as_ref();
        match &stmt.kind {
            StmtKind::Blank => self.line(indent, "", None),
            StmtKind::Comment(own) => self.line(indent, "", Some(own)),
            StmtKind::With { object, body } => self.block_stmt(
                indent,
                &format!("WITH {}", object.name),
                comment,
                body,
                "END WITH",
                end_comment,
            ),
            StmtKind::If(if_) => self.if_stmt(if_, indent, comment, end_comment),
            StmtKind::Select(select) => self.select(select, indent, comment, end_comment),
            StmtKind::ForEach {
                var,
                iterable,
                body,
            } => {
                let head = format!("FOR EACH {} IN {}", var.name, expr(iterable));
                self.block_stmt(
                    indent,
                    &head,
                    comment,
                    body,
                    &format!("NEXT {}", var.name),
                    end_comment,
                )
            }
            StmtKind::ForTo {
                var,
                from,
                to,
                step,
                body,
            } => {
                let mut head = format!("FOR {} = {} TO {}", var.name, expr(from), expr(to));
                if let Some(step) = step {
                    head.push_str(" STEP ");
                    write_expr(&mut head, step);
                }
                self.block_stmt(
                    indent,
                    &head,
                    comment,
                    body,
                    &format!("NEXT {}", var.name),
                    end_comment,
                )
            }
            StmtKind::While {
                cond,
                until: false,
                body,
            } => self.block_stmt(
                indent,
                &format!("WHILE {}", expr(cond)),
                comment,
                body,
                "WEND",
                end_comment,
            ),
            StmtKind::While {
                cond,
                until: true,
                body,
            } => self.block_stmt(
                indent,
                &format!("DO UNTIL {}", expr(cond)),
                comment,
                body,
                "LOOP",
                end_comment,
            ),
            StmtKind::DoLoop { body, cond } => {
                let end = match cond {
                    None => "LOOP".to_string(),
                    Some(cond) => {
                        format!(
                            "LOOP {} {}",
                            if cond.until { "UNTIL" } else { "WHILE" },
                            expr(&cond.cond)
                        )
                    }
                };
                self.block_stmt(indent, "DO", comment, body, &end, end_comment)
            }
            StmtKind::Sub(procedure) => {
                self.procedure("SUB", procedure, indent, comment, end_comment)
            }
            StmtKind::Function(procedure) => {
                self.procedure("FUNCTION", procedure, indent, comment, end_comment)
            }
            StmtKind::TalkBlock { lines } => {
                self.line(indent, "BEGIN TALK", comment);
                for line in lines {
                    self.line(indent + 1, &line.raw, None);
                }
                self.line(indent, "END TALK", end_comment);
            }
            StmtKind::SystemPrompt { lines } => {
                self.line(indent, "BEGIN SYSTEM PROMPT", comment);
                for line in lines {
                    self.line(indent + 1, line, None);
                }
                self.line(indent, "END SYSTEM PROMPT", end_comment);
            }
            StmtKind::Workflow(workflow) => {
                self.line(
                    indent,
                    &format!("ORCHESTRATE WORKFLOW {}", expr(&workflow.name)),
                    comment,
                );
                self.block(&workflow.body, indent + 1);
                if workflow.closed {
                    self.line(indent, "END WORKFLOW", end_comment);
                }
            }
            StmtKind::Step(step) => {
                self.prefix.push_str(&format!("STEP {}: ", step.number));
                // The comments of the step's lines may be kept by the step or by its body.
                if (comment.is_some() && step.body.comment.is_none())
                    || (end_comment.is_some() && step.body.end_comment.is_none())
                {
                    let mut body = (*step.body).clone();
                    body.comment = body.comment.or_else(|| stmt.comment.clone());
                    body.end_comment = body.end_comment.or_else(|| stmt.end_comment.clone());
                    self.stmt(&body, indent);
                } else {
                    self.stmt(&step.body, indent);
                }
            }
            StmtKind::HumanApproval(approval) => {
                self.clauses(indent, approval_head(approval), comment, &approval.clauses)
            }
            StmtKind::Parallel(parallel) => self.parallel(parallel, indent, comment, end_comment),
            StmtKind::OnEvent { name, body } => self.block_stmt(
                indent,
                &format!("ON EVENT {} DO", expr(name)),
                comment,
                body,
                "END ON",
                end_comment,
            ),
            StmtKind::WaitForEvent(wait) => {
                self.clauses(indent, wait_head(wait), comment, &wait.clauses)
            }
            StmtKind::AssignKeyword {
                target,
                value,
                has_let,
            } => {
                let mut head = assign_head(target, *has_let);
                match value {
                    KeywordExpr::WaitForEvent(wait) => {
                        head.push_str(&wait_head(wait));
                        self.clauses(indent, head, comment, &wait.clauses)
                    }
                    other => {
                        head.push_str(&keyword_expr(other));
                        self.line(indent, &head, comment)
                    }
                }
            }
            StmtKind::Error => self.line(indent, "' <unformattable>", None),
            simple => {
                let text = simple_stmt(simple);
                self.line(indent, &text, comment)
            }
        }
    }

    /// An opener line, an indented body and a closer line.
    fn block_stmt(
        &mut self,
        indent: usize,
        head: &str,
        comment: Option<&Comment>,
        body: &[Stmt],
        end: &str,
        end_comment: Option<&Comment>,
    ) {
        self.line(indent, head, comment);
        self.block(body, indent + 1);
        self.line(indent, end, end_comment);
    }

    fn procedure(
        &mut self,
        keyword: &str,
        procedure: &Procedure,
        indent: usize,
        comment: Option<&Comment>,
        end_comment: Option<&Comment>,
    ) {
        let params: Vec<&str> = procedure.params.iter().map(|p| p.name.as_str()).collect();
        let head = format!("{keyword} {}({})", procedure.name.name, params.join(", "));
        self.block_stmt(
            indent,
            &head,
            comment,
            &procedure.body,
            &format!("END {keyword}"),
            end_comment,
        )
    }

    fn if_stmt(
        &mut self,
        if_: &If,
        indent: usize,
        comment: Option<&Comment>,
        end_comment: Option<&Comment>,
    ) {
        if if_.inline
            && let Some(text) = inline_if(if_)
        {
            return self.line(indent, &text, comment);
        }
        // `IF c THEN ORCHESTRATE WORKFLOW "w"` with no `END WORKFLOW`: the
        // workflow, and so the IF, runs to the end of the file. Written as a
        // block IF it would have to close there, and a line left open at
        // the end of the file (`a + {`) would then swallow the closers.
        if if_.inline
            && if_.else_body.is_none()
            && let [arm] = if_.arms.as_slice()
            && let [stmt] = arm.body.as_slice()
            && matches!(&stmt.kind, StmtKind::Workflow(workflow) if !workflow.closed)
        {
            self.prefix
                .push_str(&format!("IF {} THEN ", expr(&arm.cond)));
            return self.stmt(stmt, indent);
        }
        for (i, arm) in if_.arms.iter().enumerate() {
            let (keyword, arm_comment) = if i == 0 {
                ("IF", comment)
            } else {
                ("ELSEIF", arm.comment.as_ref())
            };
            self.line(
                indent,
                &format!("{keyword} {} THEN", expr(&arm.cond)),
                arm_comment,
            );
            self.block(&arm.body, indent + 1);
        }
        if let Some(else_body) = &if_.else_body {
            self.line(indent, "ELSE", if_.else_comment.as_ref());
            self.block(else_body, indent + 1);
        }
        self.line(indent, "END IF", end_comment);
    }

    fn select(
        &mut self,
        select: &Select,
        indent: usize,
        comment: Option<&Comment>,
        end_comment: Option<&Comment>,
    ) {
        let (head, default, end) = if select.switch {
            ("SWITCH", "DEFAULT", "END SWITCH")
        } else {
            ("SELECT CASE", "CASE ELSE", "END SELECT")
        };
        self.line(
            indent,
            &format!("{head} {}", expr(&select.subject)),
            comment,
        );
        self.block(&select.leading, indent + 1);
        for arm in &select.arms {
            let mut text = String::from("CASE ");
            for (i, pattern) in arm.patterns.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                match pattern {
                    CasePattern::Value(value) => write_expr(&mut text, value),
                    CasePattern::Range(low, high) => {
                        write_expr(&mut text, low);
                        text.push_str(" TO ");
                        write_expr(&mut text, high);
                    }
                    CasePattern::Is(op, value) => {
                        text.push_str("IS ");
                        text.push_str(op.as_str());
                        text.push(' ');
                        write_expr(&mut text, value);
                    }
                }
            }
            self.line(indent + 1, &text, arm.comment.as_ref());
            self.block(&arm.body, indent + 2);
        }
        if let Some(else_body) = &select.else_body {
            self.line(indent + 1, default, select.else_comment.as_ref());
            self.block(else_body, indent + 2);
        }
        self.line(indent, end, end_comment);
    }

    fn parallel(
        &mut self,
        parallel: &Parallel,
        indent: usize,
        comment: Option<&Comment>,
        end_comment: Option<&Comment>,
    ) {
        self.line(indent, "PARALLEL", comment);
        for branch in &parallel.branches {
            self.branch(branch, indent + 1);
        }
        self.block(&parallel.trailing, indent + 1);
        let end = match &parallel.join {
            Join::All => "END PARALLEL".to_string(),
            Join::Any => "END PARALLEL WAIT ANY".to_string(),
            Join::Count(count) => format!("END PARALLEL WAIT {}", expr(count)),
        };
        self.line(indent, &end, end_comment);
    }

    fn branch(&mut self, branch: &Branch, indent: usize) {
        self.block(&branch.leading, indent);
        let label = &branch.label.name;
        if branch.inline
            && let [body] = branch.body.as_slice()
        {
            self.prefix.push_str(&format!("BRANCH {label}: "));
            return self.stmt(body, indent);
        }
        self.line(indent, &format!("BRANCH {label}:"), branch.comment.as_ref());
        self.block(&branch.body, indent + 1);
        if branch.explicit_end {
            self.line(indent, "END BRANCH", None);
        }
    }

    /// A statement followed by clauses: each clause either continues the
    /// current line or starts its own line, one level deeper.
    fn clauses<'a>(
        &mut self,
        indent: usize,
        head: String,
        comment: Option<&'a Comment>,
        clauses: &'a [Clause],
    ) {
        let mut lines = vec![Line::new(head, comment)];
        for clause in clauses {
            let text = clause_text(&clause.kind);
            if clause.own_line {
                lines.push(Line::new(text, None));
            } else if let Some(current) = lines.last_mut() {
                current.text.push(' ');
                current.text.push_str(&text);
            }
            if let (Some(own), Some(current)) = (clause.comment.as_ref(), lines.last_mut()) {
                current.comment = Some(own);
            }
        }
        for (i, line) in lines.iter().enumerate() {
            self.line(
                if i == 0 { indent } else { indent + 1 },
                &line.text,
                line.comment,
            );
        }
    }
}

/// `IF c THEN stmt [ELSE stmt]` on one line, when the tree fits that form.
fn inline_if(if_: &If) -> Option<String> {
    let [arm] = if_.arms.as_slice() else {
        return None;
    };
    let [then] = arm.body.as_slice() else {
        return None;
    };
    let mut text = format!("IF {} THEN {}", expr(&arm.cond), inline_stmt(then)?);
    if let Some(else_body) = &if_.else_body {
        let [otherwise] = else_body.as_slice() else {
            return None;
        };
        text.push_str(" ELSE ");
        text.push_str(&inline_stmt(otherwise)?);
    }
    Some(text)
}

/// A statement that can stand inside a one-line `IF`: one line, no comment, no nested `IF`.
fn inline_stmt(stmt: &Stmt) -> Option<String> {
    if stmt.comment.is_some()
        || matches!(
            stmt.kind,
            StmtKind::If(_) | StmtKind::Blank | StmtKind::Comment(_)
        )
    {
        return None;
    }
    let mut printer = Printer::default();
    printer.stmt(stmt, 0);
    let text = printer.out.strip_suffix('\n')?;
    (!text.contains('\n')).then(|| text.to_string())
}

/// The text of a statement that always fits on one line.
fn simple_stmt(kind: &StmtKind) -> String {
    match kind {
        StmtKind::Assign {
            target,
            value,
            has_let,
        } => {
            let mut text = assign_head(target, *has_let);
            write_expr(&mut text, value);
            text
        }
        StmtKind::Exit(kind) => format!("EXIT {}", loop_word(*kind)),
        StmtKind::Continue(kind) => format!("CONTINUE {}", loop_word(*kind)),
        StmtKind::Call { name, args } => format!("CALL {}({})", name.name, list(args)),
        StmtKind::CallScript { path } => format!("CALL {}", expr(path)),
        StmtKind::Label(name) => format!("{}:", name.name),
        StmtKind::Goto(label) => format!("GOTO {}", label.name),
        StmtKind::Return(None) => "RETURN".to_string(),
        StmtKind::Return(Some(value)) => format!("RETURN {}", expr(value)),
        StmtKind::OnError(OnError::Goto(label)) => format!("ON ERROR GOTO {}", label.name),
        StmtKind::OnError(OnError::GotoZero) => "ON ERROR GOTO 0".to_string(),
        StmtKind::OnError(OnError::ResumeNext) => "ON ERROR RESUME NEXT".to_string(),
        StmtKind::Talk { to: None, message } => format!("TALK {}", expr(message)),
        StmtKind::Talk {
            to: Some(to),
            message,
        } => format!("TALK TO {}, {}", expr(to), expr(message)),
        StmtKind::Print(value) => format!("PRINT {}", expr(value)),
        StmtKind::Hear { var, as_type } => {
            format!("HEAR {}{}", expr(var), hear_type(as_type.as_ref()))
        }
        StmtKind::Wait(seconds) => format!("WAIT {}", expr(seconds)),
        StmtKind::SetBotMemory { key, value } => {
            format!("SET BOT MEMORY {}, {}", expr(key), expr(value))
        }
        StmtKind::Remember {
            key,
            value,
            duration,
        } => {
            let mut text = format!("REMEMBER {}, {}", expr(key), expr(value));
            if let Some(duration) = duration {
                text.push_str(", ");
                write_expr(&mut text, duration);
            }
            text
        }
        StmtKind::BotShareMemory { key, with_bot } => {
            format!("BOT SHARE MEMORY {} WITH {}", expr(key), expr(with_bot))
        }
        StmtKind::BotSyncMemory { from_bot } => format!("BOT SYNC MEMORY FROM {}", expr(from_bot)),
        StmtKind::Http { method, url, body } => http(*method, url, body.as_ref()),
        StmtKind::SetHeader { name, value } => {
            format!("SET HEADER {}, {}", expr(name), expr(value))
        }
        StmtKind::ClearHeaders => "CLEAR HEADERS".to_string(),
        StmtKind::SendMail { to, subject, body } => {
            format!("SEND MAIL {}, {}, {}", expr(to), expr(subject), expr(body))
        }
        StmtKind::Setup { kind, args } => setup(*kind, args),
        StmtKind::Param(param) => param_text(param),
        StmtKind::SetSchedule(schedule) => format!("SET SCHEDULE {}", expr(schedule)),
        StmtKind::TriggerOnEvent(name) => format!("TRIGGER ON EVENT {}", expr(name)),
        StmtKind::AddBot { bot, with } => {
            let mut text = format!("ADD BOT {}", expr(bot));
            if let Some((kind, value)) = with {
                let word = match kind {
                    AddBotWith::Trigger => "TRIGGER",
                    AddBotWith::Tools => "TOOLS",
                    AddBotWith::Schedule => "SCHEDULE",
                };
                text.push_str(&format!(" WITH {word} {}", expr(value)));
            }
            text
        }
        StmtKind::RemoveBot(bot) => format!("REMOVE BOT {}", expr(bot)),
        StmtKind::DelegateTo(bot) => format!("DELEGATE TO {}", expr(bot)),
        StmtKind::Bot(call) => bot_call(call),
        StmtKind::PublishEvent(publish) => publish_event(publish),
        StmtKind::Delay(duration) => format!("DELAY {}", expr(duration)),
        StmtKind::Expr(value) => expr(value),
        StmtKind::Generic(generic) => generic_text(generic),
        // Block statements and the ones with clauses are written by `Printer::stmt`.
        _ => "' <unformattable>".to_string(),
    }
}

fn keyword_expr(value: &KeywordExpr) -> String {
    match value {
        KeywordExpr::Llm {
            prompt,
            optimize_for,
            max_cost,
        } => {
            let mut text = format!("LLM {}", expr(prompt));
            if let Some(goal) = optimize_for {
                text.push_str(" WITH OPTIMIZE FOR ");
                write_expr(&mut text, goal);
            }
            if let Some(cost) = max_cost {
                text.push_str(" WITH MAX_COST ");
                write_expr(&mut text, cost);
            }
            text
        }
        KeywordExpr::HttpGet { url } => format!("GET {}", expr(url)),
        KeywordExpr::Http { method, url, body } => http(*method, url, body.as_ref()),
        KeywordExpr::GetBotMemory { key } => format!("GET BOT MEMORY {}", expr(key)),
        KeywordExpr::Recall { key } => format!("RECALL {}", expr(key)),
        KeywordExpr::Bot(call) => bot_call(call),
        KeywordExpr::WaitForEvent(wait) => {
            let mut text = wait_head(wait);
            for clause in &wait.clauses {
                text.push(' ');
                text.push_str(&clause_text(&clause.kind));
            }
            text
        }
        KeywordExpr::Hear { as_type } => format!("HEAR{}", hear_type(as_type.as_ref())),
        KeywordExpr::ListBots => "LIST BOTS".to_string(),
        KeywordExpr::Generic(generic) => generic_text(generic),
    }
}

fn assign_head(target: &Expr, has_let: bool) -> String {
    let mut text = String::from(if has_let { "LET " } else { "" });
    write_expr(&mut text, target);
    text.push_str(" = ");
    text
}

fn loop_word(kind: LoopKind) -> &'static str {
    match kind {
        LoopKind::For => "FOR",
        LoopKind::Do => "DO",
        LoopKind::While => "WHILE",
    }
}

fn hear_type(as_type: Option<&HearType>) -> String {
    match as_type {
        None => String::new(),
        Some(HearType::Named(name)) => format!(" AS {name}"),
        Some(HearType::Choices(choices)) => format!(" AS {}", expr(choices)),
    }
}

fn http(method: HttpMethod, url: &Expr, body: Option<&Expr>) -> String {
    let keyword = match method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE HTTP",
    };
    let mut text = format!("{keyword} {}", expr(url));
    if let Some(body) = body {
        text.push_str(", ");
        write_expr(&mut text, body);
    }
    text
}

fn setup(kind: SetupKind, args: &[Expr]) -> String {
    let keyword = match kind {
        SetupKind::UseKb => "USE KB",
        SetupKind::UseTool => "USE TOOL",
        SetupKind::AddTool => "ADD TOOL",
        SetupKind::ClearTools => "CLEAR TOOLS",
        SetupKind::SetContext => "SET CONTEXT",
        SetupKind::AddSuggestion => "ADD SUGGESTION",
        SetupKind::ClearSuggestions => "CLEAR SUGGESTIONS",
        SetupKind::Description => "DESCRIPTION",
    };
    match (kind, args) {
        (_, []) => keyword.to_string(),
        (SetupKind::AddSuggestion, [value, label]) => {
            format!("{keyword} {} AS {}", expr(value), expr(label))
        }
        _ => format!("{keyword} {}", list(args)),
    }
}

fn param_text(param: &Param) -> String {
    let mut text = format!("PARAM {}", param.name.name);
    if let Some(type_name) = &param.type_name {
        text.push_str(" AS ");
        text.push_str(type_name);
    }
    if let Some(example) = &param.example {
        text.push_str(" LIKE ");
        write_expr(&mut text, example);
    }
    if let Some(description) = &param.description {
        text.push_str(" DESCRIPTION ");
        write_expr(&mut text, description);
    }
    text
}

fn bot_call(call: &BotCall) -> String {
    let mut text = format!("BOT {} {}", expr(&call.bot), expr(&call.action));
    for (word, value) in [
        ("INTO", &call.into),
        ("WITH", &call.with),
        ("TIMEOUT", &call.timeout),
        ("RETRY", &call.retry),
        ("CACHE", &call.cache),
    ] {
        if let Some(value) = value {
            text.push(' ');
            text.push_str(word);
            text.push(' ');
            write_expr(&mut text, value);
        }
    }
    text
}

fn approval_head(approval: &Approval) -> String {
    match &approval.from {
        Approvers::People(people) => format!("HUMAN APPROVAL FROM {}", list(people)),
        Approvers::Group(group) => format!("HUMAN APPROVAL FROM GROUP {}", expr(group)),
    }
}

fn wait_head(wait: &WaitForEvent) -> String {
    let mut text = format!("WAIT FOR EVENT {}", expr(&wait.name));
    if let Some(key) = &wait.key {
        text.push_str(" FOR ");
        write_expr(&mut text, key);
    }
    text
}

fn publish_event(publish: &PublishEvent) -> String {
    let mut text = format!("PUBLISH EVENT {}", expr(&publish.name));
    for (word, value) in [
        ("WITH", &publish.data),
        ("FOR", &publish.key),
        ("TO", &publish.to),
    ] {
        if let Some(value) = value {
            text.push(' ');
            text.push_str(word);
            text.push(' ');
            write_expr(&mut text, value);
        }
    }
    text
}

fn clause_text(kind: &ClauseKind) -> String {
    match kind {
        ClauseKind::Timeout(seconds) => format!("TIMEOUT {}", expr(seconds)),
        ClauseKind::OnTimeout(action) => {
            let action = match action {
                TimeoutAction::Escalate(who) => format!("ESCALATE TO {}", expr(who)),
                TimeoutAction::Reject(None) => "REJECT".to_string(),
                TimeoutAction::Reject(Some(words)) => format!("REJECT {words}"),
                TimeoutAction::Approve { warning: false } => "APPROVE".to_string(),
                TimeoutAction::Approve { warning: true } => "APPROVE WITH WARNING".to_string(),
                TimeoutAction::Fail => "FAIL".to_string(),
                TimeoutAction::Continue => "CONTINUE".to_string(),
            };
            format!("ON TIMEOUT: {action}")
        }
        ClauseKind::Message(message) => format!("MESSAGE {}", expr(message)),
        ClauseKind::Require(count) => format!("REQUIRE {}", expr(count)),
        ClauseKind::Via(channel) => format!("VIA {}", expr(channel)),
        ClauseKind::OnDenyContinue => "ON DENY: CONTINUE".to_string(),
    }
}

fn generic_text(generic: &Generic) -> String {
    let rest = match &generic.rest {
        Some(rest) => rest.clone(),
        None => list(&generic.args),
    };
    if rest.is_empty() {
        generic.keyword.clone()
    } else {
        format!("{} {rest}", generic.keyword)
    }
}

fn push_comment(out: &mut String, comment: &Comment) {
    out.push_str(match comment.marker {
        CommentMarker::Quote => "'",
        CommentMarker::Rem => "REM",
        CommentMarker::Slashes => "//",
        CommentMarker::Hash => "#",
    });
    if !comment.text.is_empty() {
        out.push(' ');
        out.push_str(&comment.text);
    }
}

fn expr(value: &Expr) -> String {
    let mut text = String::new();
    write_expr(&mut text, value);
    text
}

fn list(items: &[Expr]) -> String {
    let mut text = String::new();
    write_list(&mut text, items);
    text
}
