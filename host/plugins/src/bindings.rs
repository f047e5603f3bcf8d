//! Host-side bindings of the `berth:plugin` WIT package and the host imports.

use wasmtime::component::{HasSelf, Linker};

use super::PluginState;

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "base",
    exports: { default: async },
});

/// The `storage-backend` world, sharing the `types` and `host` modules above (so the
/// host imports are linked once and the error type is one type).
pub mod storage_world {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "storage-backend",
        exports: { default: async },
        with: {
            "berth:plugin/types": super::berth::plugin::types,
            "berth:plugin/host": super::berth::plugin::host,
        },
    });
}

/// The `storage-upkeep` interface (0.1.1) on its own: looked for in a storage
/// component beside `storage-backend`, so that one built against 0.1.0 still loads.
pub mod upkeep_world {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "storage-upkeep-only",
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
        path: "../../wit",
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
        let message = berth_core::text::clip(&message, LOG_MAX);
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

/// Longest plugin error message passed on to users, and longest log line: a plugin
/// cannot flood a client, the log or the audit trail through either.
const MESSAGE_MAX: usize = 1024;
const LOG_MAX: usize = 8192;

/// A plugin's own error as one readable line.
pub fn describe(e: &PluginError) -> String {
    let m = |m: &String| berth_core::text::clip(m, MESSAGE_MAX).into_owned();
    match e {
        PluginError::InvalidConfig(t) => format!("invalid configuration: {}", m(t)),
        PluginError::Unauthorized(t) => format!("unauthorized: {}", m(t)),
        PluginError::NotFound(t) => format!("not found: {}", m(t)),
        PluginError::Conflict(t) => format!("conflict: {}", m(t)),
        PluginError::Unavailable(t) => format!("unavailable: {}", m(t)),
        PluginError::Io(t) => format!("i/o error: {}", m(t)),
        PluginError::Other(t) => m(t),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_texts_are_clipped_on_a_character_boundary() {
        assert_eq!(berth_core::text::clip("short", 10), "short");
        let long = "é".repeat(100);
        let c = berth_core::text::clip(&long, 11);
        assert!(c.starts_with("ééééé…"), "{c}");
        assert!(c.ends_with("(cut; 200 bytes in all)"), "{c}");
    }
}
