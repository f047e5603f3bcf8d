//! The compose CLI: `docker compose` (v2) when the Docker CLI has it, else
//! `docker-compose` (v1), found once. Berth always names the project (`-p`), the file
//! (`-f`, absolute) and the project directory, so neither version searches parent
//! folders for a file and the labels it writes are unambiguous.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::OnceCell;

use crate::errors::DockerError;

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

static FOUND: OnceCell<Option<Compose>> = OnceCell::const_new();

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
        let mut command = Command::new(self.program);
        command
            .args(self.prefix)
            .args(["--ansi", "never", "-p", project, "-f"])
            .arg(file)
            .arg("--project-directory")
            .arg(dir)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
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
