//! The volumes a restore replaces (`existing: overwrite`), kept aside until the
//! restored data is verified. Docker cannot rename a volume or empty one in place, so a
//! volume's old contents are first copied into an aside volume (and the copy read back
//! and compared), then the volume is removed and created afresh for the restore. If
//! the restore then fails, the volume is created again as it was and the old contents
//! copied back; once the restored data is verified, the aside volumes go. An aside
//! volume is labelled with the volume it holds, so nothing is lost even if Berth is
//! killed in between: at the next start it is put back.

use crate::EngineError;
use std::collections::HashMap;

use berth_protocol::api::jobs::LogLevel;
use bollard::Docker;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};

use super::volume_io;
use crate::error::docker_err;
use crate::jobs::JobCtx;

/// Names the volume an aside volume holds the old contents of.
pub const LABEL_OF: &str = "dev.berth.aside-of";
/// The original volume's driver options and labels, to create it again alike.
const LABEL_ORIGINAL: &str = "dev.berth.aside-original";

/// One volume set aside.
#[derive(Debug, Clone)]
struct Kept {
    original: String,
    aside: String,
    create: VolumeCreateRequest,
    digest: String,
}

/// The volumes one restore has set aside.
#[derive(Debug, Default)]
pub struct SetAside {
    kept: Vec<Kept>,
}

fn aside_name(original: &str, job: &str) -> String {
    let job: String = job.chars().filter(char::is_ascii_alphanumeric).collect();
    format!(
        "{original}.berth-aside-{}",
        berth_core::text::tail(&job, 12)
    )
}

async fn remove(docker: &Docker, name: &str) -> Result<(), EngineError> {
    docker
        .remove_volume(name, Some(RemoveVolumeOptionsBuilder::default().build()))
        .await
        .map_err(|e| docker_err(&e, &format!("volume {name}")))
}

impl SetAside {
    /// Copies `name`'s contents aside (verified), then removes it for the restore.
    pub async fn keep(
        &mut self,
        docker: &Docker,
        name: &str,
        ctx: &JobCtx,
    ) -> Result<(), EngineError> {
        let v = docker
            .inspect_volume(name)
            .await
            .map_err(|e| docker_err(&e, &format!("volume {name}")))?;
        let create = VolumeCreateRequest {
            name: Some(name.to_owned()),
            driver: Some(v.driver.clone()),
            driver_opts: Some(v.options.clone()),
            labels: Some(v.labels.clone()),
            ..Default::default()
        };
        let aside = aside_name(name, &ctx.id);
        let mut labels = HashMap::from([
            (LABEL_OF.to_owned(), name.to_owned()),
            (
                LABEL_ORIGINAL.to_owned(),
                serde_json::to_string(&create).map_err(|e| EngineError::internal(&e))?,
            ),
        ]);
        if let Some(i) = berth_docker::helper::instance() {
            labels.insert(berth_docker::helper::LABEL_INSTANCE.to_owned(), i);
        }
        ctx.phase(&format!("keeping the contents of {name} aside"));
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(aside.clone()),
                labels: Some(labels),
                ..Default::default()
            })
            .await
            .map_err(|e| docker_err(&e, &format!("volume {aside}")))?;
        let digest = match volume_io::copy(docker, name, &aside).await {
            Ok(dg) => dg,
            Err(e) => {
                let _ = remove(docker, &aside).await;
                return Err(e);
            }
        };
        remove(docker, name).await?;
        ctx.log(
            LogLevel::Warn,
            format!("volume {name}: its contents are kept in {aside} until the restored data is verified"),
        );
        self.kept.push(Kept {
            original: name.to_owned(),
            aside,
            create,
            digest,
        });
        Ok(())
    }

    /// The restore failed: each volume is created again as it was and refilled from
    /// its aside copy (verified); only then does the copy go. A volume that cannot be
    /// put back keeps its aside copy, and the log says where the data is.
    pub async fn put_back(self, docker: &Docker, ctx: &JobCtx) {
        for k in self.kept {
            match put_back_one(docker, &k).await {
                Ok(()) => ctx.log(
                    LogLevel::Warn,
                    format!("volume {}: its old contents are back (the restore failed)", k.original),
                ),
                Err(e) => ctx.log(
                    LogLevel::Error,
                    format!(
                        "volume {}: could not put its old contents back ({}); they are in volume {}",
                        k.original, e, k.aside
                    ),
                ),
            }
        }
    }

    /// The restored data is verified: the old contents go.
    pub async fn discard(self, docker: &Docker, ctx: &JobCtx) {
        for k in self.kept {
            if let Err(e) = remove(docker, &k.aside).await {
                ctx.log(
                    LogLevel::Warn,
                    format!(
                        "volume {} (the old contents of {}) is left: {}",
                        k.aside, k.original, e
                    ),
                );
            }
        }
    }
}

async fn put_back_one(docker: &Docker, k: &Kept) -> Result<(), EngineError> {
    // Whatever the failed restore left under the name (it may hold part of the new data).
    if docker.inspect_volume(&k.original).await.is_ok() {
        remove(docker, &k.original).await?;
    }
    docker
        .create_volume(k.create.clone())
        .await
        .map_err(|e| docker_err(&e, &format!("volume {}", k.original)))?;
    let digest = volume_io::copy(docker, &k.aside, &k.original).await?;
    if digest != k.digest {
        return Err(EngineError::internal(&format!(
            "volume {} reads back differently from its aside copy",
            k.original
        )));
    }
    remove(docker, &k.aside).await
}

/// At start: volumes an interrupted restore had set aside (this instance's) are put
/// back — the restore never finished, so the old contents are the ones to keep.
/// Returns how many were put back; one that cannot be is left, with a warning.
pub async fn reconcile(docker: &Docker) -> Result<usize, EngineError> {
    let Some(instance) = berth_docker::helper::instance() else {
        return Ok(0);
    };
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![
            LABEL_OF.to_owned(),
            format!("{}={instance}", berth_docker::helper::LABEL_INSTANCE),
        ],
    )]);
    let found = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| docker_err(&e, "volumes"))?;
    let mut n = 0;
    for v in found.volumes.unwrap_or_default() {
        let (Some(original), Some(create)) = (
            v.labels.get(LABEL_OF).cloned(),
            v.labels
                .get(LABEL_ORIGINAL)
                .and_then(|c| serde_json::from_str::<VolumeCreateRequest>(c).ok()),
        ) else {
            continue;
        };
        let digest = match volume_io::digest_of(docker, &v.name).await {
            Ok(dg) => dg.hex,
            Err(e) => {
                tracing::warn!(
                    volume = v.name,
                    error = e.to_string(),
                    "cannot read an aside volume"
                );
                continue;
            }
        };
        let k = Kept {
            original,
            aside: v.name.clone(),
            create,
            digest,
        };
        match put_back_one(docker, &k).await {
            Ok(()) => {
                n += 1;
                tracing::warn!(
                    volume = k.original,
                    "put back the contents an interrupted restore had set aside"
                );
            }
            Err(e) => tracing::error!(
                volume = k.original,
                aside = k.aside,
                error = e.to_string(),
                "cannot put back the contents an interrupted restore set aside; they are in the aside volume"
            ),
        }
    }
    Ok(n)
}
