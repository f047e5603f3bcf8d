//! Plugin platform figures (issue 5), each beside a baseline measured in the same run:
//!
//! - `storage-local` streaming 1 GiB in and out through the sandbox, against `tokio::fs`
//!   writing (with `sync_all`, as the plugin does) and reading the same bytes in the
//!   same 1 MiB chunks;
//! - loading a plugin from the `.cwasm` cache, against compiling it (the first start);
//! - one storage call (`stat`) through a session, against a native `tokio::fs::metadata`
//!   of the same file, and the same calls batched (`stat_many`: one hop per batch)
//!   against `std::fs::metadata` on the calling thread;
//! - process start → `/readyz` 200 with a warm plugin cache, against the same binary
//!   starting and exiting (`berth --version`);
//! - resident memory once ready and idle, beside the share of it the plugin runtime
//!   takes (measured in this process).
//!
//! Run with `cargo xtask bench`. Writes `target/bench/plugins.md`.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use berth_plugins::storage::StorageInstance;
use berth_plugins::{LoadSource, PluginRuntime};
use berth_tests::median;
use berth_tests::server::{Berth, bin, serve_command};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

const GIB: u64 = 1 << 30;
const CHUNK: usize = 1 << 20;
const STATS: u32 = 20_000;
/// Alternating plugin/native 1 GiB write rounds; the medians are reported.
const WRITE_ROUNDS: usize = 3;

/// `len` bytes: one fixed 1 MiB block over and over (memcpy, not per-byte work).
struct Repeat {
    block: Vec<u8>,
    left: u64,
}

