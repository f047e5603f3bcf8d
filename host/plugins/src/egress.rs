//! Outgoing HTTP from plugins: the allow-list every request passes through.
//!
//! A plugin with HTTP in its manifest gets `wasi:http` linked; every request it makes
//! reaches [`EgressPolicy::send_request`] (wasmtime's send hook) before any socket is
//! opened. A request goes out only when its `scheme://host:port` matches both a pattern
//! of the manifest (what the plugin may ever do) and one the admin granted the
//! instance, and — unless the instance is explicitly allowed private networks — when
//! every address the host name resolves to is public (no loopback, private, link-local
//! or CGNAT ranges: a webhook URL must not become a way into the LAN or to Berth's own
//! port). Denials are logged with the plugin id and the origin only (a URL's path or
//! query may hold a token) and reported to the user by the host, not left to the
//! plugin's wording.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::pinned;

/// `scheme://host[:port]`: `*` matches any host, `*.example.com` any subdomain (not the
/// domain itself), a missing port the scheme's default, `:*` any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    scheme: String,
    host: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `.example.com` (with the dot).
    Suffix(String),
    Exact(String),
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?}: expected scheme://host[:port]"))?;
        if scheme != "http" && scheme != "https" {
            return Err(format!("{text:?}: scheme must be http or https"));
        }
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('@') || rest.is_empty() {
            return Err(format!("{text:?}: expected scheme://host[:port], no path"));
        }
        // IPv6 literals are bracketed: [::1]:8080.
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, Some(p)),
            _ => (rest, None),
        };
        let port = match port {
            None => Some(default_port(scheme)),
            Some("*") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("{text:?}: port {p:?} is not a number or *"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{domain}"))
        } else if host.contains('*') {
            return Err(format!(
                "{text:?}: `*` only as the whole host or as `*.domain`"
            ));
        } else {
            HostPattern::Exact(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            )
        };
        Ok(Self {
            scheme: scheme.to_owned(),
            host,
            port,
        })
    }

    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.scheme == scheme
            && self.port.is_none_or(|p| p == port)
            && match &self.host {
                HostPattern::Any => true,
                HostPattern::Suffix(s) => host.ends_with(s.as_str()),
                HostPattern::Exact(h) => h == host,
            }
    }
}

impl Pattern {
    /// Whether everything `self` allows, one of `wider` allows too (an instance's
    /// grant must stay within its plugin's manifest).
    pub fn within(&self, wider: &[Pattern]) -> bool {
        wider.iter().any(|w| {
            w.scheme == self.scheme
                && (w.port.is_none() || w.port == self.port)
                && match (&w.host, &self.host) {
                    (HostPattern::Any, _) => true,
                    (HostPattern::Suffix(s), HostPattern::Suffix(t)) => t.ends_with(s.as_str()),
                    (HostPattern::Suffix(s), HostPattern::Exact(h)) => h.ends_with(s.as_str()),
                    (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
                    _ => false,
                }
        })
    }

    /// Whether a request to `url` matches.
    pub fn allows_url(&self, url: &str) -> bool {
        let Ok(uri) = url.parse::<http::Uri>() else {
            return false;
        };
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        self.matches(scheme, host, uri.port_u16().unwrap_or(default_port(scheme)))
    }
}

/// The origin pattern of a URL (`https://hooks.example.com:443`): what the UI offers
/// to grant when an admin enters a URL.
pub fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let host = uri.host()?;
    let port = uri.port_u16().unwrap_or(default_port(scheme));
    Some(format!("{scheme}://{host}:{port}"))
}

/// Loopback, private, link-local, CGNAT, unspecified, multicast/broadcast and the
/// IPv6 equivalents (and IPv4 mapped into IPv6).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// What one store's plugin may reach. The default denies everything.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    plugin: String,
    manifest: Vec<Pattern>,
    granted: Vec<Pattern>,
    allow_private: bool,
    /// The last denial's reason, read by the host after the call to tell the user.
    denied: Arc<Mutex<Option<String>>>,
}

impl EgressPolicy {
    pub fn new(
        plugin: &str,
        manifest: Vec<Pattern>,
        granted: Vec<Pattern>,
        allow_private: bool,
    ) -> Self {
        Self {
            plugin: plugin.to_owned(),
            manifest,
            granted,
            allow_private,
            denied: Arc::default(),
        }
    }

    /// The handle through which the host reads a denial after a call.
    pub fn denials(&self) -> Arc<Mutex<Option<String>>> {
        self.denied.clone()
    }

    /// Why `(scheme, host, port)` may not be reached, before any name resolution.
    fn refuse_by_pattern(&self, scheme: &str, host: &str, port: u16) -> Option<String> {
        let origin = format!("{scheme}://{host}:{port}");
        if !self.manifest.iter().any(|p| p.matches(scheme, host, port)) {
            return Some(format!(
                "{origin} is outside what the plugin's manifest allows"
            ));
        }
        if !self.granted.iter().any(|p| p.matches(scheme, host, port)) {
            return Some(format!(
                "{origin} is not in the instance's egress allow-list (grant it in the instance's settings)"
            ));
        }
        None
    }

