//! Installing third-party plugins: `plugins.upload_ticket` → `PUT` of the package →
//! `plugins.install` (with the capabilities approved) → `plugins.uninstall`.
//!
//! The upload streams to `data/plugins/staging/<id>.pkg` under a size cap and is
//! checked at once (shape, manifest, API version, sha256 — [`package::read`]), so the
//! admin sees what the plugin asks for before anything is compiled. Only the staged
//! package's facts are kept in memory; `plugins.install` reads and checks the file
//! again, compiles it, writes it to `data/plugins/installed/` and only then swaps it
//! into the runtime. Upgrades need approval only for capabilities the installed
//! version was not granted.

use crate::transfers::Transfers;
use berth_identity::principal::Principal;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use berth_protocol::api::catalogue::{PluginsInstall, PluginsUninstall, PluginsUploadTicket};
use berth_protocol::api::plugins::{
    Capability, InstallPlugin, PluginInfo, PluginKind, PluginRef, StagedPlugin,
};
use berth_protocol::api::transfers::Ticket;
use berth_protocol::api::{Empty, rfc3339};
use berth_protocol::error::{ErrorBody, ErrorCode};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::errors::Wire;
use crate::server::AppState;
use crate::transfers::Source;
use crate::ws::registry::{Registry, bad_field, blocking, internal};
use berth_engine::Engine;
use berth_engine::prelude::*;
use berth_plugins::PluginRuntime;
use berth_plugins::manifest::{Manifest, ManifestKind};
use berth_plugins::package::{self, Approval, InstalledDir, Package, PackageError};

/// How long a staged package waits for `plugins.install`.
const STAGED_TTL: Duration = Duration::from_secs(15 * 60);
/// Staged packages at once (each up to [`package::MAX_PACKAGE`] on disk).
const MAX_STAGED: usize = 8;

#[derive(Debug)]
struct Staged {
    user: String,
    expires: Instant,
    path: PathBuf,
}

/// Packages uploaded and checked, waiting for `plugins.install`.
#[derive(Debug, Default)]
pub struct Staging {
    staged: Mutex<HashMap<String, Staged>>,
}

impl Staging {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Staged>> {
        self.staged.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets expired packages (and deletes their files).
    fn purge(&self) {
        let now = Instant::now();
        self.lock().retain(|_, s| {
            let keep = s.expires > now;
            if !keep {
                let _ = std::fs::remove_file(&s.path);
            }
            keep
        });
    }

    /// The staged file of `id`, if `user` uploaded it and it has not expired.
    fn get(&self, id: &str, user: &str) -> Result<PathBuf, ErrorBody> {
        self.purge();
        let g = self.lock();
        match g.get(id) {
            None => Err(ErrorBody::new(
                ErrorCode::NotFound,
                "unknown or expired staged package; upload it again",
            )),
            Some(s) if s.user != user => Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "this package was uploaded by another user",
            )),
            Some(s) => Ok(s.path.clone()),
        }
    }

    fn remove(&self, id: &str) {
        if let Some(s) = self.lock().remove(id) {
            let _ = std::fs::remove_file(&s.path);
        }
    }
}

/// What installing plugins needs: the engine (the runtime and the store), the staged
/// uploads and the data directory the packages are kept in.
#[derive(Debug, Clone)]
pub struct Installer {
    pub engine: Arc<Engine>,
    pub staging: Arc<Staging>,
    pub data_dir: PathBuf,
}

impl Installer {
    pub fn of(state: &AppState) -> Self {
        Self {
            engine: Arc::clone(&state.engine),
            staging: Arc::clone(&state.staging),
            data_dir: state.data_dir.clone(),
        }
    }
}

fn installed_dir(state: &Installer) -> InstalledDir {
    InstalledDir::new(berth_core::datadir::installed_plugins_dir(&state.data_dir))
}

fn package_error(e: PackageError) -> ErrorBody {
    match e {
        PackageError::Invalid(m) => {
            ErrorBody::new(ErrorCode::BadRequest, format!("plugin package: {m}"))
        }
        PackageError::Io(e) => internal(&e),
    }
}

fn kind_of(k: ManifestKind) -> PluginKind {
    match k {
        ManifestKind::Base => PluginKind::Base,
        ManifestKind::Storage => PluginKind::Storage,
        ManifestKind::Notifier => PluginKind::Notifier,
    }
}

/// The keys of `m` the admin still has to approve, given what `id` was granted before.
fn needs_approval(state: &Installer, m: &Manifest) -> Vec<String> {
    let before = installed_dir(state)
        .approval(&m.id)
        .map(|a| a.approved)
        .unwrap_or_default();
    package::capability_keys(m)
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect()
}

