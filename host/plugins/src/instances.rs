//! Configured plugin instances and the plugins' settings, kept in the store.
//!
//! An instance is one configuration of one plugin (two webhooks, a second storage
//! directory): its name, its settings, its secrets — sealed with the installation's
//! key and never stored, logged or returned in the clear — the origins it may reach
//! and, for storage, its directory. The plugin settings record which plugins are
//! disabled and which storage instance is the default.

use std::collections::{BTreeMap, BTreeSet};

use berth_protocol::api::plugins::NotifyEvent;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use berth_core::store::{Store, StoreError};

pub(crate) const INSTANCES: TableDefinition<'_, &str, &[u8]> =
    TableDefinition::new("plugin_instances");
pub(crate) const PLUGIN_SETTINGS: TableDefinition<'_, &str, &[u8]> =
    TableDefinition::new("plugin_settings");
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

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// The settings record of a table (read or write transaction); the default when absent.
fn settings_in(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<PluginSettings, StoreError> {
    match t.get(SETTINGS_KEY)? {
        Some(v) => serde_json::from_slice(v.value()).map_err(|e| corrupt("settings", e)),
        None => Ok(PluginSettings::default()),
    }
}

pub trait InstancesTable: berth_core::store::StoreAccess {
    fn instances(&self) -> Result<Vec<InstanceRecord>, StoreError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(INSTANCES)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push(serde_json::from_slice(v.value()).map_err(|e| corrupt(k.value(), e))?);
        }
        Ok(out)
    }

    fn instance(&self, name: &str) -> Result<Option<InstanceRecord>, StoreError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(INSTANCES)?;
        t.get(name)?
            .map(|v| serde_json::from_slice(v.value()).map_err(|e| corrupt(name, e)))
            .transpose()
    }

    fn put_instance(&self, rec: &InstanceRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(rec).expect("records serialise");
        let tx = self.db().begin_write()?;
        tx.open_table(INSTANCES)?
            .insert(rec.name.as_str(), bytes.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    /// Removes an instance; when it was the default storage, the default goes back to
    /// `local` in the same transaction.
    fn delete_instance(&self, name: &str) -> Result<bool, StoreError> {
        let tx = self.db().begin_write()?;
        let existed = tx.open_table(INSTANCES)?.remove(name)?.is_some();
        {
            let mut t = tx.open_table(PLUGIN_SETTINGS)?;
            let mut s = settings_in(&t)?;
            if s.default_storage.as_deref() == Some(name) {
                s.default_storage = None;
                let bytes = serde_json::to_vec(&s).expect("settings serialise");
                t.insert(SETTINGS_KEY, bytes.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(existed)
    }

    fn plugin_settings(&self) -> Result<PluginSettings, StoreError> {
        let tx = self.db().begin_read()?;
        settings_in(&tx.open_table(PLUGIN_SETTINGS)?)
    }

    /// Read-modify-write of the settings in one transaction.
    fn update_plugin_settings(
        &self,
        f: impl FnOnce(&mut PluginSettings),
    ) -> Result<PluginSettings, StoreError> {
        let tx = self.db().begin_write()?;
        let s = {
            let mut t = tx.open_table(PLUGIN_SETTINGS)?;
            let mut s = settings_in(&t)?;
            f(&mut s);
            let bytes = serde_json::to_vec(&s).expect("settings serialise");
            t.insert(SETTINGS_KEY, bytes.as_slice())?;
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
