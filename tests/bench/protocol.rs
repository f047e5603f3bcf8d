//! Protocol figures (issue 3), against the release binary, each beside a baseline
//! measured in the same run:
//!
//! - request round trip on loopback (`auth.whoami`), p50/p99, against a raw
//!   tokio-tungstenite echo server answering the same bytes;
//! - 1,000 authenticated idle connections: server RSS per connection (goal ≤ 20 KB);
//! - one `system.stats` sample fanned out to 1,000 subscribers: delivery p99 (goal
//!   ≤ 10 ms), from the sample's timestamp to its arrival at each subscriber.
//!
//! Run with `cargo xtask bench`. Writes `target/bench/protocol.md`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ADMIN_PASSWORD: &str = "bench-admin-password";
const ROUND_TRIPS: usize = 5000;
const CONNS: usize = 1000;

fn bin() -> PathBuf {
    std::env::var_os("BERTH_BIN")
        .map(PathBuf::from)
        .expect("run through `cargo xtask bench` (sets BERTH_BIN)")
}

fn rss(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max.min(65536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

async fn ws_connect(url: &str, token: &str) -> Ws {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "berth.v1".parse().unwrap());
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .expect("connect")
        .0
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await.expect("open").expect("frame") {
            Message::Text(t) => return t.to_string(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

async fn berth_session(url: &str, token: &str) -> Ws {
    let mut ws = ws_connect(url, token).await;
    ws.send(Message::Text(
        r#"{"t":"hello","client":{"name":"bench","version":"0"}}"#.into(),
    ))
    .await
    .unwrap();
    let w = next_text(&mut ws).await;
    assert!(w.contains("\"welcome\""), "{w}");
    ws
}

/// Round trips of `make(i)` on one socket, in microseconds, sorted.
async fn round_trips(ws: &mut Ws, make: impl Fn(usize) -> String) -> Vec<f64> {
    let mut out = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS + 200 {
        let msg = make(i);
        let t = Instant::now();
        ws.send(Message::Text(msg.into())).await.unwrap();
        let _ = next_text(ws).await;
        if i >= 200 {
            out.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

async fn echo_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_text() && ws.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("ws://{addr}/")
}

fn main() {
    raise_nofile();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child: Child = Command::new(bin())
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(tmp.path().join("data"))
        .env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("BERTH_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start berth");
    let pid = child.id();
    let md = rt.block_on(async {
        let base = format!("http://{addr}");
        let token = loop {
            let req = berth_protocol::auth::LoginRequest {
                username: "admin".into(),
                password: ADMIN_PASSWORD.into(),
                totp: None,
            };
            match berth_client::http::login(&base, &req).await {
                Ok((t, _)) => break t,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let url = format!("ws://{addr}/api/v1/ws");

        // 1. Round trips.
        let echo_url = echo_server().await;
        let mut echo = tokio_tungstenite::connect_async(echo_url.as_str()).await.unwrap().0;
        let echo_rt = round_trips(&mut echo, |i| format!(r#"{{"t":"req","id":"{i}","method":"auth.whoami","p":{{}}}}"#)).await;
        let mut ws = berth_session(&url, &token).await;
        let berth_rt = round_trips(&mut ws, |i| format!(r#"{{"t":"req","id":"{i}","method":"auth.whoami","p":{{}}}}"#)).await;
        drop(ws);

        // 2. 1,000 idle authenticated connections.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rss(pid);
        let mut idle = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            idle.push(berth_session(&url, &token).await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss(pid);
        let per_conn = (after.saturating_sub(before)) as f64 / CONNS as f64;

        // 3. Fan-out: every idle connection subscribes to system.stats.
        for ws in idle.iter_mut() {
            ws.send(Message::Text(r#"{"t":"open","ch":1,"kind":"system.stats","p":{},"window":{"msgs":64}}"#.into()))
                .await
                .unwrap();
        }
        let mut readers = Vec::new();
        for mut ws in idle {
            readers.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                // Skip the first sample (sent on subscribe, not fanned out); then 5 ticks.
                let mut seen = 0;
                while seen < 6 {
                    let t = next_text(&mut ws).await;
                    let now = berth::identity::users::now_ms() as f64;
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    if v["t"] == "data" {
                        seen += 1;
                        if seen > 1 {
                            lat.push(now - v["p"]["ts_ms"].as_f64().unwrap());
                        }
                    }
                }
                lat
            }));
        }
        let mut fan = Vec::new();
        for r in readers {
            fan.extend(r.await.unwrap());
        }
        fan.sort_by(f64::total_cmp);

        let mut md = String::from("| figure | Berth | baseline | ratio | goal |\n|---|---|---|---|---|\n");
        let p50 = (pct(&berth_rt, 0.5), pct(&echo_rt, 0.5));
        let p99 = (pct(&berth_rt, 0.99), pct(&echo_rt, 0.99));
        md += &format!("| `auth.whoami` round trip p50 (µs) | {:.0} | {:.0} (raw tokio-tungstenite echo) | {:.2}× | — |\n", p50.0, p50.1, p50.0 / p50.1);
        md += &format!("| `auth.whoami` round trip p99 (µs) | {:.0} | {:.0} | {:.2}× | — |\n", p99.0, p99.1, p99.0 / p99.1);
        md += &format!("| RSS per idle authenticated connection (KB), {CONNS} conns | {:.1} | {:.1} MB before | — | ≤ 20 KB |\n", per_conn / 1000.0, before as f64 / 1e6);
        md += &format!("| `system.stats` fan-out to {CONNS}: delivery p50 / p99 / max (ms) | {:.1} / {:.1} / {:.1} | {} samples | — | p99 ≤ 10 ms |\n", pct(&fan, 0.5), pct(&fan, 0.99), fan.last().copied().unwrap_or(0.0), fan.len());
        md
    });
    let _ = child.kill();
    let _ = child.wait();
    print!("{md}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("protocol.md"), md).unwrap();
}
