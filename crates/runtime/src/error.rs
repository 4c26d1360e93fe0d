//! The runtime's errors: what stops a run from being started or driven.
//! Errors *inside* a run (a bot that failed) are recorded on the run instead.

/// Everything that can go wrong while starting, driving or inspecting runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed; nothing of the operation was acknowledged.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The script has errors; it never starts (LANGUAGE.md §6).
    #[error("{file} has {} error(s); run `botflow check {file}`", count_errors(.diagnostics))]
    Check {
        /// The script's file.
        file: String,
        /// The script's source, for showing the diagnostics.
        source_text: String,
        /// Every diagnostic of the parser and the checker.
        diagnostics: Vec<basic::Diagnostic>,
    },
    /// The script parsed but cannot be compiled.
    #[error("{file}: {source}")]
    Compile {
        /// The script's file.
        file: String,
        /// Why.
        source: engine::CompileError,
    },
    /// No workflow of that name, or no single workflow to pick.
    #[error("{0}")]
    Workflow(String),
    /// A value over the store's size limit; nothing was written.
    #[error("{what} is {bytes} bytes, above the limit of {limit} bytes; nothing was written")]
    TooLarge {
        /// Which value.
        what: String,
        /// Its size as JSON text.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A run id that cannot be used (empty, too long, odd characters); nothing was written.
    #[error("the run id {id:?} cannot be used: {reason}")]
    InvalidRunId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The run's input is not a JSON object.
    #[error("the run's input must be a JSON object, not {0}")]
    InputNotObject(&'static str),
    /// No run with this id.
    #[error("there is no run with id {0:?}")]
    UnknownRun(String),
    /// The run's pinned program is not in the store.
    #[error("run {run}: its program {hash} is not in the store")]
    MissingProgram {
        /// The run.
        run: String,
        /// The program hash it is pinned to.
        hash: String,
    },
    /// The stored state cannot be read by this version of botflow.
    #[error("run {run}: the stored state cannot be read: {message}")]
    BadState {
        /// The run.
        run: String,
        /// What serde said.
        message: String,
    },
    /// The operation does not apply to the run as it stands.
    #[error("run {run}: {message}")]
    Conflict {
        /// The run.
        run: String,
        /// Why.
        message: String,
    },
    /// An approval link that is not a valid signed botflow link; nothing was changed.
    #[error("{0}")]
    BadLink(String),
    /// An approval decision names no request it can apply to; nothing was changed.
    #[error("{0}")]
    Approval(String),
    /// A group commit failed; nothing of its batch was written.
    #[error("committing a durable point failed: {0}")]
    Commit(String),
    /// An event that cannot be published (bad name, payload too large); nothing was written.
    #[error("{0}")]
    BadEvent(String),
    /// An API token request that cannot be carried out (a bad name, no
    /// randomness); nothing was stored.
    #[error("{0}")]
    ApiToken(String),
    /// The group committer has stopped (the runtime is shutting down).
    #[error("the runtime is shutting down")]
    Closed,
}

fn count_errors(diagnostics: &[basic::Diagnostic]) -> usize {
    diagnostics.iter().filter(|d| d.is_error()).count()
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
