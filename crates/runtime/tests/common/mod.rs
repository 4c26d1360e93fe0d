//! Shared helpers: deployments in temp folders, a runtime on a temp SQLite file.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use runtime::{Options, Runtime};
use store::AnyStore;

/// The customer-support template folder.
pub fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support")
}

/// Writes `<root>/<name>.gbai` with the given scripts and config rows.
pub fn package(root: &Path, name: &str, scripts: &[(&str, &str)], config: &str) {
    let dialog = root
        .join(format!("{name}.gbai"))
        .join(format!("{name}.gbdialog"));
    std::fs::create_dir_all(&dialog).expect("create the dialog folder");
    for (file, source) in scripts {
        std::fs::write(dialog.join(file), source).expect("write a script");
    }
    if !config.is_empty() {
        let bot = root
            .join(format!("{name}.gbai"))
            .join(format!("{name}.gbot"));
        std::fs::create_dir_all(&bot).expect("create the bot folder");
        std::fs::write(bot.join("config.csv"), config).expect("write config.csv");
    }
}

/// A runtime over the deployment in `bots` and the database `db`.
pub async fn runtime_at(bots: &Path, db: &Path) -> Runtime {
    let deployment = bots::load_deployment(bots).expect("the deployment loads");
    let store = AnyStore::open(&db.display().to_string())
        .await
        .expect("the database opens");
    Runtime::new(
        store,
        deployment,
        Options {
            retry_base_ms: 5,
            ..Options::default()
        },
    )
}

/// A temp folder holding `bots/` and `runs.db`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::create_dir_all(dir.path().join("bots")).expect("bots folder");
        Fixture { dir }
    }

    pub fn bots(&self) -> PathBuf {
        self.dir.path().join("bots")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("runs.db")
    }

    pub async fn runtime(&self) -> Runtime {
        runtime_at(&self.bots(), &self.db()).await
    }
}
