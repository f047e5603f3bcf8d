//! The plugins' configured side, as the rest of Berth uses it: the storage instances
//! (the built-in `local` and every enabled configured one, with its directory checked
//! and its secrets opened), the notifier instances, and [`PluginServices::dispatch`],
//! the one place notifications are sent from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::secrets::SecretKey;
use berth_core::store::Store;
use berth_protocol::api::plugins::NotifyEvent;
use serde_json::{Map, Value};

use crate::egress::Pattern;
use crate::instances::{InstanceRecord, InstancesTable, LOCAL};
use crate::notifier::{Level, Notification, NotifierInstance};
use crate::storage::StorageInstance;
use crate::{PluginKind, PluginRuntime};

/// Why an instance cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No storage instance of that name (or it is disabled).
    #[error("no storage instance {0:?}")]
    NoStorage(String),
    #[error(transparent)]
    Store(#[from] berth_core::store::StoreError),
    /// A sealed secret that does not open (another installation's key).
    #[error("cannot open the instance's secrets: {0}")]
    Secrets(String),
}

/// The plugin runtime with what configured instances need: the store, the key that
/// opens their secrets, the data directory their directories are checked against.
#[derive(Debug)]
pub struct PluginServices {
    pub runtime: Arc<PluginRuntime>,
    store: Arc<Store>,
    secret_key: Arc<SecretKey>,
    data_dir: PathBuf,
}

impl PluginServices {
    pub fn new(
        runtime: Arc<PluginRuntime>,
        store: Arc<Store>,
        secret_key: Arc<SecretKey>,
        data_dir: PathBuf,
    ) -> Self {
        Self {
            runtime,
            store,
            secret_key,
            data_dir,
        }
    }

    /// The directory a storage instance keeps its objects in.
    pub fn storage_dir(&self, rec: &InstanceRecord) -> PathBuf {
        rec.path.as_ref().map_or_else(
            || self.data_dir.join("storage").join(&rec.name),
            PathBuf::from,
        )
    }

    /// The configuration handed to `init`: the stored fields plus the opened secrets.
    pub fn full_config(&self, rec: &InstanceRecord) -> Result<Value, ServiceError> {
        let mut config = match &rec.config {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        for (k, sealed) in &rec.secrets {
            let plain = self
                .secret_key
                .open(sealed)
                .map_err(|e| ServiceError::Secrets(e.to_string()))?;
            let plain =
                String::from_utf8(plain).map_err(|e| ServiceError::Secrets(e.to_string()))?;
            config.insert(k.clone(), Value::String(plain));
        }
        Ok(Value::Object(config))
    }

    /// Every storage instance: the built-in `local` first, then the configured ones
    /// whose plugin is enabled.
    pub fn storage_instances(&self) -> Vec<StorageInstance> {
        let mut out = vec![StorageInstance::local(self.data_dir.join("backups"))];
        let (records, settings) = match (self.store.instances(), self.store.plugin_settings()) {
            (Ok(r), Ok(s)) => (r, s),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot read the storage instances");
                return out;
            }
        };
        for rec in records {
            let Some(plugin) = self
                .runtime
                .get(&rec.plugin)
                .ok()
                .filter(|p| p.kind == PluginKind::Storage)
            else {
                continue;
            };
            if settings.disabled.contains(&rec.plugin) {
                continue;
            }
            // A directory only for the plugins that keep files (and checked again at
            // every use: a symlink can be planted after configuration).
            let dir = plugin
                .manifest
                .capabilities
                .storage_dir
                .then(|| self.storage_dir(&rec));
            if let Some(dir) = &dir
                && let Some(why) = self.storage_path_refusal(dir)
            {
                tracing::error!(instance = rec.name, path = %dir.display(), why, "storage instance refused");
                continue;
            }
            match self.full_config(&rec) {
                Ok(config) => out.push(StorageInstance {
                    dir,
                    egress: granted(&rec),
                    allow_private: rec.allow_private,
                    name: rec.name,
                    plugin: rec.plugin,
                    config: config.to_string(),
                }),
                Err(_) => {
                    tracing::error!(instance = rec.name, "cannot open the instance's secrets")
                }
            }
        }
        out
    }

    /// The storage instance named, or the default one.
    pub fn storage(&self, name: Option<&str>) -> Result<StorageInstance, ServiceError> {
        let name = match name {
            Some(n) => n.to_owned(),
            None => self
                .store
                .plugin_settings()?
                .default_storage
                .unwrap_or_else(|| LOCAL.to_owned()),
        };
        self.storage_instances()
            .into_iter()
            .find(|i| i.name == name)
            .ok_or(ServiceError::NoStorage(name))
    }

