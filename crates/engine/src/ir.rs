//! The compiled form of a script: a flat list of [`Op`]s addressed by index.
//!
//! Control flow is jumps, and every statement that needs the world outside
//! the interpreter is one op ([`Op::Ask`] for those that wait for an answer,
//! the effect ops for those that do not). A run's position is therefore a few
//! numbers (a pc per fiber and per call frame), which is what makes
//! [`crate::RunState`] serialisable.
//!
//! Expressions are lowered to [`Ex`]: names are case-folded, built-ins resolved,
//! and calls of the script's own `FUNCTION`s are hoisted into [`Op::CallProc`]
//! ops ahead of the statement, their results read back from numbered
//! temporaries ([`Ex::Temp`]). Evaluating an [`Ex`] is therefore pure.

use std::collections::BTreeMap;

use basic::ast::{BinaryOp, HttpMethod};
use serde_json::Value;

/// A lowered expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Ex {
    Const(Value),
    /// A variable, by its case-folded name.
    Var(String),
    /// The result of a hoisted `FUNCTION` call (in the current frame).
    Temp(u32),
    Field(Box<Ex>, String),
    Index(Box<Ex>, Box<Ex>),
    List(Vec<Ex>),
    Object(Vec<(String, Ex)>),
    /// A string with `${}` interpolation: the pieces' texts joined.
    Text(Vec<Ex>),
    /// A built-in function, by its upper-case name.
    Builtin(&'static str, Vec<Ex>),
    /// A call of a function that is neither built in nor in the script: fails when evaluated.
    Unknown(String),
    Neg(Box<Ex>),
    Not(Box<Ex>),
    Binary(BinaryOp, Box<Ex>, Box<Ex>),
    In {
        value: Box<Ex>,
        list: Box<Ex>,
        negated: bool,
    },
    /// Where the parser found no expression: fails when evaluated.
    Invalid,
}

/// The place an assignment writes: a variable and a path of fields and indexes into it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The variable's case-folded name.
    pub root: String,
    pub path: Vec<Access>,
}

