//! `storage-local`: objects as files under the one directory the host preopens as
//! `/data` (the plugin has no other filesystem access and no network).
//!
//! An upload writes `<dir>/.partial/<random>` and renames it onto the key on `finish`,
//! so a reader never sees half an object and an aborted or crashed upload leaves
//! nothing visible (stale partials are swept at `init`). Keys map to paths segment by
//! segment after the same check the host applies.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use berth_plugin_sdk::store::{
    ObjectMeta, ObjectPage, ObjectReader, ObjectWriter, PluginError, StorageBackend,
};
use berth_plugin_sdk::{LogLevel, key, log};

mod granted;

use granted::Granted;

/// Where the host mounts the instance's directory.
const ROOT: &str = "/data";
/// Uploads in progress live here, invisible to listings.
const PARTIAL: &str = ".partial";

fn io(what: &str, e: std::io::Error) -> PluginError {
    match e.kind() {
        std::io::ErrorKind::NotFound => PluginError::NotFound(what.to_owned()),
        _ => PluginError::Io(format!("{what}: {e}")),
    }
}

/// A key (already checked by the SDK) as a path relative to the root: any key but the
/// partial uploads'.
fn object_key(k: &str) -> Result<&str, PluginError> {
    if k == PARTIAL || k.starts_with(".partial/") {
        return Err(PluginError::InvalidConfig(format!("{k:?}: reserved key")));
    }
    Ok(k)
}

/// The file of a key.
fn path_of(k: &str) -> Result<PathBuf, PluginError> {
    Ok(Path::new(ROOT).join(object_key(k)?))
}

fn millis(m: &fs::Metadata) -> u64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// A unique name for a partial upload, relative to the root. Several instances (each
/// with its own memory, so no shared counter) may write into one directory at once:
/// the name carries 64 random bits (std's hasher seeds come from WASI's random source)
/// besides the time.
fn partial_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(berth_plugin_sdk::now_ms());
    format!(
        "{PARTIAL}/{}-{:016x}",
        berth_plugin_sdk::now_ms(),
        h.finish()
    )
}

struct Local {
    dir: Granted,
}

impl StorageBackend for Local {
    type Config = serde_json::Value;
    type Writer = LocalUpload;
    type Reader = LocalDownload;

    fn new(config: serde_json::Value) -> Result<Self, PluginError> {
        // The directory is the host's grant (the preopen), not a setting.
        if config.as_object().is_some_and(|m| !m.is_empty()) {
            return Err(PluginError::InvalidConfig(
                "storage-local takes no settings; its directory is granted by the host".into(),
            ));
        }
        let partial = Path::new(ROOT).join(PARTIAL);
        fs::create_dir_all(&partial).map_err(|e| io("create .partial", e))?;
        sweep(&partial);
        let dir = Granted::open(ROOT).map_err(|e| io("open the granted directory", e))?;
        Ok(Local { dir })
    }

    fn health(&self) -> Result<(), String> {
        match fs::metadata(ROOT) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err("the granted path is not a directory".into()),
            Err(e) => Err(format!("no access to the granted directory: {e}")),
        }
    }

    fn start_upload(&self, k: &str) -> Result<LocalUpload, PluginError> {
        let target = path_of(k)?;
        let partial = partial_name();
        let file = self
            .dir
            .create(&partial)
            .map_err(|e| io("start upload", e))?;
        Ok(LocalUpload {
            target,
            partial: Path::new(ROOT).join(partial),
            file: Some(file),
            written: 0,
        })
    }

    fn open_download(&self, k: &str) -> Result<LocalDownload, PluginError> {
        let file = File::open(path_of(k)?).map_err(|e| io(k, e))?;
        Ok(LocalDownload { file })
    }

    fn stat(&self, k: &str) -> Result<ObjectMeta, PluginError> {
        // Not followed: a symlink is not an object (listings skip them too), and a
        // top-level key then costs the host one `fstatat` instead of a sandboxed open
        // + `fstat` + close.
        let meta = self.dir.stat(object_key(k)?).map_err(|e| io(k, e))?;
        if !meta.is_file {
            return Err(PluginError::NotFound(k.to_owned()));
        }
        Ok(ObjectMeta {
            key: k.to_owned(),
            size: meta.size,
            modified_ms: meta.modified_ms,
        })
    }

    fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, PluginError> {
        let mut all = Vec::new();
        walk(Path::new(ROOT), "", &mut all)?;
        all.retain(|o| o.key.starts_with(prefix));
        all.sort_by(|a, b| a.key.cmp(&b.key));
        // The cursor is the last key of the previous page: stable under inserts.
        if let Some(c) = cursor {
            all.retain(|o| o.key.as_str() > c);
        }
        let limit = limit as usize;
        let next_cursor = (all.len() > limit).then(|| all[limit - 1].key.clone());
        all.truncate(limit);
        Ok(ObjectPage {
            objects: all,
            next_cursor,
        })
    }

    fn delete(&self, k: &str) -> Result<(), PluginError> {
        match fs::remove_file(path_of(k)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(k, e)),
        }
    }
}

