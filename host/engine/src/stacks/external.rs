//! Compose projects Docker runs from outside the stacks directory ("external"):
//! started, stopped and restarted through the Docker API as jobs (Berth has no file
//! to run compose with — the lifecycle job starts dependencies first and stops
//! dependents first, as schedules do), and adopted: their compose file and `.env`
//! copied into the stacks directory when Berth can read them. The paths come from
//! container labels, which anyone who can create a container writes: what they name
//! must be a regular compose file under the size limit, read, never followed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::schedules::ScheduleAction;
use berth_protocol::api::stacks::{StackAction, StackDetail, StackFiles};

use crate::jobs::JobSpec;
use crate::jobs::spec::ActionSpec;
use crate::stack_folder as folder;
use crate::{Engine, EngineError};
use berth_docker::model::{CONFIG_FILES_LABEL, WORKING_DIR_LABEL};

/// The labels of a project's first container; `not_found` when Docker runs none.
async fn labels_of(engine: &Engine, name: &str) -> Result<HashMap<String, String>, EngineError> {
    super::project_containers(engine, Some(name))
        .await?
        .into_iter()
        .find_map(|c| c.labels)
        .ok_or_else(|| EngineError::not_found(format!("no stack or compose project {name}")))
}

/// Queues `action` on external project `name` through the Docker API.
pub async fn queue_action(
    engine: &Engine,
    name: &str,
    action: StackAction,
    actor: &str,
) -> Result<String, EngineError> {
    let through_docker = match action {
        StackAction::Start => ScheduleAction::Start,
        StackAction::Stop => ScheduleAction::Stop,
        StackAction::Restart => ScheduleAction::Restart,
        other => {
            return Err(EngineError::bad_request(format!(
                "{name} is a compose project from outside the stacks directory: Berth has no \
                 compose file to {} it with, only start, stop and restart through Docker — \
                 adopt it to run compose",
                other.as_str()
            )));
        }
    };
    labels_of(engine, name).await?;
    let spec = JobSpec::Action(ActionSpec {
        host: None,
        action: through_docker,
        targets: vec![BackupTarget::Project {
            name: name.to_owned(),
        }],
    });
    let title = format!(
        "Stack {name}: {} (external, through Docker)",
        action.as_str()
    );
    engine
        .jobs
        .enqueue(&engine.store, spec, title, actor.to_owned())
}

/// Copies external project `name`'s compose file (and the `.env` beside it) into a
/// new stack of the same name. Saved as it is (a draft if it does not validate
/// here); relative paths it names are listed in the answer's warnings — they now
/// resolve under the new folder, and their contents were not copied.
pub async fn adopt(engine: &Engine, name: &str, by: &str) -> Result<StackDetail, EngineError> {
    folder::check_name(name)?;
    let root = folder::root(&engine.stacks_dir)?;
    if let Some(dir) = folder::existing(&root, name)? {
        return Err(EngineError::conflict(format!(
            "a stack named {name} exists already ({})",
            dir.display()
        )));
    }
    let labels = labels_of(engine, name).await?;
    let working_dir = labels.get(WORKING_DIR_LABEL).map(PathBuf::from);
    let file = config_file(name, &labels, working_dir.as_deref())?;
    let unreadable = |e: EngineError| {
        EngineError::unavailable(format!(
            "{e} — when Berth runs in a container, mount that folder at the same path"
        ))
    };
    let compose = folder::read(&file)
        .map_err(unreadable)?
        .ok_or_else(|| EngineError::not_found(format!("{} is gone", file.display())))?;
    if let Err(e) = super::manage::services_of(&compose) {
        return Err(EngineError::bad_request(format!(
            "{} is not a compose file: {e}",
            file.display()
        )));
    }
    let env = match &working_dir {
        Some(dir) => folder::read(&dir.join(".env")).map_err(unreadable)?,
        None => None,
    };
    let files = StackFiles {
        name: name.to_owned(),
        compose,
        env,
        draft: true,
    };
    let relative = relative_paths(&files.compose);
    let mut detail = super::manage::save(engine, files, true, by).await?;
    let from = working_dir.map_or_else(|| "its old folder".to_owned(), |d| d.display().to_string());
    detail.validation.warnings.extend(relative.into_iter().map(|p| {
        format!("{p} now resolves under the new folder; its contents stay in {from}: copy them before `up`")
    }));
    tracing::info!(stack = name, by, from = %file.display(), "compose project adopted");
    Ok(detail)
}

/// The one compose file a project was made from (several need merging by hand).
fn config_file(
    name: &str,
    labels: &HashMap<String, String>,
    working_dir: Option<&Path>,
) -> Result<PathBuf, EngineError> {
    let files: Vec<&str> = labels
        .get(CONFIG_FILES_LABEL)
        .map(|f| f.split(',').filter(|f| !f.is_empty()).collect())
        .unwrap_or_default();
    let file = match files[..] {
        [one] => PathBuf::from(one),
        [] => {
            return Err(EngineError::conflict(format!(
                "{name}'s containers do not say which compose file made them"
            )));
        }
        _ => {
            return Err(EngineError::conflict(format!(
                "{name} was made from several compose files ({}): merge them into one and \
                 create the stack from it",
                files.join(", ")
            )));
        }
    };
    Ok(match working_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file,
    })
}

/// Relative host paths a compose file names (bind mounts, env files, build contexts).
fn relative_paths(compose: &str) -> Vec<String> {
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(compose) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let services = doc.get("services").and_then(serde_yaml::Value::as_mapping);
    for service in services.into_iter().flat_map(|s| s.values()) {
        let volumes = service
            .get("volumes")
            .and_then(serde_yaml::Value::as_sequence);
        for volume in volumes.into_iter().flatten() {
            let source = match volume {
                serde_yaml::Value::String(s) => s.split(':').next().map(str::to_owned),
                other => other
                    .get("source")
                    .and_then(serde_yaml::Value::as_str)
                    .map(str::to_owned),
            };
            found.extend(source);
        }
        let env_files = match service.get("env_file") {
            Some(serde_yaml::Value::String(s)) => vec![s.clone()],
            Some(serde_yaml::Value::Sequence(list)) => list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        found.extend(env_files);
        let build = service.get("build");
        let context = build.and_then(serde_yaml::Value::as_str).or_else(|| {
            build
                .and_then(|b| b.get("context"))
                .and_then(serde_yaml::Value::as_str)
        });
        found.extend(context.map(str::to_owned));
    }
    found.retain(|p| p.starts_with('.'));
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_binds_env_files_and_builds_are_found() {
        let compose = "services:\n  web:\n    build: ./web\n    env_file: ./web.env\n    volumes:\n      - ./data:/data\n      - named:/x\n      - /abs:/y\n      - type: bind\n        source: ../shared\n        target: /s\n";
        assert_eq!(
            relative_paths(compose),
            ["../shared", "./data", "./web", "./web.env"]
        );
    }

    #[test]
    fn one_config_file_is_taken_relative_to_the_working_dir() {
        let labels =
            |files: &str| HashMap::from([(CONFIG_FILES_LABEL.to_owned(), files.to_owned())]);
        let dir = Path::new("/opt/app");
        assert_eq!(
            config_file("app", &labels("compose.yaml"), Some(dir)).unwrap(),
            Path::new("/opt/app/compose.yaml")
        );
        let several = config_file("app", &labels("/a.yml,/b.yml"), Some(dir)).unwrap_err();
        assert!(several.to_string().contains("several compose files"));
        assert!(config_file("app", &HashMap::new(), None).is_err());
    }
}
