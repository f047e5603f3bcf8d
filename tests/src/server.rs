//! Runs the real `berth` binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use berth_protocol::health::Readiness;

/// The binary under test: `$BERTH_BIN` (set by `cargo xtask test`) or `target/debug/berth`.
pub fn bin() -> PathBuf {
    let path = std::env::var_os("BERTH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/debug/berth"));
    assert!(
        path.is_file(),
        "berth binary not found at {}: run the tests with `cargo xtask test`, which builds it with the UI and plugins",
        path.display()
    );
    path
}

/// `berth` with nothing inherited from the developer's configuration.
pub fn berth_command() -> Command {
    let mut cmd = Command::new(bin());
    // Nothing of a developer's configuration leaks into a test's server.
    for (var, _) in std::env::vars_os() {
        if var.to_str().is_some_and(|v| v.starts_with("BERTH_")) {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// `berth serve` on a free loopback port with the given data dir; a new data dir
/// starts with the plugins already compiled (see [`seed_plugin_cache`]).
pub fn serve_command(data_dir: &Path) -> Command {
    seed_plugin_cache(data_dir);
    serve_command_cold(data_dir)
}

/// [`serve_command`] without seeding: the first start compiles every plugin, as a
/// user's first start does (the tests of the cache itself).
pub fn serve_command_cold(data_dir: &Path) -> Command {
    let mut cmd = berth_command();
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir);
    cmd.env("BERTH_LOG_LEVEL", "info,tower_http=debug");
    cmd
}

/// The compiled plugins every test's server shares: `target/test-plugin-cache`.
fn shared_plugin_cache() -> PathBuf {
    crate::workspace_root().join("target/test-plugin-cache")
}

/// Where Berth keeps its compiled plugins in a data dir (`DataDir::plugin_cache_dir`).
fn plugin_cache_of(data_dir: &Path) -> PathBuf {
    data_dir.join("plugins").join("cache")
}

/// Gives a data dir that does not exist yet the `.cwasm` files earlier servers of
/// this run compiled. Each test starts a fresh server on a fresh data dir, and
/// compiling the five built-in plugins took 3–14 s of CPU per start — on two cores,
/// the largest single cost of the suite. The files are Berth's own output, named by
/// the component's hash and the engine's configuration, so a server loads only one
/// it would have compiled identically (and wasmtime checks each header). Best effort:
/// on any error the server compiles, as it would anyway.
fn seed_plugin_cache(data_dir: &Path) {
    let shared = shared_plugin_cache();
    if data_dir.exists() || !data_dir.parent().is_some_and(Path::is_dir) {
        return;
    }
    let Ok(files) = std::fs::read_dir(&shared) else {
        return;
    };
    let cache = plugin_cache_of(data_dir);
    if std::fs::create_dir_all(&cache).is_err() {
        return;
    }
    for file in files.flatten() {
        let name = file.file_name();
        if Path::new(&name).extension().is_some_and(|e| e == "cwasm") {
            let _ = std::fs::copy(file.path(), cache.join(&name));
        }
    }
}

/// Keeps what a started server compiled for the next ones (written under a
/// temporary name, then renamed: a server seeding meanwhile reads whole files).
fn harvest_plugin_cache(data_dir: &Path) {
    let Ok(files) = std::fs::read_dir(plugin_cache_of(data_dir)) else {
        return;
    };
    let shared = shared_plugin_cache();
    if std::fs::create_dir_all(&shared).is_err() {
        return;
    }
    for file in files.flatten() {
        let name = file.file_name();
        let target = shared.join(&name);
        if Path::new(&name).extension().is_none_or(|e| e != "cwasm") || target.exists() {
            continue;
        }
        let unique = format!(
            "{}.{}-{:?}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            std::thread::current().id()
        );
        let tmp = shared.join(unique.replace(['(', ')'], ""));
        if std::fs::copy(file.path(), &tmp).is_ok() && std::fs::rename(&tmp, &target).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[derive(Debug, Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

/// A running (or finished) berth process and everything it wrote to stderr.
#[derive(Debug)]
pub struct Process {
    child: Child,
    stderr: Arc<(Mutex<Lines>, Condvar)>,
}

impl Process {
    /// Spawns `cmd` and collects its stderr lines on a thread.
    pub fn spawn(mut cmd: Command) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin().display()));
        let stderr = Arc::new((Mutex::new(Lines::default()), Condvar::new()));
        let pipe = child.stderr.take().expect("piped");
        let shared = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                // Request traces (DEBUG) stay collected for the tests' log assertions
                // but are not echoed: a failing test's output would be mostly traces,
                // and CI shows only its first lines.
                if !is_debug(&line) {
                    eprintln!("[berth] {line}");
                }
                shared.0.lock().unwrap().lines.push(line);
                shared.1.notify_all();
            }
            shared.0.lock().unwrap().closed = true;
            shared.1.notify_all();
        });
        Self { child, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a stderr line satisfies `pred`; `None` if stderr closed or time ran out.
    pub fn wait_for_line(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.stderr;
        let mut state = lock.lock().unwrap();
        loop {
            if let Some(l) = state.lines.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = cv.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    /// Every stderr line so far.
    pub fn lines(&self) -> Vec<String> {
        self.stderr.0.lock().unwrap().lines.clone()
    }

    /// Waits for the process to exit and for its stderr to be fully read.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= deadline {
                return None;
            }
            // A child's exit has no portable awaitable event without taking it over;
            // a short poll with a deadline is the honest option here.
            std::thread::sleep(Duration::from_millis(10));
        };
        let _ = self.wait_for_line(Duration::from_secs(2), |_| false);
        Some(status)
    }

    /// Sends a signal (e.g. `libc::SIGTERM`).
    pub fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits");
        // SAFETY: plain kill(2) on our own child.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A started, ready berth with its own temporary data directory.
#[derive(Debug)]
pub struct Berth {
    pub process: Process,
    /// `http://127.0.0.1:<port>` (`https://` with `tls_cert`)
    pub url: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Berth {
    /// Starts berth on a fresh data dir and waits until `/readyz` says ready.
    pub async fn start() -> Self {
        Self::start_on(serve_command).await
    }

    /// [`Berth::start`] with nothing compiled yet: the first start compiles every
    /// plugin, as a user's does.
    pub async fn start_cold() -> Self {
        Self::start_on(serve_command_cold).await
    }

    async fn start_on(command: fn(&Path) -> Command) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        let mut b = Self::start_with(command(&data_dir), &data_dir).await;
        b._tmp = Some(tmp);
        b.wait_ready().await;
        b
    }

    /// Starts `cmd` (from [`serve_command`]) and waits for the address it prints.
    pub async fn start_with(cmd: Command, data_dir: &Path) -> Self {
        let process = Process::spawn(cmd);
        let line = process.wait_for_line(Duration::from_secs(60), |l| {
            l.contains("listening on http://") || l.contains("listening on https://")
        });
        let Some(line) = line else {
            panic!(
                "berth did not start; it wrote:\n{}",
                process.lines().join("\n")
            );
        };
        // The plugins are loaded (and compiled where needed) before Berth listens.
        harvest_plugin_cache(data_dir);
        let at = line.find("listening on ").expect("url") + "listening on ".len();
        let url: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || ":/.[]".contains(*c))
            .collect();
        Self {
            process,
            url,
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
        }
    }

    /// `GET /readyz`, decoded, with its HTTP status.
    pub async fn readiness(&self) -> (u16, Readiness) {
        let resp = reqwest::get(format!("{}/readyz", self.url))
            .await
            .expect("GET /readyz");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("readiness JSON"))
    }

    /// Polls `/readyz` until ready (bounded): Docker negotiation may still be going on.
    pub async fn wait_ready(&self) -> Readiness {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, r) = self.readiness().await;
            if status == 200 && r.ready {
                return r;
            }
            assert!(Instant::now() < deadline, "berth never became ready: {r:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().get(format!("{}{path}", self.url))
    }
}

/// Whether a log line (text or JSON format) is at DEBUG or TRACE level.
fn is_debug(line: &str) -> bool {
    [
        " DEBUG ",
        " TRACE ",
        "\"level\":\"DEBUG\"",
        "\"level\":\"TRACE\"",
    ]
    .iter()
    .any(|l| line.contains(l))
}
