//! Answering `BOT "name" "action"`: resolving the package (LANGUAGE.md §5)
//! and running its tool script or `start.bas` as a nested, non-durable script.
//!
//! A bot script runs entirely in memory. What it does outside itself (memory
//! writes, shares, events, TALK) is collected, not written: the driver commits
//! it in the same durable point as the step's answer, so a crash before that
//! commit leaves nothing half-written, and a crash after it is never redone.
//! Within the script, `GET BOT MEMORY` sees the script's own earlier writes
//! (an overlay) and otherwise the store.
//!
//! A bot script gets as variables: the step's input object's keys, its
//! package's `param-*` config values, `action`, `input`, `idempotency_key`
//! (`<run id>:<step path>`) and `attempt` (1 for the first try of a step,
//! counting every attempt made, across restarts: the step row's `attempts`).
//!
//! One call is one attempt. `RETRY` is the driver's: a failed attempt that
//! may be retried is recorded with its back-off in a durable point and the
//! run waits for it like a `DELAY` timer (see `driver.rs`), so back-off
//! timers survive restarts and hold no task.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bots::{Package, Resolution, Script};
use engine::{Answer, Effect, ErrorValue, Outcome, RequestKind};
use serde_json::{Map, Value};
use store::Store;

use crate::runtime::Inner;
use crate::time::now_ms;

/// How deep bots may call bots from their scripts.
pub(crate) const MAX_DEPTH: usize = 8;
/// Instructions per slice of a nested script; the task yields between slices.
const SLICE: u32 = 10_000;
/// Slices a nested script may use before it counts as runaway.
const MAX_SLICES: u32 = 1_000;

/// Something a bot script did that must be committed with the step's answer.
#[derive(Clone, Debug)]
pub(crate) struct BotEffect {
    /// The bot whose script did it.
    pub bot: String,
    /// Where it happened: the idempotency key of the call (`<run>:<path>`,
    /// nested calls append `/<path>`), so event ids derived from it are stable.
    pub key: String,
    pub effect: Effect,
}

/// The answer of a bot call and everything it did.
#[derive(Debug)]
pub(crate) struct BotReply {
    pub result: Result<Value, ErrorValue>,
    pub effects: Vec<BotEffect>,
    /// For a failure: whether trying again could help (a script that
    /// failed or timed out may be retried; a missing bot may not).
    pub retryable: bool,
}

/// What one nested script run gives back.
struct ScriptRun {
    /// The RETURN value (or the variables) and the final variables.
    result: Result<(Value, Map<String, Value>), ErrorValue>,
}

/// Makes attempt number `attempt` at asking `bot` to do `action` with
/// `input`, within `timeout` seconds if set. `key` is the idempotency key
/// `<run id>:<step path>`, the same for every attempt.
#[allow(clippy::too_many_arguments, reason = "one call site per request kind")]
pub(crate) async fn call_bot(
    inner: &Inner,
    key: &str,
    bot: &str,
    action: &str,
    input: &Value,
    attempt: u32,
    timeout: Option<f64>,
    depth: usize,
) -> BotReply {
    if let Some(log) = &inner.options.builtin_bots
        && let Some(result) = crate::builtin::answer(log, key, bot, input)
    {
        let result = result.map_err(|message| ErrorValue::new("bot", message));
        return BotReply {
            result,
            effects: Vec::new(),
            retryable: false,
        };
    }
    let mut effects = Vec::new();
    let once = call_once(
        inner,
        key,
        bot,
        action,
        input,
        attempt.max(1),
        depth,
        &mut effects,
    );
    let result = match timeout.filter(|s| s.is_finite() && *s > 0.0) {
        Some(seconds) => match tokio::time::timeout(Duration::from_secs_f64(seconds), once).await {
            Ok(result) => result,
            Err(_) => Err(Failure::retryable(ErrorValue::new(
                "timeout",
                format!("bot \"{bot}\" did not answer \"{action}\" within {seconds} s"),
            ))),
        },
        None => once.await,
    };
    match result {
        Ok(value) => BotReply {
            result: Ok(value),
            effects,
            retryable: false,
        },
        // A failed attempt's effects are dropped: only the answer that counts is committed.
        Err(failure) => BotReply {
            result: Err(failure.error),
            effects: Vec::new(),
            retryable: failure.retryable,
        },
    }
}

/// The back-off after failed attempt number `attempt` (1-based): the first
/// back-off, doubled for each attempt after the first (capped at 2^10).
pub(crate) fn backoff_ms(base_ms: u64, attempt: u32) -> i64 {
    let exponent = attempt.saturating_sub(1).min(10);
    i64::try_from(base_ms.saturating_mul(1 << exponent)).unwrap_or(i64::MAX)
}

