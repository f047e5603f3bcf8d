//! The storage conformance suite, run against the built-in `storage-local` plugin
//! through the real runtime (wasmtime, the embedded component, a fresh Store per
//! session): round trips (1 GiB streamed, empty object), stat, list with prefix and
//! paging, delete, not-found mapping, abort leaves nothing, concurrent uploads, key
//! and directory confinement.
//!
//! Needs the plugins embedded: `cargo xtask test` builds them first.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use berth_plugins::egress::Pattern as Origin;
use berth_plugins::storage::{Session, StorageInstance};
use berth_plugins::{ExtraPlugin, Limits, PluginError, PluginKind, PluginRuntime};
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    PluginsConfigure, PluginsList, StorageAbortUploads, StorageList, StorageTest, StorageUploads,
};
use berth_protocol::api::plugins::{AbortUploads, PluginHealth, PluginKind as Kind, StorageRef};
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::flaky::FlakyProxy;
use berth_tests::s3::{self, S3Server};
use berth_tests::webdav::{self, WebDavServer};
use berth_tests::ws;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

const PLUGIN: &str = "storage-local";
const S3_PLUGIN: &str = "storage-s3";
const WEBDAV_PLUGIN: &str = "storage-webdav";

async fn runtime(tmp: &Path) -> PluginRuntime {
    let rt = PluginRuntime::start(&tmp.join("cache")).await.unwrap();
    let kinds: Vec<(String, PluginKind)> = rt
        .all()
        .map(|(id, p)| {
            let p = p.unwrap_or_else(|e| panic!("plugin {id} failed to load: {e}"));
            (id.to_owned(), p.kind)
        })
        .collect();
    assert!(
        kinds.contains(&(PLUGIN.to_owned(), PluginKind::Storage)),
        "storage-local embedded and recognised as a storage backend (run `cargo xtask test`): {kinds:?}"
    );
    rt
}

fn instance(dir: &Path) -> StorageInstance {
    std::fs::create_dir_all(dir).unwrap();
    StorageInstance {
        name: "local".into(),
        plugin: PLUGIN.into(),
        dir: Some(dir.to_path_buf()),
        config: "{}".into(),
        ..StorageInstance::default()
    }
}

/// A deterministic byte stream of `len` bytes, optionally failing after `fail_at`
/// bytes. Every 64 KiB block is one fixed random-looking block stamped with its index,
/// so any lost, repeated or reordered block changes the hash, and making 1 GiB is
/// memcpy, not per-byte work.
struct Pattern {
    pos: u64,
    len: u64,
    fail_at: Option<u64>,
    block: Vec<u8>,
}

const BLOCK: u64 = 64 << 10;

impl Pattern {
    fn new(len: u64) -> Self {
        let block = (0..BLOCK)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        Self {
            pos: 0,
            len,
            fail_at: None,
            block,
        }
    }

    /// Bytes `[at, at + n)` of the stream (`n` within one block).
    fn fill(&self, at: u64, out: &mut [u8]) {
        let off = (at % BLOCK) as usize;
        out.copy_from_slice(&self.block[off..off + out.len()]);
        let stamp = (at / BLOCK).to_le_bytes();
        for (k, b) in out.iter_mut().enumerate() {
            if off + k < stamp.len() {
                *b = stamp[off + k];
            } else {
                break;
            }
        }
    }

    fn sha(len: u64) -> String {
        let p = Self::new(len);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; BLOCK as usize];
        let mut i = 0;
        while i < len {
            let n = (len - i).min(BLOCK) as usize;
            p.fill(i, &mut buf[..n]);
            h.update(&buf[..n]);
            i += n as u64;
        }
        hex::encode(h.finalize())
    }
}

impl AsyncRead for Pattern {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(f) = self.fail_at
            && self.pos >= f
        {
            return Poll::Ready(Err(io::Error::other("the source broke")));
        }
        let end = self.fail_at.unwrap_or(self.len).min(self.len);
        let in_block = BLOCK - self.pos % BLOCK;
        let n = (end - self.pos).min(out.remaining() as u64).min(in_block) as usize;
        let at = self.pos;
        self.fill(at, out.initialize_unfilled_to(n));
        out.advance(n);
        self.pos += n as u64;
        Poll::Ready(Ok(()))
    }
}

/// Collects what `get` writes, hashing as it goes (1 GiB is not kept in memory).
#[derive(Default)]
struct Sink {
    hash: Sha256,
    len: u64,
}

impl tokio::io::AsyncWrite for Sink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.hash.update(buf);
        self.len += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

async fn read_back(s: &Session, key: &str) -> (u64, String) {
    let mut sink = Sink::default();
    let n = s.get(key, &mut sink).await.unwrap();
    assert_eq!(n, sink.len);
    (n, hex::encode(sink.hash.finalize()))
}

