//! A TCP proxy in front of a test server that answers the next N connections (or the N
//! after the next few) with `503 Service Unavailable` (what an overloaded S3 endpoint or a reverse proxy in
//! front of a restarting server says) and relays every other connection untouched.
//! Plugins open one connection per request, so N connections are N requests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running proxy; it stops with the test process.
#[derive(Debug)]
pub struct FlakyProxy {
    /// Its URL, `http://127.0.0.1:<port>`.
    pub url: String,
    to_pass: Arc<AtomicUsize>,
    to_fail: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

impl FlakyProxy {
    /// Starts a proxy to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let to_pass = Arc::new(AtomicUsize::new(0));
        let to_fail = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let (to_pass2, to_fail2, failed2) = (
            Arc::clone(&to_pass),
            Arc::clone(&to_fail),
            Arc::clone(&failed),
        );
        let take = |n: &AtomicUsize| {
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let failing = !take(&to_pass2) && take(&to_fail2);
                if failing {
                    failed2.fetch_add(1, Ordering::SeqCst);
                    std::thread::spawn(move || refuse(client));
                } else {
                    let upstream = upstream.clone();
                    std::thread::spawn(move || relay(client, &upstream));
                }
            }
        });
        Self {
            url,
            to_pass,
            to_fail,
            failed,
        }
    }

    /// Answers the next `n` connections with 503.
    pub fn fail_next(&self, n: usize) {
        self.fail_after(0, n);
    }

    /// Relays the next `pass` connections, then answers `n` with 503.
    pub fn fail_after(&self, pass: usize, n: usize) {
        self.to_fail.store(n, Ordering::SeqCst);
        self.to_pass.store(pass, Ordering::SeqCst);
    }

    /// How many connections were answered with 503 so far.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }
}

/// Reads the request head, answers 503 and closes.
fn refuse(mut client: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let _ = client.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
}

/// Copies bytes both ways until either side closes.
fn relay(client: TcpStream, upstream: &str) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(mut client_in), Ok(mut server_in)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (mut client_out, mut server_out) = (client, server);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut server_in, &mut client_out);
    let _ = client_out.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}
