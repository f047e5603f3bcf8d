//! Uploads: one PUT whose body streams through the host's `wasi:http` as the host
//! hands over chunks, so memory stays at what is in flight whatever the object's size
//! (opendal's WebDAV writer would buffer the whole object). WebDAV has no multipart
//! uploads and the size is not known up front, so the body goes chunked, which
//! Nextcloud, Apache `mod_dav`, rclone and wsgidav accept.
//!
//! The body goes to a temporary name (`<key>~upload-<n>`: `~` is not allowed in keys,
//! so it never collides with one and listings skip it) and is moved onto the key
//! when the server has it all, so a key never names a half-written file — not even
//! when the plugin is killed mid-upload. `abort` deletes the temporary file; one left
//! by a killed upload is deleted by a later upload to the same folder.

use std::time::Duration;

use base64::Engine as _;
use berth_plugin_opendal::{Errors, block_on};
use berth_plugin_sdk::store::{ObjectWriter, PluginError};
use opendal::Operator;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::{OutputStream, StreamError};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to answer once the whole body is sent. The host's
/// clock for this starts with the request, so it bounds the whole upload too: a day
/// at 1 MB/s is 86 GB.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// `root` as opendal's WebDAV service takes it: `/folder/`, or `/`.
pub fn root_path(root: &str) -> String {
    let trimmed = root.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    }
}

/// Where PUTs go: the server and the folder's path, and the login.
#[derive(Clone)]
pub struct Target {
    scheme: Scheme,
    authority: String,
    /// The URL's path and the root folder, percent-encoded, ending in `/`.
    base_path: String,
    authorization: String,
}

// The login is a secret: never printed.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("authority", &self.authority)
            .field("base_path", &self.base_path)
            .finish_non_exhaustive()
    }
}

impl Target {
    pub fn new(url: &str, root: &str, user: &str, password: &str) -> Result<Self, PluginError> {
        let invalid = |m: String| PluginError::InvalidConfig(m);
        let uri: http::Uri = url
            .trim()
            .parse()
            .map_err(|e| invalid(format!("url: {url:?} is not a URL ({e})")))?;
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            _ => {
                return Err(invalid(format!(
                    "url: {url:?} must start with https:// or http://"
                )));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| invalid(format!("url: {url:?} names no server")))?
            .as_str()
            .to_owned();
        if authority.contains('@') {
            return Err(invalid(
                "url: put the user and password in their own fields".into(),
            ));
        }
        let base_path = format!(
            "{}{}",
            uri.path().trim_end_matches('/'),
            percent_encode(&root_path(root))
        );
        let login = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Ok(Self {
            scheme,
            authority,
            base_path,
            authorization: format!("Basic {login}"),
        })
    }

    /// The server, for messages.
    pub fn origin(&self) -> String {
        let scheme = if matches!(self.scheme, Scheme::Https) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.authority)
    }
}

/// Percent-encodes a path, keeping `/` and RFC 3986's unreserved characters.
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Between a key and the time its upload started: the temporary file's name.
const TEMPORARY_MARK: &str = "~upload-";
/// A temporary file this old belongs to no running upload (see `Upload::sweep`).
const STALE_AFTER_MS: u64 = 24 * 3600 * 1000;

/// A temporary file under the root: what an upload killed with the plugin left.
#[derive(Debug)]
pub struct Leftover {
    /// Its path under the root.
    pub path: String,
    /// The key its upload was writing.
    pub key: String,
    /// When that upload began (ms since the Unix epoch).
    pub started_ms: u64,
}

impl Leftover {
    /// The temporary file at `path`, or `None` for any other file.
    fn from_path(path: &str) -> Option<Self> {
        let (key, started) = path.rsplit_once(TEMPORARY_MARK)?;
        Some(Self {
            path: path.to_owned(),
            key: key.to_owned(),
            started_ms: started.parse().ok()?,
        })
    }
}

/// Every temporary file under the root: a walk of the folder tree, one `PROPFIND
/// Depth: 1` per folder (servers refuse `Depth: infinity` more often than not).
pub fn leftovers(op: &Operator) -> opendal::Result<Vec<Leftover>> {
    let mut found = Vec::new();
    let mut folders = vec![String::new()];
    while let Some(folder) = folders.pop() {
        for entry in block_on(op.list(&folder))? {
            let path = entry.path();
            if path == folder || path == "/" {
                continue; // the folder itself (the root lists as `/`)
            }
            if path.ends_with('/') {
                folders.push(path.to_owned());
            } else if let Some(leftover) = Leftover::from_path(path) {
                found.push(leftover);
            }
        }
    }
    Ok(found)
}

