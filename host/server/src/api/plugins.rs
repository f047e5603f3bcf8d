//! Plugins and their configured instances: `plugins.*`, `storage.*`, `notifications.*`.
//!
//! An instance's secrets go in through `plugins.configure` and come out only as the
//! names of the fields that are set; they are sealed before they reach the store and
//! opened only to build the configuration handed to the plugin's `init`.

use berth_engine::Engine;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use berth_protocol::api::catalogue::{
    NotificationsList, NotificationsTest, PluginsConfigure, PluginsDisable, PluginsEnable,
    PluginsInstances, PluginsList, PluginsTest, PluginsUnconfigure, StorageList, StorageSetDefault,
    StorageTest,
};
use berth_protocol::api::plugins::StorageRef;
use berth_protocol::api::plugins::{
    ConfigureInstance, InstanceList, InstanceRef, NotifierInfo, NotifierList, NotifyTestResult,
    PluginHealth, PluginInfo, PluginInstance, PluginKind, PluginList, PluginManifestInfo,
    PluginRef, PluginTestResult, StorageInfo, StorageInstances, StorageTestResult,
};
use berth_protocol::api::{Empty, rfc3339};
use berth_protocol::error::{ErrorBody, ErrorCode};
use serde_json::{Map, Value};

use crate::errors::{Wire, WireResult};
use crate::ws::registry::{Registry, bad_field, blocking, internal};
use berth_engine::prelude::*;
use berth_plugins::egress::{self, Pattern};
use berth_plugins::instances::{self, InstanceRecord, LOCAL, PluginSettings};
use berth_plugins::notifier::{Level, Notification};
use berth_plugins::storage::StorageInstance;
use berth_plugins::{HealthStatus, LoadedPlugin, schema};

fn store_err(e: berth_core::store::StoreError) -> ErrorBody {
    internal(&e)
}

fn not_found(what: &str, name: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("no {what} {name:?}"))
}

fn kind_of(k: berth_plugins::PluginKind) -> PluginKind {
    match k {
        berth_plugins::PluginKind::Base => PluginKind::Base,
        berth_plugins::PluginKind::Storage => PluginKind::Storage,
        berth_plugins::PluginKind::Notifier => PluginKind::Notifier,
    }
}

fn health_of(s: HealthStatus) -> PluginHealth {
    match s {
        HealthStatus::Healthy => PluginHealth::Healthy,
        HealthStatus::Degraded => PluginHealth::Degraded,
        HealthStatus::Unhealthy => PluginHealth::Unhealthy,
    }
}

/// The names of a plugin's secret fields: the manifest's list and the schema's
/// `writeOnly` properties.
fn secret_names(m: &berth_plugins::manifest::Manifest, schema: Option<&Value>) -> Vec<String> {
    let mut names = m.capabilities.secrets.clone();
    if let Some(s) = schema {
        for f in schema::write_only_fields(s) {
            if !names.contains(&f) {
                names.push(f);
            }
        }
    }
    names
}

/// The default storage instance's name.
fn default_storage(settings: &PluginSettings) -> &str {
    settings.default_storage.as_deref().unwrap_or(LOCAL)
}

fn instance_view(
    engine: &Engine,
    rec: &InstanceRecord,
    settings: &PluginSettings,
) -> PluginInstance {
    let kind = engine
        .plugins
        .get(&rec.plugin)
        .ok()
        .map(|p| kind_of(p.kind));
    PluginInstance {
        name: rec.name.clone(),
        plugin: rec.plugin.clone(),
        kind,
        config: rec.config.clone(),
        secrets_set: rec.secrets.keys().cloned().collect(),
        egress: rec.egress.clone(),
        allow_private: rec.allow_private,
        path: (kind == Some(PluginKind::Storage))
            .then(|| engine.services.storage_dir(rec).display().to_string()),
        enabled: !settings.disabled.contains(&rec.plugin),
        created_at: rfc3339(rec.created_ms),
        updated_at: rfc3339(rec.updated_ms),
    }
}

