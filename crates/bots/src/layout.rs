//! Where things are in a `.gbai` package, and how its files are read.
//!
//! ```text
//! <name>.gbai/
//!   <name>.gbdialog/*.bas     scripts
//!   <name>.gbot/config.csv    settings
//!   <name>.gbot/PROMPT.md     system prompt (or <name>.gbai/PROMPT.md)
//!   <name>.gbkb/ ...          knowledge folders, ignored
//! ```
//!
//! These functions are public so that tools which walk packages file by file
//! (`botflow check` reports every broken script rather than stopping at the
//! first) find exactly the files the loader would load. Names of package
//! parts are matched exactly first, then ignoring case, because packages are
//! often written on file systems that ignore case.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Error;

/// The largest script the loader reads (8 MiB).
pub const MAX_SCRIPT_BYTES: u64 = 8 * 1024 * 1024;

/// The largest `config.csv` or `PROMPT.md` the loader reads (8 MiB).
pub const MAX_TEXT_BYTES: u64 = 8 * 1024 * 1024;

const PACKAGE_EXT: &str = ".gbai";
const DIALOG_EXT: &str = ".gbdialog";
const BOT_EXT: &str = ".gbot";

/// The bot name of a package folder: `Support.gbai` → `Some("Support")`.
/// `None` when the final path component does not end in `.gbai` (any case)
/// or the name before it is empty.
pub fn package_name(path: &Path) -> Option<&str> {
    let file_name = path.file_name()?.to_str()?;
    let stem = strip_suffix_ignore_case(file_name, PACKAGE_EXT)?;
    (!stem.is_empty()).then_some(stem)
}

/// Whether `path` is a folder whose name ends in `.gbai`.
pub fn is_package_dir(path: &Path) -> bool {
    package_name(path).is_some() && path.is_dir()
}

/// The package folders directly inside `folder`, sorted by path.
/// Hidden entries are skipped. Fails only when `folder` cannot be listed;
/// an empty result is the caller's to judge.
pub fn find_packages(folder: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut packages = Vec::new();
    for entry in read_dir(folder)? {
        let path = entry.path();
        let hidden = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with('.'));
        if !hidden && is_package_dir(&path) {
            packages.push(path);
        }
    }
    packages.sort();
    Ok(packages)
}

/// The `<name>.gbdialog` folder of the package at `package`.
pub fn dialog_dir(package: &Path) -> Result<PathBuf, Error> {
    let name = package_name(package).ok_or_else(|| Error::NotAPackage {
        path: package.into(),
    })?;
    let wanted = format!("{name}{DIALOG_EXT}");
    if let Some(found) = find_child(package, &wanted, true)? {
        return Ok(found);
    }
    // Name the folder that is there, if any: a renamed package is the usual cause.
    let found = read_dir(package)?
        .into_iter()
        .map(|entry| entry.path())
        .find(|path| {
            path.is_dir()
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| strip_suffix_ignore_case(n, DIALOG_EXT).is_some())
        });
    Err(Error::MissingDialog {
        path: package.into(),
        expected: package.join(wanted),
        found,
    })
}

/// The `<name>.gbot` folder of the package at `package`, if it has one.
pub fn bot_dir(package: &Path) -> Result<Option<PathBuf>, Error> {
    let name = package_name(package).ok_or_else(|| Error::NotAPackage {
        path: package.into(),
    })?;
    find_child(package, &format!("{name}{BOT_EXT}"), true)
}

/// The `.bas` files directly inside a `.gbdialog` folder, sorted by path.
pub fn script_files(dialog: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut scripts: Vec<PathBuf> = read_dir(dialog)?
        .into_iter()
        .map(|entry| entry.path())
        .filter(|path| is_script_file(path) && path.is_file())
        .collect();
    scripts.sort();
    Ok(scripts)
}

/// Whether the path names a `.bas` script (by its extension, any case).
pub fn is_script_file(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("bas"))
}

/// The child of `dir` named `name`, matched exactly first and then ignoring case.
pub(crate) fn find_child(dir: &Path, name: &str, want_dir: bool) -> Result<Option<PathBuf>, Error> {
    let exact = dir.join(name);
    if exact.exists() && exact.is_dir() == want_dir {
        return Ok(Some(exact));
    }
    let mut matches: Vec<PathBuf> = read_dir(dir)?
        .into_iter()
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() == want_dir)
        .collect();
    matches.sort();
    Ok(matches.into_iter().next())
}

/// Reads a file of at most `limit` bytes.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io {
        path: path.into(),
        source,
    };
    let file = fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(Error::FileTooLarge {
            path: path.into(),
            size,
            limit,
        });
    }
    // The file may grow between the size check and the read: never read past the limit.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(Error::FileTooLarge {
            path: path.into(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Reads a UTF-8 text file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, Error> {
    let bytes = read_limited(path, limit)?;
    String::from_utf8(bytes).map_err(|error| Error::InvalidUtf8 {
        path: path.into(),
        offset: error.utf8_error().valid_up_to(),
    })
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, Error> {
    let io = |source| Error::Io {
        path: dir.into(),
        source,
    };
    fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let split = text.len().checked_sub(suffix.len())?;
    let tail = text.get(split..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..split])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_come_from_the_folder_name() {
        assert_eq!(
            package_name(Path::new("bots/Support.gbai")),
            Some("Support")
        );
        assert_eq!(package_name(Path::new("x.GBAI")), Some("x"));
        assert_eq!(package_name(Path::new("a/.gbai")), None);
        assert_eq!(package_name(Path::new("a/support")), None);
        assert_eq!(package_name(Path::new("a/support.gbai.bak")), None);
    }

    #[test]
    fn scripts_are_recognised_by_extension() {
        assert!(is_script_file(Path::new("a/start.bas")));
        assert!(is_script_file(Path::new("a/START.BAS")));
        assert!(!is_script_file(Path::new("a/start.bas.orig")));
        assert!(!is_script_file(Path::new("a/bas")));
    }
}
