//! The `SET SCHEDULE "cron or phrase"` header (LANGUAGE.md §3): one run of
//! the script per tick, never a tick skipped or started twice, also across
//! crashes, restarts and several workers.
//!
//! # How
//!
//! [`Runtime::sync_schedules`] (a worker calls it once at start) reads every
//! script's header with the checker's own parser ([`basic::schedule`]) and
//! records it in the store as `bot/workflow` → text, program, next tick
//! ([`Store::sync_schedule`]). An unchanged text keeps its stored next tick,
//! so ticks that fell due while no worker ran are still due; a new or changed
//! text starts at its first tick strictly after now. Schedules of workflows
//! the deployment no longer has are removed.
//!
//! [`Runtime::start_scheduled`] (each worker pass) fires each due tick in
//! order, each in its own [`Store::fire_schedule`]: one transaction that
//! moves the schedule's next tick forward by compare-and-set *and* creates
//! the tick's run, so a crash leaves both or neither, and of two workers
//! firing one tick only one creates its run. The run id is
//! `<workflow>:tick:<tick ms>` (idempotent by id, like every run start; the
//! shape of `TRIGGER ON EVENT`'s `<workflow>:event:<seq>`, since run ids
//! allow only letters, digits and `-_.:`).
//!
//! # Policy
//!
//! - **Time zone**: ticks are read in UTC civil time (`"weekdays at 8am"` is
//!   08:00 UTC). The build carries no time-zone database.
//! - **Catch-up**: after downtime every missed tick starts its run, in order,
//!   at most [`MAX_TICKS_PER_PASS`] per schedule per worker pass (the rest on
//!   the following passes, which come at once). Nothing is coalesced.
//! - **Input**: a scheduled run's input is `{"tick": "<RFC 3339 UTC>"}`, so
//!   the script reads its tick in the variable `tick`.
//! - **A schedule that never fires** (`0 0 31 2 *`) is stored with next tick
//!   [`store::NEVER`] and starts nothing.

use std::sync::Arc;

use basic::schedule::{CivilTime, Schedule, parse_schedule};
use serde_json::{Map, Value, json};
use store::{NEVER, NewRun, RunStatus, Store};

use crate::Result;
use crate::runtime::{Inner, Runtime, Workflow};
use crate::time::now_ms;

/// The most ticks of one schedule a pass starts: a long downtime is caught
/// up over several passes instead of holding one pass (and the claims behind
/// it) for every missed tick at once.
pub const MAX_TICKS_PER_PASS: usize = 100;

/// How many due schedules one pass reads.
const DUE_PAGE: u32 = 256;

/// A workflow with a `SET SCHEDULE` header.
#[derive(Clone, Debug)]
pub(crate) struct Scheduled {
    /// `bot/workflow`, the store's key.
    key: String,
    workflow: Workflow,
    /// The header's text as written.
    text: String,
    schedule: Schedule,
}

/// The first tick of `schedule` strictly after `after_ms` (epoch ms, read in
/// UTC), in epoch ms (whole seconds); `None` when it never fires again.
pub fn next_tick(schedule: &Schedule, after_ms: i64) -> Option<i64> {
    let civil = civil_from_seconds(after_ms.div_euclid(1000))?;
    let next = schedule.next_after(civil)?;
    seconds_from_civil(next)?.checked_mul(1000)
}

/// A tick as RFC 3339 UTC text (`2025-03-03T09:00:00Z`).
pub fn tick_text(tick_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(tick_ms)
        .map_or_else(|_| tick_ms.to_string(), |t| t.to_string())
}

fn civil_from_seconds(seconds: i64) -> Option<CivilTime> {
    let timestamp = jiff::Timestamp::from_second(seconds).ok()?;
    let dt = jiff::tz::Offset::UTC.to_datetime(timestamp);
    Some(CivilTime {
        year: i32::from(dt.year()),
        month: u8::try_from(dt.month()).ok()?,
        day: u8::try_from(dt.day()).ok()?,
        hour: u8::try_from(dt.hour()).ok()?,
        minute: u8::try_from(dt.minute()).ok()?,
        second: u8::try_from(dt.second()).ok()?,
    })
}

fn seconds_from_civil(time: CivilTime) -> Option<i64> {
    let dt = jiff::civil::DateTime::new(
        i16::try_from(time.year).ok()?,
        i8::try_from(time.month).ok()?,
        i8::try_from(time.day).ok()?,
        i8::try_from(time.hour).ok()?,
        i8::try_from(time.minute).ok()?,
        i8::try_from(time.second).ok()?,
        0,
    )
    .ok()?;
    Some(jiff::tz::Offset::UTC.to_timestamp(dt).ok()?.as_second())
}

impl Runtime {
    /// Records the deployment's `SET SCHEDULE` headers in the store (see the
    /// module's doc): new or changed schedules start at their first tick
    /// after now, unchanged ones keep their next tick, and schedules of
    /// workflows no longer in the deployment are removed. A workflow the
    /// checker refuses is left out, with a warning. Returns the schedules
    /// now recorded.
    pub async fn sync_schedules(&self) -> Result<Vec<store::ScheduleRecord>> {
        let scheduled = self.scheduled();
        let store = &self.inner.store;
        let now = now_ms();
        let mut synced = Vec::with_capacity(scheduled.len());
        for s in scheduled.iter() {
            let first = next_tick(&s.schedule, now).unwrap_or(NEVER);
            let record = store
                .sync_schedule(&s.key, &s.text, &s.workflow.script.hash, first, now)
                .await?;
            synced.push(record);
        }
        for stale in store.schedules().await? {
            if !scheduled.iter().any(|s| s.key == stale.key) {
                store.remove_schedule(&stale.key).await?;
                tracing::info!(schedule = %stale.key, "schedule removed: its workflow is gone");
            }
        }
        Ok(synced)
    }

