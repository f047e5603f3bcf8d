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

use sha2::{Digest, Sha256};

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

    release_link_args();
}

/// A link option that shrinks what a release `berth` maps at start (its RSS figure, see
/// docs/BENCHMARKS.md): `-z pack-relative-relocs` stores the ~50,000 relative
/// relocations of a position-independent binary as a compact bitmap (DT_RELR, 14 KB)
/// instead of a 1.2 MiB table the loader reads whole at every start — 1.2 MB less RSS.
/// It needs glibc ≥ 2.36 where the binary runs; the Docker image's runtime stage is
/// the same Debian release as its build stage.
///
/// (`--icf=all` was measured too: 1 MB less text but only 0.4 MB less RSS, not worth
/// folding functions whose addresses some code may compare.)
///
/// Only for the default linker of x86_64 Linux (rust-lld since Rust 1.90) and a glibc
/// that knows DT_RELR; any other target or a configured linker gets a plain link.
fn release_link_args() {
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let var = |k: &str| env::var(k).unwrap_or_default();
    let custom_linker = var("CARGO_ENCODED_RUSTFLAGS").contains("linker")
        || env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some();
    if var("PROFILE") != "release"
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("HOST") != var("TARGET")
        || custom_linker
        || !glibc_at_least(2, 36)
    {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}

/// The build machine's glibc (`getconf GNU_LIBC_VERSION` prints `glibc 2.36`).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(v) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

fn dist_dir(var: &str, default: &Path) -> PathBuf {
    env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.to_path_buf())
}
