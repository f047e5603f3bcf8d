//! `container.edit`: a container recreated with the settings the form changed. What
//! the form does not show (health check, limits, user, capabilities …) is kept from
//! the old container, and so are its volumes — anonymous ones too, mounted again at
//! their paths unless the form mounts something else there. The swap is a
//! redeploy's: a failure removes the new container and puts the old one back.

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ImageConfig, Mount, MountType,
};

use crate::create::{self, Allowed, Created, NewContainer};
use crate::hosts::Host;
use crate::model::PROJECT_LABEL;
use crate::redeploy::{Swap, create_body, network_mode, swap};
use crate::{DockerError, docker_err};

/// Labels the form does not show but the container keeps (Berth's own).
const KEPT_LABELS: &str = "dev.berth.";

/// What an edit of `old` may keep without the admin role: the host paths it
/// already mounts and its host network.
fn keep(allowed: &mut Allowed, old: &ContainerInspectResponse) {
    allowed.kept_host_paths = old
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.typ.as_deref() == Some("bind"))
        .filter_map(|m| m.source.clone())
        .collect();
    allowed.kept_host_network = network_mode(old) == "host";
}

/// Refuses what an edit must not touch: Berth's own container, and a compose
/// project's (its file is what says how it runs; an edit here would be undone by
/// the next `up`).
fn editable(h: &Host, old: &ContainerInspectResponse) -> Result<(), DockerError> {
    if h.self_id.is_some() && h.self_id == old.id {
        return Err(DockerError::Refused(
            "refusing to edit the container Berth runs in".to_owned(),
        ));
    }
    let labels = old.config.as_ref().and_then(|c| c.labels.as_ref());
    if let Some(project) = labels.and_then(|l| l.get(PROJECT_LABEL)) {
        return Err(DockerError::Refused(format!(
            "the container belongs to compose project {project}: edit its compose file instead"
        )));
    }
    Ok(())
}

/// `old`'s create body with the form's fields laid over it.
fn merged(
    old: &ContainerInspectResponse,
    form: ContainerCreateBody,
) -> Result<(ContainerCreateBody, bool), DockerError> {
    let mut body = create_body(old)?;
    body.image = form.image;
    body.cmd = form.cmd;
    body.env = form.env;
    body.exposed_ports = form.exposed_ports;
    let mut labels = form.labels.unwrap_or_default();
    for (k, v) in body.labels.take().into_iter().flatten() {
        if k.starts_with(KEPT_LABELS) {
            labels.insert(k, v);
        }
    }
    body.labels = (!labels.is_empty()).then_some(labels);
    let new = form.host_config.unwrap_or_default();
    let host = body.host_config.get_or_insert_default();
    host.port_bindings = new.port_bindings;
    host.restart_policy = new.restart_policy;
    let mut mounts = new.mounts.unwrap_or_default();
    mounts.extend(anonymous_volumes(old, &mounts));
    // A tmpfs (or another kind the form has no syntax for) stays where it was.
    let others: Vec<Mount> = host
        .mounts
        .take()
        .into_iter()
        .flatten()
        .filter(|m| !matches!(m.typ, Some(MountType::VOLUME | MountType::BIND)))
        .filter(|m| !mounts.iter().any(|t| t.target == m.target))
        .collect();
    mounts.extend(others);
    host.binds = None;
    host.mounts = (!mounts.is_empty()).then_some(mounts);
    let same_network = |mode: Option<&str>| match mode.unwrap_or("default") {
        "bridge" | "default" | "" => "default".to_owned(),
        other => other.to_owned(),
    };
    let unchanged =
        same_network(new.network_mode.as_deref()) == same_network(host.network_mode.as_deref());
    if !unchanged {
        host.network_mode = new.network_mode;
        body.networking_config = None;
    }
    Ok((body, unchanged))
}