impl AsyncRead for Repeat {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = (self.left as usize)
            .min(buf.remaining())
            .min(self.block.len());
        buf.put_slice(&self.block[..n]);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

fn block() -> Vec<u8> {
    (0..CHUNK as u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

async fn storage_figures(tmp: &Path) -> String {
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    let rt = PluginRuntime::start(&tmp.join("cache")).await.unwrap();
    let dir = tmp.join("objects");
    std::fs::create_dir_all(&dir).unwrap();
    let inst = StorageInstance {
        name: "bench".into(),
        plugin: "storage-local".into(),
        dir: Some(dir.clone()),
        config: "{}".into(),
        ..StorageInstance::default()
    };
    let session = rt.session(&inst).await.unwrap();
    // Writes are disk-bound and noisy on a VM: rounds alternate plugin and native
    // writes of the same bytes and each figure is the median of its rounds.
    let native = tmp.join("native.bin");
    let data = block();
    let (mut pws, mut nws) = (Vec::new(), Vec::new());
    for round in 0..WRITE_ROUNDS {
        if round > 0 {
            session.delete("big.bin").await.unwrap();
            std::fs::remove_file(&native).unwrap();
        }
        let t = Instant::now();
        let n = session
            .put(
                "big.bin",
                Repeat {
                    block: data.clone(),
                    left: GIB,
                },
            )
            .await
            .unwrap();
        pws.push(t.elapsed());
        assert_eq!(n, GIB);
        let t = Instant::now();
        let mut f = tokio::fs::File::create(&native).await.unwrap();
        for _ in 0..GIB / CHUNK as u64 {
            f.write_all(&data).await.unwrap();
        }
        f.sync_all().await.unwrap();
        drop(f);
        nws.push(t.elapsed());
    }
    let (pw, nw) = (median(pws), median(nws));
    let t = Instant::now();
    let n = session.get("big.bin", tokio::io::sink()).await.unwrap();
    let pr = t.elapsed();
    assert_eq!(n, GIB);

    // Per call: stat of an existing object, many times.
    let t = Instant::now();
    for _ in 0..STATS {
        session.stat("big.bin").await.unwrap();
    }
    let per_call = t.elapsed() / STATS;
    let path = dir.join("big.bin");
    let t = Instant::now();
    for _ in 0..STATS {
        tokio::fs::metadata(&path).await.unwrap();
    }
    let native_stat = t.elapsed() / STATS;

    // Per call without the hop: the same `stat`s batched (`stat_many`, one command per
    // `BATCH_MAX` keys), against `std::fs::metadata` on the calling thread — what the
    // plugin's WASI call does underneath.
    // Twice: a top-level key, and a key shaped as backups are (`<kind>-<name>/<id>…`),
    // whose sandboxed lookup needs an `openat2` beneath the directory.
    session
        .put("volume-bench/b-1.tar.gz", tokio::io::empty())
        .await
        .unwrap();
    let mut batched = Vec::new();
    for key in ["big.bin", "volume-bench/b-1.tar.gz"] {
        let keys = vec![key.to_owned(); STATS as usize];
        let t = Instant::now();
        for r in session.stat_many(&keys).await {
            r.unwrap();
        }
        let plugin = t.elapsed() / STATS;
        let path = dir.join(key);
        let t = Instant::now();
        for _ in 0..STATS {
            std::fs::metadata(&path).unwrap();
        }
        batched.push((key, plugin, t.elapsed() / STATS));
    }
    session.delete("big.bin").await.unwrap();
    drop(session);

    // The same bytes read natively.
    let t = Instant::now();
    let mut f = tokio::fs::File::open(&native).await.unwrap();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let k = f.read(&mut buf).await.unwrap();
        if k == 0 {
            break;
        }
        total += k as u64;
    }
    let nr = t.elapsed();
    assert_eq!(total, GIB);
    std::fs::remove_file(&native).unwrap();

    let (pw, pr, nw, nr) = (mbps(GIB, pw), mbps(GIB, pr), mbps(GIB, nw), mbps(GIB, nr));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    format!(
        "| `storage-local` write 1 GiB (1 MiB chunks, fsync; median of {WRITE_ROUNDS} alternating rounds) | {pw:.0} MB/s | {nw:.0} MB/s (`tokio::fs`, same chunks, `sync_all`) | {:.0} % | — |\n\
         | `storage-local` read 1 GiB | {pr:.0} MB/s | {nr:.0} MB/s (`tokio::fs`, page cache) | {:.0} % | — |\n\
         | one storage call (`stat`, {STATS} calls, one hop each) | {:.1} µs | {:.1} µs (`tokio::fs::metadata`) | overhead {:.1} µs | — |\n\
         {}",
        100.0 * pw / nw,
        100.0 * pr / nr,
        us(per_call),
        us(native_stat),
        us(per_call) - us(native_stat),
        batched
            .iter()
            .map(|(key, plugin, native)| format!(
                "| one storage call, batched (`stat_many` of `{key}`, {STATS} calls) | {:.1} µs | {:.1} µs (`std::fs::metadata`) | overhead {:.1} µs | ≤ 5 µs overhead |\n",
                us(*plugin),
                us(*native),
                us(*plugin) - us(*native),
            ))
            .collect::<String>(),
    )
}

async fn load_figures(tmp: &Path) -> String {
    let cache = tmp.join("load-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let first = PluginRuntime::start(&cache).await.unwrap();
    let compiled: Vec<(String, Duration)> = first
        .all()
        .filter_map(|(id, p)| p.ok().map(|p| (id.to_owned(), p.load_time, p.source)))
        .filter(|(_, _, s)| *s == LoadSource::Compiled)
        .map(|(id, t, _)| (id, t))
        .collect();
    drop(first);
    let second = PluginRuntime::start(&cache).await.unwrap();
    let mut md = String::new();
    for (id, compile) in compiled {
        let p = second.get(&id).unwrap();
        assert_eq!(p.source, LoadSource::Cached, "{id} from the cache");
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        md += &format!(
            "| load `{id}` from the `.cwasm` cache | {:.2} ms | {:.0} ms (compiling it, first start) | {:.1} % | ≤ 2 ms |\n",
            ms(p.load_time),
            ms(compile),
            100.0 * ms(p.load_time) / ms(compile),
        );
    }
    md
}

async fn start_figures(tmp: &Path) -> String {
    // The floor: the binary starting and exiting.
    let mut floor = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let s = Command::new(bin())
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(s.success());
        floor.push(t.elapsed());
    }
    floor.sort();
    // What the plugin runtime itself costs: this process's RSS before and after
    // starting one with every built-in plugin loaded and instantiated once.
    let me = std::process::id();
    let before = berth_tests::ws::rss_bytes(me);
    let runtime = PluginRuntime::start(&tmp.join("rss-cache")).await.unwrap();
    for id in ["probe", "storage-local", "notify-webhook"] {
        let dir = tmp.join("rss-dir");
        std::fs::create_dir_all(&dir).unwrap();
        let _ = runtime.health(id, Some(&dir)).await;
    }
    let runtime_rss = berth_tests::ws::rss_bytes(me).saturating_sub(before);
    drop(runtime);

    // A data dir whose plugin cache is warm (first start compiles).
    let data: PathBuf = tmp.join("data");
    let cold = Berth::start_with(
        {
            let mut c = serve_command(&data);
            c.env("BERTH_ADMIN_PASSWORD", "bench-password-123");
            c
        },
        &data,
    )
    .await;
    cold.wait_ready().await;
    drop(cold);
    let mut ready = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let b = Berth::start_with(serve_command(&data), &data).await;
        // Poll finely: this measures the time to ready, it does not wait on it.
        loop {
            let (status, _) = b.readiness().await;
            if status == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        ready.push(t.elapsed());
        // Idle a moment, then read resident memory.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pid = b.process.pid();
        rss.push((
            berth_tests::ws::rss_bytes(pid),
            berth_tests::ws::status_bytes(pid, "RssAnon"),
        ));
        drop(b);
    }
    ready.sort();
    rss.sort();
    // The median start, with its anonymous share (the rest is pages of the binary and
    // the libraries mapped from the page cache).
    let (rss, anon) = rss[rss.len() / 2];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "| start → `/readyz` 200, warm plugin cache (median of 5) | {:.0} ms | {:.1} ms (`berth --version`, median of 10) | +{:.0} ms | ≤ 150 ms |\n\
         | RSS when ready and idle (median of 5; anonymous {:.1} MB, the rest file-backed) | {:.1} MB | {:.1} MB of it is the plugin runtime (engine, 3 components loaded and run once: RSS growth of this bench process) | {:.0} % | ≤ 25 MB |\n",
        ms(ready[2]),
        ms(floor[5]),
        ms(ready[2]) - ms(floor[5]),
        anon as f64 / 1e6,
        rss as f64 / 1e6,
        runtime_rss as f64 / 1e6,
        100.0 * runtime_rss as f64 / rss as f64,
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let md = rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let mut md =
            String::from("| figure | Berth | baseline | ratio | goal |\n|---|---|---|---|---|\n");
        md += &load_figures(tmp.path()).await;
        md += &storage_figures(tmp.path()).await;
        md += &start_figures(tmp.path()).await;
        md
    });
    print!("{md}");
    berth_tests::write_bench_report("plugins", &md);
}