/// A storage directory an admin may choose: absolute, no `..`, not the root, and not
/// in or above the data directory ([`storage_path_refusal`]).
fn check_storage_path(engine: &Engine, path: &str) -> Result<PathBuf, ErrorBody> {
    let p = Path::new(path);
    let bad = |m: &str| Err(bad_field("path", format!("{path:?}: {m}")));
    if !p.is_absolute() {
        return bad("must be an absolute directory");
    }
    if p.components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return bad("must not contain `.` or `..`");
    }
    if p.parent().is_none() || berth_plugins::services::resolved(p).parent().is_none() {
        return bad("must not be the root directory");
    }
    if let Some(why) = engine.services.storage_path_refusal(p) {
        return bad(why);
    }
    Ok(p.to_path_buf())
}

/// Checks a configuration request and turns it into the record to store.
fn build_record(
    engine: &Engine,
    params: ConfigureInstance,
    existing: Option<InstanceRecord>,
) -> Result<InstanceRecord, ErrorBody> {
    let plugin = configurable_plugin(engine, &params, existing.as_ref())?;
    let secret_names = secret_names(&plugin.manifest, plugin.schema.as_ref());
    let (config, changes) = split_secrets(params.config, params.secrets, &secret_names)?;
    if let Some(k) = changes.keys().find(|k| !secret_names.contains(k)) {
        return Err(bad_field(
            "secrets",
            format!(
                "{k:?} is not a secret field of {} (its secrets: {})",
                params.plugin,
                secret_names.join(", ")
            ),
        ));
    }
    let mut sealed = existing
        .as_ref()
        .map(|e| e.secrets.clone())
        .unwrap_or_default();
    for (k, v) in changes {
        match v {
            Some(v) if !v.is_empty() => {
                sealed.insert(k, engine.secret_key.seal(v.as_bytes()));
            }
            _ => {
                sealed.remove(&k);
            }
        }
    }
    let now = berth_identity::users::now_ms();
    let mut rec = InstanceRecord {
        name: params.name,
        plugin: params.plugin.clone(),
        config: Value::Object(config),
        secrets: sealed,
        egress: Vec::new(),
        allow_private: params.allow_private,
        path: None,
        created_ms: existing.as_ref().map_or(now, |e| e.created_ms),
        updated_ms: now,
    };
    let full = engine.services.full_config(&rec).wire()?;
    check_config(&plugin, &full)?;
    rec.egress = granted_egress(&plugin, params.egress, params.allow_private, &full)?;
    if plugin.kind == berth_plugins::PluginKind::Storage {
        if let Some(path) = &params.path {
            rec.path = Some(check_storage_path(engine, path)?.display().to_string());
        }
    } else if params.path.is_some() {
        return Err(bad_field("path", "only storage instances have a directory"));
    }
    Ok(rec)
}

/// The plugin an instance configures: a valid new name (or the same plugin's
/// instance) of a plugin that takes configuration.
fn configurable_plugin(
    engine: &Engine,
    params: &ConfigureInstance,
    existing: Option<&InstanceRecord>,
) -> Result<Arc<LoadedPlugin>, ErrorBody> {
    if !instances::valid_name(&params.name) {
        return Err(bad_field(
            "name",
            format!(
                "instance name {:?}: use 1–40 of a-z, 0-9, '-', '_', starting with a letter or digit",
                params.name
            ),
        ));
    }
    if params.name == LOCAL {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            "\"local\" is the built-in storage instance; choose another name",
        ));
    }
    let plugin = engine
        .plugins
        .get(&params.plugin)
        .map_err(|e| e.into_body())?;
    if plugin.kind == berth_plugins::PluginKind::Base {
        return Err(bad_field(
            "plugin",
            format!("plugin {} has nothing to configure", params.plugin),
        ));
    }
    if let Some(old) = existing
        && old.plugin != params.plugin
    {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "instance {:?} belongs to plugin {}; choose another name",
                params.name, old.plugin
            ),
        ));
    }
    Ok(plugin)
}

/// Secret fields to set (`Some`, non-empty) or clear.
type SecretChanges = BTreeMap<String, Option<String>>;

