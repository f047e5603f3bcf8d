//! Who a request came from when Berth sits behind a reverse proxy. `X-Forwarded-For`
//! and `X-Forwarded-Proto` are anyone's to send: they are believed only from a peer
//! inside `trusted_proxies`, and then only as far as the chain stays inside it — the
//! address used is the rightmost one not itself a trusted proxy. Without the setting
//! the TCP peer is the client, so a spoofed header cannot dodge the login lockout or
//! put another address in the audit log.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// An address block such as `10.0.0.0/8`, `127.0.0.1` (a /32) or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `None` for anything that is not an address with an optional prefix length.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> u128 {
            match ip {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let shift = if ip.is_ipv4() { 32 } else { 128 } - u32::from(self.prefix);
        let mask = if self.prefix == 0 {
            0
        } else {
            u128::MAX << (shift + if ip.is_ipv4() { 96 } else { 0 })
        };
        bits(ip) & mask == bits(self.addr) & mask
    }
}

/// A request's client as far as Berth can trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    /// Whether the client's connection was HTTPS (a trusted proxy said so).
    pub https: bool,
}

impl Client {
    /// The client as a socket address (its port the peer's), for what logs one.
    pub fn addr(&self, peer: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.ip, peer.port())
    }
}

/// The client of a request from `peer` carrying `headers`.
pub fn client(peer: SocketAddr, headers: &HeaderMap, trusted: &[Cidr]) -> Client {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer.ip()) {
        return Client {
            ip: peer.ip(),
            https: false,
        };
    }
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|a| a.parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    // Right to left: each hop appended the address it saw; stop at the first that is
    // not one of ours (what lies left of it, that client wrote itself).
    let ip = chain
        .iter()
        .rev()
        .copied()
        .find(|ip| !is_trusted(*ip))
        .or_else(|| chain.first().copied())
        .unwrap_or(peer.ip());
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    Client { ip, https }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "example.com", "10.0.0/8", "::/129", ""] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let spoof = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let untrusted = client(peer, &spoof, &[]);
        assert_eq!((untrusted.ip, untrusted.https), (peer.ip(), false));
        let trusted = [Cidr::parse("10.0.0.0/24").unwrap()];
        let seen = client(peer, &spoof, &trusted);
        assert_eq!(seen.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert!(seen.https);
        // The client wrote the leftmost entry itself; the proxy appended the real one.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.3")]);
        let seen = client(peer, &chain, &trusted);
        assert_eq!(seen.ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        let garbage = headers(&[("x-forwarded-for", "nonsense")]);
        assert_eq!(client(peer, &garbage, &trusted).ip, peer.ip());
    }
}
