//! The catalog: every backup Berth made or took in, with where it is stored and the
//! checksum of the stored object. An entry is `pending` from before the upload starts
//! until verification has passed; only `complete` entries can be restored. At start, a
//! `pending` entry means a backup was interrupted: its object (if the upload had
//! finished) is deleted and the entry dropped.

use berth_protocol::api::backups::{BackupEntry, BackupQuery, BackupStatus, Manifest};
use serde::{Deserialize, Serialize};

use berth_core::activity::{Notice, Subject};
use berth_core::records::RecordTable;
use berth_core::store::{Store, StoreError};

pub(crate) const BACKUPS: RecordTable<CatalogRecord> = RecordTable::new("backups", "backup");
/// Each backup's entry alone, under the same key, written in the same transaction as
/// its record: listings read these (a few hundred bytes each) instead of the records
/// with their manifests (a whole inspect document each).
pub(crate) const ENTRIES: RecordTable<BackupEntry> =
    RecordTable::new("backup_entries", "backup entry");

/// Creates the catalog's tables; fills the entries from the records when a store
/// catalogued backups before the entries had a table of their own.
pub(crate) fn tables(tx: &redb::WriteTransaction) -> Result<(), redb::TableError> {
    use redb::{ReadableTable, ReadableTableMetadata};
    let records = tx.open_table(BACKUPS.definition())?;
    let mut entries = tx.open_table(ENTRIES.definition())?;
    if entries.len()? > 0 || records.len()? == 0 {
        return Ok(());
    }
    #[derive(Deserialize)]
    struct EntryOnly {
        entry: BackupEntry,
    }
    for row in records.iter()? {
        let (key, value) = row?;
        // A damaged record is reported where it is read; its entry is left out.
        if let Ok(r) = serde_json::from_slice::<EntryOnly>(value.value()) {
            entries.insert(key.value(), ENTRIES.encode(&r.entry).as_slice())?;
        }
    }
    Ok(())
}

/// A `backup.<action>` notice (`created`, `deleted`) about `entry`.
pub fn notice(entry: &BackupEntry, action: &'static str) -> Notice {
    Notice::new(Subject::Backup, action, &entry.id)
        .name(entry.target.name())
        .kind(entry.target.kind())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogRecord {
    pub entry: BackupEntry,
    /// The complete manifest, as a walk of the archive gives it (format 3: with the
    /// figures and seal of its index). While the entry is pending, what is known
    /// before the data.
    pub manifest: Manifest,
}

pub trait CatalogTable: berth_core::store::StoreAccess {
    fn put_backup(&self, rec: &CatalogRecord) -> Result<(), StoreError> {
        self.put_backups(std::slice::from_ref(rec))
    }

    fn backup(&self, id: &str) -> Result<Option<CatalogRecord>, StoreError> {
        BACKUPS.get(self.db(), id)
    }

    fn delete_backup(&self, id: &str) -> Result<bool, StoreError> {
        let tx = self.db().begin_write()?;
        let existed = tx.open_table(BACKUPS.definition())?.remove(id)?.is_some();
        tx.open_table(ENTRIES.definition())?.remove(id)?;
        tx.commit()?;
        Ok(existed)
    }

    /// Every backup, oldest first (ids sort by time).
    fn backups(&self) -> Result<Vec<CatalogRecord>, StoreError> {
        BACKUPS.all(self.db())
    }

    /// Every backup's entry, oldest first, from the entries table (no manifests):
    /// listing 10,000 stays cheap.
    fn backup_entries(&self) -> Result<Vec<BackupEntry>, StoreError> {
        ENTRIES.all(self.db())
    }

    /// Writes backups (records and entries) in one transaction.
    fn put_backups(&self, recs: &[CatalogRecord]) -> Result<(), StoreError> {
        let tx = self.db().begin_write()?;
        {
            let mut records = tx.open_table(BACKUPS.definition())?;
            let mut entries = tx.open_table(ENTRIES.definition())?;
            for rec in recs {
                BACKUPS.write(&mut records, &rec.entry.id, rec)?;
                ENTRIES.write(&mut entries, &rec.entry.id, &rec.entry)?;
            }
        }
        tx.commit()?;
        Ok(())
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
