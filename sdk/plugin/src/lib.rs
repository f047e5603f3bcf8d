//! The Berth plugin SDK.
//!
//! Plugins are WebAssembly components built for `wasm32-wasip2` against the
//! `berth:plugin` WIT package (in `wit/` of the Berth repository). This crate owns the
//! generated bindings so that every plugin uses the same ones, and re-exports them per
//! world:
//!
//! ```ignore
//! use berth_plugin_sdk::base::{self, exports::berth::plugin::lifecycle::Guest};
//! struct Probe;
//! impl Guest for Probe { /* init, health */ }
//! berth_plugin_sdk::base::export_base!(Probe);
//! ```

/// The `base` world: only `lifecycle`, plus the `host` imports.
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

/// Log through the host, tagged with this plugin's id by the host.
pub fn log(level: base::berth::plugin::host::LogLevel, message: &str) {
    base::berth::plugin::host::log(level, message);
}
