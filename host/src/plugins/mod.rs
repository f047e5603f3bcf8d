//! The WebAssembly plugin runtime.
//!
//! One wasmtime [`Engine`] (component model, epoch interruption) for the process; per
//! plugin a pre-linked [`bindings::BasePre`] built once (and, for storage backends, a
//! [`bindings::storage_world::StorageBackendPre`]); per call or session a fresh
//! [`Store`] that is thrown away afterwards, so a trap, a timeout or a memory-limit hit
//! never leaks into the next call. Plugins get nothing ambient: the WASI context has no
//! preopens, no environment, no stdin and no sockets; a storage instance gets exactly
//! its one directory, preopened as `/data`.
//!
//! Plugin code runs on its own threads ([`threads`]), never on the ones serving
//! WebSockets: a slow plugin cannot stall the UI.

mod bindings;
mod builtin;
mod cache;
mod epoch;
mod health;
pub mod storage;
mod threads;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use bindings::{HealthReport, HealthStatus, ObjectMeta};
pub use cache::LoadSource;

/// Wall-clock budget of one plugin call (instantiate + call).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default memory cap of one plugin instance; manifests may ask for less or more later.
const MEMORY_LIMIT: usize = 64 << 20;

/// What a plugin can do, from the world its component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Only `lifecycle` (the self-test probe).
    Base,
    Storage,
}

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
    #[error("plugin {id} exceeded its {} MiB memory limit", MEMORY_LIMIT >> 20)]
    Memory { id: String },
    /// The plugin answered with an error of its own.
    #[error("plugin {id}: {}", bindings::describe(error))]
    Failed {
        id: String,
        error: bindings::PluginError,
    },
    #[error("plugin {id}: {reason}")]
    Usage { id: String, reason: String },
    /// The host side of a stream failed (the data source or destination).
    #[error("plugin {id}: {reason}")]
    Io { id: String, reason: String },
}

impl PluginError {
    /// The protocol error users see: the plugin's own error kinds map to their codes;
    /// traps, timeouts and limits are `unavailable` (the next call gets a fresh
    /// instance); a plugin that cannot load is `unavailable` too.
    pub fn body(&self) -> berth_protocol::error::ErrorBody {
        use berth_protocol::error::{ErrorBody, ErrorCode};
        use bindings::PluginError as E;
        let code = match self {
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::Usage { .. } => ErrorCode::BadRequest,
            Self::Failed { error, .. } => match error {
                E::InvalidConfig(_) => ErrorCode::BadRequest,
                E::Unauthorized(_) => ErrorCode::Forbidden,
                E::NotFound(_) => ErrorCode::NotFound,
                E::Conflict(_) => ErrorCode::Conflict,
                E::Unavailable(_) => ErrorCode::Unavailable,
                E::Io(_) | E::Other(_) => ErrorCode::Internal,
            },
            Self::Timeout { .. } => ErrorCode::Timeout,
            Self::Compile { .. }
            | Self::Trap { .. }
            | Self::Refused { .. }
            | Self::Cache { .. }
            | Self::Memory { .. } => ErrorCode::Unavailable,
            Self::Io { .. } => ErrorCode::Internal,
        };
        let id = match self {
            Self::Compile { id, .. }
            | Self::Trap { id, .. }
            | Self::Timeout { id }
            | Self::Refused { id, .. }
            | Self::NotFound { id }
            | Self::Cache { id, .. }
            | Self::Memory { id }
            | Self::Failed { id, .. }
            | Self::Usage { id, .. }
            | Self::Io { id, .. } => id.clone(),
        };
        ErrorBody::new(code, self.to_string()).with_details(serde_json::json!({ "plugin": id }))
    }

