//! The scheduler task: it sleeps until the earliest due time of any schedule (or
//! until a schedule changes), then fires what is due. Nothing polls. A run queues
//! jobs in the one queue, so the engine's order, locks and crash journal apply; the
//! run's outcome follows from its jobs ([`job_finished`]).

use std::sync::{Arc, Weak};

use berth_core::activity::{Notice, Subject};
use berth_core::time::now_ms;
use berth_protocol::api::jobs::JobState;
use berth_protocol::api::schedules::{RunOutcome, RunTrigger, ScheduleAction, ScheduleRun};
use chrono::{DateTime, Utc};

use super::store::{ScheduleRecord, SchedulesTable};
use super::{Compiled, targets, timing};
use crate::jobs::spec::{ActionSpec, BackupSpec, ScheduledBy, StateSpec};
use crate::jobs::{JobSpec, JobsTable};
use crate::{Engine, EngineError};

/// A due time this far behind is a catch-up, not a punctual run (so is one that
/// passed before the scheduler started: Berth was down).
const LATE_MS: u64 = 60_000;

/// What decides one phase's due times: its expression and zone, and the
/// schedule's name (for the jitter), jitter window (s) and grace (ms).
struct Clock<'a> {
    cron: &'a super::cron::Cron,
    zone: chrono_tz::Tz,
    name: &'a str,
    jitter: u32,
    grace: u64,
}

/// Which of a schedule's expressions a due time belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Main,
    /// A sleep window's end.
    Until,
}

/// What to do about one phase of one schedule now.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Run for this due time (the latest passed within grace).
    Fire {
        due_ms: u64,
        trigger: RunTrigger,
    },
    /// Due times passed beyond grace: record one `missed`.
    Missed {
        due_ms: u64,
    },
    /// Nothing before this instant (ms).
    Wait(u64),
    Never,
}

fn at(ms: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms as i64).unwrap_or_default()
}

/// The decision for `cron` whose due times up to `checked` are handled: the latest
/// due time passed within `grace` fires once (never a burst); older ones are missed.
fn decide(clock: &Clock<'_>, checked: u64, now: u64, boot: u64) -> Decision {
    let Clock {
        cron,
        zone,
        name,
        jitter,
        grace,
    } = *clock;
    let fire_at = |due: DateTime<Utc>| {
        let ms = due.timestamp_millis() as u64;
        (
            ms,
            ms + timing::jitter(name, ms, jitter).num_milliseconds() as u64,
        )
    };
    let Some(first) = timing::next_after(cron, zone, at(checked)) else {
        return Decision::Never;
    };
    let (first_due, first_fire) = fire_at(first);
    if first_fire > now {
        return Decision::Wait(first_fire);
    }
    // The latest due time passed, looked for within the grace window only.
    let mut t = at(checked.max(now.saturating_sub(grace + 1)));
    let mut latest = None;
    for _ in 0..100_000 {
        let Some(next) = timing::next_after(cron, zone, t) else {
            break;
        };
        let (due, fire) = fire_at(next);
        if fire > now {
            break;
        }
        latest = Some(due);
        t = next;
    }
    match latest {
        Some(due) if now - due <= grace => Decision::Fire {
            due_ms: due,
            trigger: if now - due > LATE_MS || due < boot {
                RunTrigger::CatchUp
            } else {
                RunTrigger::Due
            },
        },
        _ => Decision::Missed { due_ms: first_due },
    }
}

/// The longest the scheduler trusts one sleep. Tokio's timers run on the monotonic
/// clock, which stands still while the host is suspended, and the wall clock can be
/// stepped (NTP); a night-long sleep could wake hours late. So a long wait is cut into
/// naps, and after each the wall clock is compared with the due time: one clock read,
/// no pass over the schedules unless something is due.
const NAP: std::time::Duration = std::time::Duration::from_secs(60);

/// What the scheduler does next, given the earliest due time (ms) and the time now.
#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// Something is due: pass over the schedules.
    Now,
    /// Sleep this long (or until a schedule changes), then look at the clock again.
    After(std::time::Duration),
    /// No enabled schedule: sleep until one changes.
    OnChange,
}

fn wake(next: Option<u64>, now: u64) -> Wake {
    match next {
        None => Wake::OnChange,
        Some(ms) if ms <= now => Wake::Now,
        Some(ms) => Wake::After(std::time::Duration::from_millis(ms - now).min(NAP)),
    }
}

