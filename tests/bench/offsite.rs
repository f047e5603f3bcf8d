//! Off-site storage figures (issue 25), against a real S3 server (`s3s-fs`) on
//! loopback, each beside baselines measured in the same run on the same server:
//!
//! - 1 GiB uploaded and downloaded through `storage-s3` (the sandboxed plugin: opendal
//!   inside wasm, HTTP through the host's `wasi:http`), uploading one part at a time
//!   and with the default concurrency, against the same transfers by native opendal
//!   in this process (same service, part size and range size, one part at a time) and
//!   by Debian's `rclone copyto --ignore-times` (uploading every round) / `rclone cat`
//!   with its defaults (5 MiB parts, 4 in flight);
//! - the plugin's linear memory after them (its peak: wasm memory never shrinks), one
//!   instance per concurrency uploading and one downloading.
//!
//! Rounds alternate the three; the medians are reported. Run with `cargo xtask bench`.
//! Writes `target/bench/offsite.md`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use berth_plugins::PluginRuntime;
use berth_plugins::egress::Pattern as Origin;
use berth_plugins::storage::{Session, StorageInstance};
use berth_tests::median;
use berth_tests::s3::{self, S3Server};
use bytes::Bytes;
use futures_util::StreamExt;
use opendal::{Buffer, HttpBody, HttpTransport, Operator};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const GIB: u64 = 1 << 30;
const CHUNK: usize = 1 << 20;
/// The plugin's default part size, used by all three.
const PART_MIB: usize = 16;
/// The plugin's ranged-read size (`READ_AHEAD`), used by native opendal too (which
/// reads one range at a time; the plugin four).
const RANGE: u64 = 8 << 20;
const ROUNDS: usize = 3;
/// `storage-s3`'s default `upload_concurrency`.
const CONCURRENCY: u32 = 2;
const BUCKET: &str = "bench";

/// `len` bytes: one fixed 1 MiB block over and over (memcpy, not per-byte work).
struct Repeat {
    block: Bytes,
    left: u64,
}

