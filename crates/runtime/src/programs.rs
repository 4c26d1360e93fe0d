//! The program cache: each source is parsed and compiled once per hash.
//!
//! Runs are pinned to the hash of their source (DESIGN.md invariant 3): a
//! resumed run's program comes from the store by hash, never from disk.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use engine::Compiled;
use store::{AnyStore, Store};

use crate::{Error, Result};

/// Compiled programs by source hash.
#[derive(Debug, Default)]
pub(crate) struct Programs {
    cache: Mutex<HashMap<String, Arc<Compiled>>>,
    /// Hashes this process has stored with `put_program`: storing again
    /// changes nothing, but would cost a write on the store's one writer.
    stored: Mutex<HashSet<String>>,
    /// (hash, input keys) pairs that passed `Runtime::check`: the check's
    /// outcome depends on nothing else, and parsing at every start would
    /// cost more than the run's first step.
    checked: Mutex<HashSet<String>>,
}

/// The most entries of `checked` before it starts over (input key sets are
/// usually few; this bounds a caller that sends ever-new ones).
const MAX_CHECKED: usize = 4096;

impl Programs {
    /// The compiled program of `source` (whose hash is `hash`), compiling it on first use.
    pub(crate) fn get_or_compile(
        &self,
        hash: &str,
        file: &str,
        source: &str,
    ) -> Result<Arc<Compiled>> {
        if let Some(found) = self.cached(hash) {
            return Ok(found);
        }
        let parsed = basic::parse(source);
        if basic::has_errors(&parsed.diagnostics) {
            return Err(Error::Check {
                file: file.to_owned(),
                source_text: source.to_owned(),
                diagnostics: parsed.diagnostics,
            });
        }
        let compiled = engine::compile(&parsed.program).map_err(|source| Error::Compile {
            file: file.to_owned(),
            source,
        })?;
        let compiled = Arc::new(compiled);
        self.lock().insert(hash.to_owned(), compiled.clone());
        Ok(compiled)
    }

    /// The program a run is pinned to, from the cache or the store.
    pub(crate) async fn for_run(
        &self,
        store: &AnyStore,
        run: &str,
        hash: &str,
    ) -> Result<Arc<Compiled>> {
        if let Some(found) = self.cached(hash) {
            return Ok(found);
        }
        let source = store
            .program(hash)
            .await?
            .ok_or_else(|| Error::MissingProgram {
                run: run.to_owned(),
                hash: hash.to_owned(),
            })?;
        self.get_or_compile(hash, &format!("program {hash}"), &source)
    }

    /// Stores the source under its hash unless this process already did.
    pub(crate) async fn ensure_stored(
        &self,
        store: &AnyStore,
        hash: &str,
        source: &str,
    ) -> Result<()> {
        if relock(&self.stored).contains(hash) {
            return Ok(());
        }
        store.put_program(hash, source).await?;
        relock(&self.stored).insert(hash.to_owned());
        Ok(())
    }

    /// Whether `key` passed the check before.
    pub(crate) fn was_checked(&self, key: &str) -> bool {
        relock(&self.checked).contains(key)
    }

    /// Remembers that `key` passed the check.
    pub(crate) fn mark_checked(&self, key: String) {
        let mut checked = relock(&self.checked);
        if checked.len() >= MAX_CHECKED {
            checked.clear();
        }
        checked.insert(key);
    }

    fn cached(&self, hash: &str) -> Option<Arc<Compiled>> {
        self.lock().get(hash).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Compiled>>> {
        relock(&self.cache)
    }
}

/// Locks a cache. The caches stay consistent even if a holder panicked:
/// every change is a single insert or clear.
fn relock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
