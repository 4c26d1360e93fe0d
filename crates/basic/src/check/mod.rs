//! The checker: semantic diagnostics over a parsed [`Program`] (LANGUAGE.md §6).
//!
//! Two passes, both linear in the size of the tree: [`collect`] gathers what the
//! script defines (labels, procedures, assigned variables), then [`Checker`]
//! walks every statement and expression once and reports. The parser caps
//! nesting at [`crate::MAX_NESTING`], so plain recursion cannot exhaust the stack.
//!
//! The syntax errors (E001–E006, E008, E013) are the parser's; everything else
//! with a code in [`Code`] is reported here, except E024 (`decode`).

mod collect;
mod suggest;

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::ast::{
    Approval, Approvers, BotCall, Clause, ClauseKind, Expr, ExprKind, Generic, HearType, Join,
    KeywordExpr, LoopKind, ObjectKey, OnError, Parallel, Program, SetupKind, Step, Stmt, StmtKind,
    StrPart, TimeoutAction, UnaryOp, WaitForEvent, Workflow,
};
use crate::builtins::{BUILTINS, builtin};
use crate::diagnostic::{Code, Diagnostic};
use crate::schedule::{ACCEPTED_FORMS, parse_duration, parse_schedule};
use crate::span::Span;
use collect::{Facts, collect};
use suggest::closest;

/// What the checker may know about the deployment around a script.
#[derive(Clone, Debug, Default)]
pub struct CheckContext {
    /// The bots the deployment provides (package names, case-insensitive).
    /// `None` when unknown: then bot names are not checked.
    pub known_bots: Option<BTreeSet<String>>,
    /// Variables the caller sets before the script runs, such as a bot's
    /// `param-*` keys from `config.csv` (case-insensitive). Reading them is
    /// never W001.
    pub variables: BTreeSet<String>,
}

/// Checks a parsed program and returns its semantic diagnostics, in source order.
pub fn check(program: &Program, context: &CheckContext) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut facts = collect(program, &mut diagnostics);
    for name in &context.variables {
        facts.assigned.insert(name.to_lowercase());
    }
    let known_bots = context.known_bots.as_ref().map(|bots| {
        let mut names: Vec<&str> = bots.iter().map(String::as_str).collect();
        names.sort_by_key(|name| name.to_lowercase());
        KnownBots {
            folded: bots.iter().map(|b| b.to_lowercase()).collect(),
            names,
        }
    });
    let mut checker = Checker {
        facts: &facts,
        known_bots,
        diagnostics,
        workflow: None,
        first_workflow: None,
        loops: Loops::default(),
        params: Vec::new(),
        scratch: String::new(),
        unassigned_reported: HashSet::new(),
    };
    checker.block(&program.body);
    let mut diagnostics = checker.diagnostics;
    diagnostics.sort_by_key(|d| d.span.start);
    diagnostics
}

struct KnownBots<'a> {
    folded: HashSet<String>,
    /// The names as given, sorted ignoring case, for hints.
    names: Vec<&'a str>,
}

/// How many loops of each kind enclose the statement being checked.
#[derive(Clone, Copy, Default)]
struct Loops {
    for_: u32,
    do_: u32,
    while_: u32,
}

struct Checker<'a> {
    facts: &'a Facts,
    known_bots: Option<KnownBots<'a>>,
    diagnostics: Vec<Diagnostic>,
    /// The opening line of the workflow block being checked, if any.
    workflow: Option<Span>,
    first_workflow: Option<Span>,
    loops: Loops,
    /// The folded parameter names of the procedure being checked.
    params: Vec<String>,
    /// Reused for case folding, so look-ups do not allocate.
    scratch: String,
    /// The unassigned names already warned about (W001 comes once per name).
    unassigned_reported: HashSet<String>,
}

/// What a `TIMEOUT`, `DELAY` or `WAIT n` value is, when it is written as a literal.
enum Literal {
    Number(f64),
    Text(String),
    /// A literal that is neither: `TRUE`, `NULL`, a list, an object.
    Other(&'static str),
    /// Not a literal (a variable, a call, an interpolated string ...): not checked.
    Computed,
}

fn literal(expr: &Expr) -> Literal {
    match &expr.kind {
        ExprKind::Int(n) => Literal::Number(*n as f64),
        ExprKind::Float(x) => Literal::Number(*x),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => match literal(operand) {
            Literal::Number(x) => Literal::Number(-x),
            _ => Literal::Computed,
        },
        ExprKind::Paren(inner) => literal(inner),
        ExprKind::Str(lit) => match lit.plain_text() {
            Some(text) => Literal::Text(text),
            None => Literal::Computed,
        },
        ExprKind::Bool(_) => Literal::Other("a boolean"),
        ExprKind::Null => Literal::Other("NULL"),
        ExprKind::List(_) => Literal::Other("a list"),
        ExprKind::Object(_) => Literal::Other("an object"),
        _ => Literal::Computed,
    }
}

/// The plain text of a string literal without interpolation.
fn plain_string(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Str(lit) => lit.plain_text(),
        ExprKind::Paren(inner) => plain_string(inner),
        _ => None,
    }
}