/// The scheduler task. Holds the engine weakly, so shutdown is not held up.
pub async fn scheduler(engine: Weak<Engine>) {
    let boot = now_ms();
    let mut first = true;
    let mut next = Some(boot);
    let Some(scheduler) = engine.upgrade().map(|e| Arc::clone(&e.scheduler)) else {
        return;
    };
    loop {
        let pause = match wake(next, now_ms()) {
            Wake::Now => {
                let Some(st) = engine.upgrade() else { return };
                let started = std::time::Instant::now();
                let count;
                (next, count) = tick(&st, boot).await;
                drop(st);
                if std::mem::take(&mut first) {
                    tracing::info!(
                        schedules = count,
                        elapsed_us = started.elapsed().as_micros() as u64,
                        next_ms = next,
                        "scheduler started"
                    );
                }
                continue;
            }
            Wake::After(nap) => Some(nap),
            Wake::OnChange => None,
        };
        let changed = async {
            scheduler.notified().await;
            true
        };
        let slept = async {
            match pause {
                Some(nap) => tokio::time::sleep(nap).await,
                None => std::future::pending().await,
            }
            false
        };
        if tokio::select! { c = changed => c, s = slept => s } {
            // A schedule changed: its due times are computed afresh.
            next = Some(now_ms());
        }
    }
}

/// Fires what is due; returns when to look again (ms) — `None` when nothing is due
/// ever (no enabled schedule) — and how many schedules there are.
async fn tick(engine: &Arc<Engine>, boot: u64) -> (Option<u64>, usize) {
    let records = match engine.store.schedules() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the schedules; trying again in a minute");
            return (Some(now_ms() + 60_000), 0);
        }
    };
    let count = records.len();
    let mut earliest: Option<u64> = None;
    for rec in records
        .into_iter()
        .filter(|r| r.spec.enabled.unwrap_or(true))
    {
        let Ok(c) = Compiled::of(&rec.spec) else {
            continue;
        };
        for phase in [Phase::Main, Phase::Until] {
            if let Some(wait) = handle(engine, &rec, &c, phase, boot).await {
                earliest = Some(earliest.map_or(wait, |e| e.min(wait)));
            }
        }
    }
    (earliest, count)
}

/// One phase of one schedule: fire or record a miss if due; when to look again.
async fn handle(
    engine: &Arc<Engine>,
    rec: &ScheduleRecord,
    c: &Compiled,
    phase: Phase,
    boot: u64,
) -> Option<u64> {
    let (cron, checked, action) = match phase {
        Phase::Main => (&c.cron, rec.checked_ms, rec.spec.action),
        Phase::Until => (
            c.until.as_ref()?,
            rec.until_checked_ms,
            rec.spec.action.undo()?,
        ),
    };
    let now = now_ms();
    let name = &rec.spec.name;
    let clock = Clock {
        cron,
        zone: c.zone,
        name,
        jitter: rec.spec.jitter_s.unwrap_or(0),
        grace: super::grace_ms(&rec.spec),
    };
    let decision = decide(&clock, checked, now, boot);
    match decision {
        Decision::Wait(ms) => return Some(ms),
        Decision::Never => return None,
        Decision::Fire { due_ms, trigger } => {
            fire(engine, rec, due_ms, trigger, action).await;
        }
        Decision::Missed { due_ms } => {
            let run = new_run(
                name,
                RunTrigger::Due,
                action,
                due_ms,
                RunOutcome::Missed,
                format!(
                    "due at {} while Berth was not running, and past the grace period of {} s",
                    at(due_ms).to_rfc3339(),
                    super::grace_ms(&rec.spec) / 1000
                ),
            );
            tracing::warn!(schedule = name, due = due_ms, "a scheduled run was missed");
            settle(engine, name, &run, None);
        }
    }
    let handled = now_ms();
    let _ = engine.store.update_schedule(name, |r| match phase {
        Phase::Main => r.checked_ms = r.checked_ms.max(handled),
        Phase::Until => r.until_checked_ms = r.until_checked_ms.max(handled),
    });
    // Look again at once: the next due time is computed from the new state.
    Some(handled)
}

fn new_run(
    schedule: &str,
    trigger: RunTrigger,
    action: ScheduleAction,
    due_ms: u64,
    outcome: RunOutcome,
    message: String,
) -> ScheduleRun {
    ScheduleRun {
        id: crate::jobs::new_id("r"),
        schedule: schedule.to_owned(),
        trigger,
        action,
        due_ms,
        at_ms: now_ms(),
        outcome,
        message,
        jobs: Vec::new(),
    }
}

