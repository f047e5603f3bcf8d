//! What a backup will read: the containers it holds still (dependents first), the
//! volumes it streams, the configuration it records — found from Docker when the job
//! starts, not when it was queued, so a backup covers what exists when it runs.

use crate::EngineError;
use std::collections::{BTreeMap, HashMap};

use berth_protocol::api::backups::{BackupTarget, ManifestMember, ManifestVolume};
use berth_protocol::api::jobs::LogLevel;
use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::{ListContainersOptionsBuilder, ListVolumesOptionsBuilder};

use super::host_paths::{self, BindVerdict, HostPaths};
use super::journal::Subject;
use super::order::{self, Node};
use crate::error::docker_err;
use crate::jobs::JobCtx;
use crate::jobs::locks::Held;

/// What a backup will read.
#[derive(Debug, Default)]
pub struct Plan {
    /// Containers held still, dependents first.
    pub subjects: Vec<Subject>,
    /// Running containers whose hooks run, with their labels (where hooks may be
    /// set), dependents first.
    pub hooked: Vec<(String, HashMap<String, String>)>,
    pub volumes: Vec<ManifestVolume>,
    pub container: Option<serde_json::Value>,
    pub network: Option<serde_json::Value>,
    pub was_running: bool,
    pub image_id: Option<String>,
    /// The images a backup carrying its images saves: (reference, id).
    pub images: Vec<(String, String)>,
    pub members: Vec<ManifestMember>,
    pub networks: Vec<serde_json::Value>,
    /// Bind mounts left out: `source → destination: reason`.
    pub binds: Vec<String>,
}

impl Plan {
    /// The Docker objects no other job may hold meanwhile (see `jobs::locks`).
    fn objects(&self, target: &BackupTarget) -> Vec<String> {
        let mut keys: Vec<String> = self
            .subjects
            .iter()
            .map(|s| format!("container:{}", s.id))
            .chain(self.volumes.iter().map(|v| match &v.host_path {
                Some(path) => format!("path:{path}"),
                None => format!("volume:{}", v.name),
            }))
            .collect();
        match target {
            BackupTarget::Network { name } => keys.push(format!("network:{name}")),
            // A compose action on the stack would create or remove what is planned.
            BackupTarget::Project { name } => keys.push(crate::jobs::locks::stack_key(name)),
            _ => {}
        }
        keys.sort();
        keys
    }

    /// Tells the job log what the backup leaves out, and why.
    pub fn log_binds(&self, ctx: &JobCtx) {
        for bind in &self.binds {
            ctx.log(LogLevel::Warn, format!("bind mount {bind}: not backed up"));
        }
    }
}

/// Plans the backup and takes what it holds from other jobs all at once. A job that
/// ran while this one waited may have changed what there is: planned again, and held
/// again (after letting go, never some and then the rest) if that changed what to
/// hold.
pub async fn plan_and_hold(
    docker: &Docker,
    host_self: Option<&str>,
    target: &BackupTarget,
    paths: &HostPaths,
    ctx: &JobCtx,
) -> Result<(Plan, Held), EngineError> {
    let mut plan = plan_of(docker, host_self, target, paths).await?;
    let mut objects = ctx.hold_objects(plan.objects(target)).await?;
    let mut tries = 0;
    while objects.waited && tries < 3 {
        tries += 1;
        let now = plan_of(docker, host_self, target, paths).await?;
        let same = now.objects(target) == plan.objects(target);
        plan = now;
        if same {
            break;
        }
        drop(objects);
        objects = ctx.hold_objects(plan.objects(target)).await?;
    }
    Ok((plan, objects))
}

/// A backup of the volume holding Berth's own data directory would carry the
/// installation key (and the store) to wherever backups go and whoever may download
/// them: refused, for everyone.
pub fn refuse_own_data(
    own: &[berth_docker::hosts::OwnData],
    plan: &Plan,
) -> Result<(), EngineError> {
    match plan
        .volumes
        .iter()
        .find(|v| own.iter().any(|o| o.volume == v.name))
    {
        Some(v) => Err(EngineError::forbidden(format!(
            "volume {} holds Berth's own data directory (its installation key); it is not backed up through the API",
            v.name
        ))),
        None => Ok(()),
    }
}

