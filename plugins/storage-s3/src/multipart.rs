//! A multipart upload the plugin drives itself.
//!
//! opendal's multipart writer holds every part back until the next one arrives (so
//! that it knows which part is the last, and a small object goes up in one PUT): one
//! part of memory on top of those going up, 16 MiB at the default size. S3 needs no
//! such knowledge — a multipart upload may end on a full part — so here the upload
//! starts once there is a full part to send, each batch of parts goes up as soon as it
//! is full, and what is left at the end is the last part. An object that never filled
//! a part is not a multipart upload at all (the caller PUTs it through opendal).

use std::sync::Arc;

use berth_plugin_opendal::retried;
use opendal::raw::percent_encode_path as encode;
use opendal::{Buffer, ErrorKind};
use serde::Deserialize;

use crate::bucket::{Answer, Bucket, refusal};

/// A multipart upload in progress.
#[derive(Debug)]
pub struct Multipart {
    bucket: Arc<Bucket>,
    /// The object's whole key, prefix included.
    key: String,
    upload_id: String,
    /// The ETag of each part sent, in order: part `n` (from 1) is `etags[n - 1]`.
    etags: Vec<String>,
}

/// The answer to `CreateMultipartUpload`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Created {
    upload_id: String,
}

/// `request`'s answer when the server took it; its refusal as an error otherwise.
async fn accepted(
    bucket: &Bucket,
    method: http::Method,
    url: &str,
    headers: &[(&'static str, String)],
    body: Buffer,
) -> opendal::Result<Answer> {
    let answer = bucket.send(method, url, headers, body).await?;
    if (200..300).contains(&answer.status) {
        Ok(answer)
    } else {
        Err(refusal(url, &answer))
    }
}

fn unexpected(url: &str, what: impl std::fmt::Display) -> opendal::Error {
    opendal::Error::new(ErrorKind::Unexpected, format!("{url}: {what}"))
}

impl Multipart {
    /// Starts the upload of `key` (whole, prefix included); `headers` are the
    /// object's (storage class, server-side encryption).
    pub async fn start(
        bucket: Arc<Bucket>,
        key: String,
        headers: &[(&'static str, String)],
    ) -> opendal::Result<Self> {
        let url = bucket.object_url(&key, "uploads=");
        let answer =
            retried(|| accepted(&bucket, http::Method::POST, &url, headers, Buffer::new())).await?;
        let created: Created = quick_xml::de::from_str(&answer.body)
            .map_err(|e| unexpected(&url, format!("the server's answer: {e}")))?;
        Ok(Self {
            bucket,
            key,
            upload_id: created.upload_id,
            etags: Vec::new(),
        })
    }

    /// The URL of this upload (its part `part`, when given).
    fn url(&self, part: Option<usize>) -> String {
        let id = encode(&self.upload_id);
        let query = match part {
            Some(n) => format!("partNumber={n}&uploadId={id}"),
            None => format!("uploadId={id}"),
        };
        self.bucket.object_url(&self.key, &query)
    }

    /// Sends `parts` side by side, numbered after those sent before; each is tried
    /// again on its own while it fails temporarily.
    pub async fn send(&mut self, parts: Vec<Buffer>) -> opendal::Result<()> {
        let first = self.etags.len() + 1;
        let uploads = parts.into_iter().enumerate().map(|(i, part)| {
            let url = self.url(Some(first + i));
            let bucket = &self.bucket;
            async move {
                let answer =
                    retried(|| accepted(bucket, http::Method::PUT, &url, &[], part.clone()))
                        .await?;
                answer
                    .headers
                    .get(http::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| unexpected(&url, "the server named no ETag for the part"))
            }
        });
        let etags = futures_util::future::try_join_all(uploads).await?;
        self.etags.extend(etags);
        Ok(())
    }

    /// Joins the parts sent into the object, which only now becomes visible.
    pub async fn complete(&self) -> opendal::Result<()> {
        let url = self.url(None);
        let mut body = String::from("<CompleteMultipartUpload>");
        for (i, etag) in self.etags.iter().enumerate() {
            body += &format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                quick_xml::escape::escape(etag.as_str())
            );
        }
        body += "</CompleteMultipartUpload>";
        let body = Buffer::from(body.into_bytes());
        retried(|| async {
            let answer =
                accepted(&self.bucket, http::Method::POST, &url, &[], body.clone()).await?;
            // S3 may answer 200 and report the failure in the body (it says to retry).
            if answer.body.contains("<Error>") {
                return Err(unexpected(&url, &answer.body).set_temporary());
            }
            Ok(())
        })
        .await
    }

    /// Discards the parts sent (S3 keeps, and bills, them until told).
    pub async fn abort(&self) -> opendal::Result<()> {
        let url = self.url(None);
        match accepted(&self.bucket, http::Method::DELETE, &url, &[], Buffer::new()).await {
            Ok(_) => Ok(()),
            // Finished or aborted meanwhile.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}