/// A failed attempt, and whether trying again could help.
struct Failure {
    error: ErrorValue,
    retryable: bool,
}

impl Failure {
    fn retryable(error: ErrorValue) -> Failure {
        Failure {
            error,
            retryable: true,
        }
    }

    fn fixed(error: ErrorValue) -> Failure {
        Failure {
            error,
            retryable: false,
        }
    }
}

#[allow(clippy::too_many_arguments, reason = "the context of one attempt")]
fn call_once<'a>(
    inner: &'a Inner,
    key: &'a str,
    bot: &'a str,
    action: &'a str,
    input: &'a Value,
    attempt: u32,
    depth: usize,
    effects: &'a mut Vec<BotEffect>,
) -> Pin<Box<dyn Future<Output = Result<Value, Failure>> + Send + 'a>> {
    Box::pin(async move {
        let Some(package) = inner.deployment.package(bot) else {
            return Err(Failure::fixed(ErrorValue::new(
                "bot",
                format!(
                    "there is no bot \"{bot}\": no {bot}.gbai package in {}",
                    inner.deployment.root.display()
                ),
            )));
        };
        let script = match package.resolve(action) {
            Resolution::ToolScript(file) => package.script(&file),
            Resolution::StartScript => package.start_script(),
            Resolution::Model { url, .. } => {
                return Err(Failure::fixed(ErrorValue::new(
                    "not_implemented",
                    format!(
                        "bot \"{}\" would answer \"{action}\" with its model at {url}, \
                         but model bots are not supported yet (no {}.gbdialog/{}.bas)",
                        package.name,
                        package.name,
                        bots::slug(action)
                    ),
                )));
            }
            Resolution::Remote { url } => {
                return Err(Failure::fixed(ErrorValue::new(
                    "not_implemented",
                    format!(
                        "bot \"{}\" would answer \"{action}\" remotely at {url}, \
                         but remote bots are not supported yet (no {}.gbdialog/{}.bas)",
                        package.name,
                        package.name,
                        bots::slug(action)
                    ),
                )));
            }
            Resolution::Nothing { message } => {
                return Err(Failure::fixed(ErrorValue::new("bot", message)));
            }
        };
        let Some(script) = script else {
            return Err(Failure::fixed(ErrorValue::new(
                "bot",
                format!("bot \"{}\" lost the script for \"{action}\"", package.name),
            )));
        };
        let mut vars = match input {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            other => Map::from_iter([("value".to_owned(), other.clone())]),
        };
        for (name, value) in package.config.params() {
            vars.insert(name.to_owned(), Value::String(value.to_owned()));
        }
        vars.insert("action".to_owned(), Value::String(action.to_owned()));
        vars.insert("input".to_owned(), input.clone());
        vars.insert("idempotency_key".to_owned(), Value::String(key.to_owned()));
        vars.insert("attempt".to_owned(), Value::from(attempt));
        let run = run_script(inner, package, script, key, vars, depth, effects).await;
        match run.result {
            Ok((value, _)) => Ok(value),
            Err(mut error) => {
                error.message = format!(
                    "bot \"{}\" failed to \"{action}\": {}",
                    package.name, error.message
                );
                if error.kind == "runtime" {
                    error.kind = "bot".to_owned();
                }
                Err(Failure::retryable(error))
            }
        }
    })
}

/// Runs `CALL "other.bas"` of a workflow: the package's script with the
/// caller's variables; the answer is the callee's final variables.
pub(crate) async fn call_script(
    inner: &Inner,
    package: &Package,
    key: &str,
    path: &str,
    variables: Map<String, Value>,
    effects: &mut Vec<BotEffect>,
) -> Result<Value, ErrorValue> {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let Some(script) = package.script(file) else {
        return Err(ErrorValue::new(
            "runtime",
            format!(
                "CALL \"{path}\": package \"{}\" has no script {file}",
                package.name
            ),
        ));
    };
    let run = run_script(inner, package, script, key, variables, 0, effects).await;
    run.result.map(|(_, vars)| Value::Object(vars))
}

