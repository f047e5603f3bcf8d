//! Protocol figures (issue 3), against the release binary, each beside a baseline
//! measured in the same run:
//!
//! - request round trip on loopback (`auth.whoami`), p50/p99, against a raw
//!   tokio-tungstenite echo server answering the same bytes;
//! - 1,000 authenticated idle connections: server RSS per connection (goal ≤ 20 KB);
//! - one `system.stats` sample fanned out to 1,000 subscribers: delivery p99 (goal
//!   ≤ 10 ms), from the sample's timestamp to its arrival at each subscriber;
//! - binary channel throughput to one client (`diag.speedtest`, 4 MiB window, credit
//!   returned every 2 MiB) against a raw tokio-tungstenite server sending the same
//!   32 KiB frames (goal ≥ 80%).
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
const TRANSFER: u64 = 512 << 20;

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

/// A server that sends `TRANSFER` bytes as 32 KiB data frames to each client.
async fn blast_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                    return;
                };
                let payload = vec![0x5au8; 32 * 1024];
                let frame = bytes::Bytes::from(
                    berth_protocol::frame::DataFrame {
                        ch: 1,
                        stream: berth_protocol::frame::Stream::Stdout,
                        payload: &payload,
                    }
                    .encode(),
                );
                let mut left = TRANSFER;
                while left > 0 {
                    if ws.send(Message::Binary(frame.clone())).await.is_err() {
                        return;
                    }
                    left -= payload.len() as u64;
                }
                let _ = ws.close(None).await;
            });
        }
    });
    format!("ws://{addr}/")
}

