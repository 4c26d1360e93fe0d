//! The program cache: each source is parsed and compiled once per hash.
//!
//! Runs are pinned to the hash of their source (DESIGN.md invariant 3): a
//! resumed run's program comes from the store by hash, never from disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use engine::Compiled;
use store::{AnyStore, Store};

use crate::{Error, Result};

/// Compiled programs by source hash.
#[derive(Debug, Default)]
pub(crate) struct Programs {
    cache: Mutex<HashMap<String, Arc<Compiled>>>,
}

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

    fn cached(&self, hash: &str) -> Option<Arc<Compiled>> {
        self.lock().get(hash).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Compiled>>> {
        // The map stays consistent even if a holder panicked: inserts are single calls.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