/// When the image changes: what the old container had only from its old image
/// (entrypoint, working directory, user, health check, stop signal, declared
/// volumes) goes, so the new image's own apply; what was set on the container itself
/// (different from the image's) stays.
fn drop_image_defaults(body: &mut ContainerCreateBody, old_image: &ImageConfig) {
    if body.entrypoint == old_image.entrypoint {
        body.entrypoint = None;
    }
    if body.working_dir == old_image.working_dir {
        body.working_dir = None;
    }
    if body.user == old_image.user {
        body.user = None;
    }
    if body.healthcheck == old_image.healthcheck {
        body.healthcheck = None;
    }
    if body.stop_signal == old_image.stop_signal {
        body.stop_signal = None;
    }
    if body.volumes == old_image.volumes {
        body.volumes = None;
    }
}

/// The old container's anonymous volumes, at the paths the form leaves free.
fn anonymous_volumes(old: &ContainerInspectResponse, taken: &[Mount]) -> Vec<Mount> {
    old.mounts
        .iter()
        .flatten()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter(|m| {
            m.name
                .as_deref()
                .is_some_and(berth_protocol::api::volumes::is_anonymous_name)
        })
        .filter(|m| !taken.iter().any(|t| t.target == m.destination))
        .map(|m| Mount {
            target: m.destination.clone(),
            source: m.name.clone(),
            typ: Some(MountType::VOLUME),
            read_only: m.rw.map(|rw| !rw),
            ..Default::default()
        })
        .collect()
}

/// Recreates container `id` with `spec`'s settings under its name; started when
/// `spec.start` says so. `allowed` is the caller's, to which what the container
/// already has is added.
pub async fn edit(
    h: &Host,
    docker: &Docker,
    id: &str,
    spec: &NewContainer,
    mut allowed: Allowed,
) -> Result<Created, DockerError> {
    let what = format!("container {id}");
    let old = docker
        .inspect_container(id, None)
        .await
        .map_err(|e| docker_err(&e, &what))?;
    editable(h, &old)?;
    let name = old
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/');
    if spec.name.as_deref().is_some_and(|n| n != name) {
        return Err(DockerError::bad(
            "name",
            "an edit keeps the name; rename the container separately".to_owned(),
        ));
    }
    keep(&mut allowed, &old);
    let form = create::body(spec, &allowed)?;
    create::image_on_host(docker, &spec.image).await?;
    let (mut body, reconnect) = merged(&old, form)?;
    let old_reference = old.config.as_ref().and_then(|c| c.image.as_deref());
    if old_reference != Some(spec.image.as_str())
        && let Some(image) = old.image.as_deref()
        && let Ok(old_image) = docker.inspect_image(image).await
    {
        drop_image_defaults(&mut body, &old_image.config.unwrap_or_default());
    }
    let running = old.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    let how = Swap {
        running,
        start: spec.start,
        reconnect,
    };
    let new_id = swap(docker, &old, body, how).await?;
    tracing::info!(container = name, id = new_id, "container edited");
    Ok(Created {
        id: new_id,
        name: name.to_owned(),
        state: if spec.start { "running" } else { "created" }.to_owned(),
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_image_brings_its_own_defaults_and_the_containers_own_settings_stay() {
        let old_image = ImageConfig {
            entrypoint: Some(vec!["/docker-entrypoint.sh".into()]),
            working_dir: Some("/usr/share/nginx".into()),
            user: Some(String::new()),
            stop_signal: Some("SIGQUIT".into()),
            volumes: Some(vec!["/var/cache/nginx".into()]),
            ..Default::default()
        };
        let mut body = ContainerCreateBody {
            entrypoint: old_image.entrypoint.clone(),
            working_dir: Some("/srv".into()),
            user: Some(String::new()),
            stop_signal: old_image.stop_signal.clone(),
            volumes: old_image.volumes.clone(),
            ..Default::default()
        };
        drop_image_defaults(&mut body, &old_image);
        assert_eq!(body.entrypoint, None);
        assert_eq!(body.stop_signal, None);
        assert_eq!(body.volumes, None);
        assert_eq!(body.user, None);
        assert_eq!(
            body.working_dir.as_deref(),
            Some("/srv"),
            "set on the container"
        );
    }
}
