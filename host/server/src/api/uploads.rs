//! `storage.uploads` and `storage.abort_uploads`: the uploads a storage instance holds
//! that were begun and never completed. An S3 multipart upload whose job was killed
//! keeps its parts — stored and billed, part of no object — until aborted; the
//! plugin sweeps those over a day old before each upload, and these methods let an
//! admin see them and discard them sooner.

use std::sync::Arc;

use berth_engine::Engine;
use berth_plugins::storage::{Session, StorageInstance};
use berth_protocol::api::catalogue::{StorageAbortUploads, StorageUploads};
use berth_protocol::api::plugins::{
    AbortUploads, IncompleteUpload, IncompleteUploads, StorageRef, UploadsAborted,
};
use berth_protocol::error::{ErrorBody, ErrorCode};

use super::plugins::find_storage;
use crate::errors::Wire;
use crate::ws::registry::{Registry, bad_field};

/// Most incomplete uploads listed (the plugin reads up to ten pages of the server's).
const LISTED: u32 = 1_000;
/// `older_than_hours` unless given: the plugin's own sweep's age, which no backup
/// reaches, so an upload in progress is never discarded by default.
const DEFAULT_HOURS: u32 = 24;
/// The longest age asked for: a year.
const MAX_HOURS: u32 = 24 * 365;

pub fn register(r: &mut Registry) {
    r.method(StorageUploads, list);
    r.method(StorageAbortUploads, abort);
}

/// The storage instance `name` (the default when `None`) and a session on it.
async fn open(
    engine: &Engine,
    name: Option<&str>,
) -> Result<(StorageInstance, Session), ErrorBody> {
    let inst = find_storage(engine, name)?;
    let session = engine
        .plugins
        .session(&inst)
        .await
        .map_err(|e| e.into_body())?;
    Ok((inst, session))
}

async fn list(engine: Arc<Engine>, params: StorageRef) -> Result<IncompleteUploads, ErrorBody> {
    let (inst, session) = open(&engine, params.name.as_deref()).await?;
    let found = session
        .incomplete_uploads(LISTED)
        .await
        .map_err(|e| e.into_body())?;
    Ok(IncompleteUploads {
        name: inst.name,
        supported: found.is_some(),
        uploads: found
            .unwrap_or_default()
            .into_iter()
            .map(|u| IncompleteUpload {
                key: u.key,
                started_ms: u.started_ms,
            })
            .collect(),
    })
}

async fn abort(engine: Arc<Engine>, params: AbortUploads) -> Result<UploadsAborted, ErrorBody> {
    let hours = params.older_than_hours.unwrap_or(DEFAULT_HOURS);
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(bad_field(
            "older_than_hours",
            format!("older_than_hours: 1 to {MAX_HOURS} (a backup running now keeps its upload)"),
        ));
    }
    let before_ms = berth_core::time::now_ms().saturating_sub(u64::from(hours) * 3_600_000);
    let (inst, session) = open(&engine, params.name.as_deref()).await?;
    let aborted = session
        .abort_incomplete_uploads(before_ms)
        .await
        .map_err(|e| e.into_body())?;
    let Some(aborted) = aborted else {
        return Err(ErrorBody::new(
            ErrorCode::Unsupported,
            format!(
                "storage {:?}: its plugin {} cannot list incomplete uploads (built against \
                 berth:plugin@0.1.0)",
                inst.name, inst.plugin
            ),
        ));
    };
    tracing::info!(storage = %inst.name, aborted, hours, "incomplete uploads aborted");
    Ok(UploadsAborted {
        name: inst.name,
        aborted,
    })
}