/// A run as it ended (or went on to its jobs): recorded, audited and announced.
fn settle(engine: &Engine, name: &str, run: &ScheduleRun, failed: Option<bool>) {
    record(engine, name, run, failed);
    audit(engine, run);
    let action = match run.outcome {
        RunOutcome::Running | RunOutcome::Succeeded => "fired",
        RunOutcome::Skipped => "skipped",
        RunOutcome::Missed => "missed",
        RunOutcome::Failed => "failed",
    };
    announce(engine, run, action);
}

/// A `schedule.<action>` event: `fired`, `skipped`, `missed`, `failed` (queueing
/// failed), then `finished` when a run's jobs have ended.
fn announce(engine: &Engine, run: &ScheduleRun, action: &'static str) {
    let outcome = match run.outcome {
        RunOutcome::Running => "running",
        RunOutcome::Succeeded => "succeeded",
        RunOutcome::Skipped => "skipped",
        RunOutcome::Missed => "missed",
        RunOutcome::Failed => "failed",
    };
    engine.jobs.activity.publish(
        Notice::new(Subject::Schedule, action, &run.schedule)
            .name(&run.schedule)
            .kind(run.action.as_str())
            .state(outcome)
            .message(&run.message),
    );
}

/// Writes a run, and makes it the schedule's last one; `failed` counts a failure in
/// a row (or resets the count on success).
fn record(engine: &Engine, name: &str, run: &ScheduleRun, failed: Option<bool>) {
    if let Err(e) = engine.store.put_run(run) {
        tracing::error!(schedule = name, error = %e, "cannot record a scheduled run");
    }
    let _ = engine.store.update_schedule(name, |r| {
        // A run settled after newer ones were recorded (skipped meanwhile) stays
        // behind them.
        if r.last_run
            .as_ref()
            .is_none_or(|last| last.at_ms <= run.at_ms)
        {
            r.last_run = Some(run.clone());
        }
        if !run.jobs.is_empty() {
            r.last_queued = Some(run.clone());
        }
        match failed {
            Some(true) => r.failures += 1,
            Some(false) => r.failures = 0,
            None => {}
        }
    });
}

/// Writes a run to the audit log as the schedule's own act (`schedule:<name>`,
/// method `schedules.fire`): what it queued, or why it did not run.
fn audit(engine: &Engine, run: &ScheduleRun) {
    let outcome = match run.outcome {
        RunOutcome::Running | RunOutcome::Succeeded => "ok",
        RunOutcome::Skipped => "skipped",
        RunOutcome::Missed => "missed",
        RunOutcome::Failed => "failed",
    };
    let mut rec = berth_identity::audit::AuditRecord::new(
        &super::actor(&run.schedule),
        "scheduler",
        "schedules.fire",
        Some(run.schedule.clone()),
        outcome,
    );
    rec.detail = Some(berth_core::text::head(&run.message, 500).to_owned());
    let (log, store) = (Arc::clone(&engine.audit), Arc::clone(&engine.store));
    tokio::spawn(async move { log.record(store, rec, None).await });
}

/// Whether any of the run's jobs is still queued or running.
fn still_active(engine: &Engine, run: &ScheduleRun) -> bool {
    run.outcome == RunOutcome::Running
        && run.jobs.iter().any(|id| {
            matches!(engine.store.job(id), Ok(Some(j)) if !j.info.progress.state.is_terminal())
        })
}

/// Runs a schedule once for `due_ms`: skipped while its previous run is active,
/// otherwise its targets resolved and one job queued per target.
pub async fn fire(
    engine: &Arc<Engine>,
    rec: &ScheduleRecord,
    due_ms: u64,
    trigger: RunTrigger,
    action: ScheduleAction,
) -> ScheduleRun {
    let name = &rec.spec.name;
    // The record read at wake-up may be older than the last run; the run to wait for
    // is the last one that queued jobs (skipped runs queue none).
    let last = engine
        .store
        .schedule(name)
        .ok()
        .flatten()
        .and_then(|r| r.last_queued);
    if let Some(previous) = last.filter(|r| still_active(engine, r)) {
        let run = new_run(
            name,
            trigger,
            action,
            due_ms,
            RunOutcome::Skipped,
            format!(
                "skipped: the previous run ({}) is still active",
                previous.id
            ),
        );
        tracing::info!(schedule = name, "previous run still active; skipped");
        settle(engine, name, &run, None);
        return run;
    }
    let mut run = new_run(
        name,
        trigger,
        action,
        due_ms,
        RunOutcome::Running,
        String::new(),
    );
    match queue(engine, rec, action).await {
        Ok(jobs) if jobs.is_empty() => {
            run.outcome = RunOutcome::Succeeded;
            run.message = "nothing to do: the selector matches no target".into();
        }
        Ok(jobs) => {
            run.message = format!("queued {} job(s)", jobs.len());
            run.jobs = jobs;
        }
        Err(e) => {
            run.outcome = RunOutcome::Failed;
            run.message = e.public();
            notify_failed(engine, &run);
        }
    }
    tracing::info!(schedule = name, run = run.id, outcome = ?run.outcome, "scheduled run");
    let failed = (run.outcome != RunOutcome::Running).then_some(run.outcome == RunOutcome::Failed);
    settle(engine, name, &run, failed);
    run
}

