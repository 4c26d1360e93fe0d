//! Durable storage for botflow: runs, steps, journal, events and bot memory.
//!
//! The [`Store`] trait is what the runtime and the tools use; [`SqliteStore`]
//! (embedded, one file in WAL mode) and [`PostgresStore`] (shared by several
//! nodes) implement it, and [`AnyStore`] picks one from a URL at run time.
//! One conformance suite (`tests/conformance.rs`) runs against both.
//!
//! The store knows nothing about BASIC: run state, answers, payloads and memory
//! values are opaque JSON.
//!
//! # Storage decisions
//!
//! - Times are epoch milliseconds (`BIGINT`/`INTEGER`) in both databases.
//! - JSON values (state, input, result, answers, payloads, memory) are stored as
//!   `TEXT` holding the JSON exactly as serialised, in both databases, so they
//!   round-trip byte for byte: PostgreSQL's `JSONB` would reorder object keys,
//!   which the engine's variables and transcripts must not see.
//! - No value above [`MAX_VALUE_BYTES`] of JSON text is stored: a durable point
//!   holding one is rejected whole ([`PointOutcome::Rejected`]), and `create_run`
//!   fails with [`Error::ValueTooLarge`].
//! - Migrations are embedded (`migrations/sqlite`, `migrations/postgres`) and run
//!   at open, after checking that the database's `meta.schema_version` is not
//!   newer than [`SCHEMA_VERSION`] ([`Error::SchemaTooNew`], database untouched).
//!
//! # Invariants
//!
//! - **One transaction per commit.** [`Store::commit`] applies a whole batch of
//!   durable points (run state, steps, memory, events, journal) in one
//!   transaction, with a fixed number of statements per batch rather than per
//!   point; nothing is acknowledged before it is on disk.
//! - **Fencing.** A point is written only if its epoch equals the run's
//!   `lease_epoch`; every claim increments the epoch.
//! - **A step path is recorded once.** `(run_id, path)` is the key of `steps`,
//!   and a `done` row is never overwritten.
//! - **Publishing is idempotent.** An event id that exists is not inserted again.
//! - **Approval requests live and change with their run's durable points**
//!   ([`ApprovalWrite`] in [`DurablePoint::approvals`]); a person's decision
//!   ([`Store::decide_approval`]) is checked and applied in one transaction,
//!   only while the request is pending, and makes the waiting run due.
//! - **An event is consumed by a run once**: consumption rides on the durable
//!   point that records the answer ([`DurablePoint::consumed`]); a waiting
//!   run is made due by the transaction that publishes what it waits for
//!   (see the `event` module).

mod any;
mod api_token;
mod api_token_sql;
mod approval;
mod approval_sql;
mod batch;
mod delegate;
mod error;
mod event;
mod event_sql;
mod group;
mod jsonb;
mod model;
mod notice_sql;
mod postgres;
mod redact;
mod rows;
mod schedule;
mod schedule_sql;
mod sqlite;
mod store;
mod token_sql;
mod version;

pub use any::{AnyStore, OpenOptions};
pub use api_token::{API_TOKEN_ROLES, ApiTokenRecord, ApiTokenRefused, NewApiToken};
pub use approval::{
    ApprovalAudit, ApprovalDecision, ApprovalFilter, ApprovalRecord, ApprovalStatus, ApprovalWrite,
    DecisionRefused, NewApproval, NewToken, TOKEN_ACTIONS, TokenRecord, TokenRedemption,
    check_token,
};
pub use approval::{NoticeClaim, NoticeReason, OwedNotice};
pub use batch::ReadyPoint;
pub use error::{Error, Result};
pub use event::{EventQuery, EventUse, RunMessage, Wait, canonical_event_name, event_value};
pub use group::{GroupClaim, GroupCommitted, GroupWrite, GroupWritten};
pub use model::{
    DurablePoint, EventFilter, EventRecord, JournalEntry, ListKey, MemoryOp, MemoryVersion,
    NewEvent, NewJournalEntry, NewRun, PointOutcome, RunCreation, RunFilter, RunOutcome, RunRecord,
    RunStatus, RunSummary, SharedEntry, StepRecord, StepStatus, StepWrite,
};
pub use postgres::{PostgresOptions, PostgresStore};
pub use redact::redact_url;
pub use schedule::{NEVER, ScheduleRecord};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};
pub use store::Store;
pub use version::schema_version;

/// The largest JSON value (as text) the store accepts: 2 MiB.
pub const MAX_VALUE_BYTES: usize = 2 * 1024 * 1024;

/// The schema version this code writes and understands.
pub const SCHEMA_VERSION: i64 = 12;

/// The current time in epoch milliseconds, for rows the caller gives no time for.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
