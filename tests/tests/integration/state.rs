//! Berth's own state, backed up while it runs and restored onto an empty data
//! directory, as after a lost disk: `berth ctl state backup` to an S3 bucket (s3s-fs),
//! the object taken from the bucket, `berth state restore` into a fresh data
//! directory — refusing a wrong passphrase and a directory that holds a store, leaving
//! nothing behind when refused — and a Berth started on it knows the old users,
//! tokens, schedules, catalogue and stacks, and unseals the bucket's keys.

use std::path::Path;
use std::process::{Output, Stdio};

use berth_client::Client;
use berth_protocol::api::backups::{BackupQuery, BackupTarget};
use berth_protocol::api::catalogue::{
    BackupsList, JobsGet, PluginsConfigure, SchedulesCreate, SchedulesDelete, SchedulesRunNow,
    StateBackup,
};
use berth_protocol::api::jobs::{JobKind, JobRef, JobState};
use berth_protocol::api::schedules::{
    Retention, ScheduleAction, ScheduleBackup, ScheduleRef, ScheduleSpec,
};
use berth_protocol::api::system::StateBackupParams;
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::docker::Scope;
use berth_tests::in_use;
use berth_tests::jobs::{back_up, code, end_state};
use berth_tests::s3::{self, S3Server};
use berth_tests::server::{Berth, berth_command, serve_command};
use berth_tests::ws;

const PASSPHRASE: &str = "state passphrase for the test";
const BUCKET: &str = "berth-state";

fn berth(args: &[&str], dir: &Path) -> Output {
    berth_command()
        .args(args)
        .env("XDG_CONFIG_HOME", dir.join("ctl"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Everything the old Berth had that the new one must know.
async fn populate(berth: &Berth, server: &S3Server, scope: &Scope) -> (String, String) {
    let admin = ws::admin(berth).await;
    let settings = serde_json::json!({ "part_size_mib": 5 });
    admin
        .call::<PluginsConfigure>(server.configure_request(
            "offsite",
            BUCKET,
            settings,
            s3::SECRET_KEY,
        ))
        .await
        .unwrap();
    let volume = scope.create_volume("state").await;
    let target = BackupTarget::Volume {
        name: volume.clone(),
    };
    back_up(&admin, target.clone(), None).await;
    let token = in_use::populate(berth, &admin, target).await;
    (token, volume)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_backup_brings_a_lost_berth_back_on_a_fresh_data_directory() {
    let scope = Scope::new().await;
    let server = S3Server::start(BUCKET);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_old_tmp, old) = ws::start().await;
    let (token, volume) = populate(&old, &server, &scope).await;

    let admin = ws::admin(&old).await;
    let short = admin
        .call::<StateBackup>(StateBackupParams {
            storage: Some("offsite".into()),
            passphrase: "too short".into(),
        })
        .await;
    assert_eq!(code(&short), Some(ErrorCode::BadRequest));
    let passphrase_file = dir.join("passphrase");
    std::fs::write(&passphrase_file, format!("{PASSPHRASE}\n")).unwrap();
    let admin_token = ws::login(&old, "admin", ws::ADMIN_PASSWORD).await;
    let saved = berth(
        &[
            "ctl",
            "--url",
            &old.url,
            "--token",
            &admin_token,
            "--json",
            "state",
            "backup",
            "--storage",
            "offsite",
            "--passphrase-file",
            passphrase_file.to_str().unwrap(),
        ],
        dir,
    );
    assert!(saved.status.success(), "{saved:?}");
    let written: serde_json::Value = serde_json::from_slice(&saved.stdout).unwrap();
    let key = written["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("state/berth-state-") && key.ends_with(".berth-state"));
    drop(admin);
    drop(old);

    // The disk is gone; the bucket is not.
    let file = dir.join("downloaded.berth-state");
    std::fs::copy(server.object_path(BUCKET, &key), &file).unwrap();
    let fresh = dir.join("fresh");
    let restore = |passphrase: &Path| {
        berth(
            &[
                "state",
                "restore",
                file.to_str().unwrap(),
                "--passphrase-file",
                passphrase.to_str().unwrap(),
                "--data-dir",
                fresh.to_str().unwrap(),
            ],
            dir,
        )
    };
    let wrong_file = dir.join("wrong");
    std::fs::write(&wrong_file, "not the passphrase at all").unwrap();
    let wrong = restore(&wrong_file);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"),
        "{wrong:?}"
    );
    assert!(!fresh.join("berth.redb").exists(), "nothing left behind");
    let restored = restore(&passphrase_file);
    assert!(restored.status.success(), "{restored:?}");
    let again = restore(&passphrase_file);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a store"),
        "{again:?}"
    );

    let new = Berth::start_with(serve_command(&fresh), &fresh).await;
    new.wait_ready().await;
    let deploy = in_use::check(&new, &token, "restored state").await;
    let backups = deploy
        .call::<BackupsList>(BackupQuery::default())
        .await
        .unwrap();
    assert!(backups.backups.iter().any(|b| b.target.name() == volume));
    assert_eq!(
        std::fs::read_to_string(fresh.join("stacks/notes/.env")).unwrap(),
        in_use::STACK_ENV
    );
    // The bucket's keys were sealed with the old installation key: a backup to it works.
    let admin = ws::admin(&new).await;
    back_up(
        &admin,
        BackupTarget::Volume { name: volume },
        Some("offsite"),
    )
    .await;
}

fn state_schedule(name: &str, backup: ScheduleBackup) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        cron: "0 3 * * *".into(),
        action: ScheduleAction::StateBackup,
        backup: Some(backup),
        ..Default::default()
    }
}

