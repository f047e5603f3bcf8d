//! opendal's HTTP transport over the host's `wasi:http` (through wstd): the plugin
//! has no sockets, so every S3 request leaves through the host, which lets it through
//! only to the origins granted to the instance.

use std::time::Duration;

use futures_util::StreamExt;
use http::header::CONTENT_LENGTH;
use http_body_util::BodyDataStream;
use opendal::{Buffer, Error, ErrorKind, HttpBody, HttpTransport};

/// Sends each request with wstd's client.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiHttp;

fn send_error(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::new(ErrorKind::Unexpected, format!("wasi:http {what}: {e:?}")).set_temporary()
}

impl HttpTransport for WasiHttp {
    async fn fetch(&self, req: http::Request<Buffer>) -> opendal::Result<http::Response<HttpBody>> {
        let (mut parts, body) = req.into_parts();
        let head = parts.method == http::Method::HEAD;
        // A body of unknown length goes chunked, which S3 servers refuse (notes §6).
        if !parts.headers.contains_key(CONTENT_LENGTH) {
            parts.headers.insert(CONTENT_LENGTH, body.len().into());
        }
        // The buffer's chunks as they are: joining them first would hold a multipart
        // upload's part twice. An empty body is an empty stream too: a zero-byte write
        // races the host closing the body and resets the connection (notes §6).
        let body = wstd::http::Body::from_stream(futures_util::stream::iter(body));
        let mut client = wstd::http::Client::new();
        client.set_connect_timeout(Duration::from_secs(10));
        client.set_first_byte_timeout(Duration::from_secs(60));
        let response = client
            .send(http::Request::from_parts(parts, body))
            .await
            .map_err(|e| send_error("send", e))?;
        let (parts, body) = response.into_parts();
        // A HEAD answer names the object's length but carries no body.
        let size = if head {
            Some(0)
        } else {
            parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let stream = BodyDataStream::new(body.into_boxed_body())
            .map(|chunk| chunk.map(Buffer::from).map_err(|e| send_error("body", e)));
        Ok(http::Response::from_parts(
            parts,
            HttpBody::new(stream, size),
        ))
    }
}
