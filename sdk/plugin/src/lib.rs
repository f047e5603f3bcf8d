//! The Berth plugin SDK.
//!
//! Plugins are WebAssembly components built for `wasm32-wasip2` against the
//! `berth:plugin` WIT package (in `wit/` of the Berth repository). This crate owns the
//! generated bindings so that every plugin uses the same ones. A plugin implements one
//! world, chosen by exactly one cargo feature:
//!
//! - `base` → module `base`: only `lifecycle` (the built-in `probe`);
//! - `storage` → module `storage`: `lifecycle` + `storage` (where backups are kept);
//! - `notifier` → module `notifier`: `lifecycle` + `notification` (where job results
//!   are sent).
//!
//! (One world per build because wit-bindgen's exported macros are crate-global: two
//! worlds in one build would define the same `lifecycle` export macro twice. Build
//! each plugin on its own, as `cargo xtask plugins` does.)
//!
//! ```ignore
//! use berth_plugin_sdk::storage::exports::berth::plugin::{lifecycle, storage};
//! struct Local;
//! impl lifecycle::Guest for Local { /* init, health */ }
//! impl storage::Guest for Local { /* start_upload, open_download, stat, … */ }
//! berth_plugin_sdk::storage::export_storage_backend!(Local);
//! ```
//!
//! [`config`] parses the JSON configuration `init` receives into a serde type with
//! errors that name the field; [`key`] checks object keys the way the host does.

#[cfg(any(
    all(feature = "base", feature = "storage"),
    all(feature = "base", feature = "notifier"),
    all(feature = "storage", feature = "notifier"),
))]
compile_error!(
    "enable exactly one of the features base, storage, notifier (build plugins one at a time)"
);

/// The `base` world: only `lifecycle`, plus the `host` imports.
#[cfg(feature = "base")]
#[allow(missing_docs, unsafe_code, unreachable_pub, clippy::all)]
pub mod base {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "base",
        pub_export_macro: true,
        export_macro_name: "export_base",
        default_bindings_module: "berth_plugin_sdk::base",
    });
}

/// The `storage-backend` world.
#[cfg(feature = "storage")]
#[allow(missing_docs, unsafe_code, unreachable_pub, clippy::all)]
pub mod storage {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "storage-backend",
        pub_export_macro: true,
        export_macro_name: "export_storage_backend",
        default_bindings_module: "berth_plugin_sdk::storage",
    });
}

/// The `notifier` world.
#[cfg(feature = "notifier")]
#[allow(missing_docs, unsafe_code, unreachable_pub, clippy::all)]
pub mod notifier {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "notifier",
        pub_export_macro: true,
        export_macro_name: "export_notifier",
        default_bindings_module: "berth_plugin_sdk::notifier",
    });
}

/// The `berth:plugin/host` imports of the world this build implements.
#[cfg(feature = "base")]
pub use self::base::berth::plugin::host;
#[cfg(feature = "notifier")]
pub use self::notifier::berth::plugin::host;
#[cfg(feature = "storage")]
pub use self::storage::berth::plugin::host;

#[cfg(any(feature = "base", feature = "storage", feature = "notifier"))]
pub use host::LogLevel;

/// Log through the host, tagged with this plugin's id by the host.
#[cfg(any(feature = "base", feature = "storage", feature = "notifier"))]
pub fn log(level: LogLevel, message: &str) {
    host::log(level, message);
}

/// Wall-clock time from the host, milliseconds since the Unix epoch.
#[cfg(any(feature = "base", feature = "storage", feature = "notifier"))]
pub fn now_ms() -> u64 {
    host::now_ms()
}

/// Object keys: what every storage backend accepts (the host checks the same rule
/// before calling a plugin; a plugin checks again because it must not trust input).
pub mod key {
    /// Longest key.
    pub const MAX_LEN: usize = 512;

    /// `Ok` for `/`-separated, non-empty segments of `[A-Za-z0-9._-]` that are not `.`
    /// or `..`; otherwise why not.
    pub fn check(key: &str) -> Result<(), String> {
        if key.is_empty() || key.len() > MAX_LEN {
            return Err(format!("a key has 1 to {MAX_LEN} characters"));
        }
        for seg in key.split('/') {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!("{key:?}: empty, `.` or `..` segment"));
            }
            if let Some(c) = seg
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(format!("{key:?}: character {c:?} is not allowed"));
            }
        }
        Ok(())
    }
}

/// Configuration helpers.
pub mod config {
    /// Parses `init`'s JSON into `T`; the error names the offending field (serde's
    /// message), ready for `plugin-error::invalid-config`.
    pub fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        serde_json::from_str(json).map_err(|e| e.to_string())
    }
}
