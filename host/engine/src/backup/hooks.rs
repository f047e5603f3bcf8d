//! Pre/post backup hooks: a user's command run inside their container (with `sh -c`)
//! before Berth holds it and after it runs again — e.g. a database flush or dump. The
//! request's hooks override the container's `berth.backup.*` labels. A hook that fails
//! or outlives its timeout fails the backup when essential (the default); the output's
//! tail goes to the job's log either way.

use crate::EngineError;
use std::collections::HashMap;
use std::time::Duration;

use berth_protocol::api::backups::Hooks;
use berth_protocol::api::jobs::LogLevel;
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;

use crate::error::docker_err;
use crate::jobs::JobCtx;

pub const PRE: &str = "berth.backup.pre";
pub const POST: &str = "berth.backup.post";
pub const TIMEOUT: &str = "berth.backup.hook_timeout";
pub const MODE: &str = "berth.backup.hook_mode";
/// Output kept for the log.
const TAIL: usize = 2_000;

/// The hooks in effect: the request's, else the labels'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub pre: Option<String>,
    pub post: Option<String>,
    pub timeout: Duration,
    pub essential: bool,
}

pub fn resolve(req: &Hooks, labels: &HashMap<String, String>) -> Result<Resolved, EngineError> {
    let label = |k: &str| labels.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let timeout_s = match req.timeout_s {
        Some(t) => t,
        None => match label(TIMEOUT) {
            Some(v) => v.trim().parse().map_err(|_| {
                EngineError::bad_request(format!(
                    "label {TIMEOUT}={v:?} is not a number of seconds"
                ))
            })?,
            None => 60,
        },
    };
    if !(1..=3_600).contains(&timeout_s) {
        return Err(EngineError::bad("hooks.timeout_s", "1 to 3,600 seconds"));
    }
    let essential = match req.essential {
        Some(e) => e,
        None => match label(MODE).as_deref().map(str::trim) {
            None | Some("essential") => true,
            Some("optional") => false,
            Some(other) => {
                return Err(EngineError::bad_request(format!(
                    "label {MODE}={other:?}: essential or optional"
                )));
            }
        },
    };
    Ok(Resolved {
        pre: req
            .pre
            .clone()
            .filter(|c| !c.trim().is_empty())
            .or_else(|| label(PRE)),
        post: req
            .post
            .clone()
            .filter(|c| !c.trim().is_empty())
            .or_else(|| label(POST)),
        timeout: Duration::from_secs(timeout_s.into()),
        essential,
    })
}

/// Runs `cmd` in the container; `Err` with the reason when it fails and is essential.
pub async fn run(
    docker: &Docker,
    container: &str,
    which: &str,
    cmd: &str,
    h: &Resolved,
    ctx: &JobCtx,
) -> Result<(), EngineError> {
    ctx.phase(&format!("{which} hook"));
    let outcome = tokio::time::timeout(h.timeout, exec(docker, container, cmd)).await;
    let failure = match outcome {
        Ok(Ok((0, out))) => {
            ctx.log(
                LogLevel::Info,
                format!("{which} hook succeeded: {}", out.trim()),
            );
            return Ok(());
        }
        Ok(Ok((code, out))) => format!("{which} hook exited with {code}: {}", out.trim()),
        Ok(Err(e)) => format!("{which} hook could not run: {}", e),
        Err(_) => format!("{which} hook did not finish in {} s", h.timeout.as_secs()),
    };
    if h.essential {
        ctx.log(LogLevel::Error, failure.clone());
        Err(EngineError::conflict(failure))
    } else {
        ctx.log(
            LogLevel::Warn,
            format!("{failure} (optional: the backup goes on)"),
        );
        Ok(())
    }
}

async fn exec(docker: &Docker, container: &str, cmd: &str) -> Result<(i64, String), EngineError> {
    let what = format!("container {container}");
    let e = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), cmd.to_owned()]),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| docker_err(&e, &what))?;
    let mut out = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&e.id, Some(StartExecOptions::default()))
        .await
        .map_err(|e| docker_err(&e, &what))?
    {
        while let Some(chunk) = output.next().await {
            let Ok(chunk) = chunk else { break };
            out.push_str(&chunk.to_string());
            if out.len() > 2 * TAIL {
                berth_core::text::keep_tail(&mut out, TAIL);
            }
        }
    }
    let code = docker
        .inspect_exec(&e.id)
        .await
        .map_err(|e| docker_err(&e, &what))?
        .exit_code
        .unwrap_or(-1);
    Ok((code, berth_core::text::tail(&out, TAIL).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_override_labels_and_bad_labels_are_named() {
        let labels = HashMap::from([
            (PRE.to_owned(), "pg_dump".to_owned()),
            (POST.to_owned(), "echo done".to_owned()),
            (MODE.to_owned(), "optional".to_owned()),
        ]);
        let r = resolve(&Hooks::default(), &labels).unwrap();
        assert_eq!(r.pre.as_deref(), Some("pg_dump"));
        assert!(!r.essential);
        assert_eq!(r.timeout, Duration::from_secs(60));
        let req = Hooks {
            pre: Some("sync".into()),
            timeout_s: Some(5),
            essential: Some(true),
            ..Default::default()
        };
        let r = resolve(&req, &labels).unwrap();
        assert_eq!(r.pre.as_deref(), Some("sync"));
        assert_eq!(r.post.as_deref(), Some("echo done"));
        assert!(r.essential);
        let bad = HashMap::from([(MODE.to_owned(), "sometimes".to_owned())]);
        assert!(
            resolve(&Hooks::default(), &bad)
                .unwrap_err()
                .to_string()
                .contains(MODE)
        );
        let bad = HashMap::from([(TIMEOUT.to_owned(), "soon".to_owned())]);
        assert!(resolve(&Hooks::default(), &bad).is_err());
    }
}
