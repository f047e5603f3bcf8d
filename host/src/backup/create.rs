//! A backup job: find what to back up, hold the containers still, read each volume
//! twice through a never-started helper — once to measure it (a tar entry's size
//! comes before its data, and the manifest, which comes first, holds every volume's
//! checksums), once to stream it into the archive — release the containers, then
//! re-read what was stored and check it before the catalog calls it complete.
//!
//! Nothing touches the disk on the way: Docker → tar → gzip on every core →
//! (encryption) → the storage plugin, through bounded channels.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use berth_protocol::api::backups::{
    BackupEntry, BackupStatus, BackupTarget, Consistency, FORMAT_VERSION, Manifest, ManifestImage,
    ManifestVolume,
};
use berth_protocol::api::jobs::{JobState, LogLevel};
use berth_protocol::error::{ErrorBody, ErrorCode};
use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use bytes::Bytes;
use tokio_util::io::StreamReader;

use super::catalog::CatalogRecord;
use super::journal::{self, Held, Subject};
use super::{BackupSpec, archive, digest, open_passphrase, session, storage, volume_reader};
use crate::docker::errors::docker_err;
use crate::docker::helper::Helper;
use crate::identity::users::now_ms;
use crate::jobs::JobCtx;
use crate::server::AppState;
use crate::ws::registry::internal;

/// What a backup will read.
struct Plan {
    subjects: Vec<Subject>,
    /// The container's labels (where its hooks may be set).
    labels: std::collections::HashMap<String, String>,
    volumes: Vec<ManifestVolume>,
    container: Option<serde_json::Value>,
    network: Option<serde_json::Value>,
    was_running: bool,
    image_id: Option<String>,
    binds: Vec<String>,
}

async fn volume_meta(
    d: &Docker,
    name: &str,
) -> Result<(String, BTreeMap<String, String>), ErrorBody> {
    let v = d
        .inspect_volume(name)
        .await
        .map_err(|e| docker_err(&e, &format!("volume {name}")))?;
    Ok((v.driver, v.labels.into_iter().collect()))
}

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
    }
}

async fn plan(
    st: &AppState,
    d: &Docker,
    host_self: Option<&str>,
    target: &BackupTarget,
) -> Result<Plan, ErrorBody> {
    let _ = st;
    match target {
        BackupTarget::Container { name } => {
            let c = d
                .inspect_container(name, None)
                .await
                .map_err(|e| docker_err(&e, &format!("container {name}")))?;
            let id = c.id.clone().unwrap_or_default();
            let state = c.state.clone().unwrap_or_default();
            let running = state.running.unwrap_or(false);
            let mut volumes = Vec::new();
            let mut binds = Vec::new();
            for m in c.mounts.clone().unwrap_or_default() {
                match m.typ.as_deref() {
                    Some("volume") => {
                        let Some(v) = m.name.clone() else { continue };
                        let (driver, labels) = volume_meta(d, &v).await?;
                        volumes.push(blank_volume(&v, m.destination.clone(), driver, labels));
                    }
                    _ => binds.push(format!(
                        "{} → {}",
                        m.source.unwrap_or_default(),
                        m.destination.unwrap_or_default()
                    )),
                }
            }
            let subjects = if host_self == Some(id.as_str()) {
                Vec::new() // Berth does not stop itself.
            } else {
                vec![Subject {
                    id,
                    name: name.clone(),
                    running,
                    paused: state.paused.unwrap_or(false),
                }]
            };
            Ok(Plan {
                labels: c
                    .config
                    .as_ref()
                    .and_then(|c| c.labels.clone())
                    .unwrap_or_default(),
                subjects,
                volumes,
                image_id: c.image.clone(),
                container: Some(serde_json::to_value(&c).map_err(|e| internal(&e))?),
                network: None,
                was_running: running,
                binds,
            })
        }
        BackupTarget::Volume { name } => {
            let (driver, labels) = volume_meta(d, name).await?;
            // Whoever writes to the volume is held still too.
            let users = d
                .list_containers(Some(
                    ListContainersOptionsBuilder::default()
                        .all(true)
                        .filters(&std::collections::HashMap::from([(
                            "volume".to_owned(),
                            vec![name.clone()],
                        )]))
                        .build(),
                ))
                .await
                .map_err(|e| docker_err(&e, &format!("volume {name}")))?;
            let users = users
                .into_iter()
                .filter(|c| {
                    c.labels
                        .as_ref()
                        .is_none_or(|l| !l.contains_key(crate::docker::helper::LABEL))
                })
                .filter(|c| host_self != c.id.as_deref())
                .map(|c| {
                    let subject = Subject {
                        name: c
                            .names
                            .as_ref()
                            .and_then(|n| n.first().cloned())
                            .unwrap_or_default()
                            .trim_start_matches('/')
                            .to_owned(),
                        id: c.id.clone().unwrap_or_default(),
                        running: c.state.as_ref().is_some_and(|s| s.to_string() == "running"),
                        paused: c.state.as_ref().is_some_and(|s| s.to_string() == "paused"),
                    };
                    let network_mode = c.host_config.as_ref().and_then(|h| h.network_mode.clone());
                    super::order::Node::new(subject, &c.labels.unwrap_or_default(), network_mode)
                })
                .collect();
            // Held dependents first, so they stop before what they depend on and
            // start after it.
            let subjects = super::order::hold_order(users);
            Ok(Plan {
                labels: Default::default(),
                subjects,
                volumes: vec![blank_volume(name, None, driver, labels)],
                container: None,
                network: None,
                was_running: false,
                image_id: None,
                binds: Vec::new(),
            })
        }
        BackupTarget::Network { name } => {
            if matches!(name.as_str(), "bridge" | "host" | "none") {
                return Err(crate::ws::registry::bad_field(
                    "targets",
                    format!("{name} is built into Docker, which recreates it itself"),
                ));
            }
            let n = d
                .inspect_network(name, None)
                .await
                .map_err(|e| docker_err(&e, &format!("network {name}")))?;
            Ok(Plan {
                labels: Default::default(),
                subjects: Vec::new(),
                volumes: Vec::new(),
                container: None,
                network: Some(serde_json::to_value(&n).map_err(|e| internal(&e))?),
                was_running: false,
                image_id: None,
                binds: Vec::new(),
            })
        }
    }
}

