//! Hot reload of the bots folder (`botflow serve`).
//!
//! A [`Watcher`] looks at the folder every [`Reload::interval`]: the size and
//! modification time of every file the loader reads (each package's scripts,
//! `config.csv`, `PROMPT.md`, and the list of packages). When that changes
//! it loads the folder again and checks every script the way `botflow check`
//! does. The new deployment is taken only if it brings no error that the
//! current one did not already have; otherwise each new error is logged
//! (`tracing`, level error, with its file, line and code) and the current
//! deployment stays. A script that is broken at start-up does not block later
//! reloads of the others.
//!
//! Taking a new deployment builds a new [`Runtime`] over the same store (see
//! [`Reload::make_runtime`]) and swaps it in for new requests and a new worker
//! loop; the previous worker stops claiming and lets its drivers reach their
//! next stop. Runs are pinned to the program they started with (the store
//! keeps every program by its source hash), so a run in flight finishes with
//! its old script, and new runs take the new one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bots::Deployment;
use runtime::Runtime;

/// Builds the runtime of a newly loaded deployment (over the server's store,
/// with the server's options and node id).
pub type MakeRuntime = Arc<dyn Fn(Deployment) -> Runtime + Send + Sync>;

/// How [`serve_with`](crate::serve_with) reloads the bots folder.
#[derive(Clone)]
pub struct Reload {
    /// The bots folder (a folder of `.gbai` packages, or one package).
    pub folder: PathBuf,
    /// How often the folder is looked at.
    pub interval: Duration,
    /// Builds the runtime of a new deployment.
    pub make_runtime: MakeRuntime,
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reload")
            .field("folder", &self.folder)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// One error that made a reload be refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// The script's path.
    pub file: String,
    /// 1-based line and column of the error.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The diagnostic code (`E007`, ...).
    pub code: String,
    /// The diagnostic's message.
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} {}",
            self.file, self.line, self.column, self.code, self.message
        )
    }
}

/// Why a changed bots folder was not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The folder does not load (a package without its dialog folder, two
    /// packages of one name, a file that cannot be read...).
    Load(String),
    /// Scripts have errors the current deployment did not have.
    Scripts(Vec<ScriptError>),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Load(message) => write!(f, "the bots folder does not load: {message}"),
            Refusal::Scripts(errors) => {
                write!(f, "{} error(s) in changed scripts", errors.len())?;
                if let Some(first) = errors.first() {
                    write!(f, ", first {first}")?;
                }
                Ok(())
            }
        }
    }
}

/// What one look at the folder found.
#[derive(Debug)]
pub enum Look {
    /// Nothing the loader reads changed.
    Unchanged,
    /// The folder is back to the deployment in use after a refused change.
    Restored,
    /// A new deployment, checked: take it.
    Changed(Box<Deployment>),
    /// The folder changed, but its new content is refused.
    Refused(Refusal),
}

/// What a file looked like at the last look: path, size, modification time.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// What a deployment serves: per package, its scripts' hashes, its config
/// and its prompt. Two deployments with the same digest behave the same.
type Digest = Vec<(String, Vec<(String, String)>, bots::Config, Option<String>)>;

fn digest(deployment: &Deployment) -> Digest {
    deployment
        .packages
        .iter()
        .map(|(key, package)| {
            let scripts = package
                .scripts
                .iter()
                .map(|(file, script)| (file.clone(), script.hash.clone()))
                .collect();
            (
                key.clone(),
                scripts,
                package.config.clone(),
                package.prompt.clone(),
            )
        })
        .collect()
}

/// Watches one bots folder by polling; see the module docs.
#[derive(Debug)]
pub struct Watcher {
    folder: PathBuf,
    /// The files at the last look; `None` before the first.
    seen: Option<Fingerprint>,
    /// What the deployment in use serves.
    current: Digest,
    /// Whether the last change was refused.
    refused: bool,
    /// The errors of the deployment in use: they do not block a reload.
    known_errors: BTreeSet<(String, String, String)>,
}

impl Watcher {
    /// A watcher of `folder`, whose deployment in use is `current`. Its
    /// first look loads the folder: files may have changed since `current`
    /// was loaded.
    pub fn new(folder: &Path, current: &Deployment) -> Watcher {
        Watcher {
            folder: folder.to_path_buf(),
            seen: None,
            current: digest(current),
            refused: false,
            known_errors: errors(current)
                .into_iter()
                .map(|e| (e.file, e.code, e.message))
                .collect(),
        }
    }

