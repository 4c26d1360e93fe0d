//! Requests this version of the runtime cannot carry out yet, and the clear
//! `not_implemented` errors they are answered with (an `ON ERROR` handler of
//! the script can catch them).

use engine::{ErrorValue, RequestKind};

/// What a request is, as a person would name the statement.
fn statement(kind: &RequestKind) -> &'static str {
    match kind {
        RequestKind::CallBot { .. } => "BOT",
        RequestKind::Approval { .. } => "HUMAN APPROVAL",
        RequestKind::Llm { .. } => "LLM",
        RequestKind::Http { .. } => "HTTP (GET/POST/PUT/PATCH/DELETE HTTP)",
        RequestKind::ReadMemory { .. } => "GET BOT MEMORY",
        RequestKind::Recall { .. } => "RECALL",
        RequestKind::Hear { .. } => "HEAR",
        RequestKind::WaitEvent { .. } => "WAIT FOR EVENT",
        RequestKind::Delay { .. } => "DELAY / WAIT",
        RequestKind::SendMail { .. } => "SEND MAIL",
        RequestKind::CallScript { .. } => "CALL \"script.bas\"",
    }
}

/// The answer to a request a workflow makes that botflow cannot carry out yet.
pub(crate) fn in_workflow(kind: &RequestKind) -> ErrorValue {
    ErrorValue::new(
        "not_implemented",
        format!("{} is not supported yet by this botflow", statement(kind)),
    )
}

/// The answer to a request a bot script makes that a nested, non-durable
/// script cannot wait for.
pub(crate) fn in_bot_script(kind: &RequestKind) -> ErrorValue {
    let reason = match kind {
        RequestKind::Delay { .. } | RequestKind::Hear { .. } | RequestKind::WaitEvent { .. } => {
            "a bot script answering a step cannot wait durably"
        }
        _ => "it is not supported yet by this botflow",
    };
    ErrorValue::new(
        "not_implemented",
        format!("{} inside a bot script: {reason}", statement(kind)),
    )
}
