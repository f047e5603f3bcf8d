//! The scheduler against the real engine and the real clock: a 6-field schedule
//! backing a container up every few seconds and pruning by keep-last; validation and
//! previews; runs missed while Berth was down (one catch-up within grace, a `missed`
//! record beyond it); a project stopped and started in dependency order; two
//! schedules on one container kept apart by the job locks.

use std::time::Duration;

use berth_client::Client;
use berth_protocol::api::Empty;
use berth_protocol::api::backups::{BackupQuery, BackupTarget, Consistency, Trigger};
use berth_protocol::api::catalogue::{
    BackupsList, BackupsPin, JobProgress, JobsGet, SchedulesCreate, SchedulesDelete,
    SchedulesEnable, SchedulesHistory, SchedulesList, SchedulesMatches, SchedulesPreview,
    SchedulesRetentionPreview, SchedulesRunNow,
};
use berth_protocol::api::jobs::{JobProgressParams, JobRef, JobState};
use berth_protocol::api::schedules::{
    HistoryQuery, MatchSelector, PreviewSchedule, Retention, RetentionPreviewParams, RunOutcome,
    RunTrigger, ScheduleAction, ScheduleBackup, ScheduleEnable, ScheduleRef, ScheduleRun,
    ScheduleSpec, Selector, TargetRetention,
};
use berth_protocol::error::ErrorCode;
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::jobs::{WAIT, code, end_state};
use berth_tests::server::{Berth, serve_command};
use berth_tests::ws;
use futures_util::StreamExt;

fn container(name: &str) -> BackupTarget {
    BackupTarget::Container {
        name: name.to_owned(),
    }
}

async fn history(c: &Client, name: &str) -> Vec<ScheduleRun> {
    c.call::<SchedulesHistory>(HistoryQuery {
        name: Some(name.to_owned()),
        limit: None,
    })
    .await
    .unwrap()
    .runs
}

