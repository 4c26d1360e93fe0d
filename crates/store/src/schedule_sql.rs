//! The schedule statements (see [`crate::schedule`]), written once in SQL both
//! databases accept and instantiated per backend by [`schedule_queries!`],
//! since sqlx executors are typed by database.

use crate::schedule::ScheduleRecord;

/// Inserts the row, or updates it: a changed text starts over from the given
/// first tick, an unchanged one keeps its `next_tick` (the restart rule).
pub(crate) const SYNC: &str = "\
INSERT INTO schedules (key, schedule, program_hash, next_tick, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (key) DO UPDATE SET
    next_tick = CASE WHEN schedules.schedule = excluded.schedule
                     THEN schedules.next_tick ELSE excluded.next_tick END,
    schedule = excluded.schedule,
    program_hash = excluded.program_hash,
    updated_at = excluded.updated_at
RETURNING key, schedule, program_hash, next_tick, updated_at";

pub(crate) const LIST: &str = "\
SELECT key, schedule, program_hash, next_tick, updated_at FROM schedules ORDER BY key";

/// Due schedules, earliest tick first (the `next_tick` index).
pub(crate) const DUE: &str = "\
SELECT key, schedule, program_hash, next_tick, updated_at FROM schedules
WHERE next_tick <= $1 ORDER BY next_tick, key LIMIT $2";

pub(crate) const NEXT_TICK: &str = "SELECT min(next_tick) FROM schedules";

/// The compare-and-set of a fire: only the caller that still sees `$2` moves it.
pub(crate) const ADVANCE: &str = "\
UPDATE schedules SET next_tick = $3, updated_at = $4 WHERE key = $1 AND next_tick = $2";

pub(crate) const REMOVE: &str = "DELETE FROM schedules WHERE key = $1";

#[derive(sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    key: String,
    schedule: String,
    program_hash: String,
    next_tick: i64,
    updated_at: i64,
}

impl From<ScheduleRow> for ScheduleRecord {
    fn from(row: ScheduleRow) -> Self {
        ScheduleRecord {
            key: row.key,
            schedule: row.schedule,
            program_hash: row.program_hash,
            next_tick: row.next_tick,
            updated_at: row.updated_at,
        }
    }
}

/// Refuses a fire that would not move the schedule forward: a `next_tick`
/// at or before `tick` would make the same tick (or an earlier one) due again.
pub(crate) fn check_fire(key: &str, tick: i64, next_tick: i64) -> crate::Result<()> {
    if next_tick <= tick {
        return Err(crate::Error::InvalidSchedule(format!(
            "schedule {key:?}: the next tick {next_tick} is not after the tick {tick} being fired; \
             nothing was started"
        )));
    }
    Ok(())
}

/// Generates the schedule operations for one backend's connection type. Must
/// be invoked in a module whose parent defines `insert_run(conn, &NewRun,
/// state, input)`: a fired tick's run is created by the same code as any run.
macro_rules! schedule_queries {
    ($conn:ty) => {
        use $crate::schedule::ScheduleRecord;
        use $crate::schedule_sql as sq;

        /// Inserts or updates a schedule (see [`sq::SYNC`]).
        pub(crate) async fn sync(
            conn: &mut $conn,
            key: &str,
            text: &str,
            program_hash: &str,
            first_tick: i64,
            now: i64,
        ) -> $crate::Result<ScheduleRecord> {
            let row: sq::ScheduleRow = sqlx::query_as(sq::SYNC)
                .bind(key)
                .bind(text)
                .bind(program_hash)
                .bind(first_tick)
                .bind(now)
                .fetch_one(&mut *conn)
                .await?;
            Ok(row.into())
        }

        /// Every schedule, by key.
        pub(crate) async fn list(conn: &mut $conn) -> $crate::Result<Vec<ScheduleRecord>> {
            let rows: Vec<sq::ScheduleRow> = sqlx::query_as(sq::LIST).fetch_all(&mut *conn).await?;
            Ok(rows.into_iter().map(ScheduleRecord::from).collect())
        }

        /// Schedules whose next tick is at or before `now`, earliest first.
        pub(crate) async fn due(
            conn: &mut $conn,
            now: i64,
            limit: u32,
        ) -> $crate::Result<Vec<ScheduleRecord>> {
            let rows: Vec<sq::ScheduleRow> = sqlx::query_as(sq::DUE)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows.into_iter().map(ScheduleRecord::from).collect())
        }

        /// The earliest next tick of any schedule.
        pub(crate) async fn next_tick(conn: &mut $conn) -> $crate::Result<Option<i64>> {
            Ok(sqlx::query_scalar(sq::NEXT_TICK)
                .fetch_one(&mut *conn)
                .await?)
        }

        /// Inside the caller's transaction: moves the schedule from `tick` to
        /// `next_tick` and, only if this call moved it, creates the tick's run.
        pub(crate) async fn fire(
            conn: &mut $conn,
            key: &str,
            tick: i64,
            next_tick: i64,
            new: &$crate::NewRun,
            state: &str,
            input: &str,
        ) -> $crate::Result<bool> {
            let moved = sqlx::query(sq::ADVANCE)
                .bind(key)
                .bind(tick)
                .bind(next_tick)
                .bind(new.now)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if moved == 0 {
                return Ok(false);
            }
            super::insert_run(conn, new, state, input).await?;
            Ok(true)
        }

        /// Deletes a schedule; whether it existed.
        pub(crate) async fn remove(conn: &mut $conn, key: &str) -> $crate::Result<bool> {
            let done = sqlx::query(sq::REMOVE)
                .bind(key)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() > 0)
        }
    };
}

pub(crate) use schedule_queries;
