//! A restore job: conflicts are checked before anything changes (the container name,
//! each volume, the image); volumes are created (or emptied, when the user said
//! overwrite) and filled through never-started helpers straight from the stored
//! archive; each restored volume is read back and its content digest compared with
//! the manifest's, while the next volume streams in; then the container is recreated
//! from its backed-up configuration with the overrides, and started.

use crate::EngineError;
use crate::error::ForbiddenDetails;
use crate::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_protocol::api::backups::{
    BackupOrigin, BackupTarget, Conflict, ConflictKind, ExistingVolume, Manifest, ManifestImage,
    ManifestVolume, Privilege, RestoreBackup,
};
use berth_protocol::api::jobs::{JobState, LogLevel};
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, NetworkCreateRequest, PortBinding,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ImportImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use bytes::Bytes;

use super::catalog::CatalogRecord;
use super::host_paths::Destinations;
use super::members::{self, Member, OwnNetwork};
use super::{archive, open_passphrase, session, storage};
use crate::Engine;
use crate::error::docker_err;
use crate::jobs::JobCtx;
use crate::jobs::spec::RestoreSpec;
use berth_docker::helper::Helper;

/// The names of the containers that mount the volume.
async fn volume_users(docker: &Docker, name: &str) -> Result<Vec<String>, EngineError> {
    Ok(super::plan::volume_users(docker, name)
        .await?
        .into_iter()
        .filter_map(|c| c.names.and_then(|n| n.first().cloned()))
        .map(|n| n.trim_start_matches('/').to_owned())
        .collect())
}

/// Whether the host has the image, by reference or by id.
async fn image_present(docker: &Docker, reference: &str, id: &str) -> bool {
    docker.inspect_image(reference).await.is_ok()
        || (!id.is_empty() && docker.inspect_image(id).await.is_ok())
}

/// A `docker save` stream with every name it carries removed: `docker load` tags images
/// from `manifest.json`'s `RepoTags` (and the legacy `repositories` file, and an OCI
/// index's name annotations), and would move any existing tag — `nginx:latest`, say —
/// onto the backup's image. Loaded untagged, the image is then tagged only with names
/// this host does not have ([`tag_if_missing`]).
fn untagged(r: impl std::io::Read, w: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Read;
    let mut archive = tar::Archive::new(r);
    let mut out = tar::Builder::new(w);
    for entry in archive.entries()? {
        let mut e = entry?;
        let path = e.path()?.into_owned();
        let name = path.to_string_lossy().into_owned();
        let mut header = e.header().clone();
        match name.as_str() {
            "repositories" => {}
            "manifest.json" | "index.json" => {
                let mut json = Vec::new();
                (&mut e).take(16 << 20).read_to_end(&mut json)?;
                let mut v: serde_json::Value =
                    serde_json::from_slice(&json).map_err(std::io::Error::other)?;
                strip_names(&mut v);
                let json = serde_json::to_vec(&v).map_err(std::io::Error::other)?;
                header.set_size(json.len() as u64);
                out.append_data(&mut header, &path, &json[..])?;
            }
            _ => match e.link_name()? {
                Some(target)
                    if header.entry_type().is_symlink() || header.entry_type().is_hard_link() =>
                {
                    let target = target.into_owned();
                    out.append_link(&mut header, &path, target)?;
                }
                _ => out.append_data(&mut header, &path, &mut e)?,
            },
        }
    }
    out.into_inner()?.flush()
}

/// Removes image names from a save's `manifest.json` (each entry's `RepoTags`) or an
/// OCI `index.json` (the name annotations of each manifest).
fn strip_names(v: &mut serde_json::Value) {
    if let Some(list) = v.as_array_mut() {
        for m in list {
            if let Some(o) = m.as_object_mut() {
                o.remove("RepoTags");
            }
        }
    }
    if let Some(ms) = v.get_mut("manifests").and_then(|m| m.as_array_mut()) {
        for m in ms {
            if let Some(a) = m.get_mut("annotations").and_then(|a| a.as_object_mut()) {
                a.remove("io.containerd.image.name");
                a.remove("org.opencontainers.image.ref.name");
            }
        }
    }
}

/// Streams a carried image from the walk into `docker load`, untagged, checking its
/// bytes against the manifest on the way (a mismatch fails the load).
fn load_image(
    rt: &tokio::runtime::Handle,
    docker: &Docker,
    i: &ManifestImage,
    ctx: &JobCtx,
    r: &mut dyn std::io::Read,
) -> std::io::Result<()> {
    use futures_util::StreamExt;
    ctx.phase(&format!("loading image {}", i.reference));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let docker = docker.clone();
    let up = rt.spawn(async move {
        let mut answers = docker.import_image_stream(
            ImportImageOptionsBuilder::default().quiet(true).build(),
            futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)),
            None,
        );
        while let Some(a) = answers.next().await {
            let a = a.map_err(|e| e.to_string())?;
            if let Some(e) = a.error_detail.and_then(|e| e.message) {
                return Err(e);
            }
        }
        Ok::<(), String>(())
    });
    let mut tap = archive::Tap::new(r, None);
    let rewritten = untagged(&mut tap, archive::ChanWriter(tx.clone()))
        .and_then(|()| std::io::copy(&mut tap, &mut std::io::sink()).map(drop));
    let intact = rewritten.is_ok() && tap.hex() == i.sha256;
    if !intact {
        let _ = tx.blocking_send(Err(std::io::Error::other("checksum mismatch")));
    }
    drop(tx);
    let loaded = rt.block_on(up).map_err(std::io::Error::other)?;
    rewritten?;
    if !intact {
        return Err(archive::damaged(format!(
            "image {} does not match its checksum",
            i.reference
        )));
    }
    loaded.map_err(|e| std::io::Error::other(format!("Docker refused image {}: {e}", i.reference)))
}

