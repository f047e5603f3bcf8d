//! Storage backends as the backup engine sees them.
//!
//! A [`StorageInstance`] is one configured instance of a storage plugin: which plugin,
//! the one directory it is granted (if any) and its settings. [`PluginRuntime::session`]
//! instantiates it in a fresh Store on the plugin threads and hands back a [`Session`]:
//! a handle to a task that owns the Store and serves one command at a time. Objects
//! stream in and out in [`CHUNK`]-sized pieces through bounded channels, so memory
//! stays flat whatever the object size. A trap, timeout or memory-limit hit ends the
//! task and with it the Store (wasmtime cannot re-enter an instance after a trap);
//! the next session starts clean.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use super::bindings::storage_world::StorageBackend;
use super::bindings::storage_world::exports::berth::plugin::storage::Guest as StorageGuest;
use super::bindings::upkeep_world::StorageUpkeepOnly;
use super::bindings::upkeep_world::exports::berth::plugin::storage_upkeep::Guest as UpkeepGuest;
pub use super::bindings::upkeep_world::exports::berth::plugin::storage_upkeep::IncompleteUpload;
use super::egress::Pattern;
use super::{Limits, ObjectMeta, PluginError, PluginRuntime, PluginState, epoch};

/// Where a storage instance sees its granted directory.
pub const GUEST_DIR: &str = "/data";
/// Bytes per plugin call when streaming (the notes measured small chunks as costly:
/// 14–39 µs per call, so 1 MiB keeps the overhead far below 1 %).
pub const CHUNK: usize = 1 << 20;

/// One configured storage instance.
#[derive(Debug, Clone, Default)]
pub struct StorageInstance {
    /// The instance's name (`local` for the built-in default).
    pub name: String,
    /// The plugin implementing it.
    pub plugin: String,
    /// The one directory the instance may use, preopened as [`GUEST_DIR`].
    pub dir: Option<PathBuf>,
    /// Settings handed to the plugin's `init`, as JSON.
    pub config: String,
    /// Origins the instance may reach (for plugins whose manifest asks for HTTP).
    pub egress: Vec<Pattern>,
    /// Whether those may be private or loopback addresses.
    pub allow_private: bool,
}

