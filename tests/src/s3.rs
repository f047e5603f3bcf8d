//! A real S3 server on loopback: `s3s-fs` (which checks SigV4 signatures), started on a
//! free port over a temporary directory and killed when dropped. `cargo xtask test`
//! installs it (`cargo install s3s-fs --version 0.14.1 --features binary`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key the server accepts.
pub const ACCESS_KEY: &str = "berth-test-access";
/// Its secret.
pub const SECRET_KEY: &str = "berth-test-secret-0123456789";

/// A running `s3s-fs`.
#[derive(Debug)]
pub struct S3sFs {
    child: Child,
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// What it serves: each folder is a bucket.
    pub root: tempfile::TempDir,
}

fn binary() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let installed = home.join("bin").join("s3s-fs");
    if installed.is_file() {
        return installed;
    }
    PathBuf::from("s3s-fs")
}

impl S3sFs {
    /// Starts the server with one empty bucket, `bucket`.
    pub fn start(bucket: &str) -> Self {
        let root = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(root.path().join(bucket)).expect("bucket folder");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start s3s-fs ({e}): run `cargo xtask test`, which installs it")
            });
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            root,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The file an object is kept in.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