/// What the restore job reads from the catalog and the request.
struct Restore<'a> {
    engine: &'a Arc<Engine>,
    req: &'a RestoreBackup,
    rec: CatalogRecord,
    d: Docker,
    ctx: &'a JobCtx,
    /// Where the backup's host directories go.
    dest: Destinations,
}

pub async fn run(
    engine: &Arc<Engine>,
    spec: &RestoreSpec,
    ctx: &JobCtx,
) -> Result<String, EngineError> {
    let req = &spec.request;
    ctx.set_state(JobState::Starting, "checking for conflicts");
    ctx.set_backup(&req.id);
    let rec = engine
        .store
        .backup(&req.id)
        .map_err(|e| EngineError::internal(&e))?
        .ok_or_else(|| EngineError::not_found(format!("no backup {}", req.id)))?;
    let host = engine.hosts.get(req.host.as_deref())?;
    let d = host.docker().await?;
    if rec.entry.encrypted && req.passphrase.is_none() {
        return Err(EngineError::bad(
            "passphrase",
            "this backup is encrypted; give its passphrase",
        ));
    }
    let manifest = rec.manifest.clone();
    let dest = Destinations::of(engine, &manifest, req)?;
    // What the restore creates or rewrites, held from other jobs before it is checked.
    let _objects = ctx.hold_objects(objects(&manifest, req, &dest)?).await?;

    // Conflicts first: nothing changes unless everything can be restored — and only
    // what the requester may do (checked again here: the host may have changed since
    // the request, and a job runs with the authority of whoever asked).
    let checked = check(&d, &manifest, req, rec.entry.origin, &dest).await?;
    checked.refuse()?;
    checked.authorise(spec.admin, &req.approve)?;
    for c in &checked.conflicts {
        ctx.log(LogLevel::Warn, c.message.clone());
    }
    for p in &checked.privileges {
        ctx.log(
            LogLevel::Warn,
            format!("approved: {} {} = {}", p.object, p.setting, p.value),
        );
    }
    ctx.check()?;
    let r = Restore {
        engine,
        req,
        rec,
        d,
        ctx,
        dest,
    };
    let load = r.volumes(&checked.recreate).await?;
    r.finish(checked, load).await
}

