//! The loader's errors. Every variant names the path it is about, so a message
//! always tells the user which file or folder to look at.

use std::path::PathBuf;

/// Why a package or a deployment could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read (missing, no permission, ...).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The path is not a `.gbai` package folder.
    #[error("{} is not a bot package: expected a folder named `<bot>.gbai`", path.display())]
    NotAPackage { path: PathBuf },

    /// A folder holds no `.gbai` packages.
    #[error(
        "{} holds no bot packages: expected folders named `<bot>.gbai` (or a `.gbai` folder itself)",
        path.display()
    )]
    NoPackages { path: PathBuf },

    /// A package has no `<name>.gbdialog` folder for its scripts.
    #[error("{} has no scripts folder: expected {}{}", path.display(), expected.display(), found_note(found))]
    MissingDialog {
        /// The package folder.
        path: PathBuf,
        /// The folder that was looked for.
        expected: PathBuf,
        /// A `.gbdialog` folder with another name, if the package has one.
        found: Option<PathBuf>,
    },

    /// A text file (script, `config.csv`, `PROMPT.md`) is not valid UTF-8.
    #[error("{} is not valid UTF-8 (invalid byte at offset {offset}); save it as UTF-8", path.display())]
    InvalidUtf8 {
        path: PathBuf,
        /// The byte offset of the first invalid byte.
        offset: usize,
    },

    /// A file is larger than the loader accepts.
    #[error("{} is {size} bytes, more than the limit of {limit} bytes", path.display())]
    FileTooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    /// Two packages whose names differ only in case: bot names ignore case.
    #[error("{} and {} name the same bot (bot names ignore case)", path.display(), other.display())]
    DuplicatePackage { path: PathBuf, other: PathBuf },
}

fn found_note(found: &Option<PathBuf>) -> String {
    match found {
        Some(found) => format!(" (found {}; rename it)", found.display()),
        None => String::new(),
    }
}

impl Error {
    /// The file or folder the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Error::Io { path, .. }
            | Error::NotAPackage { path }
            | Error::NoPackages { path }
            | Error::MissingDialog { path, .. }
            | Error::InvalidUtf8 { path, .. }
            | Error::FileTooLarge { path, .. }
            | Error::DuplicatePackage { path, .. } => path,
        }
    }
}
