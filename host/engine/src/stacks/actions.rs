//! Running compose on a managed stack: each action's arguments, and the CLI started
//! for it from the stack's folder (output piped; killed when its handle drops, so a
//! closed channel stops it).

use berth_docker::compose;
use berth_protocol::api::stacks::StackAction;
use tokio::process::Child;

use crate::{Engine, EngineError};

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

/// Starts the compose CLI for `action` on stack `name`.
pub async fn start(engine: &Engine, name: &str, action: StackAction) -> Result<Child, EngineError> {
    let (dir, file) = super::manage::located(engine, name)?;
    let cli = compose::detect().await.ok_or_else(|| {
        EngineError::unavailable("neither `docker compose` nor `docker-compose` runs here")
    })?;
    tracing::info!(stack = name, action = action.as_str(), "compose action");
    cli.command_for(name, &dir, &dir.join(file), args(action))
        .spawn()
        .map_err(|e| EngineError::unavailable(format!("cannot run {}: {e}", cli.command())))
}