impl Restore<'_> {
    fn target_of(&self, v: &ManifestVolume) -> String {
        members::volume_name(&self.rec.manifest, self.req, v)
    }

    /// Where a host directory entry is restored.
    fn folder_of(&self, v: &ManifestVolume) -> Result<&std::path::Path, EngineError> {
        self.dest
            .to_of(&v.name)
            .ok_or_else(|| EngineError::internal(&format!("no destination for {}", v.name)))
    }

    /// The volumes (and the carried image): old contents kept aside, new ones written
    /// and verified; on failure, the volumes as they were. Returns whether the image
    /// was loaded.
    async fn volumes(&self, recreate: &[String]) -> Result<bool, EngineError> {
        let (d, ctx) = (&self.d, self.ctx);
        ctx.set_state(JobState::Running, "creating volumes");
        let mut aside = super::aside::SetAside::default();
        let mut created = Created::default();
        let written = async {
            for name in recreate {
                aside.keep(d, name, ctx).await?;
            }
            // Each volume is read back as soon as it is written, while the next one
            // streams in: a restore of several volumes takes one read-back, not all.
            let (written_tx, written_rx) = tokio::sync::mpsc::unbounded_channel();
            let (load, verified) = tokio::join!(
                self.write_volumes(&mut created, written_tx),
                self.verify_as_written(written_rx),
            );
            let load = load?;
            self.verify_rest(&verified?).await?;
            Ok::<_, EngineError>(load)
        }
        .await;
        match written {
            Ok(load) => {
                aside.discard(d, ctx).await;
                Ok(load)
            }
            Err(e) => {
                undo_volumes(d, &created.volumes, ctx).await;
                undo_folders(&created.folders, ctx);
                aside.put_back(d, ctx).await;
                Err(e)
            }
        }
    }

    /// Creates the target volumes and streams the archive once, each volume's tar
    /// into its helper and the image into `docker load`. `created` names the volumes
    /// made so far (for the undo); `written` is told each volume's name once Docker
    /// has all of it.
    async fn write_volumes(
        &self,
        created: &mut Created,
        written: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<bool, EngineError> {
        let (d, ctx, manifest) = (&self.d, self.ctx, &self.rec.manifest);
        let mut helpers = HashMap::new();
        for v in &manifest.volumes {
            if v.is_host_path() {
                let to = self.folder_of(v)?;
                created.folder(to)?;
                let to = to.display().to_string();
                helpers.insert(v.name.clone(), Helper::for_host_path_rw(d, &to).await?);
                continue;
            }
            let name = self.target_of(v);
            let mut labels = members::volume_labels(manifest, self.req, v);
            labels.insert("dev.berth.restored-from".into(), self.rec.entry.id.clone());
            d.create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                driver: Some(v.driver.clone()),
                labels: Some(labels),
                ..Default::default()
            })
            .await
            .map_err(|e| docker_err(&e, &format!("volume {name}")))?;
            created.volumes.push(name.clone());
            helpers.insert(v.name.clone(), Helper::for_volume_rw(d, &name).await?);
        }
        ctx.totals(self.rec.entry.size, manifest.volumes.len() as u64);
        ctx.phase("restoring data");
        let inst = storage(self.engine, Some(&self.rec.entry.storage))?;
        let sess = session(self.engine, &inst).await?;
        // The image the backup carries is loaded only where the host lacks it (and is
        // checked against its checksum either way).
        let load = match &manifest.image {
            Some(i) => {
                let mut lacking = !image_present(d, &i.reference, &i.id).await;
                for o in &i.others {
                    lacking = lacking || !image_present(d, &o.reference, &o.id).await;
                }
                lacking
            }
            None => false,
        };
        let rt = tokio::runtime::Handle::current();
        let targets: HashMap<String, String> = helpers
            .iter()
            .map(|(k, h)| (k.clone(), h.id.clone()))
            .collect();
        let (d2, ctx2) = (d.clone(), ctx.clone());
        let upload = move |p: archive::Part<'_>, r: &mut dyn std::io::Read| match p {
            archive::Part::Image(i) if load => load_image(&rt, &d2, i, &ctx2, r).map(|()| None),
            archive::Part::Image(_) => archive::check_part(p, r),
            archive::Part::Volume(v) => {
                let helper = targets.get(&v.name).cloned().unwrap_or_default();
                super::volume_io::fill(&rt, &d2, &helper, r).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("volume {}: {e}", v.name))
                })?;
                // Verified by reading the volume back, beside the next one's writing
                // (a verification that failed already has stopped listening).
                let _ = written.send(v.name.clone());
                ctx2.item_done();
                Ok(None)
            }
        };
        let secret = open_passphrase(self.engine, self.req.passphrase.as_deref())?;
        let walked = tokio::select! {
            r = super::read_stored(&sess, &self.rec.entry.key, secret, Some(manifest.clone()), ctx, upload) => r,
            () = ctx.cancel.cancelled() => Err(ctx.cancelled()),
        };
        if walked.is_ok() {
            // Only the read-back of the last volumes written can still be running.
            ctx.set_state(JobState::Verifying, "verifying restored volumes");
        }
        for (_, h) in helpers {
            h.remove().await;
        }
        let walked = walked?;
        // The object read is the one catalogued (not one swapped in the storage since).
        if walked.stored.sha256 != self.rec.entry.sha256 || walked.manifest != *manifest {
            return Err(EngineError::conflict(
                "the stored backup is not the one catalogued (it changed in the storage); verify it",
            ));
        }
        if let (true, Some(i)) = (load, &manifest.image) {
            // Loaded untagged: the containers are created by reference.
            let names = std::iter::once((i.reference.clone(), i.id.clone()))
                .chain(i.others.iter().map(|o| (o.reference.clone(), o.id.clone())));
            for (reference, id) in names {
                tag_if_missing(d, &reference, &id).await?;
            }
            ctx.log(
                LogLevel::Info,
                format!("image {} loaded from the backup", i.reference),
            );
        }
        Ok(load)
    }

    /// Proof: each volume read back as it now is, against the manifest, as soon as
    /// the stream has written it. Returns the names verified; stops at the first that
    /// differs.
    async fn verify_as_written(
        &self,
        mut written: tokio::sync::mpsc::UnboundedReceiver<String>,
    ) -> Result<Vec<String>, EngineError> {
        let mut verified = Vec::new();
        while let Some(name) = written.recv().await {
            let volume = self.rec.manifest.volumes.iter().find(|v| v.name == name);
            if let Some(v) = volume {
                self.verify_volume(v).await?;
                verified.push(name);
            }
        }
        Ok(verified)
    }

    /// Reads back any volume the stream did not report written (none when the walk
    /// succeeded), so that every restored volume is verified whatever the order.
    async fn verify_rest(&self, verified: &[String]) -> Result<(), EngineError> {
        for v in &self.rec.manifest.volumes {
            if !verified.contains(&v.name) {
                self.verify_volume(v).await?;
            }
        }
        Ok(())
    }

    async fn verify_volume(&self, v: &ManifestVolume) -> Result<(), EngineError> {
        let (name, got) = if v.is_host_path() {
            let to = self.folder_of(v)?.display().to_string();
            let helper = Helper::for_host_path(&self.d, &to).await?;
            (to, super::volume_io::digest_through(&self.d, helper).await?)
        } else {
            let name = self.target_of(v);
            let got = super::volume_io::digest_of(&self.d, &name).await?;
            (name, got)
        };
        if got.hex != v.content_digest {
            return Err(EngineError::failed(format!(
                "volume {name} reads back differently from the backup (content digest {} ≠ {})",
                got.hex, v.content_digest
            )));
        }
        self.ctx.log(
            LogLevel::Info,
            format!("volume {name}: {} entries verified", got.entries),
        );
        Ok(())
    }

    /// After the verified volumes: the network, or the containers, started as they
    /// were (or as the request says).
    async fn finish(&self, checked: Checked, _loaded: bool) -> Result<String, EngineError> {
        let (d, ctx, req, manifest) = (&self.d, self.ctx, self.req, &self.rec.manifest);
        let id = &self.rec.entry.id;
        if let (BackupTarget::Network { name }, Some(n)) = (&manifest.target, &manifest.network) {
            let name = req.name.clone().unwrap_or_else(|| name.clone());
            ctx.phase(&format!("creating network {name}"));
            // The inspect document and the create request share Docker's field names.
            let mut body: NetworkCreateRequest =
                serde_json::from_value(n.clone()).map_err(|e| EngineError::internal(&e))?;
            body.name = name.clone();
            body.labels
                .get_or_insert_with(HashMap::new)
                .insert("dev.berth.restored-from".into(), id.clone());
            d.create_network(body)
                .await
                .map_err(|e| docker_err(&e, &format!("network {name}")))?;
            return Ok(format!("restored network {name} from {id}"));
        }
        if checked.members.is_empty() {
            let names: Vec<String> = manifest.volumes.iter().map(|v| self.target_of(v)).collect();
            return Ok(format!(
                "restored volume {} from {id}, verified",
                names.join(", ")
            ));
        }
        let missing_nets: Vec<String> = checked
            .conflicts
            .iter()
            .filter(|c| c.kind == ConflictKind::NetworkMissing)
            .map(|c| c.name.clone())
            .collect();
        let renamed: BTreeMap<String, String> = manifest
            .volumes
            .iter()
            .map(|v| (v.name.clone(), self.target_of(v)))
            .collect();
        let created = create_members(
            d,
            id,
            &checked.members,
            &checked.networks,
            &renamed,
            &missing_nets,
            req.network.is_none(),
            ctx,
        )
        .await?;
        let mut started = Vec::new();
        for (m, cid) in &created {
            if req.start.unwrap_or(m.was_running) {
                ctx.phase(&format!("starting {}", m.name));
                d.start_container(cid, None)
                    .await
                    .map_err(|e| docker_err(&e, &format!("container {}", m.name)))?;
                started.push(m.name.clone());
            }
        }
        let names: Vec<&str> = created.iter().map(|(m, _)| m.name.as_str()).collect();
        Ok(format!(
            "restored {} {} from {id}{}, volumes verified",
            if names.len() == 1 {
                "container"
            } else {
                "containers"
            },
            names.join(", "),
            if started.is_empty() {
                String::new()
            } else {
                format!("; started {}", started.join(", "))
            }
        ))
    }
}

