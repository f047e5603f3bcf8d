//! Points the host at the built web UI and built-in plugins.
//!
//! `cargo xtask` builds both (wasm32 targets) into `target/ui-dist` and
//! `target/plugins-dist` before building the host. A plain `cargo build` still works
//! without them: the UI becomes a page saying how to build it, and no plugin is
//! embedded (`/readyz` then reports the missing plugins).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let target = manifest.join("../target");

    println!("cargo:rerun-if-env-changed=BERTH_UI_DIST");
    println!("cargo:rerun-if-env-changed=BERTH_PLUGINS_DIST");

    let ui = dist_dir("BERTH_UI_DIST", &target.join("ui-dist"));
    println!("cargo:rerun-if-changed={}", ui.display());
    let ui = if ui.join("index.html").is_file() {
        ui
    } else {
        let placeholder = out.join("ui-placeholder");
        fs::create_dir_all(&placeholder).expect("create placeholder dir");
        fs::write(
            placeholder.join("index.html"),
            "<!doctype html><meta charset=utf-8><link rel=icon href=\"data:,\"><title>Berth</title>\
             <p>This Berth binary was built without its web UI. Build it with \
             <code>cargo xtask dist</code> (or start it with <code>cargo xtask run</code>).</p>",
        )
        .expect("write placeholder");
        println!(
            "cargo:warning=web UI not built; embedding a placeholder (run `cargo xtask dist`)"
        );
        placeholder
    };
    println!("cargo:rustc-env=BERTH_UI_DIST={}", ui.display());

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
            writeln!(
                code,
                "    BuiltinWasm {{ id: {id:?}, wasm: include_bytes!({:?}), manifest: {manifest} }},",
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
