//! The plugins compiled into this binary (`wasm32-wasip2` components built by
//! `cargo xtask`; see `host/plugins/build.rs`).

/// One embedded plugin: its id (the file stem) and its component bytes.
#[derive(Debug)]
pub struct BuiltinWasm {
    pub id: &'static str,
    pub wasm: &'static [u8],
    /// sha256 of `wasm` in hex, computed by the build script.
    pub sha256: &'static str,
    /// Its `plugin.toml`, when it has one.
    pub manifest: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// The cache is keyed by the build script's hash: a wrong one would load another
    /// component's `.cwasm` (or compile needlessly).
    #[test]
    fn build_time_hashes_match_the_embedded_bytes() {
        for b in super::BUILTIN {
            assert_eq!(b.sha256, hex::encode(Sha256::digest(b.wasm)), "{}", b.id);
        }
    }
}
