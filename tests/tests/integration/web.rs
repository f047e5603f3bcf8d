//! How the host serves the embedded web UI: content types, caching, compression and
//! deep links.

use berth_tests::server::Berth;
use reqwest::header;

/// The `/assets/<prefix>-<hash><ext>` path that `index.html` references.
fn asset(index: &str, prefix: &str, ext: &str) -> String {
    index
        .split('"')
        .find(|token| token.starts_with(&format!("/assets/{prefix}-")) && token.ends_with(ext))
        .unwrap_or_else(|| panic!("no {prefix}-*{ext} asset in {index}"))
        .to_owned()
}

#[tokio::test]
async fn serves_the_ui_with_types_caching_and_compression() {
    let berth = Berth::start().await;
    let index = berth.get("/").send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()[header::CONTENT_TYPE], "text/html");
    assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
    assert!(
        index.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("'wasm-unsafe-eval'")
    );
    let etag = index.headers()[header::ETAG].clone();
    let html = index.text().await.unwrap();
    assert!(
        html.contains("<title>Berth</title>"),
        "the real UI is embedded, not the placeholder"
    );

    let not_modified = berth
        .get("/")
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);

    let wasm = asset(&html, "ui", ".wasm");
    let plain = berth.get(&wasm).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(
        plain.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let plain_etag = plain.headers()[header::ETAG].clone();
    let plain = plain.bytes().await.unwrap();
    let built = std::fs::read(
        berth_tests::workspace_root()
            .join("target/ui-dist")
            .join(wasm.trim_start_matches('/')),
    )
    .unwrap();
    assert!(plain == built, "without gzip the embedded file is inflated");
    let plain_len = plain.len();

    // A browser (brotli over HTTPS and from localhost): the brotli copy, the smallest.
    let r = berth
        .get(&wasm)
        .header(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(r.headers()[header::VARY], "accept-encoding");
    let brotli_etag = r.headers()[header::ETAG].clone();
    let brotli = r.bytes().await.unwrap();
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut brotli::Decompressor::new(&brotli[..], 64 * 1024),
        &mut decoded,
    )
    .unwrap();
    assert!(
        decoded == built,
        "the brotli wasm decodes to the built file"
    );

    // gzip only (a browser over plain HTTP to another host).
    let r = berth
        .get(&wasm)
        .header(header::ACCEPT_ENCODING, "gzip, deflate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    let gzip_etag = r.headers()[header::ETAG].clone();
    let compressed = r.bytes().await.unwrap();
    assert!(
        compressed.len() < plain_len / 2,
        "{} vs {plain_len}",
        compressed.len()
    );
    assert!(
        brotli.len() < compressed.len(),
        "brotli {} vs gzip {}",
        brotli.len(),
        compressed.len()
    );
    // Sent as embedded (compressed at build time), each under its own tag; a cache
    // holding another copy is still current.
    assert_ne!(gzip_etag, plain_etag);
    assert_ne!(brotli_etag, gzip_etag);
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut inflated,
    )
    .unwrap();
    assert!(
        inflated == built,
        "the gzipped wasm inflates to the built file"
    );
    for tag in [plain_etag, brotli_etag] {
        let cached = berth
            .get(&wasm)
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(header::IF_NONE_MATCH, tag)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), 304);
    }
    // A client that takes neither gets the plain file.
    let zstd_only = berth
        .get(&wasm)
        .header(header::ACCEPT_ENCODING, "zstd")
        .send()
        .await
        .unwrap();
    assert!(zstd_only.headers().get(header::CONTENT_ENCODING).is_none());
    assert!(zstd_only.bytes().await.unwrap() == built);
    let css = berth
        .get(&asset(&html, "berth", ".css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()[header::CONTENT_TYPE], "text/css");
    let js = berth
        .get(&asset(&html, "boot", ".js"))
        .send()
        .await
        .unwrap();
    assert!(
        js.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
}

#[tokio::test]
async fn deep_links_get_the_app_and_missing_files_get_404() {
    let berth = Berth::start().await;
    for path in ["/containers", "/backups/abc/restore", "/settings"] {
        let r = berth.get(path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.text().await.unwrap().contains("<title>Berth</title>"),
            "{path}"
        );
    }
    for path in [
        "/assets/missing-0123456789abcdef.js",
        "/favicon.ico",
        "/api/v1/nothing",
    ] {
        assert_eq!(
            berth.get(path).send().await.unwrap().status(),
            404,
            "{path}"
        );
    }
    // Vendored xterm.js ships with its licence.
    let licence = berth
        .get("/assets/licenses/LICENSE.xterm.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(licence.status(), 200);
    assert!(licence.text().await.unwrap().contains("MIT"));
}
