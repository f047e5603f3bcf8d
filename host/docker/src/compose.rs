//! The compose CLI: `docker compose` (v2) when the Docker CLI has it, else
//! `docker-compose` (v1), found once. Berth always names the project (`-p`), the file
//! (`-f`, absolute) and the project directory, so neither version searches parent
//! folders for a file and the labels it writes are unambiguous.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

use crate::errors::DockerError;
use crate::terminal;

/// The CLI found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    program: &'static str,
    /// `["compose"]` for the Docker CLI's plugin.
    prefix: &'static [&'static str],
    pub version: String,
}

/// What one run printed, and how it ended.
#[derive(Debug, Clone)]
pub struct Run {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A compose CLI at work in a terminal: what it writes (stdout and stderr together,
/// as a terminal shows them) is read from `output`; a read error is its end (a
/// terminal answers `EIO` once the CLI has exited).
#[derive(Debug)]
pub struct Session {
    pub child: Child,
    pub output: tokio::fs::File,
}

impl Session {
    /// Stops the CLI as Ctrl-C would (compose then stops what it started cleanly),
    /// and for good when it is still running after `grace`.
    pub async fn interrupt(&mut self, grace: Duration) {
        let group = self
            .child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32));
        if let Some(group) = group {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::INT);
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill().await;
    }
}

static FOUND: OnceCell<Option<Compose>> = OnceCell::const_new();

/// What the search found, without waiting for it: `None` while it still runs (the
/// Python `docker-compose` takes ~0.4 s to answer; readiness must not wait on it).
pub fn found() -> Option<Option<&'static Compose>> {
    FOUND.get().map(Option::as_ref)
}

/// The compose CLI, looked for on first use: `None` when neither runs.
pub async fn detect() -> Option<&'static Compose> {
    FOUND
        .get_or_init(|| async {
            for (program, prefix) in [
                ("docker", &["compose"] as &'static [&'static str]),
                ("docker-compose", &[]),
            ] {
                let out = Command::new(program)
                    .args(prefix)
                    .args(["version", "--short"])
                    .stdin(Stdio::null())
                    .kill_on_drop(true)
                    .output();
                match tokio::time::timeout(Duration::from_secs(10), out).await {
                    Ok(Ok(o)) if o.status.success() => {
                        let version = String::from_utf8_lossy(&o.stdout).trim().to_owned();
                        tracing::info!(program, version, "compose CLI found");
                        return Some(Compose {
                            program,
                            prefix,
                            version,
                        });
                    }
                    _ => {}
                }
            }
            tracing::warn!("neither `docker compose` nor `docker-compose` runs here");
            None
        })
        .await
        .as_ref()
}

impl Compose {
    /// As a user would type it: `docker compose` or `docker-compose`.
    pub fn command(&self) -> String {
        std::iter::once(self.program)
            .chain(self.prefix.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The command for `args` on `project` with `file` from `dir`, its output piped
    /// and killed when dropped.
    pub fn command_for(&self, project: &str, dir: &Path, file: &Path, args: &[&str]) -> Command {
        let mut command = self.base(project, dir, file, &["--ansi", "never"]);
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn base(&self, project: &str, dir: &Path, file: &Path, options: &[&str]) -> Command {
        let mut command = Command::new(self.program);
        command
            .args(self.prefix)
            .args(options)
            .args(["-p", project, "-f"])
            .arg(file)
            .arg("--project-directory")
            .arg(dir)
            .current_dir(dir)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Starts `args` on `project` in a terminal of its own, so the CLI draws its
    /// progress as a user at a shell sees it (the UI shows it in a terminal). It runs
    /// in a process group of its own: `docker compose` is the Docker CLI running a
    /// plugin, and stopping only the parent would leave the plugin at work.
    pub fn spawn_in_terminal(
        &self,
        project: &str,
        dir: &Path,
        file: &Path,
        args: &[&str],
    ) -> Result<Session, DockerError> {
        let (output, writer) = terminal::open()?;
        let mut command = self.base(project, dir, file, &[]);
        let second = writer
            .try_clone()
            .map_err(|e| DockerError::Internal(format!("cannot share a terminal: {e}")))?;
        command
            .args(args)
            .env("TERM", "xterm-256color")
            .env("COLUMNS", terminal::COLUMNS.to_string())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(second))
            .process_group(0);
        // `command` holds the terminal's writing side until it drops: without this
        // drop, reading the output would never see its end.
        let child = command
            .spawn()
            .map_err(|e| DockerError::Internal(format!("cannot run {}: {e}", self.command())));
        drop(command);
        Ok(Session {
            child: child?,
            output: tokio::fs::File::from_std(std::fs::File::from(output)),
        })
    }

    /// Runs `args` for `project` with `file` from `dir`, within `limit`; the CLI is
    /// killed when the limit passes or the caller stops waiting.
    pub async fn run(
        &self,
        project: &str,
        dir: &Path,
        file: &Path,
        args: &[&str],
        limit: Duration,
    ) -> Result<Run, DockerError> {
        let mut command = self.command_for(project, dir, file, args);
        let out = tokio::time::timeout(limit, command.output())
            .await
            .map_err(|_| {
                DockerError::Internal(format!(
                    "{} {} did not finish within {} s",
                    self.command(),
                    args.join(" "),
                    limit.as_secs()
                ))
            })?
            .map_err(|e| DockerError::Internal(format!("cannot run {}: {e}", self.command())))?;
        Ok(Run {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}