/// The plain configuration and the secret changes: secrets may come inline in
/// `config` (a form posts one object) or in `secrets`.
fn split_secrets(
    config: Value,
    secrets: SecretChanges,
    secret_names: &[String],
) -> Result<(Map<String, Value>, SecretChanges), ErrorBody> {
    let mut config = match config {
        Value::Null => Map::new(),
        Value::Object(m) => m,
        _ => return Err(bad_field("config", "the configuration is a JSON object")),
    };
    let mut changes = secrets;
    for name in secret_names {
        match config.remove(name) {
            Some(Value::String(s)) => {
                changes.entry(name.clone()).or_insert(Some(s));
            }
            Some(Value::Null) | None => {}
            Some(_) => return Err(bad_field(name, format!("{name}: must be a string"))),
        }
    }
    Ok((config, changes))
}

/// The whole configuration (secrets opened) against the plugin's schema.
fn check_config(plugin: &LoadedPlugin, full: &Value) -> Result<(), ErrorBody> {
    match &plugin.schema {
        Some(s) => schema::validate(s, full).map_err(|m| {
            let field = m.split(':').next().unwrap_or("config").to_owned();
            bad_field(&field, m)
        }),
        None if full.as_object().is_some_and(|m| !m.is_empty()) => Err(bad_field(
            "config",
            format!("plugin {} takes no configuration", plugin.manifest.id),
        )),
        None => Ok(()),
    }
}

/// Egress: only for plugins whose manifest has HTTP, each grant within it; a `url`
/// in the configuration must be granted (its origin is, when nothing is given).
fn granted_egress(
    plugin: &LoadedPlugin,
    mut egress: Vec<String>,
    allow_private: bool,
    full: &Value,
) -> Result<Vec<String>, ErrorBody> {
    let id = &plugin.manifest.id;
    let manifest_http = plugin.manifest.http_patterns();
    if manifest_http.is_empty() {
        if !egress.is_empty() || allow_private {
            return Err(bad_field(
                "egress",
                format!("plugin {id} has no network access to grant"),
            ));
        }
        return Ok(egress);
    }
    // The address the instance talks to: a notifier's `url`, a storage's `endpoint`.
    let url = ["url", "endpoint"]
        .iter()
        .find_map(|field| full.get(*field).and_then(Value::as_str))
        .filter(|u| !u.is_empty());
    if egress.is_empty()
        && let Some(origin) = url.and_then(egress::origin_of)
    {
        egress.push(origin);
    }
    for grant in &egress {
        let pattern = Pattern::parse(grant).map_err(|m| bad_field("egress", m))?;
        if !pattern.within(&manifest_http) {
            return Err(bad_field(
                "egress",
                format!(
                    "{grant} is outside what plugin {id} may reach ({})",
                    plugin.manifest.capabilities.http.join(", ")
                ),
            ));
        }
    }
    if let Some(url) = url {
        let granted = egress
            .iter()
            .filter_map(|g| Pattern::parse(g).ok())
            .any(|g| g.allows_url(url));
        if !granted {
            return Err(bad_field(
                "egress",
                format!(
                    "the URL's origin {} is not in the egress allow-list",
                    egress::origin_of(url).unwrap_or_default()
                ),
            ));
        }
    }
    Ok(egress)
}

