//! What the API does with schedules: full validation at save time, the record's
//! life (create, update, pause, delete — history kept), and the answers that show
//! what a schedule means (next runs, description, retention preview).

use std::sync::Arc;

use berth_core::time::now_ms;
use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::schedules::{
    HistoryQuery, PreviewSchedule, RetentionGroup, RetentionPreview, RetentionPreviewParams,
    ScheduleAction, ScheduleBackup, ScheduleInfo, SchedulePreview, ScheduleRun, ScheduleSpec,
    Selector,
};
use chrono::Utc;

use super::retention::{self, Candidate};
use super::store::{ScheduleRecord, SchedulesTable};
use super::{Compiled, GRACE_MAX_S, JITTER_MAX_S, targets, timing};
use crate::prelude::*;
use crate::{Engine, EngineError};

/// Explicit targets a schedule may name.
const MAX_TARGETS: usize = 100;

fn store_err(e: berth_core::store::StoreError) -> EngineError {
    EngineError::from(e)
}

/// Everything that can be checked without running: names, expressions, zone, limits,
/// options against the action, targets against Docker, the storage.
pub async fn validate(engine: &Engine, spec: &ScheduleSpec) -> Result<Compiled, EngineError> {
    super::validate_name(&spec.name)?;
    let compiled = Compiled::of(spec)?;
    if spec.jitter_s.is_some_and(|j| j > JITTER_MAX_S) {
        return Err(EngineError::bad(
            "jitter_s",
            format!("at most {JITTER_MAX_S} seconds"),
        ));
    }
    if spec.grace_s.is_some_and(|g| g > GRACE_MAX_S) {
        return Err(EngineError::bad(
            "grace_s",
            format!("at most {GRACE_MAX_S} seconds (7 days)"),
        ));
    }
    if spec.action == ScheduleAction::StateBackup {
        validate_state(engine, spec)?;
        return Ok(compiled);
    }
    if spec.targets.is_empty() && spec.selector.is_none() {
        return Err(EngineError::bad(
            "targets",
            "name targets, or a selector, or both",
        ));
    }
    if spec.targets.len() > MAX_TARGETS {
        return Err(EngineError::bad(
            "targets",
            format!("at most {MAX_TARGETS} targets"),
        ));
    }
    for t in &spec.targets {
        berth_docker::args::object("targets", t.name())?;
        let lifecycle = matches!(
            t,
            BackupTarget::Container { .. } | BackupTarget::Project { .. }
        );
        if spec.action != ScheduleAction::Backup && !lifecycle {
            return Err(EngineError::bad(
                "targets",
                format!(
                    "{} acts on containers and projects, not a {}",
                    spec.action.as_str(),
                    t.kind()
                ),
            ));
        }
    }
    if let Some(Selector::Label { value }) = &spec.selector {
        berth_docker::args::object("selector.value", value)?;
    }
    validate_backup(engine, spec)?;
    let host = engine.hosts.get(spec.host.as_deref())?;
    targets::check(&host.docker().await?, &spec.targets).await?;
    Ok(compiled)
}

/// A `state_backup` schedule: no targets (it backs up Berth itself), a storage that
/// exists, a retention policy at most; the passphrase is checked when it is sealed.
fn validate_state(engine: &Engine, spec: &ScheduleSpec) -> Result<(), EngineError> {
    if !spec.targets.is_empty() || spec.selector.is_some() {
        return Err(EngineError::bad(
            "targets",
            "a state backup has no targets: it copies Berth's own data",
        ));
    }
    let options = spec.backup.clone().unwrap_or_default();
    let only_state = ScheduleBackup {
        storage: options.storage.clone(),
        retention: options.retention.clone(),
        passphrase: options.passphrase.clone(),
        ..ScheduleBackup::default()
    };
    if options != only_state {
        return Err(EngineError::bad(
            "backup",
            "a state backup takes a storage, a passphrase and a retention policy only",
        ));
    }
    crate::backup::storage(engine, options.storage.as_deref())?;
    check_retention(&options, "backup.")
}

fn validate_backup(engine: &Engine, spec: &ScheduleSpec) -> Result<(), EngineError> {
    let Some(options) = &spec.backup else {
        return Ok(());
    };
    if spec.action != ScheduleAction::Backup {
        return Err(EngineError::bad(
            "backup",
            "backup options belong to a backup schedule",
        ));
    }
    crate::backup::storage(engine, options.storage.as_deref())?;
    crate::backup::hooks::resolve(&options.hooks, &Default::default())?;
    let containers_only = spec.targets.iter().all(|t| {
        matches!(
            t,
            BackupTarget::Container { .. } | BackupTarget::Project { .. }
        )
    });
    if options.include_image && !containers_only {
        return Err(EngineError::bad(
            "backup.include_image",
            "only container and project targets have images to carry",
        ));
    }
    check_retention(options, "backup.")
}

