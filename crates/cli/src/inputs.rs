//! Turns the paths on a command line into the scripts to work on.
//!
//! A path is a `.bas` file, a `<bot>.gbai` package, or a folder of packages.
//! Each script comes with the bot names of the deployment it belongs to, so the
//! checker can tell a `BOT "name"` that no package provides:
//! - a folder of packages: its packages;
//! - a package, or a script in `<x>.gbai/<x>.gbdialog/`: the packages of the
//!   folder that holds the package (its deployment);
//! - any other script: unknown (`None`), and bot names are not checked.
//!
//! Only the names are read to learn the deployment, not every package: a broken
//! sibling package must not stop a script from being checked.
//!
//! A path that cannot be used at all is a [`UsageError`] (exit code 2). A
//! package that is broken inside (no `.gbdialog`, an unreadable folder) is a
//! [`Problem`]: it is reported like a diagnostic and the other inputs are still
//! processed.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::UsageError;

/// One script to check or format.
#[derive(Debug)]
pub struct Input {
    pub path: PathBuf,
    /// The deployment's bot names (lower case), when the script is part of one.
    pub known_bots: Option<BTreeSet<String>>,
}

/// A package-level error found while looking for scripts.
#[derive(Debug)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

/// Everything found under the command line's paths, in command-line order.
#[derive(Debug, Default)]
pub struct Inputs {
    pub scripts: Vec<Input>,
    pub problems: Vec<Problem>,
}

/// Finds the scripts named by `paths`. Fails only when a path itself is unusable.
pub fn collect(paths: &[PathBuf]) -> Result<Inputs, UsageError> {
    let mut inputs = Inputs::default();
    let mut seen = HashSet::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| {
            UsageError(format!(
                "cannot read {}: {}",
                path.display(),
                io_reason(&error)
            ))
        })?;
        if metadata.is_file() {
            if !bots::layout::is_script_file(path) {
                return Err(not_usable(path));
            }
            // Open it now so that an unreadable file on the command line is a usage error.
            std::fs::File::open(path).map_err(|error| {
                UsageError(format!(
                    "cannot read {}: {}",
                    path.display(),
                    io_reason(&error)
                ))
            })?;
            push(&mut inputs, &mut seen, path.clone(), lone_script_bots(path));
        } else if metadata.is_dir() && bots::layout::package_name(path).is_some() {
            let known_bots = parent_folder(path).and_then(|folder| deployment_names(&folder));
            add_package(&mut inputs, &mut seen, path, known_bots);
        } else if metadata.is_dir() {
            let packages =
                bots::layout::find_packages(path).map_err(|error| UsageError(error.to_string()))?;
            if packages.is_empty() {
                return Err(UsageError(
                    bots::Error::NoPackages { path: path.clone() }.to_string(),
                ));
            }
            let names = names_of(&packages);
            for package in &packages {
                add_package(&mut inputs, &mut seen, package, Some(names.clone()));
            }
        } else {
            return Err(not_usable(path));
        }
    }
    Ok(inputs)
}

fn not_usable(path: &Path) -> UsageError {
    UsageError(format!(
        "{} is not a .bas file, a .gbai package or a folder of .gbai packages",
        path.display()
    ))
}

fn add_package(
    inputs: &mut Inputs,
    seen: &mut HashSet<PathBuf>,
    package: &Path,
    known_bots: Option<BTreeSet<String>>,
) {
    let known_bots = known_bots.or_else(|| Some(names_of(&[package.to_path_buf()])));
    let scripts =
        bots::layout::dialog_dir(package).and_then(|dialog| bots::layout::script_files(&dialog));
    match scripts {
        Ok(scripts) => {
            for script in scripts {
                push(inputs, seen, script, known_bots.clone());
            }
        }
        Err(error) => inputs.problems.push(Problem {
            path: error.path().to_path_buf(),
            message: error.to_string(),
        }),
    }
}

fn push(
    inputs: &mut Inputs,
    seen: &mut HashSet<PathBuf>,
    path: PathBuf,
    known_bots: Option<BTreeSet<String>>,
) {
    // The same file named twice (`check a.bas a.bas`, or a file and its package) is done once.
    let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    if seen.insert(identity) {
        inputs.scripts.push(Input { path, known_bots });
    }
}

/// The deployment of a script in `<x>.gbai/<x>.gbdialog/`, if it is in one.
fn lone_script_bots(script: &Path) -> Option<BTreeSet<String>> {
    let script = std::fs::canonicalize(script).ok()?;
    let dialog = script.parent()?;
    let package = dialog.parent()?;
    let name = bots::layout::package_name(package)?;
    let dialog_name = dialog.file_name()?.to_str()?;
    if !dialog_name.eq_ignore_ascii_case(&format!("{name}.gbdialog")) {
        return None;
    }
    deployment_names(package.parent()?)
}

/// The bot names of the packages in `folder`.
fn deployment_names(folder: &Path) -> Option<BTreeSet<String>> {
    let packages = bots::layout::find_packages(folder).ok()?;
    Some(names_of(&packages))
}

fn names_of(packages: &[PathBuf]) -> BTreeSet<String> {
    packages
        .iter()
        .filter_map(|p| bots::layout::package_name(p))
        .map(str::to_lowercase)
        .collect()
}

/// The folder holding `path`, also for a relative path with one component.
fn parent_folder(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path)
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

/// An I/O error's reason without the "(os error 2)" suffix people do not need.
pub fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}