    /// The notifier instance of a record.
    pub fn notifier_instance(
        &self,
        rec: &InstanceRecord,
    ) -> Result<NotifierInstance, ServiceError> {
        Ok(NotifierInstance {
            name: rec.name.clone(),
            plugin: rec.plugin.clone(),
            config: self.full_config(rec)?.to_string(),
            egress: granted(rec),
            allow_private: rec.allow_private,
        })
    }

    /// Why a storage directory may not be used (see [`refusal`]).
    pub fn storage_path_refusal(&self, p: &Path) -> Option<&'static str> {
        refusal(&self.data_dir, p)
    }

    /// Sends `n` (its kind is `event`'s name) to every enabled notifier routed for
    /// `event`, except instances of `skip_plugin` (a plugin reported unhealthy is not
    /// asked to report itself). Deliveries run in the background; failures are logged
    /// and count against the notifier's health.
    pub fn dispatch(
        self: &Arc<Self>,
        event: NotifyEvent,
        level: Level,
        title: String,
        body: String,
        fields: Vec<(String, String)>,
        skip_plugin: Option<&str>,
    ) {
        let targets = match self.routed(event, skip_plugin) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(event = event.as_str(), error = %e, "cannot route a notification");
                return;
            }
        };
        let n = Notification {
            kind: event.as_str().to_owned(),
            level,
            title,
            body,
            fields,
        };
        for inst in targets {
            let (this, n) = (Arc::clone(self), n.clone());
            tokio::spawn(async move {
                if let Err(e) = this.runtime.notify(&inst, &n).await {
                    tracing::warn!(instance = inst.name, event = n.kind, error = %e, "notification not delivered");
                }
            });
        }
    }

    /// The enabled notifier instances routed for `event`.
    fn routed(
        &self,
        event: NotifyEvent,
        skip_plugin: Option<&str>,
    ) -> Result<Vec<NotifierInstance>, ServiceError> {
        let settings = self.store.plugin_settings()?;
        let mut out = Vec::new();
        for rec in self.store.instances()? {
            let is_notifier = self
                .runtime
                .get(&rec.plugin)
                .is_ok_and(|p| p.kind == PluginKind::Notifier);
            if is_notifier
                && !settings.disabled.contains(&rec.plugin)
                && skip_plugin != Some(rec.plugin.as_str())
                && settings.routed(&rec.name, event)
            {
                out.push(self.notifier_instance(&rec)?);
            }
        }
        Ok(out)
    }
}

/// A path with its symlinks resolved as far as it exists (the rest appended as given),
/// so a link planted at or above the path cannot lead into the data directory.
pub fn resolved(p: &Path) -> PathBuf {
    let mut existing = p;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |acc, c| acc.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// Why a storage directory may not be used: the data directory (which holds the store
/// and the installation key) or anything above it, or inside it other than under
/// `storage/` — judged on the path as given and with its symlinks resolved.
pub fn refusal(data_dir: &Path, p: &Path) -> Option<&'static str> {
    let data = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let storage = data.join("storage");
    [p.to_path_buf(), resolved(p)].iter().find_map(|q| {
        (data.starts_with(q) || (q.starts_with(&data) && !q.starts_with(&storage))).then_some(
            "must not be the data directory or contain it (inside it, only under storage/), also through symlinks",
        )
    })
}

/// The origins granted to an instance (stored as text, checked when granted).
fn granted(rec: &InstanceRecord) -> Vec<Pattern> {
    rec.egress
        .iter()
        .filter_map(|p| Pattern::parse(p).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_directory_cannot_reach_the_data_directory_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("storage/ok")).unwrap();
        std::fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
        // A link planted where a storage directory is configured (or above it).
        let link = tmp.path().join("innocent");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        assert!(
            refusal(&data, &link).is_some(),
            "the link leads into the data directory"
        );
        assert!(
            refusal(&data, &link.join("backups")).is_some(),
            "and below it"
        );
        assert!(refusal(&data, &data).is_some());
        assert!(refusal(&data, tmp.path()).is_some(), "above it");
        assert!(refusal(&data, &data.join("storage/ok")).is_none());
        assert!(
            refusal(&data, &link.join("storage/ok")).is_none(),
            "its storage/ is fine"
        );
        assert!(refusal(&data, &tmp.path().join("elsewhere/new")).is_none());
    }
}