/// How often a temporary file is deleted before giving up (it reappears only while
/// the server is still finishing the cancelled PUT).
const DELETE_ATTEMPTS: usize = 5;
/// How long a cancelled PUT may take to be answered.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

/// Ends `put` and waits (boundedly) for the server's answer. The body is ended
/// cleanly rather than broken off: a server that sees the connection break may go on
/// writing what it got after answering (rclone does), so a deletion could come too
/// early; a cleanly ended PUT is fully written when it is answered, and the deletion
/// that follows is final.
fn cancel(put: Put) {
    let Put {
        stream,
        body,
        answer,
    } = put;
    if !matches!(end_body(stream, body), Some(Ok(()))) {
        return;
    }
    let nanos = u64::try_from(CANCEL_TIMEOUT.as_nanos()).unwrap_or(u64::MAX);
    let deadline = wasip2::clocks::monotonic_clock::subscribe_duration(nanos);
    wasip2::io::poll::poll(&[&answer.subscribe(), &deadline]);
}

/// A PUT in flight. The stream belongs to the body: it must go first.
struct Put {
    stream: OutputStream,
    body: OutgoingBody,
    answer: FutureIncomingResponse,
}

/// An upload to a temporary name, moved onto the key by `finish`.
pub struct Upload {
    op: Operator,
    errors: Errors,
    key: String,
    temporary: String,
    put: Option<Put>,
    size: u64,
}

// The request's handles say nothing useful; what matters is the key and progress.
impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("key", &self.key)
            .field("open", &self.put.is_some())
            .field("size", &self.size)
            .finish()
    }
}

/// The key's folder, as opendal names a folder (`a/b/`), or the root (`/`).
fn parent(key: &str) -> &str {
    key.rfind('/').map_or("/", |i| &key[..=i])
}

impl Upload {
    /// Creates the key's folders (WebDAV does not) and opens the PUT.
    pub fn start(
        op: &Operator,
        errors: &Errors,
        target: &Target,
        key: &str,
    ) -> Result<Self, PluginError> {
        block_on(op.create_dir(parent(key))).map_err(|e| errors.map(e))?;
        let temporary = format!("{key}{TEMPORARY_MARK}{}", berth_plugin_sdk::now_ms());
        let put = open_put(target, &temporary)?;
        Ok(Self {
            op: op.clone(),
            errors: errors.clone(),
            key: key.to_owned(),
            temporary,
            put: Some(put),
            size: 0,
        })
    }

    /// Deletes the key's folder's temporary files that are older than a day: what
    /// uploads left that were killed with the plugin (nothing could delete them then).
    /// Best effort: a failure here does not fail the upload it follows.
    fn sweep(&self) {
        let Ok(entries) = block_on(self.op.list(parent(&self.key))) else {
            return;
        };
        let now = berth_plugin_sdk::now_ms();
        for entry in entries {
            let leftover = Leftover::from_path(entry.path());
            if leftover.is_some_and(|l| now.saturating_sub(l.started_ms) > STALE_AFTER_MS)
                && let Err(e) = block_on(self.op.delete(entry.path()))
            {
                berth_plugin_sdk::log(
                    berth_plugin_sdk::LogLevel::Warn,
                    &format!("cannot delete the stale upload {}: {e}", entry.path()),
                );
            }
        }
    }

    fn put(&self) -> Result<&Put, PluginError> {
        self.put
            .as_ref()
            .ok_or_else(|| PluginError::Conflict("the upload has ended".into()))
    }

    /// Ends the PUT and deletes the temporary file, checking it is gone.
    fn discard(&mut self) -> Result<(), PluginError> {
        if let Some(put) = self.put.take() {
            cancel(put);
        }
        for _ in 0..DELETE_ATTEMPTS {
            block_on(self.op.delete(&self.temporary)).map_err(|e| self.errors.map(e))?;
            match block_on(self.op.stat(&self.temporary)) {
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(self.errors.map(e)),
                Ok(_) => {}
            }
        }
        Err(PluginError::Other(format!(
            "the server kept the unfinished upload {}",
            self.temporary
        )))
    }
}

