//! `Error::is_transient` on real database errors: a PostgreSQL deadlock and a
//! busy SQLite database may be retried; other errors may not. The group
//! commit on PostgreSQL retries batches the database aborted this way.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection};
use store::Error;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

async fn pg() -> Option<(PgConnection, PgConnection)> {
    let url = std::env::var("BOTFLOW_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let connect = || async {
        tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await
    };
    match (connect().await, connect().await) {
        (Ok(Ok(a)), Ok(Ok(b))) => Some((a, b)),
        _ => {
            assert!(!in_ci(), "PostgreSQL at {url} is unreachable and CI=true");
            eprintln!("notice: skipping the PostgreSQL deadlock test: {url} unreachable");
            None
        }
    }
}

#[tokio::test]
async fn a_postgres_deadlock_is_transient_and_a_syntax_error_is_not() {
    let table = format!("deadlock_{}", uuid::Uuid::now_v7().simple());
    let create = format!("CREATE TABLE {table} (id INT PRIMARY KEY, v INT)");
    let fill = format!("INSERT INTO {table} VALUES (1, 0), (2, 0)");
    let first_a = format!("UPDATE {table} SET v = 1 WHERE id = 1");
    let first_b = format!("UPDATE {table} SET v = 1 WHERE id = 2");
    let second_a = format!("UPDATE {table} SET v = 2 WHERE id = 2");
    let second_b = format!("UPDATE {table} SET v = 2 WHERE id = 1");
    let drop_table = format!("DROP TABLE {table}");
    let Some((mut a, mut b)) = pg().await else {
        return;
    };
    sqlx::query(AssertSqlSafe(create.as_str()))
        .execute(&mut a)
        .await
        .expect("create the table");
    sqlx::query(AssertSqlSafe(fill.as_str()))
        .execute(&mut a)
        .await
        .expect("insert rows");
    sqlx::query("BEGIN").execute(&mut a).await.expect("begin a");
    sqlx::query("BEGIN").execute(&mut b).await.expect("begin b");
    sqlx::query(AssertSqlSafe(first_a.as_str()))
        .execute(&mut a)
        .await
        .expect("a locks row 1");
    sqlx::query(AssertSqlSafe(first_b.as_str()))
        .execute(&mut b)
        .await
        .expect("b locks row 2");
    // Each now waits for the other's row: PostgreSQL aborts one of them.
    let (ra, rb) = tokio::join!(
        sqlx::query(AssertSqlSafe(second_a.as_str())).execute(&mut a),
        sqlx::query(AssertSqlSafe(second_b.as_str())).execute(&mut b)
    );
    let failure = match (ra, rb) {
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    assert!(
        Error::Database(failure).is_transient(),
        "a deadlock may be retried"
    );
    let _ = sqlx::query("ROLLBACK").execute(&mut a).await;
    let _ = sqlx::query("ROLLBACK").execute(&mut b).await;
    sqlx::query(AssertSqlSafe(drop_table.as_str()))
        .execute(&mut a)
        .await
        .expect("drop the table");

    let syntax = sqlx::query("SELEC 1")
        .execute(&mut a)
        .await
        .expect_err("not SQL");
    assert!(!Error::Database(syntax).is_transient());
}

#[tokio::test]
async fn a_busy_sqlite_database_is_transient() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("busy.db").display());
    let mut a = SqliteConnection::connect(&url).await.expect("open a");
    let mut b = SqliteConnection::connect(&url).await.expect("open b");
    a.execute("CREATE TABLE t (v INT)").await.expect("create");
    b.execute("PRAGMA busy_timeout = 0")
        .await
        .expect("no waiting");
    a.execute("BEGIN IMMEDIATE")
        .await
        .expect("a takes the write lock");
    let busy = b
        .execute("BEGIN IMMEDIATE")
        .await
        .expect_err("b finds it taken");
    assert!(
        Error::Database(busy).is_transient(),
        "SQLITE_BUSY may be retried"
    );
    a.execute("ROLLBACK").await.expect("rollback");
}