async fn plan_of(
    docker: &Docker,
    host_self: Option<&str>,
    target: &BackupTarget,
    paths: &HostPaths,
) -> Result<Plan, EngineError> {
    match target {
        BackupTarget::Container { name } => plan_container(docker, host_self, name, paths).await,
        BackupTarget::Volume { name } => plan_volume(docker, host_self, name).await,
        BackupTarget::Network { name } => plan_network(docker, name).await,
        BackupTarget::Project { name } => plan_project(docker, host_self, name, paths).await,
    }
}

async fn plan_container(
    docker: &Docker,
    host_self: Option<&str>,
    name: &str,
    paths: &HostPaths,
) -> Result<Plan, EngineError> {
    let container = docker
        .inspect_container(name, None)
        .await
        .map_err(|e| docker_err(&e, &format!("container {name}")))?;
    let mut plan = Plan::default();
    mounts_of(docker, &container, true, paths, &mut plan).await?;
    let subject = subject_of(&container);
    plan.was_running = subject.running;
    if subject.running {
        plan.hooked.push((name.to_owned(), labels_of(&container)));
    }
    if host_self != Some(subject.id.as_str()) {
        plan.subjects.push(subject); // Berth does not stop itself.
    }
    plan.image_id = container.image.clone();
    plan.images.extend(image_of(&container));
    plan.container = Some(to_json(&container)?);
    Ok(plan)
}

/// The volume, and whoever writes to it held still too — dependents first, so they
/// stop before what they depend on and start after it.
async fn plan_volume(
    docker: &Docker,
    host_self: Option<&str>,
    name: &str,
) -> Result<Plan, EngineError> {
    let (driver, labels) = volume_meta(docker, name).await?;
    let users = volume_users(docker, name)
        .await?
        .into_iter()
        .filter(|c| host_self != c.id.as_deref())
        .map(node_of_summary)
        .collect();
    Ok(Plan {
        subjects: order::hold_order(users),
        volumes: vec![blank_volume(name, None, driver, labels)],
        ..Plan::default()
    })
}

/// The containers (stopped ones too) that mount the volume, Berth's helpers aside.
pub(super) async fn volume_users(
    docker: &Docker,
    name: &str,
) -> Result<Vec<ContainerSummary>, EngineError> {
    let listed = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&HashMap::from([(
                    "volume".to_owned(),
                    vec![name.to_owned()],
                )]))
                .build(),
        ))
        .await
        .map_err(|e| docker_err(&e, &format!("volume {name}")))?;
    Ok(listed
        .into_iter()
        .filter(|c| not_helper(c.labels.as_ref()))
        .collect())
}

pub(crate) fn node_of_summary(container: ContainerSummary) -> Node {
    let state = container.state.as_ref().map(ToString::to_string);
    let subject = Subject {
        name: container
            .names
            .as_ref()
            .and_then(|n| n.first().cloned())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        id: container.id.clone().unwrap_or_default(),
        running: state.as_deref() == Some("running"),
        paused: state.as_deref() == Some("paused"),
    };
    let network_mode = container
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone());
    Node::new(subject, &container.labels.unwrap_or_default(), network_mode)
}

async fn plan_network(docker: &Docker, name: &str) -> Result<Plan, EngineError> {
    if matches!(name, "bridge" | "host" | "none") {
        return Err(EngineError::bad(
            "targets",
            format!("{name} is built into Docker, which recreates it itself"),
        ));
    }
    let network = docker
        .inspect_network(name, None)
        .await
        .map_err(|e| docker_err(&e, &format!("network {name}")))?;
    Ok(Plan {
        network: Some(to_json(&network)?),
        ..Plan::default()
    })
}

