//! Host-side bindings of the `berth:plugin` WIT package and the host imports.

use wasmtime::component::{HasSelf, Linker};

use super::PluginState;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "base",
    exports: { default: async },
});

/// The `storage-backend` world, sharing the `types` and `host` modules above (so the
/// host imports are linked once and the error type is one type).
pub mod storage_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "storage-backend",
        exports: { default: async },
        with: {
            "berth:plugin/types": super::berth::plugin::types,
            "berth:plugin/host": super::berth::plugin::host,
        },
    });
}

/// The `notifier` world, sharing `types` and `host` the same way.
pub mod notifier_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "notifier",
        exports: { default: async },
        with: {
            "berth:plugin/types": super::berth::plugin::types,
            "berth:plugin/host": super::berth::plugin::host,
        },
    });
}

// `self::` because the crate is also called `berth` (ambiguous in doctest builds).
use self::berth::plugin::host::LogLevel;
pub use self::berth::plugin::types::{HealthReport, HealthStatus, ObjectMeta, PluginError};
use self::berth::plugin::{host as wit_host, types as wit_types};

/// Links the `berth:plugin/host` imports.
pub fn add_host_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    wit_host::add_to_linker::<_, HasSelf<PluginState>>(linker, |s| s)?;
    wit_types::add_to_linker::<_, HasSelf<PluginState>>(linker, |s| s)
}

impl wit_types::Host for PluginState {}

impl wit_host::Host for PluginState {
    fn log(&mut self, level: LogLevel, message: String) {
        let plugin = self.plugin.as_str();
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn now_ms(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A plugin's own error as one readable line.
pub fn describe(e: &PluginError) -> String {
    match e {
        PluginError::InvalidConfig(m) => format!("invalid configuration: {m}"),
        PluginError::Unauthorized(m) => format!("unauthorized: {m}"),
        PluginError::NotFound(m) => format!("not found: {m}"),
        PluginError::Conflict(m) => format!("conflict: {m}"),
        PluginError::Unavailable(m) => format!("unavailable: {m}"),
        PluginError::Io(m) => format!("i/o error: {m}"),
        PluginError::Other(m) => m.clone(),
    }
}