/// The policies of a backup schedule: each valid, one per target at most. `prefix`
/// goes before the field names in errors.
fn check_retention(options: &ScheduleBackup, prefix: &str) -> Result<(), EngineError> {
    if let Some(r) = &options.retention {
        retention::validate(r).map_err(|e| EngineError::bad(&format!("{prefix}retention"), e))?;
    }
    for (i, own) in options.target_retention.iter().enumerate() {
        let field = format!("{prefix}target_retention[{i}]");
        if options.target_retention[..i]
            .iter()
            .any(|t| t.target == own.target)
        {
            return Err(EngineError::bad(
                &field,
                format!(
                    "{} {} has a policy already",
                    own.target.kind(),
                    own.target.name()
                ),
            ));
        }
        retention::validate(&own.retention).map_err(|e| EngineError::bad(&field, e))?;
    }
    Ok(())
}

/// Next runs of one expression after `after` (ms), jitter included.
fn runs_ms(
    cron: &super::cron::Cron,
    compiled: &Compiled,
    name: &str,
    jitter: u32,
    count: usize,
) -> Vec<u64> {
    timing::next_runs(cron, compiled.zone, Utc::now(), count)
        .into_iter()
        .map(|t| {
            let due = t.timestamp_millis() as u64;
            due + timing::jitter(name, due, jitter).num_milliseconds() as u64
        })
        .collect()
}

/// A schedule as the API shows it.
pub fn info(rec: &ScheduleRecord) -> ScheduleInfo {
    let spec = rec.spec.clone();
    let compiled = Compiled::of(&spec);
    let enabled = spec.enabled.unwrap_or(true);
    let jitter = spec.jitter_s.unwrap_or(0);
    let (zone, description, until_description, next_runs, next_until) = match &compiled {
        Ok(c) => (
            c.zone.name().to_owned(),
            c.cron.describe(),
            c.until.as_ref().map(super::cron::Cron::describe),
            if enabled {
                runs_ms(&c.cron, c, &spec.name, jitter, 5)
            } else {
                Vec::new()
            },
            match (&c.until, enabled) {
                (Some(u), true) => runs_ms(u, c, &spec.name, jitter, 5),
                _ => Vec::new(),
            },
        ),
        // Saved by a build that understood it; shown, not run.
        Err(e) => (
            String::new(),
            format!("not understood: {e}"),
            None,
            Vec::new(),
            Vec::new(),
        ),
    };
    ScheduleInfo {
        spec,
        zone,
        description,
        until_description,
        next_runs,
        next_until,
        last_run: rec.last_run.clone(),
        failures: rec.failures,
        encrypted: rec.passphrase.is_some(),
        created_ms: rec.created_ms,
        updated_ms: rec.updated_ms,
    }
}

pub fn list(engine: &Engine) -> Result<Vec<ScheduleInfo>, EngineError> {
    Ok(engine
        .store
        .schedules()
        .map_err(store_err)?
        .iter()
        .map(info)
        .collect())
}

/// What schedule `name` does (callers authorise by it: a `state_backup` schedule is
/// an admin's).
pub fn action(engine: &Engine, name: &str) -> Result<ScheduleAction, EngineError> {
    get(engine, name).map(|rec| rec.spec.action)
}

fn get(engine: &Engine, name: &str) -> Result<ScheduleRecord, EngineError> {
    engine
        .store
        .schedule(name)
        .map_err(store_err)?
        .ok_or_else(|| EngineError::NotFound {
            field: Some("name".into()),
            message: format!("no schedule named {name}"),
        })
}

/// What a spec asks of the sealed passphrase.
enum Passphrase {
    /// Absent: keep the one set.
    Keep,
    /// Empty: no encryption.
    Remove,
    Set(String),
}

impl Passphrase {
    fn sealed(self) -> Option<String> {
        match self {
            Self::Set(sealed) => Some(sealed),
            Self::Keep | Self::Remove => None,
        }
    }
}

fn state_needs_passphrase() -> EngineError {
    EngineError::bad(
        "backup.passphrase",
        format!(
            "a state backup is always encrypted: give a passphrase of at least {} characters",
            crate::state::MIN_PASSPHRASE
        ),
    )
}