    /// A trap as users should read it: hitting the memory cap says so.
    fn from_trap(id: &str, e: &wasmtime::Error) -> Self {
        if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
            return Self::Timeout { id: id.to_owned() };
        }
        let text = format!("{e:#}");
        if text.contains("growing memory") || text.contains("memory.grow") {
            Self::Memory { id: id.to_owned() }
        } else {
            Self::Trap {
                id: id.to_owned(),
                reason: text,
            }
        }
    }
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
    pub kind: PluginKind,
    pre: bindings::BasePre<PluginState>,
    storage_pre: Option<bindings::storage_world::StorageBackendPre<PluginState>>,
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
    threads: threads::PluginThreads,
    health: Arc<health::HealthBook>,
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
            threads: threads::PluginThreads::start(),
            health: Arc::default(),
        };
        // Storage backends are checked with their instance's directory by /readyz.
        let base: Vec<String> = rt
            .all()
            .filter(|(_, p)| p.as_ref().is_ok_and(|p| p.kind == PluginKind::Base))
            .map(|(id, _)| id.to_owned())
            .collect();
        for id in base {
            match rt.health(&id, None).await {
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
        // A storage backend also implements the base world; the richer world decides.
        let storage_pre =
            bindings::storage_world::StorageBackendPre::new(instance_pre.clone()).ok();
        let pre = bindings::BasePre::new(instance_pre).map_err(|e| PluginError::Compile {
            id: id.to_owned(),
            reason: format!("wrong world: {e:#}"),
        })?;
        Ok(LoadedPlugin {
            id: id.to_owned(),
            sha256,
            source,
            load_time: started.elapsed(),
            kind: if storage_pre.is_some() {
                PluginKind::Storage
            } else {
                PluginKind::Base
            },
            pre,
            storage_pre,
        })
    }

    /// Every built-in plugin: loaded ones with their facts, failed ones with why.
    pub fn all(&self) -> impl Iterator<Item = (&str, Result<&LoadedPlugin, &str>)> {
        self.plugins
            .iter()
            .map(|(id, p)| (id.as_str(), p.as_ref().map_err(String::as_str)))
    }

    /// How calls into `id` have been going (`healthy` until one fails).
    pub fn call_health(&self, id: &str) -> HealthReport {
        self.health.report(id)
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

    /// Instantiates the plugin in a fresh store (on the plugin threads), initialises it
    /// with `{}` and asks for its health. `dir` is the directory a storage backend is
    /// granted (its instance's); other plugins get none.
    pub async fn health(&self, id: &str, dir: Option<&Path>) -> Result<HealthReport, PluginError> {
        let plugin = self.get(id)?;
        let tid = id.to_owned();
        let trap = move |e: wasmtime::Error| PluginError::from_trap(&tid, &e);
        let mut store = self.new_store(id, dir).map_err(trap.clone())?;
        let pre = plugin.pre.clone();
        let active = self.ticker.activate();
        let tid = id.to_owned();
        let call = self.threads.spawn(async move {
            let _active = active;
            let instance = pre
                .instantiate_async(&mut store)
                .await
                .map_err(trap.clone())?;
            let lifecycle = instance.berth_plugin_lifecycle();
            lifecycle
                .call_init(&mut store, "{}")
                .await
                .map_err(trap.clone())?
                .map_err(|e| PluginError::Refused {
                    id: tid,
                    reason: bindings::describe(&e),
                })?;
            lifecycle.call_health(&mut store).await.map_err(trap)
        });
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => Err(PluginError::Timeout { id: id.to_owned() }),
            Ok(Err(join)) => Err(PluginError::Trap {
                id: id.to_owned(),
                reason: format!("the call panicked: {join}"),
            }),
            Ok(Ok(r)) => r,
        }
    }

    /// A fresh store for one call or session of `id`. `dir` is the one directory the
    /// instance may touch (preopened as `/data`); without it, no filesystem at all.
    fn new_store(&self, id: &str, dir: Option<&Path>) -> wasmtime::Result<Store<PluginState>> {
        // Nothing ambient: no env, args, stdin, network; a preopen only when granted.
        let mut wasi = WasiCtx::builder();
        if let Some(dir) = dir {
            wasi.preopened_dir(dir, storage::GUEST_DIR, wasmtime_wasi::FsPerms::ReadWrite)?;
        }
        let state = PluginState {
            plugin: id.to_owned(),
            wasi: wasi.build(),
            table: ResourceTable::new(),
            // Trap at the failed grow, so the error names the limit instead of the
            // guest's allocator aborting with "unreachable".
            limits: StoreLimitsBuilder::new()
                .memory_size(MEMORY_LIMIT)
                .trap_on_grow_failure(true)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(epoch::ticks_for(CALL_TIMEOUT));
        store.epoch_deadline_trap();
        Ok(store)
    }
}
