//! The WebAssembly plugin runtime.
//!
//! One wasmtime [`Engine`] (component model, epoch interruption) for the process; per
//! plugin a pre-linked [`bindings::BasePre`] built once (and, for storage backends, a
//! [`bindings::storage_world::StorageBackendPre`]); per call or session a fresh
//! [`Store`] that is thrown away afterwards, so a trap, a timeout or a memory-limit hit
//! never leaks into the next call. Plugins get nothing ambient: the WASI context has no
//! preopens, no environment, no stdin and no sockets; a storage instance gets exactly
//! its one directory, preopened as `/data`; only a plugin whose manifest asks for HTTP
//! is linked with `wasi:http`, and every request it makes passes the instance's egress
//! allow-list ([`egress`]).
//!
//! Each plugin has a [`manifest::Manifest`] (built-ins embed their `plugin.toml`) that
//! states its world, API version, capabilities, limits and configuration schema.
//!
//! Plugin code runs on its own threads ([`threads`]), never on the ones serving
//! WebSockets: a slow plugin cannot stall the UI.

// Host functions stay short enough to read whole (threshold in clippy.toml);
// a longer one is split by phase, or carries a reasoned `#[expect]`.
#![warn(clippy::too_many_lines)]

mod bindings;
mod builtin;
mod cache;
pub mod egress;
mod epoch;
mod health;
pub mod instances;
mod limiter;
pub mod manifest;
pub mod notifier;
pub mod package;
mod pinned;
pub mod schema;
pub mod services;
pub mod storage;
mod threads;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use egress::EgressPolicy;
use manifest::{Manifest, ManifestKind};

pub use bindings::{HealthReport, HealthStatus, ObjectMeta};
pub use cache::LoadSource;

/// What one plugin instance may use. The runtime's limits are the admin's caps; a
/// plugin's manifest asks for its own within them ([`Limits::for_manifest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one call (instantiate, init, or one storage call).
    pub call_timeout: Duration,
    /// Linear memory cap of one instance.
    pub memory: usize,
    /// Bytes the host reads ahead of a storage instance's `write` calls: a backend that
    /// sends whole parts over the network asks for a part's worth, so the backup keeps
    /// compressing the next part while this one goes out. Host memory, per upload.
    pub upload_buffer: usize,
}

impl Default for Limits {
    /// The caps: no plugin gets more than this, whatever its manifest says.
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(120),
            memory: 256 << 20,
            upload_buffer: 64 << 20,
        }
    }
}

impl Limits {
    /// What a plugin gets when its manifest asks for nothing.
    pub const UNSTATED: Limits = Limits {
        call_timeout: Duration::from_secs(10),
        memory: 64 << 20,
        // Two of the host's 1 MiB chunks: one being written, one being read.
        upload_buffer: 2 << 20,
    };

    /// The manifest's request (or [`Self::UNSTATED`]), capped by `self`.
    pub fn for_manifest(self, m: &Manifest) -> Limits {
        let asked_ms = m
            .limits
            .call_timeout_ms
            .map_or(Self::UNSTATED.call_timeout, Duration::from_millis);
        let mib = |asked: Option<u64>, unstated: usize| {
            asked.map_or(unstated, |mib| (mib as usize).saturating_mul(1 << 20))
        };
        Limits {
            call_timeout: asked_ms.min(self.call_timeout),
            memory: mib(m.limits.memory_mib, Self::UNSTATED.memory).min(self.memory),
            upload_buffer: mib(m.limits.upload_buffer_mib, Self::UNSTATED.upload_buffer)
                .min(self.upload_buffer),
        }
    }
}

/// What a plugin can do, from the world its component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Only `lifecycle` (the self-test probe).
    Base,
    Storage,
    Notifier,
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {id}: cannot compile: {reason}")]
    Compile { id: String, reason: String },
    #[error("plugin {id}: {reason}")]
    Trap { id: String, reason: String },
    #[error("plugin {id}: call exceeded its {} ms time limit", limit.as_millis())]
    Timeout { id: String, limit: Duration },
    #[error("plugin {id} refused: {reason}")]
    Refused { id: String, reason: String },
    #[error("no plugin {id}")]
    NotFound { id: String },
    #[error("plugin {id}: {reason}")]
    Cache { id: String, reason: String },
    #[error("plugin {id} exceeded its {} MiB memory limit", limit >> 20)]
    Memory { id: String, limit: usize },
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
    /// The host refused something the plugin tried (an HTTP request off its allow-list).
    #[error("plugin {id}: request denied: {reason}")]
    Denied { id: String, reason: String },
}

