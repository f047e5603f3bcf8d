//! Embeds the built-in plugins.
//!
//! `cargo xtask` builds them (wasm32-wasip2) into `target/plugins-dist` before the host.
//! A plain `cargo build` still works without them: no plugin is embedded (`/readyz`
//! then reports the missing plugins).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let target = manifest.join("../../target");
    println!("cargo:rerun-if-env-changed=BERTH_PLUGINS_DIST");
    let plugins = dist_dir("BERTH_PLUGINS_DIST", &target.join("plugins-dist"));
    let mut code = String::from("pub static BUILTIN: &[BuiltinWasm] = &[\n");
    // Watched even when missing (cargo then re-runs this script every build), so the
    // plugins are picked up as soon as the xtask has built them.
    println!("cargo:rerun-if-changed={}", plugins.display());
    if plugins.is_dir() {
        let mut wasm: Vec<PathBuf> = fs::read_dir(&plugins)
            .expect("read plugins dist")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        wasm.sort();
        for path in wasm {
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("utf-8 plugin file name");
            let abs = path.canonicalize().expect("canonical plugin path");
            let manifest = path.with_extension("toml");
            let manifest = if manifest.is_file() {
                let abs = manifest.canonicalize().expect("canonical manifest path");
                format!("Some(include_str!({:?}))", abs.display().to_string())
            } else {
                "None".to_owned()
            };
            // Hashed here, not at start: hashing would read every embedded byte, and
            // with a warm `.cwasm` cache nothing else does (start time and RSS).
            let wasm = fs::read(&abs).expect("read plugin");
            let sha256 = hex::encode(Sha256::digest(&wasm));
            // Embedded gzipped: the bytes are only read on a cache miss, and the
            // components are half the binary's size otherwise (docs/BENCHMARKS.md).
            let gzipped = out.join(format!("{id}.wasm.gz"));
            fs::write(&gzipped, gzip(&wasm)).expect("write gzipped plugin");
            writeln!(
                code,
                "    BuiltinWasm {{ id: {id:?}, wasm_gzip: include_bytes!({:?}), sha256: {sha256:?}, manifest: {manifest} }},",
                gzipped.display().to_string()
            )
            .expect("write to string");
        }
    } else {
        println!(
            "cargo:warning=built-in plugins not built; none embedded (run `cargo xtask dist`)"
        );
    }
    code.push_str("];\n");
    fs::write(out.join("builtin_plugins.rs"), code).expect("write builtin_plugins.rs");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn dist_dir(var: &str, default: &Path) -> PathBuf {
    env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.to_path_buf())
}
