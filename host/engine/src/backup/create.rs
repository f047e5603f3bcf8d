//! A backup job: find what to back up, hold the containers still, read each volume
//! once through a never-started helper, streamed into the archive in parts while its
//! checksum and content digest are computed (format 3, see [`super::parts`]) —
//! release the containers, then re-read what was stored and check it before the
//! catalog calls it complete.
//!
//! Nothing touches the disk on the way: Docker → tar → gzip on every core →
//! (encryption) → the storage plugin, through bounded channels — except, when
//! containers are held, the volumes' tars read ahead into [`super::spool`], so the
//! containers run again once Docker has read them.

use crate::EngineError;
use crate::prelude::*;
use std::io::Read;
use std::sync::Arc;

use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupStatus, BackupTarget, Consistency, FORMAT_STREAMED, ImageName,
    Manifest, ManifestImage, ManifestVolume,
};
use berth_protocol::api::jobs::{JobState, LogLevel};
use bollard::Docker;
use bytes::Bytes;
use tokio_util::io::StreamReader;

use super::catalog::CatalogRecord;
use super::crypt::Secret;
use super::journal::{self, Held};
use super::plan::{self, Plan};
use super::{BackupSpec, archive, hooks, open_passphrase, session, storage, volume_reader};
use crate::Engine;
use crate::jobs::JobCtx;
use berth_core::secrets::SecretKey;
use berth_core::time::now_ms;
use berth_docker::helper::Helper;
use berth_plugins::storage::{Session, StorageInstance};

/// Images as `docker save` writes them, as a blocking `Read` for the archive thread.
/// Must be created on the runtime.
fn image_reader(docker: &Docker, names: &[String]) -> impl Read + Send + use<> {
    use futures_util::{StreamExt, TryStreamExt};
    let stream = match names {
        [one] => docker.export_image(one).boxed(),
        many => {
            let many: Vec<&str> = many.iter().map(String::as_str).collect();
            docker.export_images(&many).boxed()
        }
    };
    super::gather::reader(stream.map_err(std::io::Error::other))
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

pub async fn run(
    engine: &Arc<Engine>,
    spec: &BackupSpec,
    ctx: &JobCtx,
) -> Result<String, EngineError> {
    ctx.set_state(JobState::Starting, "preparing");
    let host = engine.hosts.get(spec.host.as_deref())?;
    let docker = host.docker().await?;
    let storage = storage(engine, spec.storage.as_deref())?;
    let secret = open_passphrase(engine, spec.passphrase.as_deref())?;
    let paths = super::host_paths::HostPaths::for_target(engine, &spec.target)?;
    // Held until the job ends: no other job changes what this one reads.
    let (plan, _objects) =
        plan::plan_and_hold(&docker, host.self_id.as_deref(), &spec.target, &paths, ctx).await?;
    plan::refuse_own_data(host.own_data(&docker).await?, &plan)?;
    plan.log_binds(ctx);
    let session = session(engine, &storage).await?;
    ctx.check()?;

    let id = crate::jobs::new_id("b");
    ctx.set_backup(&id);
    let job = BackupJob {
        engine,
        spec,
        ctx,
        key: object_key(&spec.target, &id, secret.is_some()),
        id,
        created_ms: now_ms(),
        docker,
        host_name: host.name.clone(),
        storage,
        session,
        secret,
    };
    job.run(plan).await
}

/// One backup as it runs, after planning: its phases in order are the methods below
/// (images and helpers, hooks, hold, catalog, write, release, verify, commit).
struct BackupJob<'a> {
    engine: &'a Engine,
    spec: &'a BackupSpec,
    ctx: &'a JobCtx,
    docker: Docker,
    host_name: String,
    storage: StorageInstance,
    session: Session,
    secret: Option<Secret>,
    id: String,
    key: String,
    created_ms: u64,
}

/// The images a backup carries: the names `docker save` is given, and their entry.
type SavedImages = (Vec<String>, ManifestImage);