/// An image as `docker save` writes it, as a blocking `Read` for the archive thread.
/// Must be created on the runtime.
fn image_reader(d: &Docker, name: &str) -> impl Read + Send + use<> {
    use futures_util::TryStreamExt;
    tokio_util::io::SyncIoBridge::new(StreamReader::new(
        d.export_image(name).map_err(std::io::Error::other),
    ))
}

/// The storage key of a backup: `<kind>-<name>/<id>.tar.gz` (`.enc` when sealed).
pub fn object_key(target: &BackupTarget, id: &str, sealed: bool) -> String {
    let name: String = target
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}-{}/{id}.tar.gz{}",
        target.kind(),
        name.trim_start_matches('.'),
        if sealed { ".enc" } else { "" }
    )
}

pub async fn run(st: &Arc<AppState>, spec: &BackupSpec, ctx: &JobCtx) -> Result<String, ErrorBody> {
    ctx.set_state(JobState::Starting, "preparing");
    let host = st.hosts.get(spec.host.as_deref())?;
    let d = host.docker().await?;
    let inst = storage(st, spec.storage.as_deref())?;
    let secret = open_passphrase(st, spec.passphrase.as_deref())?;
    let mut plan = plan(st, &d, host.self_id.as_deref(), &spec.target).await?;
    for b in &plan.binds {
        ctx.log(
            LogLevel::Warn,
            format!("bind mount {b} is not backed up (a host path)"),
        );
    }
    let sess = session(st, &inst).await?;
    ctx.check()?;

    let id = crate::jobs::new_id("b");
    ctx.set_backup(&id);
    let key = object_key(&spec.target, &id, secret.is_some());
    let created_ms = now_ms();

    // Hooks run only in a running container (a stopped one has nothing to flush).
    let hooks = super::hooks::resolve(&spec.hooks, &plan.labels)?;
    let hooked = match &spec.target {
        BackupTarget::Container { name } if plan.was_running => Some(name.clone()),
        _ => None,
    };
    if let (Some(c), Some(pre)) = (&hooked, &hooks.pre) {
        super::hooks::run(&d, c, "pre", pre, &hooks, ctx).await?;
    }
    let held = match spec.consistency {
        Consistency::Hot => None,
        Consistency::Stop => Some(Held::Stopped),
        Consistency::Pause => Some(Held::Paused),
    };
    let holding = match held {
        Some(how) => Some(journal::hold(&d, &st.store, ctx, &plan.subjects, how).await?),
        None => None,
    };
    // Everything between holding and releasing can be cancelled; the release always
    // runs.
    let work = async {
        ctx.totals(0, plan.volumes.len() as u64);
        ctx.set_state(JobState::Running, "measuring");
        for v in &mut plan.volumes {
            ctx.check()?;
            ctx.phase(&format!("measuring {}", v.name));
            let helper = Helper::for_volume(&d, &v.name).await?;
            let src = volume_reader(&d, &helper.id);
            let ctx2 = ctx.clone();
            let (tar_bytes, sha, dg) = tokio::task::spawn_blocking(move || {
                let mut tap = archive::Tap::new(src, Some(&ctx2));
                let dg = digest::digest_tar(&mut tap)?;
                std::io::copy(&mut tap, &mut std::io::sink())?;
                Ok::<_, std::io::Error>((tap.n, tap.hex(), dg))
            })
            .await
            .map_err(|e| internal(&e))?
            .map_err(|e| super::io_body(&e))?;
            v.tar_bytes = tar_bytes;
            v.sha256 = sha;
            v.content_digest = dg.hex;
            v.entries = dg.entries;
            ctx.log(
                LogLevel::Info,
                format!(
                    "volume {}: {} entries, {} bytes of tar",
                    v.name, v.entries, v.tar_bytes
                ),
            );
        }
        // The image, measured like a volume (`docker save` of one reference is
        // byte-for-byte repeatable).
        let image = match (spec.include_image, &plan.image_id, &plan.container) {
            (true, Some(id), Some(c)) => {
                let reference = c
                    .pointer("/Config/Image")
                    .and_then(|v| v.as_str())
                    .unwrap_or(id)
                    .to_owned();
                // Saved by its reference while that still names this image, so a
                // load brings the tag back; otherwise by id.
                let same = d
                    .inspect_image(&reference)
                    .await
                    .ok()
                    .and_then(|i| i.id)
                    .is_some_and(|i| &i == id);
                let source = if same { reference.clone() } else { id.clone() };
                ctx.phase(&format!("measuring image {reference}"));
                let src = image_reader(&d, &source);
                let ctx2 = ctx.clone();
                let (tar_bytes, sha256) = tokio::task::spawn_blocking(move || {
                    let mut tap = archive::Tap::new(src, Some(&ctx2));
                    std::io::copy(&mut tap, &mut std::io::sink())?;
                    Ok::<_, std::io::Error>((tap.n, tap.hex()))
                })
                .await
                .map_err(|e| internal(&e))?
                .map_err(|e| super::io_body(&e))?;
                ctx.log(
                    LogLevel::Info,
                    format!("image {reference}: {tar_bytes} bytes saved"),
                );
                Some((
                    source,
                    ManifestImage {
                        reference,
                        id: id.clone(),
                        tar_bytes,
                        sha256,
                    },
                ))
            }
            _ => None,
        };
        let manifest = Manifest {
            format: FORMAT_VERSION,
            berth_version: crate::VERSION.to_owned(),
            id: id.clone(),
            host: host.name.clone(),
            created_ms,
            trigger: spec.trigger,
            consistency: spec.consistency,
            target: spec.target.clone(),
            container: plan.container.clone(),
            network: plan.network.clone(),
            was_running: plan.was_running,
            image_id: plan.image_id.clone(),
            volumes: plan.volumes.clone(),
            image: image.as_ref().map(|(_, m)| m.clone()),
            binds_not_included: plan.binds.clone(),
        };
        let mut entry = BackupEntry {
            id: id.clone(),
            target: spec.target.clone(),
            host: host.name.clone(),
            trigger: spec.trigger,
            consistency: spec.consistency,
            storage: inst.name.clone(),
            key: key.clone(),
            size: 0,
            created_ms,
            encrypted: secret.is_some(),
            sha256: String::new(),
            status: BackupStatus::Pending,
            volumes: plan.volumes.iter().map(|v| v.name.clone()).collect(),
            data_bytes: plan.volumes.iter().map(|v| v.tar_bytes).sum(),
        };
        // In the catalog before the first byte is stored: a crash from here on is
        // cleaned up at the next start.
        st.store
            .put_backup(&CatalogRecord {
                entry: entry.clone(),
                manifest: manifest.clone(),
            })
            .map_err(|e| internal(&e))?;

        // Totals first: a phase change publishes, and bytes must not go back within one.
        ctx.totals(
            entry.data_bytes + image.as_ref().map_or(0, |(_, m)| m.tar_bytes),
            plan.volumes.len() as u64,
        );
        ctx.phase("writing");
        let image_src: Option<Box<dyn Read + Send>> = image
            .as_ref()
            .map(|(source, _)| Box::new(image_reader(&d, source)) as Box<dyn Read + Send>);
        let mut helpers = Vec::new();
        let mut sources: Vec<(ManifestVolume, Box<dyn Read + Send>)> = Vec::new();
        for v in &plan.volumes {
            let h = Helper::for_volume(&d, &v.name).await?;
            sources.push((v.clone(), Box::new(volume_reader(&d, &h.id))));
            helpers.push(h);
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
        let err_tx = tx.clone();
        let ctx2 = ctx.clone();
        let sealed = secret.clone();
        let m2 = manifest.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let r = archive::write_archive(
                archive::ChanWriter(tx),
                sealed.as_ref(),
                &m2,
                image_src,
                sources,
                Some(&ctx2),
            );
            match r {
                Ok((_, w)) => Ok(w),
                Err(e) => {
                    // The upload must see the failure, not a clean end.
                    let _ = err_tx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
                    Err(e)
                }
            }
        });
        let body = StreamReader::new(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let stored = sess.put(&key, body).await;
        let written = writer.await.map_err(|e| internal(&e))?;
        drop(helpers);
        let written = match (written, stored) {
            (Err(e), _) => return Err(super::io_body(&e)),
            (Ok(_), Err(e)) => return Err(e.body()),
            (Ok(w), Ok(size)) => {
                if size != w.bytes {
                    return Err(ErrorBody::new(
                        ErrorCode::Internal,
                        format!("the storage kept {size} bytes of {}", w.bytes),
                    ));
                }
                w
            }
        };
        entry.size = written.bytes;
        entry.sha256 = written.sha256.clone();
        Ok::<_, ErrorBody>((entry, manifest))
    };
    let done = tokio::select! {
        r = work => r,
        () = ctx.cancel.cancelled() => Err(ctx.cancelled()),
    };
    if let Some(h) = holding {
        h.release(ctx).await;
    }
    // After the container runs again, whatever became of the backup.
    let post = match (&hooked, &hooks.post) {
        (Some(c), Some(post)) => super::hooks::run(&d, c, "post", post, &hooks, ctx).await,
        _ => Ok(()),
    };
    let done = done.and_then(|x| post.map(|()| x));
    let (mut entry, manifest) = match done {
        Ok(x) => x,
        Err(e) => {
            forget(st, &id).await;
            return Err(e);
        }
    };

    // Re-read what was stored before calling it a backup.
    ctx.totals(entry.size, manifest.volumes.len() as u64);
    ctx.set_state(JobState::Verifying, "verifying");
    let verified = tokio::select! {
        r = super::read_stored(&sess, &key, secret, ctx, archive::check_part) => r,
        () = ctx.cancel.cancelled() => Err(ctx.cancelled()),
    };
    let checked = verified.and_then(|w| {
        if w.stored.sha256 == entry.sha256 && w.manifest == manifest {
            Ok(())
        } else {
            Err(ErrorBody::new(
                ErrorCode::Internal,
                "the stored backup reads back differently from what was written",
            ))
        }
    });
    if let Err(e) = checked {
        forget(st, &id).await;
        return Err(e);
    }
    entry.status = BackupStatus::Complete;
    st.store
        .put_backup(&CatalogRecord {
            entry: entry.clone(),
            manifest,
        })
        .map_err(|e| internal(&e))?;
    Ok(format!(
        "backup {} of {} {}: {} bytes stored in {} ({}), verified",
        entry.id,
        entry.target.kind(),
        entry.target.name(),
        entry.size,
        entry.storage,
        entry.key
    ))
}

/// A backup that did not complete leaves nothing: no object, no catalog entry.
async fn forget(st: &AppState, id: &str) {
    match st.store.backup(id) {
        Ok(Some(rec)) => super::discard(st, &rec.entry).await,
        Ok(None) => {}
        Err(e) => tracing::error!(backup = id, error = %e, "cannot read the catalog"),
    }
}
