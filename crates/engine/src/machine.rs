//! The interpreter: [`start`], [`advance`] and [`resume`].
//!
//! Scheduling is deterministic: [`advance`] always runs the ready fiber with
//! the lowest id until it blocks or ends, then the next. A `PARALLEL` branch
//! therefore runs up to its first request before its sibling starts, and two
//! runs given the same answers produce the same effects in the same order.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::builtins::{Inputs, UuidSource};
use crate::error::EngineError;
use crate::eval::{Scope, eval};
use crate::ir::{
    Access, ApprovalOp, Ask, Compiled, Dest, ErrorMode, Ex, HearOp, JoinOp, Op, Target, TimeoutOp,
};
use crate::protocol::{
    Advance, Answer, Effect, ErrorValue, OnTimeout, Outcome, Request, RequestKind,
};
use crate::state::{
    ActiveStep, Fiber, FiberStatus, Finished, Frame, JoinState, LoopState, RunState, Written,
};
use crate::value::{self, Num, to_num, to_text, truthy};

/// How deep procedure calls may nest before a call fails (runaway recursion).
const MAX_CALL_DEPTH: usize = 200;

/// Starts a run. `input`'s keys become the first variables (case-folded);
/// `seed` (the run id) seeds the run's `UUID()` values.
pub fn start(compiled: &Compiled, input: Map<String, Value>, seed: &str) -> RunState {
    let _ = compiled;
    let vars = input
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    let main = Fiber {
        pc: 0,
        vars,
        frames: vec![Frame::main()],
        status: FiberStatus::Ready,
        prefix: String::new(),
        steps: Vec::new(),
        parent: None,
        label: String::new(),
        step_number: None,
        written: None,
        base_vars: None,
    };
    RunState {
        fibers: BTreeMap::from([(0, main)]),
        next_fiber: 1,
        next_request: 1,
        step_counts: BTreeMap::new(),
        request_counts: BTreeMap::new(),
        events_published: 0,
        uuids: UuidSource::from_seed_text(seed),
        now_ms: 0,
        headers: Map::new(),
        system_prompt: None,
        handlers: Vec::new(),
        handlers_started: 0,
        outbox: Vec::new(),
        finished: None,
    }
}

/// Runs the ready fibers until every fiber is blocked or finished, or
/// `budget` instructions have run. `now_ms` (epoch milliseconds) is what
/// `NOW()`, `TODAY()` and `UUID()` read during this call.
pub fn advance(compiled: &Compiled, state: &mut RunState, now_ms: i64, budget: u32) -> Advance {
    state.now_ms = now_ms;
    let effects = std::mem::take(&mut state.outbox);
    let mut machine = Machine {
        compiled,
        state,
        effects,
    };
    let outcome = machine.run(budget.max(1));
    Advance {
        effects: machine.effects,
        outcome,
    }
}

/// Feeds the answer of an open request. The fiber continues at the next
/// [`advance`]; effects this causes (a step that failed) come out with it.
pub fn resume(
    compiled: &Compiled,
    state: &mut RunState,
    answer: Answer,
) -> Result<(), EngineError> {
    if state.finished.is_some() {
        return Err(EngineError::Finished);
    }
    let found = state
        .fibers
        .iter()
        .find_map(|(id, fiber)| match &fiber.status {
            FiberStatus::Waiting(request) if request.id == answer.request => {
                Some((*id, request.clone(), fiber.pc))
            }
            _ => None,
        });
    let Some((fid, request, pc)) = found else {
        return Err(EngineError::UnknownRequest {
            request: answer.request,
        });
    };
    let Some(Op::Ask { ask, into }) = compiled.ops.get(pc) else {
        return Err(EngineError::StateMismatch);
    };
    let effects = std::mem::take(&mut state.outbox);
    let mut machine = Machine {
        compiled,
        state,
        effects,
    };
    machine.set_status(fid, FiberStatus::Ready);
    match answer.result {
        Err(mut error) => {
            // Errors name the step path; requests outside any step have none to name.
            if request.step.is_some() {
                error.step = error.step.or(Some(request.path));
            }
            machine.raise(fid, error, pc + 1);
        }
        Ok(value) => {
            if let Err(error) = machine.apply_answer(fid, ask, into, value) {
                machine.raise(fid, error, pc + 1);
            } else if machine.state.finished.is_none() {
                machine.set_pc(fid, pc + 1);
            }
        }
    }
    machine.state.outbox = machine.effects;
    Ok(())
}

/// Delivers an event (`{"name", "data", "key", "from", "at"}`) to the run's
/// `ON EVENT` handlers of that name, which the runtime has matched to this
/// run. Each matching handler body runs as its own fiber, before the run's
/// other fibers take their next statement, one handler at a time, with a
/// copy of the run's variables plus `event`; the variables it changes are
/// written back when it ends. Returns how many handlers were started or queued.
pub fn deliver_event(compiled: &Compiled, state: &mut RunState, event: Value) -> usize {
    let _ = compiled;
    if state.finished.is_some() {
        return 0;
    }
    let name = value::field(&event, "name")
        .map(to_text)
        .unwrap_or_default();
    let entries: Vec<usize> = state
        .handlers
        .iter()
        .filter(|(handler, _)| handler.eq_ignore_ascii_case(&name))
        .map(|(_, e)| *e)
        .collect();
    let Some(main) = state.fibers.get(&0) else {
        return 0;
    };
    let base = main.vars.clone();
    for entry in &entries {
        let busy = state.fibers.iter().any(|(id, f)| is_handler(*id, f));
        state.handlers_started += 1;
        let mut vars = base.clone();
        vars.insert("event".to_owned(), event.clone());
        let id = state.next_fiber;
        state.next_fiber += 1;
        state.fibers.insert(
            id,
            Fiber {
                pc: *entry,
                vars,
                frames: vec![Frame::main()],
                status: if busy {
                    FiberStatus::Queued
                } else {
                    FiberStatus::Ready
                },
                prefix: format!("on#{}", state.handlers_started),
                steps: Vec::new(),
                parent: None,
                label: name.clone(),
                step_number: None,
                written: Some(handler_writes()),
                base_vars: None,
            },
        );
    }
    entries.len()
}

