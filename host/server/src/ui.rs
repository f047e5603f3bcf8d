//! The embedded web UI: the Yew single-page app built by `cargo xtask` (or a
//! placeholder page, see `host/server/build.rs`).
//!
//! Each file is embedded compressed (brotli and gzip, done by the build script) and
//! sent in the best coding the client accepts, so serving costs no compression.
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
    /// The file brotli-compressed, where that is smaller than `body`.
    brotli: Option<&'static [u8]>,
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

/// The representations of a file, best first: what is sent is the first the client
/// accepts. Each has its own ETag; a cache holding any of them is current.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    fn name(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gzip"),
            Self::Identity => None,
        }
    }

    fn etag(self, file: &Asset) -> String {
        match self {
            Self::Brotli => format!("\"{}.br\"", file.etag),
            Self::Gzip => format!("\"{}.gz\"", file.etag),
            Self::Identity => format!("\"{}\"", file.etag),
        }
    }

    /// The best representation `file` has that the request accepts.
    fn choose(file: &Asset, req: &HeaderMap) -> Self {
        if file.brotli.is_some() && accepts(req, "br") {
            Self::Brotli
        } else if file.gzipped && accepts(req, "gzip") {
            Self::Gzip
        } else {
            Self::Identity
        }
    }
}

fn respond(file: &'static Asset, req: &HeaderMap) -> Response {
    let coding = Coding::choose(file, req);
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
    if let Ok(v) = HeaderValue::from_str(&coding.etag(file)) {
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
    let current = [Coding::Brotli, Coding::Gzip, Coding::Identity];
    if if_none_match.is_some_and(|m| current.iter().any(|c| c.etag(file) == m)) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.mime));
    if let Some(name) = coding.name() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
    }
    match (coding, file.brotli) {
        (Coding::Brotli, Some(body)) => (headers, Body::from(body)).into_response(),
        (Coding::Gzip, _) => (headers, Body::from(file.body)).into_response(),
        _ if !file.gzipped => (headers, Body::from(file.body)).into_response(),
        _ => inflated(file, headers),
    }
}

/// A client that takes neither brotli nor gzip (curl, a probe): the file inflated.
fn inflated(file: &'static Asset, headers: HeaderMap) -> Response {
    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(file.body).read_to_end(&mut plain) {
        Ok(_) => (headers, Body::from(plain)).into_response(),
        Err(e) => {
            tracing::error!(path = file.path, error = %e, "embedded UI file does not inflate");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Whether `Accept-Encoding` allows `coding` (by name or `*`, with a q-value above 0).
fn accepts(req: &HeaderMap, coding: &str) -> bool {
    req.get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|offered| {
            let mut parts = offered.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
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
    fn a_coding_is_sent_only_when_accepted() {
        let with = |value: &str, coding: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepts(&headers, coding)
        };
        assert!(with("gzip, deflate, br, zstd", "gzip"));
        assert!(with("gzip, deflate, br, zstd", "br"));
        assert!(with("br;q=1.0, gzip;q=0.8", "gzip"));
        assert!(with("*", "gzip"));
        assert!(with("*", "br"));
        assert!(!with("br", "gzip"));
        assert!(!with("gzip", "br"));
        assert!(!with("gzip;q=0, br", "gzip"));
        assert!(!with("gzip, br;q=0", "br"));
        assert!(!with("identity", "gzip"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn brotli_first_then_gzip_then_plain() {
        let asset = |gzipped, brotli| Asset {
            path: "assets/ui-0123456789abcdef.wasm",
            body: b"",
            gzipped,
            brotli,
            etag: "00",
            mime: "application/wasm",
        };
        let mut all = HeaderMap::new();
        all.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br, zstd"),
        );
        let mut gzip_only = HeaderMap::new();
        gzip_only.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let both = asset(true, Some(&b"br"[..]));
        assert_eq!(Coding::choose(&both, &all), Coding::Brotli);
        assert_eq!(Coding::choose(&both, &gzip_only), Coding::Gzip);
        assert_eq!(Coding::choose(&both, &HeaderMap::new()), Coding::Identity);
        // Tiny files are embedded as they are.
        assert_eq!(Coding::choose(&asset(false, None), &all), Coding::Identity);
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
