//! Never-started helper containers that mount a volume so the archive API can read
//! it: no image pull, no process, no exec in the user's containers.
//!
//! The helper's image is Berth's own, imported from a one-file rootfs on first use
//! (`docker import` through the API), because a container needs an image even when it
//! never runs — and a host may have no image at all.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use crate::DockerError;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use super::volpath::MOUNT;
use crate::docker_err;

pub const IMAGE: &str = "berth/helper:1";
/// Every helper carries this label, so leftovers (a crash mid-read) can be found.
pub const LABEL: &str = "dev.berth.helper";
/// The instance id of the Berth that made the helper (its store's `instance_id`).
pub const LABEL_INSTANCE: &str = "dev.berth.instance";
/// The process (boot) of that Berth that made it: helpers of an earlier boot are
/// leftovers of a crash, those of this boot may be in use.
pub const LABEL_BOOT: &str = "dev.berth.boot";

static INSTANCE: OnceLock<String> = OnceLock::new();
static BOOT: LazyLock<String> = LazyLock::new(|| {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    data_encoding::HEXLOWER.encode(&b)
});

/// Names the Berth instance helpers are made for — once, at start, before any helper.
/// A process-wide value because one process serves exactly one data directory.
pub fn set_instance(id: String) {
    if INSTANCE.set(id).is_err() {
        tracing::warn!("helper owner already set; keeping the first");
    }
}

/// This Berth's instance id, once set.
pub fn instance() -> Option<String> {
    INSTANCE.get().cloned()
}

/// Removes the helpers an earlier run of this Berth instance left behind (a `kill -9`
/// mid-read leaves its never-started helper, and a helper keeps its volume in use).
/// Other instances' helpers and this run's are left alone. Returns how many went.
pub async fn sweep(docker: &Docker) -> Result<usize, DockerError> {
    let Some(instance) = INSTANCE.get() else {
        return Ok(0);
    };
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![LABEL.to_owned(), format!("{LABEL_INSTANCE}={instance}")],
    )]);
    let found = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| docker_err(&e, "helper containers"))?;
    let mut removed = 0;
    for c in found {
        let boot = c.labels.as_ref().and_then(|l| l.get(LABEL_BOOT));
        let (Some(id), false) = (c.id, boot == Some(&*BOOT)) else {
            continue;
        };
        let o = RemoveContainerOptionsBuilder::default().force(true).build();
        match docker.remove_container(&id, Some(o)).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(container = id, error = %e, "cannot remove a stale helper"),
        }
    }
    Ok(removed)
}

/// The helper image, imported if missing.
pub async fn ensure_image(docker: &Docker) -> Result<(), DockerError> {
    if docker.inspect_image(IMAGE).await.is_ok() {
        return Ok(());
    }
    let mut tar = tar::Builder::new(Vec::new());
    let readme = b"Berth helper image: never started; mounts volumes for the archive API.\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(readme.len() as u64);
    h.set_mode(0o444);
    h.set_cksum();
    tar.append_data(&mut h, "BERTH-HELPER", &readme[..])
        .map_err(|e| DockerError::internal(&e))?;
    let bytes = tar.into_inner().map_err(|e| DockerError::internal(&e))?;
    let (repo, tag) = IMAGE.split_once(':').expect("image has a tag");
    let o = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(vec![r#"CMD ["/BERTH-HELPER"]"#.to_owned()])
        .message("Berth helper")
        .build();
    docker
        .create_image(Some(o), Some(bollard::body_full(bytes.into())), None)
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| docker_err(&e, "helper image"))?;
    Ok(())
}

/// A created (never started) container mounting a volume (read-only unless restoring)
/// at [`MOUNT`];
/// removed when dropped.
#[derive(Debug)]
pub struct Helper {
    docker: Docker,
    pub id: String,
}

/// What a helper mounts at [`MOUNT`].
enum Source<'a> {
    Volume(&'a str),
    /// A directory on the Docker host (a bind mount's source, a stack's folder).
    HostPath(&'a str),
}

impl Helper {
    pub async fn for_volume(docker: &Docker, volume: &str) -> Result<Self, DockerError> {
        Self::create(docker, Source::Volume(volume), true).await
    }

    /// A helper that may write into the volume (a restore's target).
    pub async fn for_volume_rw(docker: &Docker, volume: &str) -> Result<Self, DockerError> {
        Self::create(docker, Source::Volume(volume), false).await
    }

    /// A helper reading a directory of the Docker host (which must exist: Docker
    /// refuses a missing bind source rather than creating it).
    pub async fn for_host_path(docker: &Docker, path: &str) -> Result<Self, DockerError> {
        Self::create(docker, Source::HostPath(path), true).await
    }

    /// A helper writing into an existing directory of the Docker host.
    pub async fn for_host_path_rw(docker: &Docker, path: &str) -> Result<Self, DockerError> {
        Self::create(docker, Source::HostPath(path), false).await
    }

    async fn create(
        docker: &Docker,
        source: Source<'_>,
        read_only: bool,
    ) -> Result<Self, DockerError> {
        ensure_image(docker).await?;
        let mut suffix = [0u8; 6];
        let _ = getrandom::fill(&mut suffix);
        let name = format!("berth-helper-{}", data_encoding::HEXLOWER.encode(&suffix));
        // The label names what the helper mounts (a volume's name, a host path).
        let (mounted, what, mount) = match source {
            Source::Volume(volume) => (
                volume,
                format!("volume {volume}"),
                Mount {
                    typ: Some(MountType::VOLUME),
                    source: Some(volume.to_owned()),
                    // An empty volume stays empty: no copy-up of the image's files.
                    volume_options: Some(bollard::models::MountVolumeOptions {
                        no_copy: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ),
            Source::HostPath(path) => (
                path,
                format!("host directory {path}"),
                Mount {
                    typ: Some(MountType::BIND),
                    source: Some(path.to_owned()),
                    ..Default::default()
                },
            ),
        };
        let mut labels = HashMap::from([
            (LABEL.to_owned(), mounted.to_owned()),
            (LABEL_BOOT.to_owned(), BOOT.clone()),
        ]);
        if let Some(i) = INSTANCE.get() {
            labels.insert(LABEL_INSTANCE.to_owned(), i.clone());
        }
        let body = ContainerCreateBody {
            image: Some(IMAGE.to_owned()),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    target: Some(MOUNT.to_owned()),
                    read_only: Some(read_only),
                    ..mount
                }]),
                network_mode: Some("none".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .map_err(|e| docker_err(&e, &what))?;
        Ok(Self {
            docker: docker.clone(),
            id: created.id,
        })
    }
}

impl Helper {
    /// Removes the helper now (dropping removes it in the background, which is too
    /// late when the volume is to be removed next).
    pub async fn remove(mut self) {
        let id = std::mem::take(&mut self.id);
        let o = RemoveContainerOptionsBuilder::default().force(true).build();
        if let Err(e) = self.docker.remove_container(&id, Some(o)).await {
            tracing::warn!(container = id, error = %e, "helper container left behind");
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if self.id.is_empty() {
            return;
        }
        let d = self.docker.clone();
        let id = std::mem::take(&mut self.id);
        tokio::spawn(async move {
            let o = RemoveContainerOptionsBuilder::default().force(true).build();
            if let Err(e) = d.remove_container(&id, Some(o)).await {
                tracing::warn!(container = id, error = %e, "helper container left behind");
            }
        });
    }
}
