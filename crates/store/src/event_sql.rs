//! The event, wait and message statements (see [`crate::event`]), written once
//! in SQL both databases accept (`$n` placeholders work in SQLite too) and
//! instantiated per backend by [`event_queries!`], since sqlx executors are
//! typed by database.

/// The PostgreSQL advisory lock key of event publishing and wait registration.
pub(crate) const EVENTS_LOCK: i64 = 0x626f_7466_6c6f_7745;

/// The matching rules of `crate::event`, for run `$1`, name `$2`, key `$3`;
/// `$marks` is the table of events the run has already used.
macro_rules! match_events {
    ($marks:literal) => {
        concat!(
            "SELECT e.seq, e.id, e.name, e.key, e.target_bot, e.payload, e.from_bot, e.from_run, e.at
FROM events AS e JOIN runs AS r ON r.id = $1
WHERE e.name = $2 AND e.at >= r.created_at
AND (e.target_bot IS NULL OR e.target_bot = '' OR e.target_bot = r.bot)
AND ((CAST($3 AS TEXT) IS NULL AND (e.key IS NULL OR e.key = '' OR e.key = r.id))
     OR e.key = CAST($3 AS TEXT))
AND NOT EXISTS (SELECT 1 FROM ",
            $marks,
            " AS c WHERE c.run_id = r.id AND c.event_id = e.id)
ORDER BY e.seq LIMIT $4"
        )
    };
}

/// The next events a `WAIT FOR EVENT` may consume.
pub(crate) const NEXT_TO_CONSUME: &str = match_events!("event_consumption");

/// The next events an `ON EVENT` handler may be delivered.
pub(crate) const NEXT_TO_DELIVER: &str = match_events!("event_deliveries");

/// The run's unconsumed messages, oldest first.
pub(crate) const NEXT_MESSAGES: &str = "\
SELECT m.id, m.run_id, m.seq, m.text, m.at FROM run_messages AS m
WHERE m.run_id = $1
AND NOT EXISTS (SELECT 1 FROM event_consumption AS c WHERE c.run_id = m.run_id AND c.event_id = m.id)
ORDER BY m.seq LIMIT $2";

pub(crate) const CONSUME: &str = "\
INSERT INTO event_consumption (run_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

pub(crate) const DELIVER: &str = "\
INSERT INTO event_deliveries (run_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

pub(crate) const CLEAR_WAITS: &str = "DELETE FROM event_waits WHERE run_id = $1";

pub(crate) const ADD_WAIT: &str = "\
INSERT INTO event_waits (run_id, name, key, handler) VALUES ($1, $2, $3, $4)";

/// Makes a waiting run due now (unless it already is).
pub(crate) const WAKE_RUN: &str = "\
UPDATE runs SET wake_at = $2
WHERE id = $1 AND status = 'waiting' AND (wake_at IS NULL OR wake_at > $2)";

/// Takes the run row's lock (PostgreSQL) and makes a waiting run due now;
/// returns the run's status, none for an unknown run.
pub(crate) const TOUCH_RUN: &str = "\
UPDATE runs SET wake_at = CASE WHEN status = 'waiting' THEN $2 ELSE wake_at END
WHERE id = $1 RETURNING status";

pub(crate) const INSERT_MESSAGE: &str = "\
INSERT INTO run_messages (id, run_id, seq, text, at) VALUES ($1, $2, $3, $4, $5)";

pub(crate) const LAST_MESSAGE_SEQ: &str = "\
SELECT coalesce(max(seq), 0) FROM run_messages WHERE run_id = $1";

pub(crate) const INSERT_EVENT: &str = "\
INSERT INTO events (id, name, key, target_bot, payload, from_bot, from_run, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING";

pub(crate) const EVENT_BY_ID: &str = "\
SELECT seq, id, name, key, target_bot, payload, from_bot, from_run, at FROM events WHERE id = $1";

/// Makes due, at `$2`, every waiting run that waits for one of the events of
/// the commit document `$1` (SQLite's JSON functions).
///
/// Nearly every commit publishes (the engine's own events), so this runs at
/// every group commit: the waiting runs must be found through `event_waits`
/// and the primary key, never by scanning the `(status, wake_at)` index over
/// every waiting run. The unary `+` keeps SQLite's planner off that index.
/// While no run waits for an event, the `EXISTS`, evaluated once before the
/// loop, skips the look-ups of the commit's events altogether.
pub(crate) const WAKE_WAITERS_DOC_SQLITE: &str = "\
UPDATE runs SET wake_at = $2
WHERE +status = 'waiting' AND (wake_at IS NULL OR wake_at > $2)
AND EXISTS (SELECT 1 FROM event_waits)
AND id IN (SELECT w.run_id FROM jsonb_each($1) AS j
           JOIN event_waits AS w ON w.name = j.value ->> 'name'
           WHERE w.key = j.value ->> 'key'
              OR (w.key IS NULL AND (j.value ->> 'key' IS NULL OR j.value ->> 'key' = ''
                                     OR j.value ->> 'key' = w.run_id)))";

/// [`WAKE_WAITERS_DOC_SQLITE`] with PostgreSQL's JSON functions.
pub(crate) const WAKE_WAITERS_DOC_PG: &str = "\
UPDATE runs SET wake_at = $2
WHERE status = 'waiting' AND (wake_at IS NULL OR wake_at > $2)
AND EXISTS (SELECT 1 FROM event_waits)
AND id IN (SELECT w.run_id FROM json_to_recordset($1::json) AS x (name text, key text)
           JOIN event_waits AS w ON w.name = x.name
           WHERE w.key = x.key
              OR (w.key IS NULL AND (x.key IS NULL OR x.key = '' OR x.key = w.run_id)))";

/// Makes due every waiting run that waits for an event named `$1` with key `$2`.
/// The target bot is not checked here: a run woken for an event addressed to
/// another bot looks, finds nothing, and waits again.
/// (`status || ''` keeps SQLite off the `(status, wake_at)` index, as in
/// [`WAKE_WAITERS_DOC_SQLITE`]; it is valid on PostgreSQL too.)
pub(crate) const WAKE_WAITERS: &str = "\
UPDATE runs SET wake_at = $3
WHERE status || '' = 'waiting' AND (wake_at IS NULL OR wake_at > $3)
AND id IN (SELECT w.run_id FROM event_waits AS w WHERE w.name = $1
           AND (w.key = CAST($2 AS TEXT)
                OR (w.key IS NULL AND (CAST($2 AS TEXT) IS NULL OR CAST($2 AS TEXT) = ''
                                       OR CAST($2 AS TEXT) = w.run_id))))";

pub(crate) const CURSOR: &str = "SELECT seq FROM event_cursors WHERE name = $1";

pub(crate) const SET_CURSOR: &str = "\
INSERT INTO event_cursors (name, seq) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > event_cursors.seq";

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub(crate) id: String,
    pub(crate) run_id: String,
    pub(crate) seq: i64,
    pub(crate) text: String,
    pub(crate) at: i64,
}