/// Resolves the targets and queues the jobs of one run.
async fn queue(
    engine: &Arc<Engine>,
    rec: &ScheduleRecord,
    action: ScheduleAction,
) -> Result<Vec<String>, EngineError> {
    let spec = &rec.spec;
    if action == ScheduleAction::StateBackup {
        return queue_state(engine, rec).map(|job| vec![job]);
    }
    let host = engine.hosts.get(spec.host.as_deref())?;
    let docker = host.docker().await?;
    let found = targets::resolve(&docker, spec, host.self_id.as_deref()).await?;
    let actor = super::actor(&spec.name);
    let zone = Compiled::of(spec)?.zone.name().to_owned();
    let mut jobs = Vec::new();
    if action != ScheduleAction::Backup {
        if found.is_empty() {
            return Ok(jobs);
        }
        let title = format!(
            "{} {} target(s) (schedule {})",
            capitalised(action.as_str()),
            found.len(),
            spec.name
        );
        let job = JobSpec::Action(ActionSpec {
            host: spec.host.clone(),
            action,
            targets: found,
        });
        jobs.push(engine.jobs.enqueue(&engine.store, job, title, actor)?);
        return Ok(jobs);
    }
    let options = spec.backup.clone().unwrap_or_default();
    for target in found {
        let title = format!("Back up {} {}", target.kind(), target.name());
        let retention = options.retention_for(&target).cloned();
        let job = JobSpec::Backup(BackupSpec {
            host: spec.host.clone(),
            target,
            consistency: options.consistency.unwrap_or_default(),
            storage: options.storage.clone(),
            passphrase: rec.passphrase.clone(),
            trigger: berth_protocol::api::backups::Trigger::Scheduled,
            hooks: options.hooks.clone(),
            include_image: options.include_image,
            schedule: Some(ScheduledBy {
                name: spec.name.clone(),
                retention,
                zone: zone.clone(),
            }),
        });
        jobs.push(
            engine
                .jobs
                .enqueue(&engine.store, job, title, actor.clone())?,
        );
    }
    Ok(jobs)
}

