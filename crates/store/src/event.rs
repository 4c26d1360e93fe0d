//! Events as runs see them (LANGUAGE.md §4.5): what a run waits for, which
//! event matches it next, and messages sent to a run (`HEAR`).
//!
//! # Matching
//!
//! An event matches a run's wait for `name` (optionally `FOR key`) when:
//! - its name equals `name`, ignoring case (LANGUAGE.md §1: look-ups ignore
//!   case, as `ON EVENT` does in the engine);
//! - with a key, its key equals it; without, its key is empty or the run's id;
//! - it is addressed to nobody (`target_bot` empty) or to the run's bot;
//! - it was published at or after the run was created;
//! - the run has not consumed it (a `WAIT FOR EVENT`) or, for an `ON EVENT`
//!   handler, has not had it delivered yet.
//!
//! Consumption and delivery are recorded by the durable point that records
//! the answer ([`DurablePoint::consumed`](crate::DurablePoint::consumed),
//! [`DurablePoint::delivered`](crate::DurablePoint::delivered)), so a crash
//! never consumes an event twice nor loses it.
//!
//! # Waking
//!
//! A waiting point registers what the run waits for
//! ([`DurablePoint::waits`](crate::DurablePoint::waits)). In the same
//! transaction the store makes the run due at once when a matching event or
//! message already exists (it may have arrived while the run was deciding to
//! wait); and every transaction that publishes events makes the runs that
//! wait for them due (`wake_at = now`). On PostgreSQL both kinds of
//! transaction take one advisory lock first (publishers shared, wait
//! registrations exclusive), so neither can miss the other.

use serde_json::Value;

/// The form an event name is stored and looked up in: lower case.
///
/// Event names match ignoring case (`PUBLISH EVENT "Order.Paid"` meets
/// `WAIT FOR EVENT "order.paid"`, an `ON EVENT` handler and a `TRIGGER ON
/// EVENT` header alike). The store applies this at its edges, and nowhere
/// else: to every event it records (a durable point's events and
/// [`Store::publish_event`](crate::Store::publish_event)), to every wait it
/// registers, and to every name it searches by ([`EventQuery`],
/// [`EventFilter::name`](crate::EventFilter::name)). So the `events` and
/// `event_waits` tables hold names in this form, the indexes on them serve
/// the lookups, and an event is listed under this form.
pub fn canonical_event_name(name: &str) -> String {
    name.to_lowercase()
}

/// Which record of a run's use of an event a search skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventUse {
    /// `WAIT FOR EVENT`: events the run has consumed.
    Consume,
    /// `ON EVENT` handlers: events already delivered to the run.
    Deliver,
}

/// The search of [`Store::next_event`](crate::Store::next_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// The run that waits (its bot and start time are read from its row).
    pub run_id: String,
    /// The event name.
    pub name: String,
    /// `FOR key`; without one the event's key must be empty or the run's id.
    pub key: Option<String>,
    /// Which of the run's records the event must be absent from.
    pub use_: EventUse,
    /// Event ids to skip as well (taken by the driver, not yet committed).
    pub exclude: Vec<String>,
}

/// One thing a waiting run waits for, registered by its waiting point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// `WAIT FOR EVENT name [FOR key]`.
    Event {
        /// The event name.
        name: String,
        /// The `FOR` key, if any.
        key: Option<String>,
    },
    /// An `ON EVENT name` handler of the run.
    Handler {
        /// The event name.
        name: String,
    },
    /// `HEAR`: the next message sent to the run.
    Message,
}

/// A message sent to a run (`botflow runs send`), answered to its `HEAR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMessage {
    /// `<run id>:msg:<seq>`; recorded in the run's consumption once heard.
    pub id: String,
    /// The run.
    pub run_id: String,
    /// 1 for the run's first message, + 1 for each later one.
    pub seq: i64,
    /// What was sent.
    pub text: String,
    /// When it was stored.
    pub at: i64,
}

/// The value `WAIT FOR EVENT` returns for an event: `{"name", "data", "key", "from", "at"}`.
pub fn event_value(event: &crate::EventRecord) -> Value {
    serde_json::json!({
        "id": event.id,
        "name": event.name,
        "data": event.payload.clone().unwrap_or(Value::Null),
        "key": event.key,
        "from": event.from_bot,
        "at": event.at,
    })
}
