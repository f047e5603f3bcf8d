//! What a schedule acts on: its explicit targets, checked to exist when it is saved,
//! and its selector, resolved each time it runs so new containers are covered
//! without editing the schedule.

use std::collections::HashMap;

use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::schedules::{ScheduleSpec, Selector};
use bollard::Docker;
use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::EngineError;
use crate::backup::order::PROJECT;
use crate::error::docker_err;

/// Containers labelled with this name are covered by `Selector::Label`.
pub const SCHEDULE_LABEL: &str = "berth.schedule";
/// Containers labelled `true` are left out of `Selector::AllContainers`.
pub const SKIP_LABEL: &str = "berth.backup.skip";

/// Every container (stopped ones too) with `label` (`key` or `key=value`), Berth's
/// helpers and Berth itself aside.
pub(crate) async fn containers(
    docker: &Docker,
    label: Option<String>,
    host_self: Option<&str>,
) -> Result<Vec<ContainerSummary>, EngineError> {
    let mut options = ListContainersOptionsBuilder::default().all(true);
    if let Some(label) = label {
        options = options.filters(&HashMap::from([("label".to_owned(), vec![label])]));
    }
    let listed = docker
        .list_containers(Some(options.build()))
        .await
        .map_err(|e| docker_err(&e, "the containers"))?;
    Ok(listed
        .into_iter()
        .filter(|c| {
            let labels = c.labels.as_ref();
            labels.is_none_or(|l| !l.contains_key(berth_docker::helper::LABEL))
                && (host_self.is_none() || c.id.as_deref() != host_self)
        })
        .collect())
}

fn name_of(c: &ContainerSummary) -> Option<String> {
    c.names
        .as_ref()?
        .first()
        .map(|n| n.trim_start_matches('/').to_owned())
}

/// Refuses a target that does not exist now (a typo is better caught at save time).
pub async fn check(docker: &Docker, targets: &[BackupTarget]) -> Result<(), EngineError> {
    for (i, target) in targets.iter().enumerate() {
        let field = format!("targets[{i}]");
        let name = target.name();
        let missing = || EngineError::NotFound {
            field: Some(field.clone()),
            message: format!("no {} named {name}", target.kind()),
        };
        let found = match target {
            BackupTarget::Container { .. } => docker.inspect_container(name, None).await.is_ok(),
            BackupTarget::Volume { .. } => docker.inspect_volume(name).await.is_ok(),
            BackupTarget::Network { .. } => docker.inspect_network(name, None).await.is_ok(),
            BackupTarget::Project { .. } => {
                !containers(docker, Some(format!("{PROJECT}={name}")), None)
                    .await?
                    .is_empty()
            }
        };
        if !found {
            return Err(missing());
        }
    }
    Ok(())
}

/// The targets a run acts on now: the explicit ones, then what the selector matches,
/// each once, in a stable order.
pub async fn resolve(
    docker: &Docker,
    spec: &ScheduleSpec,
    host_self: Option<&str>,
) -> Result<Vec<BackupTarget>, EngineError> {
    let mut out = spec.targets.clone();
    let mut found = Vec::new();
    match &spec.selector {
        None => {}
        Some(Selector::Label { value }) => {
            let label = format!("{SCHEDULE_LABEL}={value}");
            for c in containers(docker, Some(label), host_self).await? {
                found.extend(name_of(&c).map(|name| BackupTarget::Container { name }));
            }
        }
        Some(Selector::AllProjects) => {
            for c in containers(docker, Some(PROJECT.to_owned()), host_self).await? {
                let project = c.labels.as_ref().and_then(|l| l.get(PROJECT)).cloned();
                found.extend(project.map(|name| BackupTarget::Project { name }));
            }
        }
        Some(Selector::AllContainers) => {
            for c in containers(docker, None, host_self).await? {
                let skip = c.labels.as_ref().and_then(|l| l.get(SKIP_LABEL));
                if skip.is_none_or(|v| v != "true") {
                    found.extend(name_of(&c).map(|name| BackupTarget::Container { name }));
                }
            }
        }
    }
    found.sort_by(|a: &BackupTarget, b| (a.kind(), a.name()).cmp(&(b.kind(), b.name())));
    found.dedup();
    for target in found {
        if !out.contains(&target) {
            out.push(target);
        }
    }
    Ok(out)
}
