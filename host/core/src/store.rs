//! The redb store: one file in the data directory, with a recorded schema version.
//!
//! Tables arrive with the features that need them; each addition bumps
//! [`SCHEMA_VERSION`] and adds a step to [`migrate`]. Migrations run in one write
//! transaction at open, so a crash mid-migration leaves the previous version intact.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

/// The schema this build writes and understands.
pub const SCHEMA_VERSION: u64 = 10;

const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
const SCHEMA_KEY: &str = "schema_version";
/// A random id naming this data directory's Berth to things it leaves outside the
/// store (helper containers), so a Berth only ever cleans up after itself — several
/// Berths may share one Docker engine.
const INSTANCE_KEY: &str = "instance_id";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Redb(#[from] redb::Error),
    #[error(
        "store schema version {found} is newer than this Berth understands ({supported}); \
         upgrade Berth or restore an older data directory"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("store: corrupt record {0}")]
    Corrupt(String),
}

// redb has one error type per operation; they all fold into `redb::Error`, and from
// there into `StoreError` — or into any error that wraps `StoreError` (`From<StoreError>`),
// so feature modules get `?` on redb calls without writing these impls again.
#[macro_export]
macro_rules! from_redb {
    ($target:ty: $($t:ty),*) => {$(
        impl From<$t> for $target {
            fn from(e: $t) -> Self { $crate::store::StoreError::Redb(e.into()).into() }
        }
    )*};
}
pub use from_redb;

/// Creates a crate's tables when the store opens (redb creates a table the first time
/// a write transaction opens it; readers then find it).
pub type Tables = fn(&redb::WriteTransaction) -> Result<(), redb::TableError>;