fn code(e: &PluginError) -> ErrorCode {
    berth_server::errors::plugin(e).code
}

fn partials(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".partial"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// What every storage backend must do, through the host's session: round trips
/// (1 GiB streamed, the empty object), stat, listing by prefix with paging, batched
/// stat and delete, not-found mapping, a failing source leaving nothing, atomic
/// replacement, and keys refused before the plugin sees them. The backend starts
/// empty; it ends holding `a/x.tar.gz` (777 bytes), `empty` and `list/k1`…`list/k5`.
async fn conformance(s: &Session, plugin: &str) {
    // 1 GiB streamed in and out, byte for byte.
    let gib = 1u64 << 30;
    let stored = s.put("big/one-gib.bin", Pattern::new(gib)).await.unwrap();
    assert_eq!(stored, gib);
    assert_eq!(
        read_back(s, "big/one-gib.bin").await,
        (gib, Pattern::sha(gib))
    );
    s.delete("big/one-gib.bin").await.unwrap();

    // The empty object.
    assert_eq!(s.put("empty", tokio::io::empty()).await.unwrap(), 0);
    assert_eq!(s.stat("empty").await.unwrap().size, 0);
    assert_eq!(read_back(s, "empty").await.0, 0);

    // stat, and not-found mapped for stat, get and (idempotent) delete.
    s.put("a/x.tar.gz", Pattern::new(12_345)).await.unwrap();
    let meta = s.stat("a/x.tar.gz").await.unwrap();
    assert_eq!((meta.key.as_str(), meta.size), ("a/x.tar.gz", 12_345));
    assert!(meta.modified_ms > 1_600_000_000_000, "{}", meta.modified_ms);
    let missing = s.stat("a/nope").await.unwrap_err();
    assert_eq!(code(&missing), ErrorCode::NotFound, "{missing}");
    assert!(missing.to_string().contains(plugin), "{missing}");
    let missing = s.get("a/nope", &mut Sink::default()).await.unwrap_err();
    assert_eq!(code(&missing), ErrorCode::NotFound);
    s.delete("a/nope").await.unwrap();

    // Listing: prefix, sorted, paged with a cursor, partial uploads never listed.
    for i in [3, 1, 4, 5, 2] {
        s.put(&format!("list/k{i}"), Pattern::new(i)).await.unwrap();
    }
    let mut keys = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s.list("list/", cursor.take(), 2).await.unwrap();
        assert!(page.objects.len() <= 2);
        keys.extend(page.objects.iter().map(|o| (o.key.clone(), o.size)));
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        keys,
        (1..=5)
            .map(|i| (format!("list/k{i}"), i))
            .collect::<Vec<_>>()
    );
    let all = s.list("", None, 1000).await.unwrap();
    assert!(all.objects.iter().all(|o| !o.key.starts_with(".partial")));
    assert_eq!(all.objects.len(), 7, "{:?}", all.objects);

    // Batched stat and delete: results in the order asked, a bad key or a missing
    // object failing alone, more keys than one batch carries.
    let asked: Vec<String> = ["list/k2", "list/none", "../escape", "list/k5"]
        .into_iter()
        .map(String::from)
        .collect();
    let got = s.stat_many(&asked).await;
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].as_ref().unwrap().size, 2);
    assert_eq!(code(got[1].as_ref().unwrap_err()), ErrorCode::NotFound);
    assert_eq!(code(got[2].as_ref().unwrap_err()), ErrorCode::BadRequest);
    assert_eq!(got[3].as_ref().unwrap().key, "list/k5");
    let many: Vec<String> = (0..berth_plugins::storage::BATCH_MAX + 5)
        .map(|i| format!("list/k{}", 1 + i % 5))
        .collect();
    let got = s.stat_many(&many).await;
    assert_eq!(got.len(), many.len());
    for (k, r) in many.iter().zip(&got) {
        assert_eq!(&r.as_ref().unwrap().key, k);
    }
    for r in s
        .delete_many(&["list/k4".to_owned(), "list/k5".to_owned()])
        .await
    {
        r.unwrap();
    }
    assert_eq!(
        code(&s.stat("list/k4").await.unwrap_err()),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(&s.stat("list/k5").await.unwrap_err()),
        ErrorCode::NotFound
    );
    for i in [4, 5] {
        s.put(&format!("list/k{i}"), Pattern::new(i)).await.unwrap();
    }

    // A source failing halfway: an error naming the cause, nothing visible, no partial
    // file left behind.
    let broken = Pattern {
        fail_at: Some(3 << 20),
        ..Pattern::new(5 << 20)
    };
    let e = s.put("a/broken", broken).await.unwrap_err();
    assert!(e.to_string().contains("the source broke"), "{e}");
    assert_eq!(
        code(&s.stat("a/broken").await.unwrap_err()),
        ErrorCode::NotFound
    );

    // Replacing an object is atomic: the old content until the new one is complete.
    s.put("a/x.tar.gz", Pattern::new(777)).await.unwrap();
    assert_eq!(s.stat("a/x.tar.gz").await.unwrap().size, 777);

    // Keys are checked by the host before the plugin sees them.
    for bad in ["../escape", "/etc/passwd", "a//b", "a/./b", "sp ace"] {
        let e = s.stat(bad).await.unwrap_err();
        assert_eq!(code(&e), ErrorCode::BadRequest, "{bad}: {e}");
    }
    let e = s.put("../escape", tokio::io::empty()).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::BadRequest, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_local_passes_the_conformance_suite() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let dir = tmp.path().join("store");
    let s = rt.session(&instance(&dir)).await.unwrap();
    conformance(&s, PLUGIN).await;

    // Objects are plain files under the granted directory, and the failed upload of
    // the suite left no partial file behind.
    assert_eq!(
        std::fs::metadata(dir.join("a/x.tar.gz")).unwrap().len(),
        777
    );
    assert_eq!(partials(&dir), 0, "the aborted upload left a partial file");
    // The plugin's own workspace is not a key.
    let e = s.put(".partial/x", tokio::io::empty()).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::BadRequest, "{e}");

    // The preopen is the boundary: a symlink out of the directory does not lead out.
    std::os::unix::fs::symlink("/etc", dir.join("out")).unwrap();
    let e = s
        .get("out/hostname", &mut Sink::default())
        .await
        .unwrap_err();
    assert_ne!(
        code(&e),
        ErrorCode::BadRequest,
        "refused by the sandbox, not the key check"
    );
    assert!(
        !matches!(e, PluginError::Trap { .. }),
        "a refusal, not a crash: {e}"
    );
    // `stat` does not leave through it either.
    let e = s.stat("out/hostname").await.unwrap_err();
    assert_ne!(code(&e), ErrorCode::BadRequest, "{e}");
    // Only files are objects: neither a symlink (even to an object) nor a directory.
    std::os::unix::fs::symlink("empty", dir.join("link")).unwrap();
    for k in ["link", "a"] {
        let e = s.stat(k).await.unwrap_err();
        assert_eq!(code(&e), ErrorCode::NotFound, "{k}: {e}");
    }
    // The session is still usable after the refusals.
    assert_eq!(s.stat("empty").await.unwrap().size, 0);
}

