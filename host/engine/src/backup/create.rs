//! A backup job: find what to back up, hold the containers still, read each volume
//! twice through a never-started helper — once to measure it (a tar entry's size
//! comes before its data, and the manifest, which comes first, holds every volume's
//! checksums), once to stream it into the archive — release the containers, then
//! re-read what was stored and check it before the catalog calls it complete.
//!
//! Nothing touches the disk on the way: Docker → tar → gzip on every core →
//! (encryption) → the storage plugin, through bounded channels.

use crate::EngineError;
use crate::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Arc;

use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupStatus, BackupTarget, Consistency, FORMAT_VERSION, ImageName,
    Manifest, ManifestImage, ManifestMember, ManifestVolume,
};
use berth_protocol::api::jobs::{JobState, LogLevel};
use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::ListContainersOptionsBuilder;
use bytes::Bytes;
use tokio_util::io::StreamReader;

use super::catalog::CatalogRecord;
use super::journal::{self, Held, Subject};
use super::{BackupSpec, archive, digest, open_passphrase, session, storage, volume_reader};
use crate::Engine;
use crate::error::docker_err;
use crate::jobs::JobCtx;
use berth_core::time::now_ms;
use berth_docker::helper::Helper;

/// What a backup will read.
struct Plan {
    /// Containers held still, dependents first.
    subjects: Vec<Subject>,
    /// Running containers whose hooks run, with their labels (where hooks may be
    /// set), dependents first.
    hooked: Vec<(String, HashMap<String, String>)>,
    volumes: Vec<ManifestVolume>,
    container: Option<serde_json::Value>,
    network: Option<serde_json::Value>,
    was_running: bool,
    image_id: Option<String>,
    /// The images a backup carrying its images saves: (reference, id).
    images: Vec<(String, String)>,
    members: Vec<ManifestMember>,
    networks: Vec<serde_json::Value>,
    binds: Vec<String>,
}

impl Plan {
    /// The Docker objects no other job may hold meanwhile (see `jobs::locks`).
    fn objects(&self, target: &BackupTarget) -> Vec<String> {
        let mut keys: Vec<String> = self
            .subjects
            .iter()
            .map(|s| format!("container:{}", s.id))
            .chain(self.volumes.iter().map(|v| format!("volume:{}", v.name)))
            .collect();
        if let BackupTarget::Network { name } = target {
            keys.push(format!("network:{name}"));
        }
        keys.sort();
        keys
    }

    fn empty() -> Self {
        Self {
            subjects: Vec::new(),
            hooked: Vec::new(),
            volumes: Vec::new(),
            container: None,
            network: None,
            was_running: false,
            image_id: None,
            images: Vec::new(),
            members: Vec::new(),
            networks: Vec::new(),
            binds: Vec::new(),
        }
    }
}