/// `name` case-folded, borrowing when it already is (the common case).
fn fold<'s>(name: &'s str, scratch: &'s mut String) -> &'s str {
    if name
        .bytes()
        .all(|b| !b.is_ascii_uppercase() && b.is_ascii())
    {
        return name;
    }
    // The same folding as `Ident::key` (`str::to_lowercase`), so keys agree.
    scratch.clear();
    if name.is_ascii() {
        scratch.extend(name.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        scratch.push_str(&name.to_lowercase());
    }
    scratch
}

/// What people call a statement, for messages about it.
fn statement_name(kind: &StmtKind) -> &'static str {
    match kind {
        StmtKind::Blank => "a blank line",
        StmtKind::Comment(_) => "a comment",
        StmtKind::Label(_) => "a label",
        StmtKind::If(_) => "IF",
        StmtKind::Select(select) if select.switch => "SWITCH",
        StmtKind::Select(_) => "SELECT CASE",
        StmtKind::ForEach { .. } => "FOR EACH",
        StmtKind::ForTo { .. } => "FOR",
        StmtKind::While { until: false, .. } => "WHILE",
        StmtKind::While { until: true, .. } | StmtKind::DoLoop { .. } => "DO",
        StmtKind::Sub(_) => "SUB",
        StmtKind::Function(_) => "FUNCTION",
        StmtKind::Workflow(_) => "ORCHESTRATE WORKFLOW",
        StmtKind::OnEvent { .. } => "ON EVENT",
        StmtKind::With { .. } => "WITH",
        StmtKind::Step(_) => "STEP",
        _ => "this statement",
    }
}

fn loop_word(kind: LoopKind) -> &'static str {
    match kind {
        LoopKind::For => "FOR",
        LoopKind::Do => "DO",
        LoopKind::While => "WHILE",
    }
}

const STEP_BODIES: &str = "BOT, HUMAN APPROVAL, PARALLEL, PUBLISH EVENT, WAIT FOR EVENT, DELAY, WAIT, CALL, TALK, \
                           an assignment, BOT SHARE MEMORY, BOT SYNC MEMORY, SET BOT MEMORY, SEND MAIL or HTTP";

