//! Storage plugins on opendal: what every opendal-based Berth storage backend shares.
//!
//! - [`over_wasi_http`] gives an operator the host's `wasi:http` as its transport (a
//!   plugin has no sockets; the host lets requests through only to granted origins).
//! - [`Download`] reads an object in ranged requests of [`READ_AHEAD`] bytes, several
//!   at once, so no read buffers a whole object.
//! - [`list_page`] pages through a prefix in key order, whether or not the service
//!   lists in order.
//! - [`Errors`] maps opendal's errors to the host's variants, naming what the user
//!   configured (the bucket, the server).
//! - [`delete_many`] deletes in batches where the service can.
//! - [`retried`] repeats an idempotent request that failed temporarily, backing off;
//!   [`write_part`] and [`close_upload`] do the same for a multipart upload's parts.
//!
//! A plugin enables the one opendal service it speaks and writes its own uploads (S3's
//! are multipart; WebDAV's are one streamed PUT).

pub mod transport;

use std::time::Duration;

use berth_plugin_sdk::key;
use berth_plugin_sdk::store::{ObjectMeta, ObjectPage, ObjectReader, PluginError};
use opendal::{Buffer, ErrorKind, Operator};

pub use transport::WasiHttp;

/// Bytes fetched per ranged GET when reading (large enough that a slow server is not
/// the per-request overhead's hostage; notes §6 measured 1 MiB ranges at 5 MB/s).
pub const READ_AHEAD: u64 = 8 << 20;

/// Tries of an idempotent request (stat, a listing, a ranged read, delete) that failed
/// in a way worth retrying: a 5xx, a timeout, a dropped connection.
pub const ATTEMPTS: u32 = 4;
/// The wait before the second try; each further wait is four times longer (0.25 s,
/// 1 s, 4 s: a server restarting has time to come back, and the plugin call's time
/// limit is not reached).
const FIRST_DELAY: Duration = Duration::from_millis(250);

/// The waits between tries of a request that failed temporarily.
struct Backoff {
    delay: Duration,
    attempt: u32,
}

impl Backoff {
    fn new() -> Self {
        Self {
            delay: FIRST_DELAY,
            attempt: 1,
        }
    }

    /// Whether `result` calls for another try; if so, waits first.
    async fn again<T>(&mut self, result: &opendal::Result<T>) -> bool {
        match result {
            Err(e) if e.is_temporary() && self.attempt < ATTEMPTS => {
                wstd::task::sleep(self.delay.into()).await;
                self.delay *= 4;
                self.attempt += 1;
                true
            }
            _ => false,
        }
    }
}

/// `request` again while it fails temporarily, up to [`ATTEMPTS`] tries, backing off.
/// Only for requests that may be repeated.
pub async fn retried<T, F, Fut>(mut request: F) -> opendal::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = opendal::Result<T>>,
{
    let mut backoff = Backoff::new();
    loop {
        let result = request().await;
        if !backoff.again(&result).await {
            return result;
        }
    }
}

/// Hands `part` to a multipart writer, tried again like [`retried`] while a part
/// fails temporarily. Handing the same part again is safe: after a temporary failure
/// opendal's multipart writer still holds the part it failed to send (and restarts a
/// concurrent part's task), and `part` itself was not taken.
pub async fn write_part(writer: &mut opendal::Writer, part: Buffer) -> opendal::Result<()> {
    let mut backoff = Backoff::new();
    loop {
        let result = writer.write(part.clone()).await;
        if !backoff.again(&result).await {
            return result;
        }
    }
}

/// Completes a multipart writer, tried again like [`retried`]: opendal keeps the
/// parts it has sent, so a second `close` sends only what failed, then completes.
pub async fn close_upload(writer: &mut opendal::Writer) -> opendal::Result<()> {
    let mut backoff = Backoff::new();
    loop {
        let result = writer.close().await.map(drop);
        if !backoff.again(&result).await {
            return result;
        }
    }
}

/// Runs a future to completion inside a plugin call (plugin calls are synchronous).
pub fn block_on<F: Future>(f: F) -> F::Output {
    wstd::runtime::block_on(f)
}