/// An instance of `storage-s3` on `server`'s bucket `bucket`, allowed to reach it (a
/// loopback address, so with the private-address grant).
fn s3_instance(server: &S3Server, bucket: &str, secret: &str) -> StorageInstance {
    s3_instance_with(server, bucket, secret, serde_json::json!({}))
}

/// [`s3_instance`] with more settings (storage class, encryption…).
fn s3_instance_with(
    server: &S3Server,
    bucket: &str,
    secret: &str,
    settings: serde_json::Value,
) -> StorageInstance {
    let mut config = serde_json::json!({
        "endpoint": server.url,
        "bucket": bucket,
        "access_key_id": s3::ACCESS_KEY,
        "secret_access_key": secret,
        "part_size_mib": 8,
    });
    if let (Some(all), serde_json::Value::Object(more)) = (config.as_object_mut(), settings) {
        all.extend(more);
    }
    StorageInstance {
        name: "s3".into(),
        plugin: S3_PLUGIN.into(),
        dir: None,
        config: config.to_string(),
        egress: vec![Origin::parse(&server.url).unwrap()],
        allow_private: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_s3_passes_the_conformance_suite_against_s3s_fs() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    assert!(
        rt.get(S3_PLUGIN)
            .is_ok_and(|p| p.kind == PluginKind::Storage),
        "storage-s3 embedded as a storage backend"
    );
    let server = S3Server::start("backups");
    let s = rt
        .session(&s3_instance(&server, "backups", s3::SECRET_KEY))
        .await
        .unwrap();
    conformance(&s, S3_PLUGIN).await;
    // What the suite left is in the bucket, as the server stores it.
    let object = server.object_path("backups", "a/x.tar.gz");
    assert_eq!(std::fs::metadata(&object).unwrap().len(), 777);

    // A wrong secret is refused by the server's signature check, and said so.
    let wrong = rt
        .session(&s3_instance(&server, "backups", "not-the-secret"))
        .await
        .unwrap();
    let e = wrong.stat("a/x.tar.gz").await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::Forbidden, "{e}");
    // A bucket that does not exist is a configuration error naming it.
    let missing = rt
        .session(&s3_instance(&server, "no-such-bucket", s3::SECRET_KEY))
        .await
        .unwrap();
    let e = missing.list("", None, 10).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::BadRequest, "{e}");
    assert!(e.to_string().contains("no-such-bucket"), "{e}");
}

