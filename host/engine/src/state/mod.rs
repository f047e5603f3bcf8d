//! Berth's own state, backed up and restored: losing the data directory must not lose
//! every user, token, schedule, plugin setting, the catalogue — or the installation
//! key that unseals the plugins' secrets.
//!
//! A state backup is one object on a storage instance, always encrypted with a
//! passphrase (it holds that key): the `BERTHENC` stream of `backup::crypt` around a
//! `.tar.gz` of
//!
//! ```text
//! berth-state.json   what wrote it (format, Berth version, time, schema)
//! store.redb         a snapshot of the store: one read transaction, taken while
//!                    Berth runs (`Store::snapshot`)
//! secret.key         the installation key
//! plugins/…          installed plugin packages
//! stacks/…           the stacks directory (compose files, .env, relative binds)
//! ```
//!
//! Its key ends in `.berth-state`, never in `.tar.gz[.enc]`, so a catalogue rescan
//! does not take it for a backup of a container. A restore runs offline, into a data
//! directory that holds no store, and refuses every archive entry that is not one of
//! the above or would leave its directory.

use std::io::{BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backup::crypt::{DecryptReader, EncryptWriter, Secret};
use crate::jobs::JobCtx;
use crate::{Engine, EngineError, backup};

pub mod job;

/// The archive layout this build writes and reads.
pub const FORMAT: u32 = 1;
/// Where state backups go on a storage instance.
pub const PREFIX: &str = "state/";
/// A state backup's key between [`PREFIX`] and [`SUFFIX`]: this, then its time in
/// [`KEY_TIME`] (retention dates state backups by it).
pub const KEY_NAME: &str = "berth-state-";
/// The time in a state backup's key (UTC, milliseconds).
pub const KEY_TIME: &str = "%Y%m%dT%H%M%S%3fZ";
/// The suffix of a state backup's key.
pub const SUFFIX: &str = ".berth-state";
/// Shorter passphrases are refused: this one guards every secret Berth keeps.
pub const MIN_PASSPHRASE: usize = 12;

const MANIFEST: &str = "berth-state.json";
const STORE: &str = "store.redb";
const KEY: &str = "secret.key";
const PLUGINS: &str = "plugins";
const STACKS: &str = "stacks";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateManifest {
    pub format: u32,
    /// The Berth version that wrote it.
    pub berth: String,
    pub created_ms: u64,
    /// The store's schema version.
    pub schema: u64,
    pub tables: usize,
}

/// A state backup as stored (defined with the job that writes it, whose watcher
/// receives it).
pub use crate::jobs::spec::StateWritten as Written;

/// Where Berth keeps what a state backup holds.
#[derive(Debug, Clone)]
pub struct Places {
    pub data_dir: PathBuf,
    pub stacks_dir: PathBuf,
}

impl Places {
    /// The engine's own data and stacks directories.
    pub fn of(engine: &Engine) -> Self {
        Self {
            data_dir: engine.data_dir.clone(),
            stacks_dir: engine.stacks_dir.clone(),
        }
    }

    fn store(&self) -> PathBuf {
        self.data_dir.join("berth.redb")
    }

    fn key(&self) -> PathBuf {
        self.data_dir.join(KEY)
    }

    fn plugins(&self) -> PathBuf {
        berth_core::datadir::installed_plugins_dir(&self.data_dir)
    }
}

pub(crate) fn check_passphrase(passphrase: &str) -> Result<(), EngineError> {
    if passphrase.chars().count() < MIN_PASSPHRASE {
        return Err(EngineError::bad(
            "passphrase",
            format!(
                "at least {MIN_PASSPHRASE} characters: it protects the key to every secret Berth keeps"
            ),
        ));
    }
    Ok(())
}

/// Writes a state backup to storage `storage` (the default when `None`), reads it
/// back and checks its digest; the job `ctx` shows each step (the queue's runner
/// calls this through [`job::run`]).
pub async fn backup(
    engine: &Arc<Engine>,
    places: &Places,
    storage: Option<&str>,
    passphrase: String,
    ctx: &JobCtx,
) -> Result<Written, EngineError> {
    check_passphrase(&passphrase)?;
    ctx.set_state(
        berth_protocol::api::jobs::JobState::Starting,
        "opening the storage",
    );
    let instance = backup::storage(engine, storage)?;
    let session = backup::session(engine, &instance).await?;
    let now = chrono::Utc::now();
    let key = format!("{PREFIX}{KEY_NAME}{}{SUFFIX}", now.format(KEY_TIME));
    let work = tempfile::Builder::new()
        .prefix(".state-")
        .tempdir_in(&places.data_dir)
        .map_err(|e| crate::error::io_error(&e))?;
    let archive = work.path().join("state");
    let (store, at, to) = (Arc::clone(&engine.store), places.clone(), archive.clone());
    let created_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    ctx.set_state(
        berth_protocol::api::jobs::JobState::Running,
        "snapshot and archive",
    );
    let (tables, sha256) = tokio::task::spawn_blocking(move || {
        write_archive(&store, &at, &to, &passphrase, created_ms)
    })
    .await
    .map_err(|e| EngineError::internal(&e))??;
    let file = tokio::fs::File::open(&archive)
        .await
        .map_err(|e| crate::error::io_error(&e))?;
    ctx.check()?;
    ctx.phase("uploading");
    let size = session.put(&key, file).await?;
    ctx.set_state(
        berth_protocol::api::jobs::JobState::Verifying,
        "reading back",
    );
    let mut read_back = backup::digest::Digest256::default();
    session.get(&key, &mut read_back).await?;
    if read_back.hex() != sha256 {
        let _ = session.delete(&key).await;
        return Err(EngineError::failed(format!(
            "the state backup reads back from {} with another digest; it was deleted",
            instance.name
        )));
    }
    tracing::info!(
        storage = instance.name,
        key,
        size,
        tables,
        "state backed up"
    );
    Ok(Written {
        storage: instance.name,
        key,
        size,
        sha256,
        tables,
    })
}

/// The encrypted archive at `out`; returns the tables copied and its sha256.
fn write_archive(
    store: &berth_core::store::Store,
    places: &Places,
    out: &Path,
    passphrase: &str,
    created_ms: u64,
) -> Result<(usize, String), EngineError> {
    let io = |e: std::io::Error| crate::error::io_error(&e);
    let snapshot = out.with_extension("redb");
    let tables = store.snapshot(&snapshot)?;
    let manifest = StateManifest {
        format: FORMAT,
        berth: env!("CARGO_PKG_VERSION").to_owned(),
        created_ms,
        schema: store.schema_version()?,
        tables,
    };
    let file = std::fs::File::create(out).map_err(io)?;
    let sealed = EncryptWriter::new(
        BufWriter::new(file),
        &Secret::Passphrase(passphrase.to_owned()),
    )
    .map_err(|e| EngineError::failed(e.to_string()))?;
    let gz = flate2::write::GzEncoder::new(sealed, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    // Links are kept as links (and refused by a restore), never followed out of the
    // stacks directory.
    tar.follow_symlinks(false);
    // Plain entries only (a restore accepts nothing else): a redb file has holes,
    // which gzip squeezes as well as a sparse entry would.
    tar.sparse(false);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| EngineError::internal(&e))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, json.as_slice())
        .map_err(io)?;
    tar.append_path_with_name(&snapshot, STORE).map_err(io)?;
    tar.append_path_with_name(places.key(), KEY).map_err(io)?;
    for (dir, name) in [
        (places.plugins(), PLUGINS),
        (places.stacks_dir.clone(), STACKS),
    ] {
        if dir.is_dir() {
            tar.append_dir_all(name, &dir).map_err(io)?;
        }
    }
    let gz = tar.into_inner().map_err(io)?;
    let sealed = gz.finish().map_err(io)?;
    sealed.finish().map_err(io)?.flush().map_err(io)?;
    std::fs::remove_file(&snapshot).map_err(io)?;
    Ok((tables, sha256_of(out).map_err(io)?))
}

