//! `schedules.*` and `backups.pin`: the scheduler as users see it
//! (`berth_engine::schedule`). Validation and the records' life are the engine's;
//! this module only binds them to the catalogue.

use std::sync::Arc;

use berth_engine::Engine;
use berth_engine::prelude::*;
use berth_engine::schedule::manage;
use berth_protocol::api::Empty;
use berth_protocol::api::backups::{BackupEntry, PinBackup};
use berth_protocol::api::catalogue::{
    BackupsPin, SchedulesCreate, SchedulesDelete, SchedulesEnable, SchedulesHistory, SchedulesList,
    SchedulesMatches, SchedulesPreview, SchedulesRetentionPreview, SchedulesRunNow,
    SchedulesUpdate,
};
use berth_protocol::api::schedules::{
    HistoryQuery, MatchSelector, PreviewSchedule, RetentionPreview, RetentionPreviewParams,
    ScheduleEnable, ScheduleHistory, ScheduleInfo, ScheduleList, SchedulePreview, ScheduleRef,
    ScheduleRun, ScheduleSpec, SelectorMatches,
};
use berth_protocol::error::{ErrorBody, ErrorCode};

use crate::errors::WireResult;
use crate::ws::registry::{Registry, blocking, internal};

pub fn register(r: &mut Registry) {
    r.method(SchedulesList, list);
    r.method(SchedulesCreate, create);
    r.method(SchedulesUpdate, update);
    r.method(SchedulesDelete, delete);
    r.method(SchedulesEnable, enable);
    r.method(SchedulesRunNow, run_now);
    r.method(SchedulesPreview, preview);
    r.method(SchedulesHistory, history);
    r.method(SchedulesMatches, matches);
    r.method(SchedulesRetentionPreview, retention_preview);
    r.method(BackupsPin, pin);
}

async fn list(engine: Arc<Engine>, _: Empty) -> Result<ScheduleList, ErrorBody> {
    blocking(move || {
        Ok(ScheduleList {
            schedules: manage::list(&engine).wire()?,
        })
    })
    .await
}

async fn create(engine: Arc<Engine>, spec: ScheduleSpec) -> Result<ScheduleInfo, ErrorBody> {
    manage::create(&engine, spec).await.wire()
}

async fn update(engine: Arc<Engine>, spec: ScheduleSpec) -> Result<ScheduleInfo, ErrorBody> {
    manage::update(&engine, spec).await.wire()
}

async fn delete(engine: Arc<Engine>, params: ScheduleRef) -> Result<Empty, ErrorBody> {
    blocking(move || {
        manage::delete(&engine, &params.name)
            .wire()
            .map(|()| Empty {})
    })
    .await
}

async fn enable(engine: Arc<Engine>, params: ScheduleEnable) -> Result<ScheduleInfo, ErrorBody> {
    blocking(move || manage::enable(&engine, &params.name, params.enabled).wire()).await
}

async fn run_now(engine: Arc<Engine>, params: ScheduleRef) -> Result<ScheduleRun, ErrorBody> {
    manage::run_now(&engine, &params.name).await.wire()
}

async fn preview(_: Arc<Engine>, params: PreviewSchedule) -> Result<SchedulePreview, ErrorBody> {
    manage::preview(&params).wire()
}

async fn matches(engine: Arc<Engine>, params: MatchSelector) -> Result<SelectorMatches, ErrorBody> {
    Ok(SelectorMatches {
        targets: manage::matches(&engine, params.host.as_deref(), params.selector)
            .await
            .wire()?,
    })
}

async fn history(engine: Arc<Engine>, q: HistoryQuery) -> Result<ScheduleHistory, ErrorBody> {
    blocking(move || {
        Ok(ScheduleHistory {
            runs: manage::history(&engine, &q).wire()?,
        })
    })
    .await
}

async fn retention_preview(
    engine: Arc<Engine>,
    params: RetentionPreviewParams,
) -> Result<RetentionPreview, ErrorBody> {
    blocking(move || manage::retention_preview(&engine, &params).wire()).await
}

/// `backups.pin`: a pinned backup is never deleted by a retention policy.
async fn pin(engine: Arc<Engine>, params: PinBackup) -> Result<BackupEntry, ErrorBody> {
    blocking(move || {
        let mut rec = engine
            .store
            .backup(&params.id)
            .map_err(|e| internal(&e))?
            .ok_or_else(|| {
                ErrorBody::new(ErrorCode::NotFound, format!("no backup {}", params.id))
            })?;
        rec.entry.pinned = params.pinned;
        engine.store.put_backup(&rec).map_err(|e| internal(&e))?;
        Ok(rec.entry)
    })
    .await
}