/// Takes the passphrase out of the spec (the spec is stored without it), sealed.
fn take_passphrase(engine: &Engine, spec: &mut ScheduleSpec) -> Result<Passphrase, EngineError> {
    let Some(given) = spec.backup.as_mut().and_then(|b| b.passphrase.take()) else {
        return Ok(Passphrase::Keep);
    };
    if given.is_empty() {
        return Ok(Passphrase::Remove);
    }
    if spec.action == ScheduleAction::StateBackup {
        crate::state::check_passphrase(&given)
            .map_err(|e| EngineError::bad("backup.passphrase", e.public()))?;
    }
    let sealed = crate::backup::seal_passphrase(engine, Some(&given)).map_err(|_| {
        EngineError::bad(
            "backup.passphrase",
            "a passphrase has at least 8 characters",
        )
    })?;
    Ok(sealed.map_or(Passphrase::Remove, Passphrase::Set))
}

pub async fn create(engine: &Engine, mut spec: ScheduleSpec) -> Result<ScheduleInfo, EngineError> {
    let passphrase = take_passphrase(engine, &mut spec)?.sealed();
    validate(engine, &spec).await?;
    if spec.action == ScheduleAction::StateBackup && passphrase.is_none() {
        return Err(state_needs_passphrase());
    }
    if engine
        .store
        .schedule(&spec.name)
        .map_err(store_err)?
        .is_some()
    {
        return Err(EngineError::conflict(format!(
            "a schedule named {} exists",
            spec.name
        )));
    }
    let now = now_ms();
    let rec = ScheduleRecord {
        spec,
        created_ms: now,
        updated_ms: now,
        checked_ms: now,
        until_checked_ms: now,
        failures: 0,
        last_run: None,
        last_queued: None,
        passphrase,
    };
    engine.store.put_schedule(&rec).map_err(store_err)?;
    engine.scheduler.notify_one();
    Ok(info(&rec))
}

/// Replaces a schedule's definition; due times start over from now (an edit is not
/// a reason to catch up).
pub async fn update(engine: &Engine, mut spec: ScheduleSpec) -> Result<ScheduleInfo, EngineError> {
    let passphrase = take_passphrase(engine, &mut spec)?;
    validate(engine, &spec).await?;
    let existing = get(engine, &spec.name)?;
    // A state backup is always encrypted, with a passphrase checked for its length:
    // one kept from a backup schedule (8 characters may do there) is not enough.
    let kept_fits =
        existing.spec.action == ScheduleAction::StateBackup && existing.passphrase.is_some();
    if spec.action == ScheduleAction::StateBackup
        && match passphrase {
            Passphrase::Set(_) => false,
            Passphrase::Keep => !kept_fits,
            Passphrase::Remove => true,
        }
    {
        return Err(state_needs_passphrase());
    }
    let now = now_ms();
    let rec = engine
        .store
        .update_schedule(&spec.name.clone(), |rec| {
            rec.spec = spec;
            match passphrase {
                Passphrase::Keep => {}
                Passphrase::Remove => rec.passphrase = None,
                Passphrase::Set(sealed) => rec.passphrase = Some(sealed),
            }
            rec.updated_ms = now;
            rec.checked_ms = now;
            rec.until_checked_ms = now;
        })
        .map_err(store_err)?
        .ok_or_else(|| EngineError::not_found("the schedule was deleted meanwhile"))?;
    engine.scheduler.notify_one();
    Ok(info(&rec))
}

/// Pauses or resumes; a resumed schedule does not catch up on its pause.
pub fn enable(engine: &Engine, name: &str, enabled: bool) -> Result<ScheduleInfo, EngineError> {
    get(engine, name)?;
    let now = now_ms();
    let rec = engine
        .store
        .update_schedule(name, |rec| {
            if enabled && !rec.spec.enabled.unwrap_or(true) {
                rec.checked_ms = now;
                rec.until_checked_ms = now;
            }
            rec.spec.enabled = Some(enabled);
            rec.updated_ms = now;
        })
        .map_err(store_err)?
        .ok_or_else(|| EngineError::not_found(format!("no schedule named {name}")))?;
    engine.scheduler.notify_one();
    Ok(info(&rec))
}

/// Deletes a schedule; its runs stay in the history.
pub fn delete(engine: &Engine, name: &str) -> Result<(), EngineError> {
    if !engine.store.delete_schedule(name).map_err(store_err)? {
        get(engine, name)?;
    }
    engine.scheduler.notify_one();
    Ok(())
}