impl StorageInstance {
    /// The built-in default instance: `storage-local` keeping objects in `dir` (the
    /// data directory's `backups/`).
    pub fn local(dir: PathBuf) -> Self {
        Self {
            name: "local".into(),
            plugin: "storage-local".into(),
            dir: Some(dir),
            config: "{}".into(),
            ..Self::default()
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page {
    pub objects: Vec<ObjectMeta>,
    pub next_cursor: Option<String>,
}

enum Put {
    Data(Bytes),
    Finish,
}

type Reply<T> = oneshot::Sender<Result<T, PluginError>>;

enum Cmd {
    Put {
        key: String,
        chunks: mpsc::Receiver<Put>,
        reply: Reply<u64>,
    },
    Get {
        key: String,
        chunks: mpsc::Sender<Bytes>,
        reply: Reply<u64>,
    },
    Stat {
        key: String,
        reply: Reply<ObjectMeta>,
    },
    List {
        prefix: String,
        cursor: Option<String>,
        limit: u32,
        reply: Reply<Page>,
    },
    Delete {
        key: String,
        reply: Reply<()>,
    },
    /// `None` in the reply: the plugin has no `storage-upkeep` (built against 0.1.0).
    IncompleteUploads {
        limit: u32,
        reply: Reply<Option<Vec<IncompleteUpload>>>,
    },
    AbortIncompleteUploads {
        before_ms: u64,
        reply: Reply<Option<u32>>,
    },
    /// The instance's linear memory in bytes (no plugin call).
    Memory {
        reply: oneshot::Sender<u64>,
    },
    /// One operation on many keys in one command: the caller waits for one hop, not
    /// one per key (a hop between runtimes costs more than the call itself).
    Each {
        op: Each,
        keys: Vec<String>,
        reply: oneshot::Sender<Vec<Result<Option<ObjectMeta>, PluginError>>>,
    },
}

/// The operations [`Cmd::Each`] repeats.
#[derive(Debug, Clone, Copy)]
enum Each {
    Stat,
    Delete,
}

/// Most keys one batched command carries; the plugin's deadline applies per key, so
/// this only bounds how long other commands of the session wait.
pub const BATCH_MAX: usize = 1_000;

/// A live instance of a storage plugin. Dropping it ends the instance; an upload in
/// progress is aborted.
#[derive(Debug)]
pub struct Session {
    plugin: String,
    cmds: mpsc::Sender<Cmd>,
    /// Chunks `put` reads ahead of the plugin (its manifest's upload buffer).
    read_ahead: usize,
}

impl PluginRuntime {
    /// Instantiates `inst` in a fresh Store on the plugin threads and initialises it
    /// with its settings.
    pub async fn session(&self, inst: &StorageInstance) -> Result<Session, PluginError> {
        let (session, ready) = self.open_session(inst)?;
        ready.await.map_err(|_| ended(&session.plugin))??;
        Ok(session)
    }

    /// Starts the session's task; the receiver says whether `init` succeeded.
    ///
    /// A plain function, not part of the `async fn` above, on purpose: the task (and
    /// with it every chunk lowered into and lifted out of the plugin) is instantiated
    /// where it is spawned. Spawned from an `async fn`, it would be compiled by
    /// whichever crate polls that future — unoptimised in a debug build, where moving
    /// a byte across the component boundary then costs a dozen calls.
    fn open_session(
        &self,
        inst: &StorageInstance,
    ) -> Result<(Session, oneshot::Receiver<Result<(), PluginError>>), PluginError> {
        let plugin = self.get(&inst.plugin)?;
        let id = plugin.id.clone();
        let has_upkeep = plugin.has_upkeep;
        let Some(pre) = plugin.storage_pre.clone() else {
            return Err(PluginError::Usage {
                id,
                reason: "is not a storage backend".into(),
            });
        };
        let policy = super::EgressPolicy::new(
            &id,
            plugin.manifest.http_patterns(),
            inst.egress.clone(),
            inst.allow_private,
        );
        let mut store = self
            .new_store(&id, inst.dir.as_deref(), policy)
            .map_err(|e| PluginError::Trap {
                id: id.clone(),
                reason: format!("cannot grant its directory: {e:#}"),
            })?;
        let active = self.ticker.activate();
        let limits = plugin.limits;
        let health = Arc::clone(&self.health);
        let config = inst.config.clone();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (cmds, rx) = mpsc::channel(1);
        let tid = id.clone();
        self.threads.spawn(async move {
            // Keeps epochs ticking (so deadlines fire) for the session's lifetime.
            let _active = active;
            let start = async {
                reset_deadline(&mut store);
                let trap = |e: wasmtime::Error| PluginError::from_trap(&tid, limits, &e);
                let instance = pre
                    .instance_pre()
                    .instantiate_async(&mut store)
                    .await
                    .map_err(trap)?;
                let b = StorageBackend::new(&mut store, &instance).map_err(trap)?;
                // One instance serves both: the upkeep calls see the same `init`.
                let upkeep = match has_upkeep {
                    true => Some(StorageUpkeepOnly::new(&mut store, &instance).map_err(trap)?),
                    false => None,
                };
                reset_deadline(&mut store);
                b.berth_plugin_lifecycle()
                    .call_init(&mut store, &config)
                    .await
                    .map_err(|e| PluginError::from_trap(&tid, limits, &e))?
                    .map_err(|error| PluginError::Failed {
                        id: tid.clone(),
                        error,
                    })?;
                Ok::<_, PluginError>(Backend { storage: b, upkeep })
            };
            match start.await {
                Ok(b) => {
                    health.ok(&tid);
                    let _ = ready_tx.send(Ok(()));
                    serve(&tid, store, b, rx, &health).await;
                }
                Err(e) => {
                    health.failed(&tid, &e.to_string());
                    let _ = ready_tx.send(Err(e));
                }
            }
        });
        let session = Session {
            plugin: id,
            cmds,
            read_ahead: (limits.upload_buffer / CHUNK).max(2),
        };
        Ok((session, ready_rx))
    }
}

fn reset_deadline(store: &mut Store<PluginState>) {
    let t = store.data().limits_cfg.call_timeout;
    store.set_epoch_deadline(epoch::ticks_for(t));
}

fn ended(id: &str) -> PluginError {
    PluginError::Trap {
        id: id.to_owned(),
        reason: "the instance was discarded after an earlier failure".into(),
    }
}

/// Whether an error means the Store can no longer be used.
fn fatal(e: &PluginError) -> bool {
    matches!(
        e,
        PluginError::Trap { .. } | PluginError::Timeout { .. } | PluginError::Memory { .. }
    )
}

/// What a storage instance exports: storage, and upkeep when built against 0.1.1+.
struct Backend {
    storage: StorageBackend,
    upkeep: Option<StorageUpkeepOnly>,
}

/// The session task: one command at a time until the handle drops or a call traps.
async fn serve(
    id: &str,
    mut store: Store<PluginState>,
    b: Backend,
    mut rx: mpsc::Receiver<Cmd>,
    health: &super::health::HealthBook,
) {
    let g = b.storage.berth_plugin_storage();
    let upkeep = b.upkeep.as_ref().map(|u| u.berth_plugin_storage_upkeep());
    let limits = store.data().limits_cfg;
    while let Some(cmd) = rx.recv().await {
        let failed = match cmd {
            Cmd::Put { key, chunks, reply } => {
                let r = put(id, &mut store, g, &key, chunks).await;
                outcome(health, id, r, reply)
            }
            Cmd::Get { key, chunks, reply } => {
                let r = get(id, &mut store, g, &key, chunks).await;
                outcome(health, id, r, reply)
            }
            Cmd::Stat { key, reply } => {
                reset_deadline(&mut store);
                let r = flat(id, limits, g.call_stat(&mut store, &key).await);
                outcome(health, id, r, reply)
            }
            Cmd::List {
                prefix,
                cursor,
                limit,
                reply,
            } => {
                reset_deadline(&mut store);
                let r = flat(
                    id,
                    limits,
                    g.call_list_objects(&mut store, &prefix, cursor.as_deref(), limit)
                        .await,
                )
                .map(|p| Page {
                    objects: p.objects,
                    next_cursor: p.next_cursor,
                });
                outcome(health, id, r, reply)
            }
            Cmd::IncompleteUploads { limit, reply } => {
                reset_deadline(&mut store);
                let r = match upkeep {
                    Some(u) => flat(
                        id,
                        limits,
                        u.call_incomplete_uploads(&mut store, limit).await,
                    )
                    .map(Some),
                    None => Ok(None),
                };
                outcome(health, id, r, reply)
            }
            Cmd::AbortIncompleteUploads { before_ms, reply } => {
                reset_deadline(&mut store);
                let r = match upkeep {
                    Some(u) => flat(
                        id,
                        limits,
                        u.call_abort_incomplete_uploads(&mut store, before_ms).await,
                    )
                    .map(Some),
                    None => Ok(None),
                };
                outcome(health, id, r, reply)
            }
            Cmd::Memory { reply } => {
                let _ = reply.send(store.data().memory_bytes() as u64);
                false
            }
            Cmd::Delete { key, reply } => {
                reset_deadline(&mut store);
                let r = flat(id, limits, g.call_delete(&mut store, &key).await);
                outcome(health, id, r, reply)
            }
            Cmd::Each { op, keys, reply } => {
                let (done, dead) = each(id, &mut store, g, upkeep, op, &keys, health).await;
                let _ = reply.send(done);
                dead
            }
        };
        if failed {
            // The Store is unusable; dropping it (and the receiver) ends the session.
            return;
        }
    }
}

/// [`Cmd::Each`]: deletes in one `delete-objects` call where the plugin has it; else
/// the operation key by key, the keys after a call that killed the Store failing
/// unasked. Returns the results and whether the Store died.
async fn each(
    id: &str,
    store: &mut Store<PluginState>,
    g: &StorageGuest,
    upkeep: Option<&UpkeepGuest>,
    op: Each,
    keys: &[String],
    health: &super::health::HealthBook,
) -> (Vec<Result<Option<ObjectMeta>, PluginError>>, bool) {
    let limits = store.data().limits_cfg;
    let mut dead = false;
    if let (Each::Delete, Some(u)) = (op, upkeep) {
        reset_deadline(store);
        let done = delete_objects(id, store, u, keys).await;
        for r in &done {
            dead |= record(health, id, r);
        }
        return (done, dead);
    }
    let mut done = Vec::with_capacity(keys.len());
    for key in keys {
        if dead {
            done.push(Err(ended(id)));
            continue;
        }
        reset_deadline(store);
        let r = match op {
            Each::Stat => flat(id, limits, g.call_stat(&mut *store, key).await).map(Some),
            Each::Delete => flat(id, limits, g.call_delete(&mut *store, key).await).map(|()| None),
        };
        dead = record(health, id, &r);
        done.push(r);
    }
    (done, dead)
}

/// `keys` deleted in one `delete-objects` call: one result per key, in order. A trap
/// fails every key; a plugin answering for more or fewer keys broke the contract.
async fn delete_objects(
    id: &str,
    store: &mut Store<PluginState>,
    upkeep: &UpkeepGuest,
    keys: &[String],
) -> Vec<Result<Option<ObjectMeta>, PluginError>> {
    let limits = store.data().limits_cfg;
    match upkeep.call_delete_objects(&mut *store, keys).await {
        Err(trap) => keys
            .iter()
            .map(|_| Err(PluginError::from_trap(id, limits, &trap)))
            .collect(),
        Ok(results) if results.len() != keys.len() => {
            let reason = format!(
                "broke the storage contract: {} results for {} keys",
                results.len(),
                keys.len()
            );
            keys.iter()
                .map(|_| {
                    Err(PluginError::Trap {
                        id: id.to_owned(),
                        reason: reason.clone(),
                    })
                })
                .collect()
        }
        Ok(results) => results
            .into_iter()
            .map(|r| {
                r.map(|()| None).map_err(|error| PluginError::Failed {
                    id: id.to_owned(),
                    error,
                })
            })
            .collect(),
    }
}

/// Records the result in the health book and replies; `true` when the Store is dead.
fn outcome<T>(
    health: &super::health::HealthBook,
    id: &str,
    r: Result<T, PluginError>,
    reply: Reply<T>,
) -> bool {
    let dead = record(health, id, &r);
    let _ = reply.send(r);
    dead
}

/// Records the result in the health book; `true` when the Store is dead.
fn record<T>(health: &super::health::HealthBook, id: &str, r: &Result<T, PluginError>) -> bool {
    match r {
        Ok(_) => health.ok(id),
        Err(e @ PluginError::Failed { error, .. }) => {
            // A plugin saying "not found" is healthy; "unavailable" or I/O failure is not.
            use super::bindings::PluginError as E;
            if matches!(error, E::Unavailable(_) | E::Io(_) | E::Other(_)) {
                health.failed(id, &e.to_string());
            } else {
                health.ok(id);
            }
        }
        Err(e) => health.failed(id, &e.to_string()),
    }
    r.as_ref().err().is_some_and(fatal)
}

/// A wasm call's two layers of failure (trap, then the plugin's own error) as one.
fn flat<T>(
    id: &str,
    limits: Limits,
    r: wasmtime::Result<Result<T, super::bindings::PluginError>>,
) -> Result<T, PluginError> {
    r.map_err(|e| PluginError::from_trap(id, limits, &e))?
        .map_err(|error| PluginError::Failed {
            id: id.to_owned(),
            error,
        })
}

async fn put(
    id: &str,
    store: &mut Store<PluginState>,
    g: &StorageGuest,
    key: &str,
    mut chunks: mpsc::Receiver<Put>,
) -> Result<u64, PluginError> {
    let limits = store.data().limits_cfg;
    reset_deadline(store);
    let up: ResourceAny = flat(id, limits, g.call_start_upload(&mut *store, key).await)?;
    let result = async {
        loop {
            match chunks.recv().await {
                Some(Put::Data(d)) => {
                    reset_deadline(store);
                    flat(id, limits, g.upload().call_write(&mut *store, up, &d).await)?;
                }
                Some(Put::Finish) => {
                    reset_deadline(store);
                    return flat(id, limits, g.upload().call_finish(&mut *store, up).await);
                }
                // The producer gave up (its source failed or it was dropped).
                None => {
                    reset_deadline(store);
                    flat(id, limits, g.upload().call_abort(&mut *store, up).await)?;
                    return Err(PluginError::Io {
                        id: id.to_owned(),
                        reason: "the upload was abandoned by its source; nothing was stored".into(),
                    });
                }
            }
        }
    }
    .await;
    if let Err(e) = &result
        && !fatal(e)
    {
        // The plugin refused a chunk: discard what it holds (best effort).
        reset_deadline(store);
        let _ = g.upload().call_abort(&mut *store, up).await;
    }
    if !result.as_ref().is_err_and(fatal) {
        let _ = up.resource_drop_async(&mut *store).await;
    }
    result
}

async fn get(
    id: &str,
    store: &mut Store<PluginState>,
    g: &StorageGuest,
    key: &str,
    chunks: mpsc::Sender<Bytes>,
) -> Result<u64, PluginError> {
    let limits = store.data().limits_cfg;
    reset_deadline(store);
    let down: ResourceAny = flat(id, limits, g.call_open_download(&mut *store, key).await)?;
    let mut total = 0u64;
    let result = loop {
        reset_deadline(store);
        let data = match flat(
            id,
            limits,
            g.download()
                .call_read(&mut *store, down, CHUNK as u32)
                .await,
        ) {
            Ok(d) => d,
            Err(e) => break Err(e),
        };
        if data.is_empty() {
            break Ok(total);
        }
        // The plugin was asked for at most CHUNK; more is a broken contract (and
        // memory the host did not budget for), not data.
        if data.len() > CHUNK {
            break Err(PluginError::Trap {
                id: id.to_owned(),
                reason: format!(
                    "broke the storage contract: read returned {} bytes where at most {CHUNK} were asked",
                    data.len()
                ),
            });
        }
        total += data.len() as u64;
        if chunks.send(Bytes::from(data)).await.is_err() {
            // The reader went away; stop reading.
            break Ok(total);
        }
    };
    if !result.as_ref().is_err_and(fatal) {
        let _ = down.resource_drop_async(&mut *store).await;
    }
    result
}

impl Session {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, PluginError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(make(tx))
            .await
            .map_err(|_| ended(&self.plugin))?;
        rx.await.map_err(|_| ended(&self.plugin))?
    }

    fn key(&self, key: &str) -> Result<(), PluginError> {
        berth_protocol::storage_key::check(key).map_err(|reason| PluginError::Usage {
            id: self.plugin.clone(),
            reason: format!("bad object key: {reason}"),
        })
    }

    /// Stores everything `src` yields under `key`; visible only once complete. A failing
    /// `src` aborts the upload (nothing is stored). Returns the object's size.
    pub async fn put(
        &self,
        key: &str,
        mut src: impl AsyncRead + Unpin,
    ) -> Result<u64, PluginError> {
        self.key(key)?;
        // At least two chunks in flight (one being written by the plugin, one being
        // read here); more where the plugin asked to overlap sending with reading.
        let (tx, chunks) = mpsc::channel(self.read_ahead);
        let (rtx, rrx) = oneshot::channel();
        self.cmds
            .send(Cmd::Put {
                key: key.to_owned(),
                chunks,
                reply: rtx,
            })
            .await
            .map_err(|_| ended(&self.plugin))?;
        let feed = async {
            loop {
                let mut buf = BytesMut::with_capacity(CHUNK);
                while buf.len() < CHUNK {
                    if src.read_buf(&mut buf).await? == 0 {
                        break;
                    }
                }
                if buf.is_empty() {
                    let _ = tx.send(Put::Finish).await;
                    return Ok::<(), std::io::Error>(());
                }
                if tx.send(Put::Data(buf.freeze())).await.is_err() {
                    // The plugin side failed; its reply says why.
                    return Ok(());
                }
            }
        };
        let fed = feed.await;
        drop(tx);
        let stored = rrx.await.map_err(|_| ended(&self.plugin))?;
        if let Err(e) = fed {
            return Err(PluginError::Io {
                id: self.plugin.clone(),
                reason: format!("reading the data to store failed ({e}); nothing was stored"),
            });
        }
        stored
    }

    /// Writes the object `key` into `dst`; returns its size.
    pub async fn get(
        &self,
        key: &str,
        mut dst: impl AsyncWrite + Unpin,
    ) -> Result<u64, PluginError> {
        self.key(key)?;
        let (tx, mut chunks) = mpsc::channel(2);
        let (rtx, rrx) = oneshot::channel();
        self.cmds
            .send(Cmd::Get {
                key: key.to_owned(),
                chunks: tx,
                reply: rtx,
            })
            .await
            .map_err(|_| ended(&self.plugin))?;
        let mut written = Ok(());
        while let Some(c) = chunks.recv().await {
            if let Err(e) = dst.write_all(&c).await {
                written = Err(e);
                break;
            }
        }
        drop(chunks);
        let n = rrx.await.map_err(|_| ended(&self.plugin))??;
        written
            .and(dst.flush().await)
            .map_err(|e| PluginError::Io {
                id: self.plugin.clone(),
                reason: format!("writing the object out failed: {e}"),
            })?;
        Ok(n)
    }

    pub async fn stat(&self, key: &str) -> Result<ObjectMeta, PluginError> {
        self.key(key)?;
        let key = key.to_owned();
        self.ask(|reply| Cmd::Stat { key, reply }).await
    }

    /// Objects under `prefix`, sorted, at most `limit` per page.
    pub async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page, PluginError> {
        let prefix = prefix.to_owned();
        self.ask(|reply| Cmd::List {
            prefix,
            cursor,
            limit,
            reply,
        })
        .await
    }

    pub async fn delete(&self, key: &str) -> Result<(), PluginError> {
        self.key(key)?;
        let key = key.to_owned();
        self.ask(|reply| Cmd::Delete { key, reply }).await
    }

    /// The bytes of linear memory the session's instance holds: its peak so far, since
    /// wasm memory never shrinks (what a plugin's memory figure is measured with).
    pub async fn memory_bytes(&self) -> Result<u64, PluginError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Memory { reply: tx })
            .await
            .map_err(|_| ended(&self.plugin))?;
        rx.await.map_err(|_| ended(&self.plugin))
    }