/// The same suite against a second, independent S3 implementation, with four parts
/// going up at once (s3s-fs's run uses the default two).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_s3_passes_the_conformance_suite_against_moto() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let server = S3Server::start_moto("backups");
    let four_at_once = serde_json::json!({ "upload_concurrency": 4 });
    let s = rt
        .session(&s3_instance_with(
            &server,
            "backups",
            s3::SECRET_KEY,
            four_at_once,
        ))
        .await
        .unwrap();
    conformance(&s, S3_PLUGIN).await;
}

/// An S3 instance on `server`'s bucket `backups`, reaching it through a proxy that
/// refuses the requests it is told to.
fn behind_flaky_proxy(server: &S3Server) -> (FlakyProxy, StorageInstance) {
    let proxy = FlakyProxy::start(&server.url);
    let mut inst = s3_instance(server, "backups", s3::SECRET_KEY);
    inst.config = inst.config.replace(&server.url, &proxy.url);
    inst.egress = vec![Origin::parse(&proxy.url).unwrap()];
    (proxy, inst)
}

/// A request that fails temporarily (503) is tried again, backing off — upload parts,
/// stat, reads, listings: two refusals go unnoticed; a server that keeps refusing is
/// `unavailable` after four tries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_requests_that_fail_temporarily_are_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let server = S3Server::start("backups");
    let (proxy, inst) = behind_flaky_proxy(&server);
    let s = rt.session(&inst).await.unwrap();
    s.put("flaky/object", Pattern::new(9 << 20)).await.unwrap();

    // An upload's parts are sent again: past the stale-upload sweep and the multipart
    // upload's start, the first tries of its two parts are refused.
    proxy.fail_after(2, 2);
    s.put("flaky/parts", Pattern::new(9 << 20)).await.unwrap();
    assert_eq!(proxy.failed(), 2);
    assert_eq!(
        read_back(&s, "flaky/parts").await,
        (9 << 20, Pattern::sha(9 << 20))
    );
    s.delete("flaky/parts").await.unwrap();

    proxy.fail_next(2);
    assert_eq!(s.stat("flaky/object").await.unwrap().size, 9 << 20);
    assert_eq!(proxy.failed(), 4);
    proxy.fail_next(2);
    assert_eq!(
        read_back(&s, "flaky/object").await,
        (9 << 20, Pattern::sha(9 << 20))
    );
    proxy.fail_next(2);
    let page = s.list("flaky/", None, 10).await.unwrap();
    assert_eq!(page.objects.len(), 1);
    assert_eq!(proxy.failed(), 8);

    proxy.fail_next(100);
    let e = s.stat("flaky/object").await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::Unavailable, "{e}");
    assert_eq!(proxy.failed(), 8 + 4, "four tries");
    proxy.fail_next(0);
    s.delete("flaky/object").await.unwrap();
}

/// An upload holds only the parts going up: opendal's multipart writer held one more
/// back until the next arrived, 8 MiB more here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_upload_holds_only_the_parts_going_up() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let server = S3Server::start("backups");
    let two_at_once = serde_json::json!({ "part_size_mib": 8, "upload_concurrency": 2 });
    let s = rt
        .session(&s3_instance_with(
            &server,
            "backups",
            s3::SECRET_KEY,
            two_at_once,
        ))
        .await
        .unwrap();
    let len = 100 << 20;
    assert_eq!(
        s.put("memory/object", Pattern::new(len)).await.unwrap(),
        len
    );
    let memory = s.memory_bytes().await.unwrap();
    // Two 8 MiB parts, and what opendal, the HTTP client and the allocator keep.
    assert!(
        memory <= 24 << 20,
        "{:.1} MiB",
        memory as f64 / f64::from(1 << 20)
    );
    assert_eq!(
        read_back(&s, "memory/object").await,
        (len, Pattern::sha(len))
    );
}

/// The storage class and server-side encryption asked for are what the server
/// records, for a single PUT and a multipart upload alike; an archive class that
/// cannot be restored from directly, or a concurrency out of range, is refused up front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_storage_class_and_encryption_reach_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let server = S3Server::start_moto("backups");
    let settings = serde_json::json!({
        "storage_class": "STANDARD_IA",
        "server_side_encryption": "AES256",
    });
    let classed = rt
        .session(&s3_instance_with(
            &server,
            "backups",
            s3::SECRET_KEY,
            settings,
        ))
        .await
        .unwrap();
    for (key, len) in [("class/small", 1000), ("class/multipart", 20 << 20)] {
        classed.put(key, Pattern::new(len)).await.unwrap();
        let head = server.moto_head("backups", key);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("x-amz-storage-class: standard_ia"), "{head}");
        assert!(
            head.contains("x-amz-server-side-encryption: aes256"),
            "{head}"
        );
    }
    let refused = [
        ("storage_class", serde_json::json!("DEEP_ARCHIVE")),
        ("upload_concurrency", serde_json::json!(0)),
        ("upload_concurrency", serde_json::json!(9)),
    ];
    for (field, value) in refused {
        let settings = serde_json::json!({ field: value });
        let e = rt
            .session(&s3_instance_with(
                &server,
                "backups",
                s3::SECRET_KEY,
                settings,
            ))
            .await
            .unwrap_err();
        assert_eq!(code(&e), ErrorCode::BadRequest, "{e}");
        assert!(e.to_string().contains(field), "{e}");
    }
}