/// Runs one script in memory to its end.
fn run_script<'a>(
    inner: &'a Inner,
    package: &'a Package,
    script: &'a Script,
    key: &'a str,
    vars: Map<String, Value>,
    depth: usize,
    effects: &'a mut Vec<BotEffect>,
) -> Pin<Box<dyn Future<Output = ScriptRun> + Send + 'a>> {
    Box::pin(async move {
        let file = script.path.display().to_string();
        let compiled = match inner
            .programs
            .get_or_compile(&script.hash, &file, &script.source)
        {
            Ok(compiled) => compiled,
            Err(error) => {
                return ScriptRun {
                    result: Err(ErrorValue::new("bot", error.to_string())),
                };
            }
        };
        let bot = package.name.clone();
        let mut state = engine::start(&compiled, vars, key);
        let mut overlay: HashMap<String, Value> = HashMap::new();
        let mut slices = 0;
        loop {
            let advance = engine::advance(&compiled, &mut state, now_ms(), SLICE);
            for effect in advance.effects {
                match &effect {
                    Effect::SetMemory { key, value } => {
                        overlay.insert(key.to_lowercase(), value.clone());
                    }
                    Effect::SyncMemory { from_bot } => {
                        // The sync is committed with the answer; until then the
                        // script reads the shared values through the overlay.
                        if let Ok(shared) = inner.store.shared_memory(&bot).await {
                            for entry in shared {
                                if entry.source_bot.eq_ignore_ascii_case(from_bot) {
                                    overlay.insert(entry.key.to_lowercase(), entry.value);
                                }
                            }
                        }
                    }
                    _ => {}
                }
                if keeps(&effect) {
                    effects.push(BotEffect {
                        bot: bot.clone(),
                        key: key.to_owned(),
                        effect,
                    });
                }
            }
            let requests = match advance.outcome {
                Outcome::Completed(value) => {
                    let vars = state.variables().clone();
                    return ScriptRun {
                        result: Ok((value, vars)),
                    };
                }
                Outcome::Failed(error) => return ScriptRun { result: Err(error) },
                Outcome::Rejected => {
                    return ScriptRun {
                        result: Err(ErrorValue::new("bot", "an approval was denied")),
                    };
                }
                Outcome::BudgetExhausted => {
                    slices += 1;
                    if slices >= MAX_SLICES {
                        return ScriptRun {
                            result: Err(ErrorValue::new(
                                "bot",
                                format!(
                                    "the script ran more than {} instructions without ending",
                                    u64::from(SLICE) * u64::from(MAX_SLICES)
                                ),
                            )),
                        };
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                Outcome::Blocked(requests) => requests,
            };
            for request in requests {
                let result = match &request.kind {
                    RequestKind::ReadMemory { key: name } => {
                        match overlay.get(&name.to_lowercase()) {
                            Some(value) => Ok(value.clone()),
                            None => match inner.store.memory(&bot, name).await {
                                Ok(value) => Ok(value.unwrap_or(Value::Null)),
                                Err(error) => Err(ErrorValue::new("store", error.to_string())),
                            },
                        }
                    }
                    RequestKind::CallBot {
                        bot: callee,
                        action,
                        input,
                        ..
                    } => {
                        if depth + 1 >= MAX_DEPTH {
                            Err(ErrorValue::new(
                                "bot",
                                format!("bots called bots more than {MAX_DEPTH} levels deep"),
                            ))
                        } else {
                            let nested_key = format!("{key}/{}", request.path);
                            call_once(
                                inner,
                                &nested_key,
                                callee,
                                action,
                                input,
                                1,
                                depth + 1,
                                effects,
                            )
                            .await
                            .map_err(|failure| failure.error)
                        }
                    }
                    RequestKind::CallScript { path, variables } => {
                        let nested_key = format!("{key}/{}", request.path);
                        if depth + 1 >= MAX_DEPTH {
                            Err(ErrorValue::new(
                                "runtime",
                                format!("CALL went more than {MAX_DEPTH} levels deep"),
                            ))
                        } else {
                            let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
                            match package.script(file) {
                                Some(callee) => run_script(
                                    inner,
                                    package,
                                    callee,
                                    &nested_key,
                                    variables.clone(),
                                    depth + 1,
                                    effects,
                                )
                                .await
                                .result
                                .map(|(_, vars)| Value::Object(vars)),
                                None => Err(ErrorValue::new(
                                    "runtime",
                                    format!(
                                        "CALL \"{path}\": package \"{}\" has no script {file}",
                                        package.name
                                    ),
                                )),
                            }
                        }
                    }
                    other => Err(crate::unsupported::in_bot_script(other)),
                };
                let answer = Answer {
                    request: request.id,
                    result,
                };
                if let Err(error) = engine::resume(&compiled, &mut state, answer) {
                    return ScriptRun {
                        result: Err(ErrorValue::new("bot", error.to_string())),
                    };
                }
            }
        }
    })
}

/// Whether a bot script's effect is recorded with the step's answer.
fn keeps(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::Talk { .. }
            | Effect::Print { .. }
            | Effect::SetMemory { .. }
            | Effect::ShareMemory { .. }
            | Effect::SyncMemory { .. }
            | Effect::PublishEvent { .. }
    )
}
