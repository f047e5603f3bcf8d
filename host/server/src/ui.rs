//! The embedded web UI: the Yew single-page app built by `cargo xtask` (or a
//! placeholder page, see `host/server/build.rs`).
//!
//! Assets whose names carry a content hash (`name-<16 hex>.ext`, produced by the xtask)
//! are cached for a year; everything else is revalidated via ETag. Paths that look like
//! app routes (no file extension, not under `/assets/` or `/api/`) get `index.html`, so
//! deep links and reloads work.

use std::io::Read as _;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// One file of the built UI, as the build script embedded it.
struct Asset {
    /// Relative to the UI's root, `/`-separated.
    path: &'static str,
    body: &'static [u8],
    /// Whether `body` is gzipped (the build script leaves alone what gzip cannot shrink).
    gzipped: bool,
    /// The first 16 bytes of the file's sha256, hex.
    etag: &'static str,
    mime: &'static str,
}

// `ASSETS`, sorted by path (host/server/build.rs).
include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS
        .binary_search_by(|asset| asset.path.cmp(path))
        .ok()
        .map(|at| &ASSETS[at])
}

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
    match find(path) {
        Some(file) => respond(file, &headers),
        None if is_app_route(path) => match find("index.html") {
            Some(index) => respond(index, &headers),
            None => (StatusCode::NOT_FOUND, "web UI missing from this build").into_response(),
        },
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn respond(file: &'static Asset, req: &HeaderMap) -> Response {
    // The gzipped representation has its own tag; a cache holding either is current.
    let etag = format!("\"{}\"", file.etag);
    let gzip_etag = format!("\"{}.gz\"", file.etag);
    let send_gzip = file.gzipped && accepts_gzip(req);
    let mut headers = HeaderMap::new();
    let cache = if is_hashed(file.path) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let tag = if send_gzip { &gzip_etag } else { &etag };
    if let Ok(v) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, v);
    }
    if file.path == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    let if_none_match = req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|m| m == etag || m == gzip_etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.mime));
    if send_gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (headers, Body::from(file.body)).into_response();
    }
    if !file.gzipped {
        return (headers, Body::from(file.body)).into_response();
    }
    // A client without gzip (curl, a probe): inflate.
    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(file.body).read_to_end(&mut plain) {
        Ok(_) => (headers, Body::from(plain)).into_response(),
        Err(e) => {
            tracing::error!(path = file.path, error = %e, "embedded UI file does not inflate");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Whether `Accept-Encoding` allows gzip (by name or `*`, with a q-value above 0).
fn accepts_gzip(req: &HeaderMap) -> bool {
    req.get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
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
    fn gzip_is_sent_only_when_accepted() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br, zstd"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("br"));
        assert!(!with("gzip;q=0, br"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_embedded_files_are_sorted_and_have_the_shell() {
        assert!(ASSETS.windows(2).all(|w| w[0].path < w[1].path));
        assert!(find("index.html").is_some());
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