fn open_put(target: &Target, temporary: &str) -> Result<Put, PluginError> {
    let refused = |what: &str| PluginError::Other(format!("cannot start the upload: {what}"));
    let headers = Fields::from_list(&[
        (
            "authorization".into(),
            target.authorization.clone().into_bytes(),
        ),
        ("content-type".into(), b"application/octet-stream".to_vec()),
    ])
    .map_err(|e| refused(&format!("{e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let path = format!("{}{}", target.base_path, percent_encode(temporary));
    request
        .set_method(&Method::Put)
        .and(request.set_scheme(Some(&target.scheme)))
        .and(request.set_authority(Some(&target.authority)))
        .and(request.set_path_with_query(Some(&path)))
        .map_err(|()| refused("the request"))?;
    let body = request.body().map_err(|()| refused("the body"))?;
    let stream = body.write().map_err(|()| refused("the body stream"))?;
    let options = RequestOptions::new();
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    // Hosts that do not support a timeout refuse to set it; their default applies.
    let _ = options.set_connect_timeout(Some(nanos(CONNECT_TIMEOUT)));
    let _ = options.set_first_byte_timeout(Some(nanos(ANSWER_TIMEOUT)));
    let answer = outgoing_handler::handle(request, Some(options)).map_err(|e| send_error(&e))?;
    Ok(Put {
        stream,
        body,
        answer,
    })
}

/// Why a request got no answer; connection trouble is worth retrying.
fn send_error(e: &ErrorCode) -> PluginError {
    let message = format!("the upload failed: {e:?}");
    match e {
        ErrorCode::HttpRequestDenied => PluginError::Unauthorized(message),
        ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::DnsTimeout => PluginError::Unavailable(message),
        _ => PluginError::Other(message),
    }
}

/// Writes all of `data`, waiting while the host's buffer is full.
fn write_all(stream: &OutputStream, mut data: &[u8]) -> Result<(), StreamError> {
    while !data.is_empty() {
        let permitted = stream.check_write()?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = usize::try_from(permitted)
            .unwrap_or(usize::MAX)
            .min(data.len());
        stream.write(&data[..n])?;
        data = &data[n..];
    }
    Ok(())
}

/// Flushes and ends the body cleanly (the stream goes first: it belongs to the body),
/// with how ending it went; `None` when it could not be flushed — then it is dropped
/// unfinished, which aborts the request, and the server's answer says why.
fn end_body(stream: OutputStream, body: OutgoingBody) -> Option<Result<(), PluginError>> {
    let flushed = stream.blocking_flush();
    drop(stream);
    flushed
        .ok()
        .map(|()| OutgoingBody::finish(body, None).map_err(|e| send_error(&e)))
}

/// The server's answer to the PUT, as success or the host's error variant.
fn answer(put: Put) -> Result<(), PluginError> {
    let Put {
        stream,
        body,
        answer,
    } = put;
    if let Some(Err(e)) = end_body(stream, body) {
        return Err(e);
    }
    answer.subscribe().block();
    let response = match answer.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(send_error(&e)),
        _ => return Err(PluginError::Other("the upload got no answer".into())),
    };
    status_error(response.status())
}

/// 2xx is stored; 401/403 refused login; 507 a full server; 5xx worth retrying.
fn status_error(status: u16) -> Result<(), PluginError> {
    let message = format!("the server answered the upload with HTTP {status}");
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(PluginError::Unauthorized(message)),
        507 => Err(PluginError::Other(format!("{message}: the server is full"))),
        500..=599 | 408 | 429 => Err(PluginError::Unavailable(message)),
        _ => Err(PluginError::Other(message)),
    }
}

impl ObjectWriter for Upload {
    fn write(&mut self, chunk: &[u8]) -> Result<(), PluginError> {
        let put = self.put()?;
        if write_all(&put.stream, chunk).is_err() {
            // The server ended the request early; its answer says why.
            let put = self.put.take().expect("checked above");
            let reason = answer(put)
                .err()
                .unwrap_or_else(|| PluginError::Other("the server ended the upload".into()));
            let _ = self.discard();
            return Err(reason);
        }
        self.size += chunk.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<u64, PluginError> {
        let put = self
            .put
            .take()
            .ok_or_else(|| PluginError::Conflict("the upload has ended".into()))?;
        if let Err(e) = answer(put) {
            let _ = self.discard();
            return Err(e);
        }
        if let Err(e) = block_on(self.op.rename(&self.temporary, &self.key)) {
            let _ = self.discard();
            return Err(self.errors.map(e));
        }
        self.sweep();
        Ok(self.size)
    }

    fn abort(&mut self) -> Result<(), PluginError> {
        self.discard()
    }
}
