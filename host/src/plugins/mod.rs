//! The WebAssembly plugin runtime.
//!
//! One wasmtime [`Engine`] (component model, epoch interruption) for the process; per
//! plugin a pre-linked [`bindings::BasePre`] built once; per call a fresh [`Store`] that
//! is thrown away afterwards, so a trap, a timeout or a memory-limit hit never leaks
//! into the next call. Plugins get nothing ambient: the WASI context has no preopens,
//! no environment, no stdin and no sockets (capabilities arrive by linking, per plugin).

mod bindings;
mod builtin;
mod cache;
mod epoch;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use bindings::{HealthReport, HealthStatus};
pub use cache::LoadSource;

/// Wall-clock budget of one plugin call (instantiate + call).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default memory cap of one plugin instance; manifests may ask for less or more later.
const MEMORY_LIMIT: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {id}: cannot compile: {reason}")]
    Compile { id: String, reason: String },
    #[error("plugin {id}: {reason}")]
    Trap { id: String, reason: String },
    #[error("plugin {id}: call exceeded its {}s time limit", CALL_TIMEOUT.as_secs())]
    Timeout { id: String },
    #[error("plugin {id} refused: {reason}")]
    Refused { id: String, reason: String },
    #[error("no plugin {id}")]
    NotFound { id: String },
    #[error("plugin {id}: {reason}")]
    Cache { id: String, reason: String },
}

/// Per-call state of a plugin instance.
pub struct PluginState {
    plugin: String,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl std::fmt::Debug for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginState")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A plugin ready to be instantiated.
pub struct LoadedPlugin {
    pub id: String,
    pub sha256: String,
    pub source: LoadSource,
    pub load_time: Duration,
    pre: bindings::BasePre<PluginState>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.id)
            .field("sha256", &self.sha256)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The runtime and the plugins it holds.
#[derive(Debug)]
pub struct PluginRuntime {
    engine: Engine,
    ticker: epoch::Ticker,
    plugins: BTreeMap<String, Result<LoadedPlugin, String>>,
}

impl PluginRuntime {
    /// Creates the engine and loads every built-in plugin (from the `.cwasm` cache in
    /// `cache_dir` when possible). A plugin that fails to load is recorded, not fatal:
    /// `/readyz` reports it.
    pub async fn start(cache_dir: &Path) -> Result<Self, wasmtime::Error> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config)?;
        let ticker = epoch::Ticker::spawn(engine.clone());
        let mut linker = Linker::<PluginState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::add_host_to_linker(&mut linker)?;

        let cache = cache::ComponentCache::new(&engine, cache_dir);
        let mut plugins = BTreeMap::new();
        for b in builtin::BUILTIN {
            let loaded = Self::load(&cache, &linker, b.id, b.wasm).await;
            match &loaded {
                Ok(p) => tracing::info!(
                    plugin = p.id,
                    source = ?p.source,
                    load_ms = p.load_time.as_secs_f64() * 1000.0,
                    "plugin loaded"
                ),
                Err(e) => tracing::error!(plugin = b.id, error = %e, "plugin failed to load"),
            }
            plugins.insert(b.id.to_owned(), loaded.map_err(|e| e.to_string()));
        }
        let rt = Self {
            engine,
            ticker,
            plugins,
        };
        for id in rt.ids().map(str::to_owned).collect::<Vec<_>>() {
            match rt.health(&id).await {
                Ok(h) => tracing::info!(plugin = id, status = ?h.status, "plugin health"),
                Err(e) => tracing::warn!(plugin = id, error = %e, "plugin unhealthy"),
            }
        }
        Ok(rt)
    }

    async fn load(
        cache: &cache::ComponentCache,
        linker: &Linker<PluginState>,
        id: &str,
        wasm: &'static [u8],
    ) -> Result<LoadedPlugin, PluginError> {
        let started = Instant::now();
        let (component, source, sha256) = cache.load(id, wasm).await?;
        let instance_pre =
            linker
                .instantiate_pre(&component)
                .map_err(|e| PluginError::Compile {
                    id: id.to_owned(),
                    reason: format!("cannot link: {e:#}"),
                })?;
        let pre = bindings::BasePre::new(instance_pre).map_err(|e| PluginError::Compile {
            id: id.to_owned(),
            reason: format!("wrong world: {e:#}"),
        })?;
        Ok(LoadedPlugin {
            id: id.to_owned(),
            sha256,
            source,
            load_time: started.elapsed(),
            pre,
        })
    }

    /// Ids of all built-in plugins, loaded or not.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    /// A loaded plugin, or why it could not be loaded.
    pub fn get(&self, id: &str) -> Result<&LoadedPlugin, PluginError> {
        match self.plugins.get(id) {
            None => Err(PluginError::NotFound { id: id.to_owned() }),
            Some(Err(reason)) => Err(PluginError::Refused {
                id: id.to_owned(),
                reason: reason.clone(),
            }),
            Some(Ok(p)) => Ok(p),
        }
    }

    /// Instantiates the plugin in a fresh store, initialises it with `{}` and asks for
    /// its health.
    pub async fn health(&self, id: &str) -> Result<HealthReport, PluginError> {
        let plugin = self.get(id)?;
        let trap = |e: wasmtime::Error| PluginError::Trap {
            id: id.to_owned(),
            reason: format!("{e:#}"),
        };
        let _active = self.ticker.activate();
        let call = async {
            let mut store = self.new_store(id);
            let instance = plugin
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(trap)?;
            let lifecycle = instance.berth_plugin_lifecycle();
            lifecycle
                .call_init(&mut store, "{}")
                .await
                .map_err(trap)?
                .map_err(|e| PluginError::Refused {
                    id: id.to_owned(),
                    reason: bindings::describe(&e),
                })?;
            lifecycle.call_health(&mut store).await.map_err(trap)
        };
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| PluginError::Timeout { id: id.to_owned() })?
    }

    fn new_store(&self, id: &str) -> Store<PluginState> {
        let state = PluginState {
            plugin: id.to_owned(),
            // Nothing ambient: no preopens, env, args, stdin, network.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new().memory_size(MEMORY_LIMIT).build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(epoch::ticks_for(CALL_TIMEOUT));
        store.epoch_deadline_trap();
        store
    }
}
