//! A deployment: the folder of bot packages that one botflow serves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::layout;
use crate::package::{Package, WorkflowRef, load_package};

/// Every package of a deployment folder.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// The folder that was loaded (or the package folder itself, for a lone package).
    pub root: PathBuf,
    /// The packages by lower-case bot name.
    pub packages: BTreeMap<String, Package>,
}

impl Deployment {
    /// The package of bot `name`, ignoring case.
    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.get(&name.to_lowercase())
    }

    /// The lower-case names of every bot: the checker's `known_bots`.
    pub fn bot_names(&self) -> BTreeSet<String> {
        self.packages.keys().cloned().collect()
    }

    /// Every workflow of every package, in package-name then script order.
    pub fn workflows(&self) -> Vec<(&Package, WorkflowRef)> {
        self.packages
            .values()
            .flat_map(|package| package.workflows().into_iter().map(move |w| (package, w)))
            .collect()
    }

    /// The workflow named `name` (exactly, else ignoring case) and its package.
    /// When several packages declare it, the first by package name wins.
    pub fn find_workflow(&self, name: &str) -> Option<(&Package, WorkflowRef)> {
        let workflows = self.workflows();
        let exact = workflows.iter().position(|(_, w)| w.name == name);
        let index = exact.or_else(|| {
            workflows
                .iter()
                .position(|(_, w)| w.name.to_lowercase() == name.to_lowercase())
        })?;
        workflows.into_iter().nth(index)
    }
}

/// Loads a deployment: every `<bot>.gbai` folder directly inside `path`, or
/// `path` itself when it is a package. Fails on the first package that does
/// not load, naming the file at fault.
pub fn load_deployment(path: &Path) -> Result<Deployment, Error> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(Error::NoPackages { path: path.into() });
    }
    let package_dirs = if layout::package_name(path).is_some() {
        vec![path.to_path_buf()]
    } else {
        layout::find_packages(path)?
    };
    if package_dirs.is_empty() {
        return Err(Error::NoPackages { path: path.into() });
    }
    let mut packages: BTreeMap<String, Package> = BTreeMap::new();
    for dir in package_dirs {
        let package = load_package(&dir)?;
        let key = package.name.to_lowercase();
        if let Some(other) = packages.get(&key) {
            return Err(Error::DuplicatePackage {
                path: dir,
                other: other.root.clone(),
            });
        }
        packages.insert(key, package);
    }
    Ok(Deployment {
        root: path.to_path_buf(),
        packages,
    })
}