/// Every container labelled with the project (Berth itself and its helpers aside),
/// the volumes they mount plus those the project labels as its own, and the
/// project's networks.
async fn plan_project(
    docker: &Docker,
    host_self: Option<&str>,
    name: &str,
    paths: &HostPaths,
) -> Result<Plan, EngineError> {
    let found = project_containers(docker, host_self, name).await?;
    // Dependents first: held (and hooked) in this order, started in reverse.
    let nodes = found
        .iter()
        .map(|c| {
            let network_mode = c.host_config.as_ref().and_then(|h| h.network_mode.clone());
            Node::new(subject_of(c), &labels_of(c), network_mode)
        })
        .collect();
    let subjects = order::hold_order(nodes);
    let by_id: HashMap<String, ContainerInspectResponse> = found
        .into_iter()
        .map(|c| (c.id.clone().unwrap_or_default(), c))
        .collect();
    let mut plan = Plan::default();
    // The stack's folder first: a restore puts the compose files back before the data.
    if let Some(folder) = &paths.stack_folder {
        let name = ManifestVolume::STACK_FOLDER.to_owned();
        plan.volumes.push(host_paths::entry(name, folder, None));
    }
    let mut networks = Vec::new();
    for subject in &subjects {
        let container = &by_id[&subject.id];
        mounts_of(docker, container, false, paths, &mut plan).await?;
        if subject.running {
            plan.hooked
                .push((subject.name.clone(), labels_of(container)));
        }
        if let Some(image) = image_of(container).filter(|i| !plan.images.contains(i)) {
            plan.images.push(image);
        }
        for network in network_names(container) {
            if !networks.contains(network) {
                networks.push(network.clone());
            }
        }
    }
    add_project_volumes(docker, name, &mut plan).await?;
    plan.networks = project_networks(docker, name, networks).await?;
    // Members in the order they start.
    for subject in subjects.iter().rev() {
        let container = &by_id[&subject.id];
        plan.members.push(ManifestMember {
            name: subject.name.clone(),
            service: labels_of(container).get(order::SERVICE).cloned(),
            container: to_json(container)?,
            was_running: subject.running,
            image_id: container.image.clone(),
        });
    }
    plan.was_running = subjects.iter().any(|s| s.running);
    plan.subjects = subjects;
    Ok(plan)
}

fn project_filter(name: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![format!("{}={name}", order::PROJECT)],
    )])
}

/// The project's containers, inspected; refused when Berth is one of them.
async fn project_containers(
    docker: &Docker,
    host_self: Option<&str>,
    name: &str,
) -> Result<Vec<ContainerInspectResponse>, EngineError> {
    let listed = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&project_filter(name))
                .build(),
        ))
        .await
        .map_err(|e| docker_err(&e, &format!("project {name}")))?;
    let mut found = Vec::new();
    for container in listed.into_iter().filter(|c| not_helper(c.labels.as_ref())) {
        let id = container.id.unwrap_or_default();
        if host_self == Some(id.as_str()) {
            return Err(EngineError::conflict(format!(
                "Berth runs in project {name}; back up its other containers one by one"
            )));
        }
        found.push(
            docker
                .inspect_container(&id, None)
                .await
                .map_err(|e| docker_err(&e, &format!("container {id}")))?,
        );
    }
    if found.is_empty() {
        return Err(EngineError::not_found(format!(
            "no containers of compose project {name}"
        )));
    }
    Ok(found)
}

fn network_names(container: &ContainerInspectResponse) -> impl Iterator<Item = &String> {
    container
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .into_iter()
        .flat_map(|n| n.keys())
}

/// Volumes of the project no container mounts right now are its data too.
async fn add_project_volumes(
    docker: &Docker,
    name: &str,
    plan: &mut Plan,
) -> Result<(), EngineError> {
    let owned = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&project_filter(name))
                .build(),
        ))
        .await
        .map_err(|e| docker_err(&e, &format!("project {name}")))?;
    for volume in owned.volumes.unwrap_or_default() {
        if !plan.volumes.iter().any(|x| x.name == volume.name) {
            plan.volumes.push(blank_volume(
                &volume.name,
                None,
                volume.driver,
                volume.labels.into_iter().collect(),
            ));
        }
    }
    Ok(())
}

/// The project's own networks travel with it; others (external ones) are only named
/// in the members' configuration.
async fn project_networks(
    docker: &Docker,
    name: &str,
    names: Vec<String>,
) -> Result<Vec<serde_json::Value>, EngineError> {
    let mut own = Vec::new();
    for network_name in names {
        let network = docker
            .inspect_network(&network_name, None)
            .await
            .map_err(|e| docker_err(&e, &format!("network {network_name}")))?;
        let is_own = network
            .labels
            .as_ref()
            .and_then(|l| l.get(order::PROJECT))
            .is_some_and(|p| p == name);
        if is_own {
            own.push(to_json(&network)?);
        }
    }
    Ok(own)
}

