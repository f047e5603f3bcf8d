//! `settings.get|update`: the settings an admin may change while Berth runs. A change
//! is kept in the store and outlives restarts, over the server's configuration (flags,
//! environment), to which `reset` returns it; it applies at once — the runner reads
//! the concurrency each turn, the next password check reads the minimum, and a shorter
//! audit retention prunes now.

use std::sync::Arc;

use berth_core::store::StoreAccess;
use berth_engine::Engine;
use berth_engine::jobs::{CONCURRENCY_SETTING, MAX_CONCURRENCY};
use berth_identity::audit::{RETENTION_DAYS_SETTING, Retention};
use berth_identity::password::{self, MIN_LENGTH_CEILING, MIN_LENGTH_SETTING};
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{SettingsGet, SettingsUpdate as Update};
use berth_protocol::api::settings::{Settings, SettingsUpdate};
use berth_protocol::error::ErrorBody;

use crate::errors::{bad_field, internal};
use crate::ws::registry::{Registry, blocking};

const DAY_MS: u64 = 86_400_000;
const MAX_RETENTION_DAYS: u32 = 3650;
/// The settings `reset` knows.
const RESETTABLE: [&str; 3] = [
    CONCURRENCY_SETTING,
    RETENTION_DAYS_SETTING,
    MIN_LENGTH_SETTING,
];

/// What the server was started with: the values a reset returns to.
#[derive(Debug, Clone, Copy)]
pub struct Configured {
    pub job_concurrency: usize,
    pub audit_retention: Retention,
}

pub fn register(r: &mut Registry) {
    r.method(SettingsGet, get);
    r.method(Update, update);
}

async fn get(
    (engine, configured): (Arc<Engine>, Arc<Configured>),
    _: Empty,
) -> Result<Settings, ErrorBody> {
    blocking(move || current(&engine, &configured)).await
}

fn current(engine: &Engine, configured: &Configured) -> Result<Settings, ErrorBody> {
    let store = &*engine.store;
    let mut changed = Vec::new();
    for key in RESETTABLE {
        if store.setting(key).map_err(|e| internal(&e))?.is_some() {
            changed.push(key.to_owned());
        }
    }
    let retention = Retention::effective(configured.audit_retention, store);
    Ok(Settings {
        job_concurrency: engine.jobs.concurrency() as u32,
        audit_retention_days: (retention.max_age_ms / DAY_MS) as u32,
        password_min_length: password::min_length(store) as u32,
        default_storage: super::plugins::current_default_storage(engine)?,
        changed,
    })
}

/// Checks every value before writing any: a bad one changes nothing.
fn validate(p: &SettingsUpdate) -> Result<(), ErrorBody> {
    let within = |field: &str, value: Option<u32>, low: u32, high: u32| match value {
        Some(v) if !(low..=high).contains(&v) => Err(bad_field(
            field,
            format!("{field} must be between {low} and {high}, not {v}"),
        )),
        _ => Ok(()),
    };
    within(
        CONCURRENCY_SETTING,
        p.job_concurrency,
        1,
        MAX_CONCURRENCY as u32,
    )?;
    within(
        RETENTION_DAYS_SETTING,
        p.audit_retention_days,
        1,
        MAX_RETENTION_DAYS,
    )?;
    within(
        MIN_LENGTH_SETTING,
        p.password_min_length,
        password::MIN_LEN as u32,
        MIN_LENGTH_CEILING as u32,
    )?;
    if let Some(unknown) = p.reset.iter().find(|k| !RESETTABLE.contains(&k.as_str())) {
        return Err(bad_field(
            "reset",
            format!(
                "reset: {unknown:?} is not a setting that returns to the configuration; those are {}",
                RESETTABLE.join(", ")
            ),
        ));
    }
    Ok(())
}

async fn update(
    (engine, configured): (Arc<Engine>, Arc<Configured>),
    p: SettingsUpdate,
) -> Result<Settings, ErrorBody> {
    validate(&p)?;
    blocking(move || {
        if let Some(name) = &p.default_storage {
            super::plugins::set_default_storage(&engine, name)?;
        }
        let mut changes: Vec<(&str, Option<u64>)> =
            p.reset.iter().map(|k| (k.as_str(), None)).collect();
        for (key, value) in [
            (CONCURRENCY_SETTING, p.job_concurrency),
            (RETENTION_DAYS_SETTING, p.audit_retention_days),
            (MIN_LENGTH_SETTING, p.password_min_length),
        ] {
            if let Some(v) = value {
                changes.push((key, Some(u64::from(v))));
            }
        }
        engine
            .store
            .set_settings(&changes)
            .map_err(|e| internal(&e))?;
        apply(&engine, &configured)?;
        current(&engine, &configured)
    })
    .await
}

/// Puts the settings as stored to work: the queue's concurrency now, the audit
/// retention by pruning what it no longer keeps.
fn apply(engine: &Engine, configured: &Configured) -> Result<(), ErrorBody> {
    start(engine, configured);
    let store = &*engine.store;
    let retention = Retention::effective(configured.audit_retention, store);
    let pruned = berth_identity::audit::AuditTable::audit_prune(
        store,
        retention,
        berth_core::time::now_ms(),
    )
    .map_err(|e| internal(&e))?;
    if pruned > 0 {
        tracing::info!(pruned, "audit entries past the new retention pruned");
    }
    Ok(())
}

/// Sets the queue's concurrency from the setting, else the configuration (at start,
/// and after a change).
pub fn start(engine: &Engine, configured: &Configured) {
    let concurrency = engine
        .store
        .setting(CONCURRENCY_SETTING)
        .ok()
        .flatten()
        .map_or(configured.job_concurrency, |n| n as usize);
    engine.jobs.set_concurrency(concurrency);
}