    /// `stat` of each key, in order, in as few plugin-thread hops as [`BATCH_MAX`]
    /// allows. A bad key fails alone; a call that kills the Store fails the keys after
    /// it with "discarded".
    pub async fn stat_many(&self, keys: &[String]) -> Vec<Result<ObjectMeta, PluginError>> {
        self.each(Each::Stat, keys)
            .await
            .into_iter()
            .map(|r| {
                r.and_then(|m| {
                    m.ok_or_else(|| PluginError::Usage {
                        id: self.plugin.clone(),
                        reason: "a batched stat came back without metadata".into(),
                    })
                })
            })
            .collect()
    }

    /// The uploads the backend holds that were begun and never completed, oldest
    /// first, at most `limit`; `None` when it cannot tell (built against 0.1.0).
    pub async fn incomplete_uploads(
        &self,
        limit: u32,
    ) -> Result<Option<Vec<IncompleteUpload>>, PluginError> {
        self.ask(|reply| Cmd::IncompleteUploads { limit, reply })
            .await
    }

    /// Discards the incomplete uploads begun before `before_ms`; how many (`None`
    /// as for [`Session::incomplete_uploads`]).
    pub async fn abort_incomplete_uploads(
        &self,
        before_ms: u64,
    ) -> Result<Option<u32>, PluginError> {
        self.ask(|reply| Cmd::AbortIncompleteUploads { before_ms, reply })
            .await
    }

