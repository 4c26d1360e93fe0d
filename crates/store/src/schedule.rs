//! Schedules: the stored side of `SET SCHEDULE` headers.
//!
//! The store knows nothing about cron: a schedule row holds the header's text
//! (to notice a change), the program it was read from, and `next_tick`, the
//! next tick (epoch milliseconds) whose run has not been started yet. The
//! runtime computes ticks; the store only guarantees the two properties that
//! make a tick start exactly one run:
//!
//! - **Restarts neither skip nor double.** [`Store::sync_schedule`] keeps
//!   `next_tick` when the text is unchanged, so ticks that fell due while no
//!   worker ran are still due afterwards; a changed text starts over from the
//!   caller's first tick.
//! - **Firing is a compare-and-set.** [`Store::fire_schedule`] moves
//!   `next_tick` from the tick to the following one *and* creates the tick's
//!   run in one transaction. Two workers firing the same tick: one moves it,
//!   the other finds `next_tick` already moved and creates nothing. A crash
//!   before the commit leaves both undone, so the tick is still due.
//!
//! [`Store::sync_schedule`]: crate::Store::sync_schedule
//! [`Store::fire_schedule`]: crate::Store::fire_schedule

/// The `next_tick` of a schedule that never fires again (`0 0 31 2 *`): no
/// `now` reaches it, so it is never due.
pub const NEVER: i64 = i64::MAX;

/// One stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    /// `bot/workflow`: which workflow the schedule starts.
    pub key: String,
    /// The `SET SCHEDULE` text as written (cron expression or phrase).
    pub schedule: String,
    /// The program the schedule was last synced from.
    pub program_hash: String,
    /// The next tick whose run has not been started (epoch ms); [`NEVER`]
    /// when the schedule has no tick left.
    pub next_tick: i64,
    /// When the row last changed (epoch ms).
    pub updated_at: i64,
}
