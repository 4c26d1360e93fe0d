//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed an operation.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was written by a newer botflow; it was left untouched.
    #[error(
        "the database schema is version {found}, newer than this botflow supports ({supported}); \
         upgrade botflow to open it"
    )]
    SchemaTooNew {
        /// The version recorded in the database.
        found: i64,
        /// The newest version this code knows.
        supported: i64,
    },
    /// The `meta` table holds a schema version that is not a number.
    #[error("the database records an invalid schema version {0:?}")]
    InvalidSchemaVersion(String),
    /// The file exists but is not a usable SQLite database.
    #[error("{} is not a botflow SQLite database (or it is corrupt): {message}", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// A value is above [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES).
    #[error("{what} is {bytes} bytes, above the limit of {limit} bytes")]
    ValueTooLarge {
        /// Which value (`state`, `step 3 answer`, ...).
        what: String,
        /// Its size as JSON text.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A run refers to a program that was never stored.
    #[error("unknown program {0}: store it with put_program first")]
    UnknownProgram(String),
    /// A status column held a name this code does not know.
    #[error("unknown status {0:?} in the database")]
    UnknownStatus(String),
    /// A single pass's commit document could not be written as JSONB.
    #[error("cannot write a commit document as JSONB: {0}")]
    Jsonb(String),
    /// A JSON column held text that is not JSON.
    #[error("column {column} holds invalid JSON: {source}")]
    BadJson {
        /// The column.
        column: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The URL names no backend this store knows.
    #[error("unsupported database URL {0:?}: use sqlite://PATH, a file path, or postgres://...")]
    UnsupportedUrl(String),
    /// A decision on an approval request was refused; nothing was changed.
    #[error(transparent)]
    Refused(#[from] crate::approval::DecisionRefused),
    /// A schema name for PostgreSQL that is not a plain identifier.
    #[error("invalid schema name {0:?}: use letters, digits and _ only")]
    InvalidSchema(String),
    /// No run has this id.
    #[error("no run with id {0:?}")]
    UnknownRun(String),
    /// The run has ended: it takes no more messages.
    #[error("run {run} has ended ({status}); it takes no more messages")]
    RunEnded {
        /// The run.
        run: String,
        /// Its final status.
        status: String,
    },
    /// A schedule operation that would not move its schedule forward; nothing was written.
    #[error("{0}")]
    InvalidSchedule(String),
    /// An API token operation was refused; nothing was written.
    #[error(transparent)]
    ApiToken(#[from] crate::api_token::ApiTokenRefused),
}

impl Error {
    /// Whether the whole operation may simply be tried again: the database
    /// gave up on a transaction (a deadlock or a serialization failure in
    /// PostgreSQL, a busy or locked database in SQLite) and wrote nothing.
    pub fn is_transient(&self) -> bool {
        let Error::Database(sqlx::Error::Database(db)) = self else {
            return false;
        };
        matches!(
            db.code().as_deref(),
            // PostgreSQL: serialization_failure, deadlock_detected.
            Some("40001" | "40P01")
            // SQLite: SQLITE_BUSY, SQLITE_LOCKED (primary codes).
            | Some("5" | "6")
        )
    }
}

impl Error {
    /// Whether the database server could not be reached or would not take a
    /// session now (refused, timed out, connection lost, starting up or
    /// shutting down, too many connections): trying again later may work.
    /// A login the server refused (unknown user or database, wrong
    /// password) is not: it needs a different URL.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) => true,
            Error::Database(sqlx::Error::Database(db)) => matches!(
                db.code().as_deref(),
                // connection_exception and its kinds; admin_shutdown,
                // crash_shutdown, cannot_connect_now; too_many_connections.
                Some("08000" | "08001" | "08003" | "08006" | "57P01" | "57P02" | "57P03" | "53300")
            ),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Database(error)
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
