//! What the engine tells the runtime and what the runtime answers.
//!
//! An [`Advance`] carries the [`Effect`]s of the statements that ran (to be
//! committed with the run's new state, in order) and an [`Outcome`]. A
//! blocked run lists its [`Request`]s; the runtime carries each out and feeds
//! the result back with [`crate::resume`] as an [`Answer`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An error inside a run, as the script's `ERROR` variable and a failed run show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorValue {
    pub message: String,
    /// `runtime` (an expression or statement failed), `bot`, `timeout`,
    /// `not_implemented`, `parallel`, or what the runtime said in an [`Answer`].
    pub kind: String,
    /// The step path the error happened in, if any.
    pub step: Option<String>,
    /// For `parallel`: each failed branch's error, in branch-label order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorValue>,
}

impl ErrorValue {
    /// An error of `kind` with `message`, not tied to a step yet.
    pub fn new(kind: &str, message: impl Into<String>) -> ErrorValue {
        ErrorValue {
            message: message.into(),
            kind: kind.to_owned(),
            step: None,
            errors: Vec::new(),
        }
    }

    /// The value of the script's `ERROR` variable.
    pub fn to_value(&self) -> Value {
        // Serialising a struct of strings and vectors into a Value cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Something that happened and must be recorded with the next durable point;
/// it needs no answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// `TALK [TO who,] text`: a message to the conversation / transcript.
    Talk { to: Option<String>, text: String },
    /// `PRINT text`: a line of the run's log.
    Print { text: String },
    /// `SET BOT MEMORY key, value` (the current bot's memory).
    SetMemory { key: String, value: Value },
    /// `REMEMBER key, value [, duration]` (per user/conversation memory).
    Remember {
        key: String,
        value: Value,
        duration: Option<Value>,
    },
    /// `BOT SHARE MEMORY key WITH bot`.
    ShareMemory { key: String, with_bot: String },
    /// `BOT SYNC MEMORY FROM bot`.
    SyncMemory { from_bot: String },
    /// `PUBLISH EVENT`. `id` is unique within the run and stable across
    /// resumes; the runtime prefixes the run id.
    PublishEvent {
        id: String,
        name: String,
        data: Value,
        key: Option<String>,
        to: Option<String>,
    },
    /// A conversation-setup keyword that is accepted and recorded (`USE KB "x"`).
    Setup { keyword: String, args: Vec<Value> },
    /// `BEGIN SYSTEM PROMPT`: the system prompt of later `LLM` requests.
    SystemPrompt { text: String },
    /// A `STEP` began.
    StepStarted {
        path: String,
        number: String,
        kind: String,
    },
    /// A `STEP` ended; `error` is set when it failed.
    StepFinished {
        path: String,
        number: String,
        error: Option<ErrorValue>,
    },
    /// A request that was still open was withdrawn (its `PARALLEL` branch was
    /// cancelled): its answer is no longer wanted.
    RequestCancelled { id: u64, path: String },
}

/// What a blocked fiber needs from the runtime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Unique within the run; [`Answer::request`] names it.
    pub id: u64,
    /// The fiber that waits (0 is the main fiber).
    pub fiber: u32,
    /// The step path: with the run id it is the idempotency key `<run id>:<path>`.
    pub path: String,
    /// The number of the `STEP` it belongs to, if any.
    pub step: Option<String>,
    pub kind: RequestKind,
}

/// The kinds of [`Request`], with their evaluated arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestKind {
    /// `BOT "name" "action"`: answer with the bot's answer.
    CallBot {
        bot: String,
        action: String,
        input: Value,
        timeout: Option<f64>,
        retry: Option<u32>,
        cache: Option<f64>,
    },
    /// `HUMAN APPROVAL`: answer with the decision object
    /// `{"approved": bool, "by", "comment", "at", ...}` once decided (the
    /// runtime applies timeouts, escalation and `ON TIMEOUT:` itself).
    Approval {
        from: Vec<String>,
        group: Option<String>,
        timeout: Option<f64>,
        on_timeout: Option<OnTimeout>,
        message: Option<String>,
        require: Option<u32>,
        via: Option<String>,
        on_deny_continue: bool,
    },
    /// `LLM prompt`: answer with the completion.
    Llm {
        prompt: String,
        system_prompt: Option<String>,
        optimize_for: Option<String>,
        max_cost: Option<f64>,
    },
    /// `GET url` / `POST url, data` ...: answer with the response body.
    Http {
        method: String,
        url: String,
        body: Option<Value>,
        headers: Map<String, Value>,
    },
    /// `GET BOT MEMORY key`: answer with the stored value (or null), after applying
    /// the effects that came before it (read-your-writes).
    ReadMemory { key: String },
    /// `RECALL key`.
    Recall { key: String },
    /// `HEAR`: answer with the user's next message.
    Hear {
        as_type: Option<String>,
        choices: Option<Value>,
    },
    /// `WAIT FOR EVENT`: answer with `{"name","data","key","from","at"}`, or null on timeout.
    WaitEvent {
        name: String,
        key: Option<String>,
        timeout: Option<f64>,
        on_timeout: Option<OnTimeout>,
    },
    /// `DELAY` / `WAIT`: answer (with null) once the time has passed.
    Delay { seconds: f64 },
    /// `SEND MAIL`.
    SendMail {
        to: String,
        subject: String,
        body: String,
    },
    /// `CALL "other.bas"`: run that script of the package with `variables` as its
    /// input, and answer with its final variables (an object): they replace the
    /// caller's variables of the same names.
    CallScript {
        path: String,
        variables: Map<String, Value>,
    },
}

/// `ON TIMEOUT:` of an approval or an event wait, evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OnTimeout {
    Escalate { to: String },
    Reject { reason: Option<String> },
    Approve { warning: bool },
    Fail,
    Continue,
}

/// The runtime's answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub request: u64,
    pub result: Result<Value, ErrorValue>,
}

impl Answer {
    /// A successful answer.
    pub fn ok(request: u64, value: Value) -> Answer {
        Answer {
            request,
            result: Ok(value),
        }
    }

    /// A failed answer: the error is raised in the waiting fiber (where `ON ERROR` can catch it).
    pub fn err(request: u64, kind: &str, message: impl Into<String>) -> Answer {
        Answer {
            request,
            result: Err(ErrorValue::new(kind, message)),
        }
    }
}

/// The result of [`crate::advance`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Advance {
    /// In the order they happened.
    pub effects: Vec<Effect>,
    pub outcome: Outcome,
}

/// Where the run stands after an [`Advance`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", content = "value", rename_all = "snake_case")]
pub enum Outcome {
    /// Every open request, by fiber; at least one. Requests stay listed until
    /// answered, so a request may appear in several outcomes: use its id.
    Blocked(Vec<Request>),
    /// The `RETURN` value, or the run's variables.
    Completed(Value),
    /// An error nothing caught.
    Failed(ErrorValue),
    /// An approval said no (without `ON DENY: CONTINUE`).
    Rejected,
    /// The instruction budget ran out: call `advance` again.
    BudgetExhausted,
}
