//! `storage-s3`: backups as objects in an S3 bucket — AWS, or any S3-compatible server
//! (MinIO, Garage, Ceph, Wasabi, Backblaze B2, s3s) — through opendal's S3 service.
//!
//! The plugin has no sockets and no files: every request goes out through the host's
//! `wasi:http`, which lets it reach only the origins the admin granted the instance.
//! Uploads are multipart (`multipart.rs`), in parts of `part_size_mib` that double
//! every 1,000 parts, `upload_concurrency` of them going up at once and nothing more
//! held; an object smaller than one part is one PUT. A failed, cancelled or dropped
//! upload aborts its multipart upload, and the next upload aborts ones a killed plugin
//! left, so no parts are billed for ever. Downloads are ranged reads, four at once (the shared
//! `berth-plugin-opendal`), so nothing buffers a whole object.

mod age;
mod bucket;
mod multipart;
mod parts;
mod stale;

use std::sync::Arc;

use berth_plugin_opendal::{Download, Errors, block_on, retried};
use berth_plugin_sdk::store::{
    IncompleteUpload, ObjectMeta, ObjectPage, ObjectWriter, PluginError, StorageBackend,
};
use berth_plugin_sdk::{LogLevel, log};
use bucket::Bucket;
use multipart::Multipart;
use opendal::{Buffer, Operator};
use parts::{MAX_PART_MIB, concurrency_for, part_size};
use serde::Deserialize;

/// Ranged GETs in flight when reading: four 8 MiB ranges (66 MiB peak measured), well
/// within the 256 MiB cap.
const READ_STREAMS: u64 = 4;
/// The smallest part S3 accepts (except the last).
const MIN_PART_MIB: u32 = 5;

fn default_region() -> String {
    "us-east-1".to_owned()
}

fn default_part_size() -> u32 {
    16
}

fn default_concurrency() -> u32 {
    DEFAULT_CONCURRENCY
}

/// Parts going up at once unless configured: two keep one request in flight while
/// the other's answer is awaited, for 16 MiB more memory than one.
const DEFAULT_CONCURRENCY: u32 = 2;
/// The most an instance may ask for (rclone's and restic's defaults are 4 and 5).
const MAX_CONCURRENCY: u32 = 8;

/// The instance's configuration (the manifest's schema).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Empty: AWS (the region's endpoint).
    #[serde(default)]
    endpoint: String,
    #[serde(default = "default_region")]
    region: String,
    bucket: String,
    /// Keys live under this prefix (a folder in the bucket).
    #[serde(default)]
    prefix: String,
    /// `bucket.host` addressing instead of `host/bucket`.
    #[serde(default)]
    virtual_host_style: bool,
    #[serde(default = "default_part_size")]
    part_size_mib: u32,
    /// Parts uploaded at once.
    #[serde(default = "default_concurrency")]
    upload_concurrency: u32,
    /// Empty: the bucket's default (STANDARD).
    #[serde(default)]
    storage_class: String,
    /// Empty: none requested (the bucket's default encryption applies).
    #[serde(default)]
    server_side_encryption: String,
    /// With `aws:kms`: the key; empty: the AWS-managed key.
    #[serde(default)]
    kms_key_id: String,
    access_key_id: String,
    secret_access_key: String,
}