fn read_package(path: &Path) -> Result<Package, ErrorBody> {
    let f = std::fs::File::open(path).map_err(|e| internal(&e))?;
    package::read(std::io::BufReader::new(f)).map_err(package_error)
}

/// Refuses packages that may not be installed here whatever the admin approves.
fn admissible(p: &Package) -> Result<(), ErrorBody> {
    if PluginRuntime::is_builtin(&p.manifest.id) {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "{:?} is a built-in plugin; give yours another id",
                p.manifest.id
            ),
        ));
    }
    Ok(())
}

/// The `PUT` of a `plugins.upload_ticket`: stream, check, stage.
pub async fn receive(
    state: &Installer,
    user: &str,
    body: axum::body::Body,
) -> Result<StagedPlugin, ErrorBody> {
    state.staging.purge();
    if state.staging.lock().len() >= MAX_STAGED {
        return Err(ErrorBody::new(
            ErrorCode::RateLimited,
            "too many packages waiting to be installed; install them or wait 15 minutes",
        ));
    }
    let dir = berth_core::datadir::plugin_staging_dir(&state.data_dir);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| internal(&e))?;
    let staged = berth_identity::sessions::new_token();
    let path = dir.join(format!("{}.pkg", &staged[..24.min(staged.len())]));
    let r = async {
        write_capped(&path, body).await?;
        let p = path.clone();
        let pkg = tokio::task::spawn_blocking(move || read_package(&p))
            .await
            .map_err(|e| internal(&e))??;
        admissible(&pkg)?;
        Ok::<_, ErrorBody>(pkg)
    }
    .await;
    let pkg = match r {
        Ok(p) => p,
        Err(e) => {
            // A rejected package leaves nothing behind.
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
    };
    let m = &pkg.manifest;
    let schema_v = m.schema().map_err(|e| bad_field("plugin.toml", e))?;
    let installed_version = state
        .engine
        .plugins
        .get(&m.id)
        .ok()
        .filter(|p| !p.builtin)
        .map(|p| p.manifest.version.clone());
    let out = StagedPlugin {
        staged: staged.clone(),
        id: m.id.clone(),
        kind: kind_of(m.kind),
        sha256: m.sha256.clone().unwrap_or_default(),
        manifest: super::plugins::manifest_info(
            m,
            schema_v.as_ref(),
            state.engine.plugins.limits_for(m),
        ),
        capabilities: package::capability_keys(m)
            .into_iter()
            .map(|key| Capability {
                description: package::describe_key(&key),
                key,
            })
            .collect(),
        installed_version,
        needs_approval: needs_approval(state, m),
        expires_at: rfc3339(berth_identity::users::now_ms() + STAGED_TTL.as_millis() as u64),
    };
    tracing::info!(
        user,
        plugin = m.id,
        version = m.version,
        "plugin package staged"
    );
    state.staging.lock().insert(
        staged,
        Staged {
            user: user.to_owned(),
            expires: Instant::now() + STAGED_TTL,
            path,
        },
    );
    Ok(out)
}

/// Streams `body` to `path`, refusing more than [`package::MAX_PACKAGE`] bytes.
async fn write_capped(path: &Path, body: axum::body::Body) -> Result<(), ErrorBody> {
    let mut f = tokio::fs::File::create(path)
        .await
        .map_err(|e| internal(&e))?;
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ErrorBody::new(ErrorCode::BadRequest, format!("the upload broke off: {e}"))
        })?;
        total += chunk.len() as u64;
        if total > package::MAX_PACKAGE {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                format!(
                    "plugin package: larger than {} MiB",
                    package::MAX_PACKAGE >> 20
                ),
            ));
        }
        f.write_all(&chunk).await.map_err(|e| internal(&e))?;
    }
    f.flush().await.map_err(|e| internal(&e))
}

async fn install_upload(
    state: &Installer,
    user: &str,
    params: InstallPlugin,
) -> Result<PluginInfo, ErrorBody> {
    let path = state.staging.get(&params.staged, user)?;
    let pkg = tokio::task::spawn_blocking(move || read_package(&path))
        .await
        .map_err(|e| internal(&e))??;
    admissible(&pkg)?;
    let approved: BTreeSet<&str> = params.approve.iter().map(String::as_str).collect();
    let missing: Vec<String> = needs_approval(state, &pkg.manifest)
        .into_iter()
        .filter(|k| !approved.contains(k.as_str()))
        .collect();
    if !missing.is_empty() {
        // Still staged: the admin may approve and try again.
        return Err(bad_field(
            "approve",
            format!(
                "the plugin asks for capabilities you have not approved: {}",
                missing.join(", ")
            ),
        ));
    }
    let r = install_package(state, user, pkg).await;
    // Installed or refused by the compiler, the staged file has served its purpose.
    state.staging.remove(&params.staged);
    r
}