async fn volume_meta(
    d: &Docker,
    name: &str,
) -> Result<(String, BTreeMap<String, String>), EngineError> {
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

/// A container's named volumes (each once across calls) and its bind mounts, which
/// are not backed up.
async fn mounts_of(
    d: &Docker,
    c: &ContainerInspectResponse,
    destination: bool,
    volumes: &mut Vec<ManifestVolume>,
    binds: &mut Vec<String>,
) -> Result<(), EngineError> {
    for m in c.mounts.clone().unwrap_or_default() {
        match m.typ.as_deref() {
            Some("volume") => {
                let Some(v) = m.name.clone() else { continue };
                if volumes.iter().any(|x| x.name == v) {
                    continue;
                }
                let (driver, labels) = volume_meta(d, &v).await?;
                let dest = m.destination.clone().filter(|_| destination);
                volumes.push(blank_volume(&v, dest, driver, labels));
            }
            _ => binds.push(format!(
                "{} → {}",
                m.source.unwrap_or_default(),
                m.destination.unwrap_or_default()
            )),
        }
    }
    Ok(())
}

fn labels_of(c: &ContainerInspectResponse) -> HashMap<String, String> {
    c.config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
}

fn subject_of(c: &ContainerInspectResponse) -> Subject {
    let state = c.state.clone().unwrap_or_default();
    Subject {
        id: c.id.clone().unwrap_or_default(),
        name: c
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        running: state.running.unwrap_or(false),
        paused: state.paused.unwrap_or(false),
    }
}

fn image_of(c: &ContainerInspectResponse) -> Option<(String, String)> {
    let id = c.image.clone()?;
    let reference = c
        .config
        .as_ref()
        .and_then(|c| c.image.clone())
        .unwrap_or_else(|| id.clone());
    Some((reference, id))
}

fn not_helper(labels: Option<&HashMap<String, String>>) -> bool {
    labels.is_none_or(|l| !l.contains_key(berth_docker::helper::LABEL))
}

async fn plan_of(
    d: &Docker,
    host_self: Option<&str>,
    target: &BackupTarget,
) -> Result<Plan, EngineError> {
    match target {
        BackupTarget::Container { name } => {
            let c = d
                .inspect_container(name, None)
                .await
                .map_err(|e| docker_err(&e, &format!("container {name}")))?;
            let mut p = Plan::empty();
            mounts_of(d, &c, true, &mut p.volumes, &mut p.binds).await?;
            let subject = subject_of(&c);
            p.was_running = subject.running;
            if subject.running {
                p.hooked.push((name.clone(), labels_of(&c)));
            }
            if host_self != Some(subject.id.as_str()) {
                p.subjects.push(subject); // Berth does not stop itself.
            }
            p.image_id = c.image.clone();
            p.images.extend(image_of(&c));
            p.container = Some(serde_json::to_value(&c).map_err(|e| EngineError::internal(&e))?);
            Ok(p)
        }
        BackupTarget::Volume { name } => {
            let (driver, labels) = volume_meta(d, name).await?;
            // Whoever writes to the volume is held still too.
            let users = d
                .list_containers(Some(
                    ListContainersOptionsBuilder::default()
                        .all(true)
                        .filters(&HashMap::from([("volume".to_owned(), vec![name.clone()])]))
                        .build(),
                ))
                .await
                .map_err(|e| docker_err(&e, &format!("volume {name}")))?;
            let users = users
                .into_iter()
                .filter(|c| not_helper(c.labels.as_ref()))
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
            let mut p = Plan::empty();
            p.subjects = super::order::hold_order(users);
            p.volumes = vec![blank_volume(name, None, driver, labels)];
            Ok(p)
        }
        BackupTarget::Network { name } => {
            if matches!(name.as_str(), "bridge" | "host" | "none") {
                return Err(EngineError::bad(
                    "targets",
                    format!("{name} is built into Docker, which recreates it itself"),
                ));
            }
            let n = d
                .inspect_network(name, None)
                .await
                .map_err(|e| docker_err(&e, &format!("network {name}")))?;
            let mut p = Plan::empty();
            p.network = Some(serde_json::to_value(&n).map_err(|e| EngineError::internal(&e))?);
            Ok(p)
        }
        BackupTarget::Project { name } => plan_project(d, host_self, name).await,
    }
}

/// A backup of the volume holding Berth's own data directory would carry the
/// installation key (and the store) to wherever backups go and whoever may download
/// them: refused, for everyone.
fn refuse_own_data(own: &[berth_docker::hosts::OwnData], plan: &Plan) -> Result<(), EngineError> {
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

/// Every container labelled with the project (Berth itself and its helpers aside),
/// the volumes they mount plus those the project labels as its own, and the
/// project's networks.
async fn plan_project(
    d: &Docker,
    host_self: Option<&str>,
    name: &str,
) -> Result<Plan, EngineError> {
    let label = format!("{}={name}", super::order::PROJECT);
    let filter = |kind: &str| HashMap::from([(kind.to_owned(), vec![label.clone()])]);
    let listed = d
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter("label"))
                .build(),
        ))
        .await
        .map_err(|e| docker_err(&e, &format!("project {name}")))?;
    let mut found = Vec::new();
    for c in listed.into_iter().filter(|c| not_helper(c.labels.as_ref())) {
        let id = c.id.unwrap_or_default();
        if host_self == Some(id.as_str()) {
            return Err(EngineError::conflict(format!(
                "Berth runs in project {name}; back up its other containers one by one"
            )));
        }
        found.push(
            d.inspect_container(&id, None)
                .await
                .map_err(|e| docker_err(&e, &format!("container {id}")))?,
        );
    }
    if found.is_empty() {
        return Err(EngineError::not_found(format!(
            "no containers of compose project {name}"
        )));
    }
    // Dependents first: held (and hooked) in this order, started in reverse.
    let nodes = found
        .iter()
        .map(|c| {
            let network_mode = c.host_config.as_ref().and_then(|h| h.network_mode.clone());
            super::order::Node::new(subject_of(c), &labels_of(c), network_mode)
        })
        .collect();
    let subjects = super::order::hold_order(nodes);
    let by_id: HashMap<String, ContainerInspectResponse> = found
        .into_iter()
        .map(|c| (c.id.clone().unwrap_or_default(), c))
        .collect();
    let mut p = Plan::empty();
    let mut nets = Vec::new();
    for s in &subjects {
        let c = &by_id[&s.id];
        mounts_of(d, c, false, &mut p.volumes, &mut p.binds).await?;
        if s.running {
            p.hooked.push((s.name.clone(), labels_of(c)));
        }
        if let Some(i) = image_of(c).filter(|i| !p.images.contains(i)) {
            p.images.push(i);
        }
        for n in c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .into_iter()
            .flat_map(|n| n.keys())
        {
            if !nets.contains(n) {
                nets.push(n.clone());
            }
        }
    }
    // Volumes of the project no container mounts right now are its data too.
    let owned = d
        .list_volumes(Some(
            bollard::query_parameters::ListVolumesOptionsBuilder::default()
                .filters(&filter("label"))
                .build(),
        ))
        .await
        .map_err(|e| docker_err(&e, &format!("project {name}")))?;
    for v in owned.volumes.unwrap_or_default() {
        if !p.volumes.iter().any(|x| x.name == v.name) {
            p.volumes.push(blank_volume(
                &v.name,
                None,
                v.driver,
                v.labels.into_iter().collect(),
            ));
        }
    }
    // The project's own networks travel with it; others (external ones) are only
    // named in the members' configuration.
    for n in nets {
        let net = d
            .inspect_network(&n, None)
            .await
            .map_err(|e| docker_err(&e, &format!("network {n}")))?;
        let own = net
            .labels
            .as_ref()
            .and_then(|l| l.get(super::order::PROJECT))
            .is_some_and(|p| p == name);
        if own {
            p.networks
                .push(serde_json::to_value(&net).map_err(|e| EngineError::internal(&e))?);
        }
    }
    // Members in the order they start.
    for s in subjects.iter().rev() {
        let c = &by_id[&s.id];
        p.members.push(ManifestMember {
            name: s.name.clone(),
            service: labels_of(c).get(super::order::SERVICE).cloned(),
            container: serde_json::to_value(c).map_err(|e| EngineError::internal(&e))?,
            was_running: s.running,
            image_id: c.image.clone(),
        });
    }
    p.was_running = subjects.iter().any(|s| s.running);
    p.subjects = subjects;
    Ok(p)
}

