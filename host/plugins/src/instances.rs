//! Configured plugin instances and the plugins' settings, kept in the store.
//!
//! An instance is one configuration of one plugin (two webhooks, a second storage
//! directory): its name, its settings, its secrets — sealed with the installation's
//! key and never stored, logged or returned in the clear — the origins it may reach
//! and, for storage, its directory. The plugin settings record which plugins are
//! disabled and which storage instance is the default.

use std::collections::{BTreeMap, BTreeSet};

use berth_protocol::api::plugins::NotifyEvent;
use serde::{Deserialize, Serialize};

use berth_core::records::RecordTable;
use berth_core::store::{Store, StoreError};

pub(crate) const INSTANCES: RecordTable<InstanceRecord> =
    RecordTable::new("plugin_instances", "plugin instance");
pub(crate) const PLUGIN_SETTINGS: RecordTable<PluginSettings> =
    RecordTable::new("plugin_settings", "plugin settings");
const SETTINGS_KEY: &str = "settings";

/// The built-in storage instance's name (always present, not stored).
pub const LOCAL: &str = "local";

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub name: String,
    pub plugin: String,
    /// The configuration without its secret fields.
    pub config: serde_json::Value,
    /// Secret fields, each sealed (`secrets::SecretKey::seal`).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Origins granted (`scheme://host[:port]` patterns).
    #[serde(default)]
    pub egress: Vec<String>,
    /// Whether requests may go to private or loopback addresses.
    #[serde(default)]
    pub allow_private: bool,
    /// A storage instance's directory on the host (`None`: `<data>/storage/<name>`).
    #[serde(default)]
    pub path: Option<String>,
    pub created_ms: u64,
    pub updated_ms: u64,
}

impl std::fmt::Debug for InstanceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the config (a URL may embed a token) or the secrets.
        f.debug_struct("InstanceRecord")
            .field("name", &self.name)
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginSettings {
    /// `None`: the built-in `local`.
    #[serde(default)]
    pub default_storage: Option<String>,
    #[serde(default)]
    pub disabled: BTreeSet<String>,
    /// Events per notifier instance; an instance not here gets
    /// [`NotifyEvent::DEFAULT`].
    #[serde(default)]
    pub routes: BTreeMap<String, BTreeSet<NotifyEvent>>,
}

impl PluginSettings {
    /// Whether notifier instance `name` receives `event`.
    pub fn routed(&self, name: &str, event: NotifyEvent) -> bool {
        match self.routes.get(name) {
            Some(events) => events.contains(&event),
            None => NotifyEvent::DEFAULT.contains(&event),
        }
    }
}

/// Instance names: 1–40 of a-z, 0-9, '-', '_', starting with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub trait InstancesTable: berth_core::store::StoreAccess {
    fn instances(&self) -> Result<Vec<InstanceRecord>, StoreError> {
        INSTANCES.all(self.db())
    }

    fn instance(&self, name: &str) -> Result<Option<InstanceRecord>, StoreError> {
        INSTANCES.get(self.db(), name)
    }

    fn put_instance(&self, rec: &InstanceRecord) -> Result<(), StoreError> {
        INSTANCES.put(self.db(), &rec.name, rec)
    }

    /// Removes an instance; when it was the default storage, the default goes back to
    /// `local` in the same transaction.
    fn delete_instance(&self, name: &str) -> Result<bool, StoreError> {
        let tx = self.db().begin_write()?;
        let existed = tx
            .open_table(INSTANCES.definition())?
            .remove(name)?
            .is_some();
        {
            let mut t = tx.open_table(PLUGIN_SETTINGS.definition())?;
            let mut s = PLUGIN_SETTINGS.read(&t, SETTINGS_KEY)?.unwrap_or_default();
            if s.default_storage.as_deref() == Some(name) {
                s.default_storage = None;
                PLUGIN_SETTINGS.write(&mut t, SETTINGS_KEY, &s)?;
            }
        }
        tx.commit()?;
        Ok(existed)
    }

    /// The settings; the defaults when none were saved.
    fn plugin_settings(&self) -> Result<PluginSettings, StoreError> {
        Ok(PLUGIN_SETTINGS
            .get(self.db(), SETTINGS_KEY)?
            .unwrap_or_default())
    }

    /// Read-modify-write of the settings in one transaction.
    fn update_plugin_settings(
        &self,
        f: impl FnOnce(&mut PluginSettings),
    ) -> Result<PluginSettings, StoreError> {
        let tx = self.db().begin_write()?;
        let s = {
            let mut t = tx.open_table(PLUGIN_SETTINGS.definition())?;
            let mut s = PLUGIN_SETTINGS.read(&t, SETTINGS_KEY)?.unwrap_or_default();
            f(&mut s);
            PLUGIN_SETTINGS.write(&mut t, SETTINGS_KEY, &s)?;
            s
        };
        tx.commit()?;
        Ok(s)
    }
}

impl InstancesTable for Store {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_round_trip_and_default_follows_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.redb"), &[crate::tables]).unwrap();
        assert!(store.instances().unwrap().is_empty());
        let rec = InstanceRecord {
            name: "nas".into(),
            plugin: "storage-local".into(),
            config: serde_json::json!({}),
            secrets: BTreeMap::new(),
            egress: vec![],
            allow_private: false,
            path: Some("/mnt/nas".into()),
            created_ms: 1,
            updated_ms: 1,
        };
        store.put_instance(&rec).unwrap();
        assert_eq!(store.instance("nas").unwrap().as_ref(), Some(&rec));
        store
            .update_plugin_settings(|s| s.default_storage = Some("nas".into()))
            .unwrap();
        assert!(store.delete_instance("nas").unwrap());
        assert!(!store.delete_instance("nas").unwrap());
        assert_eq!(store.plugin_settings().unwrap().default_storage, None);
        assert!(!format!("{rec:?}").contains("/mnt/nas"));
    }

    #[test]
    fn names() {
        for ok in ["a", "nas-2", "hook_1", "9lives"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a b", "a/b", &"x".repeat(41)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
