//! Off-site storage end to end: a Berth backs a volume up, encrypted, to an S3 bucket
//! (a real server, `s3s-fs`, on loopback); its data directory and the volume are then
//! gone, and a second Berth with an empty data directory — given only the bucket and
//! the passphrase — rebuilds its catalog from the bucket and restores the volume byte
//! for byte. A 1 GiB volume goes to the bucket and back byte for byte; a server killed
//! mid-upload fails the backup cleanly; a local backup is copied to the bucket. And a backup made locally is copied to the bucket after the fact.

use berth_client::Client;
use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupQuery, BackupRef, BackupTarget, CopyBackup, CreateBackup,
    RescanStorage, RestoreBackup,
};
use berth_protocol::api::catalogue::{
    BackupsCopy, BackupsCreate, BackupsDelete, BackupsList, BackupsPreview, BackupsRescan,
    BackupsRestore, PluginsConfigure,
};
use berth_protocol::api::jobs::JobState;
use berth_protocol::error::ErrorCode;
use berth_tests::docker::Scope;
use berth_tests::jobs::{end_state, until};
use berth_tests::s3::{self, S3Server};
use berth_tests::ws;
use sha2::{Digest, Sha256};

const PASSPHRASE: &str = "off-site passphrase 42";

/// Files of several kinds and `mib` MiB of random data: with 5 MiB parts, the upload
/// is multipart.
fn fill(mib: u32) -> String {
    format!(
        r#"set -e
cd /data
mkdir -p app/conf 'with space'
echo 'listen 8080' > app/conf/server.conf
echo spaced > 'with space/name.txt'
busybox ln -s app/conf/server.conf link
echo secret > private && chmod 0600 private && chown 1234:5678 private
busybox dd if=/dev/urandom of=blob.bin bs=1048576 count={mib} 2>/dev/null
"#
    )
}

/// Path, type, mode, owner, size and sha256 of everything under /data.
const LIST: &str = r#"cd /data && busybox find . | busybox sort | while read -r p; do
  s=$(busybox stat -c '%F %a %u %g %s' "$p")
  if [ -f "$p" ] && [ ! -L "$p" ]; then h=$(busybox sha256sum < "$p"); else h=-; fi
  echo "$p|$s|$h"
done"#;

/// The bucket as a storage instance named `offsite`, configured as an admin would.
async fn configure_bucket(admin: &Client, server: &S3Server) {
    configure(admin, server, "offsite", s3::SECRET_KEY).await;
}

async fn configure(admin: &Client, server: &S3Server, name: &str, secret: &str) {
    let settings = serde_json::json!({ "prefix": "berth", "part_size_mib": 5 });
    admin
        .call::<PluginsConfigure>(server.configure_request(name, "berth-dr", settings, secret))
        .await
        .unwrap();
}

async fn remove_volume(scope: &Scope, volume: &str) {
    scope
        .docker
        .remove_volume(
            volume,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        )
        .await
        .unwrap();
}