/// Tags an image loaded by id with the reference its container names, when the
/// host has no image by that reference.
async fn tag_if_missing(docker: &Docker, reference: &str, id: &str) -> Result<(), EngineError> {
    if reference.contains('@') || docker.inspect_image(reference).await.is_ok() {
        return Ok(());
    }
    let (repo, tag) = match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (reference, "latest"),
    };
    docker
        .tag_image(
            id,
            Some(
                bollard::query_parameters::TagImageOptionsBuilder::default()
                    .repo(repo)
                    .tag(tag)
                    .build(),
            ),
        )
        .await
        .map_err(|e| docker_err(&e, &format!("image {reference}")))
}

/// Creates the project's missing networks, then the containers in start order; a
/// failure removes what this created (the verified volumes stay).
#[allow(clippy::too_many_arguments)]
async fn create_members(
    docker: &Docker,
    backup: &str,
    members: &[Member],
    networks: &[OwnNetwork],
    volumes: &BTreeMap<String, String>,
    missing_nets: &[String],
    rejoin: bool,
    ctx: &JobCtx,
) -> Result<Vec<(Member, String)>, EngineError> {
    let mut nets = Vec::new();
    let mut created: Vec<(Member, String)> = Vec::new();
    let r = async {
        for n in networks {
            ctx.phase(&format!("creating network {}", n.name));
            let mut body = n.body.clone();
            body.labels
                .get_or_insert_with(HashMap::new)
                .insert("dev.berth.restored-from".into(), backup.to_owned());
            let fixed = body
                .ipam
                .as_ref()
                .is_some_and(|i| i.config.as_ref().is_some_and(|c| !c.is_empty()));
            let mut created = docker.create_network(body.clone()).await;
            // The subnet was most likely Docker's pick, now taken (by the original
            // project, when restoring a copy beside it): let Docker pick again.
            if fixed
                && let Err(e) = &created
                && e.to_string().contains("overlaps")
            {
                if let Some(ipam) = body.ipam.as_mut() {
                    ipam.config = None;
                }
                ctx.log(
                    LogLevel::Warn,
                    format!(
                        "network {}: its subnet is taken here; Docker picks another",
                        n.name
                    ),
                );
                created = docker.create_network(body).await;
            }
            created.map_err(|e| docker_err(&e, &format!("network {}", n.name)))?;
            nets.push(n.name.clone());
        }
        for m in members {
            ctx.phase(&format!("creating container {}", m.name));
            let mut body = create_body(&m.config, volumes, &m.ports)?;
            if let Some(hc) = body.host_config.as_mut() {
                let mode = hc.network_mode.clone().unwrap_or_default();
                if missing_nets.contains(&mode) {
                    hc.network_mode = None;
                    body.networking_config = None;
                } else if let Some(shared) = members::shared_network_mode(&mode, &created) {
                    hc.network_mode = Some(shared);
                }
            }
            let c = docker
                .create_container(
                    Some(
                        CreateContainerOptionsBuilder::default()
                            .name(&m.name)
                            .build(),
                    ),
                    body,
                )
                .await
                .map_err(|e| docker_err(&e, &format!("container {}", m.name)))?;
            created.push((m.clone(), c.id.clone()));
            if rejoin
                && let Err((net, e)) =
                    berth_docker::redeploy::connect_others(docker, &m.config, &c.id).await
            {
                ctx.log(
                    LogLevel::Warn,
                    format!("{} not connected to network {net}: {}", m.name, e),
                );
            }
        }
        Ok::<_, EngineError>(())
    }
    .await;
    if let Err(e) = r {
        for (m, id) in created.iter().rev() {
            let _ = docker
                .remove_container(
                    id,
                    Some(
                        bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                            .force(true)
                            .build(),
                    ),
                )
                .await;
            ctx.log(
                LogLevel::Warn,
                format!("container {} removed again", m.name),
            );
        }
        for n in nets.iter().rev() {
            let _ = docker.remove_network(n).await;
        }
        ctx.log(
            LogLevel::Warn,
            "the restored volumes are kept (verified); remove them or restore again with overwrite",
        );
        return Err(e);
    }
    Ok(created)
}

