//! Berth's own state, backed up while it runs and restored onto an empty data
//! directory, as after a lost disk: `berth ctl state backup` to an S3 bucket (s3s-fs),
//! the object taken from the bucket, `berth state restore` into a fresh data
//! directory — refusing a wrong passphrase and a directory that holds a store, leaving
//! nothing behind when refused — and a Berth started on it knows the old users,
//! tokens, schedules, catalogue and stacks, and unseals the bucket's keys.

use std::path::Path;
use std::process::{Output, Stdio};

use berth_protocol::api::backups::{BackupQuery, BackupTarget};
use berth_protocol::api::catalogue::{BackupsList, PluginsConfigure, StateBackup};
use berth_protocol::api::system::StateBackupParams;
use berth_tests::docker::Scope;
use berth_tests::in_use;
use berth_tests::jobs::{back_up, code};
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
    assert_eq!(
        code(&short),
        Some(berth_protocol::error::ErrorCode::BadRequest)
    );
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