impl Target {
    pub fn var(name: &str) -> Target {
        Target {
            root: name.to_lowercase(),
            path: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    Field(String),
    Index(Ex),
}

/// What `ON ERROR` says to do with an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorMode {
    /// `ON ERROR GOTO label`: continue at that op.
    Goto(usize),
    /// `ON ERROR RESUME NEXT`: continue with the next statement.
    ResumeNext,
}

/// How a `PARALLEL` joins.
#[derive(Clone, Debug, PartialEq)]
pub enum JoinOp {
    All,
    /// `WAIT ANY` (1) or `WAIT n`.
    Count(Ex),
}

/// A statement that asks the runtime for something and waits for its answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Ask {
    Bot {
        bot: Ex,
        action: Ex,
        with: Option<Ex>,
        timeout: Option<Ex>,
        retry: Option<Ex>,
        cache: Option<Ex>,
    },
    Approval(ApprovalOp),
    Llm {
        prompt: Ex,
        optimize_for: Option<Ex>,
        max_cost: Option<Ex>,
    },
    Http {
        method: HttpMethod,
        url: Ex,
        body: Option<Ex>,
    },
    ReadMemory {
        key: Ex,
    },
    Recall {
        key: Ex,
    },
    Hear {
        as_type: Option<HearOp>,
    },
    WaitEvent {
        name: Ex,
        key: Option<Ex>,
        timeout: Option<Ex>,
        on_timeout: Option<TimeoutOp>,
    },
    Delay {
        duration: Ex,
    },
    SendMail {
        to: Ex,
        subject: Ex,
        body: Ex,
    },
    CallScript {
        path: Ex,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum HearOp {
    Named(String),
    Choices(Ex),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalOp {
    pub from: Vec<Ex>,
    pub group: Option<Ex>,
    pub timeout: Option<Ex>,
    pub on_timeout: Option<TimeoutOp>,
    pub message: Option<Ex>,
    pub require: Option<Ex>,
    pub via: Option<Ex>,
    pub on_deny_continue: bool,
}

/// `ON TIMEOUT:` of an approval or an event wait.
#[derive(Clone, Debug, PartialEq)]
pub enum TimeoutOp {
    Escalate(Ex),
    Reject(Option<String>),
    Approve { warning: bool },
    Fail,
    Continue,
}

/// Where the answer of an [`Op::Ask`] goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Dest {
    /// Dropped (`DELAY`, `SEND MAIL`, an HTTP statement).
    Discard,
    /// Written to a variable or a field of one.
    Target(Target),
    /// A step's answer without `INTO`: an object's keys merge into the
    /// variables, anything else goes to `result`.
    Merge,
}

/// One instruction.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Nop,
    Assign {
        target: Target,
        value: Ex,
    },
    SetTemp {
        slot: u32,
        value: Ex,
    },
    /// Evaluates an expression for its errors and drops the value.
    Eval(Ex),
    Jump(usize),
    JumpIf {
        cond: Ex,
        to: usize,
    },
    JumpIfNot {
        cond: Ex,
        to: usize,
    },
    /// Calls a `SUB` or `FUNCTION`; a function's value goes to temporary `result`.
    CallProc {
        name: String,
        args: Vec<Ex>,
        result: Option<u32>,
    },
    /// `RETURN [v]`: from a procedure, or the end of the script (or of a branch).
    Return(Option<Ex>),
    /// The end of a procedure body.
    ProcEnd,
    /// The end of the main program: the run completes with its variables.
    End,
    ForEachInit {
        slot: usize,
        list: Ex,
    },
    ForEachNext {
        slot: usize,
        var: String,
        exit: usize,
    },
    ForInit {
        slot: usize,
        var: String,
        from: Ex,
        to: Ex,
        step: Option<Ex>,
    },
    ForTest {
        slot: usize,
        var: String,
        exit: usize,
    },
    ForStep {
        slot: usize,
        var: String,
        test: usize,
    },
    /// Forgets a loop's state when the loop ends.
    LoopEnd {
        slot: usize,
    },
    OnError(Option<ErrorMode>),
    Talk {
        to: Option<Ex>,
        text: Ex,
    },
    Print(Ex),
    StepEnter {
        number: String,
        kind: &'static str,
        in_loop: bool,
    },
    StepExit {
        enter: usize,
    },
    Ask {
        ask: Box<Ask>,
        into: Dest,
    },
    Parallel {
        branches: Vec<(String, usize)>,
        join: JoinOp,
        after: usize,
    },
    BranchEnd,
    Publish {
        name: Ex,
        data: Option<Ex>,
        key: Option<Ex>,
        to: Option<Ex>,
    },
    SetMemory {
        key: Ex,
        value: Ex,
    },
    Remember {
        key: Ex,
        value: Ex,
        duration: Option<Ex>,
    },
    ShareMemory {
        key: Ex,
        with_bot: Ex,
    },
    SyncMemory {
        from_bot: Ex,
    },
    SetHeader {
        name: Ex,
        value: Ex,
    },
    ClearHeaders,
    SystemPrompt(String),
    /// A conversation-setup keyword botflow accepts and records (`USE KB` ...).
    Setup {
        keyword: &'static str,
        args: Vec<Ex>,
    },
    /// `ON EVENT "name" DO`: registers the handler whose body starts at `entry`.
    OnEvent {
        name: Ex,
        entry: usize,
    },
    /// The end of an `ON EVENT` handler body.
    HandlerEnd,
    /// Fails with an error: a statement botflow cannot carry out.
    Fail {
        message: String,
        kind: &'static str,
    },
}

/// A `SUB` or `FUNCTION` of the script.
#[derive(Clone, Debug, PartialEq)]
pub struct Proc {
    /// As written, for messages.
    pub name: String,
    pub params: Vec<String>,
    pub entry: usize,
    pub function: bool,
}

/// A compiled script, ready to run. Compiling is cheap; the runtime keeps
/// the source (pinned by hash) and compiles it again after a restart.
#[derive(Clone, Debug, PartialEq)]
pub struct Compiled {
    pub(crate) ops: Vec<Op>,
    pub(crate) procs: BTreeMap<String, Proc>,
    pub(crate) workflow: Option<String>,
    pub(crate) params: Vec<String>,
}

impl Compiled {
    /// The name of the script's `ORCHESTRATE WORKFLOW` block, if it has one with a literal name.
    pub fn workflow(&self) -> Option<&str> {
        self.workflow.as_deref()
    }

    /// The names of the script's `PARAM`s, in order (case-folded).
    pub fn params(&self) -> &[String] {
        &self.params
    }

    /// How many instructions the program has (for diagnostics and tests).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the program has no instructions at all.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
