//! Compose stacks kept as folders in the stacks directory (`stacks_dir`): one folder
//! per stack with a compose file, an optional `.env`, and whatever the stack
//! bind-mounts relatively.
//!
//! - `crate::stack_folder` (beside this module, because backups read stack folders
//!   too): stack names (compose project names), the folder confined to the directory
//!   (no `..`, no symlinked folder or file), reading and atomic writing.
//! - `validate`: YAML with line and column, the compose shape, then the compose CLI's
//!   own `config` check.
//! - `versions`: the files each save replaced, kept in the store (the last 20).
//! - `actions`: compose actions on a stack as jobs, the CLI run in a terminal.
//! - `convert`: a `docker run` line as a compose service.
//! - `external`: projects from outside the directory, started/stopped or adopted.
//! - `manage`: list (folders beside external projects found by their labels, each
//!   with its services' states), get, create, save, delete, history.
//!
//! Writing a compose file is root on the host (it may bind-mount `/`): the server
//! lets only admins call what writes.

pub mod actions;
pub mod convert;
pub mod external;
pub mod manage;
pub mod validate;
pub mod versions;

use berth_docker::model::PROJECT_LABEL;
use bollard::models::ContainerSummary;

use crate::{Engine, EngineError};

/// The containers of compose project `project` (every project's with `None`) on the
/// local host, Berth itself aside, stopped ones too.
pub(crate) async fn project_containers(
    engine: &Engine,
    project: Option<&str>,
) -> Result<Vec<ContainerSummary>, EngineError> {
    let host = engine.hosts.get(None)?;
    let docker = host.docker().await?;
    let filter = match project {
        Some(name) => format!("{PROJECT_LABEL}={name}"),
        None => PROJECT_LABEL.to_owned(),
    };
    crate::schedule::targets::containers(&docker, Some(filter), host.self_id.as_deref()).await
}
