//! Lowers a [`Program`] to a [`Compiled`] op list.
//!
//! Layout: the main program (statements before, inside and after the
//! workflow block, in order) ends with [`Op::End`]; then each `PARALLEL`
//! branch body, `ON EVENT` handler body and procedure body follows as its own
//! stretch of ops. `SUB`/`FUNCTION` definitions may stand anywhere and are
//! skipped where they stand.

use std::collections::BTreeMap;

use basic::Program;
use basic::ast::BinaryOp;
use basic::ast::{
    Approval, Approvers, BotCall, CasePattern, ClauseKind, Expr, ExprKind, HearType, Join,
    KeywordExpr, LoopKind, ObjectKey, OnError, SetupKind, Stmt, StmtKind, StrLit, StrPart,
    TimeoutAction, UnaryOp, WaitForEvent,
};
use serde_json::Value;

use crate::error::CompileError;
use crate::ir::{
    Access, ApprovalOp, Ask, Compiled, Dest, ErrorMode, Ex, HearOp, JoinOp, Op, Proc, Target,
    TimeoutOp,
};

/// Compiles a parsed script.
///
/// Fails on what cannot run at all: a parse error node, a `GOTO` to a
/// missing label, `EXIT`/`CONTINUE` outside a loop of its kind, a call of a
/// procedure the script does not define, two procedures of the same name.
pub fn compile(program: &Program) -> Result<Compiled, CompileError> {
    let mut compiler = Compiler::default();
    collect_procs(&program.body, &mut compiler.procs)?;
    compiler.block(&program.body)?;
    compiler.emit(Op::End);
    // Bodies compiled out of line (branches, handlers, procedures) are queued
    // while the main program compiles; procedures may queue more of them.
    let names: Vec<String> = compiler.procs.keys().cloned().collect();
    for name in names {
        let body = compiler.proc_bodies.remove(&name).unwrap_or_default();
        let entry = compiler.ops.len();
        if let Some(proc) = compiler.procs.get_mut(&name) {
            proc.entry = entry;
        }
        let saved = std::mem::take(&mut compiler.loops);
        compiler.in_proc = true;
        compiler.block(&body)?;
        compiler.in_proc = false;
        compiler.loops = saved;
        compiler.emit(Op::ProcEnd);
    }
    compiler.patch_gotos()?;
    Ok(Compiled {
        ops: compiler.ops,
        procs: compiler.procs,
        workflow: compiler.workflow,
        params: compiler.params,
    })
}

fn collect_procs(block: &[Stmt], procs: &mut BTreeMap<String, Proc>) -> Result<(), CompileError> {
    for stmt in block {
        match &stmt.kind {
            StmtKind::Sub(p) | StmtKind::Function(p) => {
                let key = p.name.key();
                if procs.contains_key(&key) {
                    return Err(CompileError::DuplicateProcedure {
                        name: p.name.name.clone(),
                        at: p.name.span.start,
                    });
                }
                procs.insert(
                    key,
                    Proc {
                        name: p.name.name.clone(),
                        params: p.params.iter().map(|i| i.key()).collect(),
                        entry: 0,
                        function: matches!(stmt.kind, StmtKind::Function(_)),
                    },
                );
            }
            StmtKind::Workflow(w) => collect_procs(&w.body, procs)?,
            _ => {}
        }
    }
    Ok(())
}

#[derive(Default)]
struct Compiler {
    ops: Vec<Op>,
    procs: BTreeMap<String, Proc>,
    proc_bodies: BTreeMap<String, Vec<Stmt>>,
    labels: BTreeMap<String, usize>,
    /// Jumps to labels, patched at the end: (op index, label, source offset).
    gotos: Vec<(usize, String, u32)>,
    loops: Vec<LoopCtx>,
    next_temp: u32,
    workflow: Option<String>,
    params: Vec<String>,
    in_proc: bool,
}

struct LoopCtx {
    kind: LoopKind,
    /// Jumps to patch to the loop's continue point and to its exit.
    continues: Vec<usize>,
    breaks: Vec<usize>,
}

/// The placeholder target of a jump that is patched later.
const UNPATCHED: usize = usize::MAX;

impl Compiler {
    fn emit(&mut self, op: Op) -> usize {
        self.ops.push(op);
        self.ops.len() - 1
    }