/// The Docker objects a restore creates or rewrites (see `jobs::locks`): by name, as
/// they do not exist yet.
fn objects(
    manifest: &Manifest,
    req: &RestoreBackup,
    dest: &Destinations,
) -> Result<Vec<String>, EngineError> {
    let (members, own) = members::plan(manifest, req, dest)?;
    let mut keys: Vec<String> = manifest
        .volumes
        .iter()
        .map(|v| match dest.to_of(&v.name) {
            Some(to) => format!("path:{}", to.display()),
            None => format!("volume:{}", members::volume_name(manifest, req, v)),
        })
        .chain(members.iter().map(|m| format!("container:{}", m.name)))
        .chain(own.iter().map(|n| format!("network:{}", n.name)))
        .collect();
    if let BackupTarget::Network { name } = &manifest.target {
        keys.push(format!("network:{}", req.name.as_deref().unwrap_or(name)));
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// What a restore made so far, for the undo.
#[derive(Debug, Default)]
struct Created {
    volumes: Vec<String>,
    /// Host directories it created (not those it found empty).
    folders: Vec<std::path::PathBuf>,
}

impl Created {
    /// Creates `path` (checked empty or missing before) as a restore's target.
    fn folder(&mut self, path: &std::path::Path) -> Result<(), EngineError> {
        if !path.exists() {
            std::fs::create_dir_all(path).map_err(|e| {
                EngineError::unavailable(format!("cannot create {}: {e}", path.display()))
            })?;
            self.folders.push(path.to_path_buf());
        }
        Ok(())
    }
}

/// Removes the directories a failed restore created, with what it wrote in them.
fn undo_folders(paths: &[std::path::PathBuf], ctx: &JobCtx) {
    for path in paths {
        if std::fs::remove_dir_all(path).is_ok() {
            ctx.log(
                LogLevel::Warn,
                format!("{} removed again (the restore failed)", path.display()),
            );
        }
    }
}

/// Removes volumes a failed restore created.
async fn undo_volumes(docker: &Docker, names: &[String], ctx: &JobCtx) {
    for n in names {
        if docker
            .remove_volume(n, Some(RemoveVolumeOptionsBuilder::default().build()))
            .await
            .is_ok()
        {
            ctx.log(
                LogLevel::Warn,
                format!("volume {n} removed again (the restore failed)"),
            );
        }
    }
}

/// The create body of a container like the backed-up one: its configuration, volume
/// mounts renamed, host ports remapped.
fn create_body(
    c: &ContainerInspectResponse,
    volumes: &BTreeMap<String, String>,
    ports: &BTreeMap<String, u16>,
) -> Result<ContainerCreateBody, EngineError> {
    let mut body = berth_docker::redeploy::create_body(c)?;
    if let Some(hc) = body.host_config.as_mut() {
        // Docker fills these from `Privileged` and `SecurityOpt` (approved or not
        // there); a backup's own lists could unmask /proc and /sys behind their back.
        hc.masked_paths = None;
        hc.readonly_paths = None;
        if let Some(mounts) = hc.mounts.as_mut() {
            for m in mounts {
                if let Some(src) = m.source.as_mut()
                    && let Some(to) = volumes.get(src.as_str())
                {
                    *src = to.clone();
                }
            }
        }
        if let Some(binds) = hc.binds.as_mut() {
            for b in binds {
                if let Some((src, rest)) = b.split_once(':')
                    && let Some(to) = volumes.get(src)
                {
                    *b = format!("{to}:{rest}");
                }
            }
        }
        if let Some(pb) = hc.port_bindings.as_mut() {
            for (port, to) in ports {
                let Some(slot) = pb.get_mut(port) else {
                    return Err(EngineError::bad(
                        "ports",
                        format!("the container publishes no {port}"),
                    ));
                };
                *slot = Some(vec![PortBinding {
                    host_ip: None,
                    host_port: Some(if *to == 0 {
                        String::new()
                    } else {
                        to.to_string()
                    }),
                }]);
            }
        } else if let Some(p) = ports.keys().next() {
            return Err(EngineError::bad(
                "ports",
                format!("the container publishes no {p}"),
            ));
        }
    }
    // Mounts Docker recorded only in `Mounts` (an anonymous `VOLUME` of the image) come
    // back by themselves; named ones are in the host config above.
    Ok(body)
}

/// What a restore will do, once nothing stands in its way.
#[derive(Debug)]
pub struct Checked {
    /// Existing volumes to be emptied (overwrite).
    pub recreate: Vec<String>,
    /// The containers to create, in start order.
    pub members: Vec<Member>,
    /// The project's own networks this host lacks, to create first.
    pub networks: Vec<OwnNetwork>,
    /// Everything in the way; the restore runs only when this is empty.
    pub conflicts: Vec<Conflict>,
    /// What the configuration would grant on the host.
    pub privileges: Vec<Privilege>,
    /// What an admin must approve (see [`super::privileges::needs_approval`]).
    pub needs_approval: Vec<String>,
}

impl Checked {
    /// Whether the requester may run this restore: replacing existing volumes and
    /// anything that needs approval are an admin's, and every key that needs approval
    /// must be approved.
    pub fn authorise(&self, admin: bool, approve: &[String]) -> Result<(), EngineError> {
        if !admin && !self.recreate.is_empty() {
            return Err(EngineError::Forbidden {
                message: format!(
                    "replacing the contents of {} needs the admin role (as deleting a volume does)",
                    self.recreate.join(", ")
                ),
                details: Some(ForbiddenDetails::Overwrites(self.recreate.clone())),
            });
        }
        if !admin && !self.needs_approval.is_empty() {
            return Err(EngineError::Forbidden {
                message: format!(
                    "this restore needs an admin's approval: {}",
                    self.needs_approval.join(", ")
                ),
                details: Some(ForbiddenDetails::NeedsApproval(self.needs_approval.clone())),
            });
        }
        let missing: Vec<String> = self
            .needs_approval
            .iter()
            .filter(|k| !approve.contains(k))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(EngineError::NotApproved {
                message: format!(
                    "approve what this restore grants first (see backups.preview): {}",
                    missing.join(", ")
                ),
                missing,
            });
        }
        Ok(())
    }

    /// The first conflict that stops a restore, as the error its request gets. A
    /// missing network does not stop it: the container joins the default network.
    pub fn refuse(&self) -> Result<(), EngineError> {
        let Some(c) = self
            .conflicts
            .iter()
            .find(|c| c.kind != ConflictKind::NetworkMissing)
        else {
            return Ok(());
        };
        let field = match c.kind {
            ConflictKind::NameInUse => "name",
            ConflictKind::PortTaken => "ports",
            ConflictKind::ImageMissing => "image",
            ConflictKind::NetworkMissing | ConflictKind::NetworkNotFound => "network",
            ConflictKind::VolumeExists | ConflictKind::VolumeInUse => "volumes",
            // The stack's new name is what the user can change.
            ConflictKind::HostPath => "name",
        };
        Err(EngineError::Blocked {
            missing: matches!(
                c.kind,
                ConflictKind::ImageMissing | ConflictKind::NetworkNotFound
            ),
            field,
            conflicts: self.conflicts.len(),
            message: c.message.clone(),
        })
    }
}

/// Host ports (`"8080"`) that running containers publish.
async fn ports_in_use(docker: &Docker) -> Result<Vec<u16>, EngineError> {
    let running = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().build()))
        .await
        .map_err(|e| docker_err(&e, "containers"))?;
    Ok(running
        .into_iter()
        .flat_map(|c| c.ports.unwrap_or_default())
        .filter_map(|p| p.public_port)
        .collect())
}

