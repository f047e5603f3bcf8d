//! `container.redeploy`: recreate a container from the newest image with the same
//! configuration, without losing it when anything goes wrong.
//!
//! The old container is stopped and renamed aside (not removed) until the new one has
//! been created, connected and started; on any failure the new one is removed and the
//! old one gets its name back and runs again.

use std::collections::HashMap;
use std::time::Duration;

use berth_protocol::api::containers::Redeployed;
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, NetworkConnectRequest,
    NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use crate::hosts::Host;
use crate::{DockerError, docker_err};

/// A registry that does not answer must not hold a redeploy for long.
const PULL_TIMEOUT: Duration = Duration::from_secs(60);

/// Tries to pull `image`; the error text when it cannot.
async fn pull(docker: &Docker, image: &str) -> Result<(), String> {
    let (repo, tag) = match image.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (image, "latest"),
    };
    let o = CreateImageOptionsBuilder::default()
        .from_image(repo)
        .tag(tag)
        .build();
    let pulled = tokio::time::timeout(
        PULL_TIMEOUT,
        docker
            .create_image(Some(o), None, None)
            .try_collect::<Vec<_>>(),
    )
    .await;
    match pulled {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer from the registry in {}s",
            PULL_TIMEOUT.as_secs()
        )),
    }
}

/// Only what configures an endpoint; addresses and ids belong to the old one.
fn endpoint(e: &EndpointSettings, old_short_id: &str) -> EndpointSettings {
    EndpointSettings {
        aliases: e.aliases.as_ref().map(|a| {
            a.iter()
                .filter(|x| x.as_str() != old_short_id)
                .cloned()
                .collect()
        }),
        ipam_config: e.ipam_config.clone(),
        links: e.links.clone(),
        driver_opts: e.driver_opts.clone(),
        ..Default::default()
    }
}

/// The create body of a container configured like `old` (its Config and HostConfig,
/// and the network of its network mode; API 1.41 takes one network at create — the
/// others are connected afterwards by [`connect_others`]).
pub fn create_body(old: &ContainerInspectResponse) -> Result<ContainerCreateBody, DockerError> {
    let config = old
        .config
        .clone()
        .ok_or_else(|| DockerError::internal(&"inspect has no Config"))?;
    let old_id = old.id.clone().unwrap_or_default();
    // The same JSON names on both sides: Config → the create body.
    let mut body: ContainerCreateBody = serde_json::to_value(&config)
        .and_then(serde_json::from_value)
        .map_err(|e| DockerError::internal(&e))?;
    let short = berth_core::text::head(&old_id, 12);
    if body.hostname.as_deref() == Some(short) {
        body.hostname = None; // Docker's default (the id), not a chosen name
    }
    body.host_config = old.host_config.clone();
    let mode = network_mode(old);
    if mode.starts_with("container:") {
        // Docker filled these in from the other container and the image; it refuses
        // them in a create with this network mode.
        body.hostname = None;
        body.domainname = None;
        body.exposed_ports = None;
    }
    if let Some(e) = networks_of(old).get(&mode) {
        body.networking_config = Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(mode.clone(), endpoint(e, short))])),
        });
    }
    Ok(body)
}

pub(crate) fn network_mode(c: &ContainerInspectResponse) -> String {
    c.host_config
        .as_ref()
        .and_then(|hc| hc.network_mode.clone())
        .unwrap_or_default()
}

fn networks_of(c: &ContainerInspectResponse) -> HashMap<String, EndpointSettings> {
    c.network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
}

/// Connects `new_id` to the networks of `old` other than the one it was created on;
/// the first failure names its network.
pub async fn connect_others(
    docker: &Docker,
    old: &ContainerInspectResponse,
    new_id: &str,
) -> Result<(), (String, DockerError)> {
    let mode = network_mode(old);
    if mode.starts_with("container:") {
        return Ok(());
    }
    let old_id = old.id.clone().unwrap_or_default();
    let short = berth_core::text::head(&old_id, 12);
    for (net, e) in networks_of(old) {
        if net == mode {
            continue;
        }
        let req = NetworkConnectRequest {
            container: new_id.to_owned(),
            endpoint_config: Some(endpoint(&e, short)),
        };
        docker
            .connect_network(&net, req)
            .await
            .map_err(|err| (net.clone(), docker_err(&err, &format!("network {net}"))))?;
    }
    Ok(())
}