/// One configured bucket.
#[derive(Debug)]
pub struct S3 {
    op: Operator,
    errors: Errors,
    part_size: usize,
    concurrency: u32,
    bucket: Arc<Bucket>,
    /// What a multipart upload is started with (opendal sends the same on a PUT).
    object_headers: Vec<(&'static str, String)>,
    stale: stale::Sweeper,
}

/// What went wrong: a missing bucket is a configuration error naming it; the rest as
/// every opendal-based backend maps it.
fn plugin_error(bucket: &str, e: opendal::Error) -> PluginError {
    let message = e.to_string();
    if message.contains("NoSuchBucket") {
        return PluginError::InvalidConfig(format!("the bucket {bucket:?} does not exist"));
    }
    if message.contains("RequestTimeTooSkewed") {
        return PluginError::Unauthorized(clock_skew(&message));
    }
    berth_plugin_opendal::plugin_error(e)
}

/// What to tell the admin when the server refused a request's signing time: SigV4
/// signatures are valid for 15 minutes either side of the server's clock, so a
/// machine whose clock drifted (no NTP, a restored VM) is refused with the right
/// keys. The skew is measured against the `Date` of the refusal when it has one.
fn clock_skew(message: &str) -> String {
    let advice = "S3 accepts 15 minutes either way; set this machine's clock (NTP)";
    let Some(skew_ms) = server_date(message).map(|server| {
        opendal::raw::Timestamp::now().into_inner().as_millisecond()
            - server.into_inner().as_millisecond()
    }) else {
        return format!("the server refused the request's time as too far from its own: {advice}");
    };
    let minutes = skew_ms.unsigned_abs() / 60_000;
    let direction = if skew_ms > 0 { "ahead of" } else { "behind" };
    format!(
        "this machine's clock is {} h {} min {direction} the server's, so it refused the \
         request's signature: {advice}",
        minutes / 60,
        minutes % 60
    )
}

/// The `Date` header of the response an opendal error reports (its context holds the
/// response's head, e.g. `"date": "Sat, 05 Dec 2026 01:00:00 GMT"`).
fn server_date(message: &str) -> Option<opendal::raw::Timestamp> {
    let start = message.find("\"date\": \"")? + "\"date\": \"".len();
    let end = start + message[start..].find('"')?;
    opendal::raw::Timestamp::parse_rfc2822(&message[start..end]).ok()
}

/// The storage classes a backup can be restored from without a separate retrieval
/// step (Glacier Flexible Retrieval and Deep Archive objects cannot be read directly).
const STORAGE_CLASSES: [&str; 6] = [
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "REDUCED_REDUNDANCY",
];

fn check(c: &Config) -> Result<(), PluginError> {
    let invalid = |m: String| Err(PluginError::InvalidConfig(m));
    if c.bucket.trim().is_empty() {
        return invalid("bucket: give the bucket's name".into());
    }
    if !(MIN_PART_MIB..=MAX_PART_MIB).contains(&c.part_size_mib) {
        return invalid(format!(
            "part_size_mib: between {MIN_PART_MIB} (S3's smallest part) and {MAX_PART_MIB}"
        ));
    }
    if !(1..=MAX_CONCURRENCY).contains(&c.upload_concurrency) {
        return invalid(format!(
            "upload_concurrency: between 1 and {MAX_CONCURRENCY} parts at once"
        ));
    }
    if !c.storage_class.is_empty() && !STORAGE_CLASSES.contains(&c.storage_class.as_str()) {
        return invalid(format!(
            "storage_class: one of {} (archive classes cannot be restored from directly)",
            STORAGE_CLASSES.join(", ")
        ));
    }
    match c.server_side_encryption.as_str() {
        "" | "AES256" | "aws:kms" => {}
        other => {
            return invalid(format!(
                "server_side_encryption: AES256 or aws:kms, not {other:?}"
            ));
        }
    }
    if !c.kms_key_id.is_empty() && c.server_side_encryption != "aws:kms" {
        return invalid("kms_key_id: only with server_side_encryption aws:kms".into());
    }
    Ok(())
}

/// The bucket's URL as opendal addresses it: the endpoint (AWS's for the region when
/// empty), then the bucket as a path or, with virtual-host addressing, a subdomain.
fn bucket_url(c: &Config) -> String {
    let endpoint = match c.endpoint.trim_end_matches('/') {
        "" => format!("https://s3.{}.amazonaws.com", c.region),
        given => given.to_owned(),
    };
    match (c.virtual_host_style, endpoint.split_once("://")) {
        (true, Some((scheme, host))) => format!("{scheme}://{}.{host}", c.bucket),
        _ => format!("{endpoint}/{}", c.bucket),
    }
}

/// The headers opendal sends with a PUT for the configured storage class and
/// server-side encryption, for a multipart upload's start.
fn object_headers(c: &Config) -> Vec<(&'static str, String)> {
    [
        ("x-amz-storage-class", &c.storage_class),
        ("x-amz-server-side-encryption", &c.server_side_encryption),
        ("x-amz-server-side-encryption-aws-kms-key-id", &c.kms_key_id),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(name, value)| (name, value.clone()))
    .collect()
}

fn operator(c: &Config) -> Result<Operator, PluginError> {
    check(c)?;
    let root = format!("/{}", c.prefix.trim_matches('/'));
    let mut builder = opendal::services::S3::default()
        .bucket(&c.bucket)
        .region(&c.region)
        .root(&root)
        .access_key_id(&c.access_key_id)
        .secret_access_key(&c.secret_access_key)
        .default_storage_class(&c.storage_class)
        .server_side_encryption(&c.server_side_encryption)
        .server_side_encryption_aws_kms_key_id(&c.kms_key_id)
        .disable_config_load()
        .disable_ec2_metadata();
    if !c.endpoint.is_empty() {
        builder = builder.endpoint(c.endpoint.trim_end_matches('/'));
    }
    if c.virtual_host_style {
        builder = builder.enable_virtual_host_style();
    }
    let op = Operator::new(builder).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
    Ok(berth_plugin_opendal::over_wasi_http(op))
}

impl StorageBackend for S3 {
    type Config = Config;
    type Writer = Upload;
    type Reader = Download;

