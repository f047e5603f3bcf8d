//! The data directory and the lock that gives one Berth process sole use of it.
//!
//! Layout (created on first start):
//! ```text
//! <data_dir>/berth.lock        exclusive advisory lock + holder's pid
//! <data_dir>/berth.redb        the store
//! <data_dir>/secret.key        the installation key (seals secrets, authenticates backups)
//! <data_dir>/initial-admin-password   a generated first-admin password, until changed
//! <data_dir>/plugins/cache/    compiled plugin components (.cwasm), written only by Berth
//! <data_dir>/backups/          the local storage plugin's directory
//! ```

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot create data directory {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data directory {path} is already in use by another berth process{holder}; \
         stop it or choose another --data-dir"
    )]
    Locked { path: PathBuf, holder: String },
    #[error("cannot lock data directory {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An open, locked data directory. The lock is released when this is dropped.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory tree if needed and takes the exclusive lock.
    pub fn open(root: &Path) -> Result<Self, DataDirError> {
        let create = |p: &Path| {
            fs::create_dir_all(p).map_err(|source| DataDirError::Create {
                path: p.to_path_buf(),
                source,
            })
        };
        create(root)?;
        // Canonical so that logs and errors show one unambiguous path.
        let root = root.canonicalize().map_err(|source| DataDirError::Create {
            path: root.to_path_buf(),
            source,
        })?;

        let lock_path = root.join("berth.lock");
        let lock_err = |source| DataDirError::Lock {
            path: root.clone(),
            source,
        };
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(lock_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = fs::read_to_string(&lock_path).unwrap_or_default();
                let pid = pid.trim();
                let holder = if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                };
                return Err(DataDirError::Locked { path: root, holder });
            }
            Err(TryLockError::Error(e)) => return Err(lock_err(e)),
        }
        // Record who holds it, for the message a second process prints.
        lock.set_len(0).map_err(lock_err)?;
        lock.seek(SeekFrom::Start(0)).map_err(lock_err)?;
        writeln!(lock, "{}", std::process::id()).map_err(lock_err)?;

        // The directory holds the installation key, the store and local backups: only
        // Berth's user may enter it, whatever umask created it (an existing one is
        // tightened too — it was world-readable before this was enforced).
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).map_err(|source| {
            DataDirError::Create {
                path: root.clone(),
                source,
            }
        })?;
        let dir = Self { root, _lock: lock };
        create(&dir.plugin_cache_dir())?;
        create(&dir.backups_dir())?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store_path(&self) -> PathBuf {
        self.root.join("berth.redb")
    }

    /// The first admin's generated password, until it is changed (0600).
    pub fn initial_password_path(&self) -> PathBuf {
        initial_password_path(&self.root)
    }

    /// The key that seals secrets at rest (see `secrets`).
    pub fn secret_key_path(&self) -> PathBuf {
        self.root.join("secret.key")
    }

    pub fn plugin_cache_dir(&self) -> PathBuf {
        self.root.join("plugins").join("cache")
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }

    /// Third-party plugins (see `plugins::package`).
    pub fn installed_plugins_dir(&self) -> PathBuf {
        installed_plugins_dir(&self.root)
    }

    pub fn plugin_staging_dir(&self) -> PathBuf {
        plugin_staging_dir(&self.root)
    }
}

/// Makes every file and directory Berth creates from here on private to its user
/// (0600 / 0700): the store, backup objects written by storage plugins, the plugin
/// cache, the initial password file. Called once at start, before any thread.
pub fn private_umask() {
    #[allow(unsafe_code)]
    // SAFETY: umask only swaps the process's file-creation mask; it cannot fail and
    // touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

/// `<root>/initial-admin-password`.
pub fn initial_password_path(root: &Path) -> PathBuf {
    root.join("initial-admin-password")
}

/// `<root>/plugins/installed`.
pub fn installed_plugins_dir(root: &Path) -> PathBuf {
    root.join("plugins").join("installed")
}

/// `<root>/plugins/staging`: uploaded packages waiting for `plugins.install`.
pub fn plugin_staging_dir(root: &Path) -> PathBuf {
    root.join("plugins").join("staging")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_refused_until_the_first_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let first = DataDir::open(tmp.path()).unwrap();
        let err = DataDir::open(tmp.path()).unwrap_err();
        assert!(matches!(err, DataDirError::Locked { .. }), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        DataDir::open(tmp.path()).expect("lock released on drop");
    }

    #[test]
    fn creates_the_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(&tmp.path().join("nested/data")).unwrap();
        assert!(dir.plugin_cache_dir().is_dir());
        assert!(dir.backups_dir().is_dir());
        assert!(dir.root().is_absolute());
    }
}