/// Images as `docker save` writes them, as a blocking `Read` for the archive thread.
/// Must be created on the runtime.
fn image_reader(d: &Docker, names: &[String]) -> impl Read + Send + use<> {
    use futures_util::{StreamExt, TryStreamExt};
    let stream = match names {
        [one] => d.export_image(one).boxed(),
        many => {
            let many: Vec<&str> = many.iter().map(String::as_str).collect();
            d.export_images(&many).boxed()
        }
    };
    tokio_util::io::SyncIoBridge::new(StreamReader::new(stream.map_err(std::io::Error::other)))
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

pub async fn run(st: &Arc<Engine>, spec: &BackupSpec, ctx: &JobCtx) -> Result<String, EngineError> {
    ctx.set_state(JobState::Starting, "preparing");
    let host = st.hosts.get(spec.host.as_deref())?;
    let d = host.docker().await?;
    let inst = storage(st, spec.storage.as_deref())?;
    let secret = open_passphrase(st, spec.passphrase.as_deref())?;
    // What the backup holds, taken from other jobs all at once. A job that ran while
    // this one waited may have changed what there is: planned again, and held again
    // (after letting go, never some and then the rest) if that changed what to hold.
    let t = &spec.target;
    let mut plan = plan_of(&d, host.self_id.as_deref(), t).await?;
    let mut objects = ctx.hold_objects(plan.objects(t)).await?;
    let mut tries = 0;
    while objects.waited && tries < 3 {
        tries += 1;
        let now = plan_of(&d, host.self_id.as_deref(), t).await?;
        let same = now.objects(t) == plan.objects(t);
        plan = now;
        if same {
            break;
        }
        drop(objects);
        objects = ctx.hold_objects(plan.objects(t)).await?;
    }
    refuse_own_data(host.own_data(&d).await?, &plan)?;
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

    // Hooks run only in running containers (a stopped one has nothing to flush),
    // dependents first; a failing pre hook undoes those already run.
    let hooks = plan
        .hooked
        .iter()
        .map(|(c, labels)| Ok((c.clone(), super::hooks::resolve(&spec.hooks, labels)?)))
        .collect::<Result<Vec<_>, EngineError>>()?;
    for (i, (c, h)) in hooks.iter().enumerate() {
        if let Some(pre) = &h.pre
            && let Err(e) = super::hooks::run(&d, c, "pre", pre, h, ctx).await
        {
            let _ = post_hooks(&d, &hooks[..i], ctx).await;
            return Err(e);
        }
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
            .map_err(|e| EngineError::internal(&e))?
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
        // The images, measured like a volume (`docker save` of the same references
        // is byte-for-byte repeatable).
        let image = match (spec.include_image, plan.images.first()) {
            (true, Some(first)) => {
                // Saved by reference while that still names the image, so a load
                // brings the tag back; otherwise by id.
                let mut names = Vec::new();
                for (reference, id) in &plan.images {
                    let same = d
                        .inspect_image(reference)
                        .await
                        .ok()
                        .and_then(|i| i.id)
                        .is_some_and(|i| &i == id);
                    names.push(if same { reference.clone() } else { id.clone() });
                }
                ctx.phase(&format!("measuring image {}", first.0));
                let src = image_reader(&d, &names);
                let ctx2 = ctx.clone();
                let (tar_bytes, sha256) = tokio::task::spawn_blocking(move || {
                    let mut tap = archive::Tap::new(src, Some(&ctx2));
                    std::io::copy(&mut tap, &mut std::io::sink())?;
                    Ok::<_, std::io::Error>((tap.n, tap.hex()))
                })
                .await
                .map_err(|e| EngineError::internal(&e))?
                .map_err(|e| super::io_body(&e))?;
                ctx.log(
                    LogLevel::Info,
                    format!("images {}: {tar_bytes} bytes saved", names.join(", ")),
                );
                Some((
                    names,
                    ManifestImage {
                        reference: first.0.clone(),
                        id: first.1.clone(),
                        tar_bytes,
                        sha256,
                        others: plan.images[1..]
                            .iter()
                            .map(|(reference, id)| ImageName {
                                reference: reference.clone(),
                                id: id.clone(),
                            })
                            .collect(),
                    },
                ))
            }
            _ => None,
        };
        let mut manifest = Manifest {
            format: FORMAT_VERSION,
            berth_version: env!("CARGO_PKG_VERSION").to_owned(),
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
            members: plan.members.clone(),
            networks: plan.networks.clone(),
            seal: None,
        };
        // This installation vouches for what it wrote (see `origin`).
        super::origin::seal(&st.secret_key, &mut manifest);
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
            origin: BackupOrigin::ThisInstallation,
        };
        // In the catalog before the first byte is stored: a crash from here on is
        // cleaned up at the next start.
        st.store
            .put_backup(&CatalogRecord {
                entry: entry.clone(),
                manifest: manifest.clone(),
            })
            .map_err(|e| EngineError::internal(&e))?;

        // Totals first: a phase change publishes, and bytes must not go back within one.
        ctx.totals(
            entry.data_bytes + image.as_ref().map_or(0, |(_, m)| m.tar_bytes),
            plan.volumes.len() as u64,
        );
        ctx.phase("writing");
        let image_src: Option<Box<dyn Read + Send>> = image
            .as_ref()
            .map(|(names, _)| Box::new(image_reader(&d, names)) as Box<dyn Read + Send>);
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
        let written = writer.await.map_err(|e| EngineError::internal(&e))?;
        drop(helpers);
        let written = match (written, stored) {
            (Err(e), _) => return Err(super::io_body(&e)),
            (Ok(_), Err(e)) => return Err(EngineError::from(e)),
            (Ok(w), Ok(size)) => {
                if size != w.bytes {
                    return Err(EngineError::failed(format!(
                        "the storage kept {size} bytes of {}",
                        w.bytes
                    )));
                }
                w
            }
        };
        entry.size = written.bytes;
        entry.sha256 = written.sha256.clone();
        Ok::<_, EngineError>((entry, manifest))
    };
    let done = tokio::select! {
        r = work => r,
        () = ctx.cancel.cancelled() => Err(ctx.cancelled()),
    };
    if let Some(h) = holding {
        h.release(ctx).await;
    }
    // After the containers run again, whatever became of the backup.
    let post = post_hooks(&d, &hooks, ctx).await;
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
        r = super::read_stored(&sess, &key, secret, ctx, archive::check_sha) => r,
        () = ctx.cancel.cancelled() => Err(ctx.cancelled()),
    };
    let checked = verified.and_then(|w| {
        if w.stored.sha256 == entry.sha256 && w.manifest == manifest {
            Ok(())
        } else {
            Err(EngineError::failed(
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
        .map_err(|e| EngineError::internal(&e))?;
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

/// Post hooks in start order (the reverse of `hooks`); every one runs, the first
/// failure is the result.
async fn post_hooks(
    d: &Docker,
    hooks: &[(String, super::hooks::Resolved)],
    ctx: &JobCtx,
) -> Result<(), EngineError> {
    let mut first = Ok(());
    for (c, h) in hooks.iter().rev() {
        if let Some(post) = &h.post {
            let r = super::hooks::run(d, c, "post", post, h, ctx).await;
            if first.is_ok() {
                first = r;
            }
        }
    }
    first
}

/// A backup that did not complete leaves nothing: no object, no catalog entry.
async fn forget(st: &Engine, id: &str) {
    match st.store.backup(id) {
        Ok(Some(rec)) => super::discard(st, &rec.entry).await,
        Ok(None) => {}
        Err(e) => tracing::error!(backup = id, error = %e, "cannot read the catalog"),
    }
}