from_redb!(StoreError:
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The open store.
#[derive(Debug)]
pub struct Store {
    db: Database,
    /// Bumped by every write to users, sessions or tokens. Open connections watch it and
    /// re-check their credential the moment it moves — so a revocation or a role change
    /// closes a terminal at once, not at the client's next message — and compare it on
    /// every message without a store read per message.
    identity_gen: tokio::sync::watch::Sender<u64>,
}

impl Store {
    /// Opens (or creates) the store and brings its schema up to date: `schema` creates
    /// the tables of the crates above this one (each owns its tables), in the same
    /// write transaction as the version bump.
    pub fn open(path: &Path, schema: &[Tables]) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let store = Self {
            db,
            identity_gen: tokio::sync::watch::Sender::new(0),
        };
        store.migrate(schema)?;
        Ok(store)
    }

    fn migrate(&self, schema: &[Tables]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let found = meta.get(SCHEMA_KEY)?.map(|v| v.value()).unwrap_or(0);
            if found > SCHEMA_VERSION {
                return Err(StoreError::TooNew {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < SCHEMA_VERSION {
                tracing::info!(from = found, to = SCHEMA_VERSION, "migrating store schema");
                meta.insert(SCHEMA_KEY, SCHEMA_VERSION)?;
            }
            // Not a schema step: older builds ignore the key, newer ones add it.
            if meta.get(INSTANCE_KEY)?.is_none() {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b).expect("the OS random source works");
                meta.insert(INSTANCE_KEY, u64::from_le_bytes(b))?;
            }
        }
        // Steps, in order. 0 → 1: the meta table (above). 1 → 2: users. 2 → 3: sessions.
        // 3 → 4: API tokens. 4 → 5: the audit log. (User records gained an optional
        // `totp` field in 5; older records read it as absent.) 5 → 6: plugin instances
        // and plugin settings. 7 → 8: schedules and their runs. 8 → 9: stack versions.
        // 9 → 10: no table; jobs and schedules may back up Berth's state (`state_backup`
        // job kind and schedule action), records a build of 9 cannot read.
        for tables in schema {
            tables(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// See the field: changes whenever any identity record changes.
    pub fn identity_generation(&self) -> u64 {
        *self.identity_gen.borrow()
    }

    /// Wakes when an identity record changes (see the field).
    pub fn watch_identity(&self) -> tokio::sync::watch::Receiver<u64> {
        self.identity_gen.subscribe()
    }

    /// This data directory's instance id (see [`INSTANCE_KEY`]), as 16 hex digits.
    pub fn instance_id(&self) -> Result<String, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let id = meta.get(INSTANCE_KEY)?.map(|v| v.value()).unwrap_or(0);
        Ok(format!("{id:016x}"))
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        Ok(meta.get(SCHEMA_KEY)?.map(|v| v.value()).unwrap_or(0))
    }
}

/// Copies one table into `$write` if it has these key and value types; `false` when
/// it has others (redb checks the types recorded with the table).
macro_rules! copy_table_as {
    ($read:expr, $write:expr, $name:expr, $key:ty, $value:ty) => {{
        let definition: TableDefinition<'_, $key, $value> = TableDefinition::new($name);
        match $read.open_table(definition) {
            Ok(from) => {
                let mut to = $write.open_table(definition)?;
                for row in from.iter()? {
                    let (key, value) = row?;
                    to.insert(key.value(), value.value())?;
                }
                Ok::<bool, StoreError>(true)
            }
            Err(redb::TableError::TableTypeMismatch { .. }) => Ok(false),
            Err(e) => Err(StoreError::from(e)),
        }
    }};
}

impl Store {
    /// Writes every table, as one read transaction sees them, into a new store file at
    /// `to`: a consistent copy taken while Berth keeps running (writers are not held
    /// up). Returns the number of tables copied.
    ///
    /// Berth's tables have three shapes — records (`&str` → bytes), the audit log
    /// (`u64` → bytes) and `meta` (`&str` → `u64`); a table of any other shape is an
    /// error rather than a snapshot that silently lacks it.
    pub fn snapshot(&self, to: &Path) -> Result<usize, StoreError> {
        if to.exists() {
            return Err(StoreError::Corrupt(format!(
                "snapshot target {} already exists",
                to.display()
            )));
        }
        let read = self.db.begin_read()?;
        let copy = Database::create(to)?;
        let write = copy.begin_write()?;
        let mut tables = 0;
        for handle in read.list_tables()? {
            let name = handle.name().to_owned();
            let copied = copy_table_as!(read, write, name.as_str(), &str, &[u8])?
                || copy_table_as!(read, write, name.as_str(), u64, &[u8])?
                || copy_table_as!(read, write, name.as_str(), &str, u64)?;
            if !copied {
                return Err(StoreError::Corrupt(format!(
                    "table {name} has a shape the snapshot does not know"
                )));
            }
            tables += 1;
        }
        write.commit()?;
        Ok(tables)
    }
}

/// What the typed tables of the crates above reach the store through. Each crate adds
/// its records as a trait with default methods over this one (`UsersTable`,
/// `JobsTable`, …), implemented for [`Store`]: one store, tables owned by the crate that
/// owns the concept.
pub trait StoreAccess {
    /// The database.
    fn db(&self) -> &Database;
    /// Called after committing a change to users, sessions or tokens.
    fn identity_changed(&self);

    /// A server setting an admin changed at run time (`settings.update`); `None` means
    /// the server's configuration applies. Kept in `meta` under `setting.<key>`.
    fn setting(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let tx = self.db().begin_read()?;
        let meta = tx.open_table(META)?;
        Ok(meta.get(setting_key(key).as_str())?.map(|v| v.value()))
    }

    /// Sets (`Some`) or clears (`None`, back to the configuration) settings, together.
    fn set_settings(&self, changes: &[(&str, Option<u64>)]) -> Result<(), StoreError> {
        let tx = self.db().begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            for (key, value) in changes {
                let key = setting_key(key);
                match value {
                    Some(v) => meta.insert(key.as_str(), *v)?,
                    None => meta.remove(key.as_str())?,
                };
            }
        }
        tx.commit()?;
        Ok(())
    }
}

fn setting_key(key: &str) -> String {
    format!("setting.{key}")
}

impl StoreAccess for Store {
    fn db(&self) -> &Database {
        &self.db
    }

    fn identity_changed(&self) {
        self.identity_gen.send_modify(|g| *g += 1);
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // redb flushes and marks the file clean when `Database` drops, right after this.
        tracing::info!("store closed");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_setting_is_kept_until_cleared() {
        use super::StoreAccess;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb"), &[]).unwrap();
        assert_eq!(store.setting("job_concurrency").unwrap(), None);
        store.set_settings(&[("job_concurrency", Some(3))]).unwrap();
        assert_eq!(store.setting("job_concurrency").unwrap(), Some(3));
        assert!(store.instance_id().is_ok(), "meta's own keys untouched");
        store.set_settings(&[("job_concurrency", None)]).unwrap();
        assert_eq!(store.setting("job_concurrency").unwrap(), None);
    }

    use super::*;

    #[test]
    fn records_the_schema_version_and_reopens() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("berth.redb");
        assert_eq!(
            Store::open(&path, &[]).unwrap().schema_version().unwrap(),
            SCHEMA_VERSION
        );
        assert_eq!(
            Store::open(&path, &[]).unwrap().schema_version().unwrap(),
            SCHEMA_VERSION
        );
    }

    #[test]
    fn the_instance_id_is_random_per_store_and_stable_across_reopens() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a.redb"), tmp.path().join("b.redb"));
        let id = Store::open(&a, &[]).unwrap().instance_id().unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(Store::open(&a, &[]).unwrap().instance_id().unwrap(), id);
        assert_ne!(Store::open(&b, &[]).unwrap().instance_id().unwrap(), id);
    }

    #[test]
    fn a_snapshot_holds_every_table_of_every_shape() {
        const RECORDS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("records");
        const LOG: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("log");
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("berth.redb"), &[]).unwrap();
        let tx = store.db.begin_write().unwrap();
        tx.open_table(RECORDS)
            .unwrap()
            .insert("a", b"1".as_slice())
            .unwrap();
        tx.open_table(LOG)
            .unwrap()
            .insert(7, b"seven".as_slice())
            .unwrap();
        tx.commit().unwrap();
        let to = tmp.path().join("snapshot.redb");
        assert_eq!(store.snapshot(&to).unwrap(), 3, "meta, records, log");
        assert!(store.snapshot(&to).is_err(), "never over an existing file");
        let id = store.instance_id().unwrap();
        drop(store);
        let copy = Store::open(&to, &[]).unwrap();
        assert_eq!(copy.instance_id().unwrap(), id);
        let tx = copy.db.begin_read().unwrap();
        let records = tx.open_table(RECORDS).unwrap();
        assert_eq!(records.get("a").unwrap().unwrap().value(), b"1");
        let log = tx.open_table(LOG).unwrap();
        assert_eq!(log.get(7).unwrap().unwrap().value(), b"seven");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("berth.redb");
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(META)
                .unwrap()
                .insert(SCHEMA_KEY, SCHEMA_VERSION + 1)
                .unwrap();
            tx.commit().unwrap();
        }
        let err = Store::open(&path, &[]).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    }
}