/// An instance of `storage-webdav` on `server`'s folder `root`, allowed to reach it.
fn webdav_instance(server: &WebDavServer, root: &str, password: &str) -> StorageInstance {
    StorageInstance {
        name: "dav".into(),
        plugin: WEBDAV_PLUGIN.into(),
        dir: None,
        config: serde_json::json!({
            "url": server.url,
            "root": root,
            "username": webdav::USER,
            "password": password,
        })
        .to_string(),
        egress: vec![Origin::parse(&server.url).unwrap()],
        allow_private: true,
    }
}

/// The suite against one WebDAV server, then what only a server shows: the objects as
/// plain files under the folder (no temporary upload left), and a wrong password
/// refused with the server named.
async fn webdav_conformance(server: &WebDavServer) {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let s = rt
        .session(&webdav_instance(server, "berth/backups", webdav::PASSWORD))
        .await
        .unwrap();
    conformance(&s, WEBDAV_PLUGIN).await;
    let file = server.file("berth/backups", "a/x.tar.gz");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 777);
    let files = server.files("berth/backups");
    assert!(files.iter().all(|f| !f.contains('~')), "{files:?}");
    assert!(files.contains(&"list/k3".to_owned()), "{files:?}");

    let wrong = rt
        .session(&webdav_instance(
            server,
            "berth/backups",
            "not-the-password",
        ))
        .await
        .unwrap();
    let e = wrong.stat("a/x.tar.gz").await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::Forbidden, "{e}");
    assert!(e.to_string().contains(&server.url), "{e}");
    let e = wrong.put("a/y", Pattern::new(3 << 20)).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::Forbidden, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_webdav_passes_the_conformance_suite_against_rclone() {
    webdav_conformance(&WebDavServer::start_rclone()).await;
}

/// The same suite against a second, independent WebDAV implementation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_webdav_passes_the_conformance_suite_against_wsgidav() {
    webdav_conformance(&WebDavServer::start_wsgidav()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_upload_to_different_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let dir = tmp.path().join("store");
    let inst = instance(&dir);
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(rt.session(&inst).await.unwrap());
    }
    let sizes = [3u64 << 20, 1 << 20, 5 << 20, 17];
    let puts = sessions
        .iter()
        .zip(sizes)
        .enumerate()
        .map(|(i, (s, len))| async move { s.put(&format!("c/{i}"), Pattern::new(len)).await });
    for (r, len) in futures_util::future::join_all(puts)
        .await
        .into_iter()
        .zip(sizes)
    {
        assert_eq!(r.unwrap(), len);
    }
    for (i, len) in sizes.iter().enumerate() {
        assert_eq!(
            read_back(&sessions[0], &format!("c/{i}")).await,
            (*len, Pattern::sha(*len))
        );
    }
    assert_eq!(partials(&dir), 0);
}

#[tokio::test]
async fn only_storage_backends_open_storage_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let mut inst = instance(&tmp.path().join("store"));
    inst.plugin = "probe".into();
    let e = rt.session(&inst).await.unwrap_err();
    assert!(e.to_string().contains("not a storage backend"), "{e}");
    inst.plugin = "no-such-plugin".into();
    assert_eq!(
        code(&rt.session(&inst).await.unwrap_err()),
        ErrorCode::NotFound
    );

    // Settings it does not take are refused by the plugin, naming itself.
    let mut inst = instance(&tmp.path().join("store"));
    inst.config = r#"{"path":"/etc"}"#.into();
    let e = rt.session(&inst).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::BadRequest, "{e}");
    assert!(e.to_string().contains("storage-local"), "{e}");
}

