//! `schedules.*` and `backups.pin`: the scheduler as users see it
//! (`berth_engine::schedule`). Validation and the records' life are the engine's;
//! this module only binds them to the catalogue.

use std::sync::Arc;

use berth_engine::Engine;
use berth_engine::prelude::*;
use berth_engine::schedule::manage;
use berth_identity::principal::Principal;
use berth_protocol::api::Empty;
use berth_protocol::api::backups::{BackupEntry, PinBackup};
use berth_protocol::api::catalogue::{
    BackupsPin, SchedulesCreate, SchedulesDelete, SchedulesEnable, SchedulesHistory, SchedulesList,
    SchedulesMatches, SchedulesPreview, SchedulesRetentionPreview, SchedulesRunNow,
    SchedulesUpdate,
};
use berth_protocol::api::schedules::{
    HistoryQuery, MatchSelector, PreviewSchedule, RetentionPreview, RetentionPreviewParams,
    ScheduleAction, ScheduleEnable, ScheduleHistory, ScheduleInfo, ScheduleList, SchedulePreview,
    ScheduleRef, ScheduleRun, ScheduleSpec, SelectorMatches,
};
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::role::Role;

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

/// A `state_backup` schedule copies the installation key and every user: only an
/// admin may make, change, pause, delete or run one (like `state.backup` itself).
fn authorise(principal: &Principal, action: ScheduleAction) -> Result<(), ErrorBody> {
    if action == ScheduleAction::StateBackup && principal.role != Role::Admin {
        return Err(ErrorBody::new(
            ErrorCode::Forbidden,
            "a state_backup schedule needs the admin role",
        ));
    }
    Ok(())
}

/// [`authorise`] by the stored schedule `name`.
async fn authorise_stored(
    engine: &Arc<Engine>,
    principal: &Principal,
    name: &str,
) -> Result<(), ErrorBody> {
    let (engine, name) = (Arc::clone(engine), name.to_owned());
    let action = blocking(move || manage::action(&engine, &name).wire()).await?;
    authorise(principal, action)
}

async fn create(
    (engine, principal): (Arc<Engine>, Principal),
    spec: ScheduleSpec,
) -> Result<ScheduleInfo, ErrorBody> {
    authorise(&principal, spec.action)?;
    manage::create(&engine, spec).await.wire()
}

async fn update(
    (engine, principal): (Arc<Engine>, Principal),
    spec: ScheduleSpec,
) -> Result<ScheduleInfo, ErrorBody> {
    authorise(&principal, spec.action)?;
    authorise_stored(&engine, &principal, &spec.name).await?;
    manage::update(&engine, spec).await.wire()
}

async fn delete(
    (engine, principal): (Arc<Engine>, Principal),
    params: ScheduleRef,
) -> Result<Empty, ErrorBody> {
    authorise_stored(&engine, &principal, &params.name).await?;
    blocking(move || {
        manage::delete(&engine, &params.name)
            .wire()
            .map(|()| Empty {})
    })
    .await
}

async fn enable(
    (engine, principal): (Arc<Engine>, Principal),
    params: ScheduleEnable,
) -> Result<ScheduleInfo, ErrorBody> {
    authorise_stored(&engine, &principal, &params.name).await?;
    blocking(move || manage::enable(&engine, &params.name, params.enabled).wire()).await
}

async fn run_now(
    (engine, principal): (Arc<Engine>, Principal),
    params: ScheduleRef,
) -> Result<ScheduleRun, ErrorBody> {
    authorise_stored(&engine, &principal, &params.name).await?;
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