async fn install_package(
    state: &Installer,
    user: &str,
    pkg: Package,
) -> Result<PluginInfo, ErrorBody> {
    let id = pkg.manifest.id.clone();
    // Compile before touching the disk: a package that does not link changes nothing.
    let loaded = state
        .engine
        .plugins
        .prepare(&id, pkg.wasm.clone(), &pkg.manifest_text)
        .await
        .map_err(|e| e.into_body())?;
    let approval = Approval {
        approved: package::capability_keys(&pkg.manifest)
            .into_iter()
            .collect(),
        installed_ms: berth_identity::users::now_ms(),
        approved_by: user.to_owned(),
    };
    let dir = installed_dir(state);
    tokio::task::spawn_blocking(move || dir.put(&pkg, &approval))
        .await
        .map_err(|e| internal(&e))?
        .map_err(package_error)?;
    state.engine.plugins.activate(Arc::clone(&loaded));
    tracing::info!(
        user,
        plugin = id,
        version = loaded.manifest.version,
        "plugin installed"
    );
    let settings = state
        .engine
        .store
        .plugin_settings()
        .map_err(|e| internal(&e))?;
    Ok(super::plugins::plugin_info(
        &state.engine,
        &id,
        Ok(&loaded),
        &settings,
    ))
}

fn uninstall_package(state: &Installer, id: &str) -> Result<Empty, ErrorBody> {
    if PluginRuntime::is_builtin(id) {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("{id} is built in; disable it instead"),
        ));
    }
    let users: Vec<String> = state
        .engine
        .store
        .instances()
        .map_err(|e| internal(&e))?
        .into_iter()
        .filter(|r| r.plugin == id)
        .map(|r| r.name)
        .collect();
    if !users.is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "plugin {id} still has instances: {}; remove them first",
                users.join(", ")
            ),
        ));
    }
    if !installed_dir(state).remove(id).map_err(package_error)? {
        return Err(ErrorBody::new(
            ErrorCode::NotFound,
            format!("no installed plugin {id:?}"),
        ));
    }
    state.engine.plugins.uninstall(id);
    state
        .engine
        .store
        .update_plugin_settings(|s| {
            s.disabled.remove(id);
        })
        .map_err(|e| internal(&e))?;
    tracing::info!(plugin = id, "plugin uninstalled");
    Ok(Empty {})
}

/// Loads the installed plugins at start: the good ones as extra components, the
/// damaged ones as (id, why) for `plugins.list` to show.
pub fn load_installed(root: &Path) -> (Vec<berth_plugins::ExtraPlugin>, Vec<(String, String)>) {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    let _ = std::fs::remove_dir_all(berth_core::datadir::plugin_staging_dir(root));
    match InstalledDir::new(berth_core::datadir::installed_plugins_dir(root)).load_all() {
        Ok(all) => {
            for r in all {
                match r {
                    Ok(i) => good.push(berth_plugins::ExtraPlugin {
                        id: i.id,
                        wasm: i.wasm,
                        manifest: Some(i.manifest_text),
                    }),
                    Err((id, why)) => {
                        tracing::error!(plugin = id, error = why, "installed plugin is damaged");
                        bad.push((id, why));
                    }
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read the installed plugins"),
    }
    (good, bad)
}

pub fn register(r: &mut Registry) {
    r.method(PluginsUploadTicket, upload_ticket);
    r.method(PluginsInstall, install);
    r.method(PluginsUninstall, uninstall);
}

async fn upload_ticket(
    (principal, transfers): (Principal, Arc<Transfers>),
    _: Empty,
) -> Result<Ticket, ErrorBody> {
    transfers.mint(
        &principal.user,
        berth_protocol::role::Role::Admin,
        "plugin package".into(),
        Source::PluginPackage,
    )
}

async fn install(
    (principal, installer): (Principal, Installer),
    params: InstallPlugin,
) -> Result<PluginInfo, ErrorBody> {
    install_upload(&installer, &principal.user, params).await
}

async fn uninstall(installer: Installer, params: PluginRef) -> Result<Empty, ErrorBody> {
    blocking(move || uninstall_package(&installer, &params.id)).await
}
