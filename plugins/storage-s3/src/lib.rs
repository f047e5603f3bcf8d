//! `storage-s3`: backups as objects in an S3 bucket — AWS, or any S3-compatible server
//! (MinIO, Garage, Ceph, Wasabi, Backblaze B2, s3s) — through opendal's S3 service.
//!
//! The plugin has no sockets and no files: every request goes out through the host's
//! `wasi:http`, which lets it reach only the origins the admin granted the instance.
//! Uploads are multipart in `part_size_mib` parts (only one part is held in memory);
//! a failed, cancelled or dropped upload aborts its multipart upload, so no parts are
//! left behind to be billed. Downloads are ranged reads of `READ_AHEAD` bytes, so
//! nothing buffers a whole object.

mod transport;

use berth_plugin_sdk::store::{
    ObjectMeta, ObjectPage, ObjectReader, ObjectWriter, PluginError, StorageBackend,
};
use opendal::{ErrorKind, Operator};
use serde::Deserialize;

/// Bytes fetched per ranged GET when reading (large enough that a slow server is not
/// the per-request overhead's hostage; notes §6 measured 1 MiB ranges at 5 MB/s).
const READ_AHEAD: u64 = 8 << 20;
/// The smallest part S3 accepts (except the last).
const MIN_PART_MIB: u32 = 5;
/// The largest part this plugin holds: one part lives in memory, and the host caps a
/// plugin at 256 MiB.
const MAX_PART_MIB: u32 = 128;

fn default_region() -> String {
    "us-east-1".to_owned()
}

fn default_part_size() -> u32 {
    16
}

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
    access_key_id: String,
    secret_access_key: String,
}

/// One configured bucket.
#[derive(Debug)]
pub struct S3 {
    op: Operator,
    bucket: String,
    part_size: usize,
}

/// What went wrong, as the host's error variants: refused credentials, a missing
/// bucket (a configuration error naming it), a server worth retrying, or a plain
/// failure.
fn plugin_error(bucket: &str, e: opendal::Error) -> PluginError {
    let message = e.to_string();
    if message.contains("NoSuchBucket") {
        return PluginError::InvalidConfig(format!("the bucket {bucket:?} does not exist"));
    }
    match e.kind() {
        ErrorKind::NotFound => PluginError::NotFound(message),
        ErrorKind::PermissionDenied => PluginError::Unauthorized(message),
        ErrorKind::ConfigInvalid => PluginError::InvalidConfig(message),
        ErrorKind::RateLimited => PluginError::Unavailable(message),
        _ if e.is_temporary() => PluginError::Unavailable(message),
        _ => PluginError::Other(message),
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    wstd::runtime::block_on(f)
}

impl S3 {
    fn error(&self, e: opendal::Error) -> PluginError {
        plugin_error(&self.bucket, e)
    }
}

fn operator(c: &Config) -> Result<Operator, PluginError> {
    let invalid = |m: String| PluginError::InvalidConfig(m);
    if c.bucket.trim().is_empty() {
        return Err(invalid("bucket: give the bucket's name".into()));
    }
    if !(MIN_PART_MIB..=MAX_PART_MIB).contains(&c.part_size_mib) {
        return Err(invalid(format!(
            "part_size_mib: between {MIN_PART_MIB} (S3's smallest part) and {MAX_PART_MIB}"
        )));
    }
    let root = format!("/{}", c.prefix.trim_matches('/'));
    let mut builder = opendal::services::S3::default()
        .bucket(&c.bucket)
        .region(&c.region)
        .root(&root)
        .access_key_id(&c.access_key_id)
        .secret_access_key(&c.secret_access_key)
        .disable_config_load()
        .disable_ec2_metadata();
    if !c.endpoint.is_empty() {
        builder = builder.endpoint(c.endpoint.trim_end_matches('/'));
    }
    if c.virtual_host_style {
        builder = builder.enable_virtual_host_style();
    }
    let op = Operator::new(builder).map_err(|e| invalid(e.to_string()))?;
    let context = opendal::OperationContext::new()
        .with_http_transport(opendal::HttpTransporter::new(transport::WasiHttp));
    Ok(op.with_context(context))
}

impl StorageBackend for S3 {
    type Config = Config;
    type Writer = Upload;
    type Reader = Download;

    fn new(config: Config) -> Result<Self, PluginError> {
        Ok(Self {
            op: operator(&config)?,
            part_size: config.part_size_mib as usize * (1 << 20),
            bucket: config.bucket,
        })
    }

    fn start_upload(&self, key: &str) -> Result<Upload, PluginError> {
        let writer = block_on(async { self.op.writer_with(key).chunk(self.part_size).await })
            .map_err(|e| self.error(e))?;
        Ok(Upload {
            writer: Some(writer),
            bucket: self.bucket.clone(),
            size: 0,
        })
    }

    fn open_download(&self, key: &str) -> Result<Download, PluginError> {
        let meta = self.stat(key)?;
        Ok(Download {
            op: self.op.clone(),
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            size: meta.size,
            position: 0,
            buffer: Vec::new(),
            taken: 0,
        })
    }

    fn stat(&self, key: &str) -> Result<ObjectMeta, PluginError> {
        let meta = block_on(self.op.stat(key)).map_err(|e| self.error(e))?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: meta.content_length(),
            modified_ms: modified_ms(&meta),
        })
    }

    fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, PluginError> {
        block_on(self.list_page(prefix, cursor, limit as usize))
    }

    fn delete(&self, key: &str) -> Result<(), PluginError> {
        block_on(self.op.delete(key)).map_err(|e| self.error(e))
    }
}