impl PluginError {
    /// What the failure means: the plugin's own error kinds map to theirs; traps,
    /// timeouts and limits are `unavailable` (the next call gets a fresh instance); a
    /// plugin that cannot load is `unavailable` too.
    pub fn kind(&self) -> berth_core::error::Kind {
        use berth_core::error::Kind;
        use bindings::PluginError as E;
        match self {
            Self::NotFound { .. } => Kind::NotFound,
            Self::Usage { .. } => Kind::BadRequest,
            Self::Failed { error, .. } => match error {
                E::InvalidConfig(_) => Kind::BadRequest,
                E::Unauthorized(_) => Kind::Forbidden,
                E::NotFound(_) => Kind::NotFound,
                E::Conflict(_) => Kind::Conflict,
                E::Unavailable(_) => Kind::Unavailable,
                E::Io(_) | E::Other(_) => Kind::Internal,
            },
            Self::Timeout { .. } => Kind::Timeout,
            Self::Compile { .. }
            | Self::Trap { .. }
            | Self::Refused { .. }
            | Self::Cache { .. }
            | Self::Memory { .. } => Kind::Unavailable,
            Self::Io { .. } => Kind::Internal,
            Self::Denied { .. } => Kind::Forbidden,
        }
    }

    /// The plugin the failure is about.
    pub fn plugin(&self) -> &str {
        match self {
            Self::Compile { id, .. }
            | Self::Trap { id, .. }
            | Self::Timeout { id, .. }
            | Self::Refused { id, .. }
            | Self::NotFound { id }
            | Self::Cache { id, .. }
            | Self::Memory { id, .. }
            | Self::Failed { id, .. }
            | Self::Usage { id, .. }
            | Self::Io { id, .. }
            | Self::Denied { id, .. } => id,
        }
    }