    /// One pass of the `SET SCHEDULE` headers: for each schedule due at
    /// `now`, starts the run of every tick up to `now`, in order, each in
    /// its own transaction (at most [`MAX_TICKS_PER_PASS`] per schedule).
    /// Returns how many ticks this call fired. The runs are created, not
    /// driven: a worker drives them, and is woken for them.
    pub async fn start_scheduled(&self, now: i64) -> Result<usize> {
        let scheduled = self.scheduled();
        if scheduled.is_empty() {
            return Ok(0);
        }
        let store = &self.inner.store;
        let mut fired = 0;
        for row in store.due_schedules(now, DUE_PAGE).await? {
            let Some(s) = scheduled.iter().find(|s| s.key == row.key) else {
                continue;
            };
            if row.schedule != s.text {
                // Another worker serves a different text: its ticks are not
                // ours to compute until a sync settles which text holds.
                tracing::debug!(schedule = %s.key, "stored schedule text differs; skipped");
                continue;
            }
            fired += self.fire_due(s, row.next_tick, now).await?;
        }
        if fired > 0 {
            self.inner.wake();
        }
        Ok(fired)
    }

    /// The earliest stored next tick, for a worker's sleep; `None` when this
    /// deployment has no schedules.
    pub async fn next_schedule_tick(&self) -> Result<Option<i64>> {
        if self.scheduled().is_empty() {
            return Ok(None);
        }
        Ok(self.inner.store.next_schedule_tick().await?)
    }

    /// Fires the ticks of one schedule from `tick` up to `now`.
    async fn fire_due(&self, s: &Scheduled, mut tick: i64, now: i64) -> Result<usize> {
        let script = &s.workflow.script;
        let compiled = self.inner.programs.get_or_compile(
            &script.hash,
            &script.path.display().to_string(),
            &script.source,
        )?;
        self.inner
            .programs
            .ensure_stored(&self.inner.store, &script.hash, &script.source)
            .await?;
        let mut fired = 0;
        while tick <= now && fired < MAX_TICKS_PER_PASS {
            let next = next_tick(&s.schedule, tick).unwrap_or(NEVER);
            let (id, input, stored) = self.initial_state(
                &compiled,
                json!({"tick": tick_text(tick)}),
                Some(format!("{}:tick:{tick}", run_id_part(&s.workflow.name))),
                None,
            )?;
            let run = NewRun {
                id,
                workflow: s.workflow.name.clone(),
                bot: s.workflow.bot.clone(),
                program_hash: script.hash.clone(),
                status: RunStatus::Running,
                state: stored.encode_value(),
                input,
                wake_at: None,
                parent_run: None,
                now: now_ms(),
            };
            if !self
                .inner
                .store
                .fire_schedule(&s.key, tick, next, run)
                .await?
            {
                // Another worker fired this tick (and goes on from there).
                break;
            }
            fired += 1;
            tick = next;
        }
        Ok(fired)
    }

    /// The deployment's scheduled workflows, found on first use.
    fn scheduled(&self) -> Arc<Vec<Scheduled>> {
        self.inner
            .schedules
            .get_or_init(|| Arc::new(self.find_schedules()))
            .clone()
    }

    /// The deployment's scripts with a valid `SET SCHEDULE` header that the
    /// checker accepts with a `tick` input.
    fn find_schedules(&self) -> Vec<Scheduled> {
        let inner: &Inner = &self.inner;
        let mut found = Vec::new();
        for package in inner.deployment.packages.values() {
            for script in package.scripts.values() {
                if !script.source.to_ascii_uppercase().contains("SCHEDULE") {
                    continue;
                }
                let parsed = basic::parse(&script.source);
                let texts: Vec<String> = parsed
                    .program
                    .body
                    .iter()
                    .filter_map(|stmt| match &stmt.kind {
                        basic::ast::StmtKind::SetSchedule(expr) => match &expr.kind {
                            basic::ast::ExprKind::Str(literal) => literal.plain_text(),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect();
                let Some(text) = texts.first() else { continue };
                let path = script.path.display();
                if texts.len() > 1 {
                    tracing::warn!(script = %path, "several SET SCHEDULE headers; the first one holds");
                }
                let schedule = match parse_schedule(text) {
                    Ok(schedule) => schedule,
                    Err(why) => {
                        tracing::warn!(script = %path, %why, "invalid SET SCHEDULE; not scheduled");
                        continue;
                    }
                };
                let workflow = Workflow::from_script(&package.name, script.clone());
                let mut input = Map::new();
                input.insert("tick".to_owned(), Value::String(String::new()));
                if let Err(error) = self.check(&workflow, &input) {
                    tracing::warn!(script = %path, %error, "the scheduled script has errors; not scheduled");
                    continue;
                }
                found.push(Scheduled {
                    key: format!("{}/{}", package.name, workflow.name),
                    workflow,
                    text: text.clone(),
                    schedule,
                });
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        found
    }
}

/// A workflow name as a run-id part: letters, digits and `-_.` kept, the
/// rest `_`, at most 80 characters (the id stays within the run-id limit).
fn run_id_part(name: &str) -> String {
    name.chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_time_round_trips_through_epoch_seconds() {
        for seconds in [0, 1, 86_399, 951_782_400, 1_740_787_200, 4_102_444_799] {
            let civil = civil_from_seconds(seconds).unwrap();
            assert_eq!(seconds_from_civil(civil), Some(seconds), "{civil:?}");
        }
        assert_eq!(
            civil_from_seconds(1_740_787_200),
            Some(CivilTime {
                year: 2025,
                month: 3,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0
            })
        );
    }
}
