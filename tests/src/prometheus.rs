//! A real Prometheus (Debian's `prometheus`) on loopback with the shipped
//! `deploy/prometheus/prometheus.yml` and `alerts.yml` — the interval shortened to
//! 1 s, the token file and Berth's port swapped in; and `promtool`. Killed when
//! dropped. `.ci/run` installs the package.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::proxy::{deploy, deploy_path, swap};
use crate::s3::{free_port, wait_listening};

/// The shipped file `deploy/prometheus/<name>`.
pub fn deployed(name: &str) -> PathBuf {
    deploy_path(&format!("prometheus/{name}"))
}

/// `promtool` with `args`, `stdin` fed to it.
pub fn promtool(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool ({e}): install Debian's `prometheus`"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("promtool reads its input");
    child.wait_with_output().expect("promtool ends")
}

#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes Berth's `/metrics` on `berth_port` as job `berth`, with `token`.
    pub fn scraping(berth_port: u16, token: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        std::fs::copy(deployed("alerts.yml"), dir.path().join("alerts.yml")).expect("rules");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, token).expect("token file");
        // The shipped scrape job, scraping and evaluating every second — not faster:
        // the scrape timeout is the interval, and a loaded CI machine can take more
        // than 100 ms to answer /metrics.
        let mut config = deploy("prometheus/prometheus.yml");
        for (from, to) in [
            ("scrape_interval: 30s", "scrape_interval: 1s".to_owned()),
            (
                "evaluation_interval: 30s",
                "evaluation_interval: 1s".to_owned(),
            ),
            (
                "/etc/prometheus/berth-token",
                token_file.display().to_string(),
            ),
            ("127.0.0.1:8080", format!("127.0.0.1:{berth_port}")),
        ] {
            config = swap(&config, from, &to);
        }
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("config");
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start prometheus ({e}): install Debian's `prometheus`")
            });
        wait_listening(port, "prometheus");
        let prometheus = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        prometheus.wait_ready(port);
        prometheus
    }

    /// Until `/-/ready` says 200: before that the API answers 503 in plain text (the
    /// storage is still opening — seconds on a loaded machine).
    fn wait_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let address = format!("127.0.0.1:{port}");
        while crate::http_status(&address, "/-/ready") != Some(200) {
            assert!(Instant::now() < deadline, "prometheus never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET /api/v1/<path>`'s `data`.
    pub async fn api(&self, path: &str) -> serde_json::Value {
        let answer: serde_json::Value = reqwest::get(format!("{}/api/v1/{path}", self.url))
            .await
            .expect("prometheus answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["status"], "success", "{answer}");
        answer["data"].clone()
    }

    /// The instant query's result vector, polled until it has a series (Prometheus
    /// applies new targets on a 5 s tick, so the first samples take that long).
    pub async fn series(&self, query: &str) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", self.url)).expect("url");
        url.query_pairs_mut().append_pair("query", query);
        loop {
            let data = self
                .api(&format!("query?{}", url.query().unwrap_or_default()))
                .await;
            let result = data["result"].as_array().cloned().unwrap_or_default();
            if !result.is_empty() {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "no series for {query} after 60 s; targets: {}",
                self.api("targets").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first rule group's rules once each has been evaluated (a rule's health is
    /// `unknown` until then; on a loaded machine the first evaluation can come late).
    pub async fn evaluated_rules(&self) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let groups = self.api("rules").await["groups"].clone();
            let rules = groups[0]["rules"].as_array().cloned().unwrap_or_default();
            if !rules.is_empty() && rules.iter().all(|r| r["health"] != "unknown") {
                return rules;
            }
            assert!(
                Instant::now() < deadline,
                "rules not evaluated after 60 s: {groups}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