async fn contents(scope: &Scope, volume: &str) -> String {
    scope
        .container("dr-list")
        .volume(volume, "/data")
        .sh(LIST)
        .throwaway()
        .run()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_berth_restores_a_volume_from_the_bucket_alone() {
    let scope = Scope::new().await;
    let server = S3Server::start("berth-dr");
    let volume = scope.create_volume("dr-data").await;
    scope
        .container("dr-fill")
        .volume(&volume, "/data")
        .sh(&fill(40))
        .throwaway()
        .run()
        .await;
    let before = contents(&scope, &volume).await;

    // The first installation backs the volume up to the bucket, and then is gone.
    {
        let (_data, berth) = ws::start().await;
        let admin = ws::admin(&berth).await;
        configure_bucket(&admin, &server).await;
        // Keys the server refuses: the job fails with the storage's reason.
        configure(&admin, &server, "refused", "not-the-secret").await;
        let queued = admin
            .call::<BackupsCreate>(CreateBackup {
                targets: vec![BackupTarget::Volume {
                    name: volume.clone(),
                }],
                storage: Some("refused".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let (state, message) = end_state(&admin, &queued.jobs[0]).await;
        assert_eq!(state, JobState::Failed, "{message}");
        assert!(
            message.contains("storage-s3"),
            "the storage's reason: {message}"
        );
        let queued = admin
            .call::<BackupsCreate>(CreateBackup {
                targets: vec![BackupTarget::Volume {
                    name: volume.clone(),
                }],
                storage: Some("offsite".into()),
                passphrase: Some(PASSPHRASE.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let (state, message) = end_state(&admin, &queued.jobs[0]).await;
        assert_eq!(state, JobState::Complete, "{message}");
    }
    let in_bucket = walk(&server.object_path("berth-dr", "berth"));
    assert_eq!(
        in_bucket.len(),
        1,
        "one object under the prefix: {in_bucket:?}"
    );
    assert!(in_bucket[0].ends_with(".tar.gz.enc"), "{in_bucket:?}");
    remove_volume(&scope, &volume).await;

    // A new installation: an empty data directory, the bucket and the passphrase.
    let (_data, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    configure_bucket(&admin, &server).await;
    let job = admin
        .call::<BackupsRescan>(RescanStorage {
            storage: Some("offsite".into()),
            passphrase: Some(PASSPHRASE.into()),
        })
        .await
        .unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    assert!(message.starts_with("1 backup(s) added"), "{message}");
    let found = admin
        .call::<BackupsList>(BackupQuery {
            target: Some(volume.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .backups;
    assert_eq!(found.len(), 1, "{found:?}");
    let backup = &found[0];
    assert_eq!(backup.storage, "offsite");
    assert!(backup.encrypted);
    assert_eq!(
        backup.origin,
        BackupOrigin::Foreign,
        "another installation wrote it"
    );

    // Restored where it was, after the admin approved what a foreign backup grants.
    let request = RestoreBackup {
        id: backup.id.clone(),
        passphrase: Some(PASSPHRASE.into()),
        ..Default::default()
    };
    let preview = admin.call::<BackupsPreview>(request.clone()).await.unwrap();
    assert!(preview.conflicts.is_empty(), "{:?}", preview.conflicts);
    let job = admin
        .call::<BackupsRestore>(RestoreBackup {
            approve: preview.needs_approval,
            ..request
        })
        .await
        .unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    assert_eq!(contents(&scope, &volume).await, before, "byte for byte");
    remove_volume(&scope, &volume).await;
}

/// Regular files under `dir`, recursively.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

/// `backups.copy`: a backup made on the local storage is sent to the bucket after the
/// fact, read back there, and listed on both; a copy the bucket refuses leaves no
/// trace; deleting the backup deletes both objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_backup_is_copied_to_the_bucket_and_lives_on_both() {
    let scope = Scope::new().await;
    let server = S3Server::start("berth-dr");
    let volume = scope.create_volume("copy-data").await;
    scope
        .container("copy-fill")
        .volume(&volume, "/data")
        .sh(&fill(40))
        .throwaway()
        .run()
        .await;
    let (_data, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    configure_bucket(&admin, &server).await;
    configure(&admin, &server, "refused", "not-the-secret").await;
    let queued = admin
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume {
                name: volume.clone(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, message) = end_state(&admin, &queued.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let local = only_backup(&admin, &volume).await;
    assert_eq!(local.storage, "local");
    let copy = |storage: &str| CopyBackup {
        id: local.id.clone(),
        storage: storage.into(),
    };

    // Refused keys: the job fails with the storage's reason; nothing is recorded.
    let job = admin.call::<BackupsCopy>(copy("refused")).await.unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Failed, "{message}");
    assert!(message.contains("storage-s3"), "{message}");
    assert!(only_backup(&admin, &volume).await.copies.is_empty());

    let job = admin.call::<BackupsCopy>(copy("offsite")).await.unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let copied = only_backup(&admin, &volume).await;
    let storages: Vec<&str> = copied.storages().collect();
    assert_eq!(storages, ["local", "offsite"]);
    let object = server.object_path("berth-dr", &format!("berth/{}", copied.copies[0].key));
    let bytes = std::fs::read(&object).unwrap();
    assert_eq!(bytes.len() as u64, copied.size);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), copied.sha256);
    // Listed under either storage.
    let on_bucket = admin
        .call::<BackupsList>(BackupQuery {
            storage: Some("offsite".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .backups;
    assert_eq!(on_bucket.len(), 1, "{on_bucket:?}");

    // Asked again, or to a storage that does not exist: refused before queuing.
    let e = admin
        .call::<BackupsCopy>(copy("offsite"))
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Conflict), "{e}");
    let e = admin
        .call::<BackupsCopy>(copy("nowhere"))
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::NotFound), "{e}");

    // Deleting the backup deletes the copy too.
    admin
        .call::<BackupsDelete>(BackupRef {
            id: copied.id.clone(),
        })
        .await
        .unwrap();
    assert!(!object.exists(), "the bucket's copy is gone");
}

/// The one backup of `volume` in the catalog.
async fn only_backup(admin: &Client, volume: &str) -> BackupEntry {
    let mut found = admin
        .call::<BackupsList>(BackupQuery {
            target: Some(volume.to_owned()),
            ..Default::default()
        })
        .await
        .unwrap()
        .backups;
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// The S3 server killed in the middle of a backup's upload: the job fails with the
/// storage's reason, the catalog gets no entry, the bucket no object; with the server
/// back, the next backup succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_whose_server_dies_mid_upload_fails_cleanly() {
    let scope = Scope::new().await;
    let mut server = S3Server::start("berth-dr");
    let volume = scope.create_volume("killed-data").await;
    scope
        .container("killed-fill")
        .volume(&volume, "/data")
        .sh(&fill(200))
        .throwaway()
        .run()
        .await;
    let (_data, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    configure_bucket(&admin, &server).await;
    let backup = || CreateBackup {
        targets: vec![BackupTarget::Volume {
            name: volume.clone(),
        }],
        storage: Some("offsite".into()),
        ..Default::default()
    };
    let queued = admin.call::<BackupsCreate>(backup()).await.unwrap();
    let job = &queued.jobs[0];
    // Several parts are in the bucket's multipart upload when the server dies.
    until(&admin, job, |p| p.bytes_done >= 20 << 20).await;
    server.kill();
    let (state, message) = end_state(&admin, job).await;
    assert_eq!(state, JobState::Failed, "{message}");
    assert!(
        message.contains("storage-s3"),
        "the storage's reason: {message}"
    );
    let listed = admin
        .call::<BackupsList>(BackupQuery {
            target: Some(volume.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .backups;
    assert!(listed.is_empty(), "no catalog entry: {listed:?}");

    server.restart();
    let objects = walk(&server.object_path("berth-dr", "berth"));
    assert!(objects.is_empty(), "no object in the bucket: {objects:?}");
    let queued = admin.call::<BackupsCreate>(backup()).await.unwrap();
    let (state, message) = end_state(&admin, &queued.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{message}");
    assert_eq!(only_backup(&admin, &volume).await.storage, "offsite");
}

/// A 1 GiB volume backed up to the bucket (multipart, 5 MiB parts) and restored from
/// it byte for byte. Unencrypted: a debug build seals at a few MB/s (the AEAD's
/// generic code is compiled with the engine, unoptimised), which the encrypted test
/// above covers at 40 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_gib_volume_is_restored_from_the_bucket_byte_for_byte() {
    let scope = Scope::new().await;
    let server = S3Server::start("berth-dr");
    let volume = scope.create_volume("gib-data").await;
    scope
        .container("gib-fill")
        .volume(&volume, "/data")
        .sh(&fill(1024))
        .throwaway()
        .run()
        .await;
    let before = contents(&scope, &volume).await;
    let (_data, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    configure_bucket(&admin, &server).await;
    let queued = admin
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume {
                name: volume.clone(),
            }],
            storage: Some("offsite".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, message) = end_state(&admin, &queued.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let backup = only_backup(&admin, &volume).await;
    assert!(backup.data_bytes > 1 << 30, "{}", backup.data_bytes);
    remove_volume(&scope, &volume).await;

    let job = admin
        .call::<BackupsRestore>(RestoreBackup {
            id: backup.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    assert_eq!(contents(&scope, &volume).await, before);
}