/// Partial uploads older than a day were left by a crash (a live upload writes at
/// least every few seconds); they are removed so they cannot pile up.
fn sweep(partial: &Path) {
    let now = berth_plugin_sdk::now_ms();
    let Ok(rd) = fs::read_dir(partial) else {
        return;
    };
    for entry in rd.flatten() {
        let stale = entry
            .metadata()
            .map(|m| now.saturating_sub(millis(&m)) > 24 * 3600 * 1000)
            .unwrap_or(false);
        if stale && fs::remove_file(entry.path()).is_ok() {
            log(
                LogLevel::Info,
                &format!(
                    "removed an abandoned partial upload {:?}",
                    entry.file_name()
                ),
            );
        }
    }
}

struct LocalUpload {
    target: PathBuf,
    partial: PathBuf,
    file: Option<granted::DataFile>,
    written: u64,
}

impl ObjectWriter for LocalUpload {
    fn write(&mut self, chunk: &[u8]) -> Result<(), PluginError> {
        let Some(f) = self.file.as_mut() else {
            return Err(PluginError::Conflict("the upload has ended".into()));
        };
        f.write_at(chunk, self.written)
            .map_err(|e| io("write", e))?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<u64, PluginError> {
        let Some(f) = self.file.take() else {
            return Err(PluginError::Conflict("the upload has ended".into()));
        };
        let done = (|| {
            f.sync()?;
            drop(f);
            if let Some(dir) = self.target.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::rename(&self.partial, &self.target)
        })();
        if let Err(e) = done {
            let _ = fs::remove_file(&self.partial);
            return Err(io("finish", e));
        }
        Ok(self.written)
    }

    fn abort(&mut self) -> Result<(), PluginError> {
        // The SDK also calls this for an upload dropped unfinished: nothing becomes
        // visible.
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.partial);
        }
        Ok(())
    }
}

struct LocalDownload {
    file: File,
}

impl ObjectReader for LocalDownload {
    fn read(&mut self, max: usize) -> Result<Vec<u8>, PluginError> {
        let mut buf = vec![0u8; max];
        let n = self.file.read(&mut buf).map_err(|e| io("read", e))?;
        buf.truncate(n);
        Ok(buf)
    }
}

/// Every object under `dir` (recursively), as keys relative to the root, skipping
/// the partial uploads.
fn walk(dir: &Path, rel: &str, out: &mut Vec<ObjectMeta>) -> Result<(), PluginError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("list", e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| io("list", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if rel.is_empty() && name == PARTIAL {
            continue;
        }
        let k = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = entry.metadata().map_err(|e| io("list", e))?;
        if meta.is_dir() {
            walk(&entry.path(), &k, out)?;
        } else if meta.is_file() && key::check(&k).is_ok() {
            out.push(ObjectMeta {
                key: k,
                size: meta.len(),
                modified_ms: millis(&meta),
            });
        }
    }
    Ok(())
}

berth_plugin_sdk::export_storage_plugin!(Local);