    /// Looks at the folder once (blocking file I/O: call it off the async
    /// threads). A refused change is reported once, not at every look.
    pub fn look(&mut self) -> Look {
        let now = fingerprint(&self.folder);
        if self.seen.as_ref() == Some(&now) {
            return Look::Unchanged;
        }
        self.seen = Some(now);
        let deployment = match load(&self.folder) {
            Ok(deployment) => deployment,
            Err(message) => {
                self.refused = true;
                return Look::Refused(Refusal::Load(message));
            }
        };
        let serves = digest(&deployment);
        // Touched, or changed and changed back: nothing to reload.
        if serves == self.current {
            return if std::mem::take(&mut self.refused) {
                Look::Restored
            } else {
                Look::Unchanged
            };
        }
        let found = errors(&deployment);
        let new: Vec<ScriptError> = found
            .iter()
            .filter(|e| {
                !self
                    .known_errors
                    .contains(&(e.file.clone(), e.code.clone(), e.message.clone()))
            })
            .cloned()
            .collect();
        self.refused = !new.is_empty();
        if self.refused {
            return Look::Refused(Refusal::Scripts(new));
        }
        self.known_errors = found
            .into_iter()
            .map(|e| (e.file, e.code, e.message))
            .collect();
        self.current = serves;
        Look::Changed(Box::new(deployment))
    }
}

/// Logs (level info) that a changed folder is in use.
pub(crate) fn log_applied(folder: &Path, deployment: &Deployment) {
    tracing::info!(
        folder = %folder.display(),
        workflows = deployment.workflows().len(),
        "the bots folder changed: new runs use the new scripts"
    );
}

/// Logs (level error) why a changed folder is refused: each error with its
/// file, line and code, then what happens.
pub(crate) fn log_refused(folder: &Path, refusal: &Refusal) {
    if let Refusal::Scripts(errors) = refusal {
        for error in errors {
            tracing::error!(
                file = %error.file,
                line = error.line,
                column = error.column,
                code = %error.code,
                "{}",
                error.message
            );
        }
    }
    tracing::error!(
        folder = %folder.display(),
        "the bots folder changed but is refused ({refusal}); the previous version stays in use"
    );
}

/// Loads the folder as `botflow serve` does at start-up: a folder with no
/// package at all is an empty deployment (runs of lone scripts only).
fn load(folder: &Path) -> Result<Deployment, String> {
    match bots::layout::find_packages(folder) {
        Ok(found) if found.is_empty() && bots::layout::package_name(folder).is_none() => {
            Ok(runtime::empty_deployment(folder))
        }
        _ => bots::load_deployment(folder).map_err(|e| e.to_string()),
    }
}

/// Every error diagnostic of every script, checked as `botflow check` and
/// `Runtime::check` do (the deployment's bots known, each package's config
/// parameters defined).
pub fn errors(deployment: &Deployment) -> Vec<ScriptError> {
    let known_bots = (!deployment.packages.is_empty()).then(|| deployment.bot_names());
    let mut out = Vec::new();
    for package in deployment.packages.values() {
        let variables: BTreeSet<String> = package
            .config
            .params()
            .iter()
            .map(|(k, _)| k.to_string())
            .collect();
        for script in package.scripts.values() {
            let parsed = basic::parse(&script.source);
            let context = basic::CheckContext {
                known_bots: known_bots.clone(),
                variables: variables.clone(),
            };
            let mut diagnostics = parsed.diagnostics;
            diagnostics.extend(basic::check(&parsed.program, &context));
            let index = basic::LineIndex::new(&script.source);
            for diagnostic in diagnostics.iter().filter(|d| d.is_error()) {
                let at = index.line_col(&script.source, diagnostic.span.start);
                out.push(ScriptError {
                    file: script.path.display().to_string(),
                    line: at.line,
                    column: at.column,
                    code: diagnostic.code.as_str().to_owned(),
                    message: diagnostic.message.clone(),
                });
            }
        }
    }
    out
}

/// The size and modification time of every file the loader reads, and the
/// package folders themselves (so added and removed packages count).
/// Knowledge folders (`.gbkb`) are not read by the loader and not looked at.
fn fingerprint(folder: &Path) -> Fingerprint {
    let mut out = Fingerprint::new();
    let packages = if bots::layout::package_name(folder).is_some() {
        vec![folder.to_path_buf()]
    } else {
        bots::layout::find_packages(folder).unwrap_or_default()
    };
    for package in packages {
        out.push((package.clone(), 0, None));
        for entry in entries(&package) {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase());
            if entry.is_dir() {
                if name.is_some_and(|n| n.ends_with(".gbkb")) {
                    continue;
                }
                for file in entries(&entry) {
                    push_file(&mut out, file);
                }
            } else {
                push_file(&mut out, entry);
            }
        }
    }
    out.sort();
    out
}

fn push_file(out: &mut Fingerprint, path: PathBuf) {
    if let Ok(meta) = std::fs::metadata(&path)
        && meta.is_file()
    {
        out.push((path, meta.len(), meta.modified().ok()));
    }
}

fn entries(folder: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(folder)
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}
