//! `storage-local`: objects as files under the one directory the host preopens as
//! `/data` (the plugin has no other filesystem access and no network).
//!
//! An upload writes `<dir>/.partial/<random>` and renames it onto the key on `finish`,
//! so a reader never sees half an object and an aborted or crashed upload leaves
//! nothing visible (stale partials are swept at `init`). Keys map to paths segment by
//! segment after the same check the host applies.

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use berth_plugin_sdk::storage::berth::plugin::types::{
    HealthReport, HealthStatus, ObjectMeta, PluginError,
};
use berth_plugin_sdk::storage::exports::berth::plugin::lifecycle;
use berth_plugin_sdk::storage::exports::berth::plugin::storage::{
    self, Download, GuestDownload, GuestUpload, ObjectPage, Upload,
};
use berth_plugin_sdk::{LogLevel, key, log};

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

fn path_of(k: &str) -> Result<PathBuf, PluginError> {
    key::check(k).map_err(PluginError::InvalidConfig)?;
    if k == PARTIAL || k.starts_with(".partial/") {
        return Err(PluginError::InvalidConfig(format!("{k:?}: reserved key")));
    }
    Ok(Path::new(ROOT).join(k))
}

fn millis(m: &fs::Metadata) -> u64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// A unique name for a partial upload. Several instances (each with its own memory,
/// so no shared counter) may write into one directory at once: the name carries 64
/// random bits (std's hasher seeds come from WASI's random source) besides the time.
fn partial_name() -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(berth_plugin_sdk::now_ms());
    Path::new(ROOT).join(PARTIAL).join(format!(
        "{}-{:016x}",
        berth_plugin_sdk::now_ms(),
        h.finish()
    ))
}

struct Local;

impl lifecycle::Guest for Local {
    fn init(config_json: String) -> Result<(), PluginError> {
        // The directory is the host's grant (the preopen), not a setting.
        let t = config_json.trim();
        if !(t.is_empty() || t == "{}") {
            return Err(PluginError::InvalidConfig(
                "storage-local takes no settings; its directory is granted by the host".into(),
            ));
        }
        let partial = Path::new(ROOT).join(PARTIAL);
        fs::create_dir_all(&partial).map_err(|e| io("create .partial", e))?;
        sweep(&partial);
        Ok(())
    }

    fn health() -> HealthReport {
        match fs::metadata(ROOT) {
            Ok(m) if m.is_dir() => HealthReport {
                status: HealthStatus::Healthy,
                message: String::new(),
            },
            Ok(_) => HealthReport {
                status: HealthStatus::Unhealthy,
                message: "the granted path is not a directory".into(),
            },
            Err(e) => HealthReport {
                status: HealthStatus::Unhealthy,
                message: format!("no access to the granted directory: {e}"),
            },
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
    file: RefCell<Option<File>>,
    written: RefCell<u64>,
}

impl LocalUpload {
    fn discard(&self) {
        if self.file.borrow_mut().take().is_some() {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

impl GuestUpload for LocalUpload {
    fn write(&self, chunk: Vec<u8>) -> Result<(), PluginError> {
        let mut f = self.file.borrow_mut();
        let Some(f) = f.as_mut() else {
            return Err(PluginError::Conflict("the upload has ended".into()));
        };
        f.write_all(&chunk).map_err(|e| io("write", e))?;
        *self.written.borrow_mut() += chunk.len() as u64;
        Ok(())
    }

    fn finish(&self) -> Result<u64, PluginError> {
        let Some(f) = self.file.borrow_mut().take() else {
            return Err(PluginError::Conflict("the upload has ended".into()));
        };
        let done = (|| {
            f.sync_all()?;
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
        Ok(*self.written.borrow())
    }

    fn abort(&self) -> Result<(), PluginError> {
        self.discard();
        Ok(())
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        // Dropped without finish: nothing becomes visible.
        self.discard();
    }
}

struct LocalDownload {
    file: RefCell<File>,
}

impl GuestDownload for LocalDownload {
    fn read(&self, max: u32) -> Result<Vec<u8>, PluginError> {
        let mut buf = vec![0u8; max.min(4 << 20) as usize];
        let n = self
            .file
            .borrow_mut()
            .read(&mut buf)
            .map_err(|e| io("read", e))?;
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

impl storage::Guest for Local {
    type Upload = LocalUpload;
    type Download = LocalDownload;

    fn start_upload(k: String) -> Result<Upload, PluginError> {
        let target = path_of(&k)?;
        let partial = partial_name();
        let file = File::create(&partial).map_err(|e| io("start upload", e))?;
        Ok(Upload::new(LocalUpload {
            target,
            partial,
            file: RefCell::new(Some(file)),
            written: RefCell::new(0),
        }))
    }

    fn open_download(k: String) -> Result<Download, PluginError> {
        let file = File::open(path_of(&k)?).map_err(|e| io(&k, e))?;
        Ok(Download::new(LocalDownload {
            file: RefCell::new(file),
        }))
    }

    fn stat(k: String) -> Result<ObjectMeta, PluginError> {
        let meta = fs::metadata(path_of(&k)?).map_err(|e| io(&k, e))?;
        if !meta.is_file() {
            return Err(PluginError::NotFound(k));
        }
        Ok(ObjectMeta {
            key: k,
            size: meta.len(),
            modified_ms: millis(&meta),
        })
    }

    fn list_objects(
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<ObjectPage, PluginError> {
        let mut all = Vec::new();
        walk(Path::new(ROOT), "", &mut all)?;
        all.retain(|o| o.key.starts_with(&prefix));
        all.sort_by(|a, b| a.key.cmp(&b.key));
        // The cursor is the last key of the previous page: stable under inserts.
        if let Some(c) = &cursor {
            all.retain(|o| o.key.as_str() > c.as_str());
        }
        let limit = limit.clamp(1, 10_000) as usize;
        let next_cursor = (all.len() > limit).then(|| all[limit - 1].key.clone());
        all.truncate(limit);
        Ok(ObjectPage {
            objects: all,
            next_cursor,
        })
    }

    fn delete(k: String) -> Result<(), PluginError> {
        match fs::remove_file(path_of(&k)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&k, e)),
        }
    }
}

berth_plugin_sdk::storage::export_storage_backend!(Local);
