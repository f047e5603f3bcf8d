//! The catalog: every backup Berth made or took in, with where it is stored and the
//! checksum of the stored object. An entry is `pending` from before the upload starts
//! until verification has passed; only `complete` entries can be restored. At start, a
//! `pending` entry means a backup was interrupted: its object (if the upload had
//! finished) is deleted and the entry dropped.

use berth_protocol::api::backups::{BackupEntry, BackupQuery, BackupStatus, Manifest};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use berth_core::store::{Store, StoreError};

pub(crate) const BACKUPS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("backups");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogRecord {
    pub entry: BackupEntry,
    /// The manifest without the container's inspect document when encrypted (the
    /// catalog must not keep in the clear what the archive keeps sealed).
    pub manifest: Manifest,
}

fn corrupt(id: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("backup {id}: {e}"))
}

pub trait CatalogTable: berth_core::store::StoreAccess {
    fn put_backup(&self, rec: &CatalogRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(rec).expect("catalog records serialise");
        let tx = self.db().begin_write()?;
        tx.open_table(BACKUPS)?
            .insert(rec.entry.id.as_str(), bytes.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    fn backup(&self, id: &str) -> Result<Option<CatalogRecord>, StoreError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(BACKUPS)?;
        t.get(id)?
            .map(|v| serde_json::from_slice(v.value()).map_err(|e| corrupt(id, e)))
            .transpose()
    }

    fn delete_backup(&self, id: &str) -> Result<bool, StoreError> {
        let tx = self.db().begin_write()?;
        let existed = tx.open_table(BACKUPS)?.remove(id)?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    /// Every backup, oldest first (ids sort by time).
    fn backups(&self) -> Result<Vec<CatalogRecord>, StoreError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(BACKUPS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push(serde_json::from_slice(v.value()).map_err(|e| corrupt(k.value(), e))?);
        }
        Ok(out)
    }
}

impl CatalogTable for Store {}

/// Whether `e` passes the filters of `q`.
pub fn matches(e: &BackupEntry, q: &BackupQuery) -> bool {
    q.target.as_deref().is_none_or(|t| e.target.name() == t)
        && q.storage.as_deref().is_none_or(|s| e.storage == s)
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