/// Everything a restore would meet on this host: names in use, volumes that exist
/// (or are in use, when overwriting), host ports taken, images or networks missing.
/// Names that cannot be Docker names are `bad_request` at once.
pub async fn check(
    docker: &Docker,
    manifest: &Manifest,
    req: &RestoreBackup,
    origin: BackupOrigin,
    dest: &Destinations,
) -> Result<Checked, EngineError> {
    let mut checker = Checker {
        docker,
        manifest,
        request: req,
        conflicts: Vec::new(),
    };
    let recreate = checker.volumes().await?;
    for (name, message) in dest.conflicts() {
        checker.add(ConflictKind::HostPath, name, message);
    }
    checker.target_network().await?;
    let (members, own) = members::plan(manifest, req, dest)?;
    checker.joined_network(&members).await?;
    let networks = checker.members(&members, &own).await?;
    let target_net = target_network_body(manifest, req)?;
    let privileges = super::privileges::of_restore(
        manifest,
        &members,
        &networks,
        target_net.as_ref().map(|(n, b)| (n.as_str(), b)),
    );
    let needs_approval =
        super::privileges::needs_approval(&privileges, origin == BackupOrigin::Foreign);
    Ok(Checked {
        recreate,
        members,
        networks,
        conflicts: checker.conflicts,
        privileges,
        needs_approval,
    })
}