#[tokio::test]
async fn plugins_and_storage_over_the_protocol() {
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let viewer = ws::user(&berth, &admin, "vic", Role::Viewer).await;

    let list = viewer.call::<PluginsList>(Empty {}).await.unwrap();
    let local = list
        .plugins
        .iter()
        .find(|p| p.id == PLUGIN)
        .expect("storage-local listed");
    assert_eq!(local.kind, Some(Kind::Storage));
    assert_eq!(local.health, PluginHealth::Healthy);
    assert!(local.builtin && local.sha256.as_ref().is_some_and(|s| s.len() == 64));
    assert!(local.capabilities.iter().any(|c| c.contains("no network")));

    let storage = viewer.call::<StorageList>(Empty {}).await.unwrap();
    assert_eq!(storage.storage.len(), 1);
    assert!(storage.storage[0].default && storage.storage[0].plugin == PLUGIN);
    assert!(
        storage.storage[0]
            .location
            .contains(&berth.data_dir.join("backups").display().to_string())
    );

    // The round trip: admin only, audited, leaves nothing behind.
    let denied = viewer.call::<StorageTest>(StorageRef { name: None }).await;
    assert_eq!(
        denied.unwrap_err().body().map(|b| b.code),
        Some(ErrorCode::Forbidden)
    );
    let r = admin
        .call::<StorageTest>(StorageRef { name: None })
        .await
        .unwrap();
    assert_eq!((r.name.as_str(), r.bytes), ("local", 256 * 1024));
    assert!(r.total_ms >= r.write_ms + r.read_ms);
    let leftovers: Vec<_> = walk(&berth.data_dir.join("backups"));
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let missing = admin
        .call::<StorageTest>(named("s3-nope"))
        .await
        .unwrap_err();
    assert_eq!(missing.body().map(|b| b.code), Some(ErrorCode::NotFound));
}

/// The storage instance `name`, as `storage.test` and friends name it.
fn named(name: &str) -> StorageRef {
    StorageRef {
        name: Some(name.into()),
    }
}

/// An S3 instance configured the way an admin does it (the form or `berth ctl`): the
/// keys go in as secrets, the endpoint's origin becomes the egress grant, and
/// `storage.test` proves the bucket end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_instance_is_configured_tested_and_keeps_its_keys_secret() {
    let server = S3Server::start("berth");
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let configure = |secret: &str| {
        let settings = serde_json::json!({ "prefix": "host-a" });
        server.configure_request("offsite", "berth", settings, secret)
    };
    let saved = admin
        .call::<PluginsConfigure>(configure(s3::SECRET_KEY))
        .await
        .unwrap();
    assert_eq!(
        saved.egress,
        vec![server.url.clone()],
        "the endpoint's origin"
    );
    assert!(saved.secrets_set.contains(&"secret_access_key".to_owned()));
    let stored = serde_json::to_string(&saved).unwrap();
    assert!(
        !stored.contains(s3::SECRET_KEY),
        "the secret never comes back"
    );

    let r = admin.call::<StorageTest>(named("offsite")).await.unwrap();
    assert_eq!((r.name.as_str(), r.bytes), ("offsite", 256 * 1024));
    // The round trip went to the bucket, under the prefix, and cleaned up after itself.
    let prefix = server.object_path("berth", "host-a");
    assert!(walk(&prefix).is_empty(), "{:?}", walk(&prefix));

    // Wrong keys: refused by the server, reported as such.
    admin
        .call::<PluginsConfigure>(configure("wrong-secret"))
        .await
        .unwrap();
    let e = admin
        .call::<StorageTest>(named("offsite"))
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Forbidden), "{e}");
}

/// Starts a multipart upload of `key` at moto (as a killed plugin leaves one) and
/// returns its id.
fn unfinished_upload(server: &S3Server, key: &str) -> String {
    let answer = server.moto_request("POST", &format!("/berth/{key}?uploads"));
    let start = answer.find("<UploadId>").expect(&answer) + "<UploadId>".len();
    let end = answer[start..].find("</UploadId>").expect(&answer);
    answer[start..start + end].to_owned()
}

/// Multipart uploads a killed plugin left behind under the prefix are aborted by the
/// next upload; others in the bucket are not Berth's and are kept. (moto reports
/// every upload as begun on 2010-11-10, so here all are old; which age is stale is
/// the unit tests' of `age.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_multipart_uploads_under_the_prefix_are_aborted() {
    let server = S3Server::start_moto("berth");
    let stale = unfinished_upload(&server, "host-a/container-app/stale.tar.gz");
    let elsewhere = unfinished_upload(&server, "other/old.tar.gz");
    let listed = server.moto_request("GET", "/berth?uploads");
    assert!(
        listed.contains(&stale) && listed.contains(&elsewhere),
        "{listed}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let settings = serde_json::json!({ "prefix": "host-a" });
    let instance = s3_instance_with(&server, "berth", s3::SECRET_KEY, settings);
    let s = rt.session(&instance).await.unwrap();
    s.put("container-app/new.tar.gz", Pattern::new(1000))
        .await
        .unwrap();
    let listed = server.moto_request("GET", "/berth?uploads");
    assert!(
        !listed.contains(&stale),
        "the stale upload is aborted: {listed}"
    );
    assert!(listed.contains(&elsewhere), "outside the prefix: {listed}");
    assert_eq!(read_back(&s, "container-app/new.tar.gz").await.0, 1000);
}

