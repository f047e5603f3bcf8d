//! Sending a plugin's HTTP request to the one address the egress check approved
//! (`wasmtime_wasi_http::default_send_request` resolves the name again itself, which
//! is what DNS rebinding exploits). TLS still verifies the certificate against the
//! request's host name, and the `Host` header is the request's own.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Defaults as wasmtime-wasi-http's (the guest may set shorter ones).
const TIMEOUT: Duration = Duration::from_secs(600);

fn tls() -> &'static tokio_rustls::TlsConnector {
    static TLS: OnceLock<tokio_rustls::TlsConnector> = OnceLock::new();
    TLS.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    })
}

async fn connect(addr: SocketAddr, host: &str, use_tls: bool) -> Result<Box<dyn Stream>, Error> {
    let tcp = TcpStream::connect(addr).await.map_err(Error::Connect)?;
    if !use_tls {
        return Ok(Box::new(tcp));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => rustls::pki_types::ServerName::from(ip),
        Err(_) => rustls::pki_types::ServerName::try_from(bare.to_owned())
            .map_err(|e| Error::Tls(std::io::Error::other(e)))?,
    };
    let stream = tls().connect(name, tcp).await.map_err(Error::Tls)?;
    Ok(Box::new(stream))
}

/// Sends `req` over a connection to `addr` (HTTP/1.1, TLS when `use_tls`).
pub async fn send(
    mut req: http::Request<WasiBody>,
    addr: SocketAddr,
    host: &str,
    use_tls: bool,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, Io), Error> {
    let connect_timeout = options.and_then(|o| o.connect_timeout).unwrap_or(TIMEOUT);
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(TIMEOUT);
    let stream = tokio::time::timeout(connect_timeout, connect(addr, host, use_tls))
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    if !req.headers().contains_key(http::header::HOST)
        && let Some(a) = req.uri().authority()
        && let Ok(v) = http::HeaderValue::from_str(a.as_str())
    {
        req.headers_mut().insert(http::header::HOST, v);
    }
    // The request line carries the path only (the authority is for proxies).
    *req.uri_mut() = http::Uri::builder()
        .path_and_query(req.uri().path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    // The response arrives through the connection's I/O, which this drives until
    // the response head is in; a connection that ends first (cleanly) may still have
    // delivered it.
    let mut conn = Some(Box::pin(conn));
    let mut sending = std::pin::pin!(tokio::time::timeout(
        first_byte_timeout,
        sender.send_request(req)
    ));
    let response = std::future::poll_fn(|cx| {
        use std::task::Poll;
        if let Poll::Ready(r) = sending.as_mut().poll(cx) {
            return Poll::Ready(
                r.map_err(|_| Error::ConnectionReadTimeout)?
                    .map_err(Error::from),
            );
        }
        let Some(c) = conn.as_mut() else {
            return Poll::Pending;
        };
        match c.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(Error::from(e))),
            Poll::Ready(Ok(())) => {
                conn = None;
                match sending.as_mut().poll(cx) {
                    Poll::Ready(r) => Poll::Ready(
                        r.map_err(|_| Error::ConnectionReadTimeout)?
                            .map_err(Error::from),
                    ),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    })
    .await?;
    let res = response.map(|body| body.map_err(Error::from).boxed_unsync());
    let io: Io = Box::new(async move {
        match conn {
            Some(c) => c.await.map_err(Error::from),
            None => Ok(()),
        }
    });
    Ok((res, io))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The rebinding attack needs the request to resolve its name a second time; here
    /// the name cannot resolve at all, and the request still reaches the address the
    /// check approved — with its own `Host`.
    #[tokio::test]
    async fn the_request_goes_to_the_checked_address_not_to_a_fresh_lookup() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                head.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
            String::from_utf8(head).unwrap()
        });
        let body = http_body_util::Empty::<bytes::Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let req = http::Request::get("http://rebound.invalid:8080/hook?x=1")
            .body(body)
            .unwrap();
        let (res, io) = send(req, addr, "rebound.invalid", false, None)
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let got = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], b"ok");
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /hook?x=1 HTTP/1.1\r\n"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("host: rebound.invalid:8080"),
            "{head}"
        );
        drop(Box::into_pin(io));
    }
}