    fn new(config: Config) -> Result<Self, PluginError> {
        let op = operator(&config)?;
        let bucket = Arc::new(Bucket::new(
            bucket_url(&config),
            op.info().root().trim_start_matches('/').to_owned(),
            &config.region,
            &config.access_key_id,
            &config.secret_access_key,
        ));
        Ok(Self {
            op,
            part_size: config.part_size_mib as usize * (1 << 20),
            concurrency: config.upload_concurrency,
            object_headers: object_headers(&config),
            stale: stale::Sweeper::new(Arc::clone(&bucket)),
            bucket,
            errors: Errors::new(config.bucket, plugin_error),
        })
    }

    fn start_upload(&self, key: &str) -> Result<Upload, PluginError> {
        // Leftovers of killed uploads are aborted here, where a plugin runs anyway; a
        // failure to is no reason to refuse the backup.
        let now_ms = opendal::raw::Timestamp::now().into_inner().as_millisecond();
        match block_on(self.stale.sweep(now_ms)) {
            Ok(0) => {}
            Ok(n) => log(
                LogLevel::Info,
                &format!("aborted {n} stale multipart uploads"),
            ),
            Err(e) => log(LogLevel::Warn, &format!("stale multipart uploads: {e}")),
        }
        Ok(Upload {
            op: self.op.clone(),
            bucket: Arc::clone(&self.bucket),
            key: key.to_owned(),
            object_headers: self.object_headers.clone(),
            multipart: None,
            ended: false,
            errors: self.errors.clone(),
            size: 0,
            first_part: self.part_size,
            concurrency: self.concurrency,
            parts: 0,
            full: Vec::new(),
            pending: Vec::new(),
            pending_len: 0,
        })
    }

    fn open_download(&self, key: &str) -> Result<Download, PluginError> {
        Download::open(&self.op, key, &self.errors, READ_STREAMS)
    }

    fn stat(&self, key: &str) -> Result<ObjectMeta, PluginError> {
        berth_plugin_opendal::stat(&self.op, key, &self.errors)
    }

    fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, PluginError> {
        berth_plugin_opendal::list_page(&self.op, prefix, cursor, limit as usize, &self.errors)
    }

    fn delete(&self, key: &str) -> Result<(), PluginError> {
        berth_plugin_opendal::delete(&self.op, key, &self.errors)
    }

    fn delete_many(&self, keys: &[String]) -> Vec<Result<(), PluginError>> {
        berth_plugin_opendal::delete_many(&self.op, keys, &self.errors)
    }

    fn incomplete_uploads(&self, limit: u32) -> Result<Vec<IncompleteUpload>, PluginError> {
        block_on(self.stale.incomplete(limit as usize))
    }