impl<'a> Checker<'a> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    // ---- Statements ----------------------------------------------------------

    fn block(&mut self, block: &[Stmt]) {
        // Step numbers seen directly in this block (W004); built on the first step.
        let mut steps: Option<HashMap<String, Span>> = None;
        // The statement that ended the straight-line flow (W006), until a label,
        // and whether the stretch after it has had its one warning.
        let mut dead_after: Option<(&'static str, Span)> = None;
        let mut reported = false;
        for stmt in block {
            match &stmt.kind {
                // Definitions do not run where they stand, so they are never unreachable.
                StmtKind::Blank
                | StmtKind::Comment(_)
                | StmtKind::Sub(_)
                | StmtKind::Function(_) => {}
                // A GOTO may land on a label: what follows it is reachable again.
                StmtKind::Label(_) => dead_after = None,
                _ => {
                    if let Some((what, at)) = dead_after
                        && !reported
                    {
                        reported = true;
                        self.report(
                            Diagnostic::new(
                                Code::UnreachableCode,
                                stmt.span,
                                format!("this code never runs: it follows `{what}`"),
                            )
                            .with_label(at, format!("`{what}` leaves here"))
                            .with_hint(
                                "remove it, or put a label before it if a GOTO should reach it",
                            ),
                        );
                    }
                }
            }
            if let StmtKind::Step(step) = &stmt.kind {
                let seen = steps.get_or_insert_with(HashMap::new);
                let key = step.number.to_lowercase();
                match seen.get(&key) {
                    Some(&first) => self.report(
                        Diagnostic::new(
                            Code::DuplicateStepNumber,
                            step.number_span,
                            format!("step number {} is used twice in this block", step.number),
                        )
                        .with_label(first, "first used here")
                        .with_hint("give each step of a block its own number; the dashboard tells steps apart by it"),
                    ),
                    None => {
                        seen.insert(key, step.number_span);
                    }
                }
            }
            self.stmt(stmt);
            if dead_after.is_none() {
                let ends = match &stmt.kind {
                    StmtKind::Return(_) => Some("RETURN"),
                    StmtKind::Goto(_) => Some("GOTO"),
                    StmtKind::Exit(kind) => Some(exit_word(*kind)),
                    StmtKind::Continue(kind) => Some(continue_word(*kind)),
                    _ => None,
                };
                if let Some(word) = ends {
                    dead_after = Some((word, stmt.span));
                    reported = false;
                }
            }
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Blank
            | StmtKind::Comment(_)
            | StmtKind::Error
            | StmtKind::ClearHeaders
            | StmtKind::SystemPrompt { .. }
            | StmtKind::Label(_) => {}
            StmtKind::Assign { target, value, .. } => {
                self.target(target);
                self.expr(value);
            }
            StmtKind::AssignKeyword { target, value, .. } => {
                self.target(target);
                self.keyword(value, stmt.span);
            }
            StmtKind::With { body, .. } => self.block(body),
            StmtKind::If(if_) => {
                for arm in &if_.arms {
                    self.expr(&arm.cond);
                    self.block(&arm.body);
                }
                if let Some(body) = &if_.else_body {
                    self.block(body);
                }
            }
            StmtKind::Select(select) => {
                self.expr(&select.subject);
                self.block(&select.leading);
                for arm in &select.arms {
                    for pattern in &arm.patterns {
                        match pattern {
                            crate::ast::CasePattern::Value(v)
                            | crate::ast::CasePattern::Is(_, v) => self.expr(v),
                            crate::ast::CasePattern::Range(a, b) => {
                                self.expr(a);
                                self.expr(b);
                            }
                        }
                    }
                    self.block(&arm.body);
                }
                if let Some(body) = &select.else_body {
                    self.block(body);
                }
            }
            StmtKind::ForEach { iterable, body, .. } => {
                self.expr(iterable);
                self.in_loop(LoopKind::For, body);
            }
            StmtKind::ForTo {
                from,
                to,
                step,
                body,
                ..
            } => {
                self.expr(from);
                self.expr(to);
                if let Some(step) = step {
                    self.expr(step);
                }
                self.in_loop(LoopKind::For, body);
            }
            StmtKind::While { cond, until, body } => {
                self.expr(cond);
                self.in_loop(
                    if *until {
                        LoopKind::Do
                    } else {
                        LoopKind::While
                    },
                    body,
                );
            }
            StmtKind::DoLoop { body, cond } => {
                self.in_loop(LoopKind::Do, body);
                if let Some(cond) = cond {
                    self.expr(&cond.cond);
                }
            }
            StmtKind::Exit(kind) => self.loop_control("EXIT", *kind, stmt.span),
            StmtKind::Continue(kind) => self.loop_control("CONTINUE", *kind, stmt.span),
            StmtKind::Sub(procedure) | StmtKind::Function(procedure) => {
                let params = procedure.params.iter().map(|p| p.key()).collect();
                let saved_params = std::mem::replace(&mut self.params, params);
                // A procedure body is not part of a loop or of the workflow
                // around its definition: it runs wherever it is called.
                let saved_loops = std::mem::take(&mut self.loops);
                let saved_workflow = self.workflow.take();
                self.block(&procedure.body);
                self.params = saved_params;
                self.loops = saved_loops;
                self.workflow = saved_workflow;
            }
            StmtKind::Call { name, args } => {
                if !self
                    .facts
                    .procedures
                    .contains_key(fold(&name.name, &mut self.scratch))
                {
                    self.unknown_procedure(name);
                }
                self.exprs(args);
            }
            StmtKind::CallScript { path } => self.expr(path),
            StmtKind::Goto(label) | StmtKind::OnError(OnError::Goto(label)) => self.goto(label),
            StmtKind::OnError(OnError::GotoZero | OnError::ResumeNext) => {}
            StmtKind::Return(value) => {
                if let Some(value) = value {
                    self.expr(value);
                }
            }
            StmtKind::Talk { to, message } => {
                if let Some(to) = to {
                    self.expr(to);
                }
                self.expr(message);
            }
            StmtKind::TalkBlock { lines } => {
                for line in lines {
                    self.str_parts(&line.parts);
                }
            }
            StmtKind::Print(value) => self.expr(value),
            StmtKind::Hear { var, as_type } => {
                self.target(var);
                self.hear_type(as_type.as_ref());
            }
            StmtKind::Wait(duration) => self.duration("WAIT", duration),
            StmtKind::Delay(duration) => self.duration("DELAY", duration),
            StmtKind::SetBotMemory { key, value } => {
                self.expr(key);
                self.expr(value);
            }
            StmtKind::Remember {
                key,
                value,
                duration,
            } => {
                self.expr(key);
                self.expr(value);
                if let Some(duration) = duration {
                    self.expr(duration);
                }
            }
            StmtKind::BotShareMemory { key, with_bot } => {
                self.expr(key);
                self.bot_name(with_bot);
            }
            StmtKind::BotSyncMemory { from_bot } => self.bot_name(from_bot),
            StmtKind::Http { url, body, .. } => {
                self.expr(url);
                if let Some(body) = body {
                    self.expr(body);
                }
            }
            StmtKind::SetHeader { name, value } => {
                self.expr(name);
                self.expr(value);
            }
            StmtKind::SendMail { to, subject, body } => {
                self.expr(to);
                self.expr(subject);
                self.expr(body);
            }
            StmtKind::Setup { kind, args } => {
                self.setup(*kind, stmt.span);
                self.exprs(args);
            }
            StmtKind::Param(param) => {
                if let Some(example) = &param.example {
                    self.expr(example);
                }
                if let Some(description) = &param.description {
                    self.expr(description);
                }
            }
            StmtKind::SetSchedule(value) => {
                self.schedule(value);
                self.expr(value);
            }
            StmtKind::TriggerOnEvent(name) => self.event_name(name),
            StmtKind::AddBot { bot, with } => {
                self.expr(bot);
                if let Some((_, value)) = with {
                    self.expr(value);
                }
            }
            StmtKind::RemoveBot(bot) => self.expr(bot),
            StmtKind::DelegateTo(bot) => self.bot_name(bot),
            StmtKind::Workflow(workflow) => self.workflow(workflow, stmt.span),
            StmtKind::Step(step) => self.step(step, stmt.span),
            StmtKind::Bot(call) => self.bot_call(call),
            StmtKind::HumanApproval(approval) => self.approval(approval, stmt.span),
            StmtKind::Parallel(parallel) => self.parallel(parallel, stmt.span),
            StmtKind::OnEvent { name, body } => {
                self.event_name(name);
                // A handler runs as its own fiber, outside any loop around it.
                let saved = std::mem::take(&mut self.loops);
                self.block(body);
                self.loops = saved;
            }
            StmtKind::PublishEvent(publish) => {
                self.event_name(&publish.name);
                if let Some(data) = &publish.data {
                    self.expr(data);
                }
                if let Some(key) = &publish.key {
                    self.expr(key);
                }
                if let Some(to) = &publish.to {
                    self.bot_name(to);
                }
            }
            StmtKind::WaitForEvent(wait) => self.wait_for_event(wait, stmt.span),
            StmtKind::Expr(expr) => self.expr(expr),
            StmtKind::Generic(generic) => self.generic(generic),
        }
    }

    fn in_loop(&mut self, kind: LoopKind, body: &[Stmt]) {
        let saved = self.loops;
        match kind {
            LoopKind::For => self.loops.for_ += 1,
            LoopKind::Do => self.loops.do_ += 1,
            LoopKind::While => self.loops.while_ += 1,
        }
        self.block(body);
        self.loops = saved;
    }

    fn loop_control(&mut self, word: &str, kind: LoopKind, span: Span) {
        let loops = self.loops;
        // `EXIT DO` also leaves a WHILE loop (both are DO loops in VB).
        let inside = match kind {
            LoopKind::For => loops.for_ > 0,
            LoopKind::Do => loops.do_ + loops.while_ > 0,
            LoopKind::While => loops.while_ > 0,
        };
        if inside {
            return;
        }
        let loop_name = match kind {
            LoopKind::For => "FOR or FOR EACH loop",
            LoopKind::Do => "DO or WHILE loop",
            LoopKind::While => "WHILE loop",
        };
        let hint = if loops.for_ > 0 {
            format!("the innermost loop here is a FOR loop: write `{word} FOR`")
        } else if loops.do_ > 0 {
            format!("the innermost loop here is a DO loop: write `{word} DO`")
        } else if word == "EXIT" {
            "to leave a procedure write RETURN; to end the script write RETURN at the top level"
                .to_owned()
        } else {
            "remove it: CONTINUE only makes sense inside a loop".to_owned()
        };
        self.report(
            Diagnostic::new(
                Code::LoopControlOutsideLoop,
                span,
                format!("`{word} {}` is not inside a {loop_name}", loop_word(kind)),
            )
            .with_hint(hint),
        );
    }

    fn goto(&mut self, label: &crate::ast::Ident) {
        if self
            .facts
            .labels
            .contains_key(fold(&label.name, &mut self.scratch))
        {
            return;
        }
        let labels = self.facts.labels.keys().map(String::as_str);
        let hint = match closest(&label.name, labels) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("define it on a line of its own: `{}:`", label.name),
        };
        self.report(
            Diagnostic::new(
                Code::MissingLabel,
                label.span,
                format!("there is no label `{}` in this script", label.name),
            )
            .with_hint(hint),
        );
    }

    fn unknown_procedure(&mut self, name: &crate::ast::Ident) {
        let hint = if builtin(&name.name).is_some() {
            format!(
                "`{}` is a built-in function: use it in an expression, as in `x = {}(...)`",
                name.name, name.name
            )
        } else {
            match closest(
                &name.name,
                self.facts.procedures.values().map(|p| p.name.as_str()),
            ) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!(
                    "define it with `SUB {}(...)` … `END SUB` in this script",
                    name.name
                ),
            }
        };
        self.report(
            Diagnostic::new(
                Code::UnknownProcedure,
                name.span,
                format!("there is no SUB or FUNCTION `{}` in this script", name.name),
            )
            .with_hint(hint),
        );
    }

    fn setup(&mut self, kind: SetupKind, span: Span) {
        let (keyword, why) = match kind {
            SetupKind::UseKb => (
                "USE KB",
                "botflow has no knowledge-base service, so nothing is searched",
            ),
            SetupKind::UseTool | SetupKind::AddTool | SetupKind::ClearTools => {
                let keyword = match kind {
                    SetupKind::UseTool => "USE TOOL",
                    SetupKind::AddTool => "ADD TOOL",
                    _ => "CLEAR TOOLS",
                };
                (
                    keyword,
                    "botflow does not offer tools to the model; call other scripts with CALL or BOT instead",
                )
            }
            SetupKind::AddSuggestion | SetupKind::ClearSuggestions => {
                let keyword = if kind == SetupKind::AddSuggestion {
                    "ADD SUGGESTION"
                } else {
                    "CLEAR SUGGESTIONS"
                };
                (
                    keyword,
                    "botflow has no chat client that shows suggestion buttons",
                )
            }
            SetupKind::SetContext => (
                "SET CONTEXT",
                "botflow keeps no conversation context; use BEGIN SYSTEM PROMPT for LLM calls",
            ),
            SetupKind::Description => return,
        };
        self.report(
            Diagnostic::new(
                Code::UnsupportedKeyword,
                span,
                format!("`{keyword}` is accepted but has no effect here: {why}"),
            )
            .with_hint("keep it if the script also runs on General Bots; otherwise remove it"),
        );
    }

    fn schedule(&mut self, value: &Expr) {
        let Some(text) = plain_string(value) else {
            return;
        };
        if let Err(why) = parse_schedule(&text) {
            self.report(
                Diagnostic::new(
                    Code::InvalidSchedule,
                    value.span,
                    format!("invalid schedule \"{text}\": {why}"),
                )
                .with_hint(format!("write {ACCEPTED_FORMS}")),
            );
        }
    }

    fn workflow(&mut self, workflow: &Workflow, span: Span) {
        let opener = Span::new(span.start, workflow.name.span.end.max(span.start));
        if let Some(outer) = self.workflow {
            self.report(
                Diagnostic::new(Code::NestedWorkflow, opener, "a workflow block cannot be inside another workflow")
                    .with_label(outer, "the enclosing workflow starts here")
                    .with_hint("close the first workflow with END WORKFLOW, and put this one in its own .bas file"),
            );
        } else if let Some(first) = self.first_workflow {
            self.report(
                Diagnostic::new(
                    Code::NestedWorkflow,
                    opener,
                    "a file may hold only one workflow block",
                )
                .with_label(first, "the first workflow of this file")
                .with_hint("move this workflow to its own .bas file in the same package"),
            );
        }
        self.first_workflow.get_or_insert(opener);
        self.expr(&workflow.name);
        let saved = self.workflow.replace(opener);
        self.block(&workflow.body);
        self.workflow = saved;
    }

    fn step(&mut self, step: &Step, span: Span) {
        let head = Span::new(span.start, step.number_span.end.max(span.start));
        if self.workflow.is_none() {
            self.report(
                Diagnostic::new(
                    Code::StepOutsideWorkflow,
                    head,
                    format!("`STEP {}` is outside an ORCHESTRATE WORKFLOW block", step.number),
                )
                .with_hint(
                    "put it between `ORCHESTRATE WORKFLOW \"name\"` and `END WORKFLOW`, or drop `STEP n:` to run \
                     the statement as it is",
                ),
            );
        }
        let body = &step.body;
        match &body.kind {
            StmtKind::Blank | StmtKind::Comment(_) => self.report(
                Diagnostic::new(Code::InvalidStepBody, head, format!("`STEP {}` has no statement", step.number))
                    .with_hint("write the step's action after the colon, as in `STEP 1: BOT \"name\" \"action\"`"),
            ),
            StmtKind::Label(_)
            | StmtKind::If(_)
            | StmtKind::Select(_)
            | StmtKind::ForEach { .. }
            | StmtKind::ForTo { .. }
            | StmtKind::While { .. }
            | StmtKind::DoLoop { .. }
            | StmtKind::Sub(_)
            | StmtKind::Function(_)
            | StmtKind::Workflow(_)
            | StmtKind::OnEvent { .. }
            | StmtKind::With { .. }
            | StmtKind::Step(_) => {
                let what = statement_name(&body.kind);
                let hint = if matches!(body.kind, StmtKind::Step(_) | StmtKind::Label(_)) {
                    format!("a step is one durable action: {STEP_BODIES}")
                } else {
                    format!("a step is one durable action; put the {what} around the steps instead of after `STEP n:`")
                };
                self.report(
                    Diagnostic::new(
                        Code::InvalidStepBody,
                        body.span,
                        format!("{what} cannot be the body of `STEP {}`", step.number),
                    )
                    .with_hint(hint),
                );
            }
            _ => {}
        }
        self.stmt(body);
    }

    fn bot_call(&mut self, call: &BotCall) {
        self.bot_name(&call.bot);
        self.expr(&call.action);
        if let Some(into) = &call.into {
            self.target(into);
        }
        if let Some(with) = &call.with {
            self.expr(with);
        }
        if let Some(timeout) = &call.timeout {
            self.timeout(timeout);
        }
        for value in [&call.retry, &call.cache].into_iter().flatten() {
            self.expr(value);
        }
    }

    fn approval(&mut self, approval: &Approval, span: Span) {
        match &approval.from {
            Approvers::People(people) => self.exprs(people),
            Approvers::Group(group) => self.expr(group),
        }
        if !self.clauses(&approval.clauses) {
            self.report(
                Diagnostic::new(Code::ApprovalWithoutTimeout, span, "HUMAN APPROVAL has no TIMEOUT: the run may wait for ever")
                    .with_hint("add `TIMEOUT seconds` and `ON TIMEOUT: ESCALATE TO \"who\"` (or REJECT / APPROVE)"),
            );
        }
    }

    fn wait_for_event(&mut self, wait: &WaitForEvent, span: Span) {
        self.event_name(&wait.name);
        if let Some(key) = &wait.key {
            self.expr(key);
        }
        if !self.clauses(&wait.clauses) {
            let name = plain_string(&wait.name)
                .map_or_else(|| "the event".to_owned(), |n| format!("\"{n}\""));
            self.report(
                Diagnostic::new(
                    Code::WaitWithoutTimeout,
                    span,
                    format!("WAIT FOR EVENT has no TIMEOUT: the run may wait for {name} for ever"),
                )
                .with_hint("add `TIMEOUT seconds` (and `ON TIMEOUT: FAIL` or `ESCALATE TO \"who\"` if waiting longer is wrong)"),
            );
        }
    }

    /// Checks the clauses of an approval or wait; returns whether one is a `TIMEOUT`.
    fn clauses(&mut self, clauses: &[Clause]) -> bool {
        let mut has_timeout = false;
        for clause in clauses {
            match &clause.kind {
                ClauseKind::Timeout(value) => {
                    has_timeout = true;
                    self.timeout(value);
                }
                ClauseKind::OnTimeout(TimeoutAction::Escalate(to)) => self.expr(to),
                ClauseKind::OnTimeout(_) | ClauseKind::OnDenyContinue => {}
                ClauseKind::Message(value)
                | ClauseKind::Require(value)
                | ClauseKind::Via(value) => self.expr(value),
            }
        }
        has_timeout
    }

    fn parallel(&mut self, parallel: &Parallel, span: Span) {
        if parallel.branches.is_empty() {
            self.report(
                Diagnostic::new(Code::InvalidParallel, span, "PARALLEL has no branches")
                    .with_hint("add `BRANCH A: <statement>` lines, or remove the PARALLEL block"),
            );
        }
        let mut labels: HashMap<String, Span> = HashMap::with_capacity(parallel.branches.len());
        for branch in &parallel.branches {
            match labels.get(&branch.label.key()) {
                Some(&first) => self.report(
                    Diagnostic::new(
                        Code::InvalidParallel,
                        branch.label.span,
                        format!("branch `{}` appears twice in this PARALLEL", branch.label.name),
                    )
                    .with_label(first, "first branch with this label")
                    .with_hint("give every branch its own label (A, B, C ...): step paths and the join order use it"),
                ),
                None => {
                    labels.insert(branch.label.key(), branch.label.span);
                }
            }
        }
        // Each branch is its own fiber: a loop around the PARALLEL is not its loop.
        let saved = std::mem::take(&mut self.loops);
        for branch in &parallel.branches {
            self.block(&branch.leading);
            self.block(&branch.body);
        }
        self.loops = saved;
        self.block(&parallel.trailing);
        if let Join::Count(count) = &parallel.join {
            let branches = parallel.branches.len();
            if let Literal::Number(n) = literal(count)
                && branches > 0
                && (n < 1.0 || n > branches as f64 || n.fract() != 0.0)
            {
                self.report(
                    Diagnostic::new(
                        Code::InvalidParallel,
                        count.span,
                        format!("`WAIT {n}` cannot be met by a PARALLEL with {branches} branches"),
                    )
                    .with_hint(format!("wait for a whole number of branches from 1 to {branches}, or write WAIT ANY")),
                );
            }
            self.expr(count);
        }
    }

    // ---- Names and literals ---------------------------------------------------

    fn bot_name(&mut self, expr: &Expr) {
        if let Some(known) = &self.known_bots
            && let Some(name) = plain_string(expr)
            && !known.folded.contains(fold(&name, &mut self.scratch))
        {
            let hint = if let Some(near) = closest(&name, known.names.iter().copied()) {
                format!("did you mean \"{near}\"?")
            } else if known.names.is_empty() {
                "the deployment has no bots: add a .gbai package to the bots folder".to_owned()
            } else {
                const SHOWN: usize = 5;
                let shown: Vec<String> = known
                    .names
                    .iter()
                    .take(SHOWN)
                    .map(|n| format!("\"{n}\""))
                    .collect();
                let more = known.names.len().saturating_sub(SHOWN);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!("the deployment's bots are {}{more}", shown.join(", "))
            };
            self.report(
                Diagnostic::new(
                    Code::UnknownBot,
                    expr.span,
                    format!(
                        "no bot \"{name}\" in this deployment (looked for the package {name}.gbai)"
                    ),
                )
                .with_hint(hint),
            );
        }
        self.expr(expr);
    }

    fn event_name(&mut self, expr: &Expr) {
        if let Some(name) = plain_string(expr) {
            let problem = if name.is_empty() {
                Some("an event name cannot be empty".to_owned())
            } else if let Some(bad) = name
                .chars()
                .find(|&c| !(c.is_ascii_alphanumeric() || "_-.".contains(c)))
            {
                Some(format!(
                    "event name \"{name}\" contains {bad:?}, which event names cannot hold"
                ))
            } else if name.len() > 128 {
                Some(format!(
                    "event name is {} characters long, more than the 128 allowed",
                    name.len()
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                let fixed: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .take(128)
                    .collect();
                let hint = if fixed.is_empty() || fixed.chars().all(|c| c == '_') {
                    "event names are 1 to 128 letters, digits, `_`, `-` and `.`, as in \"order_paid\"".to_owned()
                } else {
                    format!(
                        "event names are 1 to 128 letters, digits, `_`, `-` and `.`: try \"{fixed}\""
                    )
                };
                self.report(
                    Diagnostic::new(Code::InvalidEventName, expr.span, problem).with_hint(hint),
                );
            }
        }
        self.expr(expr);
    }

    fn timeout(&mut self, value: &Expr) {
        let problem = match literal(value) {
            Literal::Number(n) if n.is_nan() || n < 0.0 => {
                Some((format!("TIMEOUT {n} is negative"), None))
            }
            Literal::Number(_) => None,
            Literal::Text(text) => {
                let hint = parse_duration(&text)
                    .map(|seconds| format!("write `TIMEOUT {seconds}` (\"{text}\" in seconds)"));
                Some((
                    format!("TIMEOUT takes a number of seconds, not the string \"{text}\""),
                    hint,
                ))
            }
            Literal::Other(what) => Some((
                format!("TIMEOUT takes a number of seconds, not {what}"),
                None,
            )),
            Literal::Computed => None,
        };
        if let Some((message, hint)) = problem {
            let hint = hint.unwrap_or_else(|| {
                "write a number of seconds, as in `TIMEOUT 1800` for 30 minutes".to_owned()
            });
            self.report(
                Diagnostic::new(Code::MalformedTimeout, value.span, message).with_hint(hint),
            );
        }
        self.expr(value);
    }

    /// A `DELAY`/`WAIT` value: seconds, or a duration string such as `"2h"`.
    fn duration(&mut self, keyword: &str, value: &Expr) {
        let message = match literal(value) {
            Literal::Number(n) if n.is_nan() || n < 0.0 => {
                Some(format!("{keyword} {n} is negative"))
            }
            Literal::Text(text) if parse_duration(&text).is_none() => {
                Some(format!("{keyword} \"{text}\" is not a duration"))
            }
            Literal::Other(what) => {
                Some(format!("{keyword} takes seconds or a duration, not {what}"))
            }
            _ => None,
        };
        if let Some(message) = message {
            self.report(Diagnostic::new(Code::MalformedTimeout, value.span, message).with_hint(format!(
                "write seconds (`{keyword} 90`) or a duration such as \"45s\", \"30m\", \"2h\" or \"1d\""
            )));
        }
        self.expr(value);
    }

    fn generic(&mut self, generic: &Generic) {
        // `greet "Bob"`: a SUB of this script called without CALL or parentheses.
        if generic
            .procedure_call()
            .is_some_and(|name| self.facts.procedures.contains_key(&name))
        {
            self.exprs(&generic.args);
            return;
        }
        let keyword = &generic.keyword;
        let diagnostic = if self.workflow.is_some() {
            Diagnostic::new(
                Code::UnknownStatementInWorkflow,
                generic.keyword_span,
                format!("`{keyword}` is not a statement botflow can run, and a workflow cannot skip it"),
            )
            .with_hint(format!(
                "ask a bot to do it (`STEP n: BOT \"name\" \"{}\"`), or move it out of the workflow block",
                keyword.to_lowercase()
            ))
        } else {
            Diagnostic::new(
                Code::UnsupportedKeyword,
                generic.keyword_span,
                format!("`{keyword}` is a General Bots keyword botflow does not implement: running it fails that statement"),
            )
            .with_hint("keep it if the script also runs on General Bots; in botflow, ask a bot to do it with BOT")
        };
        self.report(diagnostic);
        self.exprs(&generic.args);
    }

    fn hear_type(&mut self, as_type: Option<&HearType>) {
        if let Some(HearType::Choices(choices)) = as_type {
            self.expr(choices);
        }
    }

    fn keyword(&mut self, value: &KeywordExpr, span: Span) {
        match value {
            KeywordExpr::Llm {
                prompt,
                optimize_for,
                max_cost,
            } => {
                self.expr(prompt);
                for value in [optimize_for, max_cost].into_iter().flatten() {
                    self.expr(value);
                }
            }
            KeywordExpr::HttpGet { url } => self.expr(url),
            KeywordExpr::Http { url, body, .. } => {
                self.expr(url);
                if let Some(body) = body {
                    self.expr(body);
                }
            }
            KeywordExpr::GetBotMemory { key } | KeywordExpr::Recall { key } => self.expr(key),
            KeywordExpr::Bot(call) => self.bot_call(call),
            KeywordExpr::WaitForEvent(wait) => self.wait_for_event(wait, span),
            KeywordExpr::Hear { as_type } => self.hear_type(as_type.as_ref()),
            KeywordExpr::ListBots => {}
            KeywordExpr::Generic(generic) => self.generic(generic),
        }
    }

    // ---- Expressions ----------------------------------------------------------

    /// An assignment target: its root variable is written, not read; indexes are read.
    fn target(&mut self, target: &Expr) {
        match &target.kind {
            ExprKind::Var(_) => {}
            ExprKind::Field { object, .. } => self.target(object),
            ExprKind::Index { object, index } => {
                self.target(object);
                self.expr(index);
            }
            ExprKind::Paren(inner) => self.target(inner),
            _ => self.expr(target),
        }
    }

    fn exprs(&mut self, exprs: &[Expr]) {
        for expr in exprs {
            self.expr(expr);
        }
    }

    fn str_parts(&mut self, parts: &[StrPart]) {
        for part in parts {
            if let StrPart::Interp(expr) = part {
                self.expr(expr);
            }
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Error => {}
            ExprKind::Str(lit) => self.str_parts(&lit.parts),
            ExprKind::List(items) => self.exprs(items),
            ExprKind::Object(entries) => {
                for entry in entries {
                    if let ObjectKey::Quoted(lit) = &entry.key {
                        self.str_parts(&lit.parts);
                    }
                    self.expr(&entry.value);
                }
            }
            ExprKind::Var(ident) => self.read(&ident.name, expr.span),
            ExprKind::Field { object, .. } => self.expr(object),
            ExprKind::Index { object, index } => {
                self.expr(object);
                self.expr(index);
            }
            ExprKind::Call { name, args } => {
                self.call(&name.name, name.span, args.len(), expr.span);
                self.exprs(args);
            }
            ExprKind::Unary { operand, .. } => self.expr(operand),
            ExprKind::Binary { left, right, .. } => {
                self.expr(left);
                self.expr(right);
            }
            ExprKind::In { value, list, .. } => {
                self.expr(value);
                self.expr(list);
            }
            ExprKind::Paren(inner) => self.expr(inner),
        }
    }

    fn call(&mut self, name: &str, name_span: Span, count: usize, span: Span) {
        let facts = self.facts;
        // A FUNCTION of the script takes precedence over a built-in of the same name.
        if facts.procedures.contains_key(fold(name, &mut self.scratch)) {
            return;
        }
        if let Some(builtin) = builtin(name) {
            if !builtin.accepts(count) {
                let passed = match count {
                    0 => "none".to_owned(),
                    1 => "1".to_owned(),
                    n => n.to_string(),
                };
                self.report(
                    Diagnostic::new(
                        Code::WrongArgumentCount,
                        span,
                        format!(
                            "{} takes {}, but this call passes {passed}",
                            builtin.name,
                            builtin.arity()
                        ),
                    )
                    .with_hint(builtin.summary),
                );
            }
            return;
        }
        let candidates = BUILTINS
            .iter()
            .map(|b| b.name)
            .chain(facts.procedures.values().map(|p| p.name.as_str()));
        let hint = match closest(name, candidates) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "running it fails that statement; define `FUNCTION {name}(...)` in this script or use a built-in \
                 function (LANGUAGE.md §2)"
            ),
        };
        self.report(
            Diagnostic::new(
                Code::UnknownFunction,
                name_span,
                format!("`{name}` is neither a built-in function nor a FUNCTION of this script"),
            )
            .with_hint(hint),
        );
    }

    /// A variable read: W001 (once per variable) when nothing assigns it (never inside a workflow,
    /// where run inputs and merged bot answers supply variables).
    fn read(&mut self, name: &str, span: Span) {
        if self.workflow.is_some() {
            return;
        }
        let facts = self.facts;
        let key = fold(name, &mut self.scratch);
        if facts.assigned.contains(key)
            || self.params.iter().any(|p| p == key)
            || facts.procedures.contains_key(key)
            || builtin(key).is_some_and(|b| b.min_args == 0)
        {
            return;
        }
        // One warning per variable, at its first read: a name read a thousand
        // times is one mistake, not a thousand.
        if !self.unassigned_reported.insert(key.to_owned()) {
            return;
        }
        let candidates = facts
            .assigned
            .iter()
            .map(String::as_str)
            .chain(self.params.iter().map(String::as_str));
        let hint = match closest(name, candidates) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "it reads as NULL; assign it first, or declare it with `PARAM {name} AS STRING` if it is an input"
            ),
        };
        self.report(
            Diagnostic::new(
                Code::UnassignedVariable,
                span,
                format!("variable `{name}` is never assigned"),
            )
            .with_hint(hint),
        );
    }
}

fn exit_word(kind: LoopKind) -> &'static str {
    match kind {
        LoopKind::For => "EXIT FOR",
        LoopKind::Do => "EXIT DO",
        LoopKind::While => "EXIT WHILE",
    }
}

fn continue_word(kind: LoopKind) -> &'static str {
    match kind {
        LoopKind::For => "CONTINUE FOR",
        LoopKind::Do => "CONTINUE DO",
        LoopKind::While => "CONTINUE WHILE",
    }
}

#[cfg(test)]
mod tests;
