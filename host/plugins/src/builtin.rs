//! The plugins compiled into this binary (`wasm32-wasip2` components built by
//! `cargo xtask`; see `host/plugins/build.rs`).

use std::io::Read as _;

/// One embedded plugin: its id (the file stem) and its component bytes, gzipped.
#[derive(Debug)]
pub struct BuiltinWasm {
    pub id: &'static str,
    /// The component, gzipped by the build script: a start with a warm `.cwasm` cache
    /// never reads it, and gzip halves what it adds to the binary.
    pub wasm_gzip: &'static [u8],
    /// sha256 of the component (not of the gzip) in hex, computed by the build script.
    pub sha256: &'static str,
    /// Its `plugin.toml`, when it has one.
    pub manifest: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// Inflates an embedded component (only done when it has to be compiled).
pub fn inflate(gzipped: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut wasm = Vec::with_capacity(gzipped.len() * 3);
    flate2::read::GzDecoder::new(gzipped).read_to_end(&mut wasm)?;
    Ok(wasm)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// The cache is keyed by the build script's hash: a wrong one would load another
    /// component's `.cwasm` (or compile needlessly).
    #[test]
    fn build_time_hashes_match_the_embedded_bytes() {
        for b in super::BUILTIN {
            let wasm = super::inflate(b.wasm_gzip).expect("embedded gzip inflates");
            assert_eq!(b.sha256, hex::encode(Sha256::digest(wasm)), "{}", b.id);
        }
    }
}
