//! Gives each conformance test a fresh store: a SQLite file in a temporary
//! directory, or a freshly created PostgreSQL schema (so tests run in parallel).
//!
//! PostgreSQL comes from `BOTFLOW_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it is unreachable the test
//! prints a notice and passes, unless `CI=true`, where it fails.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use store::{
    AnyStore, DurablePoint, NewRun, PostgresOptions, PostgresStore, RunStatus, SqliteStore, Store,
};

/// The default PostgreSQL URL for tests.
pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Where a harness's database lives.
pub enum Place {
    /// A SQLite file; the directory is deleted when the harness drops.
    Sqlite {
        dir: tempfile::TempDir,
        path: PathBuf,
    },
    /// A schema of the test PostgreSQL database.
    Postgres { url: String, schema: String },
}

/// A fresh store and the means to inspect its database behind its back.
pub struct Harness {
    pub store: AnyStore,
    pub place: Place,
}

fn pg_url() -> String {
    std::env::var("BOTFLOW_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Opens a connection to the test PostgreSQL, or explains why not.
async fn pg_connection(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("timed out after 5 s".to_owned()),
    }
}

impl Harness {
    /// A store on a new SQLite file.
    pub async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let path = dir.path().join("botflow.db");
        let store = SqliteStore::open(&path)
            .await
            .expect("a new SQLite store opens");
        Harness {
            store: store.into(),
            place: Place::Sqlite { dir, path },
        }
    }

    /// A store on a new schema of the test PostgreSQL database, or `None` (after
    /// printing a notice) when it is unreachable outside CI.
    pub async fn postgres(test: &str) -> Option<Harness> {
        let url = pg_url();
        if let Err(why) = pg_connection(&url).await {
            assert!(
                !in_ci(),
                "PostgreSQL at {url} is unreachable and CI=true: {why}"
            );
            eprintln!("notice: skipping PostgreSQL test {test}: {url} unreachable: {why}");
            return None;
        }
        let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
        let options = PostgresOptions {
            max_connections: 4,
            schema: Some(schema.clone()),
        };
        let store = PostgresStore::open_with(&url, options)
            .await
            .expect("a new PostgreSQL store opens");
        Some(Harness {
            store: store.into(),
            place: Place::Postgres { url, schema },
        })
    }

    /// Opens the same database again, as a second process would.
    pub async fn reopen(&self) -> store::Result<AnyStore> {
        match &self.place {
            Place::Sqlite { path, .. } => Ok(SqliteStore::open(path).await?.into()),
            Place::Postgres { url, schema } => {
                let options = PostgresOptions {
                    max_connections: 2,
                    schema: Some(schema.clone()),
                };
                Ok(PostgresStore::open_with(url, options).await?.into())
            }
        }
    }

    /// Runs one SQL statement directly on the database.
    pub async fn exec(&self, sql: &str) {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .expect("the SQLite file opens");
                sqlx::query(AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .expect("the statement runs");
                conn.close().await.expect("the connection closes");
            }
            Place::Postgres { url, schema } => {
                let mut conn = pg_connection(url).await.expect("PostgreSQL is reachable");
                sqlx::query(AssertSqlSafe(format!("SET search_path TO {schema}")))
                    .execute(&mut conn)
                    .await
                    .expect("the schema exists");
                sqlx::query(AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .expect("the statement runs");
                conn.close().await.expect("the connection closes");
            }
        }
    }

    /// Reads one text value directly from the database.
    pub async fn text(&self, sql: &str) -> Option<String> {
        match &self.place {
            Place::Sqlite { path, .. } => {
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .expect("the SQLite file opens");
                let value: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_optional(&mut conn)
                    .await
                    .expect("the query runs");
                conn.close().await.expect("the connection closes");
                value
            }
            Place::Postgres { url, schema } => {
                let mut conn = pg_connection(url).await.expect("PostgreSQL is reachable");
                sqlx::query(AssertSqlSafe(format!("SET search_path TO {schema}")))
                    .execute(&mut conn)
                    .await
                    .expect("the schema exists");
                let value: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_optional(&mut conn)
                    .await
                    .expect("the query runs");
                conn.close().await.expect("the connection closes");
                value
            }
        }
    }

    /// Closes the store and drops the PostgreSQL schema.
    pub async fn finish(&self) {
        self.store.close().await;
        if let Place::Postgres { url, schema } = &self.place
            && let Ok(mut conn) = pg_connection(url).await
        {
            // Cleanup is best effort: a leftover schema harms no other test.
            let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}

/// The program every test run is pinned to.
pub const PROGRAM: &str = "prog-1";

/// A new running run of workflow `wf` created at `now`.
pub fn new_run(id: &str, now: i64) -> NewRun {
    NewRun {
        id: id.to_owned(),
        workflow: "wf".to_owned(),
        bot: "bot".to_owned(),
        program_hash: PROGRAM.to_owned(),
        status: RunStatus::Running,
        state: json!({"pc": 0}),
        input: json!({"case": id}),
        wake_at: None,
        parent_run: None,
        now,
    }
}

/// Creates a running run and claims it for `node`; returns its lease epoch.
pub async fn started_run(store: &AnyStore, id: &str) -> i64 {
    store
        .put_program(PROGRAM, "ORCHESTRATE WORKFLOW \"wf\"\nEND WORKFLOW\n")
        .await
        .expect("the program is stored");
    store
        .create_run(new_run(id, 1))
        .await
        .expect("the run is created");
    store
        .claim_run(id, "node", 10, 60_000)
        .await
        .expect("the claim runs")
        .expect("a new run can be claimed")
        .lease_epoch
}

/// An empty point that moves the run to `state`.
pub fn point(run: &str, epoch: i64, state: Value) -> DurablePoint {
    let mut point = DurablePoint::new(run, epoch, RunStatus::Running, 100);
    point.state = state.to_string();
    point
}