    fn here(&self) -> usize {
        self.ops.len()
    }

    fn set_jump(&mut self, at: usize, to: usize) {
        match &mut self.ops[at] {
            Op::Jump(t) | Op::JumpIf { to: t, .. } | Op::JumpIfNot { to: t, .. } => *t = to,
            Op::ForEachNext { exit, .. } | Op::ForTest { exit, .. } => *exit = to,
            _ => {}
        }
    }

    fn patch_gotos(&mut self) -> Result<(), CompileError> {
        for (at, label, offset) in std::mem::take(&mut self.gotos) {
            let Some(&to) = self.labels.get(&label) else {
                return Err(CompileError::MissingLabel { label, at: offset });
            };
            match &mut self.ops[at] {
                Op::Jump(t) => *t = to,
                Op::OnError(Some(ErrorMode::Goto(t))) => *t = to,
                _ => {}
            }
        }
        Ok(())
    }

    fn temp(&mut self) -> u32 {
        self.next_temp += 1;
        self.next_temp
    }

    fn block(&mut self, block: &[Stmt]) -> Result<(), CompileError> {
        for stmt in block {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt) -> Result<(), CompileError> {
        match &stmt.kind {
            StmtKind::Blank | StmtKind::Comment(_) => {}
            StmtKind::Assign { target, value, .. } => {
                let value = self.expr(value);
                let target = self.target(target)?;
                self.emit(Op::Assign { target, value });
            }
            StmtKind::AssignKeyword { target, value, .. } => {
                let target = self.target(target)?;
                self.keyword(value, Dest::Target(target))?;
            }
            StmtKind::With { object, body } => self.with_block(object, body)?,
            StmtKind::If(branch) => {
                let mut ends = Vec::new();
                for arm in &branch.arms {
                    let cond = self.expr(&arm.cond);
                    let skip = self.emit(Op::JumpIfNot {
                        cond,
                        to: UNPATCHED,
                    });
                    self.block(&arm.body)?;
                    ends.push(self.emit(Op::Jump(UNPATCHED)));
                    let next = self.here();
                    self.set_jump(skip, next);
                }
                if let Some(body) = &branch.else_body {
                    self.block(body)?;
                }
                let end = self.here();
                for at in ends {
                    self.set_jump(at, end);
                }
            }
            StmtKind::Select(select) => {
                let slot = self.temp();
                let subject = self.expr(&select.subject);
                self.emit(Op::SetTemp {
                    slot,
                    value: subject,
                });
                let mut tests = Vec::new();
                for arm in &select.arms {
                    let mut cond: Option<Ex> = None;
                    for pattern in &arm.patterns {
                        let test = self.case_test(slot, pattern);
                        cond = Some(match cond {
                            None => test,
                            Some(c) => Ex::Binary(BinaryOp::Or, Box::new(c), Box::new(test)),
                        });
                    }
                    let cond = cond.unwrap_or(Ex::Const(Value::Bool(false)));
                    tests.push(self.emit(Op::JumpIf {
                        cond,
                        to: UNPATCHED,
                    }));
                }
                let mut ends = Vec::new();
                if let Some(body) = &select.else_body {
                    self.block(body)?;
                }
                ends.push(self.emit(Op::Jump(UNPATCHED)));
                for (arm, test) in select.arms.iter().zip(tests) {
                    let start = self.here();
                    self.set_jump(test, start);
                    self.block(&arm.body)?;
                    ends.push(self.emit(Op::Jump(UNPATCHED)));
                }
                let end = self.here();
                for at in ends {
                    self.set_jump(at, end);
                }
            }
            StmtKind::ForEach {
                var,
                iterable,
                body,
            } => {
                let list = self.expr(iterable);
                let slot = self.emit(Op::ForEachInit {
                    slot: 0,
                    list: Ex::Invalid,
                });
                self.ops[slot] = Op::ForEachInit { slot, list };
                let next = self.emit(Op::ForEachNext {
                    slot,
                    var: var.key(),
                    exit: UNPATCHED,
                });
                self.loop_body(LoopKind::For, body, next, next)?;
                let exit = self.here();
                self.set_jump(next, exit);
                self.emit(Op::LoopEnd { slot });
            }
            StmtKind::ForTo {
                var,
                from,
                to,
                step,
                body,
            } => {
                let from = self.expr(from);
                let to = self.expr(to);
                let step = step.as_ref().map(|s| self.expr(s));
                let slot = self.here();
                self.emit(Op::ForInit {
                    slot,
                    var: var.key(),
                    from,
                    to,
                    step,
                });
                let test = self.emit(Op::ForTest {
                    slot,
                    var: var.key(),
                    exit: UNPATCHED,
                });
                let loop_start = self.loops.len();
                self.loops.push(LoopCtx {
                    kind: LoopKind::For,
                    continues: Vec::new(),
                    breaks: Vec::new(),
                });
                self.block(body)?;
                let ctx = self.loops.pop();
                debug_assert_eq!(self.loops.len(), loop_start);
                let cont = self.emit(Op::ForStep {
                    slot,
                    var: var.key(),
                    test,
                });
                let exit = self.here();
                self.set_jump(test, exit);
                if let Some(ctx) = ctx {
                    self.finish_loop(ctx, cont, exit);
                }
                self.emit(Op::LoopEnd { slot });
            }
            StmtKind::While { cond, until, body } => {
                let top = self.here();
                let cond = self.expr(cond);
                let exit_jump = if *until {
                    self.emit(Op::JumpIf {
                        cond,
                        to: UNPATCHED,
                    })
                } else {
                    self.emit(Op::JumpIfNot {
                        cond,
                        to: UNPATCHED,
                    })
                };
                self.loop_body(LoopKind::While, body, top, top)?;
                let exit = self.here();
                self.set_jump(exit_jump, exit);
            }
            StmtKind::DoLoop { body, cond } => {
                let top = self.here();
                self.loops.push(LoopCtx {
                    kind: LoopKind::Do,
                    continues: Vec::new(),
                    breaks: Vec::new(),
                });
                self.block(body)?;
                let ctx = self.loops.pop();
                let cont = self.here();
                match cond {
                    Some(c) => {
                        let test = self.expr(&c.cond);
                        if c.until {
                            self.emit(Op::JumpIfNot {
                                cond: test,
                                to: top,
                            });
                        } else {
                            self.emit(Op::JumpIf {
                                cond: test,
                                to: top,
                            });
                        }
                    }
                    None => {
                        self.emit(Op::Jump(top));
                    }
                }
                let exit = self.here();
                if let Some(ctx) = ctx {
                    self.finish_loop(ctx, cont, exit);
                }
            }
            StmtKind::Exit(kind) | StmtKind::Continue(kind) => {
                let exit = matches!(stmt.kind, StmtKind::Exit(_));
                let at = self.emit(Op::Jump(UNPATCHED));
                let wanted = *kind;
                let Some(ctx) = self
                    .loops
                    .iter_mut()
                    .rev()
                    .find(|l| loop_matches(l.kind, wanted))
                else {
                    return Err(CompileError::LoopControlOutsideLoop {
                        at: stmt.span.start,
                    });
                };
                if exit {
                    ctx.breaks.push(at)
                } else {
                    ctx.continues.push(at)
                }
            }
            StmtKind::Sub(p) | StmtKind::Function(p) => {
                self.proc_bodies.insert(p.name.key(), p.body.clone());
            }
            StmtKind::Call { name, args } => {
                let key = name.key();
                if !self.procs.contains_key(&key) {
                    return Err(CompileError::UnknownProcedure {
                        name: name.name.clone(),
                        at: name.span.start,
                    });
                }
                let args = args.iter().map(|a| self.expr(a)).collect();
                self.emit(Op::CallProc {
                    name: key,
                    args,
                    result: None,
                });
            }
            StmtKind::CallScript { path } => {
                let path = self.expr(path);
                self.emit(Op::Ask {
                    ask: Box::new(Ask::CallScript { path }),
                    into: Dest::Merge,
                });
            }
            StmtKind::Label(label) => {
                self.labels.entry(label.key()).or_insert(self.ops.len());
            }
            StmtKind::Goto(label) => {
                let at = self.emit(Op::Jump(UNPATCHED));
                self.gotos.push((at, label.key(), label.span.start));
            }
            StmtKind::Return(value) => {
                let value = value.as_ref().map(|v| self.expr(v));
                self.emit(Op::Return(value));
            }
            StmtKind::OnError(mode) => match mode {
                OnError::Goto(label) => {
                    let at = self.emit(Op::OnError(Some(ErrorMode::Goto(UNPATCHED))));
                    self.gotos.push((at, label.key(), label.span.start));
                }
                OnError::GotoZero => {
                    self.emit(Op::OnError(None));
                }
                OnError::ResumeNext => {
                    self.emit(Op::OnError(Some(ErrorMode::ResumeNext)));
                }
            },
            StmtKind::Talk { to, message } => {
                let to = to.as_ref().map(|t| self.expr(t));
                let text = self.expr(message);
                self.emit(Op::Talk { to, text });
            }
            StmtKind::TalkBlock { lines } => {
                let mut parts = Vec::new();
                for (i, line) in lines.iter().enumerate() {
                    if i > 0 {
                        parts.push(Ex::Const(Value::from("\n")));
                    }
                    parts.push(self.str_lit(line));
                }
                self.emit(Op::Talk {
                    to: None,
                    text: Ex::Text(parts),
                });
            }
            StmtKind::SystemPrompt { lines } => {
                self.emit(Op::SystemPrompt(lines.join("\n")));
            }
            StmtKind::Print(e) => {
                let e = self.expr(e);
                self.emit(Op::Print(e));
            }
            StmtKind::Hear { var, as_type } => {
                let as_type = self.hear_type(as_type.as_ref());
                let target = self.target(var)?;
                self.emit(Op::Ask {
                    ask: Box::new(Ask::Hear { as_type }),
                    into: Dest::Target(target),
                });
            }
            StmtKind::Wait(e) | StmtKind::Delay(e) => {
                let duration = self.expr(e);
                self.emit(Op::Ask {
                    ask: Box::new(Ask::Delay { duration }),
                    into: Dest::Discard,
                });
            }
            StmtKind::SetBotMemory { key, value } => {
                let key = self.expr(key);
                let value = self.expr(value);
                self.emit(Op::SetMemory { key, value });
            }
            StmtKind::Remember {
                key,
                value,
                duration,
            } => {
                let key = self.expr(key);
                let value = self.expr(value);
                let duration = duration.as_ref().map(|d| self.expr(d));
                self.emit(Op::Remember {
                    key,
                    value,
                    duration,
                });
            }
            StmtKind::BotShareMemory { key, with_bot } => {
                let key = self.expr(key);
                let with_bot = self.expr(with_bot);
                self.emit(Op::ShareMemory { key, with_bot });
            }
            StmtKind::BotSyncMemory { from_bot } => {
                let from_bot = self.expr(from_bot);
                self.emit(Op::SyncMemory { from_bot });
            }
            StmtKind::Http { method, url, body } => {
                let url = self.expr(url);
                let body = body.as_ref().map(|b| self.expr(b));
                self.emit(Op::Ask {
                    ask: Box::new(Ask::Http {
                        method: *method,
                        url,
                        body,
                    }),
                    into: Dest::Discard,
                });
            }
            StmtKind::SetHeader { name, value } => {
                let name = self.expr(name);
                let value = self.expr(value);
                self.emit(Op::SetHeader { name, value });
            }
            StmtKind::ClearHeaders => {
                self.emit(Op::ClearHeaders);
            }
            StmtKind::SendMail { to, subject, body } => {
                let to = self.expr(to);
                let subject = self.expr(subject);
                let body = self.expr(body);
                self.emit(Op::Ask {
                    ask: Box::new(Ask::SendMail { to, subject, body }),
                    into: Dest::Discard,
                });
            }
            StmtKind::Setup { kind, args } => {
                if let Some(keyword) = setup_keyword(*kind) {
                    let args = args.iter().map(|a| self.expr(a)).collect();
                    self.emit(Op::Setup { keyword, args });
                }
            }
            StmtKind::Param(param) => {
                self.params.push(param.name.key());
            }
            StmtKind::SetSchedule(_) | StmtKind::TriggerOnEvent(_) => {}
            StmtKind::AddBot { .. } => self.not_implemented("ADD BOT"),
            StmtKind::RemoveBot(_) => self.not_implemented("REMOVE BOT"),
            StmtKind::DelegateTo(_) => self.not_implemented("DELEGATE TO"),
            StmtKind::Workflow(workflow) => {
                if let ExprKind::Str(lit) = &workflow.name.kind {
                    self.workflow = lit.plain_text();
                }
                self.block(&workflow.body)?;
            }
            StmtKind::Step(step) => {
                let kind = match &step.body.kind {
                    StmtKind::Bot(_)
                    | StmtKind::AssignKeyword {
                        value: KeywordExpr::Bot(_),
                        ..
                    } => "bot",
                    StmtKind::HumanApproval(_) => "approval",
                    StmtKind::Parallel(_) => "parallel",
                    _ => "statement",
                };
                let in_loop = !self.loops.is_empty();
                let enter = self.emit(Op::StepEnter {
                    number: step.number.clone(),
                    kind,
                    in_loop,
                });
                self.stmt(&step.body)?;
                self.emit(Op::StepExit { enter });
            }
            StmtKind::Bot(call) => {
                let into = match &call.into {
                    Some(target) => Dest::Target(self.target(target)?),
                    None => Dest::Merge,
                };
                let ask = self.bot(call);
                self.emit(Op::Ask {
                    ask: Box::new(ask),
                    into,
                });
            }
            StmtKind::HumanApproval(approval) => {
                let ask = self.approval(approval);
                self.emit(Op::Ask {
                    ask: Box::new(Ask::Approval(ask)),
                    into: Dest::Target(Target::var("approval")),
                });
            }
            StmtKind::Parallel(parallel) => {
                let join = match &parallel.join {
                    Join::All => JoinOp::All,
                    Join::Any => JoinOp::Count(Ex::Const(Value::from(1))),
                    Join::Count(n) => JoinOp::Count(self.expr(n)),
                };
                let at = self.emit(Op::Nop);
                let saved = std::mem::take(&mut self.loops);
                let mut branches = Vec::new();
                for branch in &parallel.branches {
                    let entry = self.here();
                    self.block(&branch.body)?;
                    self.emit(Op::BranchEnd);
                    branches.push((branch.label.name.clone(), entry));
                }
                self.loops = saved;
                let after = self.here();
                self.ops[at] = Op::Parallel {
                    branches,
                    join,
                    after,
                };
            }
            StmtKind::OnEvent { name, body } => {
                let name = self.expr(name);
                let at = self.emit(Op::Nop);
                let skip = self.emit(Op::Jump(UNPATCHED));
                let entry = self.here();
                let saved = std::mem::take(&mut self.loops);
                self.block(body)?;
                self.loops = saved;
                self.emit(Op::HandlerEnd);
                let after = self.here();
                self.set_jump(skip, after);
                self.ops[at] = Op::OnEvent { name, entry };
            }
            StmtKind::PublishEvent(event) => {
                let name = self.expr(&event.name);
                let data = event.data.as_ref().map(|d| self.expr(d));
                let key = event.key.as_ref().map(|k| self.expr(k));
                let to = event.to.as_ref().map(|t| self.expr(t));
                self.emit(Op::Publish {
                    name,
                    data,
                    key,
                    to,
                });
            }
            StmtKind::WaitForEvent(wait) => {
                let ask = self.wait_event(wait);
                self.emit(Op::Ask {
                    ask: Box::new(ask),
                    into: Dest::Target(Target::var("event")),
                });
            }
            StmtKind::Expr(e) => {
                let e = self.expr(e);
                self.emit(Op::Eval(e));
            }
            // `greet "Bob"`: a procedure called the VB way, without CALL or parentheses.
            StmtKind::Generic(generic)
                if generic
                    .procedure_call()
                    .is_some_and(|name| self.procs.contains_key(&name)) =>
            {
                let args = generic.args.iter().map(|a| self.expr(a)).collect();
                self.emit(Op::CallProc {
                    name: generic.keyword.to_lowercase(),
                    args,
                    result: None,
                });
            }
            StmtKind::Generic(generic) => self.not_implemented(&generic.keyword),
            StmtKind::Error => {
                return Err(CompileError::ParseError {
                    at: stmt.span.start,
                });
            }
        }
        Ok(())
    }

    fn not_implemented(&mut self, keyword: &str) {
        self.emit(Op::Fail {
            message: format!("`{keyword}` is not implemented by botflow"),
            kind: "not_implemented",
        });
    }

    fn loop_body(
        &mut self,
        kind: LoopKind,
        body: &[Stmt],
        cont: usize,
        back: usize,
    ) -> Result<(), CompileError> {
        self.loops.push(LoopCtx {
            kind,
            continues: Vec::new(),
            breaks: Vec::new(),
        });
        self.block(body)?;
        let ctx = self.loops.pop();
        self.emit(Op::Jump(back));
        let exit = self.here();
        if let Some(ctx) = ctx {
            self.finish_loop(ctx, cont, exit);
        }
        Ok(())
    }

    fn finish_loop(&mut self, ctx: LoopCtx, cont: usize, exit: usize) {
        for at in ctx.continues {
            self.set_jump(at, cont);
        }
        for at in ctx.breaks {
            self.set_jump(at, exit);
        }
    }

    fn with_block(
        &mut self,
        object: &basic::ast::Ident,
        body: &[Stmt],
    ) -> Result<(), CompileError> {
        for stmt in body {
            match &stmt.kind {
                StmtKind::Assign { target, value, .. } => {
                    let value = self.expr(value);
                    let mut inner = self.target(target)?;
                    let mut path = vec![Access::Field(target_root_name(target))];
                    path.append(&mut inner.path);
                    inner = Target {
                        root: object.key(),
                        path,
                    };
                    self.emit(Op::Assign {
                        target: inner,
                        value,
                    });
                }
                _ => self.stmt(stmt)?,
            }
        }
        Ok(())
    }

    fn case_test(&mut self, slot: u32, pattern: &CasePattern) -> Ex {
        let subject = || Box::new(Ex::Temp(slot));
        match pattern {
            CasePattern::Value(v) => Ex::Binary(BinaryOp::Eq, subject(), Box::new(self.expr(v))),
            CasePattern::Range(low, high) => {
                let low = Ex::Binary(BinaryOp::Ge, subject(), Box::new(self.expr(low)));
                let high = Ex::Binary(BinaryOp::Le, subject(), Box::new(self.expr(high)));
                Ex::Binary(BinaryOp::And, Box::new(low), Box::new(high))
            }
            CasePattern::Is(op, v) => Ex::Binary(*op, subject(), Box::new(self.expr(v))),
        }
    }

    fn keyword(&mut self, value: &KeywordExpr, into: Dest) -> Result<(), CompileError> {
        let ask = match value {
            KeywordExpr::Llm {
                prompt,
                optimize_for,
                max_cost,
            } => Ask::Llm {
                prompt: self.expr(prompt),
                optimize_for: optimize_for.as_ref().map(|e| self.expr(e)),
                max_cost: max_cost.as_ref().map(|e| self.expr(e)),
            },
            KeywordExpr::HttpGet { url } => Ask::Http {
                method: basic::ast::HttpMethod::Get,
                url: self.expr(url),
                body: None,
            },
            KeywordExpr::Http { method, url, body } => Ask::Http {
                method: *method,
                url: self.expr(url),
                body: body.as_ref().map(|b| self.expr(b)),
            },
            KeywordExpr::GetBotMemory { key } => Ask::ReadMemory {
                key: self.expr(key),
            },
            KeywordExpr::Recall { key } => Ask::Recall {
                key: self.expr(key),
            },
            KeywordExpr::Bot(call) => {
                let ask = self.bot(call);
                // `x = BOT ... INTO y`: the explicit INTO wins over the assignment.
                let into = match &call.into {
                    Some(target) => Dest::Target(self.target(target)?),
                    None => into,
                };
                self.emit(Op::Ask {
                    ask: Box::new(ask),
                    into,
                });
                return Ok(());
            }
            KeywordExpr::WaitForEvent(wait) => self.wait_event(wait),
            KeywordExpr::Hear { as_type } => Ask::Hear {
                as_type: self.hear_type(as_type.as_ref()),
            },
            KeywordExpr::ListBots => {
                self.not_implemented("LIST BOTS");
                return Ok(());
            }
            KeywordExpr::Generic(generic) => {
                self.not_implemented(&generic.keyword);
                return Ok(());
            }
        };
        self.emit(Op::Ask {
            ask: Box::new(ask),
            into,
        });
        Ok(())
    }

    fn bot(&mut self, call: &BotCall) -> Ask {
        Ask::Bot {
            bot: self.expr(&call.bot),
            action: self.expr(&call.action),
            with: call.with.as_ref().map(|e| self.expr(e)),
            timeout: call.timeout.as_ref().map(|e| self.expr(e)),
            retry: call.retry.as_ref().map(|e| self.expr(e)),
            cache: call.cache.as_ref().map(|e| self.expr(e)),
        }
    }

    fn approval(&mut self, approval: &Approval) -> ApprovalOp {
        let (from, group) = match &approval.from {
            Approvers::People(people) => (people.iter().map(|p| self.expr(p)).collect(), None),
            Approvers::Group(group) => (Vec::new(), Some(self.expr(group))),
        };
        let mut op = ApprovalOp {
            from,
            group,
            timeout: None,
            on_timeout: None,
            message: None,
            require: None,
            via: None,
            on_deny_continue: false,
        };
        for clause in &approval.clauses {
            match &clause.kind {
                ClauseKind::Timeout(e) => op.timeout = Some(self.expr(e)),
                ClauseKind::OnTimeout(action) => op.on_timeout = Some(self.timeout_action(action)),
                ClauseKind::Message(e) => op.message = Some(self.expr(e)),
                ClauseKind::Require(e) => op.require = Some(self.expr(e)),
                ClauseKind::Via(e) => op.via = Some(self.expr(e)),
                ClauseKind::OnDenyContinue => op.on_deny_continue = true,
            }
        }
        op
    }

    fn wait_event(&mut self, wait: &WaitForEvent) -> Ask {
        let name = self.expr(&wait.name);
        let key = wait.key.as_ref().map(|k| self.expr(k));
        let mut timeout = None;
        let mut on_timeout = None;
        for clause in &wait.clauses {
            match &clause.kind {
                ClauseKind::Timeout(e) => timeout = Some(self.expr(e)),
                ClauseKind::OnTimeout(action) => on_timeout = Some(self.timeout_action(action)),
                _ => {}
            }
        }
        Ask::WaitEvent {
            name,
            key,
            timeout,
            on_timeout,
        }
    }

    fn timeout_action(&mut self, action: &TimeoutAction) -> TimeoutOp {
        match action {
            TimeoutAction::Escalate(who) => TimeoutOp::Escalate(self.expr(who)),
            TimeoutAction::Reject(words) => TimeoutOp::Reject(words.clone()),
            TimeoutAction::Approve { warning } => TimeoutOp::Approve { warning: *warning },
            TimeoutAction::Fail => TimeoutOp::Fail,
            TimeoutAction::Continue => TimeoutOp::Continue,
        }
    }

    fn hear_type(&mut self, as_type: Option<&HearType>) -> Option<HearOp> {
        as_type.map(|t| match t {
            HearType::Named(name) => HearOp::Named(name.clone()),
            HearType::Choices(e) => HearOp::Choices(self.expr(e)),
        })
    }

    fn target(&mut self, expr: &Expr) -> Result<Target, CompileError> {
        match &expr.kind {
            ExprKind::Var(ident) => Ok(Target {
                root: ident.key(),
                path: Vec::new(),
            }),
            ExprKind::Field { object, field } => {
                let mut target = self.target(object)?;
                target.path.push(Access::Field(field.name.clone()));
                Ok(target)
            }
            ExprKind::Index { object, index } => {
                let mut target = self.target(object)?;
                let index = self.expr(index);
                target.path.push(Access::Index(index));
                Ok(target)
            }
            ExprKind::Paren(inner) => self.target(inner),
            _ => Err(CompileError::InvalidTarget {
                at: expr.span.start,
            }),
        }
    }

    fn str_lit(&mut self, lit: &StrLit) -> Ex {
        if let Some(text) = lit.plain_text() {
            return Ex::Const(Value::String(text));
        }
        let parts = lit
            .parts
            .iter()
            .map(|part| match part {
                StrPart::Text(t) => Ex::Const(Value::String(t.clone())),
                StrPart::Interp(e) => self.expr(e),
            })
            .collect();
        Ex::Text(parts)
    }

    /// Lowers an expression, emitting a [`Op::CallProc`] for each call of a
    /// script procedure in it (innermost and leftmost first).
    fn expr(&mut self, expr: &Expr) -> Ex {
        let boxed = |this: &mut Self, e: &Expr| Box::new(this.expr(e));
        match &expr.kind {
            ExprKind::Null => Ex::Const(Value::Null),
            ExprKind::Bool(b) => Ex::Const(Value::Bool(*b)),
            ExprKind::Int(i) => Ex::Const(Value::from(*i)),
            ExprKind::Float(f) => Ex::Const(crate::value::float_value(*f).unwrap_or(Value::Null)),
            ExprKind::Str(lit) => self.str_lit(lit),
            ExprKind::List(items) => Ex::List(items.iter().map(|i| self.expr(i)).collect()),
            ExprKind::Object(entries) => Ex::Object(
                entries
                    .iter()
                    .map(|entry| {
                        let key = match &entry.key {
                            ObjectKey::Bare(name) => name.clone(),
                            ObjectKey::Quoted(_) => entry.key.name(),
                        };
                        (key, self.expr(&entry.value))
                    })
                    .collect(),
            ),
            ExprKind::Var(ident) => Ex::Var(ident.key()),
            ExprKind::Field { object, field } => Ex::Field(boxed(self, object), field.name.clone()),
            ExprKind::Index { object, index } => Ex::Index(boxed(self, object), boxed(self, index)),
            ExprKind::Call { name, args } => {
                let key = name.key();
                if self.procs.contains_key(&key) {
                    let args = args.iter().map(|a| self.expr(a)).collect();
                    let slot = self.temp();
                    self.emit(Op::CallProc {
                        name: key,
                        args,
                        result: Some(slot),
                    });
                    Ex::Temp(slot)
                } else if let Some(builtin) = basic::builtins::builtin(&name.name) {
                    Ex::Builtin(builtin.name, args.iter().map(|a| self.expr(a)).collect())
                } else {
                    Ex::Unknown(name.name.clone())
                }
            }
            ExprKind::Unary { op, operand } => match op {
                UnaryOp::Neg => Ex::Neg(boxed(self, operand)),
                UnaryOp::Not => Ex::Not(boxed(self, operand)),
            },
            ExprKind::Binary { op, left, right } => {
                let left = boxed(self, left);
                Ex::Binary(*op, left, boxed(self, right))
            }
            ExprKind::In {
                value,
                list,
                negated,
            } => {
                let value = boxed(self, value);
                Ex::In {
                    value,
                    list: boxed(self, list),
                    negated: *negated,
                }
            }
            ExprKind::Paren(inner) => self.expr(inner),
            ExprKind::Error => Ex::Invalid,
        }
    }
}

fn target_root_name(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Var(ident) => ident.name.clone(),
        ExprKind::Field { object, .. }
        | ExprKind::Index { object, .. }
        | ExprKind::Paren(object) => target_root_name(object),
        _ => String::new(),
    }
}

fn loop_matches(kind: LoopKind, wanted: LoopKind) -> bool {
    match wanted {
        LoopKind::For => kind == LoopKind::For,
        // `DO WHILE c … LOOP` parses as a while loop, so EXIT DO and EXIT WHILE
        // both leave the innermost loop of either spelling.
        LoopKind::Do | LoopKind::While => matches!(kind, LoopKind::Do | LoopKind::While),
    }
}

fn setup_keyword(kind: SetupKind) -> Option<&'static str> {
    Some(match kind {
        SetupKind::UseKb => "USE KB",
        SetupKind::UseTool => "USE TOOL",
        SetupKind::AddTool => "ADD TOOL",
        SetupKind::ClearTools => "CLEAR TOOLS",
        SetupKind::SetContext => "SET CONTEXT",
        SetupKind::AddSuggestion => "ADD SUGGESTION",
        SetupKind::ClearSuggestions => "CLEAR SUGGESTIONS",
        SetupKind::Description => return None,
    })
}

/// Lowers a single expression that calls no script procedure (any call of
/// a name that is not built in fails when evaluated). For tools that
/// evaluate an expression outside a run, and for tests.
pub fn lower_expr(expr: &Expr) -> Ex {
    Compiler::default().expr(expr)
}