/// A state backup's one job; it needs no Docker, so a run never waits on it.
fn queue_state(engine: &Engine, rec: &ScheduleRecord) -> Result<String, EngineError> {
    let spec = &rec.spec;
    let options = spec.backup.clone().unwrap_or_default();
    let passphrase = rec.passphrase.clone().ok_or_else(|| {
        EngineError::failed("the schedule has no passphrase; a state backup needs one")
    })?;
    let zone = Compiled::of(spec)?.zone.name().to_owned();
    let job = JobSpec::State(StateSpec {
        storage: options.storage,
        passphrase,
        schedule: Some(ScheduledBy {
            name: spec.name.clone(),
            retention: options.retention,
            zone,
        }),
    });
    engine.jobs.enqueue(
        &engine.store,
        job,
        format!("Back up Berth's state (schedule {})", spec.name),
        super::actor(&spec.name),
    )
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A job ended: if it belongs to its schedule's last run and was the run's last
/// active job, the run's outcome is settled (and a failure notified).
pub fn job_finished(engine: &Engine, job: &str) {
    let Ok(Some(rec)) = engine.store.job(job) else {
        return;
    };
    let Some(name) = rec.info.actor.strip_prefix("schedule:") else {
        return;
    };
    let Ok(Some(schedule)) = engine.store.schedule(name) else {
        return;
    };
    let Some(mut run) = schedule
        .last_queued
        .filter(|r| r.jobs.iter().any(|j| j == job))
    else {
        return;
    };
    let states: Vec<(String, JobState, String)> = run
        .jobs
        .iter()
        .filter_map(|id| engine.store.job(id).ok().flatten())
        .map(|j| (j.info.title, j.info.progress.state, j.info.progress.message))
        .collect();
    if states.iter().any(|(_, s, _)| !s.is_terminal()) {
        return;
    }
    let failures: Vec<String> = states
        .iter()
        .filter(|(_, s, _)| *s != JobState::Complete)
        .map(|(title, _, message)| format!("{title}: {message}"))
        .collect();
    if failures.is_empty() {
        run.outcome = RunOutcome::Succeeded;
        run.message = format!("{} job(s) succeeded", states.len());
    } else {
        run.outcome = RunOutcome::Failed;
        run.message = format!(
            "{} of {} job(s) failed — {}",
            failures.len(),
            states.len(),
            failures.join("; ")
        );
        notify_failed(engine, &run);
    }
    record(engine, name, &run, Some(run.outcome == RunOutcome::Failed));
    announce(engine, &run, "finished");
}

fn notify_failed(engine: &Engine, run: &ScheduleRun) {
    use berth_plugins::notifier::Level;
    use berth_protocol::api::plugins::NotifyEvent;
    engine.services.dispatch(
        NotifyEvent::ScheduleFailed,
        Level::Error,
        format!("Schedule {} failed", run.schedule),
        run.message.clone(),
        vec![
            ("schedule".into(), run.schedule.clone()),
            ("run".into(), run.id.clone()),
        ],
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(expr: &str) -> Compiled {
        Compiled::of(&berth_protocol::api::schedules::ScheduleSpec {
            cron: expr.into(),
            zone: Some("UTC".into()),
            ..Default::default()
        })
        .unwrap()
    }

    const HOUR: u64 = 3_600_000;
    // 2026-12-05T00:00:00Z
    const BASE: u64 = 1_796_428_800_000;

    fn decide_for(c: &Compiled, jitter: u32, grace: u64, now: u64) -> Decision {
        let clock = Clock {
            cron: &c.cron,
            zone: c.zone,
            name: "s",
            jitter,
            grace,
        };
        decide(&clock, BASE, now, BASE)
    }

    #[test]
    fn one_catch_up_within_grace_one_miss_beyond_and_no_burst() {
        let c = compiled("0 * * * *");
        // Down from 00:00 to 05:30, grace 1 h: the 05:00 run catches up, once.
        let d = decide_for(&c, 0, HOUR, BASE + 5 * HOUR + HOUR / 2);
        assert_eq!(
            d,
            Decision::Fire {
                due_ms: BASE + 5 * HOUR,
                trigger: RunTrigger::CatchUp
            }
        );
        // Grace 10 min: the 05:00 run is 30 min late; missed, named by the first due.
        let d = decide_for(&c, 0, HOUR / 6, BASE + 5 * HOUR + HOUR / 2);
        assert_eq!(
            d,
            Decision::Missed {
                due_ms: BASE + HOUR
            }
        );
        // On time.
        let d = decide_for(&c, 0, HOUR, BASE + HOUR + 20);
        assert_eq!(
            d,
            Decision::Fire {
                due_ms: BASE + HOUR,
                trigger: RunTrigger::Due
            }
        );
        assert_eq!(
            decide_for(&c, 0, HOUR, BASE + 10),
            Decision::Wait(BASE + HOUR)
        );
    }

    #[test]
    fn long_waits_are_cut_into_naps_checked_against_the_wall_clock() {
        assert_eq!(wake(None, BASE), Wake::OnChange);
        assert_eq!(wake(Some(BASE), BASE), Wake::Now);
        assert_eq!(wake(Some(BASE - 1), BASE), Wake::Now);
        assert_eq!(
            wake(Some(BASE + 1_500), BASE),
            Wake::After(std::time::Duration::from_millis(1_500))
        );
        // Due in 8 h: a nap, not one long sleep that a suspended host would stretch.
        assert_eq!(wake(Some(BASE + 8 * HOUR), BASE), Wake::After(NAP));
        // The host slept through the due time: the next look fires it.
        assert_eq!(wake(Some(BASE + 8 * HOUR), BASE + 9 * HOUR), Wake::Now);
    }

    #[test]
    fn jitter_delays_the_wait() {
        let c = compiled("0 * * * *");
        let Decision::Wait(ms) = decide_for(&c, 600, HOUR, BASE + 10) else {
            panic!()
        };
        assert!((BASE + HOUR..BASE + HOUR + 600_000).contains(&ms));
    }
}