async fn volume_meta(
    docker: &Docker,
    name: &str,
) -> Result<(String, BTreeMap<String, String>), EngineError> {
    let volume = docker
        .inspect_volume(name)
        .await
        .map_err(|e| docker_err(&e, &format!("volume {name}")))?;
    Ok((volume.driver, volume.labels.into_iter().collect()))
}

/// A volume entry whose sizes and checksums the measuring phase fills in.
fn blank_volume(
    name: &str,
    destination: Option<String>,
    driver: String,
    labels: BTreeMap<String, String>,
) -> ManifestVolume {
    ManifestVolume {
        name: name.to_owned(),
        destination,
        tar_bytes: 0,
        sha256: String::new(),
        content_digest: String::new(),
        entries: 0,
        driver,
        labels,
        host_path: None,
    }
}

/// A container's named volumes and the bind mounts `paths` allows (each once across
/// calls); other mounts are listed as skipped, with the reason.
async fn mounts_of(
    docker: &Docker,
    container: &ContainerInspectResponse,
    destination: bool,
    paths: &HostPaths,
    plan: &mut Plan,
) -> Result<(), EngineError> {
    for mount in container.mounts.clone().unwrap_or_default() {
        match mount.typ.as_deref() {
            Some("volume") => {
                let Some(volume) = mount.name.clone() else {
                    continue;
                };
                if plan.volumes.iter().any(|x| x.name == volume) {
                    continue;
                }
                let (driver, labels) = volume_meta(docker, &volume).await?;
                let path = mount.destination.clone().filter(|_| destination);
                plan.volumes
                    .push(blank_volume(&volume, path, driver, labels));
            }
            typ => {
                let source = mount.source.unwrap_or_default();
                let target = mount.destination.unwrap_or_default();
                let verdict = match typ {
                    Some("bind") => paths.judge(&source),
                    Some("tmpfs") => BindVerdict::Skip("a tmpfs, held in memory only".into()),
                    other => BindVerdict::Skip(format!("a {} mount", other.unwrap_or("?"))),
                };
                match verdict {
                    BindVerdict::InStackFolder => {}
                    BindVerdict::Include(path) => {
                        // Once, and not again inside a directory already held.
                        let known = plan
                            .volumes
                            .iter()
                            .any(|v| v.host_path.as_deref().is_some_and(|h| path.starts_with(h)));
                        if !known {
                            let n = plan
                                .volumes
                                .iter()
                                .filter(|v| v.name.starts_with("@bind-"))
                                .count();
                            let entry_name = host_paths::bind_entry_name(n + 1);
                            let at = Some(target).filter(|_| destination);
                            plan.volumes.push(host_paths::entry(entry_name, &path, at));
                        }
                    }
                    BindVerdict::Skip(reason) => {
                        plan.binds.push(format!("{source} → {target}: {reason}"));
                    }
                }
            }
        }
    }
    Ok(())
}

fn labels_of(container: &ContainerInspectResponse) -> HashMap<String, String> {
    container
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
}

fn subject_of(container: &ContainerInspectResponse) -> Subject {
    let state = container.state.clone().unwrap_or_default();
    Subject {
        id: container.id.clone().unwrap_or_default(),
        name: container
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        running: state.running.unwrap_or(false),
        paused: state.paused.unwrap_or(false),
    }
}

fn image_of(container: &ContainerInspectResponse) -> Option<(String, String)> {
    let id = container.image.clone()?;
    let reference = container
        .config
        .as_ref()
        .and_then(|c| c.image.clone())
        .unwrap_or_else(|| id.clone());
    Some((reference, id))
}

fn not_helper(labels: Option<&HashMap<String, String>>) -> bool {
    labels.is_none_or(|l| !l.contains_key(berth_docker::helper::LABEL))
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, EngineError> {
    serde_json::to_value(value).map_err(|e| EngineError::internal(&e))
}
