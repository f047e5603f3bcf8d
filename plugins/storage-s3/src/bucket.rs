//! Signed requests to the bucket for what opendal has no call for (listing and
//! aborting multipart uploads) or drives in a way that costs memory (a multipart
//! upload's parts; see `multipart.rs`). Each request is built as opendal builds its
//! own (keys encoded the same way), signed with reqsign — the signer opendal uses —
//! and sent through the shared `wasi:http` transport.

use berth_plugin_opendal::WasiHttp;
use opendal::raw::percent_encode_path as encode;
use opendal::{Buffer, ErrorKind, HttpTransport};
use reqsign_aws_v4::{Credential, EMPTY_STRING_SHA256, RequestSigner, StaticCredentialProvider};
use reqsign_core::{Context, Signer};

/// What a body is signed as when it is not hashed: S3 accepts a request whose payload
/// is left out of the signature, and hashing every part would cost a pass over the
/// backup on the cores that compress it (opendal signs its own uploads so too).
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A configured bucket, addressed as opendal addresses it.
#[derive(Debug)]
pub struct Bucket {
    signer: Signer<Credential>,
    /// `https://host/bucket` or `https://bucket.host`, without a trailing `/`.
    url: String,
    /// Keys under Berth's prefix start with this (empty, or ending in `/`).
    prefix: String,
}

/// A server's answer: its status, head and (small) body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Bucket {
    pub fn new(url: String, prefix: String, region: &str, key_id: &str, secret: &str) -> Self {
        let signer = Signer::new(
            Context::new(),
            StaticCredentialProvider::new(key_id, secret),
            RequestSigner::new("s3", region),
        );
        Self {
            signer,
            url,
            prefix,
        }
    }

    /// The prefix keys live under (empty, or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL of the bucket itself with `query`.
    pub fn root_url(&self, query: &str) -> String {
        format!("{}/?{query}", self.url)
    }

    /// The URL of the object whose whole key (prefix included) is `full_key`.
    pub fn object_url(&self, full_key: &str, query: &str) -> String {
        format!("{}/{}?{query}", self.url, encode(full_key))
    }

    /// Sends a signed request with `headers` and `body`; the answer whatever its
    /// status. A request that did not reach the server is a temporary error.
    pub async fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: Buffer,
    ) -> opendal::Result<Answer> {
        let payload = if body.is_empty() {
            EMPTY_STRING_SHA256
        } else {
            UNSIGNED_PAYLOAD
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri(url)
            .header("x-amz-content-sha256", payload);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(())
            .map_err(|e| opendal::Error::new(ErrorKind::Unexpected, format!("{url}: {e}")))?;
        let (mut head, ()) = request.into_parts();
        self.signer.sign(&mut head, None).await.map_err(|e| {
            opendal::Error::new(ErrorKind::PermissionDenied, format!("signing: {e}"))
        })?;
        // Signed over, but wasi:http sends the URL's authority itself and refuses the
        // header.
        head.headers.remove(http::header::HOST);
        let response = WasiHttp
            .fetch(http::Request::from_parts(head, body))
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().to_buffer().await?;
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        })
    }
}

/// A refusal as opendal reports one, so the plugin's one error mapping reads it: the
/// kind from the status (a 5xx, 408 or 429 is worth another try), the server's XML
/// (`NoSuchBucket`, `RequestTimeTooSkewed`) and its head (the `Date` a clock skew is
/// measured against) in the message.
pub fn refusal(url: &str, answer: &Answer) -> opendal::Error {
    let kind = match answer.status {
        401 | 403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        _ => ErrorKind::Unexpected,
    };
    let error = opendal::Error::new(kind, format!("{url}: {}: {}", answer.status, answer.body))
        .with_context("response", format!("{:?}", answer.headers));
    if answer.status >= 500 || matches!(answer.status, 408 | 429) {
        error.set_temporary()
    } else {
        error
    }
}