fn with_passphrase(passphrase: &str) -> ScheduleBackup {
    ScheduleBackup {
        passphrase: Some(passphrase.into()),
        ..Default::default()
    }
}

/// The state backups on the local storage, by key.
fn stored_state(berth: &Berth) -> Vec<String> {
    let dir = berth.data_dir.join("backups/state");
    let mut keys: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".berth-state"))
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

/// Runs schedule `name` now and waits for its one job; returns the job's message.
async fn run_now(admin: &Client, name: &str) -> String {
    let run = admin
        .call::<SchedulesRunNow>(ScheduleRef { name: name.into() })
        .await
        .unwrap();
    assert_eq!(run.jobs.len(), 1, "{run:?}");
    let (state, message) = end_state(admin, &run.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{message}");
    message
}

/// `state.backup` is a job of the queue, and a `state_backup` schedule makes one per
/// run, prunes the older ones by its retention, and is an admin's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_backups_are_queued_jobs_and_an_admins_schedule_with_retention() {
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let otto = ws::user(&berth, &admin, "otto", Role::Operator).await;

    let written = admin
        .call::<StateBackup>(StateBackupParams {
            storage: None,
            passphrase: PASSPHRASE.into(),
        })
        .await
        .unwrap();
    let job = written.job.clone().expect("the job that wrote it");
    let detail = admin
        .call::<JobsGet>(JobRef { id: job.clone() })
        .await
        .unwrap();
    assert_eq!(detail.job.kind, JobKind::StateBackup);
    assert_eq!(detail.job.progress.state, JobState::Complete);
    assert!(
        detail.job.progress.message.contains(&written.key),
        "{detail:?}"
    );
    assert_eq!(stored_state(&berth).len(), 1);

    // Only an admin may schedule Berth's key onto a storage.
    let spec = state_schedule("berth-state", with_passphrase(PASSPHRASE));
    let refused = otto.call::<SchedulesCreate>(spec.clone()).await;
    assert_eq!(code(&refused), Some(ErrorCode::Forbidden));
    // Bad input is named before anything is saved.
    let bad = [
        ScheduleSpec {
            targets: vec![BackupTarget::Volume { name: "x".into() }],
            ..spec.clone()
        },
        state_schedule("berth-state", with_passphrase("too short")),
        state_schedule("berth-state", ScheduleBackup::default()),
        state_schedule(
            "berth-state",
            ScheduleBackup {
                include_image: true,
                ..with_passphrase(PASSPHRASE)
            },
        ),
    ];
    for (spec, field) in bad.into_iter().zip([
        "targets",
        "backup.passphrase",
        "backup.passphrase",
        "backup",
    ]) {
        let err = admin.call::<SchedulesCreate>(spec).await.unwrap_err();
        let body = err.body().expect("an error body");
        assert_eq!(body.code, ErrorCode::BadRequest, "{body:?}");
        assert_eq!(
            body.details.as_ref().and_then(|d| d["field"].as_str()),
            Some(field),
            "{body:?}"
        );
    }
    let retention = Retention {
        last: Some(1),
        ..Default::default()
    };
    let created = admin
        .call::<SchedulesCreate>(state_schedule(
            "berth-state",
            ScheduleBackup {
                retention: Some(retention),
                ..with_passphrase(PASSPHRASE)
            },
        ))
        .await
        .unwrap();
    assert!(created.encrypted);
    for refused in [
        otto.call::<SchedulesRunNow>(ScheduleRef {
            name: "berth-state".into(),
        })
        .await
        .map(|_| ()),
        otto.call::<SchedulesDelete>(ScheduleRef {
            name: "berth-state".into(),
        })
        .await
        .map(|_| ()),
    ] {
        assert_eq!(code(&refused), Some(ErrorCode::Forbidden));
    }

    // Each run writes one; its retention (the newest one) removes the older ones,
    // the one made by hand included.
    let first = run_now(&admin, "berth-state").await;
    assert!(first.contains("retention deleted 1"), "{first}");
    let kept = stored_state(&berth);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(!written.key.ends_with(&kept[0]), "{kept:?}");
    let second = run_now(&admin, "berth-state").await;
    assert!(second.contains("retention deleted 1"), "{second}");
    let now = stored_state(&berth);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, kept);
}
