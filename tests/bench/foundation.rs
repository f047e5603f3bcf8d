//! Foundation figures (issue 2), measured against the release binary:
//!
//! - exec → `/readyz` 200 on an existing data dir (goal ≤ 150 ms), against the baseline
//!   of exec → exit of `berth --version` (process start-up and loading the binary);
//! - idle RSS after start (goal ≤ 20 MB), against the peak RSS of `berth --version`;
//! - idle CPU over 60 s (goal ≈ 0: no polling loops), `BENCH_IDLE_SECS` to shorten;
//! - release binary size and UI `.wasm` size (goal ≤ 1 MB before compression);
//! - login latency (argon2id verify + session write) against a `/healthz` round trip.
//!
//! Run with `cargo xtask bench` (it builds the release binary first). Writes a Markdown
//! table to stdout and to `target/bench/foundation.md`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{http_status, median};

const RUNS: usize = 15;
const ADMIN_PASSWORD: &str = "bench-admin-password";

/// A minimal HTTP/1.1 POST of a JSON body; returns the status.
fn http_post(addr: &str, path: &str, body: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn bin() -> PathBuf {
    std::env::var_os("BERTH_BIN")
        .map(PathBuf::from)
        .expect("run through `cargo xtask bench` (sets BERTH_BIN)")
}

fn start(data_dir: &Path, port: u16) -> Child {
    Command::new(bin())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .env("BERTH_LOG_LEVEL", "warn")
        .env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start berth")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// exec → first 200 from /readyz. Polls every 0.5 ms (this is the measurement itself).
fn time_to_ready(data_dir: &Path) -> (Duration, Child) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let t0 = Instant::now();
    let mut child = start(data_dir, port);
    loop {
        if http_status(&addr, "/readyz") == Some(200) {
            return (t0.elapsed(), child);
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "berth exited during start-up"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "not ready within 30 s"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    child.wait().unwrap();
}

fn status_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are 11 and 12.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut rows: Vec<(String, String, String, String)> = Vec::new();

    // Baseline: exec → exit of `berth --version`, and its peak RSS.
    let mut base = Vec::new();
    for _ in 0..RUNS {
        let t0 = Instant::now();
        let out = Command::new(bin()).arg("--version").output().unwrap();
        assert!(out.status.success());
        base.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let base_ms = median(base);
    // ru_maxrss of children: the largest `berth --version` so far, in KiB.
    let base_rss_kb = {
        // SAFETY: getrusage with a valid out pointer.
        #[allow(unsafe_code)]
        unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
            ru.ru_maxrss as u64
        }
    };

    // Cold start: creates the store and compiles the plugin into the cache.
    let (cold, child) = time_to_ready(&data_dir);
    stop(child);
    // Warm starts on the existing data dir: what the goal is about.
    let mut warm = Vec::new();
    for _ in 0..RUNS {
        let (t, child) = time_to_ready(&data_dir);
        warm.push(t.as_secs_f64() * 1000.0);
        stop(child);
    }
    let warm_ms = median(warm);
    rows.push((
        "exec → /readyz 200, existing data dir (median of 15)".into(),
        format!("{warm_ms:.1} ms"),
        format!(
            "{:.1}× `berth --version` ({base_ms:.1} ms)",
            warm_ms / base_ms
        ),
        "≤ 150 ms".into(),
    ));
    rows.push((
        "exec → /readyz 200, new data dir (plugin compiled)".into(),
        format!("{:.1} ms", cold.as_secs_f64() * 1000.0),
        format!("{:.1}× baseline", cold.as_secs_f64() * 1000.0 / base_ms),
        "—".into(),
    ));

    // Login latency vs. a plain request on the same server.
    {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = start(&data_dir, port);
        let t0 = Instant::now();
        while http_status(&addr, "/readyz") != Some(200) {
            assert!(t0.elapsed() < Duration::from_secs(30), "not ready");
            std::thread::sleep(Duration::from_millis(1));
        }
        let body = format!(r#"{{"username":"admin","password":"{ADMIN_PASSWORD}"}}"#);
        let (mut logins, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let t = Instant::now();
            assert_eq!(http_post(&addr, "/api/v1/auth/login", &body), Some(200));
            logins.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            assert_eq!(http_status(&addr, "/healthz"), Some(200));
            plain.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        stop(child);
        let (login_ms, plain_ms) = (median(logins), median(plain));
        rows.push((
            "login (argon2id m=19 MiB t=2 p=1 + session write), median of 15".into(),
            format!("{login_ms:.1} ms"),
            format!(
                "{:.0}× a /healthz round trip ({plain_ms:.2} ms)",
                login_ms / plain_ms
            ),
            "≥ 50 ms is fine".into(),
        ));
    }

    // Idle: RSS right after start, then CPU and RSS over the idle period.
    let idle_secs: u64 = std::env::var("BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let (_, child) = time_to_ready(&data_dir);
    let pid = child.id();
    let rss_start = status_kb(pid, "VmRSS:");
    let ticks0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(idle_secs));
    let ticks = cpu_ticks(pid) - ticks0;
    let rss_idle = status_kb(pid, "VmRSS:");
    stop(child);
    // SAFETY: sysconf is always safe to call.
    #[allow(unsafe_code)]
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu_s = ticks as f64 / hz;
    rows.push((
        "RSS after start (after one /readyz)".into(),
        format!("{:.1} MB", rss_start as f64 / 1024.0),
        format!(
            "{:.1}× `berth --version` peak ({:.1} MB)",
            rss_start as f64 / base_rss_kb as f64,
            base_rss_kb as f64 / 1024.0
        ),
        "≤ 20 MB".into(),
    ));
    rows.push((
        format!("RSS after {idle_secs} s idle"),
        format!("{:.1} MB", rss_idle as f64 / 1024.0),
        format!("{:.2}× RSS after start", rss_idle as f64 / rss_start as f64),
        "≤ 20 MB".into(),
    ));
    rows.push((
        format!("CPU over {idle_secs} s idle"),
        format!(
            "{cpu_s:.2} CPU-s ({:.3} %)",
            cpu_s / idle_secs as f64 * 100.0
        ),
        format!("clock tick = {:.0} ms", 1000.0 / hz),
        "≈ 0".into(),
    ));

    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let bin_size = size(&bin());
    rows.push((
        "release binary (UI + plugins embedded)".into(),
        format!("{:.1} MB", bin_size as f64 / 1e6),
        "—".into(),
        "—".into(),
    ));
    if let Some(dir) = std::env::var_os("BERTH_UI_WASM_DIR") {
        let wasm = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "wasm"))
            .expect("ui wasm");
        let raw = size(&wasm);
        let gz = gzip_len(&std::fs::read(&wasm).unwrap());
        rows.push((
            "UI .wasm (before compression)".into(),
            format!("{:.0} KiB", raw as f64 / 1024.0),
            format!(
                "{:.2}× the 1 MB goal; gzip -6: {:.0} KiB",
                raw as f64 / 1e6,
                gz as f64 / 1024.0
            ),
            "≤ 1 MB".into(),
        ));
    }

    let mut md =
        String::from("| figure | measured | against the baseline | goal |\n|---|---|---|---|\n");
    for (a, b, c, d) in rows {
        md.push_str(&format!("| {a} | {b} | {c} | {d} |\n"));
    }
    print!("{md}");
    berth_tests::write_bench_report("foundation", &md);
}

/// gzip size via the system `gzip -6` (no compression crate needed for one figure).
fn gzip_len(bytes: &[u8]) -> u64 {
    let Ok(mut child) = Command::new("gzip")
        .arg("-6")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        return 0;
    };
    let mut stdin = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let _ = writer.join();
    let _ = child.wait();
    out.len() as u64
}