    /// `delete` of each key, in order, batched as [`Session::stat_many`] is — in one
    /// `delete-objects` call per batch where the plugin has it (S3: one request per
    /// 1,000 keys).
    pub async fn delete_many(&self, keys: &[String]) -> Vec<Result<(), PluginError>> {
        self.each(Each::Delete, keys)
            .await
            .into_iter()
            .map(|r| r.map(drop))
            .collect()
    }

    async fn each(
        &self,
        op: Each,
        keys: &[String],
    ) -> Vec<Result<Option<ObjectMeta>, PluginError>> {
        let mut out: Vec<Result<Option<ObjectMeta>, PluginError>> = Vec::with_capacity(keys.len());
        // Keys the host refuses never reach the plugin; the rest keep their places.
        let mut good = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match self.key(k) {
                Ok(()) => {
                    good.push((i, k.clone()));
                    out.push(Ok(None));
                }
                Err(e) => out.push(Err(e)),
            }
        }
        for batch in good.chunks(BATCH_MAX) {
            let (tx, rx) = oneshot::channel();
            let cmd = Cmd::Each {
                op,
                keys: batch.iter().map(|(_, k)| k.clone()).collect(),
                reply: tx,
            };
            let done = match self.cmds.send(cmd).await {
                Ok(()) => rx.await.ok(),
                Err(_) => None,
            };
            match done {
                Some(done) => {
                    for ((i, _), r) in batch.iter().zip(done) {
                        out[*i] = r;
                    }
                }
                None => {
                    for (i, _) in batch {
                        out[*i] = Err(ended(&self.plugin));
                    }
                }
            }
        }
        out
    }
}