/// Hot backups whose pre hook waits until the test creates `/tmp/go` in the
/// container: a run kept busy for as long as the test needs.
fn held_until_go() -> Option<ScheduleBackup> {
    Some(ScheduleBackup {
        consistency: Some(Consistency::Hot),
        hooks: berth_protocol::api::backups::Hooks {
            pre: Some("while [ ! -e /tmp/go ]; do sleep 0.1; done".into()),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// Waits (on `job.progress` for every job) until `n` jobs other than `old` have
/// completed.
async fn completed_jobs(c: &Client, n: usize, old: &[String]) -> Vec<String> {
    let mut sub = c
        .open::<JobProgress>(JobProgressParams { job: None })
        .await
        .unwrap();
    let mut done: Vec<String> = Vec::new();
    tokio::time::timeout(WAIT, async {
        while let Some(p) = sub.next().await {
            let p = p.unwrap();
            assert_ne!(p.state, JobState::Failed, "a scheduled job failed: {p:?}");
            if p.state == JobState::Complete && !done.contains(&p.job) && !old.contains(&p.job) {
                done.push(p.job);
                if done.len() == n {
                    return;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} jobs completed", done.len()));
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_every_few_seconds_backs_up_and_keeps_the_last_two() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let vol = scope.create_volume("sched-data").await;
    let app = scope.name("sched-app");
    scope
        .container("sched-app")
        .volume(&vol, "/data")
        .sh("echo kept > /data/file; while true; do sleep 1; done")
        .start()
        .await;
    // A manual backup of the same target: never a candidate of the schedule's policy.
    let manual = op
        .call::<berth_protocol::api::catalogue::BackupsCreate>(
            berth_protocol::api::backups::CreateBackup {
                targets: vec![container(&app)],
                consistency: Some(Consistency::Hot),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(end_state(&op, &manual.jobs[0]).await.0, JobState::Complete);

    let created = op
        .call::<SchedulesCreate>(ScheduleSpec {
            name: "every-3s".into(),
            cron: "*/3 * * * * *".into(),
            zone: Some("UTC".into()),
            targets: vec![container(&app)],
            backup: Some(ScheduleBackup {
                consistency: Some(Consistency::Hot),
                retention: Some(Retention {
                    last: Some(2),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.description, "Every 3 seconds");
    assert_eq!(created.next_runs.len(), 5);
    assert!(created.next_runs.windows(2).all(|w| w[1] - w[0] == 3_000));

    let jobs = completed_jobs(&op, 4, &manual.jobs).await;
    op.call::<SchedulesEnable>(ScheduleEnable {
        name: "every-3s".into(),
        enabled: false,
    })
    .await
    .unwrap();
    // A run queued before the pause finishes; then nothing more starts.
    let runs = history(&op, "every-3s").await;
    for run in &runs {
        for job in &run.jobs {
            end_state(&op, job).await;
        }
    }
    let job = op
        .call::<JobsGet>(JobRef {
            id: jobs[0].clone(),
        })
        .await
        .unwrap();
    assert_eq!(job.job.actor, "schedule:every-3s");
    assert!(
        job.log
            .iter()
            .any(|l| l.message.starts_with("retention keeps")),
        "{:?}",
        job.log
    );

    let listed = op
        .call::<BackupsList>(BackupQuery {
            target: Some(app.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .backups;
    let scheduled: Vec<_> = listed
        .iter()
        .filter(|b| b.trigger == Trigger::Scheduled)
        .collect();
    assert_eq!(scheduled.len(), 2, "keep-last 2: {listed:?}");
    assert!(
        scheduled
            .iter()
            .all(|b| b.schedule.as_deref() == Some("every-3s"))
    );
    let manual_id = manual_backup(&op, &manual.jobs[0]).await;
    assert!(
        listed.iter().any(|b| b.id == manual_id),
        "the manual backup stays"
    );
    // The two kept are the two newest backups the schedule made.
    let succeeded: Vec<&ScheduleRun> = runs
        .iter()
        .filter(|r| r.outcome == RunOutcome::Succeeded)
        .collect();
    assert!(succeeded.len() >= 4, "{runs:?}");
    let stored = std::fs::read_dir(berth.data_dir.join("backups"))
        .unwrap()
        .flatten()
        .filter(|d| d.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .filter(|f| f.file_name().to_string_lossy().ends_with(".tar.gz"))
        .count();
    assert_eq!(
        stored, 3,
        "two scheduled objects and the manual one on disk"
    );

    // The retention preview agrees, and a pinned backup is kept by its pin.
    op.call::<BackupsPin>(berth_protocol::api::backups::PinBackup {
        id: scheduled[1].id.clone(),
        pinned: true,
    })
    .await
    .unwrap();
    let preview = op
        .call::<SchedulesRetentionPreview>(RetentionPreviewParams {
            schedule: "every-3s".into(),
            retention: Some(Retention {
                last: Some(1),
                ..Default::default()
            }),
            target_retention: None,
        })
        .await
        .unwrap();
    let verdicts = &preview.groups[0].backups;
    assert_eq!(verdicts.len(), 2);
    assert_eq!(verdicts[0].reasons, ["last"]);
    assert_eq!(verdicts[1].reasons, ["pinned"]);
    assert!(!preview.groups[0].own_policy);
    // A target's own policy wins over the schedule's for its backups.
    let own = op
        .call::<SchedulesRetentionPreview>(RetentionPreviewParams {
            schedule: "every-3s".into(),
            retention: Some(Retention {
                last: Some(1),
                ..Default::default()
            }),
            target_retention: Some(vec![TargetRetention {
                target: container(&app),
                retention: Retention {
                    last: Some(2),
                    ..Default::default()
                },
            }]),
        })
        .await
        .unwrap();
    assert!(own.groups[0].own_policy);
    let reasons: Vec<_> = own.groups[0]
        .backups
        .iter()
        .map(|b| b.reasons.clone())
        .collect();
    assert_eq!(reasons, [vec!["last"], vec!["pinned", "last"]]);
    // Each run is in the audit log as the schedule's own act.
    let audited = op
        .call::<berth_protocol::api::catalogue::AuditList>(berth_protocol::api::audit::AuditQuery {
            filter: berth_protocol::api::audit::AuditFilter {
                actor: Some("schedule:every-3s".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap()
        .entries;
    assert!(
        audited
            .iter()
            .filter(|e| e.method == "schedules.fire" && e.outcome == "ok")
            .count()
            >= 4,
        "{audited:?}"
    );
    op.call::<SchedulesDelete>(ScheduleRef {
        name: "every-3s".into(),
    })
    .await
    .unwrap();
    assert!(
        !history(&op, "every-3s").await.is_empty(),
        "history outlives the schedule"
    );
}

async fn manual_backup(c: &Client, job: &str) -> String {
    c.call::<JobsGet>(JobRef { id: job.to_owned() })
        .await
        .unwrap()
        .job
        .backup
        .expect("the backup the job made")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_validated_previewed_and_guarded_by_role() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let app = scope.name("valid-app");
    scope.container("valid-app").sh("sleep 600").start().await;
    let spec = |cron: &str| ScheduleSpec {
        name: "nightly".into(),
        cron: cron.into(),
        zone: Some("Europe/Berlin".into()),
        targets: vec![container(&app)],
        ..Default::default()
    };
    for (bad, field, needle) in [
        (spec("61 2 * * *"), "cron", "minute"),
        (
            ScheduleSpec {
                zone: Some("Mars/Base".into()),
                ..spec("@daily")
            },
            "zone",
            "IANA",
        ),
        (
            ScheduleSpec {
                name: "../x".into(),
                ..spec("@daily")
            },
            "name",
            "letters",
        ),
        (
            ScheduleSpec {
                until: Some("0 7 * * *".into()),
                ..spec("@daily")
            },
            "until",
            "stop or pause",
        ),
        (
            ScheduleSpec {
                targets: vec![],
                ..spec("@daily")
            },
            "targets",
            "selector",
        ),
        (
            ScheduleSpec {
                backup: Some(ScheduleBackup {
                    retention: Some(Retention::default()),
                    ..Default::default()
                }),
                ..spec("@daily")
            },
            "backup.retention",
            "at least one rule",
        ),
    ] {
        let err = op.call::<SchedulesCreate>(bad).await.unwrap_err();
        let body = err.body().expect("an error body");
        assert_eq!(body.code, ErrorCode::BadRequest, "{body:?}");
        assert!(body.message.contains(needle), "{field}: {}", body.message);
        assert_eq!(
            body.details.as_ref().and_then(|d| d["field"].as_str()),
            Some(field),
            "{body:?}"
        );
    }
    let missing = op
        .call::<SchedulesCreate>(ScheduleSpec {
            targets: vec![container("no-such-container-anywhere")],
            ..spec("@daily")
        })
        .await;
    assert_eq!(code(&missing), Some(ErrorCode::NotFound));

    let created = op
        .call::<SchedulesCreate>(spec("30 2 * * 1-5"))
        .await
        .unwrap();
    assert_eq!(created.description, "At 02:30, Monday to Friday");
    assert_eq!(created.zone, "Europe/Berlin");
    assert_eq!(created.next_runs.len(), 5);
    let dup = op.call::<SchedulesCreate>(spec("@daily")).await;
    assert_eq!(code(&dup), Some(ErrorCode::Conflict));

    let preview = op
        .call::<SchedulesPreview>(PreviewSchedule {
            cron: "@weekly".into(),
            zone: Some("UTC".into()),
            count: Some(3),
        })
        .await
        .unwrap();
    assert_eq!(preview.description, "At 00:00, Sunday");
    assert!(
        preview
            .next_runs
            .windows(2)
            .all(|w| w[1] - w[0] == 7 * 86_400_000)
    );

    // A sleep window: stop at 23:00, start at 07:00, one row with both next times.
    let window = op
        .call::<SchedulesCreate>(ScheduleSpec {
            name: "night".into(),
            action: ScheduleAction::Stop,
            until: Some("0 7 * * *".into()),
            ..spec("0 23 * * *")
        })
        .await
        .unwrap();
    assert_eq!(window.next_until.len(), 5);
    assert_eq!(window.until_description.as_deref(), Some("At 07:00"));

    // A passphrase: refused when short; kept sealed, never returned.
    let sealed = |passphrase: &str| ScheduleSpec {
        name: "sealed".into(),
        backup: Some(ScheduleBackup {
            passphrase: Some(passphrase.into()),
            ..Default::default()
        }),
        ..spec("@daily")
    };
    let short = op
        .call::<SchedulesCreate>(sealed("short"))
        .await
        .unwrap_err();
    assert_eq!(
        short
            .body()
            .and_then(|b| b.details.as_ref())
            .and_then(|d| d["field"].as_str()),
        Some("backup.passphrase")
    );
    let encrypted = op
        .call::<SchedulesCreate>(sealed("a long passphrase"))
        .await
        .unwrap();
    assert!(encrypted.encrypted);
    assert_eq!(encrypted.spec.backup.unwrap().passphrase, None);
    let listed = op.call::<SchedulesList>(Empty {}).await.unwrap();
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains("a long passphrase")
    );
    op.call::<SchedulesDelete>(ScheduleRef {
        name: "sealed".into(),
    })
    .await
    .unwrap();

    // What a selector matches now.
    let labelled = scope.name("labelled");
    scope
        .container("labelled")
        .label("berth.schedule", "nightly-set")
        .sh("sleep 600")
        .start()
        .await;
    let found = |selector: Selector| {
        let op = &op;
        async move {
            op.call::<SchedulesMatches>(MatchSelector {
                host: None,
                selector,
            })
            .await
            .map(|m| m.targets)
        }
    };
    let by_label = found(Selector::Label {
        value: "nightly-set".into(),
    })
    .await
    .unwrap();
    assert_eq!(by_label, [container(&labelled)]);
    let all = found(Selector::AllContainers).await.unwrap();
    assert!(all.contains(&container(&labelled)) && all.contains(&container(&app)));
    let bad = found(Selector::Label {
        value: "../x".into(),
    })
    .await;
    assert_eq!(code(&bad), Some(ErrorCode::BadRequest));

    let viewer = ws::user(&berth, &op, "watcher", berth_protocol::role::Role::Viewer).await;
    assert_eq!(
        viewer
            .call::<SchedulesList>(Empty {})
            .await
            .unwrap()
            .schedules
            .len(),
        2
    );
    let refused = viewer
        .call::<SchedulesRunNow>(ScheduleRef {
            name: "nightly".into(),
        })
        .await;
    assert_eq!(code(&refused), Some(ErrorCode::Forbidden));
}

/// A schedule due once, `in_s` seconds from now (UTC), at a whole second.
fn once_in(in_s: i64) -> (String, chrono::DateTime<chrono::Utc>) {
    use chrono::Timelike;
    let due = chrono::Utc::now() + chrono::Duration::seconds(in_s);
    let due = due.with_nanosecond(0).unwrap();
    (
        format!("{} {} {} * * *", due.second(), due.minute(), due.hour()),
        due,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_due_while_berth_is_down_catch_up_once_within_grace_and_are_missed_beyond() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let start = || {
        let mut cmd = serve_command(&data_dir);
        cmd.env("BERTH_ADMIN_PASSWORD", ws::ADMIN_PASSWORD);
        cmd
    };
    let berth = Berth::start_with(start(), &data_dir).await;
    berth.wait_ready().await;
    let op = ws::admin(&berth).await;
    let app = scope.name("missed-app");
    let app_id = scope.container("missed-app").sh("sleep 600").start().await;
    let (cron, due) = once_in(6);
    for (name, grace_s) in [("within-grace", 3_600), ("beyond-grace", 0)] {
        op.call::<SchedulesCreate>(ScheduleSpec {
            name: name.into(),
            cron: cron.clone(),
            zone: Some("UTC".into()),
            grace_s: Some(grace_s),
            action: ScheduleAction::Stop,
            targets: vec![container(&app)],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    drop(op);
    berth.process.signal(15);
    let mut berth = berth;
    berth
        .process
        .wait(Duration::from_secs(30))
        .expect("stopped");
    // The real clock passes the due time while Berth is down.
    let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(2);
    tokio::time::sleep(wait).await;

    let berth = Berth::start_with(start(), &data_dir).await;
    berth.wait_ready().await;
    let op = ws::admin(&berth).await;
    let caught_up = tokio::time::timeout(WAIT, async {
        loop {
            let runs = history(&op, "within-grace").await;
            if let Some(run) = runs.iter().find(|r| !r.jobs.is_empty()) {
                return run.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("a catch-up run");
    assert_eq!(caught_up.trigger, RunTrigger::CatchUp);
    assert_eq!(caught_up.due_ms, due.timestamp_millis() as u64);
    assert_eq!(
        end_state(&op, &caught_up.jobs[0]).await.0,
        JobState::Complete
    );
    let state = scope.docker.inspect_container(&app_id, None).await.unwrap();
    assert_eq!(
        state.state.and_then(|s| s.running),
        Some(false),
        "stopped by the catch-up"
    );
    assert_eq!(
        history(&op, "within-grace").await.len(),
        1,
        "one run, no burst"
    );
    let missed = history(&op, "beyond-grace").await;
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert_eq!(missed[0].outcome, RunOutcome::Missed);
    assert!(missed[0].jobs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_is_stopped_dependents_first_and_started_dependencies_first() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let project = scope.name("stack");
    let project_label = ("com.docker.compose.project", project.as_str());
    let db = scope
        .container("stack-db")
        .label(project_label.0, project_label.1)
        .label("com.docker.compose.service", "db")
        .sh("sleep 600")
        .start()
        .await;
    let web = scope
        .container("stack-web")
        .label(project_label.0, project_label.1)
        .label("com.docker.compose.service", "web")
        .label("com.docker.compose.depends_on", "db:service_started:false")
        .sh("sleep 600")
        .start()
        .await;
    let target = BackupTarget::Project {
        name: project.clone(),
    };
    for (name, action) in [
        ("stack-stop", ScheduleAction::Stop),
        ("stack-start", ScheduleAction::Start),
    ] {
        op.call::<SchedulesCreate>(ScheduleSpec {
            name: name.into(),
            cron: "0 0 1 1 *".into(),
            action,
            targets: vec![target.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    // Docker's own timestamps (nanoseconds) say in which order it happened.
    let at = |id: String, field: fn(bollard::models::ContainerState) -> Option<String>| {
        let docker = scope.docker.clone();
        async move {
            let state = docker
                .inspect_container(&id, None)
                .await
                .unwrap()
                .state
                .unwrap();
            let text = field(state).unwrap();
            chrono::DateTime::parse_from_rfc3339(&text).unwrap()
        }
    };
    let finished = |s: bollard::models::ContainerState| s.finished_at;
    let started = |s: bollard::models::ContainerState| s.started_at;
    for (name, field, first, second) in [
        ("stack-stop", finished as fn(_) -> _, &web, &db),
        ("stack-start", started as fn(_) -> _, &db, &web),
    ] {
        let run = op
            .call::<SchedulesRunNow>(ScheduleRef { name: name.into() })
            .await
            .unwrap();
        assert_eq!(run.trigger, RunTrigger::Manual);
        assert_eq!(end_state(&op, &run.jobs[0]).await.0, JobState::Complete);
        assert!(
            at(first.clone(), field).await < at(second.clone(), field).await,
            "{name}: the order"
        );
        let settled = history(&op, name).await;
        assert_eq!(settled[0].outcome, RunOutcome::Succeeded, "{settled:?}");
    }
    // Redeployed: both recreated (new ids), running again, dependencies first.
    op.call::<SchedulesCreate>(ScheduleSpec {
        name: "stack-redeploy".into(),
        cron: "0 0 1 1 *".into(),
        action: ScheduleAction::Redeploy,
        targets: vec![target],
        ..Default::default()
    })
    .await
    .unwrap();
    let run = op
        .call::<SchedulesRunNow>(ScheduleRef {
            name: "stack-redeploy".into(),
        })
        .await
        .unwrap();
    assert_eq!(end_state(&op, &run.jobs[0]).await.0, JobState::Complete);
    for (old, base) in [(&db, "stack-db"), (&web, "stack-web")] {
        let now = scope
            .docker
            .inspect_container(&scope.name(base), None)
            .await
            .unwrap();
        assert_ne!(now.id.as_ref(), Some(old), "{base} recreated");
        assert_eq!(
            now.state.and_then(|s| s.running),
            Some(true),
            "{base} running"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_previous_run_is_still_busy_is_skipped() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let app = scope.name("slow-app");
    let app_id = scope.container("slow-app").sh("sleep 600").start().await;
    // The backup's pre hook waits for a file the test creates once a run was skipped.
    op.call::<SchedulesCreate>(ScheduleSpec {
        name: "slow".into(),
        cron: "*/2 * * * * *".into(),
        zone: Some("UTC".into()),
        targets: vec![container(&app)],
        backup: held_until_go(),
        ..Default::default()
    })
    .await
    .unwrap();
    let skipped = tokio::time::timeout(WAIT, async {
        loop {
            let runs = history(&op, "slow").await;
            if let Some(s) = runs.iter().find(|r| r.outcome == RunOutcome::Skipped) {
                return (s.clone(), runs);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("a skipped run");
    let (skipped, runs) = skipped;
    let busy = runs
        .iter()
        .find(|r| !r.jobs.is_empty())
        .expect("the busy run");
    assert!(skipped.message.contains(&busy.id), "{}", skipped.message);
    assert!(skipped.jobs.is_empty());
    op.call::<SchedulesEnable>(ScheduleEnable {
        name: "slow".into(),
        enabled: false,
    })
    .await
    .unwrap();
    assert_eq!(scope.exec(&app_id, &["touch", "/tmp/go"]).await, 0);
    assert_eq!(end_state(&op, &busy.jobs[0]).await.0, JobState::Complete);
    let settled = history(&op, "slow").await;
    let done = settled.iter().find(|r| r.id == busy.id).unwrap();
    assert_eq!(done.outcome, RunOutcome::Succeeded, "{settled:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_window_stops_and_starts_its_container_on_time() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let app = scope.name("sleepy");
    let app_id = scope.container("sleepy").sh("sleep 600").start().await;
    // Stopped at seconds 0, 4, 8 … and started again two seconds later.
    let window = op
        .call::<SchedulesCreate>(ScheduleSpec {
            name: "nap".into(),
            cron: "*/4 * * * * *".into(),
            until: Some("2-59/4 * * * * *".into()),
            zone: Some("UTC".into()),
            action: ScheduleAction::Stop,
            targets: vec![container(&app)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(window.next_until.len(), 5);
    assert!(window.next_until[0] % 4_000 == 2_000 && window.next_runs[0] % 4_000 == 0);
    let settled = tokio::time::timeout(WAIT, async {
        loop {
            let runs = history(&op, "nap").await;
            let done = |a: ScheduleAction| {
                runs.iter()
                    .any(|r| r.action == a && r.outcome == RunOutcome::Succeeded)
            };
            if done(ScheduleAction::Stop) && done(ScheduleAction::Start) {
                return runs;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the window closed and opened");
    op.call::<SchedulesEnable>(ScheduleEnable {
        name: "nap".into(),
        enabled: false,
    })
    .await
    .unwrap();
    for run in &settled {
        assert_eq!(run.due_ms % 2_000, 0, "{run:?}");
        let expected = if run.due_ms % 4_000 == 0 {
            ScheduleAction::Stop
        } else {
            ScheduleAction::Start
        };
        assert_eq!(run.action, expected, "{run:?}");
    }
    // Whatever state the last run left, the container is one Docker knows.
    assert!(scope.docker.inspect_container(&app_id, None).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedules_on_one_container_never_run_at_once_and_the_later_says_why() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    // Two jobs may run at once: only the locks keep these two apart.
    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_JOB_CONCURRENCY", "2");
    })
    .await;
    let op = ws::admin(&berth).await;
    let app = scope.name("shared-app");
    let app_id = scope.container("shared-app").sh("sleep 600").start().await;
    let started_at = || async {
        let c = scope.docker.inspect_container(&app_id, None).await.unwrap();
        c.state.and_then(|s| s.started_at).unwrap()
    };
    let first_start = started_at().await;
    // Due once a year: both run only when asked.
    let yearly = |name: &str, action| ScheduleSpec {
        name: name.into(),
        cron: "0 0 1 1 *".into(),
        zone: Some("UTC".into()),
        action,
        targets: vec![container(&app)],
        ..Default::default()
    };
    op.call::<SchedulesCreate>(ScheduleSpec {
        backup: held_until_go(),
        ..yearly("hold", ScheduleAction::Backup)
    })
    .await
    .unwrap();
    op.call::<SchedulesCreate>(yearly("bounce", ScheduleAction::Restart))
        .await
        .unwrap();
    let run = |name: &'static str| {
        let op = &op;
        async move {
            let r = op
                .call::<SchedulesRunNow>(ScheduleRef { name: name.into() })
                .await
                .unwrap();
            assert_eq!(r.jobs.len(), 1, "{r:?}");
            r.jobs[0].clone()
        }
    };
    let backup = run("hold").await;
    berth_tests::jobs::until(&op, &backup, |p| p.phase == "pre hook").await;
    let restart = run("bounce").await;
    let waiting = berth_tests::jobs::until(&op, &restart, |p| {
        p.state == JobState::Waiting && p.phase.starts_with("waiting: ")
    })
    .await;
    assert!(
        waiting.phase.contains(&format!("job {backup} "))
            && waiting.phase.contains(&format!("container:{app_id}")),
        "the restart says which job holds what: {waiting:?}"
    );
    assert_eq!(
        started_at().await,
        first_start,
        "not restarted while backed up"
    );
    assert_eq!(scope.exec(&app_id, &["touch", "/tmp/go"]).await, 0);
    assert_eq!(end_state(&op, &backup).await.0, JobState::Complete);
    assert_eq!(end_state(&op, &restart).await.0, JobState::Complete);
    assert_ne!(
        started_at().await,
        first_start,
        "restarted after the backup"
    );
    let log = berth_tests::jobs::log_of(&op, &restart).await;
    assert!(
        log.iter().any(|l| l.starts_with("waiting: job ")),
        "the waiting is in the restart's log: {log:?}"
    );
    for name in ["hold", "bounce"] {
        let runs = history(&op, name).await;
        assert_eq!(runs[0].outcome, RunOutcome::Succeeded, "{name}: {runs:?}");
    }
}
