//! The signed-link token statements (`approval_tokens`) and the deployment
//! secret in `meta`, written once in SQL both databases accept and
//! instantiated per backend by [`token_queries!`] inside the backend's
//! `approvals` module (next to [`approval_queries!`](crate::approval_sql::approval_queries),
//! whose `decide` a redemption reuses in the same transaction).

use crate::approval::TokenRecord;

/// Only for a request that exists: the tokens of an escalation that did not
/// happen (the request was decided meanwhile) are not issued.
pub(crate) const INSERT: &str = "\
INSERT INTO approval_tokens (id, approval_id, approver, action, issued_at, expires_at)
SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM approvals WHERE id = $2)
ON CONFLICT (id) DO NOTHING";

/// An escalation revokes the unused tokens of the request it replaces.
pub(crate) const REVOKE: &str = "\
UPDATE approval_tokens SET revoked_at = $2
WHERE approval_id = $1 AND used_at IS NULL AND revoked_at IS NULL";

pub(crate) const USE: &str = "UPDATE approval_tokens SET used_at = $2 WHERE id = $1";

pub(crate) const COLUMNS: &str =
    "id, approval_id, approver, action, issued_at, expires_at, used_at, revoked_at";

/// The meta key holding the generated deployment secret.
pub(crate) const SECRET_KEY: &str = "link_secret";

pub(crate) const SECRET_INSERT: &str = "\
INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

pub(crate) const SECRET_SELECT: &str = "SELECT value FROM meta WHERE key = $1";

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    id: String,
    approval_id: String,
    approver: String,
    action: String,
    issued_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<TokenRow> for TokenRecord {
    fn from(row: TokenRow) -> Self {
        TokenRecord {
            id: row.id,
            approval_id: row.approval_id,
            approver: row.approver,
            action: row.action,
            issued_at: row.issued_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Generates the token operations for one backend's connection type; `$lock`
/// as in [`approval_queries!`](crate::approval_sql::approval_queries). Must be
/// invoked in the same module as `approval_queries!` (it calls its `decide`
/// and `audit`).
macro_rules! token_queries {
    ($conn:ty, $lock:literal) => {
        use $crate::approval::{NewToken, TokenRecord, TokenRedemption, check_token};
        use $crate::token_sql as tq;

        /// Records issued tokens, inside a durable point's transaction.
        async fn issue_tokens(
            conn: &mut $conn,
            tokens: &[NewToken],
            now: i64,
        ) -> $crate::Result<()> {
            for token in tokens {
                sqlx::query(tq::INSERT)
                    .bind(&token.id)
                    .bind(&token.approval_id)
                    .bind(&token.approver)
                    .bind(&token.action)
                    .bind(now)
                    .bind(token.expires_at)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        /// Revokes the unused tokens of an escalated request.
        async fn revoke_tokens(
            conn: &mut $conn,
            approval_id: &str,
            now: i64,
        ) -> $crate::Result<()> {
            sqlx::query(tq::REVOKE)
                .bind(approval_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        async fn fetch_token(
            conn: &mut $conn,
            id: &str,
            lock: bool,
        ) -> $crate::Result<Option<TokenRecord>> {
            let sql = format!(
                "SELECT {} FROM approval_tokens WHERE id = $1 {}",
                tq::COLUMNS,
                if lock { $lock } else { "" }
            );
            let row: Option<tq::TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.map(TokenRecord::from))
        }

        pub(crate) async fn token(
            conn: &mut $conn,
            id: &str,
        ) -> $crate::Result<Option<TokenRecord>> {
            fetch_token(conn, id, false).await
        }

        pub(crate) async fn tokens(
            conn: &mut $conn,
            approval_id: &str,
        ) -> $crate::Result<Vec<TokenRecord>> {
            let sql = format!(
                "SELECT {} FROM approval_tokens WHERE approval_id = $1 ORDER BY approver, action",
                tq::COLUMNS
            );
            let rows: Vec<tq::TokenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(approval_id)
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows.into_iter().map(TokenRecord::from).collect())
        }

        /// Checks the token and records its decision in the caller's
        /// transaction (the caller commits only on `Ok`): the token is spent
        /// together with the decision, or neither happens.
        pub(crate) async fn redeem(
            conn: &mut $conn,
            redemption: &TokenRedemption,
        ) -> $crate::Result<ApprovalRecord> {
            let stored = fetch_token(conn, &redemption.token_id, true).await?;
            let token = check_token(stored, redemption)?;
            let decision = ApprovalDecision {
                approve: token.action == "approve",
                who: token.approver.clone(),
                comment: redemption.comment.clone(),
                channel: "link".to_owned(),
                admin: false,
                now: redemption.now,
            };
            let record = decide(conn, &token.approval_id, &decision).await?;
            sqlx::query(tq::USE)
                .bind(&token.id)
                .bind(redemption.now)
                .execute(&mut *conn)
                .await?;
            Ok(record)
        }

        /// The stored deployment secret, storing `candidate` first if there is none.
        pub(crate) async fn link_secret(
            conn: &mut $conn,
            candidate: &str,
        ) -> $crate::Result<String> {
            sqlx::query(tq::SECRET_INSERT)
                .bind(tq::SECRET_KEY)
                .bind(candidate)
                .execute(&mut *conn)
                .await?;
            let value: String = sqlx::query_scalar(tq::SECRET_SELECT)
                .bind(tq::SECRET_KEY)
                .fetch_one(&mut *conn)
                .await?;
            Ok(value)
        }
    };
}
pub(crate) use token_queries;