/// A restore's conflicts as they are found, one kind of object at a time.
struct Checker<'a> {
    docker: &'a Docker,
    manifest: &'a Manifest,
    request: &'a RestoreBackup,
    conflicts: Vec<Conflict>,
}

/// What the members' checks have found so far, so each missing image or network is
/// named once.
#[derive(Default)]
struct Found {
    images_missing: Vec<String>,
    networks_missing: Vec<String>,
    /// The project's own networks this host lacks, to create.
    networks: Vec<OwnNetwork>,
}

impl Checker<'_> {
    fn add(&mut self, kind: ConflictKind, name: String, message: String) {
        self.conflicts.push(Conflict {
            kind,
            name,
            message,
        });
    }

    /// The volumes that exist already: a conflict, or (when overwriting and nothing
    /// uses them) the ones to recreate, which this returns.
    async fn volumes(&mut self) -> Result<Vec<String>, EngineError> {
        let mut recreate = Vec::new();
        for volume in self.manifest.volumes.iter().filter(|v| !v.is_host_path()) {
            let name = members::volume_name(self.manifest, self.request, volume);
            berth_docker::args::object("volumes", &name)?;
            if self.docker.inspect_volume(&name).await.is_err() {
                continue;
            }
            if self.request.existing == ExistingVolume::Refuse {
                let message = format!(
                    "volume {name} already exists; restore into a new name or choose overwrite"
                );
                self.add(ConflictKind::VolumeExists, name, message);
                continue;
            }
            let users = volume_users(self.docker, &name).await?;
            if users.is_empty() {
                recreate.push(name);
            } else {
                let message = format!(
                    "volume {name} is used by {}; remove or stop-and-remove them first",
                    users.join(", ")
                );
                self.add(ConflictKind::VolumeInUse, name, message);
            }
        }
        Ok(recreate)
    }

    /// A network backup's network, under its restored name.
    async fn target_network(&mut self) -> Result<(), EngineError> {
        let BackupTarget::Network { name } = &self.manifest.target else {
            return Ok(());
        };
        let name = self.request.name.clone().unwrap_or_else(|| name.clone());
        berth_docker::args::object("name", &name)?;
        if self.docker.inspect_network(&name, None).await.is_ok() {
            let message =
                format!("a network named {name} already exists; restore it under another name");
            self.add(ConflictKind::NameInUse, name, message);
        }
        Ok(())
    }

    /// The network the request asks the containers to join instead of their own.
    async fn joined_network(&mut self, members: &[Member]) -> Result<(), EngineError> {
        let Some(network) = &self.request.network else {
            return Ok(());
        };
        berth_docker::args::object("network", network)?;
        if members.is_empty() {
            return Err(EngineError::bad(
                "network",
                "only container and project restores join a network",
            ));
        }
        if self.docker.inspect_network(network, None).await.is_err() {
            let message = format!(
                "network {network} does not exist on this host; create it or choose another"
            );
            self.add(ConflictKind::NetworkNotFound, network.clone(), message);
        }
        Ok(())
    }

    /// Each container's name, image, host ports and networks; returns the project's
    /// own networks to create.
    async fn members(
        &mut self,
        members: &[Member],
        own: &[OwnNetwork],
    ) -> Result<Vec<OwnNetwork>, EngineError> {
        let taken = if members.is_empty() {
            Vec::new()
        } else {
            ports_in_use(self.docker).await?
        };
        let mut found = Found::default();
        for member in members {
            berth_docker::args::object("name", &member.name)?;
            if self
                .docker
                .inspect_container(&member.name, None)
                .await
                .is_ok()
            {
                let message = format!("a container named {} already exists", member.name);
                self.add(ConflictKind::NameInUse, member.name.clone(), message);
            }
            self.member_image(member, &mut found).await;
            self.member_ports(member, &taken);
            if self.request.network.is_none() {
                self.member_networks(member, own, &mut found).await;
            }
        }
        Ok(found.networks)
    }

    /// The member's image, unless the backup carries it or the host has it.
    async fn member_image(&mut self, member: &Member, found: &mut Found) {
        let image = member
            .config
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        let by_id = member.config.image.clone().unwrap_or_default();
        let carried =
            carried_images(self.manifest).any(|(reference, id)| reference == image || id == by_id);
        if carried
            || found.images_missing.contains(&image)
            || image_present(self.docker, &image, &by_id).await
        {
            return;
        }
        found.images_missing.push(image.clone());
        let message =
            format!("image {image} is not on this host; pull or load it, then restore again");
        self.add(ConflictKind::ImageMissing, image, message);
    }

    /// Host ports as they will be published (after remapping) that running
    /// containers already publish.
    fn member_ports(&mut self, member: &Member, taken: &[u16]) {
        let bindings = member
            .config
            .host_config
            .as_ref()
            .and_then(|h| h.port_bindings.clone())
            .unwrap_or_default();
        for (port, bound) in &bindings {
            let wanted: Vec<u16> = match member.ports.get(port) {
                Some(to) => vec![*to],
                None => bound
                    .iter()
                    .flatten()
                    .filter_map(|x| x.host_port.as_deref().and_then(|p| p.parse().ok()))
                    .collect(),
            };
            for host_port in wanted.into_iter().filter(|p| *p != 0 && taken.contains(p)) {
                let message = format!(
                    "host port {host_port} (for {port} of {}) is taken; remap it",
                    member.name
                );
                self.add(ConflictKind::PortTaken, host_port.to_string(), message);
            }
        }
    }

    /// The member's networks this host lacks: the project's own are created, others
    /// are a (non-blocking) conflict.
    async fn member_networks(&mut self, member: &Member, own: &[OwnNetwork], found: &mut Found) {
        let networks = member
            .config
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.clone())
            .unwrap_or_default();
        for network in networks.keys() {
            let known = found.networks.iter().any(|n| &n.name == network)
                || found.networks_missing.contains(network);
            if known || self.docker.inspect_network(network, None).await.is_ok() {
                continue;
            }
            if let Some(ours) = own.iter().find(|o| &o.name == network) {
                found.networks.push(ours.clone());
                continue;
            }
            found.networks_missing.push(network.clone());
            let message = format!(
                "network {network} does not exist on this host; {} will not be connected to it",
                member.name
            );
            self.add(ConflictKind::NetworkMissing, network.clone(), message);
        }
    }
}

