//! The one write connection of a SQLite store.
//!
//! SQLite admits one writer at a time, so the store keeps exactly one write
//! connection and hands it out behind an async mutex. It used to come from a
//! `sqlx` pool of one connection, but such a pool tests every connection on
//! its way back, before the next caller may have it: a task spawned to send
//! a ping to the connection's thread and wait for its answer. On the group
//! committer's path, where each commit waits for the one before, that
//! hand-back was about a quarter of a commit's time under load. A mutex
//! hands the connection on at once.
//!
//! What the pool's test guarded against, a caller cancelled while its
//! statements were still running, is handled here instead: a transaction
//! begun through `sqlx` rolls itself back when dropped unfinished, and one
//! begun inside a multi-statement query is marked by [`WriterGuard::opened`]
//! until [`WriterGuard::settled`]; the next holder of a still-marked
//! connection rolls it back first.

use std::ops::{Deref, DerefMut};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard};

use crate::{Error, Result};

/// The write connection, one holder at a time.
#[derive(Debug)]
pub(crate) struct Writer(Mutex<Held>);

#[derive(Debug)]
struct Held {
    /// `None` once [`Writer::close`] closed it.
    conn: Option<SqliteConnection>,
    /// A transaction begun by hand may still be open (see the module docs).
    unsettled: bool,
}

/// The write connection, held until dropped.
pub(crate) struct WriterGuard<'a>(MutexGuard<'a, Held>);

impl Writer {
    /// Opens the connection.
    pub(crate) async fn connect(options: &SqliteConnectOptions) -> Result<Writer, sqlx::Error> {
        let conn = options.connect().await?;
        Ok(Writer(Mutex::new(Held {
            conn: Some(conn),
            unsettled: false,
        })))
    }

    /// The connection, once no one else holds it, with no transaction open.
    /// An error once the store is closed.
    pub(crate) async fn acquire(&self) -> Result<WriterGuard<'_>> {
        let mut held = self.0.lock().await;
        let Held { conn, unsettled } = &mut *held;
        let conn = conn
            .as_mut()
            .ok_or(Error::Database(sqlx::Error::PoolClosed))?;
        if *unsettled {
            // A holder was cancelled between its BEGIN and its COMMIT. Its
            // statements have stopped (the connection runs one command at a
            // time, and this one comes after them); what they wrote is undone.
            // "No transaction is active" means the COMMIT had run: nothing to undo.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            *unsettled = false;
        }
        Ok(WriterGuard(held))
    }

    /// Closes the connection, once its holder (if any) lets go.
    pub(crate) async fn close(&self) {
        let conn = self.0.lock().await.conn.take();
        if let Some(conn) = conn
            && let Err(error) = conn.close().await
        {
            tracing::warn!(%error, "closing the SQLite write connection failed");
        }
    }
}

impl WriterGuard<'_> {
    /// Marks a transaction begun by hand (a `BEGIN` inside a query) as open,
    /// until [`settled`](Self::settled).
    pub(crate) fn opened(&mut self) {
        self.0.unsettled = true;
    }

    /// The hand-begun transaction ended: committed, or rolled back.
    pub(crate) fn settled(&mut self) {
        self.0.unsettled = false;
    }
}

impl Deref for WriterGuard<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        // `acquire` hands out a guard only over an open connection, and only
        // `close`, which needs the lock this guard holds, takes it away.
        self.0
            .conn
            .as_ref()
            .expect("a guard holds an open connection")
    }
}

impl DerefMut for WriterGuard<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        // As in `deref`.
        self.0
            .conn
            .as_mut()
            .expect("a guard holds an open connection")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn writer_with_table(dir: &tempfile::TempDir) -> Writer {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("writer.db"))
            .create_if_missing(true);
        let writer = Writer::connect(&options).await.expect("opens");
        let mut conn = writer.acquire().await.expect("acquires");
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut *conn)
            .await
            .expect("creates");
        drop(conn);
        writer
    }

    async fn rows(writer: &Writer) -> i64 {
        let mut conn = writer.acquire().await.expect("acquires");
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut *conn)
            .await
            .expect("counts")
    }

    #[tokio::test]
    async fn a_transaction_its_holder_left_open_is_rolled_back_for_the_next() {
        let dir = tempfile::tempdir().expect("temp dir");
        let writer = writer_with_table(&dir).await;
        {
            let mut conn = writer.acquire().await.expect("acquires");
            conn.opened();
            sqlx::query("BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
                .execute(&mut *conn)
                .await
                .expect("begins and inserts");
            // Dropped here without `settled`, as a cancelled commit would be.
        }
        let mut conn = writer.acquire().await.expect("acquires");
        let tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .expect("no transaction is left open");
        tx.rollback().await.expect("rolls back");
        drop(conn);
        assert_eq!(rows(&writer).await, 0, "the unsettled insert was undone");
    }

    #[tokio::test]
    async fn a_settled_transaction_stays_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let writer = writer_with_table(&dir).await;
        {
            let mut conn = writer.acquire().await.expect("acquires");
            conn.opened();
            sqlx::query("BEGIN IMMEDIATE; INSERT INTO t VALUES (1); COMMIT")
                .execute(&mut *conn)
                .await
                .expect("commits");
            conn.settled();
        }
        // Marked open but committed all the same (cancelled after COMMIT ran):
        // the next holder's ROLLBACK finds nothing to undo.
        {
            let mut conn = writer.acquire().await.expect("acquires");
            conn.opened();
            sqlx::query("BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT")
                .execute(&mut *conn)
                .await
                .expect("commits");
        }
        assert_eq!(rows(&writer).await, 2);
    }

    #[tokio::test]
    async fn a_closed_writer_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().expect("temp dir");
        let writer = writer_with_table(&dir).await;
        writer.close().await;
        assert!(matches!(
            writer.acquire().await,
            Err(Error::Database(sqlx::Error::PoolClosed))
        ));
        writer.close().await;
    }
}
