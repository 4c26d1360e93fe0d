//! The scripted runtime of the data-driven tests.
//!
//! A test program in `tests/data/*.bas` starts with header comments that say
//! what the run gets:
//!
//! ```text
//! ' input: {"complaint": "broken"}            the run's input object
//! ' bot classifier "analyze complaint" -> {"category": "damaged"}
//! ' bot order-checker "validate order" -> error bot: order not found
//! ' approval -> {"approved": true, "by": "manager@company.com"}
//! ' memory last_refund -> {"id": 1}           GET BOT MEMORY "last_refund"
//! ' event payment_confirmed -> {"name": "payment_confirmed", "data": 1}
//! ' llm -> "a completion"        (also: http, hear, recall, delay, mail, script <path>)
//! ' deliver: {"name": "approval_received"}   delivered to ON EVENT handlers the first time the run blocks
//! ```
//!
//! The answers of one matcher are used in order, the last one repeating. A
//! request nothing matches is answered with the error `no scripted answer`
//! (kind `test`), except `delay`, `memory` and `recall`, which answer null.
//! `-> error <kind>: <message>` answers with an error; `-> hold` never answers
//! (the request stays open; a run left with only held requests ends the
//! trace with the outcome `stuck`).
//!
//! The harness answers every open request each time the run blocks, in
//! fiber order, and records the effects and requests for the snapshot.

#![allow(dead_code)]

use std::collections::BTreeMap;

use engine::{Answer, Compiled, Effect, Outcome, Request, RequestKind, RunState};
use serde_json::{Map, Value, json};

/// The time the harness's first `advance` passes (2024-05-01T10:20:30Z); the
/// clock moves one second each time the run blocks, so how the instruction
/// budget cuts a run does not change what `NOW()` reads.
pub const START_MS: i64 = 1_714_558_830_000;

/// A scripted answer: a value or an error `(kind, message)`; `None` holds the request.
type Scripted = Option<Result<Value, (String, String)>>;

pub struct Script {
    pub input: Map<String, Value>,
    pub deliveries: Vec<Value>,
    answers: BTreeMap<String, Vec<Scripted>>,
}

impl Script {
    pub fn parse(source: &str) -> Script {
        let mut input = Map::new();
        let mut deliveries = Vec::new();
        let mut answers: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for line in source.lines() {
            let Some(header) = line.trim().strip_prefix('\'') else {
                continue;
            };
            let header = header.trim();
            if let Some(json) = header.strip_prefix("input:") {
                let value: Value =
                    serde_json::from_str(json.trim()).expect("the input header is a JSON object");
                input = value
                    .as_object()
                    .cloned()
                    .expect("the input header is a JSON object");
            } else if let Some(json) = header.strip_prefix("deliver:") {
                deliveries
                    .push(serde_json::from_str(json.trim()).expect("a delivered event is JSON"));
            } else if let Some((matcher, answer)) = header.split_once("->") {
                let answer = answer.trim();
                let parsed = match answer.strip_prefix("error ") {
                    _ if answer == "hold" => None,
                    Some(rest) => {
                        let (kind, message) = rest
                            .split_once(':')
                            .expect("error answers read `error kind: message`");
                        Some(Err((kind.trim().to_owned(), message.trim().to_owned())))
                    }
                    None => Some(Ok(serde_json::from_str(answer)
                        .unwrap_or_else(|e| panic!("bad answer `{answer}`: {e}")))),
                };
                answers.entry(normalise(matcher)).or_default().push(parsed);
            }
        }
        Script {
            input,
            deliveries,
            answers,
        }
    }

    fn answer(&mut self, request: &Request, used: &mut BTreeMap<String, usize>) -> Option<Answer> {
        let key = matcher_of(&request.kind);
        let Some(list) = self.answers.get(&key) else {
            return Some(match request.kind {
                RequestKind::Delay { .. }
                | RequestKind::ReadMemory { .. }
                | RequestKind::Recall { .. } => Answer::ok(request.id, Value::Null),
                _ => Answer::err(
                    request.id,
                    "test",
                    format!("no scripted answer for `{key}`"),
                ),
            });
        };
        let n = used.entry(key).or_insert(0);
        let answer = list[(*n).min(list.len() - 1)].clone()?;
        *n += 1;
        Some(match answer {
            Ok(value) => Answer::ok(request.id, value),
            Err((kind, message)) => Answer::err(request.id, &kind, message),
        })
    }
}