impl S3 {
    /// Lists the folder the prefix is in, flat (no delimiter), from after `cursor`, and
    /// keeps the keys that start with the prefix: S3 lists in key order, so a page is
    /// the next `limit` keys.
    async fn list_page(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, PluginError> {
        use futures_util::TryStreamExt;
        let folder = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
        let mut lister = self.op.lister_with(folder).recursive(true);
        if let Some(after) = cursor {
            lister = lister.start_after(after);
        }
        let mut entries = lister.await.map_err(|e| self.error(e))?;
        let mut objects = Vec::new();
        while let Some(entry) = entries.try_next().await.map_err(|e| self.error(e))? {
            let key = entry.path();
            let meta = entry.metadata();
            if meta.is_dir() || !key.starts_with(prefix) || cursor.is_some_and(|c| key <= c) {
                continue;
            }
            objects.push(ObjectMeta {
                key: key.to_owned(),
                size: meta.content_length(),
                modified_ms: modified_ms(meta),
            });
            if objects.len() == limit {
                break;
            }
        }
        let next_cursor = (objects.len() == limit)
            .then(|| objects.last().map(|o| o.key.clone()))
            .flatten();
        Ok(ObjectPage {
            objects,
            next_cursor,
        })
    }
}

fn modified_ms(meta: &opendal::Metadata) -> u64 {
    meta.last_modified().map_or(0, |t| {
        u64::try_from(t.into_inner().as_millisecond()).unwrap_or(0)
    })
}

/// An upload: opendal's multipart writer, one part buffered at a time.
pub struct Upload {
    writer: Option<opendal::Writer>,
    bucket: String,
    size: u64,
}

// opendal's writer is not `Debug`; what matters when debugging is whether it is open.
impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("open", &self.writer.is_some())
            .field("size", &self.size)
            .finish()
    }
}

impl Upload {
    fn writer(&mut self) -> Result<&mut opendal::Writer, PluginError> {
        self.writer
            .as_mut()
            .ok_or_else(|| PluginError::Conflict("the upload has ended".into()))
    }
}

impl ObjectWriter for Upload {
    fn write(&mut self, chunk: &[u8]) -> Result<(), PluginError> {
        let bucket = self.bucket.clone();
        let writer = self.writer()?;
        block_on(writer.write(chunk.to_vec())).map_err(|e| plugin_error(&bucket, e))?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<u64, PluginError> {
        let bucket = self.bucket.clone();
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| PluginError::Conflict("the upload has ended".into()))?;
        match block_on(writer.close()) {
            Ok(_) => Ok(self.size),
            Err(e) => {
                // Nothing may stay behind: the parts sent so far are discarded.
                let _ = block_on(writer.abort());
                Err(plugin_error(&bucket, e))
            }
        }
    }

    fn abort(&mut self) -> Result<(), PluginError> {
        match self.writer.take() {
            Some(mut writer) => block_on(writer.abort()).map_err(|e| plugin_error(&self.bucket, e)),
            None => Ok(()),
        }
    }
}

/// A download: ranged GETs of `READ_AHEAD` bytes, served in the sizes the host asks.
#[derive(Debug)]
pub struct Download {
    op: Operator,
    bucket: String,
    key: String,
    size: u64,
    /// Where the next range starts.
    position: u64,
    buffer: Vec<u8>,
    /// How much of `buffer` has been handed out.
    taken: usize,
}

impl ObjectReader for Download {
    fn read(&mut self, max: usize) -> Result<Vec<u8>, PluginError> {
        if self.taken == self.buffer.len() {
            if self.position >= self.size {
                return Ok(Vec::new());
            }
            let end = (self.position + READ_AHEAD).min(self.size);
            let range = self.position..end;
            let data = block_on(async { self.op.read_with(&self.key).range(range).await })
                .map_err(|e| plugin_error(&self.bucket, e))?;
            self.buffer = data.to_vec();
            self.taken = 0;
            if self.buffer.is_empty() {
                return Err(PluginError::Io(format!(
                    "{}: the object ended at {} of {} bytes",
                    self.key, self.position, self.size
                )));
            }
            self.position += self.buffer.len() as u64;
        }
        let n = max.min(self.buffer.len() - self.taken);
        let out = self.buffer[self.taken..self.taken + n].to_vec();
        self.taken += n;
        Ok(out)
    }
}

berth_plugin_sdk::export_storage_plugin!(S3);