pub fn preview(params: &PreviewSchedule) -> Result<SchedulePreview, EngineError> {
    let cron = super::cron::Cron::parse(&params.cron)
        .map_err(|e| EngineError::bad("cron", e.to_string()))?;
    let zone = timing::zone(params.zone.as_deref()).map_err(|e| EngineError::bad("zone", e))?;
    let count = params.count.unwrap_or(5).clamp(1, 100) as usize;
    Ok(SchedulePreview {
        zone: zone.name().to_owned(),
        description: cron.describe(),
        next_runs: timing::next_runs(&cron, zone, Utc::now(), count)
            .into_iter()
            .map(|t| t.timestamp_millis() as u64)
            .collect(),
    })
}

/// What `selector` matches on the host now.
pub async fn matches(
    engine: &Engine,
    host: Option<&str>,
    selector: Selector,
) -> Result<Vec<BackupTarget>, EngineError> {
    if let Selector::Label { value } = &selector {
        berth_docker::args::object("selector.value", value)?;
    }
    let host = engine.hosts.get(host)?;
    let spec = ScheduleSpec {
        selector: Some(selector),
        ..Default::default()
    };
    targets::resolve(&host.docker().await?, &spec, host.self_id.as_deref()).await
}

pub fn history(engine: &Engine, q: &HistoryQuery) -> Result<Vec<ScheduleRun>, EngineError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1_000) as usize;
    engine
        .store
        .runs(q.name.as_deref(), limit)
        .map_err(store_err)
}

/// A manual run: recorded as such, subject to the same overlap rule.
pub async fn run_now(engine: &Arc<Engine>, name: &str) -> Result<ScheduleRun, EngineError> {
    let rec = get(engine, name)?;
    let action = rec.spec.action;
    Ok(super::scheduler::fire(
        engine,
        &rec,
        now_ms(),
        berth_protocol::api::schedules::RunTrigger::Manual,
        action,
    )
    .await)
}

/// The backups a retention policy would consider for a schedule: its own, and the
/// manual ones of the same targets where `include_manual` says so (the target's
/// policy's `include_manual`); grouped by target.
pub fn candidates(
    engine: &Engine,
    schedule: &str,
    include_manual: &dyn Fn(&BackupTarget) -> bool,
    only: Option<&BackupTarget>,
) -> Result<Vec<(BackupTarget, Vec<Candidate>)>, EngineError> {
    use berth_protocol::api::backups::{BackupStatus, Trigger};
    let all = engine.store.backup_entries().map_err(store_err)?;
    let ours: std::collections::HashSet<BackupTarget> = all
        .iter()
        .filter(|e| e.schedule.as_deref() == Some(schedule))
        .map(|e| e.target.clone())
        .collect();
    let mut groups: Vec<(BackupTarget, Vec<Candidate>)> = Vec::new();
    for e in all {
        let mine = e.schedule.as_deref() == Some(schedule);
        let manual =
            e.trigger == Trigger::Manual && ours.contains(&e.target) && include_manual(&e.target);
        if !(mine || manual)
            || e.status != BackupStatus::Complete
            || only.is_some_and(|t| *t != e.target)
        {
            continue;
        }
        let candidate = Candidate {
            id: e.id.clone(),
            created_ms: e.created_ms,
            pinned: e.pinned,
        };
        match groups.iter_mut().find(|(t, _)| *t == e.target) {
            Some((_, list)) => list.push(candidate),
            None => groups.push((e.target.clone(), vec![candidate])),
        }
    }
    Ok(groups)
}

pub fn retention_preview(
    engine: &Engine,
    params: &RetentionPreviewParams,
) -> Result<RetentionPreview, EngineError> {
    let rec = get(engine, &params.schedule)?;
    // The policies tried, each in place of the schedule's own where given.
    let mut options = rec.spec.backup.clone().unwrap_or_default();
    if params.retention.is_some() {
        options.retention = params.retention.clone();
    }
    if let Some(own) = &params.target_retention {
        options.target_retention = own.clone();
    }
    if options.retention.is_none() && options.target_retention.is_empty() {
        return Err(EngineError::bad(
            "retention",
            "the schedule has no retention policy; give one to try",
        ));
    }
    check_retention(&options, "")?;
    let zone = Compiled::of(&rec.spec)?.zone;
    let include_manual =
        |t: &BackupTarget| options.retention_for(t).is_some_and(|p| p.include_manual);
    let groups = candidates(engine, &params.schedule, &include_manual, None)?
        .into_iter()
        .filter_map(|(target, list)| {
            let policy = options.retention_for(&target)?;
            Some(RetentionGroup {
                own_policy: options.target_retention.iter().any(|t| t.target == target),
                backups: retention::plan(&list, policy, zone),
                target,
            })
        })
        .collect();
    Ok(RetentionPreview { groups })
}
