//! Embeds the built web UI, gzipped and brotli-compressed.
//!
//! `cargo xtask` builds it (wasm32) into `target/ui-dist` before the host. A plain
//! `cargo build` still works without it: the UI becomes a page saying how to build it.
//! Every file goes into the binary gzipped (the UI's wasm is 2.3 MB, 0.75 MB gzipped)
//! and, where it is smaller still, brotli-compressed at its best setting (0.56 MB):
//! browsers take brotli over HTTPS and from localhost, gzip everywhere, so serving the
//! UI costs no compression at all (`src/ui.rs`). Brotli is the first page's budget
//! (docs/BENCHMARKS.md); the binary carries both copies for ~0.6 MB.

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
    let mut files = Vec::new();
    walk(&ui, &ui, &mut files);
    files.sort();
    let embedded = out.join("ui");
    fs::create_dir_all(&embedded).expect("create the embedded UI dir");
    let mut code = String::from("static ASSETS: &[Asset] = &[\n");
    for (n, path) in files.iter().enumerate() {
        let bytes = fs::read(ui.join(path)).expect("read a UI file");
        let etag = hex::encode(&Sha256::digest(&bytes)[..16]);
        let gzipped = gzip(&bytes);
        let compressed = brotli(&bytes);
        // A file gzip cannot shrink (already compressed, or tiny) is kept as it is.
        let (body, is_gzip) = if gzipped.len() < bytes.len() {
            (gzipped, true)
        } else {
            (bytes, false)
        };
        let file = embedded.join(n.to_string());
        fs::write(&file, &body).expect("write an embedded UI file");
        // Brotli only where it beats what is embedded already (never for tiny files).
        let brotli = if compressed.len() < body.len() {
            let file = embedded.join(format!("{n}.br"));
            fs::write(&file, compressed).expect("write an embedded UI file");
            format!("Some(include_bytes!({:?}))", file.display().to_string())
        } else {
            "None".to_owned()
        };
        writeln!(
            code,
            "    Asset {{ path: {path:?}, body: include_bytes!({:?}), gzipped: {is_gzip}, \
             brotli: {brotli}, etag: {etag:?}, mime: {:?} }},",
            file.display().to_string(),
            mime(path)
        )
        .expect("write to string");
    }
    code.push_str("];\n");
    fs::write(out.join("ui_assets.rs"), code).expect("write ui_assets.rs");
}

/// Every file under `dir`, as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, files: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("read the UI dir") {
        let path = entry.expect("read the UI dir").path();
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("under the root");
            let parts: Vec<&str> = relative
                .iter()
                .map(|p| p.to_str().expect("UTF-8 UI file names"))
                .collect();
            files.push(parts.join("/"));
        }
    }
}

/// The content type of the UI's file kinds (the xtask produces only these).
fn mime(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// Brotli at its densest (quality 11, a 16 MiB window: the whole wasm in one window).
fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 3);
    {
        let mut encoder = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 24);
        encoder.write_all(bytes).expect("brotli into memory");
    }
    out
}

fn dist_dir(var: &str, default: &Path) -> PathBuf {
    env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.to_path_buf())
}