/// What a restore brought back.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: StateManifest,
    /// Files written (the store and key included).
    pub files: u64,
}

/// Restores the state backup `archive` (a file) into `places`: the data directory
/// must hold no store and the stacks directory must be empty or absent. Whatever was
/// written is removed again when the restore fails.
pub fn restore(archive: &Path, passphrase: &str, places: &Places) -> Result<Restored, EngineError> {
    if places.store().exists() {
        return Err(EngineError::conflict(format!(
            "{} already holds a store: restore into an empty data directory (Berth stopped)",
            places.data_dir.display()
        )));
    }
    if std::fs::read_dir(&places.stacks_dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(EngineError::conflict(format!(
            "the stacks directory {} is not empty",
            places.stacks_dir.display()
        )));
    }
    let mut written = Vec::new();
    let result = unpack(archive, passphrase, places, &mut written);
    if result.is_err() {
        for path in written.iter().rev() {
            let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir(path));
        }
    }
    result
}

fn unpack(
    archive: &Path,
    passphrase: &str,
    places: &Places,
    written: &mut Vec<PathBuf>,
) -> Result<Restored, EngineError> {
    let io = |e: std::io::Error| EngineError::failed(format!("reading the state backup: {e}"));
    let file = std::fs::File::open(archive)
        .map_err(|e| EngineError::bad("file", format!("{}: {e}", archive.display())))?;
    let opened = DecryptReader::new(
        std::io::BufReader::new(file),
        &Secret::Passphrase(passphrase.to_owned()),
    )
    .map_err(|e| EngineError::bad("passphrase", e.to_string()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(opened));
    let mut manifest = None;
    let mut files = 0;
    for entry in tar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let name = entry.path().map_err(io)?.into_owned();
        if name == Path::new(MANIFEST) {
            let mut json = Vec::new();
            entry.read_to_end(&mut json).map_err(io)?;
            manifest = Some(read_manifest(&json)?);
            continue;
        }
        let target = destination(&name, places)?;
        match entry.header().entry_type() {
            tar::EntryType::Directory => make_dirs(&target, written)?,
            tar::EntryType::Regular => {
                if let Some(parent) = target.parent() {
                    make_dirs(parent, written)?;
                }
                let mut out = std::fs::File::create_new(&target)
                    .map_err(|e| EngineError::conflict(format!("{}: {e}", target.display())))?;
                written.push(target.clone());
                std::io::copy(&mut entry, &mut out).map_err(io)?;
                out.sync_all().map_err(io)?;
                files += 1;
            }
            other => {
                return Err(EngineError::failed(format!(
                    "{}: a {other:?} entry; a state backup holds only files and folders",
                    name.display()
                )));
            }
        }
    }
    let manifest = manifest.ok_or_else(|| {
        EngineError::failed("not a Berth state backup (no berth-state.json)".to_owned())
    })?;
    if !places.store().is_file() || !places.key().is_file() {
        return Err(EngineError::failed(
            "the state backup lacks the store or the installation key".to_owned(),
        ));
    }
    Ok(Restored { manifest, files })
}