pub async fn redeploy(h: &Host, docker: &Docker, id: &str) -> Result<Redeployed, DockerError> {
    let what = format!("container {id}");
    let old = docker
        .inspect_container(id, None)
        .await
        .map_err(|e| docker_err(&e, &what))?;
    let old_id = old.id.clone().unwrap_or_default();
    if h.self_id.as_deref() == Some(old_id.as_str()) {
        return Err(DockerError::Refused(
            "refusing to redeploy the container Berth runs in".to_owned(),
        ));
    }
    let config = old
        .config
        .clone()
        .ok_or_else(|| DockerError::internal(&"inspect has no Config"))?;
    let image = config.image.clone().unwrap_or_default();
    let running = old.state.as_ref().and_then(|s| s.running).unwrap_or(false);

    let pull_error = pull(docker, &image).await.err();
    if pull_error.is_some() && docker.inspect_image(&image).await.is_err() {
        return Err(DockerError::NotFound {
            field: None,
            message: format!(
                "image {image} is not on this host and could not be pulled: {}",
                pull_error.unwrap_or_default()
            ),
        });
    }

    let mut body = create_body(&old)?;
    body.image = Some(image.clone());

    let new_id = swap(
        docker,
        &old,
        body,
        Swap {
            running,
            start: running,
            reconnect: true,
        },
    )
    .await?;
    Ok(Redeployed {
        state: if running { "running" } else { "created" }.into(),
        id: new_id,
        pulled: pull_error.is_none(),
        pull_error,
    })
}

/// How a container is swapped for its new version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Swap {
    /// The old one runs (it is stopped first, and started again if the swap fails).
    pub running: bool,
    /// The new one is started.
    pub start: bool,
    /// The new one joins the old one's other networks (its network is unchanged).
    pub reconnect: bool,
}

/// Replaces `old` by a container made from `body` under the same name: the old one
/// stopped and renamed out of the way, the new one made (and started); then the old
/// one removed — or, when anything fails, the new one removed and the old one put
/// back as it was. The new container's id.
pub(crate) async fn swap(
    docker: &Docker,
    old: &ContainerInspectResponse,
    body: ContainerCreateBody,
    how: Swap,
) -> Result<String, DockerError> {
    let old_id = old.id.clone().unwrap_or_default();
    let name = old
        .name
        .clone()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_owned();
    let what = format!("container {name}");
    let aside = step_aside(docker, &old_id, &name, how.running, &what).await?;
    match replace(docker, old, body, &name, how).await {
        Ok(new_id) => {
            let rm = RemoveContainerOptionsBuilder::default().force(true).build();
            if let Err(e) = docker.remove_container(&old_id, Some(rm)).await {
                tracing::warn!(container = aside, error = %e, "old container left behind");
            }
            Ok(new_id)
        }
        Err((new_id, err)) => {
            // Put everything back as it was.
            if let Some(n) = new_id {
                let rm = RemoveContainerOptionsBuilder::default().force(true).build();
                let _ = docker.remove_container(&n, Some(rm)).await;
            }
            let back = RenameContainerOptionsBuilder::default().name(&name).build();
            let _ = docker.rename_container(&old_id, back).await;
            if how.running {
                let _ = docker.start_container(&old_id, None).await;
            }
            tracing::warn!(container = name, error = %err, "replacing failed; old container restored");
            Err(err)
        }
    }
}

/// Stops the old container and renames it out of the way; returns its new name.
async fn step_aside(
    docker: &Docker,
    old_id: &str,
    name: &str,
    running: bool,
    what: &str,
) -> Result<String, DockerError> {
    if running {
        docker
            .stop_container(old_id, Some(StopContainerOptionsBuilder::default().build()))
            .await
            .map_err(|e| docker_err(&e, what))?;
    }
    let aside = format!("{name}-berth-old-{}", berth_core::time::now_ms());
    docker
        .rename_container(
            old_id,
            RenameContainerOptionsBuilder::default()
                .name(&aside)
                .build(),
        )
        .await
        .map_err(|e| docker_err(&e, what))?;
    Ok(aside)
}

/// Creates the new container under the old name, on the old one's networks (unless
/// its network changed), and starts it if asked. The error carries the new
/// container's id when there is one to remove.
async fn replace(
    docker: &Docker,
    old: &ContainerInspectResponse,
    body: ContainerCreateBody,
    name: &str,
    how: Swap,
) -> Result<String, (Option<String>, DockerError)> {
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        )
        .await
        .map_err(|e| (None, docker_err(&e, &format!("new container {name}"))))?;
    let new_id = created.id;
    if how.reconnect {
        connect_others(docker, old, &new_id)
            .await
            .map_err(|(net, e)| {
                (
                    Some(new_id.clone()),
                    DockerError::Answered {
                        kind: e.kind(),
                        message: format!("network {net}: {e}"),
                    },
                )
            })?;
    }
    if how.start {
        docker.start_container(&new_id, None).await.map_err(|e| {
            (
                Some(new_id.clone()),
                docker_err(&e, &format!("new container {name}")),
            )
        })?;
    }
    Ok(new_id)
}