    fn abort_incomplete_uploads(&self, before_ms: u64) -> Result<u32, PluginError> {
        let before = i64::try_from(before_ms).unwrap_or(i64::MAX);
        let aborted = block_on(self.stale.abort_before(before, stale::MAX_ABORTS_ASKED))?;
        Ok(aborted as u32)
    }
}

/// An upload: parts fill here and go up in batches of the instance's concurrency,
/// sent side by side within one call; the multipart upload starts with the first
/// batch, so an object smaller than a part is one PUT.
pub struct Upload {
    /// For the single PUT of a small object.
    op: Operator,
    bucket: Arc<Bucket>,
    /// The key under the prefix.
    key: String,
    object_headers: Vec<(&'static str, String)>,
    /// Started with the first full batch.
    multipart: Option<Multipart>,
    /// Finished or aborted: nothing more is taken.
    ended: bool,
    errors: Errors,
    size: u64,
    /// The size of the first parts (see [`parts`]).
    first_part: usize,
    concurrency: u32,
    /// Parts cut so far.
    parts: u32,
    /// Full parts not yet sent.
    full: Vec<Buffer>,
    /// The chunks of the next part, as they came (not joined: that would copy them).
    pending: Vec<bytes::Bytes>,
    pending_len: usize,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("key", &self.key)
            .field("multipart", &self.multipart.is_some())
            .field("size", &self.size)
            .field("parts", &self.parts)
            .finish()
    }
}

impl Upload {
    fn open(&self) -> Result<(), PluginError> {
        if self.ended {
            return Err(PluginError::Conflict("the upload has ended".into()));
        }
        Ok(())
    }

    /// Closes the filling part; sends the batch once it is as large as the
    /// concurrency allows for parts of this size.
    fn cut_part(&mut self) -> Result<(), PluginError> {
        let part_len = self.pending_len;
        self.full
            .push(Buffer::from(std::mem::take(&mut self.pending)));
        self.pending_len = 0;
        self.parts += 1;
        if self.full.len() >= concurrency_for(self.concurrency, part_len) {
            self.send_parts()?;
        }
        Ok(())
    }

    /// Sends the full parts side by side, starting the multipart upload first if
    /// this is its first batch.
    fn send_parts(&mut self) -> Result<(), PluginError> {
        let batch = std::mem::take(&mut self.full);
        let key = format!("{}{}", self.bucket.prefix(), self.key);
        let result = block_on(async {
            if self.multipart.is_none() {
                let started =
                    Multipart::start(Arc::clone(&self.bucket), key, &self.object_headers).await?;
                self.multipart = Some(started);
            }
            match self.multipart.as_mut() {
                Some(upload) => upload.send(batch).await,
                None => Ok(()),
            }
        });
        result.map_err(|e| self.errors.map(e))
    }

    /// Sends what is left and joins the parts; a small object goes as one PUT.
    fn complete(&mut self) -> Result<(), PluginError> {
        let rest = Buffer::from(std::mem::take(&mut self.pending));
        self.pending_len = 0;
        if self.multipart.is_none() && self.full.is_empty() {
            let (op, key) = (&self.op, self.key.as_str());
            return block_on(retried(|| op.write(key, rest.clone())))
                .map(drop)
                .map_err(|e| self.errors.map(e));
        }
        if !rest.is_empty() {
            self.full.push(rest);
        }
        if !self.full.is_empty() {
            self.send_parts()?;
        }
        match &self.multipart {
            Some(upload) => block_on(upload.complete()).map_err(|e| self.errors.map(e)),
            None => Ok(()),
        }
    }
}

impl ObjectWriter for Upload {
    fn write(&mut self, chunk: &[u8]) -> Result<(), PluginError> {
        self.open()?;
        self.pending.push(bytes::Bytes::copy_from_slice(chunk));
        self.pending_len += chunk.len();
        self.size += chunk.len() as u64;
        if self.pending_len >= part_size(self.first_part, self.parts) {
            self.cut_part()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<u64, PluginError> {
        self.open()?;
        self.ended = true;
        match self.complete() {
            Ok(()) => Ok(self.size),
            Err(e) => {
                // Nothing may stay behind: the parts sent so far are discarded.
                if let Some(upload) = self.multipart.take() {
                    let _ = block_on(upload.abort());
                }
                Err(e)
            }
        }
    }

    fn abort(&mut self) -> Result<(), PluginError> {
        self.ended = true;
        self.full.clear();
        self.pending.clear();
        match self.multipart.take() {
            Some(upload) => block_on(upload.abort()).map_err(|e| self.errors.map(e)),
            None => Ok(()),
        }
    }
}

berth_plugin_sdk::export_storage_plugin!(S3);
