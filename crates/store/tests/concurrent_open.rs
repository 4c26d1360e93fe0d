//! Several nodes starting together on one fresh PostgreSQL schema: the
//! start-up migrations do not race (sqlx's PostgreSQL migrator holds a
//! session advisory lock, `pg_advisory_lock`, keyed by the database name,
//! while it checks and applies migrations; see `sqlx-postgres`'s
//! `migrate.rs`), every open succeeds and each migration is applied once.
//! [`store::schema_version`] reads the version without migrating, and a
//! schema newer than this code is refused and left as it was.
//!
//! PostgreSQL comes from `BOTFLOW_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`); unreachable, the tests print a
//! notice and pass, unless `CI=true`.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use store::{AnyStore, Error, PostgresOptions, PostgresStore, SCHEMA_VERSION, schema_version};

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test database's URL, or `None` (after a notice) when it is unreachable.
async fn pg(test: &str) -> Option<String> {
    let url = std::env::var("BOTFLOW_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned());
    let why = match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await
    {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return Some(url);
        }
        Ok(Err(error)) => error.to_string(),
        Err(_) => "timed out after 5 s".to_owned(),
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "PostgreSQL at {url} is unreachable and CI=true: {why}");
    eprintln!("notice: skipping {test}: {url} unreachable: {why}");
    None
}

async fn exec(url: &str, sql: &str) {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .expect("the statement runs");
    conn.close().await.expect("the connection closes");
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("PostgreSQL answers");
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut conn)
        .await
        .expect("the query runs");
    conn.close().await.expect("the connection closes");
    n
}

/// `url` with the schema as its search path, as a user gives `--db`.
fn with_search_path(url: &str, schema: &str) -> String {
    let glue = if url.contains('?') { '&' } else { '?' };
    format!("{url}{glue}options=-c%20search_path%3D{schema}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_opening_a_fresh_schema_at_once_all_succeed_and_migrate_once() {
    let Some(url) = pg("concurrent open (schema option)").await else {
        return;
    };
    let schema = format!("c_{}", uuid::Uuid::now_v7().simple());
    let opens = (0..4).map(|_| {
        let url = url.clone();
        let schema = schema.clone();
        tokio::spawn(async move {
            let options = PostgresOptions {
                max_connections: 2,
                schema: Some(schema),
            };
            PostgresStore::open_with(&url, options).await
        })
    });
    let mut stores = Vec::new();
    for open in opens.collect::<Vec<_>>() {
        let opened = open.await.expect("the open task");
        stores.push(opened.expect("every concurrent open succeeds"));
    }
    let scoped = with_search_path(&url, &schema);
    assert_eq!(
        schema_version(&scoped).await.expect("the version reads"),
        Some(SCHEMA_VERSION)
    );
    let applied = count(
        &url,
        &format!("SELECT count(*) FROM {schema}._sqlx_migrations"),
    )
    .await;
    let distinct = count(
        &url,
        &format!("SELECT count(DISTINCT version) FROM {schema}._sqlx_migrations"),
    )
    .await;
    assert_eq!(applied, distinct, "each migration is recorded once");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("the migrations folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(
        usize::try_from(applied).ok(),
        Some(files),
        "every migration was applied"
    );
    println!("concurrent open: 4 nodes on a fresh schema, {applied} migrations applied once");
    for store in stores {
        store.close().await;
    }
    exec(&url, &format!("DROP SCHEMA {schema} CASCADE")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_opening_one_url_at_once_all_succeed_and_the_version_reads_without_migrating() {
    let Some(url) = pg("concurrent open (search_path URL)").await else {
        return;
    };
    let schema = format!("c_{}", uuid::Uuid::now_v7().simple());
    exec(&url, &format!("CREATE SCHEMA {schema}")).await;
    let scoped = with_search_path(&url, &schema);
    assert_eq!(
        schema_version(&scoped).await.expect("the version reads"),
        None,
        "a schema botflow never opened has no version"
    );
    assert_eq!(
        count(
            &url,
            &format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema}'"
            )
        )
        .await,
        0,
        "reading the version created nothing"
    );
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let scoped = scoped.clone();
            tokio::spawn(async move { AnyStore::open(&scoped).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        stores.push(
            open.await
                .expect("the open task")
                .expect("every concurrent open succeeds"),
        );
    }
    assert_eq!(
        schema_version(&scoped).await.expect("the version reads"),
        Some(SCHEMA_VERSION)
    );
    for store in stores {
        store.close().await;
    }

    // A newer botflow wrote this schema: it is refused and left as it was.
    exec(
        &url,
        &format!("UPDATE {schema}.meta SET value = '999' WHERE key = 'schema_version'"),
    )
    .await;
    let refused = AnyStore::open(&scoped).await;
    assert!(
        matches!(
            refused,
            Err(Error::SchemaTooNew {
                found: 999,
                supported: SCHEMA_VERSION
            })
        ),
        "a newer schema is refused: {refused:?}"
    );
    assert_eq!(
        schema_version(&scoped).await.expect("the version reads"),
        Some(999)
    );
    exec(&url, &format!("DROP SCHEMA {schema} CASCADE")).await;
}
