//! The botflow interpreter.
//!
//! [`compile`] lowers a parsed script ([`basic::Program`]) to a flat list of
//! instructions; [`start`], [`advance`] and [`resume`] run it as a pure state
//! machine. The whole position of a run is a [`RunState`], plain serde data
//! that the runtime stores as JSON between durable points.
//!
//! The protocol with the runtime:
//!
//! 1. `let mut state = start(&compiled, input, run_id);`
//! 2. `let step = advance(&compiled, &mut state, now_ms, budget);` runs until
//!    every fiber is blocked or the run ends. The runtime commits
//!    `step.effects` (in order) together with the new `state`.
//! 3. On [`Outcome::Blocked`] the runtime carries out each new [`Request`]
//!    (requests stay listed until answered; tell them apart by id) and feeds
//!    each result back with [`resume`], then calls [`advance`] again.
//!
//! Architecture invariant: no I/O, no clock, no randomness. The time comes
//! in as `now_ms` on each [`advance`] (what `NOW()` and `TODAY()` return in
//! that slice of the run; a value a script has stored stays what it was),
//! and `UUID()` values derive from the run's seed and a counter kept in the
//! state. So the same program, state and inputs always give the same effects
//! (DESIGN.md invariant 2).
//!
//! # Decisions the language page leaves open
//!
//! - **Step paths.** A `STEP n` gets the path `n` (inside a `PARALLEL` branch
//!   `4/A/n`, inside an event handler `on#k/n`); inside a loop, or the second
//!   time the same path comes up, `n#1`, `n#2`, ... counting every execution.
//!   A request gets the path of its innermost step; a second request in the
//!   same step execution gets `#2`, and so on. A branch's requests outside
//!   any step of their own get the branch prefix (`4/A`), and requests
//!   outside any step `_`, `_#2`, ... Event ids are `<path>/event#n` (`event#n`
//!   outside steps), `n` counting the run's publications.
//! - **Procedures** see the run's variables. An assignment inside a
//!   procedure writes a parameter or a local if one exists, else a run
//!   variable that exists, else creates a local. A `FUNCTION` without
//!   `RETURN v` returns its own name's local (`f = 3`), as in VB.
//! - **Function calls in expressions** of the script's own `FUNCTION`s are
//!   evaluated before the statement that uses them, left to right, so they
//!   do not short-circuit under `AND`/`OR` (built-ins do).
//! - **`PARALLEL`** branches run as fibers with copies of the variables and
//!   of the current frame; `ON ERROR` is not inherited. Variables a branch
//!   changed are merged in label order after the join. `WAIT n` joins after
//!   `n` successes (the rest are cancelled: [`Effect::RequestCancelled`]);
//!   once every branch has finished with fewer successes the step fails
//!   with kind `parallel` and one entry per failed branch in `errors`.
//! - **Approval denied** without `ON DENY: CONTINUE` ends the whole run as
//!   [`Outcome::Rejected`], also from inside a branch.
//! - **`CALL "other.bas"`** is a [`RequestKind::CallScript`]: the runtime runs
//!   that script with the caller's variables as input and answers with its
//!   final variables, which are copied back.
//! - **Services botflow lacks.** `USE KB`, `SET CONTEXT` and the other
//!   setup keywords are recorded ([`Effect::Setup`]) and do nothing else.
//!   `ADD BOT`, `REMOVE BOT`, `DELEGATE TO`, `LIST BOTS` and generic keywords
//!   (`FIND`) fail their statement with kind `not_implemented`, which
//!   `ON ERROR` can catch. `SEND MAIL` is a request the runtime may answer
//!   with such an error.
//! - **Event handlers** (`ON EVENT`) start when the runtime calls
//!   [`deliver_event`]; see there.

mod builtins;
mod compile;
mod error;
mod eval;
mod ir;
mod machine;
mod protocol;
mod state;
pub mod time;
pub mod value;

pub use builtins::UuidSource;
pub use compile::compile;
pub use error::{CompileError, EngineError};
pub use ir::Compiled;
pub use machine::{advance, deliver_event, resume, start};
pub use protocol::{Advance, Answer, Effect, ErrorValue, OnTimeout, Outcome, Request, RequestKind};
pub use state::RunState;

/// Evaluates one expression against a set of variables (keys case-folded),
/// outside any run. Calls of script procedures are not available here.
pub fn evaluate(
    expr: &basic::ast::Expr,
    variables: &serde_json::Map<String, serde_json::Value>,
    now_ms: i64,
) -> Result<serde_json::Value, String> {
    let ex = compile::lower_expr(expr);
    let temps = std::collections::BTreeMap::new();
    let scope = eval::Scope {
        globals: variables,
        locals: None,
        temps: &temps,
    };
    let mut uuids = UuidSource::default();
    let mut inputs = builtins::Inputs {
        now_ms,
        uuids: &mut uuids,
    };
    eval::eval(&ex, &scope, &mut inputs)
}