    /// A trap as users should read it: hitting a limit says which.
    fn from_trap(id: &str, limits: Limits, e: &wasmtime::Error) -> Self {
        if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
            return Self::Timeout {
                id: id.to_owned(),
                limit: limits.call_timeout,
            };
        }
        let text = format!("{e:#}");
        if text.contains("growing memory") || text.contains("memory.grow") {
            Self::Memory {
                id: id.to_owned(),
                limit: limits.memory,
            }
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
    /// The limits this store runs under (deadlines are re-armed from it per call).
    limits_cfg: Limits,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: limiter::TotalMemory,
    /// Used only when `wasi:http` is linked (the plugin's manifest asks for HTTP).
    http: WasiHttpCtx,
    egress: EgressPolicy,
}

impl PluginState {
    /// Bytes of linear memory the instance holds (its peak: wasm memory never shrinks).
    pub fn memory_bytes(&self) -> usize {
        self.limits.used()
    }
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

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

/// A component loaded beside the built-ins (tests; installed plugins), with its
/// manifest if it has one.
#[derive(Debug, Clone)]
pub struct ExtraPlugin {
    pub id: String,
    pub wasm: Vec<u8>,
    pub manifest: Option<String>,
}

/// A plugin ready to be instantiated.
pub struct LoadedPlugin {
    pub id: String,
    /// Embedded in the binary (always present, cannot be uninstalled).
    pub builtin: bool,
    pub sha256: String,
    pub source: LoadSource,
    pub load_time: Duration,
    pub kind: PluginKind,
    pub manifest: Manifest,
    /// The configuration schema from the manifest, parsed.
    pub schema: Option<serde_json::Value>,
    /// What each of its stores runs under.
    pub limits: Limits,
    pre: bindings::BasePre<PluginState>,
    storage_pre: Option<bindings::storage_world::StorageBackendPre<PluginState>>,
    /// Whether the storage component exports `storage-upkeep` (built against 0.1.1+;
    /// its types checked at load).
    has_upkeep: bool,
    notifier_pre: Option<bindings::notifier_world::NotifierPre<PluginState>>,
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

/// A loaded plugin, or why it could not be loaded.
type Slot = Result<Arc<LoadedPlugin>, String>;

/// The runtime and the plugins it holds.
pub struct PluginRuntime {
    engine: Engine,
    ticker: epoch::Ticker,
    /// Installs and uninstalls swap entries while calls run: a call holds its own
    /// `Arc`, so a plugin replaced mid-call finishes on the version it started with.
    plugins: RwLock<BTreeMap<String, Slot>>,
    cache: cache::ComponentCache,
    linker: Linker<PluginState>,
    http_linker: Linker<PluginState>,
    /// The admin's caps every plugin's limits are fitted within.
    caps: Limits,
    threads: threads::PluginThreads,
    health: Arc<health::HealthBook>,
}

impl std::fmt::Debug for PluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRuntime")
            .field("plugins", &self.ids())
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

/// The host functions plugins link against: WASI and Berth's host interface, and a
/// second linker with `wasi:http` beside them. Capabilities by linking: only plugins
/// whose manifest asks for HTTP are linked against the second; for the others
/// `wasi:http` does not exist.
///
/// A plain function on purpose: the host functions' generic code (lifting and
/// lowering every byte a plugin reads or writes) is instantiated here, in this crate
/// and at its optimisation level. Inside an `async fn` it would be instantiated by
/// whichever crate polls the future, unoptimised in a debug build.
fn linkers(engine: &Engine) -> wasmtime::Result<(Linker<PluginState>, Linker<PluginState>)> {
    let mut linker = Linker::<PluginState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    bindings::add_host_to_linker(&mut linker)?;
    let mut http_linker = linker.clone();
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut http_linker)?;
    Ok((linker, http_linker))
}

impl PluginRuntime {
    /// Creates the engine and loads every built-in plugin (from the `.cwasm` cache in
    /// `cache_dir` when possible). A plugin that fails to load is recorded, not fatal:
    /// `/readyz` reports it.
    pub async fn start(cache_dir: &Path) -> Result<Self, wasmtime::Error> {
        Self::start_with(cache_dir, Limits::default(), Vec::new()).await
    }

    /// [`Self::start`] with other limits and extra components (id, wasm) beside the
    /// built-ins — the sandbox tests load their hostile plugins this way (with no
    /// manifest: no capabilities, [`Limits::UNSTATED`] within `limits`).
    pub async fn start_with(
        cache_dir: &Path,
        limits: Limits,
        extra: Vec<ExtraPlugin>,
    ) -> Result<Self, wasmtime::Error> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config)?;
        let ticker = epoch::Ticker::spawn(engine.clone());
        let (linker, http_linker) = linkers(&engine)?;
        let cache = cache::ComponentCache::new(&engine, cache_dir);
        let rt = Self {
            engine,
            ticker,
            plugins: RwLock::default(),
            cache,
            linker,
            http_linker,
            caps: limits,
            threads: threads::PluginThreads::start(),
            health: Arc::default(),
        };
        let all = builtin::BUILTIN
            .iter()
            .map(|b| {
                let manifest = b.manifest.map(Cow::Borrowed);
                (b.id.to_owned(), cache::Wasm::Builtin(b), manifest)
            })
            .chain(extra.into_iter().map(|e| {
                let manifest = e.manifest.map(Cow::Owned);
                (e.id, cache::Wasm::Installed(e.wasm), manifest)
            }));
        for (id, wasm, manifest) in all {
            let loaded = rt.load(&id, wasm, manifest.as_deref()).await;
            match &loaded {
                Ok(p) => tracing::info!(
                    plugin = p.id,
                    source = ?p.source,
                    load_ms = p.load_time.as_secs_f64() * 1000.0,
                    "plugin loaded"
                ),
                Err(e) => tracing::error!(plugin = id, error = %e, "plugin failed to load"),
            }
            rt.slots_mut()
                .insert(id, loaded.map(Arc::new).map_err(|e| e.to_string()));
        }
        // Storage backends are checked with their instance's directory by /readyz,
        // notifiers once configured.
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

