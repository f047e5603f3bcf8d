//! Points the server at the built web UI.
//!
//! `cargo xtask` builds it (wasm32) into `target/ui-dist` before the host. A plain
//! `cargo build` still works without it: the UI becomes a page saying how to build it.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let target = manifest.join("../../target");

    println!("cargo:rerun-if-env-changed=BERTH_UI_DIST");

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
}

fn dist_dir(var: &str, default: &Path) -> PathBuf {
    env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.to_path_buf())
}
