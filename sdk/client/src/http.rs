//! The HTTP endpoints a script needs besides the WebSocket: login, logout, and the
//! readiness probe a health check asks. HTTP/1.1 over TCP, or over TLS for `https://`
//! (see [`crate::tls`] for whom it trusts).

use berth_protocol::auth::{HttpError, LoginRequest, LoginResponse, SESSION_COOKIE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ClientError;

/// Where a base URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base {
    /// `https://` or `wss://`.
    pub tls: bool,
    /// `host:port` (the scheme's port when the URL names none).
    pub authority: String,
    /// The host alone, without brackets (what a certificate names).
    pub host: String,
    /// The path prefix, without a trailing `/`.
    pub prefix: String,
}

/// Splits an `http://`, `https://`, `ws://` or `wss://` base URL.
pub(crate) fn split_base(base: &str) -> Result<Base, ClientError> {
    let schemes = [
        ("http://", false),
        ("ws://", false),
        ("https://", true),
        ("wss://", true),
    ];
    let (rest, tls) = schemes
        .iter()
        .find_map(|(scheme, tls)| base.strip_prefix(scheme).map(|rest| (rest, *tls)))
        .ok_or_else(|| {
            ClientError::Connect(format!(
                "{base:?}: use an http:// or https:// URL such as http://127.0.0.1:8080"
            ))
        })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(ClientError::Connect(format!("{base:?} has no host")));
    }
    let has_port = authority.contains(':') && !authority.ends_with(']');
    let host = if has_port {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    } else {
        authority
    };
    let authority = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    Ok(Base {
        tls,
        authority,
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        prefix: path.to_owned(),
    })
}

async fn post(
    base: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Result<(u16, String, String), ClientError> {
    request(base, "POST", path, headers, body).await
}

/// One request; (status, head, body) of the answer.
async fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Result<(u16, String, String), ClientError> {
    let base = split_base(base)?;
    let path = format!("{}{path}", base.prefix);
    if base.tls {
        let stream =
            crate::tls::connect(&base.authority, &base.host, crate::tls::config()?).await?;
        return exchange(stream, &base.authority, method, &path, headers, body).await;
    }
    let stream = tokio::net::TcpStream::connect(&base.authority)
        .await
        .map_err(|e| ClientError::Connect(format!("{}: {e}", base.authority)))?;
    exchange(stream, &base.authority, method, &path, headers, body).await
}

/// One request over a connected stream (plain TCP, or TLS the caller set up).
async fn exchange<S>(
    mut stream: S,
    authority: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Result<(u16, String, String), ClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    let mut raw = Vec::new();
    match (&mut stream).take(1 << 20).read_to_end(&mut raw).await {
        Ok(_) => {}
        // A TLS peer that closes without close_notify: the answer is whole anyway
        // (`Connection: close`), and its status line says how it went.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(ClientError::Connect(e.to_string())),
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| ClientError::Protocol("truncated HTTP response".to_owned()))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ClientError::Protocol("no HTTP status".to_owned()))?;
    Ok((status, head.to_owned(), body.to_owned()))
}

/// Logs in; returns the session token (what the `berth_session` cookie carries) and
/// the answer.
pub async fn login(base: &str, req: &LoginRequest) -> Result<(String, LoginResponse), ClientError> {
    let body = serde_json::to_string(req).expect("serialisable");
    let (status, head, body) = post(base, "/api/v1/auth/login", "", &body).await?;
    if status != 200 {
        return Err(match serde_json::from_str::<HttpError>(&body) {
            Ok(e) => ClientError::Server(e.error),
            Err(_) => ClientError::Protocol(format!("login answered HTTP {status}")),
        });
    }
    let token = head
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("set-cookie").then_some(v.trim())
        })
        .find_map(|v| v.strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Protocol("login set no session cookie".to_owned()))?;
    let resp = serde_json::from_str(&body).map_err(|e| ClientError::Protocol(e.to_string()))?;
    Ok((token, resp))
}

/// `GET /readyz`: its status (200 when ready, 503 otherwise) and its JSON body.
pub async fn readiness(base: &str) -> Result<(u16, String), ClientError> {
    let (status, _, body) = request(base, "GET", "/readyz", "", "").await?;
    Ok((status, body))
}

/// [`readiness`] of an `https://` URL, trusting what `tls` trusts (e.g. exactly one
/// pinned certificate) instead of the system's CAs.
pub async fn readiness_trusting(
    base: &str,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<(u16, String), ClientError> {
    let base = split_base(base)?;
    if !base.tls {
        return Err(ClientError::Connect(
            "a trusted certificate applies only to an https:// URL".to_owned(),
        ));
    }
    let stream = crate::tls::connect(&base.authority, &base.host, tls).await?;
    let path = format!("{}/readyz", base.prefix);
    let (status, _, body) = exchange(stream, &base.authority, "GET", &path, "", "").await?;
    Ok((status, body))
}

/// Ends the session of `token`.
pub async fn logout(base: &str, token: &str) -> Result<(), ClientError> {
    let (status, _, _) = post(
        base,
        "/api/v1/auth/logout",
        &format!("Authorization: Bearer {token}\r\n"),
        "",
    )
    .await?;
    if status == 204 {
        Ok(())
    } else {
        Err(ClientError::Protocol(format!(
            "logout answered HTTP {status}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let base = |tls: bool, authority: &str, host: &str, prefix: &str| Base {
            tls,
            authority: authority.to_owned(),
            host: host.to_owned(),
            prefix: prefix.to_owned(),
        };
        assert_eq!(
            split_base("http://127.0.0.1:8080").unwrap(),
            base(false, "127.0.0.1:8080", "127.0.0.1", "")
        );
        assert_eq!(
            split_base("http://berth.lan/prefix/").unwrap(),
            base(false, "berth.lan:80", "berth.lan", "/prefix")
        );
        assert_eq!(
            split_base("https://berth.example.com").unwrap(),
            base(true, "berth.example.com:443", "berth.example.com", "")
        );
        assert_eq!(
            split_base("wss://[::1]:8443/").unwrap(),
            base(true, "[::1]:8443", "::1", "")
        );
        assert!(split_base("ftp://x").is_err());
        assert!(split_base("http://").is_err());
    }
}