/// Writes, reads back, lists and deletes 256 KiB through a storage instance.
async fn storage_round_trip(
    engine: &Engine,
    inst: StorageInstance,
) -> Result<StorageTestResult, ErrorBody> {
    if let Some(dir) = &inst.dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            ErrorBody::new(
                ErrorCode::Unavailable,
                format!(
                    "storage {}: cannot create {}: {e}",
                    inst.name,
                    dir.display()
                ),
            )
        })?;
    }
    let started = Instant::now();
    let session = engine
        .plugins
        .session(&inst)
        .await
        .map_err(|e| e.into_body())?;
    // 256 KiB of varied bytes: big enough to cross a chunk boundary in the guest's
    // reads, small enough to be instant.
    let data: Vec<u8> = (0..256 * 1024u32)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    let key = format!(".berth-test/{}", std::process::id());
    let w = Instant::now();
    let bytes = session
        .put(&key, &data[..])
        .await
        .map_err(|e| e.into_body())?;
    let write_ms = w.elapsed().as_secs_f64() * 1e3;
    let r = Instant::now();
    let mut back = Vec::with_capacity(data.len());
    session
        .get(&key, &mut back)
        .await
        .map_err(|e| e.into_body())?;
    let read_ms = r.elapsed().as_secs_f64() * 1e3;
    let listed = session
        .list(".berth-test/", None, 100)
        .await
        .map_err(|e| e.into_body())?;
    session.delete(&key).await.map_err(|e| e.into_body())?;
    if back != data || !listed.objects.iter().any(|o| o.key == key) {
        return Err(ErrorBody::new(
            ErrorCode::Unavailable,
            format!(
                "storage {} did not give back what was written ({} of {} bytes)",
                inst.name,
                back.len(),
                data.len()
            ),
        ));
    }
    Ok(StorageTestResult {
        name: inst.name,
        bytes,
        write_ms,
        read_ms,
        total_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

async fn notify_test(engine: &Engine, name: &str) -> Result<NotifyTestResult, ErrorBody> {
    let rec = engine
        .store
        .instance(name)
        .map_err(store_err)?
        .ok_or_else(|| not_found("notifier instance", name))?;
    let settings = engine.store.plugin_settings().map_err(store_err)?;
    if settings.disabled.contains(&rec.plugin) {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("plugin {} is disabled; enable it first", rec.plugin),
        ));
    }
    let inst = engine.services.notifier_instance(&rec).wire()?;
    let n = Notification {
        kind: "test".into(),
        level: Level::Info,
        title: "Berth test notification".into(),
        body: "If you can read this, Berth's notifications reach you.".into(),
        fields: vec![
            ("instance".into(), name.to_owned()),
            ("berth".into(), crate::VERSION.to_owned()),
        ],
    };
    let d = engine
        .plugins
        .notify(&inst, &n)
        .await
        .map_err(|e| e.into_body())?;
    Ok(NotifyTestResult {
        name: name.to_owned(),
        attempts: d.attempts,
        total_ms: d.elapsed.as_secs_f64() * 1e3,
    })
}

/// The facts about a plugin's manifest the UI shows.
pub(super) fn manifest_info(
    m: &berth_plugins::manifest::Manifest,
    schema: Option<&Value>,
    limits: berth_plugins::Limits,
) -> PluginManifestInfo {
    PluginManifestInfo {
        secrets: secret_names(m, schema),
        name: m.name.clone(),
        version: m.version.clone(),
        description: m.description.clone(),
        api: m.api.clone(),
        config_schema: schema.cloned(),
        http: m.capabilities.http.clone(),
        storage_dir: m.capabilities.storage_dir,
        memory_mib: (limits.memory >> 20) as u64,
        call_timeout_ms: limits.call_timeout.as_millis() as u64,
    }
}

/// One row of `plugins.list`.
pub(super) fn plugin_info(
    engine: &Engine,
    id: &str,
    p: Result<&LoadedPlugin, &String>,
    settings: &PluginSettings,
) -> PluginInfo {
    let builtin = berth_plugins::PluginRuntime::is_builtin(id);
    let enabled = !settings.disabled.contains(id);
    match p {
        Ok(p) => {
            let h = engine.plugins.call_health(id);
            PluginInfo {
                id: id.to_owned(),
                kind: Some(kind_of(p.kind)),
                builtin,
                sha256: Some(p.sha256.clone()),
                health: health_of(h.status),
                message: (!h.message.is_empty()).then_some(h.message),
                capabilities: p.manifest.describe_capabilities(),
                enabled,
                manifest: Some(manifest_info(&p.manifest, p.schema.as_ref(), p.limits)),
            }
        }
        Err(why) => PluginInfo {
            id: id.to_owned(),
            kind: None,
            builtin,
            sha256: None,
            health: PluginHealth::Unhealthy,
            message: Some(why.clone()),
            capabilities: Vec::new(),
            enabled,
            manifest: None,
        },
    }
}

pub(super) fn find_storage(
    engine: &Engine,
    name: Option<&str>,
) -> Result<StorageInstance, ErrorBody> {
    let settings = engine.store.plugin_settings().map_err(store_err)?;
    let name = name.unwrap_or(default_storage(&settings)).to_owned();
    engine
        .services
        .storage_instances()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| not_found("storage instance", &name))
}

