//! The test harness: the real `berth` binary, a real Docker Engine and a real browser.
//!
//! - [`server`] starts `berth serve` on a free port with a temporary data directory and
//!   waits for the address it prints and for `/readyz`.
//! - [`docker`] connects like the host does, builds the offline busybox test image, and
//!   gives each test a [`docker::Scope`] whose resources carry `berth.test=<run-id>`
//!   and are removed when it drops (leftovers of crashed runs are swept).
//! - [`browser`] drives Debian's chromium through chromedriver (fantoccini), fails on
//!   console errors and saves a screenshot under `target/test-screenshots/` on failure.
//!
//! - [`ws`] logs in and speaks the WebSocket protocol, raw (for transcripts) or through
//!   the `berth-client` SDK.
//! - [`http_sink`] is a real HTTP endpoint on loopback that records what notifier
//!   plugins send and answers with scripted statuses.
//! - [`plugin_package`] builds third-party plugin packages for the install tests.
//! - [`s3`] runs a real S3 server (`s3s-fs`) on loopback for the storage-s3 tests.
//! - [`flaky`] puts a proxy answering 503 on demand in front of a test server.
//! - [`registry`] runs a real image registry (Debian's `docker-registry`) on loopback.
//! - [`webdav`] runs a real WebDAV server (`rclone serve webdav`, wsgidav) on loopback.
//! - [`in_use`] fills a Berth with users, a token, a schedule and a stack through the
//!   API, and checks them after a state restore or an upgrade.
//! - [`jobs`] follows jobs to their end, uploads backup files and makes archives by
//!   hand (what an attacker would upload).
//!
//! Missing prerequisites fail the test with one line saying what to install.

pub mod browser;
pub mod docker;
pub mod flaky;
pub mod http_sink;
pub mod in_use;
pub mod jobs;
pub mod plugin_package;
pub mod prometheus;
pub mod proxy;
pub mod registry;
pub mod s3;
pub mod server;
pub mod webdav;
pub mod ws;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// Writes a benchmark's Markdown table to `target/bench/<name>.md`, or to
/// `<name>-<label>.md` when `BERTH_BENCH_LABEL` is set (`cargo xtask bench` runs some
/// benchmarks a second time against the image's static binary with the label
/// `static`).
pub fn write_bench_report(name: &str, md: &str) {
    let file = match std::env::var("BERTH_BENCH_LABEL") {
        Ok(label) if !label.is_empty() => format!("{name}-{label}.md"),
        _ => format!("{name}.md"),
    };
    let out = workspace_root().join("target/bench");
    std::fs::create_dir_all(&out).expect("create target/bench");
    std::fs::write(out.join(file), md).expect("write the benchmark report");
}

/// The middle value of a benchmark's repeated measurements (the upper middle for an
/// even count).
pub fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("comparable measurements"));
    v[v.len() / 2]
}

/// A minimal HTTP/1.1 GET over a fresh TCP connection: no client library in the path.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// The `p` quantile (0–1) of benchmark measurements (sorts them).
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// User + system CPU time of a process, from /proc (clock ticks are 100 Hz here).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is parenthesised and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|s| s.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}