    fn slots(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Slot>> {
        // The map is replaced entry by entry; a panic elsewhere cannot leave it torn.
        self.plugins.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn slots_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Slot>> {
        self.plugins.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Compiles (or loads from the cache) and links one plugin; the manifest, API
    /// version included, is checked first.
    async fn load(
        &self,
        id: &str,
        wasm: cache::Wasm,
        manifest: Option<&str>,
    ) -> Result<LoadedPlugin, PluginError> {
        let builtin = wasm.is_builtin();
        let (cache, caps) = (&self.cache, self.caps);
        let started = Instant::now();
        let compile = |reason: String| PluginError::Compile {
            id: id.to_owned(),
            reason,
        };
        // The manifest is checked (API version included) before anything is compiled.
        let manifest = manifest
            .map(|text| {
                let m = Manifest::parse(text).map_err(|e| compile(e.to_string()))?;
                if m.id != id {
                    return Err(compile(format!("its manifest is for {:?}", m.id)));
                }
                Ok(m)
            })
            .transpose()?;
        let (component, source, sha256) = cache.load(id, wasm).await?;
        let wants_http = manifest
            .as_ref()
            .is_some_and(|m| !m.capabilities.http.is_empty());
        let linker = if wants_http {
            &self.http_linker
        } else {
            &self.linker
        };
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| compile(format!("cannot link: {e:#}")))?;
        // A storage backend or notifier also implements the base world; the richer
        // world decides the kind.
        let storage_pre =
            bindings::storage_world::StorageBackendPre::new(instance_pre.clone()).ok();
        let has_upkeep = storage_pre.is_some()
            && bindings::upkeep_world::StorageUpkeepOnlyPre::new(instance_pre.clone()).is_ok();
        let notifier_pre = bindings::notifier_world::NotifierPre::new(instance_pre.clone()).ok();
        let pre = bindings::BasePre::new(instance_pre)
            .map_err(|e| compile(format!("wrong world: {e:#}")))?;
        let (kind, world_kind) = if storage_pre.is_some() {
            (PluginKind::Storage, ManifestKind::Storage)
        } else if notifier_pre.is_some() {
            (PluginKind::Notifier, ManifestKind::Notifier)
        } else {
            (PluginKind::Base, ManifestKind::Base)
        };
        let manifest = manifest.unwrap_or_else(|| Manifest::implicit(id, world_kind));
        if manifest.kind != world_kind {
            return Err(compile(format!(
                "its manifest says {:?} but the component implements {world_kind:?}",
                manifest.kind
            )));
        }
        let schema = manifest.schema().map_err(compile)?;
        Ok(LoadedPlugin {
            id: id.to_owned(),
            builtin,
            sha256,
            source,
            load_time: started.elapsed(),
            kind,
            limits: caps.for_manifest(&manifest),
            manifest,
            schema,
            pre,
            storage_pre,
            has_upkeep,
            notifier_pre,
        })
    }

    /// Every plugin: loaded ones with their facts, failed ones with why.
    pub fn all(&self) -> impl Iterator<Item = (String, Slot)> + use<> {
        let all: Vec<(String, Slot)> = self
            .slots()
            .iter()
            .map(|(id, p)| (id.clone(), p.clone()))
            .collect();
        all.into_iter()
    }

    /// Whether `id` is embedded in this binary.
    pub fn is_builtin(id: &str) -> bool {
        builtin::BUILTIN.iter().any(|b| b.id == id)
    }

    /// The limits a plugin with manifest `m` would run under here.
    pub fn limits_for(&self, m: &Manifest) -> Limits {
        self.caps.for_manifest(m)
    }

    /// Compiles and links an installed (third-party) plugin without putting it in
    /// place ([`Self::activate`] does): a package that does not load changes nothing.
    pub async fn prepare(
        &self,
        id: &str,
        wasm: Vec<u8>,
        manifest: &str,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        if Self::is_builtin(id) {
            return Err(PluginError::Refused {
                id: id.to_owned(),
                reason: "a built-in plugin has this id".into(),
            });
        }
        Ok(Arc::new(
            self.load(id, cache::Wasm::Installed(wasm), Some(manifest))
                .await?,
        ))
    }

    /// Puts a prepared plugin in place of any previous version; calls already running
    /// finish on the old one.
    pub fn activate(&self, p: Arc<LoadedPlugin>) {
        self.health.ok(&p.id);
        self.slots_mut().insert(p.id.clone(), Ok(p));
    }

    /// Records a plugin that cannot be loaded (e.g. its installed files are damaged),
    /// so it is listed with the reason.
    pub fn mark_broken(&self, id: &str, why: String) {
        self.slots_mut().insert(id.to_owned(), Err(why));
    }

    /// Forgets an installed plugin; calls already running finish. `false` when it was
    /// not there; built-ins are never removed.
    pub fn uninstall(&self, id: &str) -> bool {
        if Self::is_builtin(id) {
            return false;
        }
        let gone = self.slots_mut().remove(id).is_some();
        self.health.ok(id);
        gone
    }

    /// How calls into `id` have been going (`healthy` until one fails).
    pub fn call_health(&self, id: &str) -> HealthReport {
        self.health.report(id)
    }

    /// Unhealthy plugins due a recovery probe now (see [`health`]); the caller probes
    /// each with [`Self::health`], whose outcome heals the plugin or backs off further.
    pub fn due_for_probe(&self) -> Vec<String> {
        self.health.due(Instant::now())
    }

    /// Plugins that turned unhealthy since the last call (id, last failure).
    pub fn turned_unhealthy(&self) -> Vec<(String, String)> {
        self.health.take_turned()
    }

    /// When the next recovery probe is due (`None`: every plugin is well).
    pub fn next_probe(&self) -> Option<Instant> {
        self.health.next_due()
    }

    /// Signalled whenever a plugin turns unhealthy.
    pub fn health_wake(&self) -> Arc<tokio::sync::Notify> {
        self.health.wake()
    }

    /// Ids of all plugins, loaded or not.
    pub fn ids(&self) -> Vec<String> {
        self.slots().keys().cloned().collect()
    }

    /// A loaded plugin, or why it could not be loaded.
    pub fn get(&self, id: &str) -> Result<Arc<LoadedPlugin>, PluginError> {
        match self.slots().get(id) {
            None => Err(PluginError::NotFound { id: id.to_owned() }),
            Some(Err(reason)) => Err(PluginError::Refused {
                id: id.to_owned(),
                reason: reason.clone(),
            }),
            Some(Ok(p)) => Ok(Arc::clone(p)),
        }
    }

    /// Instantiates the plugin in a fresh store (on the plugin threads), initialises it
    /// with `{}` and asks for its health. `dir` is the directory a storage backend is
    /// granted (its instance's); other plugins get none. A notifier or a network
    /// storage backend needs its instance's configuration to do anything, so for it
    /// this proves that it links and starts (instantiation) and no more.
    pub async fn health(&self, id: &str, dir: Option<&Path>) -> Result<HealthReport, PluginError> {
        let plugin = self.get(id)?;
        // Notifiers and network storage (no directory of their own) take everything
        // from an instance's configuration: without one, loading is what can be proven.
        let configured = plugin.kind == PluginKind::Notifier
            || (plugin.kind == PluginKind::Storage && !plugin.manifest.capabilities.storage_dir);
        if !configured {
            return self.init_and_check(id, dir, "{}").await;
        }
        let limits = plugin.limits;
        let tid = id.to_owned();
        let mut store = self
            .new_store(id, None, EgressPolicy::default())
            .map_err(|e| PluginError::from_trap(id, limits, &e))?;
        let pre = plugin.pre.clone();
        self.run_call(id, limits, async move {
            pre.instantiate_async(&mut store)
                .await
                .map_err(|e| PluginError::from_trap(&tid, limits, &e))?;
            Ok(HealthReport {
                status: HealthStatus::Healthy,
                message: String::new(),
            })
        })
        .await
    }

    /// [`Self::health`] with `config` handed to `init` (a configuration test).
    pub async fn init_and_check(
        &self,
        id: &str,
        dir: Option<&Path>,
        config: &str,
    ) -> Result<HealthReport, PluginError> {
        let plugin = self.get(id)?;
        let (tid, limits) = (id.to_owned(), plugin.limits);
        let trap = move |e: wasmtime::Error| PluginError::from_trap(&tid, limits, &e);
        let mut store = self
            .new_store(id, dir, EgressPolicy::default())
            .map_err(trap.clone())?;
        let pre = plugin.pre.clone();
        let (tid, config) = (id.to_owned(), config.to_owned());
        self.run_call(id, limits, async move {
            let instance = pre
                .instantiate_async(&mut store)
                .await
                .map_err(trap.clone())?;
            let lifecycle = instance.berth_plugin_lifecycle();
            lifecycle
                .call_init(&mut store, &config)
                .await
                .map_err(trap.clone())?
                .map_err(|error| PluginError::Failed { id: tid, error })?;
            lifecycle.call_health(&mut store).await.map_err(trap)
        })
        .await
    }

    /// Runs one plugin call on the plugin threads (epochs ticking meanwhile) under the
    /// wall-clock limit, and records how it went in the plugin's health.
    async fn run_call<T: Send + 'static>(
        &self,
        id: &str,
        limits: Limits,
        call: impl Future<Output = Result<T, PluginError>> + Send + 'static,
    ) -> Result<T, PluginError> {
        let active = self.ticker.activate();
        let mut call = self.threads.spawn(async move {
            let _active = active;
            call.await
        });
        let r = match tokio::time::timeout(limits.call_timeout, &mut call).await {
            Err(_) => {
                // Interrupted, not left running: the epoch deadline stops guest code,
                // but a guest waiting in a host call (a sleep, a request to a server
                // that never answers) is only stopped by dropping the call — and its
                // store with it.
                call.abort();
                Err(PluginError::Timeout {
                    id: id.to_owned(),
                    limit: limits.call_timeout,
                })
            }
            Ok(Err(join)) => Err(PluginError::Trap {
                id: id.to_owned(),
                reason: format!("the call panicked: {join}"),
            }),
            Ok(Ok(r)) => r,
        };
        match &r {
            Ok(_) => self.health.ok(id),
            Err(e) => self.health.failed(id, &e.to_string()),
        }
        r
    }

    /// A fresh store for one call or session of `id`. `dir` is the one directory the
    /// instance may touch (preopened as `/data`); without it, no filesystem at all.
    /// `egress` is what its HTTP requests may reach (if `wasi:http` is linked at all).
    fn new_store(
        &self,
        id: &str,
        dir: Option<&Path>,
        egress: EgressPolicy,
    ) -> wasmtime::Result<Store<PluginState>> {
        let limits = self.get(id).map_or(Limits::UNSTATED, |p| p.limits);
        // Nothing ambient: no env, args, stdin, network; a preopen only when granted.
        let mut wasi = WasiCtx::builder();
        // Plugin calls run on the plugin runtime's own threads, so a WASI file
        // operation may block the thread it runs on: inline instead of a hop through
        // tokio's blocking pool per call (the notes measured reads ~1.8× faster).
        wasi.allow_blocking_current_thread(true);
        if let Some(dir) = dir {
            wasi.preopened_dir(dir, storage::GUEST_DIR, wasmtime_wasi::FsPerms::ReadWrite)?;
        }
        let state = PluginState {
            plugin: id.to_owned(),
            limits_cfg: limits,
            wasi: wasi.build(),
            table: ResourceTable::new(),
            // Trap at the failed grow, so the error names the limit instead of the
            // guest's allocator aborting with "unreachable"; one budget for all the
            // plugin's memories.
            limits: limiter::TotalMemory::new(limits.memory),
            http: WasiHttpCtx::new(),
            egress,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(epoch::ticks_for(limits.call_timeout));
        store.epoch_deadline_trap();
        Ok(store)
    }
}

pub use instances::InstancesTable;
pub use services::{PluginServices, ServiceError};

/// Creates this crate's tables (see `berth_core::store::Tables`).
pub fn tables(tx: &redb::WriteTransaction) -> Result<(), redb::TableError> {
    tx.open_table(instances::INSTANCES.definition())?;
    tx.open_table(instances::PLUGIN_SETTINGS.definition())?;
    Ok(())
}