/// The images the backup carries (which need not be on the host): (reference, id).
fn carried_images(manifest: &Manifest) -> impl Iterator<Item = (&str, &str)> {
    manifest.image.iter().flat_map(|i| {
        std::iter::once((i.reference.as_str(), i.id.as_str())).chain(
            i.others
                .iter()
                .map(|o| (o.reference.as_str(), o.id.as_str())),
        )
    })
}

/// A network backup's network as it would be created: (name, request).
fn target_network_body(
    manifest: &Manifest,
    req: &RestoreBackup,
) -> Result<Option<(String, NetworkCreateRequest)>, EngineError> {
    let (BackupTarget::Network { name }, Some(network)) = (&manifest.target, &manifest.network)
    else {
        return Ok(None);
    };
    let body = serde_json::from_value::<NetworkCreateRequest>(network.clone()).map_err(|e| {
        EngineError::bad_request(format!(
            "the backup's network definition does not parse: {e}"
        ))
    })?;
    Ok(Some((
        req.name.clone().unwrap_or_else(|| name.clone()),
        body,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A container backup's manifest with `inspect` as its configuration.
    fn manifest_with(inspect: serde_json::Value, volume: &str) -> Manifest {
        serde_json::from_value(serde_json::json!({
            "format": 1, "berth_version": "t", "id": "b", "host": "h", "created_ms": 0,
            "trigger": "manual", "consistency": "stop",
            "target": {"kind": "container", "name": "web"},
            "container": inspect, "volumes": [{
                "name": volume, "tar_bytes": 0, "sha256": "", "content_digest": "",
                "entries": 0, "driver": "local"
            }]
        }))
        .unwrap()
    }

    proptest! {
        /// Whatever a manifest holds — it is input, from anyone who can upload a file —
        /// planning a restore, listing its privileges and building its create body
        /// answer with a value or an error, never a panic (a multi-byte container id
        /// once panicked the job runner).
        #[test]
        fn any_manifest_plans_without_panicking(
            id in "\\PC{0,40}",
            name in "\\PC{0,20}",
            hostname in "\\PC{0,20}",
            mode in prop_oneof![Just(String::new()), Just("host".to_owned()), "container:\\PC{0,20}", "\\PC{0,12}"],
            bind in "\\PC{0,30}",
            port in "\\PC{0,10}",
            volume in "[a-z]{1,8}",
            new_name in proptest::option::of("\\PC{0,16}"),
        ) {
            let inspect = serde_json::json!({
                "Id": id, "Name": name,
                "Config": {"Image": "app", "Hostname": hostname},
                "HostConfig": {
                    "NetworkMode": mode, "PidMode": mode, "IpcMode": mode,
                    "Binds": [bind, format!("{volume}:/data")],
                    "PortBindings": {port.clone(): [{"HostPort": "8080"}]}
                },
                "NetworkSettings": {"Networks": {mode.clone(): {"Aliases": [id.clone()]}}}
            });
            let m = manifest_with(inspect, &volume);
            let req = RestoreBackup {
                id: "b".into(),
                name: new_name,
                ports: [(port, 9090)].into_iter().collect(),
                ..Default::default()
            };
            if let Ok((members, own)) = members::plan(&m, &req, &Destinations::default()) {
                let _ = super::super::privileges::of_restore(&m, &members, &own, None);
                for member in &members {
                    let _ = create_body(&member.config, &BTreeMap::new(), &member.ports);
                }
            }
        }
    }
}
