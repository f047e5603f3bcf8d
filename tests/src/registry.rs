//! A real image registry on loopback: Debian's `docker-registry` (distribution 2.8)
//! with its storage in a temporary folder, no auth, on a free port of 127.0.0.1 —
//! which the engine reaches over plain HTTP without configuration (its default
//! insecure range is 127.0.0.0/8). Killed when dropped. `.ci/run` installs it.

use std::process::{Child, Command, Stdio};

use crate::s3::{free_port, wait_listening};

/// A running registry.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`, as image references name it.
    pub host: String,
    _storage: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Self {
        let storage = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let config = storage.path().join("config.yml");
        // Not Debian's /etc/docker/registry/config.yml: that one turns on htpasswd
        // auth and listens on every interface.
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.path().join("data").display()
            ),
        )
        .expect("registry config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start docker-registry ({e}): install Debian's `docker-registry`")
            });
        wait_listening(port, "docker-registry");
        Self {
            child,
            host: format!("127.0.0.1:{port}"),
            _storage: storage,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the Docker CLI; panics with its error output when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Two versions of an image under one tag: v1 (`base`) stays on the host under
/// `reference`, v2 (one file more, `/version`, committed from a throwaway container
/// named `maker` carrying `label`) is only in the registry — so only a pull brings it.
/// Returns (v1, v2) ids.
pub fn second_version_in_registry(
    base: &str,
    reference: &str,
    maker: &str,
    label: &str,
) -> (String, String) {
    docker(&["tag", base, reference]);
    docker(&["push", reference]);
    let v1 = docker(&["image", "inspect", "-f", "{{.Id}}", reference]);
    docker(&[
        "run",
        "--name",
        maker,
        "-l",
        label,
        base,
        "sh",
        "-c",
        "echo two > /version",
    ]);
    let v2 = docker(&["commit", maker, reference]);
    docker(&["rm", maker]);
    docker(&["push", reference]);
    docker(&["tag", &v1, reference]);
    docker(&["rmi", &v2]);
    (v1, v2)
}
