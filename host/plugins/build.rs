//! Embeds the built-in plugins.
//!
//! `cargo xtask` builds them (wasm32-wasip2) into `target/plugins-dist` before the host.
//! A plain `cargo build` still works without them: no plugin is embedded (`/readyz`
//! then reports the missing plugins).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

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
            let sha256 = hex::encode(Sha256::digest(fs::read(&abs).expect("read plugin")));
            writeln!(
                code,
                "    BuiltinWasm {{ id: {id:?}, wasm: include_bytes!({:?}), sha256: {sha256:?}, manifest: {manifest} }},",
                abs.display().to_string()
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

fn dist_dir(var: &str, default: &Path) -> PathBuf {
    env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.to_path_buf())
}