pub fn register(r: &mut Registry) {
    r.method(PluginsList, list);
    r.method(PluginsEnable, enable);
    r.method(PluginsDisable, disable);
    r.method(PluginsInstances, instances);
    r.method(PluginsConfigure, configure);
    r.method(PluginsUnconfigure, unconfigure);
    r.method(PluginsTest, test);
    r.method(StorageList, storage_list);
    r.method(StorageSetDefault, storage_set_default);
    r.method(StorageTest, storage_test);
    r.method(NotificationsList, notifications_list);
    r.method(NotificationsTest, notifications_test);
}

async fn list(engine: Arc<Engine>, _: Empty) -> Result<PluginList, ErrorBody> {
    let settings = engine.store.plugin_settings().map_err(store_err)?;
    let rt = &engine.plugins;
    let plugins = rt
        .all()
        .map(|(id, p)| plugin_info(&engine, &id, p.as_ref().map(|p| &**p), &settings))
        .collect();
    Ok(PluginList { plugins })
}

async fn enable(engine: Arc<Engine>, params: PluginRef) -> Result<Empty, ErrorBody> {
    engine.plugins.get(&params.id).map_err(|e| e.into_body())?;
    blocking(move || {
        engine
            .store
            .update_plugin_settings(|s| {
                s.disabled.remove(&params.id);
            })
            .map_err(store_err)?;
        Ok(Empty {})
    })
    .await
}

async fn disable(engine: Arc<Engine>, params: PluginRef) -> Result<Empty, ErrorBody> {
    engine.plugins.get(&params.id).map_err(|e| e.into_body())?;
    blocking(move || {
        let settings = engine.store.plugin_settings().map_err(store_err)?;
        let default = default_storage(&settings);
        let default_plugin = if default == LOCAL {
            Some("storage-local".to_owned())
        } else {
            engine.store.instance(default).map_err(store_err)?.map(|r| r.plugin)
        };
        if default_plugin.as_deref() == Some(params.id.as_str()) {
            return Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("plugin {} holds the default storage {default:?}; make another instance the default first", params.id),
            ));
        }
        engine.store
            .update_plugin_settings(|s| {
                s.disabled.insert(params.id.clone());
            })
            .map_err(store_err)?;
        Ok(Empty {})
    })
    .await
}

async fn instances(engine: Arc<Engine>, _: Empty) -> Result<InstanceList, ErrorBody> {
    blocking(move || {
        let settings = engine.store.plugin_settings().map_err(store_err)?;
        let instances = engine
            .store
            .instances()
            .map_err(store_err)?
            .iter()
            .map(|r| instance_view(&engine, r, &settings))
            .collect();
        Ok(InstanceList { instances })
    })
    .await
}

async fn configure(
    engine: Arc<Engine>,
    params: ConfigureInstance,
) -> Result<PluginInstance, ErrorBody> {
    let name = params.name.clone();
    let existing = engine.store.instance(&name).map_err(store_err)?;
    let rec = build_record(&engine, params, existing)?;
    // The plugin judges the configuration too (its own rules, e.g. "Gotify needs
    // a token") before anything is saved.
    let kind = engine
        .plugins
        .get(&rec.plugin)
        .map_err(|e| e.into_body())?
        .kind;
    let dir =
        (kind == berth_plugins::PluginKind::Storage).then(|| engine.services.storage_dir(&rec));
    if let Some(d) = &dir {
        std::fs::create_dir_all(d)
            .map_err(|e| bad_field("path", format!("cannot create {}: {e}", d.display())))?;
    }
    let config = engine.services.full_config(&rec).wire()?.to_string();
    engine
        .plugins
        .init_and_check(&rec.plugin, dir.as_deref(), &config)
        .await
        .map_err(|e| e.into_body())?;
    blocking(move || {
        engine.store.put_instance(&rec).map_err(store_err)?;
        tracing::info!(
            instance = rec.name,
            plugin = rec.plugin,
            "plugin instance configured"
        );
        let settings = engine.store.plugin_settings().map_err(store_err)?;
        Ok(instance_view(&engine, &rec, &settings))
    })
    .await
}

async fn unconfigure(engine: Arc<Engine>, params: InstanceRef) -> Result<Empty, ErrorBody> {
    if params.name == LOCAL {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            "the built-in storage instance \"local\" cannot be removed",
        ));
    }
    blocking(move || {
        if !engine
            .store
            .delete_instance(&params.name)
            .map_err(store_err)?
        {
            return Err(not_found("plugin instance", &params.name));
        }
        engine
            .store
            .update_plugin_settings(|s| {
                s.routes.remove(&params.name);
            })
            .map_err(store_err)?;
        Ok(Empty {})
    })
    .await
}

