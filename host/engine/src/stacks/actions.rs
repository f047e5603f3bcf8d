//! Compose actions on a managed stack as jobs: queued like every job (so one never
//! runs while a backup holds the stack's containers), the CLI run in a terminal from
//! the stack's folder, its output streamed to whoever watches (`stack.output`) and
//! kept as the job's log, its exit code the job's outcome. Cancelling the job stops
//! the CLI as Ctrl-C would.

use std::sync::Arc;
use std::time::Duration;

use berth_docker::compose::{self, Session};
use berth_docker::terminal::Lines;
use berth_protocol::api::jobs::{JobState, LogLevel};
use berth_protocol::api::stacks::StackAction;
use tokio::io::AsyncReadExt;

use crate::jobs::locks::stack_key;
use crate::jobs::spec::StackSpec;
use crate::jobs::{JobCtx, JobSpec, Output, Watcher};
use crate::{Engine, EngineError};

/// How long the CLI has to stop after Ctrl-C before it is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);

/// The compose arguments of `action`.
pub fn args(action: StackAction) -> &'static [&'static str] {
    match action {
        StackAction::Up => &["up", "-d", "--remove-orphans"],
        StackAction::Down => &["down", "-t", "10"],
        StackAction::Restart => &["restart", "-t", "10"],
        StackAction::Pull => &["pull"],
        StackAction::Stop => &["stop", "-t", "10"],
        StackAction::Start => &["start"],
    }
}

/// Queues `action` on stack `name` for `actor`; `watcher` receives its output. The
/// stack and the compose CLI are checked now, so a request for what cannot run is
/// refused rather than queued. A compose project from outside the stacks directory
/// is started, stopped or restarted through Docker instead (without a watcher: there
/// is no CLI output to show).
pub async fn queue(
    engine: &Engine,
    name: &str,
    action: StackAction,
    actor: &str,
    watcher: Option<Watcher>,
) -> Result<String, EngineError> {
    match super::manage::located(engine, name) {
        Err(e) if e.kind() == berth_core::error::Kind::NotFound && watcher.is_none() => {
            return super::external::queue_action(engine, name, action, actor).await;
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    cli().await?;
    let spec = JobSpec::Stack(StackSpec {
        stack: name.to_owned(),
        action,
    });
    let title = format!("Stack {name}: {}", action.as_str());
    engine
        .jobs
        .enqueue_watched(&engine.store, spec, title, actor.to_owned(), watcher)
}

async fn cli() -> Result<&'static compose::Compose, EngineError> {
    compose::detect().await.ok_or_else(|| {
        EngineError::unavailable("neither `docker compose` nor `docker-compose` runs here")
    })
}

/// Runs a queued stack action (the runner's entry point); a watcher learns why it
/// failed when it fails before the CLI's exit code says so.
pub async fn run(
    engine: &Arc<Engine>,
    spec: &StackSpec,
    ctx: &JobCtx,
) -> Result<String, EngineError> {
    let watcher = ctx.take_watcher();
    let outcome = run_watched(engine, spec, ctx, watcher.as_ref()).await;
    if let (Err(e), Some(w)) = (&outcome, &watcher) {
        let failed = Output::Failed {
            kind: e.kind(),
            message: e.public(),
        };
        let _ = w.send(failed).await;
    }
    outcome
}

async fn run_watched(
    engine: &Arc<Engine>,
    spec: &StackSpec,
    ctx: &JobCtx,
    watcher: Option<&Watcher>,
) -> Result<String, EngineError> {
    ctx.set_state(JobState::Starting, "preparing");
    let (dir, file) = super::manage::located(engine, &spec.stack)?;
    let cli = cli().await?;
    let _held = ctx
        .hold_objects(lock_keys(engine, &spec.stack).await?)
        .await?;
    let args = args(spec.action);
    let command = format!("{} {}", cli.command(), args.join(" "));
    ctx.set_state(JobState::Running, spec.action.as_str());
    ctx.log(LogLevel::Info, format!("$ {command}"));
    tracing::info!(
        stack = spec.stack,
        action = spec.action.as_str(),
        "compose action"
    );
    let mut session = cli
        .spawn_in_terminal(&spec.stack, &dir, &dir.join(file), args)
        .map_err(|e| EngineError::unavailable(e.to_string()))?;
    let last = match relay(&mut session, ctx, watcher).await {
        Some(last) => last,
        None => {
            session.interrupt(INTERRUPT_GRACE).await;
            return Err(ctx.cancelled());
        }
    };
    let code = session.child.wait().await.ok().and_then(|s| s.code());
    if let Some(w) = watcher {
        let _ = w.send(Output::Exit(code)).await;
    }
    match code {
        Some(0) => Ok(format!("{command}: done")),
        _ => Err(EngineError::failed(format!(
            "{command} exited with {}{}",
            code.map_or_else(|| "a signal".to_owned(), |c| format!("code {c}")),
            last.map(|l| format!(": {l}")).unwrap_or_default()
        ))),
    }
}

/// What a stack action holds: the stack itself (a backup of the project holds it
/// too) and the containers it has now.
async fn lock_keys(engine: &Engine, stack: &str) -> Result<Vec<String>, EngineError> {
    let mut keys: Vec<String> = super::project_containers(engine, Some(stack))
        .await?
        .into_iter()
        .filter_map(|c| c.id.map(|id| format!("container:{id}")))
        .collect();
    keys.push(stack_key(stack));
    keys.sort();
    Ok(keys)
}

/// Copies the CLI's output to the watcher and, line by line, to the job log until
/// it ends: `Some(last line)`, or `None` when the job was cancelled.
async fn relay(
    session: &mut Session,
    ctx: &JobCtx,
    watcher: Option<&Watcher>,
) -> Option<Option<String>> {
    let mut lines = Lines::default();
    let mut last = None;
    let mut buffer = vec![0u8; 16 * 1024];
    let mut watcher = watcher;
    loop {
        let n = tokio::select! {
            n = session.output.read(&mut buffer) => n.unwrap_or(0),
            () = ctx.cancel.cancelled() => return None,
        };
        if n == 0 {
            break;
        }
        for line in lines.push(&buffer[..n]) {
            ctx.log(LogLevel::Info, line.clone());
            last = Some(line);
        }
        if let Some(w) = watcher {
            let bytes = Output::Bytes(bytes::Bytes::copy_from_slice(&buffer[..n]));
            // A watcher gone (its channel closed) leaves the job to its log.
            if w.send(bytes).await.is_err() {
                watcher = None;
            }
        }
    }
    if let Some(line) = lines.finish() {
        ctx.log(LogLevel::Info, line.clone());
        last = Some(line);
    }
    Some(last)
}
