//! Compiled-component cache: `.cwasm` files in the data directory.
//!
//! Cranelift takes 50 ms to seconds per plugin; loading a precompiled file takes under a
//! millisecond. The key is the wasm's sha256 plus a hash of the wasmtime version and the
//! engine's compatibility hash, so a different wasmtime or engine configuration never
//! loads a stale file. Only Berth writes this directory (atomically, via rename), which
//! is what makes deserialising its files sound.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

const WASMTIME_VERSION: &str = "48.0.8";

/// A component as the loader gets it.
#[derive(Debug)]
pub enum Wasm {
    /// An installed plugin's component, read from its package.
    Installed(Vec<u8>),
    /// A built-in component, gzipped into the binary with its hash computed at build
    /// time: a cache hit never reads it, a miss inflates it.
    Builtin(&'static crate::builtin::BuiltinWasm),
}

impl Wasm {
    pub fn is_builtin(&self) -> bool {
        matches!(self, Wasm::Builtin(_))
    }

    /// The component's sha256 (hex): the cache key.
    fn sha256(&self) -> String {
        match self {
            Wasm::Installed(bytes) => hex::encode(Sha256::digest(bytes)),
            Wasm::Builtin(builtin) => builtin.sha256.to_owned(),
        }
    }

    fn bytes(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        match self {
            Wasm::Installed(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
            Wasm::Builtin(builtin) => crate::builtin::inflate(builtin.wasm_gzip).map(Into::into),
        }
    }
}

/// Where a component came from on this start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSource {
    Compiled,
    Cached,
}

#[derive(Debug)]
pub struct ComponentCache {
    engine: Engine,
    dir: PathBuf,
    engine_key: String,
}

impl ComponentCache {
    pub fn new(engine: &Engine, dir: &Path) -> Self {
        // DefaultHasher::new() is deterministic (fixed keys); it only has to be stable
        // for one build, and the version string covers the rest.
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_key = hex::encode(Sha256::digest(format!(
            "wasmtime-{WASMTIME_VERSION}-{:016x}",
            h.finish()
        )));
        Self {
            engine: engine.clone(),
            dir: dir.to_path_buf(),
            engine_key: engine_key[..16].to_owned(),
        }
    }

    /// The cache file for a component with this sha256.
    pub fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// Loads `wasm` from the cache, or compiles it (off the async threads) and caches it.
    /// A built-in component's hash is known from the build, so a cache hit never reads
    /// (or inflates) it.
    pub async fn load(
        &self,
        id: &str,
        wasm: Wasm,
    ) -> Result<(Component, LoadSource, String), PluginError> {
        let sha256 = wasm.sha256();
        let path = self.path_for(&sha256);
        let engine = self.engine.clone();
        let id = id.to_owned();
        tokio::task::spawn_blocking(move || {
            if path.is_file() {
                // SAFETY: the file is in Berth's own cache directory, written only by
                // `Component::serialize` below under a name keyed by the wasm hash and
                // the engine configuration; wasmtime additionally checks the header.
                #[allow(unsafe_code)]
                match unsafe { Component::deserialize_file(&engine, &path) } {
                    Ok(c) => return Ok((c, LoadSource::Cached, sha256)),
                    Err(e) => {
                        tracing::warn!(plugin = id, path = %path.display(), error = %e, "discarding unusable .cwasm");
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            let compile = |reason: String| PluginError::Compile { id: id.clone(), reason };
            let bytes = wasm
                .bytes()
                .map_err(|e| compile(format!("cannot inflate the embedded component: {e}")))?;
            let component = Component::new(&engine, &bytes).map_err(|e| compile(format!("{e:#}")))?;
            let bytes = component
                .serialize()
                .map_err(|e| PluginError::Cache { id: id.clone(), reason: format!("cannot serialise: {e:#}") })?;
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let written = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(e) = written {
                // A read-only data dir costs start-up time, not correctness.
                tracing::warn!(plugin = id, error = %e, "cannot write .cwasm cache");
                let _ = std::fs::remove_file(&tmp);
            }
            Ok((component, LoadSource::Compiled, sha256))
        })
        .await
        .map_err(|e| PluginError::Cache { id: "?".to_owned(), reason: format!("compile task failed: {e}") })?
    }
}