/// `op` sending its requests through the host's `wasi:http`, running a writer's
/// concurrent parts as tasks of the plugin call's reactor ([`CallTasks`]).
pub fn over_wasi_http(op: Operator) -> Operator {
    let context = opendal::OperationContext::new()
        .with_http_transport(opendal::HttpTransporter::new(WasiHttp))
        .with_executor(opendal::Executor::with(CallTasks));
    op.with_context(context)
}

/// opendal's executor for concurrent parts inside a plugin: each task is spawned on
/// the reactor of the [`block_on`] that runs the call, which returns only once every
/// task it holds has finished. Tasks therefore run side by side within one call and
/// never outlive it (a request held open across calls is never woken again).
#[derive(Debug, Clone, Copy)]
pub struct CallTasks;

impl opendal::Execute for CallTasks {
    fn execute(&self, task: opendal::raw::BoxedStaticFuture<()>) {
        wstd::runtime::spawn(task).detach();
    }
}

/// opendal's error as the host's variant: refused credentials, a server worth
/// retrying, a missing object, or a plain failure.
pub fn plugin_error(e: opendal::Error) -> PluginError {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::NotFound => PluginError::NotFound(message),
        ErrorKind::PermissionDenied => PluginError::Unauthorized(message),
        ErrorKind::ConfigInvalid => PluginError::InvalidConfig(message),
        ErrorKind::RateLimited => PluginError::Unavailable(message),
        _ if e.is_temporary() => PluginError::Unavailable(message),
        _ => PluginError::Other(message),
    }
}

/// A service's error mapping: [`plugin_error`] refined with what the service knows
/// (S3 names a missing bucket), given the name the user configured.
pub type ErrorMap = fn(&str, opendal::Error) -> PluginError;

/// Maps errors for one configured target.
#[derive(Debug, Clone)]
pub struct Errors {
    /// What the user configured (a bucket, a server), for the messages.
    context: String,
    map: ErrorMap,
}

impl Errors {
    pub fn new(context: impl Into<String>, map: ErrorMap) -> Self {
        Self {
            context: context.into(),
            map,
        }
    }

    pub fn map(&self, e: opendal::Error) -> PluginError {
        (self.map)(&self.context, e)
    }
}

/// The object `key`'s size and modification time.
pub fn stat(op: &Operator, key: &str, errors: &Errors) -> Result<ObjectMeta, PluginError> {
    let meta = block_on(retried(|| op.stat(key))).map_err(|e| errors.map(e))?;
    if meta.is_dir() {
        return Err(PluginError::NotFound(format!("{key} is a folder")));
    }
    Ok(ObjectMeta {
        key: key.to_owned(),
        size: meta.content_length(),
        modified_ms: modified_ms(&meta),
    })
}

/// Up to `limit` objects whose keys start with `prefix`, in key order, after `cursor`.
///
/// Lists the folder the prefix is in, flat. A service that lists in key order (S3) is
/// read only as far as the page goes; one that does not (WebDAV) is read whole and
/// sorted, which a catalogue of backups affords. Names that are not valid keys (a
/// WebDAV upload in progress, files someone else put there) are not objects.
pub fn list_page(
    op: &Operator,
    prefix: &str,
    cursor: Option<&str>,
    limit: usize,
    errors: &Errors,
) -> Result<ObjectPage, PluginError> {
    block_on(retried(|| list_async(op, prefix, cursor, limit))).map_err(|e| errors.map(e))
}

/// Deletes `key`; a missing object is not an error.
pub fn delete(op: &Operator, key: &str, errors: &Errors) -> Result<(), PluginError> {
    match block_on(retried(|| op.delete(key))) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(errors.map(e)),
    }
}

/// Deletes `keys` in as few requests as the service allows (opendal batches them where
/// it can: S3's `DeleteObjects`, 1,000 keys a request), tried again like [`retried`].
/// A batch the server refuses is deleted key by key, so each key gets its own result.
pub fn delete_many(
    op: &Operator,
    keys: &[String],
    errors: &Errors,
) -> Vec<Result<(), PluginError>> {
    let batch = block_on(retried(|| op.delete_iter(keys.iter().map(String::as_str))));
    match batch {
        Ok(()) => keys.iter().map(|_| Ok(())).collect(),
        Err(_) => keys.iter().map(|k| delete(op, k, errors)).collect(),
    }
}