/// A raw tokio-tungstenite server that broadcasts a stats-like message with the current
/// time to every client once a second (the fan-out baseline).
async fn broadcast_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, _) = tokio::sync::broadcast::channel::<std::sync::Arc<str>>(16);
    let ticker = tx.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let ts = berth_identity::users::now_ms();
            let msg = format!(
                r#"{{"t":"data","ch":1,"seq":1,"p":{{"cpu_percent":1.0,"ts_ms":{ts},"mem_total":1,"mem_used":1,"load":[0.0,0.0,0.0]}}}}"#
            );
            let _ = ticker.send(std::sync::Arc::from(msg));
        }
    });
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let mut rx = tx.subscribe();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                    return;
                };
                while let Ok(m) = rx.recv().await {
                    if ws.send(Message::Text(m.as_ref().into())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("ws://{addr}/")
}

/// A WebSocket client reduced to what the fan-out measurement needs — a hand-written
/// handshake, masked-with-zero text frames out, unmasked frames in — so that reading
/// 1,000 sockets costs the benchmark as little CPU as possible and the figure is the
/// server's, not this client's.
struct Lean {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Lean {
    async fn connect(addr: &str, path: &str, token: Option<&str>) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: berth.v1\r\n{auth}\r\n"
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.unwrap());
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        Self {
            tcp,
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, text: &str) {
        use tokio::io::AsyncWriteExt;
        let n = text.len();
        let mut f = vec![0x81u8];
        if n < 126 {
            f.push(0x80 | n as u8);
        } else {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        f.extend_from_slice(&[0, 0, 0, 0]); // a zero mask leaves the payload as is
        f.extend_from_slice(text.as_bytes());
        self.tcp.write_all(&f).await.unwrap();
    }

    /// The next frame's payload (opcode ignored: the server sends text here).
    async fn next(&mut self) -> &[u8] {
        use tokio::io::AsyncReadExt;
        let mut h = [0u8; 2];
        self.tcp.read_exact(&mut h).await.unwrap();
        let len = match h[1] & 0x7f {
            126 => usize::from(self.tcp.read_u16().await.unwrap()),
            127 => self.tcp.read_u64().await.unwrap() as usize,
            n => usize::from(n),
        };
        self.buf.resize(len, 0);
        self.tcp.read_exact(&mut self.buf).await.unwrap();
        &self.buf
    }
}

/// Delivery latencies (ms) of 5 fanned-out messages to every socket, sorted.
async fn fan_out(conns: Vec<Lean>) -> Vec<f64> {
    let mut readers = Vec::new();
    for mut ws in conns {
        readers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            // Skip the first message (possibly sent on subscribe, not fanned out).
            let mut seen = 0;
            while seen < 6 {
                let t = ws.next().await;
                let now = berth_identity::users::now_ms() as f64;
                if t.starts_with(br#"{"t":"data""#) {
                    seen += 1;
                    if seen > 1 {
                        let t = std::str::from_utf8(t).unwrap();
                        let ts = t.split(r#""ts_ms":"#).nth(1).unwrap();
                        let ts: f64 = ts[..ts.find([',', '}']).unwrap()].parse().unwrap();
                        lat.push(now - ts);
                    }
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.await.unwrap());
    }
    all.sort_by(f64::total_cmp);
    all
}

/// MB/s reading `TRANSFER` payload bytes; `credit` is called with the bytes consumed.
async fn read_transfer(ws: &mut Ws, mut credit: impl FnMut(u64) -> Option<String>) -> f64 {
    let t = Instant::now();
    let mut got = 0u64;
    let mut unreturned = 0u64;
    while got < TRANSFER {
        match ws.next().await.expect("open").expect("frame") {
            Message::Binary(b) => {
                let n = b.len() as u64 - berth_protocol::frame::HEADER_LEN as u64;
                got += n;
                unreturned += n;
                if let Some(msg) = credit(unreturned) {
                    unreturned = 0;
                    ws.send(Message::Text(msg.into())).await.unwrap();
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(got, TRANSFER);
    TRANSFER as f64 / 1e6 / t.elapsed().as_secs_f64()
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

        // 1. 1,000 idle authenticated connections. A first 1,000 are opened and kept
        //    open before measuring: memory freed at start-up stays mapped and would be
        //    reused by the first connections, hiding their cost; the second 1,000 pay
        //    in full.
        let connect_idle = || async {
            let mut idle = Vec::with_capacity(CONNS);
            for _ in 0..CONNS {
                let mut c = Lean::connect(&addr, "/api/v1/ws", Some(&token)).await;
                c.send(r#"{"t":"hello","client":{"name":"bench","version":"0"}}"#).await;
                let w = c.next().await;
                assert!(w.starts_with(br#"{"t":"welcome""#));
                idle.push(c);
            }
            idle
        };
        let warm = connect_idle().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rss(pid);
        let mut idle = connect_idle().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss(pid);
        let per_conn = (after.saturating_sub(before)) as f64 / CONNS as f64;
        drop(warm);

        // 2. Fan-out: every idle connection subscribes to system.stats.
        for c in idle.iter_mut() {
            c.send(r#"{"t":"open","ch":1,"kind":"system.stats","p":{},"window":{"msgs":64}}"#)
                .await;
        }
        let fan = fan_out(idle).await;
        let bcast = broadcast_server().await;
        let bcast_addr = bcast.trim_start_matches("ws://").trim_end_matches('/').to_owned();
        let mut raw_conns = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            raw_conns.push(Lean::connect(&bcast_addr, "/", None).await);
        }
        let base_fan = fan_out(raw_conns).await;

        // 3. Round trips, once the fan-out's 2,000 sockets have been closed on both ends.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let echo_url = echo_server().await;
        let mut echo = tokio_tungstenite::connect_async(echo_url.as_str()).await.unwrap().0;
        let echo_rt = round_trips(&mut echo, |i| format!(r#"{{"t":"req","id":"{i}","method":"auth.whoami","p":{{}}}}"#)).await;
        let mut ws = berth_session(&url, &token).await;
        let berth_rt = round_trips(&mut ws, |i| format!(r#"{{"t":"req","id":"{i}","method":"auth.whoami","p":{{}}}}"#)).await;
        drop(ws);

        // 4. Binary throughput.
        let blast = blast_server().await;
        let mut raw = tokio_tungstenite::connect_async(blast.as_str()).await.unwrap().0;
        let raw_mbs = read_transfer(&mut raw, |_| None).await;
        let mut ws = berth_session(&url, &token).await;
        ws.send(Message::Text(
            format!(r#"{{"t":"open","ch":1,"kind":"diag.speedtest","p":{{"bytes":{TRANSFER}}},"window":{{"bytes":4194304}}}}"#).into(),
        ))
        .await
        .unwrap();
        let berth_mbs = read_transfer(&mut ws, |n| {
            (n >= 2 << 20).then(|| format!(r#"{{"t":"credit","ch":1,"bytes":{n}}}"#))
        })
        .await;
        drop(ws);


        let mut md = String::from("| figure | Berth | baseline | ratio | goal |\n|---|---|---|---|---|\n");
        let p50 = (pct(&berth_rt, 0.5), pct(&echo_rt, 0.5));
        let p99 = (pct(&berth_rt, 0.99), pct(&echo_rt, 0.99));
        md += &format!("| `auth.whoami` round trip p50 (µs) | {:.0} | {:.0} (raw tokio-tungstenite echo) | {:.2}× | — |\n", p50.0, p50.1, p50.0 / p50.1);
        md += &format!("| `auth.whoami` round trip p99 (µs) | {:.0} | {:.0} | {:.2}× | — |\n", p99.0, p99.1, p99.0 / p99.1);
        md += &format!("| binary channel throughput, {} MiB (MB/s) | {:.0} | {:.0} (raw tokio-tungstenite, same frames) | {:.0} % | ≥ 80 % |\n", TRANSFER >> 20, berth_mbs, raw_mbs, berth_mbs / raw_mbs * 100.0);
        md += &format!("| RSS per idle authenticated connection (KB), {CONNS} conns | {:.1} | {:.1} MB before | — | ≤ 20 KB |\n", per_conn / 1000.0, before as f64 / 1e6);
        md += &format!(
            "| `system.stats` fan-out to {CONNS}: delivery p50 / p99 / max (ms), {} samples | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} (raw tokio-tungstenite broadcast) | p99 {:.2}× | p99 ≤ 10 ms |\n",
            fan.len(), pct(&fan, 0.5), pct(&fan, 0.99), fan.last().copied().unwrap_or(0.0),
            pct(&base_fan, 0.5), pct(&base_fan, 0.99), base_fan.last().copied().unwrap_or(0.0),
            pct(&fan, 0.99) / pct(&base_fan, 0.99).max(0.001)
        );
        md
    });
    let _ = child.kill();
    let _ = child.wait();
    print!("{md}");
    berth_tests::write_bench_report("protocol", &md);
}
