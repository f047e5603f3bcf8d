//! The catalog: every backup Berth made or took in, with where it is stored and the
//! checksum of the stored object. An entry is `pending` from before the upload starts
//! until verification has passed; only `complete` entries can be restored. At start, a
//! `pending` entry means a backup was interrupted: its object (if the upload had
//! finished) is deleted and the entry dropped.

use berth_protocol::api::backups::{BackupEntry, BackupQuery, BackupStatus, Manifest};
use serde::{Deserialize, Serialize};

use berth_core::records::RecordTable;
use berth_core::store::{Store, StoreError};

pub(crate) const BACKUPS: RecordTable<CatalogRecord> = RecordTable::new("backups", "backup");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogRecord {
    pub entry: BackupEntry,
    /// The manifest without the container's inspect document when encrypted (the
    /// catalog must not keep in the clear what the archive keeps sealed).
    pub manifest: Manifest,
}

pub trait CatalogTable: berth_core::store::StoreAccess {
    fn put_backup(&self, rec: &CatalogRecord) -> Result<(), StoreError> {
        BACKUPS.put(self.db(), &rec.entry.id, rec)
    }

    fn backup(&self, id: &str) -> Result<Option<CatalogRecord>, StoreError> {
        BACKUPS.get(self.db(), id)
    }

    fn delete_backup(&self, id: &str) -> Result<bool, StoreError> {
        BACKUPS.remove(self.db(), id)
    }

    /// Every backup, oldest first (ids sort by time).
    fn backups(&self) -> Result<Vec<CatalogRecord>, StoreError> {
        BACKUPS.all(self.db())
    }

    /// Every backup's entry, oldest first, without building its manifest (a
    /// container's whole inspect document): listing 10,000 stays cheap.
    fn backup_entries(&self) -> Result<Vec<BackupEntry>, StoreError> {
        #[derive(Deserialize)]
        struct EntryOnly {
            entry: BackupEntry,
        }
        Ok(BACKUPS
            .all_as::<EntryOnly>(self.db())?
            .into_iter()
            .map(|r| r.entry)
            .collect())
    }

    /// Writes several backups in one transaction (a rebuild, a bulk import).
    fn put_backups(&self, recs: &[CatalogRecord]) -> Result<(), StoreError> {
        BACKUPS.put_all(self.db(), recs.iter().map(|r| (r.entry.id.as_str(), r)))
    }
}

impl CatalogTable for Store {}

/// Whether `e` passes the filters of `q`.
pub fn matches(e: &BackupEntry, q: &BackupQuery) -> bool {
    q.target.as_deref().is_none_or(|t| e.target.name() == t)
        && q.storage
            .as_deref()
            .is_none_or(|s| e.storages().any(|name| name == s))
        && q.trigger.is_none_or(|t| e.trigger == t)
}

/// Entries left `pending` by an interrupted backup.
pub fn pending(store: &Store) -> Result<Vec<CatalogRecord>, StoreError> {
    Ok(store
        .backups()?
        .into_iter()
        .filter(|r| r.entry.status == BackupStatus::Pending)
        .collect())
}
