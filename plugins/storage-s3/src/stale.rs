//! Multipart uploads nobody will finish: a plugin killed mid-upload (the host crashed,
//! the machine lost power) never sends the abort, and S3 keeps — and bills — the parts
//! already sent until someone aborts the upload.
//!
//! Before each upload the plugin lists the multipart uploads in progress under its
//! prefix and aborts those begun more than a day ago (`age.rs`); the admin can list
//! them and abort those begun before a moment of their choosing (`storage.uploads`).
//! opendal has no call for either request; they go as the bucket's own signed
//! requests (`bucket.rs`).

use std::sync::Arc;

use berth_plugin_sdk::store::{IncompleteUpload, PluginError};
use opendal::Buffer;
use opendal::raw::percent_encode_path as encode;
use serde::Deserialize;

use crate::bucket::Bucket;
/// Uploads aborted per sweep at most, so that a bucket full of leftovers cannot hold
/// one upload past its call's time limit; the next upload goes on.
const MAX_ABORTS: usize = 100;
/// Uploads aborted per explicit request at most (the admin's action; the host asks
/// again while some are left).
pub const MAX_ABORTS_ASKED: usize = 1_000;
/// Pages of (up to 1,000) uploads read at most per sweep, listing or abort.
const MAX_PAGES: usize = 10;

/// Lists and aborts a bucket's stale multipart uploads under a prefix.
#[derive(Debug)]
pub struct Sweeper {
    bucket: Arc<Bucket>,
}

/// One page of `ListMultipartUploads`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Listing {
    upload: Vec<Unfinished>,
    is_truncated: bool,
    next_key_marker: String,
    next_upload_id_marker: String,
}

/// A multipart upload in progress.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Unfinished {
    key: String,
    upload_id: String,
    /// RFC 3339, e.g. `2026-12-03T10:00:00.000Z`.
    initiated: String,
}

impl Sweeper {
    pub fn new(bucket: Arc<Bucket>) -> Self {
        Self { bucket }
    }

    /// Aborts the uploads under the prefix that are stale at `now_ms`; returns how
    /// many.
    pub async fn sweep(&self, now_ms: i64) -> Result<usize, PluginError> {
        self.abort_before(now_ms - crate::age::STALE_AFTER_MS, MAX_ABORTS)
            .await
    }

    /// Aborts up to `max` uploads under the prefix begun before `before_ms`.
    pub async fn abort_before(&self, before_ms: i64, max: usize) -> Result<usize, PluginError> {
        let unfinished = self.unfinished().await?;
        let old = unfinished
            .iter()
            .filter(|u| crate::age::begun_before(&u.initiated, before_ms))
            .take(max);
        let mut aborted = 0;
        for upload in old {
            self.abort(upload).await?;
            aborted += 1;
        }
        Ok(aborted)
    }

    /// Up to `limit` uploads in progress under the prefix, oldest first: key (under
    /// the prefix) and start.
    pub async fn incomplete(&self, limit: usize) -> Result<Vec<IncompleteUpload>, PluginError> {
        let mut found: Vec<IncompleteUpload> = self
            .unfinished()
            .await?
            .into_iter()
            .map(|u| IncompleteUpload {
                key: u
                    .key
                    .strip_prefix(self.bucket.prefix())
                    .unwrap_or(&u.key)
                    .to_owned(),
                started_ms: crate::age::started_ms(&u.initiated).map_or(0, |ms| ms.max(0) as u64),
            })
            .collect();
        found.sort_by_key(|u| u.started_ms);
        found.truncate(limit);
        Ok(found)
    }

    /// The uploads in progress under the prefix, up to [`MAX_PAGES`] pages of them.
    /// S3 lists by key, not by age, so a bucket with more leftovers is read in part
    /// (and what is left is found by the next sweep or request).
    async fn unfinished(&self) -> Result<Vec<Unfinished>, PluginError> {
        let mut found = Vec::new();
        let mut markers = (String::new(), String::new());
        for _ in 0..MAX_PAGES {
            let page = self.list(&markers).await?;
            found.extend(page.upload);
            if !page.is_truncated || page.next_key_marker.is_empty() {
                break;
            }
            markers = (page.next_key_marker, page.next_upload_id_marker);
        }
        Ok(found)
    }

    async fn list(&self, (key, upload_id): &(String, String)) -> Result<Listing, PluginError> {
        let mut query = format!("uploads=&prefix={}", encode(self.bucket.prefix()));
        if !key.is_empty() {
            query += &format!(
                "&key-marker={}&upload-id-marker={}",
                encode(key),
                encode(upload_id)
            );
        }
        let url = self.bucket.root_url(&query);
        match self.send(http::Method::GET, &url).await? {
            (200..=299, body) => quick_xml::de::from_str(&body)
                .map_err(|e| PluginError::Other(format!("the server's list of uploads: {e}"))),
            // A server without the call (s3s-fs) has nothing this could sweep.
            (501, _) => Ok(Listing::default()),
            (status, body) => Err(refused(&url, status, &body)),
        }
    }

    async fn abort(&self, upload: &Unfinished) -> Result<(), PluginError> {
        let url = self.bucket.object_url(
            &upload.key,
            &format!("uploadId={}", encode(&upload.upload_id)),
        );
        match self.send(http::Method::DELETE, &url).await? {
            // 404: finished or aborted meanwhile.
            (200..=299 | 404, _) => Ok(()),
            (status, body) => Err(refused(&url, status, &body)),
        }
    }

    /// Sends a signed request without a body; the answer's status and body.
    async fn send(&self, method: http::Method, url: &str) -> Result<(u16, String), PluginError> {
        match self.bucket.send(method, url, &[], Buffer::new()).await {
            Ok(answer) => Ok((answer.status, answer.body)),
            Err(e) if e.kind() == opendal::ErrorKind::PermissionDenied => {
                Err(PluginError::Unauthorized(e.to_string()))
            }
            Err(e) => Err(PluginError::Unavailable(format!("{url}: {e}"))),
        }
    }
}

/// A refusal as the host's variant: credentials, or a server to try again later.
fn refused(url: &str, status: u16, body: &str) -> PluginError {
    let message = format!("{url}: {status}: {body}");
    match status {
        401 | 403 => PluginError::Unauthorized(message),
        _ => PluginError::Unavailable(message),
    }
}