/// What a handler has written when it starts: `event`, which it hands back
/// to the run like any variable it sets.
fn handler_writes() -> Written {
    Written {
        vars: BTreeSet::from(["event".to_owned()]),
        locals: BTreeSet::new(),
    }
}

/// The entries of `theirs` that a finished branch or handler hands back:
/// those it wrote, or, in a state stored before writes were tracked
/// (`written` is `None`), those whose value differs from `base`. They keep
/// `theirs`'s order, so new variables appear in the order they were made.
fn handed_back(
    theirs: &Map<String, Value>,
    written: Option<&BTreeSet<String>>,
    base: &Map<String, Value>,
) -> Vec<(String, Value)> {
    theirs
        .iter()
        .filter(|(key, value)| match written {
            Some(written) => written.contains(*key),
            None => base.get(*key) != Some(*value),
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Whether a fiber runs an `ON EVENT` handler (neither the main program nor a branch).
fn is_handler(id: u32, fiber: &Fiber) -> bool {
    id != 0 && fiber.parent.is_none()
}

struct Machine<'a> {
    compiled: &'a Compiled,
    state: &'a mut RunState,
    effects: Vec<Effect>,
}

type Flow = Result<(), ErrorValue>;

fn runtime(message: impl Into<String>) -> ErrorValue {
    ErrorValue::new("runtime", message)
}

impl Machine<'_> {
    fn run(&mut self, budget: u32) -> Outcome {
        let mut executed = 0;
        loop {
            if let Some(finished) = &self.state.finished {
                return match finished {
                    Finished::Completed(value) => Outcome::Completed(value.clone()),
                    Finished::Failed(error) => Outcome::Failed(error.clone()),
                    Finished::Rejected => Outcome::Rejected,
                };
            }
            // A delivered event's handler goes before every other fiber.
            let ready = self
                .state
                .fibers
                .iter()
                .filter(|(_, f)| f.status == FiberStatus::Ready)
                .min_by_key(|(id, f)| (!is_handler(**id, f), **id))
                .map(|(id, _)| *id);
            let Some(fid) = ready else {
                let pending = self.state.pending();
                if pending.is_empty() {
                    // Only a bug can leave fibers neither ready, waiting nor finished.
                    let error = runtime("the run has nothing left to do but did not finish");
                    self.state.finished = Some(Finished::Failed(error.clone()));
                    return Outcome::Failed(error);
                }
                return Outcome::Blocked(pending);
            };
            if executed >= budget {
                return Outcome::BudgetExhausted;
            }
            executed += 1;
            let pc = self.state.fibers.get(&fid).map_or(usize::MAX, |f| f.pc);
            let Some(op) = self.compiled.ops.get(pc) else {
                let error = runtime(EngineError::StateMismatch.to_string());
                self.state.finished = Some(Finished::Failed(error));
                continue;
            };
            if let Err(error) = self.exec(fid, pc, op) {
                let next = match op {
                    Op::Parallel { after, .. } => *after,
                    _ => pc + 1,
                };
                self.raise(fid, error, next);
            }
        }
    }

    // ---- Fiber access ------------------------------------------------------

    fn fiber(&self, fid: u32) -> Result<&Fiber, ErrorValue> {
        self.state
            .fibers
            .get(&fid)
            .ok_or_else(|| runtime(format!("fiber {fid} does not exist")))
    }

    fn fiber_mut(&mut self, fid: u32) -> Result<&mut Fiber, ErrorValue> {
        self.state
            .fibers
            .get_mut(&fid)
            .ok_or_else(|| runtime(format!("fiber {fid} does not exist")))
    }

    fn set_pc(&mut self, fid: u32, pc: usize) {
        if let Some(fiber) = self.state.fibers.get_mut(&fid) {
            fiber.pc = pc;
        }
    }

    fn set_status(&mut self, fid: u32, status: FiberStatus) {
        if let Some(fiber) = self.state.fibers.get_mut(&fid) {
            fiber.status = status;
        }
    }

    fn eval(&mut self, fid: u32, ex: &Ex) -> Result<Value, ErrorValue> {
        let state = &mut *self.state;
        let fiber = state
            .fibers
            .get(&fid)
            .ok_or_else(|| runtime("no such fiber"))?;
        let frame = fiber
            .frames
            .last()
            .ok_or_else(|| runtime("the fiber has no frame"))?;
        let scope = Scope {
            globals: &fiber.vars,
            locals: frame.locals.as_ref(),
            temps: &frame.temps,
        };
        let mut inputs = Inputs {
            now_ms: state.now_ms,
            uuids: &mut state.uuids,
        };
        eval(ex, &scope, &mut inputs).map_err(runtime)
    }

    fn eval_opt(&mut self, fid: u32, ex: Option<&Ex>) -> Result<Option<Value>, ErrorValue> {
        ex.map(|e| self.eval(fid, e)).transpose()
    }

    fn text(&mut self, fid: u32, ex: &Ex) -> Result<String, ErrorValue> {
        Ok(to_text(&self.eval(fid, ex)?))
    }

    fn text_opt(&mut self, fid: u32, ex: Option<&Ex>) -> Result<Option<String>, ErrorValue> {
        Ok(self.eval_opt(fid, ex)?.map(|v| to_text(&v)))
    }

    /// Where the fiber stands for step paths: its innermost step, else its branch prefix.
    fn context(&self, fid: u32) -> String {
        self.state.fibers.get(&fid).map_or_else(String::new, |f| {
            f.steps
                .last()
                .map_or_else(|| f.prefix.clone(), |s| s.path.clone())
        })
    }

    /// The path of the next request (or `PARALLEL`) of a fiber: its context,
    /// `#n` from the second time on; `_` outside any step.
    fn request_path(&mut self, fid: u32) -> String {
        let mut base = self.context(fid);
        if base.is_empty() {
            base = "_".to_owned();
        }
        let count = self.state.request_counts.entry(base.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            base
        } else {
            format!("{base}#{count}")
        }
    }

    // ---- Variables ---------------------------------------------------------

    fn assign(&mut self, fid: u32, target: &Target, value: Value) -> Flow {
        let mut keys = Vec::with_capacity(target.path.len());
        for access in &target.path {
            keys.push(match access {
                Access::Field(name) => (true, Value::String(name.clone())),
                Access::Index(ex) => (false, self.eval(fid, ex)?),
            });
        }
        let fiber = self.fiber_mut(fid)?;
        let Fiber {
            vars,
            frames,
            written,
            ..
        } = fiber;
        let bottom = frames.len() == 1;
        let frame = frames
            .last_mut()
            .ok_or_else(|| runtime("the fiber has no frame"))?;
        // In a procedure, a name is local unless it is already a run variable
        // and not a local: procedures see and update the run's variables but
        // keep their own temporaries to themselves.
        let local = frame.locals.as_ref().is_some_and(|locals| {
            locals.contains_key(&target.root) || !vars.contains_key(&target.root)
        });
        if let Some(written) = written {
            // A called procedure's own locals die with its frame; only the
            // bottom frame's locals belong to a branch's join.
            match (local, bottom) {
                (false, _) => written.var(&target.root),
                (true, true) => written.local(&target.root),
                (true, false) => {}
            }
        }
        let slot = match frame.locals.as_mut() {
            Some(locals) if local => locals.entry(target.root.clone()).or_insert(Value::Null),
            _ => vars.entry(target.root.clone()).or_insert(Value::Null),
        };
        set_path(slot, &keys, value).map_err(runtime)
    }

    /// Writes an object's keys into the fiber's run variables (a step's answer).
    fn merge(&mut self, fid: u32, object: Map<String, Value>) -> Flow {
        let fiber = self.fiber_mut(fid)?;
        for (key, value) in object {
            let key = key.to_lowercase();
            if let Some(written) = fiber.written.as_mut() {
                written.var(&key);
            }
            fiber.vars.insert(key, value);
        }
        Ok(())
    }

    // ---- Instructions ------------------------------------------------------

    fn exec(&mut self, fid: u32, pc: usize, op: &Op) -> Flow {
        let mut next = pc + 1;
        match op {
            Op::Assign { target, value } => {
                let value = self.eval(fid, value)?;
                self.assign(fid, target, value)?;
            }
            Op::SetTemp { slot, value } => {
                let value = self.eval(fid, value)?;
                self.top_frame(fid)?.temps.insert(*slot, value);
            }
            Op::Eval(ex) => {
                self.eval(fid, ex)?;
            }
            Op::Jump(to) => next = *to,
            Op::JumpIf { cond, to } => {
                if truthy(&self.eval(fid, cond)?) {
                    next = *to;
                }
            }
            Op::JumpIfNot { cond, to } => {
                if !truthy(&self.eval(fid, cond)?) {
                    next = *to;
                }
            }
            Op::CallProc { name, args, result } => {
                let proc = self
                    .compiled
                    .procs
                    .get(name)
                    .ok_or_else(|| runtime(format!("no procedure `{name}`")))?;
                let mut locals = Map::new();
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(self.eval(fid, arg)?);
                }
                if values.len() > proc.params.len() {
                    return Err(runtime(format!(
                        "`{}` takes {} arguments, not {}",
                        proc.name,
                        proc.params.len(),
                        values.len()
                    )));
                }
                let mut values = values.into_iter();
                for param in &proc.params {
                    locals.insert(param.clone(), values.next().unwrap_or(Value::Null));
                }
                let fiber = self.fiber_mut(fid)?;
                if fiber.frames.len() >= MAX_CALL_DEPTH {
                    return Err(runtime(format!(
                        "calls nest deeper than {MAX_CALL_DEPTH} (endless recursion?)"
                    )));
                }
                fiber.frames.push(Frame {
                    locals: Some(locals),
                    proc: Some(name.clone()),
                    return_pc: pc + 1,
                    result: *result,
                    ..Frame::main()
                });
                next = proc.entry;
            }
            Op::Return(value) => {
                let value = self.eval_opt(fid, value.as_ref())?;
                return self.finish_body(fid, value);
            }
            Op::ProcEnd | Op::BranchEnd | Op::HandlerEnd => return self.finish_body(fid, None),
            Op::End => {
                let vars = self.fiber(fid)?.vars.clone();
                self.complete(Value::Object(vars));
                return Ok(());
            }
            Op::ForEachInit { slot, list } => {
                let items = match self.eval(fid, list)? {
                    Value::Array(items) => items,
                    Value::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
                    Value::Null => Vec::new(),
                    other => {
                        return Err(runtime(format!(
                            "FOR EACH needs a list or an object, not {}",
                            value::type_name(&other)
                        )));
                    }
                };
                self.top_frame(fid)?
                    .loops
                    .insert(*slot, LoopState::Each { items, next: 0 });
            }
            Op::ForEachNext { slot, var, exit } => {
                let item = match self.top_frame(fid)?.loops.get_mut(slot) {
                    Some(LoopState::Each { items, next }) if *next < items.len() => {
                        *next += 1;
                        Some(items[*next - 1].clone())
                    }
                    _ => None,
                };
                match item {
                    Some(item) => self.assign(
                        fid,
                        &Target {
                            root: var.clone(),
                            path: Vec::new(),
                        },
                        item,
                    )?,
                    None => next = *exit,
                }
            }
            Op::ForInit {
                slot,
                var,
                from,
                to,
                step,
            } => {
                let from = self.eval(fid, from)?;
                let to = self.eval(fid, to)?;
                let step = self.eval_opt(fid, step.as_ref())?.unwrap_or(Value::from(1));
                for (what, v) in [("start", &from), ("end", &to), ("STEP", &step)] {
                    if to_num(v).is_err() || matches!(v, Value::Null | Value::Bool(_)) {
                        return Err(runtime(format!(
                            "the FOR loop's {what} is not a number: {}",
                            to_text(v)
                        )));
                    }
                }
                if to_num(&step).map(Num::as_f64) == Ok(0.0) {
                    return Err(runtime("a FOR loop's STEP cannot be 0"));
                }
                let from = to_num(&from).and_then(Num::to_value).map_err(runtime)?;
                self.assign(
                    fid,
                    &Target {
                        root: var.clone(),
                        path: Vec::new(),
                    },
                    from,
                )?;
                self.top_frame(fid)?
                    .loops
                    .insert(*slot, LoopState::Count { to, step });
            }
            Op::ForTest { slot, var, exit } => {
                let Some(LoopState::Count { to, step }) =
                    self.top_frame(fid)?.loops.get(slot).cloned()
                else {
                    next = *exit;
                    return self.goto(fid, next);
                };
                let current = self.eval(fid, &Ex::Var(var.clone()))?;
                let order = value::compare(&current, &to).map_err(runtime)?;
                let upward = to_num(&step).map(Num::as_f64).unwrap_or(1.0) > 0.0;
                let inside = order.is_some_and(|o| if upward { o.is_le() } else { o.is_ge() });
                if !inside {
                    next = *exit;
                }
            }
            Op::ForStep { slot, var, test } => {
                let Some(LoopState::Count { step, .. }) =
                    self.top_frame(fid)?.loops.get(slot).cloned()
                else {
                    return Err(runtime("the FOR loop was left"));
                };
                let current = self.eval(fid, &Ex::Var(var.clone()))?;
                let moved = value::arith(&current, &step, "+").map_err(runtime)?;
                self.assign(
                    fid,
                    &Target {
                        root: var.clone(),
                        path: Vec::new(),
                    },
                    moved,
                )?;
                next = *test;
            }
            Op::LoopEnd { slot } => {
                self.top_frame(fid)?.loops.remove(slot);
            }
            Op::OnError(mode) => self.top_frame(fid)?.on_error = *mode,
            Op::Talk { to, text } => {
                let to = self.text_opt(fid, to.as_ref())?;
                let text = self.text(fid, text)?;
                self.effects.push(Effect::Talk { to, text });
            }
            Op::Print(ex) => {
                let text = self.text(fid, ex)?;
                self.effects.push(Effect::Print { text });
            }
            Op::StepEnter {
                number,
                kind,
                in_loop,
            } => self.enter_step(fid, pc, number, kind, *in_loop)?,
            Op::StepExit { enter } => {
                let fiber = self.fiber_mut(fid)?;
                let depth = fiber.frames.len();
                if fiber
                    .steps
                    .last()
                    .is_some_and(|s| s.enter == *enter && s.depth == depth)
                    && let Some(step) = fiber.steps.pop()
                {
                    self.effects.push(Effect::StepFinished {
                        path: step.path,
                        number: step.number,
                        error: step.error,
                    });
                }
            }
            Op::Ask { ask, .. } => {
                let kind = self.request(fid, ask)?;
                let path = self.request_path(fid);
                let id = self.state.next_request;
                self.state.next_request += 1;
                let fiber = self.fiber(fid)?;
                let step = fiber
                    .steps
                    .last()
                    .map(|s| s.number.clone())
                    .or_else(|| fiber.step_number.clone());
                self.set_status(
                    fid,
                    FiberStatus::Waiting(Request {
                        id,
                        fiber: fid,
                        path,
                        step,
                        kind,
                    }),
                );
                // The fiber stays on this op until the answer comes.
                return Ok(());
            }
            Op::Parallel {
                branches,
                join,
                after,
            } => {
                self.fork(fid, branches, join, *after)?;
                return Ok(());
            }
            Op::Publish {
                name,
                data,
                key,
                to,
            } => {
                let name = self.text(fid, name)?;
                let data = self.eval_opt(fid, data.as_ref())?.unwrap_or(Value::Null);
                let key = self.text_opt(fid, key.as_ref())?;
                let to = self.text_opt(fid, to.as_ref())?;
                self.state.events_published += 1;
                let n = self.state.events_published;
                let context = self.context(fid);
                let id = if context.is_empty() {
                    format!("event#{n}")
                } else {
                    format!("{context}/event#{n}")
                };
                self.effects.push(Effect::PublishEvent {
                    id,
                    name,
                    data,
                    key,
                    to,
                });
            }
            Op::SetMemory { key, value } => {
                let key = self.text(fid, key)?;
                let value = self.eval(fid, value)?;
                self.effects.push(Effect::SetMemory { key, value });
            }
            Op::Remember {
                key,
                value,
                duration,
            } => {
                let key = self.text(fid, key)?;
                let value = self.eval(fid, value)?;
                let duration = self.eval_opt(fid, duration.as_ref())?;
                self.effects.push(Effect::Remember {
                    key,
                    value,
                    duration,
                });
            }
            Op::ShareMemory { key, with_bot } => {
                let key = self.text(fid, key)?;
                let with_bot = self.text(fid, with_bot)?;
                self.effects.push(Effect::ShareMemory { key, with_bot });
            }
            Op::SyncMemory { from_bot } => {
                let from_bot = self.text(fid, from_bot)?;
                self.effects.push(Effect::SyncMemory { from_bot });
            }
            Op::SetHeader { name, value } => {
                let name = self.text(fid, name)?;
                let value = self.eval(fid, value)?;
                self.state.headers.insert(name, value);
            }
            Op::ClearHeaders => self.state.headers.clear(),
            Op::SystemPrompt(text) => {
                self.state.system_prompt = Some(text.clone());
                self.effects
                    .push(Effect::SystemPrompt { text: text.clone() });
            }
            Op::Setup { keyword, args } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(self.eval(fid, arg)?);
                }
                self.effects.push(Effect::Setup {
                    keyword: (*keyword).to_owned(),
                    args: values,
                });
            }
            Op::OnEvent { name, entry } => {
                let name = self.text(fid, name)?;
                self.state.handlers.push((name, *entry));
            }
            Op::Fail { message, kind } => return Err(ErrorValue::new(kind, message.clone())),
            Op::Nop => {}
        }
        self.goto(fid, next)
    }

    fn goto(&mut self, fid: u32, pc: usize) -> Flow {
        self.set_pc(fid, pc);
        Ok(())
    }

    fn top_frame(&mut self, fid: u32) -> Result<&mut Frame, ErrorValue> {
        self.fiber_mut(fid)?
            .frames
            .last_mut()
            .ok_or_else(|| runtime("the fiber has no frame"))
    }

    fn enter_step(&mut self, fid: u32, pc: usize, number: &str, kind: &str, in_loop: bool) -> Flow {
        let context = self.context(fid);
        let base = if context.is_empty() {
            number.to_owned()
        } else {
            format!("{context}/{number}")
        };
        let count = self.state.step_counts.entry(base.clone()).or_insert(0);
        *count += 1;
        let path = if *count == 1 && !in_loop {
            base
        } else {
            format!("{base}#{count}")
        };
        let fiber = self.fiber_mut(fid)?;
        let depth = fiber.frames.len();
        fiber.steps.push(ActiveStep {
            path: path.clone(),
            number: number.to_owned(),
            enter: pc,
            depth,
            error: None,
        });
        self.effects.push(Effect::StepStarted {
            path,
            number: number.to_owned(),
            kind: kind.to_owned(),
        });
        Ok(())
    }

    /// Ends the body the fiber is running: a procedure returns, a branch or
    /// handler finishes, the main program completes.
    fn finish_body(&mut self, fid: u32, value: Option<Value>) -> Flow {
        let fiber = self.fiber_mut(fid)?;
        if fiber.frames.len() > 1 {
            let Some(frame) = fiber.frames.pop() else {
                return Ok(());
            };
            let depth = fiber.frames.len();
            let value = value.unwrap_or_else(|| {
                let own = frame
                    .proc
                    .as_ref()
                    .and_then(|name| frame.locals.as_ref()?.get(name).cloned());
                own.unwrap_or(Value::Null)
            });
            if let (Some(slot), Some(caller)) = (frame.result, fiber.frames.last_mut()) {
                caller.temps.insert(slot, value);
            }
            fiber.pc = frame.return_pc;
            self.close_steps(fid, depth, None);
            return Ok(());
        }
        let parent = fiber.parent;
        if fid == 0 {
            let result = value.unwrap_or_else(|| Value::Object(fiber.vars.clone()));
            self.close_steps(fid, 0, None);
            self.complete(result);
        } else {
            self.close_steps(fid, 0, None);
            self.set_status(fid, FiberStatus::Done);
            match parent {
                Some(parent) => self.check_join(parent),
                None => self.end_handler(fid),
            }
        }
        Ok(())
    }

    /// Ends an event handler: its changed variables go to the run's, and
    /// the next queued handler may start.
    fn end_handler(&mut self, fid: u32) {
        let Some(handler) = self.state.fibers.remove(&fid) else {
            return;
        };
        if let Some(main) = self.state.fibers.get_mut(&0) {
            // Only what the handler wrote: the main fiber (or a join) may
            // have changed other variables while the handler was waiting.
            let base = handler.base_vars.as_ref().unwrap_or(&main.vars);
            let changes = handed_back(
                &handler.vars,
                handler.written.as_ref().map(|w| &w.vars),
                base,
            );
            for (key, value) in changes {
                main.vars.insert(key, value);
            }
        }
        let queued = self
            .state
            .fibers
            .iter()
            .find(|(_, f)| f.status == FiberStatus::Queued)
            .map(|(id, _)| *id);
        let current = self
            .state
            .fibers
            .get(&0)
            .map(|main| main.vars.clone())
            .unwrap_or_default();
        if let Some(next) = queued.and_then(|id| self.state.fibers.get_mut(&id)) {
            // A queued handler sees the variables as they are when it starts.
            let event = next.vars.get("event").cloned().unwrap_or(Value::Null);
            next.vars = current.clone();
            next.vars.insert("event".to_owned(), event);
            next.written = Some(handler_writes());
            next.base_vars = None;
            next.status = FiberStatus::Ready;
        }
    }

    /// Ends the steps of a fiber that run deeper than `depth` frames.
    fn close_steps(&mut self, fid: u32, depth: usize, error: Option<&ErrorValue>) {
        let Some(fiber) = self.state.fibers.get_mut(&fid) else {
            return;
        };
        while fiber.steps.last().is_some_and(|s| s.depth > depth) {
            if let Some(step) = fiber.steps.pop() {
                let error = step.error.or_else(|| error.cloned());
                self.effects.push(Effect::StepFinished {
                    path: step.path,
                    number: step.number,
                    error,
                });
            }
        }
    }

    fn complete(&mut self, value: Value) {
        self.finish(Finished::Completed(value));
    }

    /// Ends the run, withdrawing every request still open.
    fn finish(&mut self, finished: Finished) {
        let others: Vec<u32> = self
            .state
            .fibers
            .keys()
            .copied()
            .filter(|id| *id != 0)
            .collect();
        for id in others {
            self.cancel(id);
        }
        self.state.finished = Some(finished);
    }

    /// Removes a fiber (and its branches), withdrawing its open request.
    fn cancel(&mut self, fid: u32) {
        let Some(fiber) = self.state.fibers.remove(&fid) else {
            return;
        };
        // Its steps stay recorded; the journal learns they were cut short.
        for step in fiber.steps.into_iter().rev() {
            self.effects.push(Effect::StepFinished {
                path: step.path,
                number: step.number,
                error: Some(ErrorValue::new("cancelled", "the branch was cancelled")),
            });
        }
        match fiber.status {
            FiberStatus::Waiting(request) => {
                self.effects.push(Effect::RequestCancelled {
                    id: request.id,
                    path: request.path,
                });
            }
            FiberStatus::Joining(join) => {
                for child in join.children {
                    self.cancel(child);
                }
            }
            _ => {}
        }
    }

    // ---- Errors ------------------------------------------------------------

    /// Handles an error in a fiber: the nearest `ON ERROR` of its call frames
    /// takes it, or the fiber fails. `next` is where `RESUME NEXT` continues
    /// when the error happened in the handling frame itself.
    fn raise(&mut self, fid: u32, mut error: ErrorValue, next: usize) {
        if error.step.is_none() {
            let context = self.context(fid);
            if !context.is_empty() {
                error.step = Some(context);
            }
        }
        let Some(fiber) = self.state.fibers.get_mut(&fid) else {
            return;
        };
        fiber.status = FiberStatus::Ready;
        if let Some(step) = fiber.steps.last_mut()
            && step.error.is_none()
        {
            step.error = Some(error.clone());
        }
        if let Some(written) = fiber.written.as_mut() {
            written.var("error");
        }
        fiber.vars.insert("error".to_owned(), error.to_value());
        let handler = fiber.frames.iter().rposition(|f| f.on_error.is_some());
        let Some(at) = handler else {
            self.close_steps(fid, 0, Some(&error));
            self.fail_fiber(fid, error);
            return;
        };
        let top = fiber.frames.len() - 1;
        let mode = fiber.frames[at].on_error;
        // The frames above the handler's are abandoned, as the calls that failed.
        let mut resume_at = next;
        if at < top {
            resume_at = fiber.frames[at + 1].return_pc;
            let slot = fiber.frames[at + 1].result;
            fiber.frames.truncate(at + 1);
            if let (Some(slot), Some(frame)) = (slot, fiber.frames.last_mut()) {
                frame.temps.insert(slot, Value::Null);
            }
        }
        match mode {
            Some(ErrorMode::Goto(target)) => {
                self.close_steps(fid, at, Some(&error));
                self.set_pc(fid, target);
            }
            _ => {
                self.close_steps(fid, at + 1, Some(&error));
                self.set_pc(fid, resume_at);
            }
        }
    }

    fn fail_fiber(&mut self, fid: u32, error: ErrorValue) {
        if fid == 0 {
            self.finish(Finished::Failed(error));
            return;
        }
        let parent = self.state.fibers.get(&fid).and_then(|f| f.parent);
        self.set_status(fid, FiberStatus::Failed(error.clone()));
        match parent {
            Some(parent) => self.check_join(parent),
            // An event handler's uncaught error fails the run.
            None => self.finish(Finished::Failed(error)),
        }
    }

    // ---- PARALLEL ----------------------------------------------------------

    fn fork(
        &mut self,
        fid: u32,
        branches: &[(String, usize)],
        join: &JoinOp,
        after: usize,
    ) -> Flow {
        let need = match join {
            JoinOp::All => branches.len(),
            JoinOp::Count(n) => {
                let n = to_num(&self.eval(fid, n)?).map_err(runtime)?.as_f64();
                if n < 1.0 {
                    return Err(runtime(format!(
                        "WAIT {n}: a PARALLEL must wait for at least one branch"
                    )));
                }
                (n as usize).min(branches.len())
            }
        };
        if branches.is_empty() {
            return self.goto(fid, after);
        }
        let path = self.request_path(fid);
        let parent = self.fiber(fid)?;
        let vars = parent.vars.clone();
        let step_number = parent
            .steps
            .last()
            .map(|s| s.number.clone())
            .or_else(|| parent.step_number.clone());
        let mut base = parent.frames.last().cloned().unwrap_or_else(Frame::main);
        base.return_pc = 0;
        base.result = None;
        base.on_error = None;
        let mut ordered: Vec<&(String, usize)> = branches.iter().collect();
        ordered.sort_by(|a, b| a.0.cmp(&b.0));
        let mut children = Vec::with_capacity(ordered.len());
        for (label, entry) in ordered {
            let id = self.state.next_fiber;
            self.state.next_fiber += 1;
            children.push(id);
            self.state.fibers.insert(
                id,
                Fiber {
                    pc: *entry,
                    vars: vars.clone(),
                    frames: vec![base.clone()],
                    status: FiberStatus::Ready,
                    prefix: format!("{path}/{label}"),
                    steps: Vec::new(),
                    parent: Some(fid),
                    label: label.clone(),
                    step_number: step_number.clone(),
                    written: Some(Written::default()),
                    base_vars: None,
                },
            );
        }
        self.set_status(
            fid,
            FiberStatus::Joining(JoinState {
                children,
                need,
                after,
                path,
            }),
        );
        Ok(())
    }

    /// Completes a parent's join once enough branches succeeded, or once all
    /// have finished.
    fn check_join(&mut self, parent: u32) {
        let Some(FiberStatus::Joining(join)) =
            self.state.fibers.get(&parent).map(|f| f.status.clone())
        else {
            return;
        };
        let status = |id: &u32| self.state.fibers.get(id).map(|f| &f.status);
        let succeeded = join
            .children
            .iter()
            .filter(|id| matches!(status(id), Some(FiberStatus::Done)))
            .count();
        let finished = join
            .children
            .iter()
            .filter(|id| matches!(status(id), Some(FiberStatus::Done | FiberStatus::Failed(_))))
            .count();
        if succeeded < join.need && finished < join.children.len() {
            return;
        }
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for id in &join.children {
            let Some(child) = self.state.fibers.get(id) else {
                continue;
            };
            match &child.status {
                FiberStatus::Done => done.push(*id),
                FiberStatus::Failed(error) => {
                    let mut error = error.clone();
                    error.message = format!("branch {}: {}", child.label, error.message);
                    errors.push(error);
                }
                _ => {}
            }
        }
        let failed_ids: Vec<u32> = join
            .children
            .iter()
            .copied()
            .filter(|id| {
                matches!(
                    self.state.fibers.get(id).map(|f| &f.status),
                    Some(FiberStatus::Failed(_))
                )
            })
            .collect();
        for id in &join.children {
            if !done.contains(id) && !failed_ids.contains(id) {
                self.cancel(*id);
            }
        }
        let children: Vec<Fiber> = join
            .children
            .iter()
            .filter_map(|id| self.state.fibers.remove(id))
            .collect();
        let Some(fiber) = self.state.fibers.get_mut(&parent) else {
            return;
        };
        fiber.status = FiberStatus::Ready;
        fiber.pc = join.after;
        if succeeded >= join.need {
            // Merge what each branch wrote, in branch-label order: the result
            // does not depend on how the branches interleaved, and a branch
            // that never touched a variable cannot undo a sibling's change.
            // What the branches wrote, the parent wrote, for its own join
            // (a nested PARALLEL) or its handler's end.
            let bottom = fiber.frames.len() == 1;
            // A state stored before writes were tracked has no record of
            // them: compare with the parent's variables before this join
            // merged anything, which are the fork-time ones unless a handler
            // wrote back meanwhile.
            let (before_vars, before_locals) = if children.iter().any(|c| c.written.is_none()) {
                let locals = fiber.frames.last().and_then(|f| f.locals.clone());
                (fiber.vars.clone(), locals.unwrap_or_default())
            } else {
                (Map::new(), Map::new())
            };
            for child in children.iter().filter(|c| c.status == FiberStatus::Done) {
                let written = child.written.as_ref();
                let changes = handed_back(&child.vars, written.map(|w| &w.vars), &before_vars);
                for (key, value) in changes {
                    if let Some(parent_writes) = fiber.written.as_mut() {
                        parent_writes.var(&key);
                    }
                    fiber.vars.insert(key, value);
                }
                if let (Some(Some(theirs)), Some(frame)) = (
                    child.frames.first().map(|f| f.locals.as_ref()),
                    fiber.frames.last_mut(),
                ) && let Some(ours) = frame.locals.as_mut()
                {
                    let changes = handed_back(theirs, written.map(|w| &w.locals), &before_locals);
                    for (key, value) in changes {
                        if bottom && let Some(parent_writes) = fiber.written.as_mut() {
                            parent_writes.local(&key);
                        }
                        ours.insert(key, value);
                    }
                }
            }
            return;
        }
        let failed = errors.len();
        let summary: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        let error = ErrorValue {
            message: format!(
                "{failed} of {} branches failed: {}",
                join.children.len(),
                summary.join("; ")
            ),
            kind: "parallel".to_owned(),
            step: Some(join.path.clone()),
            errors,
        };
        self.raise(parent, error, join.after);
    }

    // ---- Requests ----------------------------------------------------------

    fn request(&mut self, fid: u32, ask: &Ask) -> Result<RequestKind, ErrorValue> {
        Ok(match ask {
            Ask::Bot {
                bot,
                action,
                with,
                timeout,
                retry,
                cache,
            } => {
                let bot = self.text(fid, bot)?;
                let action = self.text(fid, action)?;
                let input = match with {
                    Some(with) => self.eval(fid, with)?,
                    None => Value::Object(self.fiber(fid)?.vars.clone()),
                };
                let timeout = self.seconds_opt(fid, timeout.as_ref())?;
                let retry = self.count_opt(fid, retry.as_ref())?;
                let cache = self.seconds_opt(fid, cache.as_ref())?;
                RequestKind::CallBot {
                    bot,
                    action,
                    input,
                    timeout,
                    retry,
                    cache,
                }
            }
            Ask::Approval(approval) => self.approval(fid, approval)?,
            Ask::Llm {
                prompt,
                optimize_for,
                max_cost,
            } => RequestKind::Llm {
                prompt: self.text(fid, prompt)?,
                system_prompt: self.state.system_prompt.clone(),
                optimize_for: self.text_opt(fid, optimize_for.as_ref())?,
                max_cost: self
                    .eval_opt(fid, max_cost.as_ref())?
                    .map(|v| to_num(&v).map(Num::as_f64))
                    .transpose()
                    .map_err(runtime)?,
            },
            Ask::Http { method, url, body } => RequestKind::Http {
                method: format!("{method:?}").to_uppercase(),
                url: self.text(fid, url)?,
                body: self.eval_opt(fid, body.as_ref())?,
                headers: self.state.headers.clone(),
            },
            Ask::ReadMemory { key } => RequestKind::ReadMemory {
                key: self.text(fid, key)?,
            },
            Ask::Recall { key } => RequestKind::Recall {
                key: self.text(fid, key)?,
            },
            Ask::Hear { as_type } => match as_type {
                None => RequestKind::Hear {
                    as_type: None,
                    choices: None,
                },
                Some(HearOp::Named(name)) => RequestKind::Hear {
                    as_type: Some(name.clone()),
                    choices: None,
                },
                Some(HearOp::Choices(ex)) => {
                    let choices = match self.eval(fid, ex)? {
                        Value::String(s) => {
                            Value::Array(s.split(',').map(|c| Value::from(c.trim())).collect())
                        }
                        other => other,
                    };
                    RequestKind::Hear {
                        as_type: None,
                        choices: Some(choices),
                    }
                }
            },
            Ask::WaitEvent {
                name,
                key,
                timeout,
                on_timeout,
            } => RequestKind::WaitEvent {
                name: self.text(fid, name)?,
                key: self.text_opt(fid, key.as_ref())?,
                timeout: self.seconds_opt(fid, timeout.as_ref())?,
                on_timeout: self.on_timeout(fid, on_timeout.as_ref())?,
            },
            Ask::Delay { duration } => {
                let value = self.eval(fid, duration)?;
                RequestKind::Delay {
                    seconds: seconds(&value).map_err(runtime)?,
                }
            }
            Ask::SendMail { to, subject, body } => RequestKind::SendMail {
                to: self.text(fid, to)?,
                subject: self.text(fid, subject)?,
                body: self.text(fid, body)?,
            },
            Ask::CallScript { path } => RequestKind::CallScript {
                path: self.text(fid, path)?,
                variables: self.fiber(fid)?.vars.clone(),
            },
        })
    }

    fn approval(&mut self, fid: u32, op: &ApprovalOp) -> Result<RequestKind, ErrorValue> {
        let mut from = Vec::new();
        for who in &op.from {
            match self.eval(fid, who)? {
                Value::Array(people) => from.extend(people.iter().map(to_text)),
                other => from.push(to_text(&other)),
            }
        }
        Ok(RequestKind::Approval {
            from,
            group: self.text_opt(fid, op.group.as_ref())?,
            timeout: self.seconds_opt(fid, op.timeout.as_ref())?,
            on_timeout: self.on_timeout(fid, op.on_timeout.as_ref())?,
            message: self.text_opt(fid, op.message.as_ref())?,
            require: self.count_opt(fid, op.require.as_ref())?,
            via: self.text_opt(fid, op.via.as_ref())?,
            on_deny_continue: op.on_deny_continue,
        })
    }

    fn on_timeout(
        &mut self,
        fid: u32,
        action: Option<&TimeoutOp>,
    ) -> Result<Option<OnTimeout>, ErrorValue> {
        let Some(action) = action else {
            return Ok(None);
        };
        Ok(Some(match action {
            TimeoutOp::Escalate(who) => OnTimeout::Escalate {
                to: self.text(fid, who)?,
            },
            TimeoutOp::Reject(reason) => OnTimeout::Reject {
                reason: reason.clone(),
            },
            TimeoutOp::Approve { warning } => OnTimeout::Approve { warning: *warning },
            TimeoutOp::Fail => OnTimeout::Fail,
            TimeoutOp::Continue => OnTimeout::Continue,
        }))
    }

    fn seconds_opt(&mut self, fid: u32, ex: Option<&Ex>) -> Result<Option<f64>, ErrorValue> {
        self.eval_opt(fid, ex)?
            .map(|v| seconds(&v))
            .transpose()
            .map_err(runtime)
    }

    fn count_opt(&mut self, fid: u32, ex: Option<&Ex>) -> Result<Option<u32>, ErrorValue> {
        let Some(value) = self.eval_opt(fid, ex)? else {
            return Ok(None);
        };
        let n = to_num(&value).map_err(runtime)?.as_f64();
        if !(0.0..=f64::from(u32::MAX)).contains(&n) {
            return Err(runtime(format!("{} is not a count", to_text(&value))));
        }
        Ok(Some(n as u32))
    }

    /// Takes the answer of the request at the fiber's current op.
    fn apply_answer(&mut self, fid: u32, ask: &Ask, into: &Dest, value: Value) -> Flow {
        match ask {
            Ask::Approval(op) => {
                let approved = value::field(&value, "approved").is_some_and(truthy);
                self.assign(fid, &Target::var("approval"), value)?;
                if !approved && !op.on_deny_continue {
                    self.close_steps(fid, 0, None);
                    self.finish(Finished::Rejected);
                }
                return Ok(());
            }
            Ask::WaitEvent {
                on_timeout: Some(TimeoutOp::Fail),
                ..
            } if value.is_null() => {
                return Err(ErrorValue::new("timeout", "the event did not come in time"));
            }
            _ => {}
        }
        match into {
            Dest::Discard => Ok(()),
            Dest::Target(target) => self.assign(fid, target, value),
            Dest::Merge => match value {
                Value::Object(map) => self.merge(fid, map),
                other if matches!(ask, Ask::CallScript { .. }) => {
                    let _ = other;
                    Ok(())
                }
                other => self.assign(fid, &Target::var("result"), other),
            },
        }
    }
}