impl Repeat {
    fn new(len: u64) -> Self {
        let block: Vec<u8> = (0..CHUNK as u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        Self {
            block: block.into(),
            left: len,
        }
    }
}

impl AsyncRead for Repeat {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (self.left as usize)
            .min(buf.remaining())
            .min(self.block.len());
        buf.put_slice(&self.block[..n]);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

/// Counts what is written and drops it.
#[derive(Default)]
struct Sink(u64);

impl AsyncWrite for Sink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0 += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// opendal's transport for this process: hyper's client, plain HTTP (the server is on
/// loopback), the same shape as the plugin's transport over `wasi:http`.
#[derive(Clone)]
struct Hyper(
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<Bytes>,
    >,
);

fn transport_error(e: impl std::fmt::Display) -> opendal::Error {
    opendal::Error::new(opendal::ErrorKind::Unexpected, e.to_string()).set_temporary()
}

impl HttpTransport for Hyper {
    async fn fetch(&self, req: http::Request<Buffer>) -> opendal::Result<http::Response<HttpBody>> {
        let (parts, body) = req.into_parts();
        let head = parts.method == http::Method::HEAD;
        let req = http::Request::from_parts(parts, http_body_util::Full::new(body.to_bytes()));
        let response = self.0.request(req).await.map_err(transport_error)?;
        let (parts, body) = response.into_parts();
        let size = if head {
            Some(0)
        } else {
            parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
        };
        let frames = http_body_util::BodyDataStream::new(body)
            .map(|frame| frame.map(Buffer::from).map_err(transport_error));
        Ok(http::Response::from_parts(
            parts,
            HttpBody::new(frames, size),
        ))
    }
}

fn native(server: &S3Server) -> Operator {
    let builder = opendal::services::S3::default()
        .bucket(BUCKET)
        .region("us-east-1")
        .endpoint(&server.url)
        .root("/native")
        .access_key_id(s3::ACCESS_KEY)
        .secret_access_key(s3::SECRET_KEY)
        .disable_config_load()
        .disable_ec2_metadata();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let context = opendal::OperationContext::new()
        .with_http_transport(opendal::HttpTransporter::new(Hyper(client)));
    Operator::new(builder).unwrap().with_context(context)
}

async fn native_put(op: &Operator) -> Duration {
    let block = Repeat::new(CHUNK as u64).block;
    let t = Instant::now();
    let mut writer = op
        .writer_with("one-gib.bin")
        .chunk(PART_MIB << 20)
        .await
        .unwrap();
    for _ in 0..(GIB / CHUNK as u64) {
        writer.write(block.clone()).await.unwrap();
    }
    writer.close().await.unwrap();
    t.elapsed()
}

async fn native_get(op: &Operator) -> Duration {
    let t = Instant::now();
    let mut at = 0;
    while at < GIB {
        let end = (at + RANGE).min(GIB);
        let data = op.read_with("one-gib.bin").range(at..end).await.unwrap();
        assert_eq!(data.len() as u64, end - at);
        at = end;
    }
    t.elapsed()
}

async fn plugin_put(s: &Session) -> Duration {
    let t = Instant::now();
    assert_eq!(
        s.put("plugin/one-gib.bin", Repeat::new(GIB)).await.unwrap(),
        GIB
    );
    t.elapsed()
}

async fn plugin_get(s: &Session) -> Duration {
    let t = Instant::now();
    let mut sink = Sink::default();
    assert_eq!(s.get("plugin/one-gib.bin", &mut sink).await.unwrap(), GIB);
    assert_eq!(sink.0, GIB);
    t.elapsed()
}

/// `rclone` with the server as an on-the-fly remote `bench:` (no config file).
fn rclone(server: &S3Server, args: &[&str], stdout: Stdio) -> Duration {
    let t = Instant::now();
    let status = server
        .rclone()
        .args(args)
        .stdout(stdout)
        .status()
        .expect("rclone (Debian's rclone package)");
    assert!(status.success(), "rclone {args:?}");
    t.elapsed()
}

fn gib_file(dir: &Path) -> PathBuf {
    let path = dir.join("one-gib.bin");
    let block = Repeat::new(CHUNK as u64).block;
    let mut f = std::fs::File::create(&path).unwrap();
    for _ in 0..(GIB / CHUNK as u64) {
        f.write_all(&block).unwrap();
    }
    f.sync_all().unwrap();
    path
}

fn mbps(d: Duration) -> f64 {
    GIB as f64 / 1e6 / d.as_secs_f64()
}

fn row(what: &str, plugin: Duration, base: Duration, base_name: &str, goal: &str) -> String {
    format!(
        "| {what} | {:.0} MB/s ({:.1} s) | {:.0} MB/s ({:.1} s), {base_name} | **{:.2}×** | {goal} |\n",
        mbps(plugin),
        plugin.as_secs_f64(),
        mbps(base),
        base.as_secs_f64(),
        mbps(plugin) / mbps(base)
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let md = rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = S3Server::start(BUCKET);
        let cache = tmp.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        let plugins = PluginRuntime::start(&cache).await.unwrap();
        let inst = |concurrency: u32| StorageInstance {
            name: "bench".into(),
            plugin: "storage-s3".into(),
            dir: None,
            config: serde_json::json!({
                "endpoint": server.url,
                "bucket": BUCKET,
                "access_key_id": s3::ACCESS_KEY,
                "secret_access_key": s3::SECRET_KEY,
                "part_size_mib": PART_MIB,
                "upload_concurrency": concurrency,
            })
            .to_string(),
            egress: vec![Origin::parse(&server.url).unwrap()],
            allow_private: true,
        };
        // One instance per way of uploading and one downloading, so that each one's
        // peak memory is its own: a backup's and a restore's.
        let single = plugins.session(&inst(1)).await.unwrap();
        let session = plugins.session(&inst(CONCURRENCY)).await.unwrap();
        let reader = plugins.session(&inst(CONCURRENCY)).await.unwrap();
        let op = native(&server);
        let file = gib_file(tmp.path());
        let file = file.to_str().unwrap();
        let (mut up, mut down) = ([vec![], vec![], vec![], vec![]], [vec![], vec![], vec![]]);
        for _ in 0..ROUNDS {
            up[0].push(plugin_put(&single).await);
            up[1].push(native_put(&op).await);
            up[3].push(plugin_put(&session).await);
            up[2].push(rclone(&server, &["copyto", "--ignore-times", file, "bench:bench/rclone/one-gib.bin"], Stdio::null()));
            down[0].push(plugin_get(&reader).await);
            down[1].push(native_get(&op).await);
            down[2].push(rclone(&server, &["cat", "bench:bench/rclone/one-gib.bin"], Stdio::null()));
        }
        let single_memory = single.memory_bytes().await.unwrap();
        let memory = session.memory_bytes().await.unwrap();
        let reader_memory = reader.memory_bytes().await.unwrap();
        let [pu, nu, ru, cu] = up.map(median);
        let [pd, nd, rd] = down.map(median);
        let mut md = String::from(
            "| figure | storage-s3 (plugin) | baseline (same run, same server) | ratio | goal |\n|---|---|---|---|---|\n",
        );
        md += &row("1 GiB upload, one part at a time", pu, nu, "native opendal in the host process, one part at a time", "≥ 0.9×");
        md += &row(&format!("1 GiB upload, {CONCURRENCY} parts at once (default)"), cu, pu, "the plugin, one part at a time", "—");
        md += &row(&format!("1 GiB upload, {CONCURRENCY} parts at once (default)"), cu, ru, "`rclone copyto` (defaults: 4 parts in flight)", "≥ 1.0×");
        md += &row("1 GiB download", pd, nd, "native opendal, 8 MiB ranges", "≥ 0.9×");
        md += &row("1 GiB download", pd, rd, "`rclone cat` to /dev/null", "≥ 1.0×");
        for (concurrency, bytes) in [(1, single_memory), (CONCURRENCY, memory)] {
            let parts = PART_MIB * concurrency as usize;
            md += &format!(
                "| the uploading plugin's linear memory (its peak), {concurrency} at once | {:.1} MiB | {PART_MIB} MiB parts × {concurrency} going up = {parts} MiB | — | ≤ parts + 16 MiB = {} MiB |\n",
                bytes as f64 / (1 << 20) as f64,
                parts + 16
            );
        }
        md += &format!(
            "| the downloading plugin's linear memory (its peak) | {:.1} MiB | 4 ranges of 8 MiB in flight | — | — |\n",
            reader_memory as f64 / (1 << 20) as f64,
        );
        md
    });
    print!("{md}");
    berth_tests::write_bench_report("offsite", &md);
}
