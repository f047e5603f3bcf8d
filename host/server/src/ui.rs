//! The embedded web UI: the Yew single-page app built by `cargo xtask` (or a
//! placeholder page, see `host/server/build.rs`).
//!
//! Assets whose names carry a content hash (`name-<16 hex>.ext`, produced by the xtask)
//! are cached for a year; everything else is revalidated via ETag. Paths that look like
//! app routes (no file extension, not under `/assets/` or `/api/`) get `index.html`, so
//! deep links and reloads work.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$BERTH_UI_DIST"]
struct Assets;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
/// wasm needs `wasm-unsafe-eval`; Yew sets inline `style` attributes. No inline scripts.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
                   style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Serves an asset, the SPA shell, or 404.
pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    match Assets::get(path) {
        Some(file) => respond(path, file, &headers),
        None if is_app_route(path) => match Assets::get("index.html") {
            Some(index) => respond("index.html", index, &headers),
            None => (StatusCode::NOT_FOUND, "web UI missing from this build").into_response(),
        },
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn respond(path: &str, file: rust_embed::EmbeddedFile, req: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if is_hashed(path) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if path == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    if req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    (headers, Body::from(file.data)).into_response()
}

/// `name-0123456789abcdef.ext`: the xtask's content-hashed asset names.
fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A client-side route rather than a missing file.
fn is_app_route(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or(path);
    !path.starts_with("assets/") && !path.starts_with("api/") && !last.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert!(is_hashed("assets/ui-0123456789abcdef.wasm"));
        assert!(is_hashed("assets/xterm-0123456789abcdef.min.js"));
        assert!(!is_hashed("index.html"));
        assert!(!is_hashed("assets/ui.js"));
        assert!(!is_hashed("assets/ui-0123.js"));
        assert!(!is_hashed("assets/ui-0123456789abcdeg.js"));
    }

    #[test]
    fn routes_versus_files() {
        assert!(is_app_route("containers"));
        assert!(is_app_route("containers/abc123/logs"));
        assert!(!is_app_route("assets/missing"));
        assert!(!is_app_route("api/v1/unknown"));
        assert!(!is_app_route("favicon.ico"));
    }
}
