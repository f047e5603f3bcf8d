//! A scheduled lifecycle action as a job: the targets' containers found when it runs,
//! held against other jobs, then started, stopped, restarted, paused, unpaused or
//! redeployed (recreated from their configuration) in
//! dependency order — dependents stopped (or paused) first and started last, as
//! `docker compose` does and as backups hold them.

use std::sync::Arc;

use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::jobs::{JobState, LogLevel};
use berth_protocol::api::schedules::ScheduleAction;
use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, StopContainerOptionsBuilder};

use berth_docker::hosts::Host;

use crate::backup::journal::Subject;
use crate::backup::order::{PROJECT, hold_order};
use crate::backup::plan::node_of_summary;
use crate::error::docker_err;
use crate::jobs::JobCtx;
use crate::jobs::spec::ActionSpec;
use crate::{Engine, EngineError};

/// The targets' containers in stop order (dependents first), each once; Berth's own
/// container and helpers aside.
async fn containers(
    docker: &Docker,
    targets: &[BackupTarget],
    host_self: Option<&str>,
) -> Result<Vec<Subject>, EngineError> {
    let listed = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default().all(true).build(),
        ))
        .await
        .map_err(|e| docker_err(&e, "the containers"))?;
    let wanted = |c: &bollard::models::ContainerSummary| {
        let labels = c.labels.clone().unwrap_or_default();
        let name = c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/'));
        targets.iter().any(|t| match t {
            BackupTarget::Container { name: n } => name == Some(n.as_str()),
            BackupTarget::Project { name: p } => labels.get(PROJECT) == Some(p),
            _ => false,
        }) && !labels.contains_key(berth_docker::helper::LABEL)
            && (host_self.is_none() || c.id.as_deref() != host_self)
    };
    let nodes = listed
        .into_iter()
        .filter(wanted)
        .map(node_of_summary)
        .collect();
    Ok(hold_order(nodes))
}

/// One container's action; `None` when it is already in the state asked for.
async fn act(
    host: &Host,
    docker: &Docker,
    action: ScheduleAction,
    s: &Subject,
) -> Result<Option<()>, EngineError> {
    if action == ScheduleAction::Redeploy {
        berth_docker::redeploy::redeploy(host, docker, &s.id).await?;
        return Ok(Some(()));
    }
    change(docker, action, s)
        .await
        .map_err(|e| docker_err(&e, &s.name))
}

/// A state change through Docker's lifecycle endpoints.
async fn change(
    docker: &Docker,
    action: ScheduleAction,
    s: &Subject,
) -> Result<Option<()>, bollard::errors::Error> {
    use ScheduleAction as A;
    let stop = || Some(StopContainerOptionsBuilder::default().build());
    match action {
        A::Start if s.running => Ok(None),
        A::Start => docker.start_container(&s.id, None).await.map(Some),
        A::Stop if !s.running => Ok(None),
        A::Stop => docker.stop_container(&s.id, stop()).await.map(Some),
        A::Pause if !s.running || s.paused => Ok(None),
        A::Pause => docker.pause_container(&s.id).await.map(Some),
        A::Unpause if !s.paused => Ok(None),
        A::Unpause => docker.unpause_container(&s.id).await.map(Some),
        A::Restart | A::Backup | A::Redeploy | A::StateBackup => Ok(None),
    }
}

/// Runs `steps` (action, containers in order), logging each; failures are collected
/// so one broken container does not keep the others in the wrong state.
async fn apply(
    host: &Host,
    docker: &Docker,
    ctx: &JobCtx,
    steps: Vec<(ScheduleAction, Vec<Subject>)>,
) -> (usize, Vec<String>) {
    let (mut done, mut failed) = (0, Vec::new());
    for (action, subjects) in steps {
        for s in subjects {
            match act(host, docker, action, &s).await {
                Ok(Some(())) => {
                    done += 1;
                    ctx.log(LogLevel::Info, format!("{} {}", action.as_str(), s.name));
                }
                Ok(None) => ctx.log(
                    LogLevel::Info,
                    format!("{}: already {}", s.name, state_word(action)),
                ),
                Err(e) => {
                    let message = format!("{} {}: {}", action.as_str(), s.name, e.public());
                    ctx.log(LogLevel::Error, message.clone());
                    failed.push(message);
                }
            }
            ctx.item_done();
        }
    }
    (done, failed)
}

fn state_word(action: ScheduleAction) -> &'static str {
    match action {
        ScheduleAction::Start | ScheduleAction::Unpause => "running",
        ScheduleAction::Stop => "stopped",
        ScheduleAction::Pause => "paused or not running",
        _ => "done",
    }
}

pub async fn run(
    engine: &Arc<Engine>,
    spec: &ActionSpec,
    ctx: &JobCtx,
) -> Result<String, EngineError> {
    ctx.set_state(JobState::Starting, "preparing");
    let host = engine.hosts.get(spec.host.as_deref())?;
    let docker = host.docker().await?;
    let found = containers(&docker, &spec.targets, host.self_id.as_deref()).await?;
    let keys = found
        .iter()
        .map(|s| format!("container:{}", s.id))
        .collect();
    let _held = ctx.hold_objects(keys).await?;
    // Looked at again once held: another job may have changed their states.
    let stop_order = containers(&docker, &spec.targets, host.self_id.as_deref()).await?;
    let start_order: Vec<Subject> = stop_order.iter().rev().cloned().collect();
    ctx.set_state(JobState::Running, spec.action.as_str());
    let steps = match spec.action {
        ScheduleAction::Stop | ScheduleAction::Pause => vec![(spec.action, stop_order)],
        ScheduleAction::Start | ScheduleAction::Unpause | ScheduleAction::Redeploy => {
            vec![(spec.action, start_order)]
        }
        ScheduleAction::Restart => {
            // Those running now come back; stopped ones stay stopped.
            let running: Vec<Subject> = start_order.into_iter().filter(|s| s.running).collect();
            let restarted = running
                .iter()
                .map(|s| Subject {
                    running: false,
                    ..s.clone()
                })
                .collect();
            vec![
                (ScheduleAction::Stop, stop_order),
                (ScheduleAction::Start, restarted),
            ]
        }
        ScheduleAction::Backup | ScheduleAction::StateBackup => {
            return Err(EngineError::bad_request(
                "a backup is not a lifecycle action",
            ));
        }
    };
    ctx.totals(0, steps.iter().map(|(_, s)| s.len() as u64).sum());
    let (done, failed) = apply(&host, &docker, ctx, steps).await;
    if failed.is_empty() {
        Ok(format!(
            "{}: {done} container(s) changed, {} found",
            spec.action.as_str(),
            found.len()
        ))
    } else {
        Err(EngineError::failed(format!(
            "{} of the containers failed: {}",
            failed.len(),
            failed.join("; ")
        )))
    }
}