/// A duration in seconds: a number, a numeric string, or a text like `"2h"`.
fn seconds(value: &Value) -> Result<f64, String> {
    let n = match value {
        Value::Number(n) => value::num_of(n).as_f64(),
        Value::String(text) => match value::parse_number(text) {
            Some(n) => n.as_f64(),
            None => basic::schedule::parse_duration(text)
                .map(|s| s as f64)
                .ok_or_else(|| format!("\"{text}\" is not a duration"))?,
        },
        other => return Err(format!("{} is not a duration", value::type_name(other))),
    };
    if n < 0.0 {
        return Err(format!("a duration cannot be negative ({n})"));
    }
    Ok(n)
}

/// Writes `value` at `path` inside `slot`, creating objects on the way.
fn set_path(slot: &mut Value, path: &[(bool, Value)], value: Value) -> Result<(), String> {
    let Some(((is_field, key), rest)) = path.split_first() else {
        *slot = value;
        return Ok(());
    };
    if rest.is_empty() {
        return if *is_field {
            value::set_field(slot, &to_text(key), value)
        } else {
            value::set_index(slot, key, value)
        };
    }
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    let child = match slot {
        Value::Object(map) => {
            let name = to_text(key);
            let existing = map.keys().find(|k| k.eq_ignore_ascii_case(&name)).cloned();
            map.entry(existing.unwrap_or(name)).or_insert(Value::Null)
        }
        Value::Array(items) => {
            let len = items.len();
            let at = value::list_position(len, key)?.ok_or_else(|| {
                format!(
                    "list index {} is out of range (the list has {len} items)",
                    to_text(key)
                )
            })?;
            &mut items[at]
        }
        other => return Err(format!("cannot set a field of {}", value::type_name(other))),
    };
    set_path(child, rest, value)
}
