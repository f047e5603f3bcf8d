//! A plain GET of a Docker API path, for the answers bollard's models read wrong on the
//! engines users run: `/system/df` is modelled in API 1.53's shape, so a 1.41 engine's
//! per-volume sizes deserialise to nothing. HTTP/1.0 over the host's own endpoint —
//! the engine answers with a length and closes — so no second HTTP client is needed.
//! TLS endpoints are not spoken here; callers say what they could not measure.

use std::time::Duration;

use berth_core::error::Kind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{DockerError, Endpoint};

/// Answers larger than this are refused rather than held (a `/system/df` of a host with
/// thousands of objects is a few MiB).
const MOST: u64 = 64 * 1024 * 1024;

/// GETs `path` (with its `/v1.xx` prefix) and returns the body of a 200 answer; an
/// error answer becomes [`DockerError::Answered`] with the engine's message.
pub async fn get(
    endpoint: Option<&Endpoint>,
    path: &str,
    timeout: Duration,
) -> Result<Vec<u8>, DockerError> {
    let answer = tokio::time::timeout(timeout, exchange(endpoint, path))
        .await
        .map_err(|_| unavailable(format!("Docker did not answer {path} within {timeout:?}")))??;
    parse(&answer, path)
}

fn unavailable(message: String) -> DockerError {
    DockerError::Answered {
        kind: Kind::Unavailable,
        message,
    }
}

async fn exchange(endpoint: Option<&Endpoint>, path: &str) -> Result<Vec<u8>, DockerError> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n");
    let cannot = |e: std::io::Error| unavailable(format!("cannot reach Docker: {e}"));
    match resolved(endpoint)? {
        Endpoint::Unix(socket) => {
            let stream = tokio::net::UnixStream::connect(&socket)
                .await
                .map_err(cannot)?;
            send(stream, &request).await.map_err(cannot)
        }
        Endpoint::Tcp(url) => {
            let address = url
                .trim_start_matches("tcp://")
                .trim_start_matches("http://")
                .trim_end_matches('/');
            let stream = tokio::net::TcpStream::connect(address)
                .await
                .map_err(cannot)?;
            send(stream, &request).await.map_err(cannot)
        }
        Endpoint::Https(url) => Err(unavailable(format!(
            "reading {path} raw over TLS ({url}) is not supported yet"
        ))),
    }
}

/// The endpoint a client with no explicit one uses: `DOCKER_HOST`, else the local
/// socket; a TLS-verified TCP endpoint counts as TLS.
fn resolved(endpoint: Option<&Endpoint>) -> Result<Endpoint, DockerError> {
    let endpoint = match endpoint {
        Some(e) => e.clone(),
        None => match std::env::var("DOCKER_HOST") {
            Ok(url) => Endpoint::parse(&url).map_err(|why| DockerError::bad("DOCKER_HOST", why))?,
            Err(_) => Endpoint::Unix("/var/run/docker.sock".into()),
        },
    };
    Ok(match endpoint {
        Endpoint::Tcp(url) if std::env::var_os("DOCKER_TLS_VERIFY").is_some() => {
            Endpoint::Https(url)
        }
        other => other,
    })
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> std::io::Result<Vec<u8>> {
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.take(MOST + 1).read_to_end(&mut answer).await?;
    if answer.len() as u64 > MOST {
        return Err(std::io::Error::other(format!(
            "the answer is larger than {} MiB",
            MOST >> 20
        )));
    }
    Ok(answer)
}

/// The body of a 200 answer, or the engine's error.
fn parse(answer: &[u8], path: &str) -> Result<Vec<u8>, DockerError> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| unavailable(format!("Docker's answer to {path} has no header end")))?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let body = answer[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unavailable(format!("Docker's answer to {path} has no status")))?;
    if status == 200 {
        return Ok(body);
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("Docker answered {status} to {path}"));
    let kind = match status {
        404 => Kind::NotFound,
        400 => Kind::BadRequest,
        503 => Kind::Unavailable,
        _ => Kind::Internal,
    };
    Err(DockerError::Answered { kind, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_comes_back_and_an_error_keeps_the_engine_s_message() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse(ok, "/x").unwrap(), b"{}");
        let refused = b"HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"page not found\"}";
        let e = parse(refused, "/x").unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string().as_str()),
            (Kind::NotFound, "page not found")
        );
        assert!(parse(b"garbage", "/x").is_err());
    }
}
