//! Real WebDAV servers on loopback, two independent implementations: Debian's
//! `rclone serve webdav` (Go) and PyPI's `wsgidav` on cheroot (Python). Each serves a
//! fresh temporary folder with Basic auth on a free port and is killed when dropped.
//! `.ci/run` installs rclone; `cargo xtask test` installs wsgidav into the test-tools
//! venv (notes: test-servers.md §5).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use berth_protocol::api::plugins::ConfigureInstance;

use crate::s3::{free_port, wait_listening};

/// The user the servers accept.
pub const USER: &str = "berth-dav";
/// Their password.
pub const PASSWORD: &str = "berth-dav-password-0123";

/// A running WebDAV server.
#[derive(Debug)]
pub struct WebDavServer {
    child: Child,
    /// Its URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The folder it serves.
    served: PathBuf,
    /// Holds `served` (and wsgidav's configuration).
    _dir: tempfile::TempDir,
}

/// wsgidav's script: `BERTH_WSGIDAV`, else the venv `cargo xtask test` makes.
fn wsgidav_binary() -> PathBuf {
    std::env::var_os("BERTH_WSGIDAV").map_or_else(
        || crate::workspace_root().join("target/test-tools/venv/bin/wsgidav"),
        PathBuf::from,
    )
}

impl WebDavServer {
    /// Starts `rclone serve webdav` on an empty folder.
    pub fn start_rclone() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let child = Command::new("rclone")
            .args(["serve", "webdav"])
            .arg(dir.path())
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--user", USER, "--pass", PASSWORD])
            // An AWS CA bundle in the environment makes rclone refuse to start.
            .env_remove("AWS_CA_BUNDLE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start rclone ({e}): `.ci/run` installs it"));
        let served = dir.path().to_path_buf();
        Self::listening(child, port, (dir, served), "rclone serve webdav")
    }

    /// Starts wsgidav (cheroot) on an empty folder.
    pub fn start_wsgidav() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let served = dir.path().join("served");
        std::fs::create_dir(&served).expect("served folder");
        let config = dir.path().join("wsgidav.yaml");
        let yaml = format!(
            "host: 127.0.0.1\nport: {port}\nserver: cheroot\nverbose: 1\n\
             provider_mapping: {{\"/\": {served:?}}}\n\
             http_authenticator: {{domain_controller: null, accept_basic: true, accept_digest: false, default_to_digest: false}}\n\
             simple_dc: {{user_mapping: {{\"*\": {{{USER:?}: {{password: {PASSWORD:?}}}}}}}}}\n"
        );
        std::fs::write(&config, yaml).expect("wsgidav config");
        let child = Command::new(wsgidav_binary())
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start wsgidav ({e}): run `cargo xtask test`, which installs it")
            });
        Self::listening(child, port, (dir, served), "wsgidav")
    }

    fn listening(
        child: Child,
        port: u16,
        (dir, served): (tempfile::TempDir, PathBuf),
        what: &str,
    ) -> Self {
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            served,
            _dir: dir,
        };
        wait_listening(port, what);
        server
    }

    /// The file the server keeps `key` of the folder `root` in.
    pub fn file(&self, root: &str, key: &str) -> PathBuf {
        self.served.join(root).join(key)
    }

    /// Every file under `root` on the server's disk, as paths relative to it, sorted.
    pub fn files(&self, root: &str) -> Vec<String> {
        let base = self.file(root, "");
        let mut out = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(relative) = path.strip_prefix(&base) {
                    out.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    }

    /// A `plugins.configure` request for a `storage-webdav` instance `name` on this
    /// server's folder `root`, as an admin sends it: the password as a secret and the
    /// private-address grant a loopback server needs.
    pub fn configure_request(&self, name: &str, root: &str, password: &str) -> ConfigureInstance {
        ConfigureInstance {
            plugin: "storage-webdav".into(),
            name: name.into(),
            config: serde_json::json!({ "url": self.url, "root": root, "username": USER }),
            secrets: BTreeMap::from([("password".to_owned(), Some(password.to_owned()))]),
            egress: Vec::new(),
            allow_private: true,
            path: None,
        }
    }
}

impl Drop for WebDavServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
