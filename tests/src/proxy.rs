//! Real reverse proxies on loopback, configured from the snippets users copy:
//! Debian's `nginx` with `deploy/nginx/berth.conf` and `caddy` with
//! `deploy/caddy/Caddyfile` — TLS and the public name swapped for a free port of
//! 127.0.0.1, everything else as shipped. Killed when dropped. `.ci/run` installs both.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::s3::{free_port, wait_listening};

/// A running proxy in front of Berth.
#[derive(Debug)]
pub struct Proxy {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Where the shipped file `deploy/<file>` is.
pub(crate) fn deploy_path(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

/// The shipped file `deploy/<file>`.
pub(crate) fn deploy(file: &str) -> String {
    let path = deploy_path(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with `from` replaced, which must be there (the snippet changed otherwise).
pub(crate) fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the snippet no longer has {from:?}");
    text.replacen(from, to, 1)
}

impl Proxy {
    /// nginx with the shipped server block, in front of Berth on `upstream` (a port).
    pub fn nginx(upstream: u16) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let mut block = deploy("nginx/berth.conf");
        block = swap(
            &block,
            "listen 443 ssl;",
            &format!("listen 127.0.0.1:{port};"),
        );
        for line in [
            "    http2 on;\n",
            "    ssl_certificate     /etc/ssl/berth/fullchain.pem;\n",
            "    ssl_certificate_key /etc/ssl/berth/privkey.pem;\n",
        ] {
            block = swap(&block, line, "");
        }
        block = swap(&block, "127.0.0.1:8080", &format!("127.0.0.1:{upstream}"));
        std::fs::create_dir_all(dir.path().join("tmp")).expect("temp paths");
        // Debian's defaults (pid in /run, temp paths in /var/lib/nginx) would collide
        // between parallel tests: everything relative to the prefix.
        let conf = format!(
            "daemon off; worker_processes 1; pid nginx.pid; error_log stderr notice;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off;\n\
             client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fcgi;\n\
             uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;\n{block}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("nginx.conf");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .args(["-c", "nginx.conf", "-e", "stderr"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nginx ({e}): install Debian's `nginx`"));
        wait_listening(port, "nginx");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Caddy with the shipped Caddyfile, in front of Berth on `upstream` (a port).
    pub fn caddy(upstream: u16) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let mut site = deploy("caddy/Caddyfile");
        site = swap(
            &site,
            "berth.example.com {",
            &format!("http://127.0.0.1:{port} {{\n\tbind 127.0.0.1"),
        );
        site = swap(&site, "127.0.0.1:8080", &format!("127.0.0.1:{upstream}"));
        let file = dir.path().join("Caddyfile");
        std::fs::write(
            &file,
            format!("{{\n\tadmin off\n\tauto_https off\n}}\n{site}"),
        )
        .expect("Caddyfile");
        let child = Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start caddy ({e}): install Debian's `caddy`"));
        wait_listening(port, "caddy");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
