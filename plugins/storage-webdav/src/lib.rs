//! `storage-webdav`: backups as files on a WebDAV server — Nextcloud, ownCloud, a NAS,
//! `rclone serve webdav` — through opendal's WebDAV service.
//!
//! The plugin has no sockets and no files: every request goes out through the host's
//! `wasi:http`, which lets it reach only the origins the admin granted the instance.
//! Reads, listings, `stat` and deletes are opendal's (ranged reads and sorted paging
//! from the shared `berth-plugin-opendal`). Uploads are not: opendal's WebDAV writer
//! holds the whole object in memory, so an upload here is one PUT whose body streams
//! through the host as the chunks arrive (see [`upload`]).

mod upload;

use berth_plugin_opendal::{Download, Errors};
use berth_plugin_sdk::store::{
    IncompleteUpload, ObjectMeta, ObjectPage, PluginError, StorageBackend,
};
use opendal::Operator;
use serde::Deserialize;

use crate::upload::{Target, Upload};

/// The instance's configuration (the manifest's schema).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The WebDAV address (a Nextcloud user's files, a share).
    url: String,
    /// A folder under `url` holding the keys.
    #[serde(default)]
    root: String,
    username: String,
    password: String,
}

/// One configured server folder.
#[derive(Debug)]
pub struct WebDav {
    op: Operator,
    errors: Errors,
    target: Target,
}

/// What went wrong, as the host's variants; a refused login names the server.
/// opendal reports a 401 as unexpected (only 403 as denied), so the status it quotes
/// decides.
fn plugin_error(server: &str, e: opendal::Error) -> PluginError {
    if e.to_string().contains("status: 401") {
        return PluginError::Unauthorized(format!(
            "{server} refused the user or password (HTTP 401)"
        ));
    }
    match berth_plugin_opendal::plugin_error(e) {
        PluginError::Unauthorized(m) => {
            PluginError::Unauthorized(format!("{server} refused access: {m}"))
        }
        other => other,
    }
}

fn operator(c: &Config) -> Result<Operator, PluginError> {
    let builder = opendal::services::Webdav::default()
        .endpoint(c.url.trim_end_matches('/'))
        .root(&upload::root_path(&c.root))
        .username(&c.username)
        .password(&c.password);
    let op = Operator::new(builder).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
    Ok(berth_plugin_opendal::over_wasi_http(op))
}

impl StorageBackend for WebDav {
    type Config = Config;
    type Writer = Upload;
    type Reader = Download;

    fn new(config: Config) -> Result<Self, PluginError> {
        let target = Target::new(
            &config.url,
            &config.root,
            &config.username,
            &config.password,
        )?;
        let op = operator(&config)?;
        Ok(Self {
            errors: Errors::new(target.origin(), plugin_error),
            op,
            target,
        })
    }

    fn start_upload(&self, key: &str) -> Result<Upload, PluginError> {
        Upload::start(&self.op, &self.errors, &self.target, key)
    }

    fn open_download(&self, key: &str) -> Result<Download, PluginError> {
        // One range at a time: the 64 MiB cap has no room for more in flight.
        Download::open(&self.op, key, &self.errors, 1)
    }

    fn stat(&self, key: &str) -> Result<ObjectMeta, PluginError> {
        berth_plugin_opendal::stat(&self.op, key, &self.errors)
    }

    fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, PluginError> {
        berth_plugin_opendal::list_page(&self.op, prefix, cursor, limit as usize, &self.errors)
    }

    fn delete(&self, key: &str) -> Result<(), PluginError> {
        berth_plugin_opendal::delete(&self.op, key, &self.errors)
    }

    /// The temporary files uploads killed with the plugin left (each upload sweeps
    /// its own folder's once a day old; these are all of them, now).
    fn incomplete_uploads(&self, limit: u32) -> Result<Vec<IncompleteUpload>, PluginError> {
        let mut found: Vec<IncompleteUpload> = upload::leftovers(&self.op)
            .map_err(|e| self.errors.map(e))?
            .into_iter()
            .map(|l| IncompleteUpload {
                key: l.key,
                started_ms: l.started_ms,
            })
            .collect();
        found.sort_by_key(|u| u.started_ms);
        found.truncate(limit as usize);
        Ok(found)
    }

    fn abort_incomplete_uploads(&self, before_ms: u64) -> Result<u32, PluginError> {
        let mut aborted = 0;
        let leftovers = upload::leftovers(&self.op).map_err(|e| self.errors.map(e))?;
        for l in leftovers
            .iter()
            .filter(|l| l.started_ms < before_ms)
            .take(ABORTS_MAX)
        {
            berth_plugin_opendal::delete(&self.op, &l.path, &self.errors)?;
            aborted += 1;
        }
        Ok(aborted)
    }
}

/// Temporary files deleted per `abort_incomplete_uploads` at most (the host asks again
/// while some are left).
const ABORTS_MAX: usize = 1_000;

berth_plugin_sdk::export_storage_plugin!(WebDav);
