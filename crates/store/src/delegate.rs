//! `Store` methods that are the same on both backends but for where their
//! connection comes from: each takes a connection or a transaction and calls
//! the backend's instance of a shared statement module (`schedule_sql`,
//! `api_token_sql`, `notice_sql`). Written once here, instantiated in each backend's
//! `impl Store`, so the two cannot drift apart.

/// Writes the schedule, API-token and notification-outbox methods of an
/// `impl Store` block. The backend module must hold `schedules`
/// ([`schedule_queries!`]), `api_tokens` ([`api_token_queries!`]) and
/// `notices` ([`notice_queries!`]).
///
/// - `read`: the pool reads use (SQLite's readers run beside its writer).
/// - `write`: where writes get their connection (`acquire`): PostgreSQL's
///   pool, SQLite's single writer connection.
/// - `begin`: how that connection starts a transaction. SQLite's `BEGIN IMMEDIATE`
///   takes the write lock before the first read, so a schedule's
///   compare-and-set or the first token's emptiness check is never raced by
///   another process; PostgreSQL's statements lock what they need themselves.
///
/// [`schedule_queries!`]: crate::schedule_sql::schedule_queries
/// [`api_token_queries!`]: crate::api_token_sql::api_token_queries
/// [`notice_queries!`]: crate::notice_sql::notice_queries
macro_rules! delegated_methods {
    (read: $read:ident, write: $write:ident, begin: $begin:ident($($arg:expr),*)) => {
        async fn sync_schedule(
            &self,
            key: &str,
            schedule: &str,
            program_hash: &str,
            first_tick: i64,
            now: i64,
        ) -> $crate::Result<$crate::ScheduleRecord> {
            let mut conn = self.$write.acquire().await?;
            schedules::sync(&mut conn, key, schedule, program_hash, first_tick, now).await
        }

        async fn schedules(&self) -> $crate::Result<Vec<$crate::ScheduleRecord>> {
            let mut conn = self.$read.acquire().await?;
            schedules::list(&mut conn).await
        }

        async fn due_schedules(
            &self,
            now: i64,
            limit: u32,
        ) -> $crate::Result<Vec<$crate::ScheduleRecord>> {
            let mut conn = self.$read.acquire().await?;
            schedules::due(&mut conn, now, limit).await
        }

        async fn next_schedule_tick(&self) -> $crate::Result<Option<i64>> {
            let mut conn = self.$read.acquire().await?;
            schedules::next_tick(&mut conn).await
        }

        async fn fire_schedule(
            &self,
            key: &str,
            tick: i64,
            next_tick: i64,
            run: $crate::NewRun,
        ) -> $crate::Result<bool> {
            $crate::schedule_sql::check_fire(key, tick, next_tick)?;
            let state = $crate::batch::to_json(&run.state, || format!("run {} state", run.id))?;
            let input = $crate::batch::to_json(&run.input, || format!("run {} input", run.id))?;
            let mut conn = self.$write.acquire().await?;
            let mut tx = sqlx::Connection::$begin(&mut *conn, $($arg),*).await?;
            // An error returns early and drops the transaction, which rolls it back.
            let fired = schedules::fire(&mut tx, key, tick, next_tick, &run, &state, &input).await?;
            tx.commit().await?;
            Ok(fired)
        }

        async fn remove_schedule(&self, key: &str) -> $crate::Result<bool> {
            let mut conn = self.$write.acquire().await?;
            schedules::remove(&mut conn, key).await
        }

        async fn create_api_token(
            &self,
            new: $crate::NewApiToken,
        ) -> $crate::Result<$crate::ApiTokenRecord> {
            let mut conn = self.$write.acquire().await?;
            api_tokens::create(&mut conn, &new).await
        }

        async fn create_first_api_token(
            &self,
            new: $crate::NewApiToken,
        ) -> $crate::Result<Option<$crate::ApiTokenRecord>> {
            let mut conn = self.$write.acquire().await?;
            let mut tx = sqlx::Connection::$begin(&mut *conn, $($arg),*).await?;
            // An error returns early and drops the transaction, which rolls it back.
            let created = api_tokens::create_first(&mut tx, &new).await?;
            tx.commit().await?;
            Ok(created)
        }

        async fn api_token_by_hash(
            &self,
            token_hash: &str,
        ) -> $crate::Result<Option<$crate::ApiTokenRecord>> {
            let mut conn = self.$read.acquire().await?;
            api_tokens::by_hash(&mut conn, token_hash).await
        }

        async fn api_tokens(&self) -> $crate::Result<Vec<$crate::ApiTokenRecord>> {
            let mut conn = self.$read.acquire().await?;
            api_tokens::list(&mut conn).await
        }

        async fn revoke_api_token(
            &self,
            id: &str,
            now: i64,
        ) -> $crate::Result<$crate::ApiTokenRecord> {
            let mut conn = self.$write.acquire().await?;
            api_tokens::revoke(&mut conn, id, now).await
        }

        async fn owed_notices(
            &self,
            owed_before: i64,
            now: i64,
            limit: u32,
        ) -> $crate::Result<Vec<$crate::OwedNotice>> {
            let mut conn = self.$read.acquire().await?;
            notices::owed(&mut conn, owed_before, now, limit).await
        }

        async fn claim_notice(
            &self,
            notice: &$crate::OwedNotice,
            node: &str,
            now: i64,
            until: i64,
        ) -> $crate::Result<bool> {
            let mut conn = self.$write.acquire().await?;
            notices::claim(&mut conn, notice, node, now, until).await
        }

        async fn notice_done(&self, notice: &$crate::OwedNotice) -> $crate::Result<()> {
            let mut conn = self.$write.acquire().await?;
            notices::done(&mut conn, notice).await
        }
    };
}
pub(crate) use delegated_methods;