/// An admin sees the incomplete multipart uploads under the instance's prefix and
/// aborts those older than asked; others in the bucket are left; a viewer may do
/// neither; a local instance holds none. (moto dates every upload 2010-11-10.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_lists_and_aborts_incomplete_uploads() {
    let server = S3Server::start_moto("berth");
    unfinished_upload(&server, "host-a/container-app/one.tar.gz");
    unfinished_upload(&server, "host-a/container-db/two.tar.gz");
    let elsewhere = unfinished_upload(&server, "other/old.tar.gz");
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let settings = serde_json::json!({ "prefix": "host-a" });
    let request = server.configure_request("bucket", "berth", settings, s3::SECRET_KEY);
    admin.call::<PluginsConfigure>(request).await.unwrap();

    let found = admin.call::<StorageUploads>(named("bucket")).await.unwrap();
    assert!(found.supported);
    let keys: Vec<&str> = found.uploads.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.contains(&"container-app/one.tar.gz"), "{keys:?}");
    assert!(found.uploads.iter().all(|u| u.started_ms > 0));

    let viewer = ws::user(&berth, &admin, "vic", Role::Viewer).await;
    let abort = |hours: Option<u32>| AbortUploads {
        name: Some("bucket".into()),
        older_than_hours: hours,
    };
    let denied = viewer.call::<StorageAbortUploads>(abort(None)).await;
    assert_eq!(
        denied.unwrap_err().body().map(|b| b.code),
        Some(ErrorCode::Forbidden)
    );
    let e = admin
        .call::<StorageAbortUploads>(abort(Some(0)))
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::BadRequest), "{e}");

    let done = admin
        .call::<StorageAbortUploads>(abort(None))
        .await
        .unwrap();
    assert_eq!(done.aborted, 2);
    let found = admin.call::<StorageUploads>(named("bucket")).await.unwrap();
    assert!(found.uploads.is_empty(), "{:?}", found.uploads);
    let listed = server.moto_request("GET", "/berth?uploads");
    assert!(listed.contains(&elsewhere), "outside the prefix: {listed}");

    let local = admin.call::<StorageUploads>(named("local")).await.unwrap();
    assert!(local.supported && local.uploads.is_empty());
}

/// WebDAV's incomplete uploads are the temporary files an upload killed with the
/// plugin leaves (`<key>~upload-<ms>`): listed with the key and start they carry,
/// aborted by age, the stored objects untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_temporary_files_are_its_incomplete_uploads() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    // wsgidav: rclone's server caches folder listings, so files made on its disk
    // behind its back stay unseen for minutes.
    let server = WebDavServer::start_wsgidav();
    let s = rt
        .session(&webdav_instance(&server, "berth", webdav::PASSWORD))
        .await
        .unwrap();
    s.put("a/kept.tar.gz", Pattern::new(1000)).await.unwrap();
    let old = server.file("berth", "a/old.tar.gz~upload-1000");
    let young = server.file("berth", "young.tar.gz~upload-9999999999999");
    std::fs::write(&old, b"part of a killed upload").unwrap();
    std::fs::write(&young, b"an upload running now").unwrap();

    let found = s.incomplete_uploads(10).await.unwrap().unwrap();
    let listed: Vec<(&str, u64)> = found
        .iter()
        .map(|u| (u.key.as_str(), u.started_ms))
        .collect();
    assert_eq!(
        listed,
        [("a/old.tar.gz", 1000), ("young.tar.gz", 9_999_999_999_999)]
    );
    assert_eq!(s.abort_incomplete_uploads(5_000).await.unwrap(), Some(1));
    assert!(!old.exists() && young.exists());
    assert_eq!(read_back(&s, "a/kept.tar.gz").await.0, 1000);
}

