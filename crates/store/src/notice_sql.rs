//! The approval notification outbox (`approval_outbox`, schema version 8),
//! in SQL both databases accept, instantiated per backend by
//! [`notice_queries!`]. See [`OwedNotice`](crate::OwedNotice).

/// Owes a notification (in a durable point's transaction), claimed for
/// `$4` until `$5` when they are given; owing one that is still owed moves
/// its `owed_at`, and keeps any claim unless a new one is given.
pub(crate) const OWE: &str = "\
INSERT INTO approval_outbox (approval_id, reason, owed_at, claimed_by, claimed_until)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (approval_id, reason) DO UPDATE SET owed_at = excluded.owed_at,
claimed_by = COALESCE(excluded.claimed_by, approval_outbox.claimed_by),
claimed_until = COALESCE(excluded.claimed_until, approval_outbox.claimed_until)";

/// Owed notifications at least as old as `$1` and not claimed at `$2`.
pub(crate) const OWED: &str = "\
SELECT approval_id, reason, owed_at FROM approval_outbox
WHERE owed_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $2)
ORDER BY owed_at LIMIT $3";

/// Claims one owed notification by compare-and-set: only if it is still
/// owed as `owed_at` and nobody's claim holds at `$4`.
pub(crate) const CLAIM: &str = "\
UPDATE approval_outbox SET claimed_by = $5, claimed_until = $6
WHERE approval_id = $1 AND reason = $2 AND owed_at = $3
AND (claimed_until IS NULL OR claimed_until <= $4)";

/// Marks a delivered notification done: only the version that was delivered.
pub(crate) const DONE: &str = "\
DELETE FROM approval_outbox WHERE approval_id = $1 AND reason = $2 AND owed_at = $3";

/// Generates the outbox operations for one backend's connection type.
macro_rules! notice_queries {
    ($conn:ty) => {
        use $crate::approval::{NoticeReason, OwedNotice};
        use $crate::notice_sql as nq;

        /// See [`Store::owed_notices`]($crate::Store::owed_notices).
        pub(crate) async fn owed(
            conn: &mut $conn,
            owed_before: i64,
            now: i64,
            limit: u32,
        ) -> $crate::Result<Vec<OwedNotice>> {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(nq::OWED)
                .bind(owed_before)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.into_iter()
                .map(|(approval_id, reason, owed_at)| {
                    Ok(OwedNotice {
                        reason: NoticeReason::parse(&reason).ok_or_else(|| {
                            $crate::Error::UnknownStatus(format!("notification reason {reason}"))
                        })?,
                        approval_id,
                        owed_at,
                    })
                })
                .collect()
        }

        /// See [`Store::claim_notice`]($crate::Store::claim_notice).
        pub(crate) async fn claim(
            conn: &mut $conn,
            notice: &OwedNotice,
            node: &str,
            now: i64,
            until: i64,
        ) -> $crate::Result<bool> {
            let done = sqlx::query(nq::CLAIM)
                .bind(&notice.approval_id)
                .bind(notice.reason.as_str())
                .bind(notice.owed_at)
                .bind(now)
                .bind(node)
                .bind(until)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        /// See [`Store::notice_done`]($crate::Store::notice_done).
        pub(crate) async fn done(conn: &mut $conn, notice: &OwedNotice) -> $crate::Result<()> {
            sqlx::query(nq::DONE)
                .bind(&notice.approval_id)
                .bind(notice.reason.as_str())
                .bind(notice.owed_at)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
    };
}

pub(crate) use notice_queries;
