//! Tables of JSON records keyed by a string: the one place where a record is encoded,
//! decoded, and found corrupt. The crates above declare their tables as
//! [`RecordTable`] constants and use the whole-transaction helpers (`get`, `put`,
//! `update`, `remove`, `all`) or, inside a transaction of their own that spans several
//! tables, [`RecordTable::read`] and [`RecordTable::write`].

use std::marker::PhantomData;

use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::StoreError;

/// A redb table of `T`s as JSON, keyed by a string.
#[derive(Debug)]
pub struct RecordTable<T> {
    /// The table's name in the store file.
    name: &'static str,
    /// What one record is, for the corruption error ("job", "backup", …).
    what: &'static str,
    /// Keys that are secrets (session ids, token hashes) are left out of errors.
    secret_keys: bool,
    records: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> RecordTable<T> {
    pub const fn new(name: &'static str, what: &'static str) -> Self {
        Self {
            name,
            what,
            secret_keys: false,
            records: PhantomData,
        }
    }

    /// A table whose keys must not appear in errors or logs.
    pub const fn with_secret_keys(name: &'static str, what: &'static str) -> Self {
        Self {
            secret_keys: true,
            ..Self::new(name, what)
        }
    }

    /// The redb definition (to create the table, or open it in a transaction).
    pub const fn definition(&self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name)
    }

    /// Records are plain data: encoding cannot fail.
    pub fn encode(&self, record: &T) -> Vec<u8> {
        serde_json::to_vec(record).expect("records serialise")
    }

    /// A stored record, or `Corrupt` naming it (by its key unless that is secret).
    pub fn decode(&self, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| {
            let key = if self.secret_keys {
                "(key withheld)"
            } else {
                key
            };
            StoreError::Corrupt(format!("{} {key}: {e}", self.what))
        })
    }

    /// The record under `key` in an open table (of any transaction).
    pub fn read(
        &self,
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match table.get(key)? {
            Some(value) => self.decode(key, value.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `record` under `key` in an open table of a write transaction.
    pub fn write(
        &self,
        table: &mut Table<'_, &'static str, &'static [u8]>,
        key: &str,
        record: &T,
    ) -> Result<(), StoreError> {
        table.insert(key, self.encode(record).as_slice())?;
        Ok(())
    }

    pub fn get(&self, db: &Database, key: &str) -> Result<Option<T>, StoreError> {
        let tx = db.begin_read()?;
        self.read(&tx.open_table(self.definition())?, key)
    }

    pub fn put(&self, db: &Database, key: &str, record: &T) -> Result<(), StoreError> {
        let tx = db.begin_write()?;
        self.write(&mut tx.open_table(self.definition())?, key, record)?;
        tx.commit()?;
        Ok(())
    }

    /// Whether there was a record to remove.
    pub fn remove(&self, db: &Database, key: &str) -> Result<bool, StoreError> {
        let tx = db.begin_write()?;
        let existed = tx.open_table(self.definition())?.remove(key)?.is_some();
        tx.commit()?;
        Ok(existed)
    }

    /// Read-modify-write of one record in one transaction; `None` when there is none.
    pub fn update(
        &self,
        db: &Database,
        key: &str,
        change: impl FnOnce(&mut T),
    ) -> Result<Option<T>, StoreError> {
        let tx = db.begin_write()?;
        let record = {
            let mut table = tx.open_table(self.definition())?;
            let Some(mut record) = self.read(&table, key)? else {
                return Ok(None);
            };
            change(&mut record);
            self.write(&mut table, key, &record)?;
            record
        };
        tx.commit()?;
        Ok(Some(record))
    }

    /// Writes `record` under `key` in the group of keys starting `<group>/`, and drops
    /// the group's first keys (the oldest, when keys sort by time) beyond `keep`.
    pub fn put_in_group(
        &self,
        db: &Database,
        group: &str,
        key: &str,
        record: &T,
        keep: usize,
    ) -> Result<(), StoreError> {
        let tx = db.begin_write()?;
        {
            let mut table = tx.open_table(self.definition())?;
            self.write(&mut table, key, record)?;
            // `0` follows `/` in ASCII: the range is exactly the group's keys.
            let (low, high) = (format!("{group}/"), format!("{group}0"));
            let count = table.range(low.as_str()..high.as_str())?.count();
            if count > keep {
                let old: Vec<String> = table
                    .range(low.as_str()..high.as_str())?
                    .take(count - keep)
                    .map(|row| row.map(|(k, _)| k.value().to_owned()))
                    .collect::<Result<_, _>>()?;
                for key in old {
                    table.remove(key.as_str())?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The group's records (keys starting `<group>/`), last key first, at most `limit`.
    pub fn group_newest(
        &self,
        db: &Database,
        group: &str,
        limit: usize,
    ) -> Result<Vec<T>, StoreError> {
        let tx = db.begin_read()?;
        let table = tx.open_table(self.definition())?;
        let (low, high) = (format!("{group}/"), format!("{group}0"));
        let mut records = Vec::new();
        for row in table.range(low.as_str()..high.as_str())?.rev().take(limit) {
            let (k, v) = row?;
            records.push(self.decode(k.value(), v.value())?);
        }
        Ok(records)
    }

    /// Every record, in key order.
    pub fn all(&self, db: &Database) -> Result<Vec<T>, StoreError> {
        let tx = db.begin_read()?;
        let table = tx.open_table(self.definition())?;
        let mut records = Vec::new();
        for row in table.iter()? {
            let (key, value) = row?;
            records.push(self.decode(key.value(), value.value())?);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTES: RecordTable<(String, u32)> = RecordTable::new("notes", "note");

    fn database() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("t.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(NOTES.definition()).unwrap();
        tx.commit().unwrap();
        (dir, db)
    }

    #[test]
    fn records_round_trip_and_update_in_place() {
        let (_dir, db) = database();
        NOTES.put(&db, "b", &("two".to_owned(), 2)).unwrap();
        NOTES.put(&db, "a", &("one".to_owned(), 1)).unwrap();
        assert_eq!(NOTES.get(&db, "a").unwrap(), Some(("one".to_owned(), 1)));
        let changed = NOTES.update(&db, "a", |n| n.1 = 10).unwrap();
        assert_eq!(changed, Some(("one".to_owned(), 10)));
        assert_eq!(NOTES.update(&db, "z", |n| n.1 = 0).unwrap(), None);
        let all: Vec<u32> = NOTES.all(&db).unwrap().into_iter().map(|n| n.1).collect();
        assert_eq!(all, [10, 2]);
        assert!(NOTES.remove(&db, "a").unwrap());
        assert!(!NOTES.remove(&db, "a").unwrap());
    }

    #[test]
    fn a_damaged_record_is_corrupt_and_named() {
        let (_dir, db) = database();
        let tx = db.begin_write().unwrap();
        tx.open_table(NOTES.definition())
            .unwrap()
            .insert("x", b"{not json".as_slice())
            .unwrap();
        tx.commit().unwrap();
        match NOTES.get(&db, "x") {
            Err(StoreError::Corrupt(what)) => assert!(what.starts_with("note x: "), "{what}"),
            other => panic!("expected corrupt, got {other:?}"),
        }
        assert!(matches!(NOTES.all(&db), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_secret_key_is_not_in_the_error() {
        let secret: RecordTable<u32> = RecordTable::with_secret_keys("s", "session");
        let Err(StoreError::Corrupt(what)) = secret.decode("token-123", b"x") else {
            panic!("expected corrupt");
        };
        assert!(!what.contains("token-123"), "{what}");
    }
}