async fn list_async(
    op: &Operator,
    prefix: &str,
    cursor: Option<&str>,
    limit: usize,
) -> opendal::Result<ObjectPage> {
    use futures_util::TryStreamExt;
    let ordered = op.info().capability().list_with_start_after;
    let folder = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
    let mut lister = op.lister_with(folder).recursive(true);
    if ordered && let Some(after) = cursor {
        lister = lister.start_after(after);
    }
    let mut entries = lister.await?;
    let mut objects = Vec::new();
    while let Some(entry) = entries.try_next().await? {
        let key = entry.path();
        let meta = entry.metadata();
        if meta.is_dir()
            || !key.starts_with(prefix)
            || key::check(key).is_err()
            || cursor.is_some_and(|c| key <= c)
        {
            continue;
        }
        objects.push(ObjectMeta {
            key: key.to_owned(),
            size: meta.content_length(),
            modified_ms: modified_ms(meta),
        });
        if ordered && objects.len() == limit {
            break;
        }
    }
    if !ordered {
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        objects.truncate(limit);
    }
    let next_cursor = (objects.len() == limit)
        .then(|| objects.last().map(|o| o.key.clone()))
        .flatten();
    Ok(ObjectPage {
        objects,
        next_cursor,
    })
}

/// Milliseconds since the epoch, 0 when the service did not say.
pub fn modified_ms(meta: &opendal::Metadata) -> u64 {
    meta.last_modified().map_or(0, |t| {
        u64::try_from(t.into_inner().as_millisecond()).unwrap_or(0)
    })
}

/// A download: ranged GETs of [`READ_AHEAD`] bytes, `streams` at a time (one stream
/// leaves the server and the network idle while each answer is turned around; rclone
/// reads large files in four), served in the sizes the host asks. Each stream holds
/// up to [`READ_AHEAD`] while the host consumes them.
#[derive(Debug)]
pub struct Download {
    op: Operator,
    errors: Errors,
    key: String,
    size: u64,
    /// Ranged GETs in flight at once.
    streams: u64,
    /// Where the next range starts.
    position: u64,
    /// The current range as it arrived (not joined: that would hold it twice).
    buffer: Buffer,
    /// How much of `buffer` has been handed out.
    taken: usize,
}

impl Download {
    /// Opens `key` (its size from a `stat`, so a missing object fails here).
    pub fn open(
        op: &Operator,
        key: &str,
        errors: &Errors,
        streams: u64,
    ) -> Result<Self, PluginError> {
        let meta = stat(op, key, errors)?;
        Ok(Self {
            op: op.clone(),
            errors: errors.clone(),
            key: key.to_owned(),
            size: meta.size,
            streams: streams.max(1),
            position: 0,
            buffer: Buffer::new(),
            taken: 0,
        })
    }

    /// The next `streams` ranges, fetched at once, each retried on its own.
    fn fetch(&mut self) -> Result<(), PluginError> {
        let (op, key, size, position) = (&self.op, self.key.as_str(), self.size, self.position);
        let reads = (0..self.streams)
            .map(|i| position + i * READ_AHEAD)
            .take_while(|start| *start < size)
            .map(|start| {
                let range = start..(start + READ_AHEAD).min(size);
                retried(move || op.read_with(key).range(range.clone()).into_future())
            });
        let answers =
            block_on(futures_util::future::try_join_all(reads)).map_err(|e| self.errors.map(e))?;
        // The answers' chunks as they came, in order: one buffer, nothing copied.
        let chunks: Vec<bytes::Bytes> = answers.into_iter().flatten().collect();
        self.buffer = Buffer::from(chunks);
        self.taken = 0;
        if self.buffer.is_empty() {
            return Err(PluginError::Io(format!(
                "{}: the object ended at {} of {} bytes",
                self.key, self.position, self.size
            )));
        }
        self.position += self.buffer.len() as u64;
        Ok(())
    }
}

impl ObjectReader for Download {
    fn read(&mut self, max: usize) -> Result<Vec<u8>, PluginError> {
        if self.taken == self.buffer.len() {
            if self.position >= self.size {
                return Ok(Vec::new());
            }
            self.fetch()?;
        }
        let n = max.min(self.buffer.len() - self.taken);
        let out = self.buffer.slice(self.taken..self.taken + n).to_vec();
        self.taken += n;
        Ok(out)
    }
}