fn read_manifest(json: &[u8]) -> Result<StateManifest, EngineError> {
    let manifest: StateManifest = serde_json::from_slice(json)
        .map_err(|e| EngineError::failed(format!("berth-state.json: {e}")))?;
    if manifest.format != FORMAT {
        return Err(EngineError::failed(format!(
            "state backup format {} is not known to this Berth (it reads {FORMAT})",
            manifest.format
        )));
    }
    Ok(manifest)
}

/// Where an archive entry goes; only the known names, never out of their directory.
fn destination(name: &Path, places: &Places) -> Result<PathBuf, EngineError> {
    let refuse = || {
        EngineError::failed(format!(
            "{}: not something a state backup holds",
            name.display()
        ))
    };
    let mut parts = name.components();
    let first = match parts.next() {
        Some(Component::Normal(first)) => first.to_str().ok_or_else(refuse)?,
        _ => return Err(refuse()),
    };
    let rest: PathBuf = parts
        .map(|c| match c {
            Component::Normal(part) => Ok(part),
            _ => Err(refuse()),
        })
        .collect::<Result<_, _>>()?;
    let is_leaf = rest.as_os_str().is_empty();
    match first {
        STORE if is_leaf => Ok(places.store()),
        KEY if is_leaf => Ok(places.key()),
        PLUGINS => Ok(places.plugins().join(rest)),
        STACKS => Ok(places.stacks_dir.join(rest)),
        _ => Err(refuse()),
    }
}

/// Creates `dir` and its missing parents, noting each one created.
fn make_dirs(dir: &Path, written: &mut Vec<PathBuf>) -> Result<(), EngineError> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.exists() {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    for path in missing.into_iter().rev() {
        std::fs::create_dir(&path)
            .map_err(|e| EngineError::failed(format!("{}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(())
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_only_where_a_state_backup_puts_them() {
        let places = Places {
            data_dir: PathBuf::from("/d"),
            stacks_dir: PathBuf::from("/s"),
        };
        let to = |name: &str| destination(Path::new(name), &places).ok();
        assert_eq!(to("store.redb"), Some(PathBuf::from("/d/berth.redb")));
        assert_eq!(to("secret.key"), Some(PathBuf::from("/d/secret.key")));
        assert_eq!(
            to("plugins/acme/plugin.wasm"),
            Some(PathBuf::from("/d/plugins/installed/acme/plugin.wasm"))
        );
        assert_eq!(
            to("stacks/web/compose.yaml"),
            Some(PathBuf::from("/s/web/compose.yaml"))
        );
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "stacks/../../x",
            "store.redb/x",
            "other",
            "plugins/./../x",
        ] {
            assert_eq!(to(bad), None, "{bad}");
        }
    }

    #[test]
    fn passphrases_must_be_long() {
        assert!(check_passphrase("short").is_err());
        assert!(check_passphrase("twelve chars").is_ok());
    }
}
