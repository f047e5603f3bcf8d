//! Real S3 servers on loopback, two independent implementations: `s3s-fs` (Rust; checks
//! SigV4 signatures, keeps objects as files) and `moto_server` (Python; accepts any
//! keys, keeps objects in memory). Each starts on a free port and is killed when
//! dropped. `cargo xtask test` installs both (`cargo install s3s-fs --version 0.14.1
//! --features binary`; `moto[server]` into a venv under `target/test-tools`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_protocol::api::plugins::ConfigureInstance;

/// The access key the server accepts.
pub const ACCESS_KEY: &str = "berth-test-access";
/// Its secret.
pub const SECRET_KEY: &str = "berth-test-secret-0123456789";

/// A running S3 server.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// What `s3s-fs` serves (each folder is a bucket); `None` for moto (memory).
    root: Option<tempfile::TempDir>,
    port: u16,
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

/// A port nothing listens on now (the caller binds it soon after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something listens on `port`.
pub(crate) fn wait_listening(port: u16, what: &str) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `s3s-fs` serving `root` on `port`; with `clock`, under libfaketime's `faketime` with
/// its wall clock moved by that offset (e.g. `-2h`), as on a machine whose clock drifted
/// (its monotonic clock, which only times its work, is left alone).
fn s3s_fs(root: &std::path::Path, port: u16, clock: Option<&str>) -> Child {
    let mut command = match clock {
        Some(offset) => {
            let mut faked = Command::new("faketime");
            faked
                .args(["-f", offset])
                .arg(binary())
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
            faked
        }
        None => Command::new(binary()),
    };
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start s3s-fs ({e}): run `cargo xtask test`, which installs it")
        })
}

/// moto's server script: `BERTH_MOTO_SERVER`, else the venv `cargo xtask test` makes.
fn moto_binary() -> PathBuf {
    std::env::var_os("BERTH_MOTO_SERVER").map_or_else(
        || crate::workspace_root().join("target/test-tools/venv/bin/moto_server"),
        PathBuf::from,
    )
}

impl S3Server {
    /// Starts `s3s-fs` with one empty bucket, `bucket`.
    pub fn start(bucket: &str) -> Self {
        Self::start_at(bucket, None)
    }

    /// Starts `s3s-fs` with one empty bucket, `bucket`, on a clock `offset` from this
    /// machine's (`-2h`: two hours behind; `faketime` from Debian's `faketime`).
    pub fn start_with_clock(bucket: &str, offset: &str) -> Self {
        Self::start_at(bucket, Some(offset))
    }

    fn start_at(bucket: &str, clock: Option<&str>) -> Self {
        let root = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(root.path().join(bucket)).expect("bucket folder");
        let port = free_port();
        let child = s3s_fs(root.path(), port, clock);
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            root: Some(root),
            port,
        };
        wait_listening(port, "s3s-fs");
        server
    }

    /// Kills the server (`s3s-fs`) as a crash would: connections reset mid-request.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server's process (`SIGSTOP`): connections stay open and nothing is
    /// answered — a stalled upload — until [`S3Server::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run on (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let status = Command::new("kill")
            .arg(which)
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill {which} the S3 server");
    }

    /// Starts the killed `s3s-fs` again on the same port and files.
    pub fn restart(&mut self) {
        let root = self.root.as_ref().expect("only s3s-fs restarts");
        self.child = s3s_fs(root.path(), self.port, None);
        wait_listening(self.port, "s3s-fs");
    }

    /// Starts `moto_server` with one empty bucket, `bucket`.
    pub fn start_moto(bucket: &str) -> Self {
        let port = free_port();
        let child = Command::new(moto_binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): run `cargo xtask test`, which installs it")
            });
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            root: None,
            port,
        };
        wait_listening(port, "moto_server");
        // moto takes any keys, and an unsigned request too.
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to moto");
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .expect("create the bucket");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto's answer");
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "creating the bucket: {answer}"
        );
        server
    }

    /// A `plugins.configure` request for a `storage-s3` instance `name` on this server's
    /// `bucket`, as an admin sends it: `settings` (prefix, part size…) besides the
    /// endpoint and bucket, the keys as secrets (`secret` as the secret key), and the
    /// private-address grant a loopback server needs.
    pub fn configure_request(
        &self,
        name: &str,
        bucket: &str,
        settings: serde_json::Value,
        secret: &str,
    ) -> ConfigureInstance {
        let mut config = serde_json::json!({ "endpoint": self.url, "bucket": bucket });
        if let (Some(all), serde_json::Value::Object(more)) = (config.as_object_mut(), settings) {
            all.extend(more);
        }
        ConfigureInstance {
            plugin: "storage-s3".into(),
            name: name.into(),
            config,
            secrets: BTreeMap::from([
                ("access_key_id".to_owned(), Some(ACCESS_KEY.to_owned())),
                ("secret_access_key".to_owned(), Some(secret.to_owned())),
            ]),
            egress: Vec::new(),
            allow_private: true,
            path: None,
        }
    }

    /// moto's answer to a `HEAD` of `key` in `bucket`: the status line and headers,
    /// lowercased. The request carries an authorization header with a dummy
    /// signature (moto does not check signatures, but treats a request without one
    /// as anonymous and refuses it); s3s-fs would refuse it.
    pub fn moto_head(&self, bucket: &str, key: &str) -> String {
        self.moto_request("HEAD", &format!("/{bucket}/{key}"))
            .to_lowercase()
    }

    /// moto's whole answer to a bodiless `method` of `target` (a path and query), sent
    /// with a dummy signature as [`Self::moto_head`] does.
    pub fn moto_request(&self, method: &str, target: &str) -> String {
        let authority = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(authority).expect("connect to moto");
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: 0\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).expect("ask moto");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto's answer");
        answer
    }

    /// The server's process (for its CPU time in the benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The environment that makes this server rclone's on-the-fly remote `bench:` (no
    /// config file), e.g. `bench:<bucket>/<key>`.
    pub fn rclone_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("RCLONE_CONFIG_BENCH_TYPE", "s3".into()),
            ("RCLONE_CONFIG_BENCH_PROVIDER", "Other".into()),
            ("RCLONE_CONFIG_BENCH_ENDPOINT", self.url.clone()),
            ("RCLONE_CONFIG_BENCH_REGION", "us-east-1".into()),
            ("RCLONE_CONFIG_BENCH_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE", "true".into()),
        ]
    }

    /// `rclone` with [`Self::rclone_env`].
    pub fn rclone(&self) -> Command {
        let mut command = Command::new("rclone");
        command.env_remove("AWS_CA_BUNDLE").envs(self.rclone_env());
        command
    }

    /// The file `s3s-fs` keeps an object in.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        let root = self
            .root
            .as_ref()
            .expect("only s3s-fs keeps objects as files");
        root.path().join(bucket).join(key)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