    /// The full check: patterns, then the name resolved once and every address it
    /// resolves to. Returns the address to connect to — the request goes there and
    /// nowhere else, so a name that resolves differently a moment later (DNS
    /// rebinding) cannot lead the request into the LAN. A name that does not resolve
    /// is refused.
    async fn check(&self, scheme: &str, host: &str, port: u16) -> Result<SocketAddr, String> {
        if let Some(why) = self.refuse_by_pattern(scheme, host, port) {
            return Err(why);
        }
        let origin = format!("{scheme}://{host}:{port}");
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => match tokio::net::lookup_host((bare, port)).await {
                Ok(it) => it.collect(),
                Err(e) => return Err(format!("{origin}: the name does not resolve ({e})")),
            },
        };
        let first = *addrs
            .first()
            .ok_or_else(|| format!("{origin}: the name resolves to no address"))?;
        if !self.allow_private
            && let Some(a) = addrs.iter().find(|a| is_private(a.ip()))
        {
            return Err(format!(
                "{origin} resolves to the private or loopback address {}; \
                 allow private networks for this instance to reach it",
                a.ip()
            ));
        }
        Ok(first)
    }
}

type Io = Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>;

impl WasiHttpHooks for EgressPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Io,
    ) -> Box<dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, Io)>> + Send>
    {
        let policy = self.clone();
        Box::new(async move {
            let uri = request.uri();
            let scheme = uri.scheme_str().unwrap_or("https").to_owned();
            let host = uri.host().unwrap_or("").to_owned();
            let port = uri.port_u16().unwrap_or(default_port(&scheme));
            let addr = match policy.check(&scheme, &host, port).await {
                Ok(a) => a,
                Err(why) => {
                    tracing::warn!(plugin = policy.plugin, origin = %format!("{scheme}://{host}:{port}"), reason = why, "plugin request denied");
                    *policy.denied.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                    return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
                }
            };
            let (res, io) = pinned::send(request, addr, &host, scheme == "https", options).await?;
            Ok((res, io))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = |s| Pattern::parse(s).unwrap();
        assert!(p("https://*").matches("https", "hooks.slack.com", 443));
        assert!(!p("https://*").matches("https", "x", 8443));
        assert!(!p("https://*").matches("http", "x", 80));
        assert!(p("https://*:*").matches("https", "x", 8443));
        assert!(p("http://127.0.0.1:8080").matches("http", "127.0.0.1", 8080));
        assert!(!p("http://127.0.0.1:8080").matches("http", "127.0.0.1", 8081));
        assert!(p("https://*.example.com").matches("https", "a.Example.com", 443));
        assert!(!p("https://*.example.com").matches("https", "example.com", 443));
        assert!(!p("https://*.example.com").matches("https", "badexample.com", 443));
        assert!(p("http://[::1]:9000").matches("http", "[::1]", 9000));
        for bad in [
            "ftp://x",
            "x",
            "https://a/b",
            "https://a*b",
            "https://u@h",
            "http://h:x",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
        let manifest = [p("https://*:*"), p("http://*.lan:*")];
        assert!(p("https://hooks.slack.com").within(&manifest));
        assert!(p("https://*").within(&manifest));
        assert!(p("http://nas.lan:8080").within(&manifest));
        assert!(p("http://*.home.lan").within(&manifest));
        assert!(!p("http://example.com").within(&manifest));
        assert!(!p("http://*").within(&manifest));
        assert!(p("https://ntfy.sh").allows_url("https://ntfy.sh/topic"));
        assert!(!p("https://ntfy.sh").allows_url("https://ntfy.sh:8443/topic"));
        assert!(!p("https://ntfy.sh").allows_url("not a url"));
        assert_eq!(
            origin_of("https://ntfy.sh/topic?x=1").as_deref(),
            Some("https://ntfy.sh:443")
        );
        assert_eq!(
            origin_of("http://10.1.2.3:8080/hook").as_deref(),
            Some("http://10.1.2.3:8080")
        );
    }

    #[test]
    fn private_addresses() {
        for ip in [
            "127.0.0.1",
            "10.2.3.4",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn policy_needs_manifest_grant_and_public_addresses() {
        let p = |s| Pattern::parse(s).unwrap();
        let policy = EgressPolicy::new(
            "t",
            vec![p("http://*:*")],
            vec![p("http://127.0.0.1:9")],
            false,
        );
        let e = policy.check("http", "127.0.0.1", 9).await.unwrap_err();
        assert!(e.contains("private or loopback"), "{e}");
        // A name that does not resolve is refused, not passed on to resolve again.
        let any = EgressPolicy::new("t", vec![p("http://*:*")], vec![p("http://*:*")], false);
        let e = any.check("http", "nowhere.invalid", 80).await.unwrap_err();
        assert!(e.contains("does not resolve"), "{e}");
        // A name is resolved once; every address must be public (localhost is not).
        let e = any.check("http", "localhost", 80).await.unwrap_err();
        assert!(e.contains("private or loopback"), "{e}");
        let e = policy.check("http", "127.0.0.1", 10).await.unwrap_err();
        assert!(e.contains("not in the instance's egress allow-list"), "{e}");
        let e = policy.check("https", "127.0.0.1", 9).await.unwrap_err();
        assert!(e.contains("manifest"), "{e}");
        let open = EgressPolicy::new(
            "t",
            vec![p("http://*:*")],
            vec![p("http://127.0.0.1:9")],
            true,
        );
        assert_eq!(
            open.check("http", "127.0.0.1", 9).await.unwrap(),
            "127.0.0.1:9".parse().unwrap(),
            "the checked address is the one connected to"
        );
        assert!(
            EgressPolicy::default()
                .check("https", "example.com", 443)
                .await
                .is_err()
        );
    }
}