impl From<MessageRow> for crate::event::RunMessage {
    fn from(row: MessageRow) -> Self {
        crate::event::RunMessage {
            id: row.id,
            run_id: row.run_id,
            seq: row.seq,
            text: row.text,
            at: row.at,
        }
    }
}

/// Generates the event operations for one backend's connection type.
macro_rules! event_queries {
    ($conn:ty, $wake_doc:expr) => {
        use $crate::event::{EventQuery, EventUse, RunMessage, Wait};
        use $crate::event_sql as eq;
        use $crate::model::{EventRecord, NewEvent};

        /// The first events matching `query`, skipping its excluded ids.
        pub(crate) async fn next_event(
            conn: &mut $conn,
            query: &EventQuery,
        ) -> $crate::Result<Option<EventRecord>> {
            let sql = match query.use_ {
                EventUse::Consume => eq::NEXT_TO_CONSUME,
                EventUse::Deliver => eq::NEXT_TO_DELIVER,
            };
            let limit = i64::try_from(query.exclude.len()).unwrap_or(i64::MAX - 1) + 1;
            let rows: Vec<$crate::rows::EventRow> = sqlx::query_as(sql)
                .bind(&query.run_id)
                .bind($crate::event::canonical_event_name(&query.name))
                .bind(&query.key)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
            for row in rows {
                let record = EventRecord::try_from(row)?;
                if !query.exclude.contains(&record.id) {
                    return Ok(Some(record));
                }
            }
            Ok(None)
        }

        /// The run's oldest unconsumed message, skipping `exclude`.
        pub(crate) async fn next_message(
            conn: &mut $conn,
            run_id: &str,
            exclude: &[String],
        ) -> $crate::Result<Option<RunMessage>> {
            let limit = i64::try_from(exclude.len()).unwrap_or(i64::MAX - 1) + 1;
            let rows: Vec<eq::MessageRow> = sqlx::query_as(eq::NEXT_MESSAGES)
                .bind(run_id)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows
                .into_iter()
                .map(RunMessage::from)
                .find(|m| !exclude.contains(&m.id)))
        }

        /// Applies a durable point's event records inside the commit:
        /// consumption, deliveries, and the replacement of its waits (which
        /// makes it due at once when one of them is already satisfied).
        pub(crate) async fn apply_marks(
            conn: &mut $conn,
            run_id: &str,
            consumed: &[String],
            delivered: &[String],
            waits: Option<&[Wait]>,
            now: i64,
        ) -> $crate::Result<()> {
            for id in consumed {
                sqlx::query(eq::CONSUME)
                    .bind(run_id)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            for id in delivered {
                sqlx::query(eq::DELIVER)
                    .bind(run_id)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            let Some(waits) = waits else {
                return Ok(());
            };
            sqlx::query(eq::CLEAR_WAITS)
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
            let mut satisfied = false;
            for wait in waits {
                let (name, key, handler, use_) = match wait {
                    Wait::Event { name, key } => (name, key.clone(), 0_i32, EventUse::Consume),
                    Wait::Handler { name } => (name, None, 1_i32, EventUse::Deliver),
                    Wait::Message => {
                        satisfied =
                            satisfied || next_message(&mut *conn, run_id, &[]).await?.is_some();
                        continue;
                    }
                };
                sqlx::query(eq::ADD_WAIT)
                    .bind(run_id)
                    .bind($crate::event::canonical_event_name(name))
                    .bind(&key)
                    .bind(handler)
                    .execute(&mut *conn)
                    .await?;
                if !satisfied {
                    let query = EventQuery {
                        run_id: run_id.to_owned(),
                        name: name.clone(),
                        key,
                        use_,
                        exclude: Vec::new(),
                    };
                    satisfied = next_event(&mut *conn, &query).await?.is_some();
                }
            }
            if satisfied {
                sqlx::query(eq::WAKE_RUN)
                    .bind(run_id)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        /// Makes due the waiting runs that wait for an event `name` with `key`.
        pub(crate) async fn wake_waiters(
            conn: &mut $conn,
            name: &str,
            key: Option<&str>,
            now: i64,
        ) -> $crate::Result<()> {
            sqlx::query(eq::WAKE_WAITERS)
                .bind($crate::event::canonical_event_name(name))
                .bind(key)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// Makes due the waiting runs that wait for an event of a commit
        /// document; true when there was one.
        pub(crate) async fn wake_waiters_doc(
            conn: &mut $conn,
            events_doc: &str,
            now: i64,
        ) -> $crate::Result<bool> {
            let done = sqlx::query($wake_doc)
                .bind(events_doc)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Publishes one event (idempotent by id) and wakes its waiters.
        pub(crate) async fn publish(
            conn: &mut $conn,
            event: &NewEvent,
            now: i64,
        ) -> $crate::Result<(EventRecord, bool)> {
            let payload = event
                .payload
                .as_ref()
                .map(|p| $crate::batch::to_json(p, || format!("event {} payload", event.id)))
                .transpose()?;
            let done = sqlx::query(eq::INSERT_EVENT)
                .bind(&event.id)
                .bind($crate::event::canonical_event_name(&event.name))
                .bind(&event.key)
                .bind(&event.target_bot)
                .bind(&payload)
                .bind(&event.from_bot)
                .bind(&event.from_run)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            let created = done.rows_affected() == 1;
            if created {
                wake_waiters(&mut *conn, &event.name, event.key.as_deref(), now).await?;
            }
            let row: $crate::rows::EventRow = sqlx::query_as(eq::EVENT_BY_ID)
                .bind(&event.id)
                .fetch_one(&mut *conn)
                .await?;
            Ok((EventRecord::try_from(row)?, created))
        }

        /// Stores a message to a run that is not over, and makes it due.
        pub(crate) async fn send(
            conn: &mut $conn,
            run_id: &str,
            text: &str,
            now: i64,
        ) -> $crate::Result<RunMessage> {
            let status: Option<String> = sqlx::query_scalar(eq::TOUCH_RUN)
                .bind(run_id)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
            let status: $crate::RunStatus = match status {
                None => return Err($crate::Error::UnknownRun(run_id.to_owned())),
                Some(status) => status.parse()?,
            };
            if status.is_terminal() {
                return Err($crate::Error::RunEnded {
                    run: run_id.to_owned(),
                    status: status.to_string(),
                });
            }
            let text_json = serde_json::Value::from(text);
            $crate::batch::to_json(&text_json, || format!("message to run {run_id}"))?;
            let last: i64 = sqlx::query_scalar(eq::LAST_MESSAGE_SEQ)
                .bind(run_id)
                .fetch_one(&mut *conn)
                .await?;
            let message = RunMessage {
                id: format!("{run_id}:msg:{}", last + 1),
                run_id: run_id.to_owned(),
                seq: last + 1,
                text: text.to_owned(),
                at: now,
            };
            sqlx::query(eq::INSERT_MESSAGE)
                .bind(&message.id)
                .bind(&message.run_id)
                .bind(message.seq)
                .bind(&message.text)
                .bind(message.at)
                .execute(&mut *conn)
                .await?;
            Ok(message)
        }

        /// The stored cursor of a trigger (0 when none).
        pub(crate) async fn cursor(conn: &mut $conn, name: &str) -> $crate::Result<i64> {
            let seq: Option<i64> = sqlx::query_scalar(eq::CURSOR)
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(seq.unwrap_or(0))
        }

        /// Moves a trigger's cursor forward (never back).
        pub(crate) async fn set_cursor(
            conn: &mut $conn,
            name: &str,
            seq: i64,
        ) -> $crate::Result<()> {
            sqlx::query(eq::SET_CURSOR)
                .bind(name)
                .bind(seq)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
    };
}

pub(crate) use event_queries;