async fn test(engine: Arc<Engine>, params: InstanceRef) -> Result<PluginTestResult, ErrorBody> {
    let rec = if params.name == LOCAL {
        None
    } else {
        Some(
            engine
                .store
                .instance(&params.name)
                .map_err(store_err)?
                .ok_or_else(|| not_found("plugin instance", &params.name))?,
        )
    };
    let kind = match &rec {
        None => berth_plugins::PluginKind::Storage,
        Some(r) => {
            engine
                .plugins
                .get(&r.plugin)
                .map_err(|e| e.into_body())?
                .kind
        }
    };
    match kind {
        berth_plugins::PluginKind::Notifier => Ok(PluginTestResult::Notifier(
            notify_test(&engine, &params.name).await?,
        )),
        _ => {
            let inst = find_storage(&engine, Some(&params.name))?;
            Ok(PluginTestResult::Storage(
                storage_round_trip(&engine, inst).await?,
            ))
        }
    }
}

async fn storage_list(engine: Arc<Engine>, _: Empty) -> Result<StorageInstances, ErrorBody> {
    blocking(move || {
        let settings = engine.store.plugin_settings().map_err(store_err)?;
        let default = default_storage(&settings).to_owned();
        let storage = engine
            .services
            .storage_instances()
            .into_iter()
            .map(|s| StorageInfo {
                default: s.name == default,
                location: s
                    .dir
                    .as_ref()
                    .map_or_else(String::new, |d| format!("directory {}", d.display())),
                name: s.name,
                plugin: s.plugin,
            })
            .collect();
        Ok(StorageInstances { storage })
    })
    .await
}

async fn storage_set_default(engine: Arc<Engine>, params: InstanceRef) -> Result<Empty, ErrorBody> {
    blocking(move || set_default_storage(&engine, &params.name).map(|()| Empty {})).await
}

/// Makes storage instance `name` the default for backups (`storage.set_default`, and
/// `settings.update`).
pub(crate) fn set_default_storage(engine: &Engine, name: &str) -> Result<(), ErrorBody> {
    if !engine
        .services
        .storage_instances()
        .iter()
        .any(|s| s.name == name)
    {
        return Err(not_found("storage instance", name));
    }
    engine
        .store
        .update_plugin_settings(|s| {
            s.default_storage = (name != LOCAL).then(|| name.to_owned());
        })
        .map_err(store_err)?;
    Ok(())
}

/// The storage instance backups go to when they name none.
pub(crate) fn current_default_storage(engine: &Engine) -> Result<String, ErrorBody> {
    let settings = engine.store.plugin_settings().map_err(store_err)?;
    Ok(default_storage(&settings).to_owned())
}

async fn storage_test(
    engine: Arc<Engine>,
    params: StorageRef,
) -> Result<StorageTestResult, ErrorBody> {
    let inst = find_storage(&engine, params.name.as_deref())?;
    storage_round_trip(&engine, inst).await
}

async fn notifications_list(engine: Arc<Engine>, _: Empty) -> Result<NotifierList, ErrorBody> {
    blocking(move || {
        let settings = engine.store.plugin_settings().map_err(store_err)?;
        let notifiers = engine
            .store
            .instances()
            .map_err(store_err)?
            .into_iter()
            .filter(|r| {
                engine
                    .plugins
                    .get(&r.plugin)
                    .is_ok_and(|p| p.kind == berth_plugins::PluginKind::Notifier)
            })
            .map(|r| NotifierInfo {
                health: health_of(engine.plugins.call_health(&r.plugin).status),
                enabled: !settings.disabled.contains(&r.plugin),
                name: r.name,
                plugin: r.plugin,
            })
            .collect();
        Ok(NotifierList { notifiers })
    })
    .await
}

async fn notifications_test(
    engine: Arc<Engine>,
    params: InstanceRef,
) -> Result<NotifyTestResult, ErrorBody> {
    notify_test(&engine, &params.name).await
}