/// A storage plugin built against `berth:plugin@0.1.0` — `storage-local` as built before
/// 0.1.1 added `storage-upkeep` (tests/fixtures) — still loads, stores, reads and
/// deletes (one key per call), and says it cannot tell its incomplete uploads; the
/// built-in one, built against 0.1.1, answers that it holds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_plugin_built_against_api_0_1_0_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/storage-local-api-0.1.0.wasm"
    );
    let manifest = "id = \"legacy-local\"\nname = \"Legacy\"\nversion = \"0.1.0\"\n\
                    kind = \"storage\"\napi = \"berth:plugin@0.1\"\n\
                    [capabilities]\nstorage_dir = true\n";
    let legacy = ExtraPlugin {
        id: "legacy-local".into(),
        wasm: std::fs::read(fixture).unwrap(),
        manifest: Some(manifest.into()),
    };
    let cache = tmp.path().join("cache");
    let rt = PluginRuntime::start_with(&cache, Limits::default(), vec![legacy])
        .await
        .unwrap();
    assert_eq!(rt.get("legacy-local").unwrap().kind, PluginKind::Storage);
    let instance = |plugin: &str| {
        let dir = tmp.path().join(plugin);
        std::fs::create_dir_all(&dir).unwrap();
        StorageInstance {
            name: plugin.into(),
            plugin: plugin.into(),
            dir: Some(dir),
            config: "{}".into(),
            ..StorageInstance::default()
        }
    };
    let s = rt.session(&instance("legacy-local")).await.unwrap();
    let keys: Vec<String> = ["a/1", "a/2"].map(String::from).into();
    for key in &keys {
        s.put(key, Pattern::new(1000)).await.unwrap();
    }
    assert_eq!(read_back(&s, "a/2").await, (1000, Pattern::sha(1000)));
    let done = s.delete_many(&keys).await;
    assert!(done.iter().all(Result::is_ok), "{done:?}");
    for key in &keys {
        assert_eq!(code(&s.stat(key).await.unwrap_err()), ErrorCode::NotFound);
    }
    assert!(s.incomplete_uploads(10).await.unwrap().is_none());
    assert!(s.abort_incomplete_uploads(0).await.unwrap().is_none());

    let current = rt.session(&instance(PLUGIN)).await.unwrap();
    let none = current.incomplete_uploads(10).await.unwrap();
    assert!(none.is_some_and(|u| u.is_empty()));
}

/// Deleting many keys from S3 is one `DeleteObjects` request, not one per key: with
/// every request after the first refused, all three are still deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_deletes_many_keys_in_one_request() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(tmp.path()).await;
    let server = S3Server::start("backups");
    let (proxy, inst) = behind_flaky_proxy(&server);
    let s = rt.session(&inst).await.unwrap();
    let keys: Vec<String> = ["a/1", "a/2", "b/3"].map(String::from).into();
    for key in &keys {
        s.put(key, Pattern::new(1000)).await.unwrap();
    }
    proxy.fail_after(1, 100);
    let done = s.delete_many(&keys).await;
    assert!(done.iter().all(Result::is_ok), "{done:?}");
    assert_eq!(proxy.failed(), 0);
    proxy.fail_next(0);
    for key in &keys {
        let e = s.stat(key).await.unwrap_err();
        assert_eq!(code(&e), ErrorCode::NotFound, "{key}: {e}");
    }
}

/// A server whose clock is two hours behind this machine's refuses every signature
/// as too old (SigV4 allows 15 minutes); `storage.test` says so, and by how much,
/// rather than leaving the admin to suspect the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_test_reports_a_clock_the_s3_server_refuses() {
    let server = S3Server::start_with_clock("berth", "-2h");
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let request =
        server.configure_request("skewed", "berth", serde_json::json!({}), s3::SECRET_KEY);
    admin.call::<PluginsConfigure>(request).await.unwrap();
    let e = admin
        .call::<StorageTest>(named("skewed"))
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Forbidden), "{e}");
    let message = e.to_string();
    assert!(
        message.contains("clock is 2 h 0 min ahead of the server's")
            || message.contains("clock is 1 h 59 min ahead of the server's"),
        "{message}"
    );
    assert!(message.contains("NTP"), "{message}");
}

/// The same for WebDAV over the protocol: the password a write-only secret, the URL's
/// origin the egress grant, `storage.test` a round trip in the folder that leaves
/// nothing, and a wrong password reported as refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webdav_instance_is_configured_tested_and_keeps_its_password_secret() {
    let server = WebDavServer::start_rclone();
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let saved = admin
        .call::<PluginsConfigure>(server.configure_request("nas", "berth", webdav::PASSWORD))
        .await
        .unwrap();
    assert_eq!(saved.egress, vec![server.url.clone()], "the URL's origin");
    assert!(saved.secrets_set.contains(&"password".to_owned()));
    let stored = serde_json::to_string(&saved).unwrap();
    assert!(
        !stored.contains(webdav::PASSWORD),
        "the password never comes back"
    );

    let r = admin.call::<StorageTest>(named("nas")).await.unwrap();
    assert_eq!((r.name.as_str(), r.bytes), ("nas", 256 * 1024));
    assert!(
        server.files("berth").is_empty(),
        "{:?}",
        server.files("berth")
    );

    admin
        .call::<PluginsConfigure>(server.configure_request("nas", "berth", "wrong"))
        .await
        .unwrap();
    let e = admin.call::<StorageTest>(named("nas")).await.unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Forbidden), "{e}");
}

/// Regular files under `dir`, recursively.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
