//! The plugins compiled into this binary (`wasm32-wasip2` components built by
//! `cargo xtask`; see `host/build.rs`).

/// One embedded plugin: its id (the file stem) and its component bytes.
#[derive(Debug)]
pub struct BuiltinWasm {
    pub id: &'static str,
    pub wasm: &'static [u8],
    /// Its `plugin.toml`, when it has one.
    pub manifest: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
