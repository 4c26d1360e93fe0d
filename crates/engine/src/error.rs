//! The engine's errors: programs that cannot compile, and misuse of the
//! run API. Errors *inside* a run are data ([`crate::ErrorValue`]), not these.

/// Why a program cannot be compiled. `at` is a byte offset into the source.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The tree holds a line the parser could not read.
    #[error("the script has a syntax error (at byte {at}); run `botflow check`")]
    ParseError { at: u32 },
    /// `GOTO` or `ON ERROR GOTO` names a label the script does not have.
    #[error("there is no label `{label}` to go to (at byte {at})")]
    MissingLabel { label: String, at: u32 },
    /// `CALL name` of a procedure the script does not define.
    #[error("there is no SUB or FUNCTION `{name}` in this script (at byte {at})")]
    UnknownProcedure { name: String, at: u32 },
    /// Two procedures with the same name.
    #[error("the procedure `{name}` is defined twice (at byte {at})")]
    DuplicateProcedure { name: String, at: u32 },
    /// `EXIT FOR` / `CONTINUE DO` outside a loop of that kind.
    #[error("EXIT or CONTINUE outside a loop of its kind (at byte {at})")]
    LoopControlOutsideLoop { at: u32 },
    /// An assignment to something that is not a variable, field or index.
    #[error("only a variable, a field or an index can be assigned (at byte {at})")]
    InvalidTarget { at: u32 },
}

/// Misuse of the run API by the caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// [`crate::resume`] with an answer for a request the run is not waiting on.
    #[error("the run is not waiting on request {request}")]
    UnknownRequest { request: u64 },
    /// [`crate::resume`] on a run that has finished.
    #[error("the run has finished")]
    Finished,
    /// The state does not fit the program (a pc out of range): another program's state.
    #[error("the run state does not belong to this program")]
    StateMismatch,
}