fn normalise(matcher: &str) -> String {
    matcher
        .split_whitespace()
        .map(|w| w.trim_matches('"'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn matcher_of(kind: &RequestKind) -> String {
    match kind {
        RequestKind::CallBot { bot, action, .. } => normalise(&format!("bot {bot} {action}")),
        RequestKind::Approval { .. } => "approval".to_owned(),
        RequestKind::Llm { .. } => "llm".to_owned(),
        RequestKind::Http { .. } => "http".to_owned(),
        RequestKind::ReadMemory { key } => format!("memory {key}"),
        RequestKind::Recall { key } => format!("recall {key}"),
        RequestKind::Hear { .. } => "hear".to_owned(),
        RequestKind::WaitEvent { name, .. } => format!("event {name}"),
        RequestKind::Delay { .. } => "delay".to_owned(),
        RequestKind::SendMail { .. } => "mail".to_owned(),
        RequestKind::CallScript { path, .. } => format!("script {path}"),
    }
}

/// Everything a run did, in order.
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct Trace {
    pub outcome: Value,
    pub variables: Map<String, Value>,
    pub requests: Vec<Value>,
    pub effects: Vec<Effect>,
}

/// How the harness drives a run.
pub struct Drive<'a> {
    /// The instruction budget of each advance, in turn (cycled).
    pub budgets: &'a [u32],
    /// Whether to serialise the state to JSON and continue from the copy after
    /// each advance and each answer.
    pub round_trip: bool,
}

pub const PLAIN: Drive<'static> = Drive {
    budgets: &[10_000],
    round_trip: true,
};

pub fn compile(source: &str) -> Compiled {
    let parsed = basic::parse(source);
    let errors: Vec<_> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == basic::Severity::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "the test program has syntax errors: {errors:#?}"
    );
    engine::compile(&parsed.program).unwrap_or_else(|e| panic!("compile error: {e}"))
}

fn round_trip(state: RunState) -> RunState {
    let json = serde_json::to_string(&state).expect("a state serialises");
    let copy: RunState = serde_json::from_str(&json).expect("a state deserialises");
    assert_eq!(copy, state, "the state survives JSON unchanged");
    copy
}

pub fn run(source: &str, drive: &Drive<'_>) -> Trace {
    let compiled = compile(source);
    let mut script = Script::parse(source);
    let mut used = BTreeMap::new();
    let mut state = engine::start(&compiled, script.input.clone(), "test-run");
    let mut effects = Vec::new();
    let mut requests = Vec::new();
    let mut held = Vec::new();
    let mut blocked = 0i64;
    for round in 0..100_000usize {
        let budget = drive.budgets[round % drive.budgets.len()];
        let now = START_MS + 1000 * blocked;
        let advance = engine::advance(&compiled, &mut state, now, budget);
        effects.extend(advance.effects);
        if drive.round_trip {
            state = round_trip(state);
        }
        let outcome = match advance.outcome {
            Outcome::BudgetExhausted => continue,
            Outcome::Blocked(_) if !script.deliveries.is_empty() => {
                for event in std::mem::take(&mut script.deliveries) {
                    let started = engine::deliver_event(&compiled, &mut state, event.clone());
                    requests.push(json!({"delivered": event, "handlers": started}));
                }
                continue;
            }
            Outcome::Blocked(open) => {
                blocked += 1;
                let mut answered = 0;
                for request in open {
                    let Some(answer) = script.answer(&request, &mut used) else {
                        if !held.contains(&request.id) {
                            held.push(request.id);
                            requests.push(json!({"id": request.id, "path": request.path, "kind": request.kind, "answer": "held"}));
                        }
                        continue;
                    };
                    answered += 1;
                    requests.push(json!({
                        "id": request.id,
                        "fiber": request.fiber,
                        "path": request.path,
                        "step": request.step,
                        "kind": request.kind,
                        "answer": answer.result,
                    }));
                    engine::resume(&compiled, &mut state, answer).expect("the request is open");
                    if drive.round_trip {
                        state = round_trip(state);
                    }
                }
                if answered > 0 {
                    continue;
                }
                json!({"status": "stuck", "open": held})
            }
            other => serde_json::to_value(other).expect("an outcome serialises"),
        };
        return Trace {
            outcome,
            variables: state.variables().clone(),
            requests,
            effects,
        };
    }
    panic!("the run did not finish in 100000 rounds");
}
