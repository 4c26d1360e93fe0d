//! The botflow runtime: drives workflow runs over a [`store`] with the
//! [`engine`], and answers their requests (bot scripts from [`bots`]).
//!
//! One [`Runtime`] value holds the store, the deployment, a cache of compiled
//! programs (by source hash) and the **group committer**: one task that
//! commits many runs' durable points in one transaction and tells nobody a
//! point is recorded before that transaction committed.
//!
//! Entry points: [`Runtime::start`] creates a run (idempotent by id),
//! [`Runtime::launch`] creates it by its first group-committed point and
//! drives it in the background,
//! [`Runtime::run_to_end`] / [`Runtime::drive`] drive it, [`Runtime::resume_all`]
//! recovers every run that was left running or became due, and
//! [`Runtime::view`] reads a run back.
//!
//! # Architecture invariants
//!
//! - **One transaction per durable point** (and usually many points per
//!   transaction): an `advance`'s effects, the answers it consumed, the bot
//!   scripts' memory writes and events, step rows and journal entries go into
//!   one [`store::DurablePoint`].
//! - **Commit before consequence.** No request is issued before the point that
//!   produced it has committed, and no answer is acted on before it is
//!   committed with the point that consumes it.
//! - **Fencing.** A driver works under a lease epoch; a fenced point stops it.
//! - **Pinning.** Runs are driven from the program stored under their hash,
//!   never from disk.
//! - **A waiting run costs a row**: its driver ends after committing `waiting`.
//!   A `HUMAN APPROVAL` is a store row created in the point that hands the
//!   request out; its deadline is the run row's `wake_at`, and a decision
//!   ([`Runtime::decide`]) makes the run due (see `driver/approvals.rs`).
//! - **An event is consumed once.** `WAIT FOR EVENT` and `HEAR` record what
//!   they consumed in the point that records their answer; a waiting run is
//!   made due by whoever publishes what it waits for ([`Runtime::publish_event`],
//!   [`Runtime::send_message`], another run's commit); `TRIGGER ON EVENT`
//!   starts one run per event, its id derived from the event's
//!   ([`Runtime::start_triggered`]). See `driver/events.rs` and `events.rs`.
//! - **A schedule tick starts one run.** Firing a tick moves the stored next
//!   tick by compare-and-set in the transaction that creates the tick's run
//!   ([`Runtime::start_scheduled`], `schedules.rs`); a restart starts every
//!   missed tick.
//!
//! # The crash-point hook
//!
//! [`Options::crash_after_commits`] (the binary sets it from the environment
//! variable `BOTFLOW_CRASH_AFTER_COMMITS=N`) aborts the process right after
//! the `N`-th group commit has committed, before any waiter hears of it: the
//! worst moment for a crash, used by the crash tests.
//!
//! # Not yet (answered with `not_implemented` errors)
//!
//! `LLM`, HTTP, `SEND MAIL` and `RECALL` requests of a workflow
//! (`unsupported.rs`; an `ON ERROR` handler can catch them), and model and
//! remote bots (`bots.rs`). A bot script answering a step cannot wait
//! durably (`DELAY`, `HEAR`, `WAIT FOR EVENT` inside it); in a workflow they
//! are durable waits. Approval notifications (log, e-mail, webhook, with
//! reminders) are in `notify/`.

mod api_tokens;
mod bots;
mod builtin;
mod committer;
mod driver;
mod error;
mod events;
mod launch;
mod limits;
mod notify;
mod programs;
mod progress;
mod runtime;
mod schedules;
mod stored;
mod time;
mod unsupported;
mod view;
mod wakeups;
mod worker;

pub use api_tokens::{
    API_TOKEN_PREFIX, ApiPrincipal, ApiRole, MAX_API_TOKEN_NAME_CHARS, UnknownApiRole,
    api_token_hash,
};
pub use builtin::{BUILTIN_BOTS, BotLog};
pub use committer::CommitStats;
pub use driver::Driven;
pub use error::{Error, Result};
pub use events::{MAX_EVENT_NAME_CHARS, check_event_name};
pub use launch::MAX_LAUNCHED_DRIVERS;
pub use limits::{MAX_RUN_ID_CHARS, check_run_id};
pub use notify::{ApproverLinks, DEFAULT_LINK_TTL_MS, DEFAULT_PUBLIC_URL, LinkOutcome, SECRET_ENV};
pub use notify::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook_signature, webhook_signature};
pub use progress::{Progress, RunWatch};
pub use runtime::{Decider, Execution, Options, ResumeReport, Runtime, Workflow, empty_deployment};
pub use schedules::{MAX_TICKS_PER_PASS, next_tick, tick_text};
pub use view::{EventView, JournalView, RunView, StepView, TranscriptLine, WaitFor, WaitView};
pub use wakeups::{COALESCE, DEFAULT_CHANNEL, WakeupConfig, WakeupError};
pub use worker::{MAX_KNOWN_TIMERS, Pass, WorkerOptions, WorkerReport};
