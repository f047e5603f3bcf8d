//! The HTTP endpoints a script needs besides the WebSocket: login, logout, and the
//! readiness probe a health check asks.
//! Plain HTTP/1.1 over TCP (Berth listens on loopback or behind a TLS proxy; this client
//! speaks `http://` and `ws://` only).

use berth_protocol::auth::{HttpError, LoginRequest, LoginResponse, SESSION_COOKIE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ClientError;

/// `host:port` and path prefix of an `http://` base URL.
pub(crate) fn split_base(base: &str) -> Result<(String, String), ClientError> {
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("ws://"))
        .ok_or_else(|| {
            ClientError::Connect(format!(
                "{base:?}: use an http:// URL such as http://127.0.0.1:8080 (https is not supported by this client; use an SSH tunnel or a local proxy)"
            ))
        })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(ClientError::Connect(format!("{base:?} has no host")));
    }
    let authority = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_owned()))
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
    let (authority, prefix) = split_base(base)?;
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| ClientError::Connect(format!("{authority}: {e}")))?;
    let path = format!("{prefix}{path}");
    exchange(stream, &authority, method, &path, headers, body).await
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

/// [`readiness`] over a stream the caller connected (e.g. TLS to `authority`).
pub async fn readiness_over<S>(stream: S, authority: &str) -> Result<(u16, String), ClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (status, _, body) = exchange(stream, authority, "GET", "/readyz", "", "").await?;
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
        assert_eq!(
            split_base("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1:8080".to_owned(), String::new())
        );
        assert_eq!(
            split_base("http://berth.lan/prefix/").unwrap(),
            ("berth.lan:80".to_owned(), "/prefix".to_owned())
        );
        assert!(split_base("https://x").is_err());
        assert!(split_base("http://").is_err());
    }
}