impl BackupJob<'_> {
    async fn run(self, plan: Plan) -> Result<String, EngineError> {
        let ctx = self.ctx;
        // Asked of Docker before anything is held: the time it takes is not downtime.
        let image = self.images(&plan).await;
        let helpers = self.helpers(&plan).await?;
        let hooks = self.pre_hooks(&plan).await?;
        let holding = match self.hold(&plan).await {
            Ok(holding) => holding,
            Err(e) => {
                let _ = post_hooks(&self.docker, &hooks, ctx).await;
                return Err(e);
            }
        };
        // Held containers run again once Docker has read their volumes (the spool
        // takes them while the archive is written), or when the work ends first.
        let (read, mut all_read) = tokio::sync::oneshot::channel();
        let read = (holding.is_some() && self.engine.backup_spool).then_some(read);
        // Everything between holding and releasing can be cancelled; the release
        // always runs.
        let work = async {
            let (entry, manifest) = self.catalog_pending(&plan, image.as_ref())?;
            self.write(&plan, image, helpers, entry, manifest, read)
                .await
        };
        tokio::pin!(work);
        let ended = tokio::select! {
            r = &mut work => Some(r),
            Ok(()) = &mut all_read => None,
            () = ctx.cancel.cancelled() => Some(Err(ctx.cancelled())),
        };
        // After the containers run again, whatever became of the backup.
        let early = ended.is_none();
        let release = async {
            if let Some(holding) = holding {
                if early {
                    ctx.log(
                        LogLevel::Info,
                        "volumes read: the containers run again while the archive is written",
                    );
                }
                holding.release(ctx).await;
            }
            post_hooks(&self.docker, &hooks, ctx).await
        };
        // The upload goes on while they start.
        let finish = async {
            match ended {
                Some(done) => done,
                None => tokio::select! {
                    r = &mut work => r,
                    () = ctx.cancel.cancelled() => Err(ctx.cancelled()),
                },
            }
        };
        let (post, done) = tokio::join!(release, finish);
        let written = done.and_then(|x| post.map(|()| x));
        let verified = match written {
            Ok((entry, manifest)) => self
                .verify(&entry, &manifest)
                .await
                .map(|()| (entry, manifest)),
            Err(e) => Err(e),
        };
        match verified {
            Ok((entry, manifest)) => self.commit(entry, manifest),
            Err(e) => {
                forget(self.engine, &self.id).await;
                Err(e)
            }
        }
    }

    /// Hooks run only in running containers (a stopped one has nothing to flush),
    /// dependents first; a failing pre hook undoes those already run.
    async fn pre_hooks(&self, plan: &Plan) -> Result<Vec<(String, hooks::Resolved)>, EngineError> {
        let resolved = plan
            .hooked
            .iter()
            .map(|(c, labels)| Ok((c.clone(), hooks::resolve(&self.spec.hooks, labels)?)))
            .collect::<Result<Vec<_>, EngineError>>()?;
        for (i, (container, hook)) in resolved.iter().enumerate() {
            if let Some(pre) = &hook.pre
                && let Err(e) =
                    hooks::run(&self.docker, container, "pre", pre, hook, self.ctx).await
            {
                let _ = post_hooks(&self.docker, &resolved[..i], self.ctx).await;
                return Err(e);
            }
        }
        Ok(resolved)
    }

    /// The never-started containers each volume is read through, in the plan's order;
    /// they live until the archive is written.
    async fn helpers(&self, plan: &Plan) -> Result<Vec<Helper>, EngineError> {
        let mut helpers = Vec::with_capacity(plan.volumes.len());
        for volume in &plan.volumes {
            helpers.push(super::host_paths::reader(&self.docker, volume).await?);
        }
        Ok(helpers)
    }

    /// Stops or pauses the containers as the consistency mode asks (a hot backup
    /// holds nothing).
    async fn hold(&self, plan: &Plan) -> Result<Option<journal::Holding>, EngineError> {
        let how = match self.spec.consistency {
            Consistency::Hot => return Ok(None),
            Consistency::Stop => Held::Stopped,
            Consistency::Pause => Held::Paused,
        };
        let store = &self.engine.store;
        Ok(Some(
            journal::hold(&self.docker, store, self.ctx, &plan.subjects, how).await?,
        ))
    }

    /// The images a backup carries, named as `docker save` is to save them: by
    /// reference while that still names the image, so a load brings the tag back;
    /// otherwise by id. Their size and checksum are found as they are written.
    async fn images(&self, plan: &Plan) -> Option<SavedImages> {
        let first = match (self.spec.include_image, plan.images.first()) {
            (true, Some(first)) => first,
            _ => return None,
        };
        let mut names = Vec::new();
        for (reference, id) in &plan.images {
            let same = self
                .docker
                .inspect_image(reference)
                .await
                .ok()
                .and_then(|i| i.id)
                .is_some_and(|i| &i == id);
            names.push(if same { reference.clone() } else { id.clone() });
        }
        let others = plan.images[1..]
            .iter()
            .map(|(reference, id)| ImageName {
                reference: reference.clone(),
                id: id.clone(),
            })
            .collect();
        let image = ManifestImage {
            reference: first.0.clone(),
            id: first.1.clone(),
            tar_bytes: 0,
            sha256: String::new(),
            others,
        };
        Some((names, image))
    }

    /// The manifest as far as it is known before the data, and the catalog entry,
    /// stored as pending before the first byte is: a crash from here on is cleaned up
    /// at the next start.
    fn catalog_pending(
        &self,
        plan: &Plan,
        image: Option<&SavedImages>,
    ) -> Result<(BackupEntry, Manifest), EngineError> {
        let spec = self.spec;
        let manifest = Manifest {
            format: FORMAT_STREAMED,
            berth_version: env!("CARGO_PKG_VERSION").to_owned(),
            id: self.id.clone(),
            host: self.host_name.clone(),
            created_ms: self.created_ms,
            trigger: spec.trigger,
            consistency: spec.consistency,
            target: spec.target.clone(),
            container: plan.container.clone(),
            network: plan.network.clone(),
            was_running: plan.was_running,
            image_id: plan.image_id.clone(),
            volumes: plan.volumes.clone(),
            image: image.map(|(_, m)| m.clone()),
            binds_not_included: plan.binds.clone(),
            members: plan.members.clone(),
            networks: plan.networks.clone(),
            seal: None,
        };
        let entry = BackupEntry {
            id: self.id.clone(),
            target: spec.target.clone(),
            host: self.host_name.clone(),
            trigger: spec.trigger,
            consistency: spec.consistency,
            storage: self.storage.name.clone(),
            key: self.key.clone(),
            size: 0,
            created_ms: self.created_ms,
            encrypted: self.secret.is_some(),
            sha256: String::new(),
            status: BackupStatus::Pending,
            volumes: ManifestVolume::volume_names(&plan.volumes),
            data_bytes: 0,
            origin: BackupOrigin::ThisInstallation,
            copies: Vec::new(),
            schedule: spec.schedule.as_ref().map(|s| s.name.clone()),
            pinned: false,
        };
        self.put_catalog(&entry, &manifest)?;
        Ok((entry, manifest))
    }

    fn put_catalog(&self, entry: &BackupEntry, manifest: &Manifest) -> Result<(), EngineError> {
        let record = CatalogRecord {
            entry: entry.clone(),
            manifest: manifest.clone(),
        };
        self.engine
            .store
            .put_backup(&record)
            .map_err(|e| EngineError::internal(&e))
    }

    /// The one read of each volume (and the images), streamed into the archive and
    /// on to the storage; returns the entry with the size and checksum of what was
    /// stored, and the complete manifest (figures found on the way, sealed by this
    /// installation, see `origin`). With `read_ahead`, the volumes are read through
    /// the spool, which says there when Docker has read them all.
    async fn write(
        &self,
        plan: &Plan,
        image: Option<SavedImages>,
        helpers: Vec<Helper>,
        mut entry: BackupEntry,
        manifest: Manifest,
        read_ahead: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(BackupEntry, Manifest), EngineError> {
        let ctx = self.ctx;
        // Totals first: a phase change publishes, and bytes must not go back within one.
        ctx.totals(self.estimate(), plan.volumes.len() as u64);
        ctx.set_state(JobState::Running, "writing");
        let image_source = image
            .as_ref()
            .map(|(names, _)| Box::new(image_reader(&self.docker, names)) as Box<dyn Read + Send>);
        let mut volumes: Vec<Box<dyn Read + Send>> = helpers
            .iter()
            .map(|helper| Box::new(volume_reader(&self.docker, &helper.id)) as Box<dyn Read + Send>)
            .collect();
        if let Some(done) = read_ahead {
            volumes = super::spool::ahead(volumes, &self.engine.data_dir, done)
                .map_err(|e| EngineError::failed(format!("cannot make the spool: {e}")))?;
        }
        let sources = archive::Sources {
            image: image_source,
            volumes,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
        let key = Arc::clone(&self.engine.secret_key);
        let writer = spawn_archive_writer(tx, self.secret.clone(), manifest, sources, ctx, key);
        let body = StreamReader::new(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let stored = self.session.put(&self.key, body).await;
        let written = writer.await.map_err(|e| EngineError::internal(&e))?;
        drop(helpers);
        let (written, manifest) = match (written, stored) {
            // The writer stops on a broken pipe when the upload ended first: the
            // storage's own error says why.
            (Err(e), Err(refused)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                return Err(EngineError::from(refused));
            }
            (Err(e), _) => return Err(super::io_body(&e)),
            (Ok(_), Err(e)) => return Err(EngineError::from(e)),
            (Ok((w, _)), Ok(size)) if size != w.bytes => {
                return Err(EngineError::failed(format!(
                    "the storage kept {size} bytes of {}",
                    w.bytes
                )));
            }
            (Ok(w), Ok(_)) => w,
        };
        self.log_figures(&manifest);
        entry.size = written.bytes;
        entry.sha256 = written.sha256;
        entry.data_bytes = manifest.volumes.iter().map(|v| v.tar_bytes).sum();
        Ok((entry, manifest))
    }

    /// The bytes this backup will read, for its progress: what the last complete
    /// backup of the same target read (0, unknown, for the first).
    fn estimate(&self) -> u64 {
        let entries = self.engine.store.backup_entries().unwrap_or_default();
        entries
            .iter()
            .rev()
            .find(|e| {
                e.status == BackupStatus::Complete
                    && e.target == self.spec.target
                    && e.host == self.host_name
            })
            .map_or(0, |e| e.data_bytes)
    }

    fn log_figures(&self, manifest: &Manifest) {
        for volume in &manifest.volumes {
            self.ctx.log(
                LogLevel::Info,
                format!(
                    "{}: {} entries, {} bytes of tar",
                    super::host_paths::what(volume),
                    volume.entries,
                    volume.tar_bytes
                ),
            );
        }
        if let Some(image) = &manifest.image {
            self.ctx.log(
                LogLevel::Info,
                format!("image {}: {} bytes saved", image.reference, image.tar_bytes),
            );
        }
    }

    /// Re-reads what was stored before calling it a backup.
    async fn verify(&self, entry: &BackupEntry, manifest: &Manifest) -> Result<(), EngineError> {
        let ctx = self.ctx;
        ctx.totals(entry.size, manifest.volumes.len() as u64);
        ctx.set_state(JobState::Verifying, "verifying");
        let read = super::read_stored(
            &self.session,
            &self.key,
            self.secret.clone(),
            Some(manifest.clone()),
            ctx,
            archive::check_sha,
        );
        let walked = tokio::select! {
            r = read => r?,
            () = ctx.cancel.cancelled() => return Err(ctx.cancelled()),
        };
        if walked.stored.sha256 == entry.sha256 && &walked.manifest == manifest {
            Ok(())
        } else {
            Err(EngineError::failed(
                "the stored backup reads back differently from what was written",
            ))
        }
    }

    /// The catalog calls the backup complete.
    fn commit(&self, mut entry: BackupEntry, manifest: Manifest) -> Result<String, EngineError> {
        entry.status = BackupStatus::Complete;
        self.put_catalog(&entry, &manifest)?;
        self.ctx.announce(super::catalog::notice(&entry, "created"));
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
}

/// Writes the archive on a blocking thread into `tx`; a failure is sent down the
/// channel too, so the upload sees it rather than a clean end. The complete manifest
/// is sealed with the installation's `key`.
fn spawn_archive_writer(
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    secret: Option<Secret>,
    manifest: Manifest,
    sources: archive::Sources,
    ctx: &JobCtx,
    key: Arc<SecretKey>,
) -> tokio::task::JoinHandle<std::io::Result<(archive::Written, Manifest)>> {
    let failures = tx.clone();
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let written = archive::write_archive(
            archive::ChanWriter(tx),
            secret.as_ref(),
            &manifest,
            sources,
            Some(&ctx),
            &|m| super::origin::seal(&key, m),
        );
        written.map(|(_, w, m)| (w, m)).inspect_err(|e| {
            let _ = failures.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
        })
    })
}

/// Post hooks in start order (the reverse of `hooks`); every one runs, the first
/// failure is the result.
async fn post_hooks(
    docker: &Docker,
    resolved: &[(String, hooks::Resolved)],
    ctx: &JobCtx,
) -> Result<(), EngineError> {
    let mut first = Ok(());
    for (c, h) in resolved.iter().rev() {
        if let Some(post) = &h.post {
            let r = hooks::run(docker, c, "post", post, h, ctx).await;
            if first.is_ok() {
                first = r;
            }
        }
    }
    first
}

/// A backup that did not complete leaves nothing: no object, no catalog entry.
async fn forget(engine: &Engine, id: &str) {
    match engine.store.backup(id) {
        Ok(Some(rec)) => super::discard(engine, &rec.entry).await,
        Ok(None) => {}
        Err(e) => tracing::error!(backup = id, error = %e, "cannot read the catalog"),
    }
}
