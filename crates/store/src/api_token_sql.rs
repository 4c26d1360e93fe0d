//! The API token statements (see [`crate::api_token`]), written once in SQL
//! both databases accept and instantiated per backend by
//! [`api_token_queries!`], since sqlx executors are typed by database.

use crate::api_token::{ApiTokenRecord, ApiTokenRefused};

pub(crate) const INSERT: &str = "\
INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)
RETURNING id, name, role, created_at, revoked_at";

/// Inserts only into an empty table; the caller holds the backend's table
/// lock, so a concurrent caller waits and then sees this row.
pub(crate) const INSERT_FIRST: &str = "\
INSERT INTO api_tokens (id, name, role, token_hash, created_at)
SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM api_tokens)
RETURNING id, name, role, created_at, revoked_at";

/// The authentication lookup: one probe of the unique `token_hash` index.
/// A revoked token is not returned.
pub(crate) const BY_HASH: &str = "\
SELECT id, name, role, created_at, revoked_at FROM api_tokens
WHERE token_hash = $1 AND revoked_at IS NULL";

pub(crate) const BY_ID: &str = "\
SELECT id, name, role, created_at, revoked_at FROM api_tokens WHERE id = $1";

pub(crate) const LIST: &str = "\
SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, id";

/// Revokes a live token; an unknown or revoked one matches no row.
pub(crate) const REVOKE: &str = "\
UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
RETURNING id, name, role, created_at, revoked_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    id: String,
    name: String,
    role: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<ApiTokenRow> for ApiTokenRecord {
    fn from(row: ApiTokenRow) -> Self {
        ApiTokenRecord {
            id: row.id,
            name: row.name,
            role: row.role,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Turns the constraint violations of an insert into the refusal they mean
/// (the database already rolled the statement back); other errors pass.
pub(crate) fn insert_error(error: sqlx::Error, role: &str) -> crate::Error {
    use sqlx::error::ErrorKind;
    if let sqlx::Error::Database(db) = &error {
        match db.kind() {
            ErrorKind::UniqueViolation => {
                // PostgreSQL names the constraint (`api_tokens_token_hash_key`),
                // SQLite the column in its message (`api_tokens.token_hash`).
                let on_hash = db.constraint().is_some_and(|c| c.contains("token_hash"))
                    || db.message().contains("token_hash");
                let what = if on_hash { "hash" } else { "id" };
                return ApiTokenRefused::Duplicate { what }.into();
            }
            ErrorKind::CheckViolation => {
                return ApiTokenRefused::InvalidRole(role.to_owned()).into();
            }
            _ => {}
        }
    }
    error.into()
}

/// Generates the API token operations for one backend's connection type.
/// `$lock` (an `Option<&'static str>`) is the statement that serialises
/// first-token creation on the backend: `None` where the transaction itself
/// already does, as SQLite's `BEGIN IMMEDIATE` on its single writer.
macro_rules! api_token_queries {
    ($conn:ty, $lock:expr) => {
        use $crate::api_token::{ApiTokenRecord, ApiTokenRefused, NewApiToken};
        use $crate::api_token_sql as aq;

        async fn insert(
            conn: &mut $conn,
            sql: &'static str,
            new: &NewApiToken,
        ) -> $crate::Result<Option<ApiTokenRecord>> {
            let row: Option<aq::ApiTokenRow> = sqlx::query_as(sql)
                .bind(&new.id)
                .bind(&new.name)
                .bind(&new.role)
                .bind(&new.token_hash)
                .bind(new.created_at)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| aq::insert_error(e, &new.role))?;
            Ok(row.map(ApiTokenRecord::from))
        }

        /// Stores a token.
        pub(crate) async fn create(
            conn: &mut $conn,
            new: &NewApiToken,
        ) -> $crate::Result<ApiTokenRecord> {
            insert(conn, aq::INSERT, new).await?.ok_or_else(|| {
                // An INSERT ... RETURNING without a WHERE returns its row or fails.
                $crate::Error::Database(sqlx::Error::RowNotFound)
            })
        }

        /// Inside the caller's transaction: stores the token only if the
        /// table is empty.
        pub(crate) async fn create_first(
            conn: &mut $conn,
            new: &NewApiToken,
        ) -> $crate::Result<Option<ApiTokenRecord>> {
            let lock: Option<&'static str> = $lock;
            if let Some(lock) = lock {
                sqlx::query(lock).execute(&mut *conn).await?;
            }
            insert(conn, aq::INSERT_FIRST, new).await
        }

        /// The live token with this hash.
        pub(crate) async fn by_hash(
            conn: &mut $conn,
            hash: &str,
        ) -> $crate::Result<Option<ApiTokenRecord>> {
            let row: Option<aq::ApiTokenRow> = sqlx::query_as(aq::BY_HASH)
                .bind(hash)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.map(ApiTokenRecord::from))
        }

        /// Every token, oldest first.
        pub(crate) async fn list(conn: &mut $conn) -> $crate::Result<Vec<ApiTokenRecord>> {
            let rows: Vec<aq::ApiTokenRow> = sqlx::query_as(aq::LIST).fetch_all(&mut *conn).await?;
            Ok(rows.into_iter().map(ApiTokenRecord::from).collect())
        }

        /// Revokes a live token; an unknown or revoked one is refused and
        /// nothing is written (the UPDATE matched no row).
        pub(crate) async fn revoke(
            conn: &mut $conn,
            id: &str,
            now: i64,
        ) -> $crate::Result<ApiTokenRecord> {
            let row: Option<aq::ApiTokenRow> = sqlx::query_as(aq::REVOKE)
                .bind(id)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(row) = row {
                return Ok(row.into());
            }
            let existing: Option<aq::ApiTokenRow> = sqlx::query_as(aq::BY_ID)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            let refused = match existing.map(ApiTokenRecord::from) {
                Some(ApiTokenRecord {
                    revoked_at: Some(revoked_at),
                    ..
                }) => ApiTokenRefused::AlreadyRevoked {
                    id: id.to_owned(),
                    revoked_at,
                },
                // A live row here was created after the UPDATE ran: it did
                // not exist when the revocation was asked for.
                _ => ApiTokenRefused::Unknown(id.to_owned()),
            };
            Err(refused.into())
        }
    };
}

pub(crate) use api_token_queries;
