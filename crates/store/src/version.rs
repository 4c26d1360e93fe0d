//! [`schema_version`]: what `botflow migrate` reports before and after it
//! migrates, read without migrating or creating anything.

use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::{Error, Result};

/// The schema version recorded in the database at `url` (a `postgres://`
/// URL, `sqlite://PATH`, `sqlite:PATH` or a file path), or `None` for a
/// database botflow never opened (or a SQLite file that does not exist: it
/// is not created). Nothing is written.
pub async fn schema_version(url: &str) -> Result<Option<i64>> {
    let value: Option<String> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut conn = PgConnection::connect(url).await?;
            let has_meta: bool = sqlx::query_scalar("SELECT to_regclass('meta') IS NOT NULL")
                .fetch_one(&mut conn)
                .await?;
            let value = if has_meta {
                sqlx::query_scalar("SELECT value FROM meta WHERE key = 'schema_version'")
                    .fetch_optional(&mut conn)
                    .await?
            } else {
                None
            };
            conn.close().await?;
            value
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            if path.is_empty() || path.contains("://") {
                return Err(Error::UnsupportedUrl(crate::redact_url(url)));
            }
            if !Path::new(path).is_file() {
                return Ok(None);
            }
            let options = SqliteConnectOptions::new().filename(path).read_only(true);
            let mut conn = SqliteConnection::connect_with(&options).await?;
            let has_meta: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            )
            .fetch_one(&mut conn)
            .await?;
            let value = if has_meta > 0 {
                sqlx::query_scalar("SELECT value FROM meta WHERE key = 'schema_version'")
                    .fetch_optional(&mut conn)
                    .await?
            } else {
                None
            };
            conn.close().await?;
            value
        };
    value
        .map(|v| v.parse().map_err(|_| Error::InvalidSchemaVersion(v)))
        .transpose()
}
