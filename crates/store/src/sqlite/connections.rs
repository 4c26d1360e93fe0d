//! The connections of a SQLite store: one writer, a few readers.
//!
//! SQLite admits one writer at a time, so the store keeps exactly one write
//! connection; reads run beside it on their own connections (WAL). Each
//! connection is handed out behind an async mutex ([`Connections`]), not by
//! a `sqlx` pool: such a pool tests every connection on its way back, before
//! the next caller may have it (a task spawned to send a ping to the
//! connection's thread and wait for its answer). On the group committer's
//! path, where each commit waits for the one before, that hand-back was about
//! a quarter of a commit's time under load; on the readers, a spawned task
//! and two thread wake-ups per read. A mutex hands a connection on at once.
//!
//! What the pool's test guarded against, a caller cancelled while its
//! statements were still running, is handled here instead: a transaction
//! begun through `sqlx` rolls itself back when dropped unfinished, and one
//! begun inside a multi-statement query is marked by [`Held::opened`]
//! until [`Held::settled`]; the next holder of a still-marked connection
//! rolls it back first. A cancelled read leaves nothing: the connection runs
//! one command at a time, so the next holder's statements follow it.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard, Semaphore, SemaphorePermit};

use crate::{Error, Result};

/// The most connections a [`Connections`] holds: each is a thread of its
/// own, and SQLite runs one writer at a time whatever the readers.
pub(crate) const MAX_CONNECTIONS: usize = 64;

/// A fixed set of connections to one database, each opened when first
/// needed and held by one caller at a time.
#[derive(Debug)]
pub(crate) struct Connections {
    options: SqliteConnectOptions,
    slots: Vec<Mutex<Slot>>,
    /// One per slot: a caller with a permit always finds a slot free, since
    /// every holder has one permit and one slot, and lets go of the slot first.
    permits: Semaphore,
    /// Where the next search for a free slot starts.
    next: AtomicUsize,
}

#[derive(Debug, Default)]
struct Slot {
    conn: Option<SqliteConnection>,
    /// A transaction begun by hand may still be open (see the module docs).
    unsettled: bool,
}

/// One connection, held until dropped.
pub(crate) struct Held<'a> {
    // Declared before the permit, so dropped before it (see `permits`).
    slot: MutexGuard<'a, Slot>,
    _permit: SemaphorePermit<'a>,
}

impl Connections {
    /// `count` connections (at least one, at most [`MAX_CONNECTIONS`])
    /// opened with `options` as they are first needed.
    pub(crate) fn new(options: SqliteConnectOptions, count: usize) -> Connections {
        let count = count.clamp(1, MAX_CONNECTIONS);
        Connections {
            options,
            slots: (0..count).map(|_| Mutex::default()).collect(),
            permits: Semaphore::new(count),
            next: AtomicUsize::new(0),
        }
    }

    /// A free connection, or the first to come free, opened if it was not
    /// yet, with no transaction open. An error once closed.
    pub(crate) async fn acquire(&self) -> Result<Held<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_closed| Error::Database(sqlx::Error::PoolClosed))?;
        let count = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        let mut slot = (0..count)
            .find_map(|i| self.slots[(start + i) % count].try_lock().ok())
            // See `permits`: with a permit in hand, some slot is free.
            .expect("a permit leaves a slot free");
        let Slot { conn, unsettled } = &mut *slot;
        let conn = match conn {
            Some(conn) => conn,
            None => conn.insert(self.options.connect().await?),
        };
        if *unsettled {
            // A holder was cancelled between its BEGIN and its COMMIT. Its
            // statements have stopped (the connection runs one command at a
            // time, and this one comes after them); what they wrote is undone.
            // "No transaction is active" means the COMMIT had run: nothing to undo.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            *unsettled = false;
        }
        Ok(Held {
            slot,
            _permit: permit,
        })
    }

    /// Closes every connection once its holder (if any) lets go; later
    /// acquires are refused.
    pub(crate) async fn close(&self) {
        // Every permit, so that no one holds a slot; then no one can again.
        // (Already closed: the permits are refused and the slots are empty.)
        let count = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        let all = self.permits.acquire_many(count).await;
        self.permits.close();
        for slot in &self.slots {
            let conn = slot.lock().await.conn.take();
            if let Some(conn) = conn
                && let Err(error) = conn.close().await
            {
                tracing::warn!(%error, "closing a SQLite connection failed");
            }
        }
        drop(all);
    }
}

impl Held<'_> {
    /// Marks a transaction begun by hand (a `BEGIN` inside a query) as open,
    /// until [`settled`](Self::settled).
    pub(crate) fn opened(&mut self) {
        self.slot.unsettled = true;
    }

    /// The hand-begun transaction ended: committed, or rolled back.
    pub(crate) fn settled(&mut self) {
        self.slot.unsettled = false;
    }
}

impl Deref for Held<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        // `acquire` hands out a slot only with its connection open, and only
        // `close`, which needs the lock this guard holds, takes it away.
        self.slot
            .conn
            .as_ref()
            .expect("a held slot has an open connection")
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        // As in `deref`.
        self.slot
            .conn
            .as_mut()
            .expect("a held slot has an open connection")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn writer_with_table(dir: &tempfile::TempDir) -> Connections {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("writer.db"))
            .create_if_missing(true);
        let writer = Connections::new(options, 1);
        let mut conn = writer.acquire().await.expect("acquires");
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut *conn)
            .await
            .expect("creates");
        drop(conn);
        writer
    }

    /// Runs `sql` (which begins a transaction) as a hand-begun transaction,
    /// marked open and never settled, as a commit cancelled at its end would be.
    async fn unsettled(writer: &Connections, sql: &'static str) {
        let mut conn = writer.acquire().await.expect("acquires");
        conn.opened();
        sqlx::query(sql).execute(&mut *conn).await.expect("runs");
    }

    async fn rows(writer: &Connections) -> i64 {
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
        unsettled(&writer, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1)").await;
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
        unsettled(&writer, "BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT").await;
        assert_eq!(rows(&writer).await, 2);
    }

    #[tokio::test]
    async fn each_holder_has_a_connection_and_a_waiter_gets_whichever_comes_free() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("readers.db"))
            .create_if_missing(true);
        let readers = Connections::new(options, 2);
        let first = readers.acquire().await.expect("acquires");
        let second = readers.acquire().await.expect("a second connection");
        let third = readers.acquire();
        tokio::pin!(third);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), &mut third).await;
        assert!(waited.is_err(), "both connections are held");
        // Whichever is let go first serves the waiter, whatever slot it tried first.
        drop(second);
        let third = tokio::time::timeout(std::time::Duration::from_secs(10), third)
            .await
            .expect("the freed connection serves the waiter")
            .expect("acquires");
        drop((first, third));
        readers.close().await;
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
