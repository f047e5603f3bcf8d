//! Backups and restores against the real engine with the built-in local storage: a
//! container with varied volume contents (symlinks that climb above the volume's root
//! among them — Docker refuses to extract those where they are) backed up (stop mode)
//! and restored under a
//! new name with remapped ports and new volumes, compared file by file; the archive
//! read with GNU tar; conflicts named; queued jobs run one after the other with
//! monotonic progress; an encrypted backup needs its passphrase; a flipped byte is
//! found by verify and refused by restore; a cancelled backup and a `kill -9` of the
//! host leave the container running and nothing in the catalog or the storage; an
//! uploaded file enters the catalog only when whole and intact.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_client::Client;
use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupQuery, BackupRef, BackupStatus, BackupTarget,
    BulkDeleteBackups, BundleBackups, ConflictKind, Consistency, CreateBackup, FORMAT_STREAMED,
    Hooks, Manifest, RescanStorage, RestoreBackup, VerifyBackup,
};
use berth_protocol::api::catalogue::{
    BackupsBulkDelete, BackupsBundleTicket, BackupsCreate, BackupsDelete, BackupsDownloadTicket,
    BackupsList, BackupsPreview, BackupsRescan, BackupsRestore, BackupsVerify, JobProgress,
    JobsCancel, JobsGet, PluginsConfigure,
};
use berth_protocol::api::jobs::{JobProgressParams, JobRef, JobState};
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::docker::{Scope, compose, ensure_test_image};
use berth_tests::jobs::{WAIT, back_up, code, end_state, follow, log_of, until, upload};
use berth_tests::s3::{self, S3Server};
use berth_tests::server::{Berth, serve_command};
use berth_tests::ws;
use futures_util::StreamExt;

/// Runs `script` in a throwaway container with `vol` at /data; returns its output.
async fn run_with(scope: &Scope, vol: &str, base: &str, script: &str) -> String {
    scope
        .container(base)
        .volume(vol, "/data")
        .sh(script)
        .run()
        .await
}

/// Varied contents: nested and empty directories, symlinks, a hard link, modes,
/// owners, unicode and spaces in names, a random file, many small files.
const FILL: &str = r#"set -e
cd /data
mkdir -p a/b/c empty 'with space' 'ünïcødé'
echo hello > a/b/c/deep.txt
echo spaced > 'with space/file name.txt'
echo 'ɣ' > 'ünïcødé/ß.txt'
busybox ln -s a/b/c/deep.txt link
busybox ln -s /nowhere dangling
busybox ln -s ../../etc/passwd climbs && busybox ln -s ../../../x a/b/up && busybox ln -s 'a//b/./c' doubled
echo shared > hard1 && busybox ln hard1 hard2
echo secret > private && chmod 0600 private && chmod 0750 a
chown 1234:5678 private && chown -h 4321:8765 link
busybox dd if=/dev/urandom of=random.bin bs=1048576 count=1024 2>/dev/null
mkdir many && i=0; while [ $i -lt 400 ]; do echo "$i" > many/f$i; i=$((i+1)); done
busybox touch -d '2001-02-03 04:05:06' a/b/c/deep.txt
"#;

/// Path, type, mode, uid, gid, size and sha256 of everything under /data.
const LIST: &str = r#"cd /data && busybox find . | busybox sort | while read -r p; do
  s=$(busybox stat -c '%F %a %u %g %s' "$p")
  if [ -f "$p" ] && [ ! -L "$p" ]; then h=$(busybox sha256sum < "$p"); else h=-; fi
  if [ -L "$p" ]; then t=$(busybox readlink "$p"); else t=-; fi
  echo "$p|$s|$h|$t"
done"#;

async fn make_volume(scope: &Scope, base: &str) -> String {
    let vol = scope.name(base);
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(vol.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    vol
}

/// A long-running container with `vol` at /data publishing 8080/tcp.
async fn app(scope: &Scope, base: &str, vol: &str) -> String {
    app_with(scope, base, vol, &[]).await
}

async fn app_with(scope: &Scope, base: &str, vol: &str, labels: &[(&str, &str)]) -> String {
    let app = scope
        .container(base)
        .volume(vol, "/data")
        .sh("while true; do sleep 1; done")
        .env("APP_MODE=production")
        .publish("8080/tcp");
    labels
        .iter()
        .fold(app, |app, (key, value)| app.label(key, value))
        .start()
        .await
}

async fn running(scope: &Scope, id: &str) -> bool {
    let c = scope.docker.inspect_container(id, None).await.unwrap();
    c.state.and_then(|s| s.running).unwrap_or(false)
}

/// The engine's `event` events matching filter `key=value`, from now on: subscribe
/// before causing the event, so it cannot be missed.
fn docker_events<'a>(
    scope: &'a Scope,
    key: &str,
    value: &str,
    event: &str,
) -> impl futures_util::Stream<Item = Result<bollard::models::EventMessage, bollard::errors::Error>>
+ Unpin
+ 'a {
    // From now on, even events before the stream is first polled (which is when
    // bollard sends the request).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let since = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
    scope.docker.events(Some(
        bollard::query_parameters::EventsOptionsBuilder::default()
            .since(&since)
            .filters(&std::collections::HashMap::from([
                (key.to_owned(), vec![value.to_owned()]),
                ("event".to_owned(), vec![event.to_owned()]),
            ]))
            .build(),
    ))
}

/// Where the line starting with `m` is in a job's log.
fn line_at(log: &[String], m: &str) -> usize {
    log.iter()
        .position(|l| l.starts_with(m))
        .unwrap_or_else(|| panic!("no {m:?} in {log:?}"))
}

async fn backups(c: &Client, target: &str) -> Vec<BackupEntry> {
    c.call::<BackupsList>(BackupQuery {
        target: Some(target.to_owned()),
        ..Default::default()
    })
    .await
    .unwrap()
    .backups
}

fn stored_files(berth: &Berth) -> Vec<String> {
    let root = berth.data_dir.join("backups");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_backs_up_and_restores_under_a_new_name_byte_for_byte() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;

    let vol = make_volume(&scope, "data").await;
    run_with(&scope, &vol, "fill", FILL).await;
    let before = run_with(&scope, &vol, "list-before", LIST).await;
    assert!(
        before.contains("./private|regular file 600 1234 5678"),
        "{before}"
    );
    let extra = make_volume(&scope, "extra").await;
    run_with(&scope, &extra, "fill-extra", "echo extra > /data/x").await;

    let app_id = app(&scope, "app", &vol).await;
    let app_name = scope.name("app");

    // Viewers cannot back up.
    let denied = viewer
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume {
                name: extra.clone(),
            }],
            ..Default::default()
        })
        .await;
    assert_eq!(code(&denied), Some(ErrorCode::Forbidden));

    // Two targets in one request: two jobs, one after the other.
    let queued = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![
                BackupTarget::Container {
                    name: app_name.clone(),
                },
                BackupTarget::Volume {
                    name: extra.clone(),
                },
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(queued.jobs.len(), 2);
    let progress = follow(&op, &queued.jobs[0]).await;
    let last = progress.last().unwrap();
    assert_eq!(last.state, JobState::Complete, "{}", last.message);
    // States only move forward; bytes only grow within a state.
    for w in progress.windows(2) {
        assert!(
            w[0].state <= w[1].state,
            "state went back: {:?} → {:?}",
            w[0].state,
            w[1].state
        );
        if w[0].state == w[1].state && w[0].phase == w[1].phase {
            assert!(
                w[0].bytes_done <= w[1].bytes_done,
                "bytes went back in {}",
                w[0].phase
            );
        }
    }
    assert!(
        running(&scope, &app_id).await,
        "the app runs again after a stop-mode backup"
    );
    let (second, msg) = end_state(&op, &queued.jobs[1]).await;
    assert_eq!(second, JobState::Complete, "{msg}");
    let first = op
        .call::<JobsGet>(JobRef {
            id: queued.jobs[0].clone(),
        })
        .await
        .unwrap();
    let then = op
        .call::<JobsGet>(JobRef {
            id: queued.jobs[1].clone(),
        })
        .await
        .unwrap();
    assert!(
        then.job.started_ms.unwrap() >= first.job.finished_ms.unwrap(),
        "the second job started before the first ended"
    );
    let log: Vec<_> = first.log.iter().map(|l| l.message.as_str()).collect();
    assert!(log.iter().any(|l| l.starts_with("stopped ")), "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("{app_name} runs again after "))
                && l.ends_with(" s stopped")),
        "{log:?}"
    );
    // Downtime is a figure of the job: the one container it stopped, for as long
    // as the job took at most.
    let [down] = first.job.downtime.as_slice() else {
        panic!("one container held: {:?}", first.job.downtime)
    };
    assert_eq!(
        (down.container.as_str(), down.consistency),
        (app_name.as_str(), Consistency::Stop)
    );
    let took = first.job.finished_ms.unwrap() - first.job.started_ms.unwrap();
    assert!(down.ms > 0 && down.ms <= took, "{} ms of {took}", down.ms);
    assert!(
        then.job.downtime.is_empty(),
        "a volume backup holds nothing"
    );

    let entries = backups(&viewer, &app_name).await;
    assert_eq!(entries.len(), 1);
    let b = &entries[0];
    assert_eq!(b.status, BackupStatus::Complete);
    assert_eq!(b.volumes, vec![vol.clone()]);
    assert!(!b.encrypted);
    assert_eq!(b.consistency, Consistency::Stop);

    // Interop: GNU tar lists it, the manifest parses, the volume's parts joined are
    // a tar that holds the files (the README's restore by hand).
    let object = berth.data_dir.join("backups").join(&b.key);
    let listing = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(&object)
        .output()
        .unwrap();
    assert!(listing.status.success());
    let names = String::from_utf8(listing.stdout).unwrap();
    let names: Vec<&str> = names.lines().collect();
    let parts: Vec<String> = (1..names.len() - 1)
        .map(|n| format!("volumes/{vol}.tar.part-{n:08}"))
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    assert_eq!(
        (names[0], &names[1..names.len() - 1], names[names.len() - 1]),
        ("manifest.json", &parts[..], "index.json"),
        "the manifest, the volume's parts in order, the index"
    );
    assert!(parts.len() > 1, "a volume of more than 4 MiB has parts");
    let x = tempfile::tempdir().unwrap();
    assert!(
        std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&object)
            .arg("-C")
            .arg(x.path())
            .status()
            .unwrap()
            .success()
    );
    let m: Manifest =
        serde_json::from_slice(&std::fs::read(x.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m.volumes[0].name, vol);
    assert_eq!(m.format, FORMAT_STREAMED);
    assert!(m.was_running);
    assert_eq!(
        m.container.as_ref().unwrap()["Config"]["Env"][0],
        "APP_MODE=production"
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(x.path().join("index.json")).unwrap()).unwrap();
    let inner = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("cat volumes/{vol}.tar.part-* | tar -tf -"))
        .current_dir(x.path())
        .output()
        .unwrap();
    let inner = String::from_utf8_lossy(&inner.stdout);
    assert!(
        inner.contains("./a/b/c/deep.txt") && inner.contains("./many/f399"),
        "{inner}"
    );

    // The preview names every conflict of a restore over the original.
    let pv = op
        .call::<BackupsPreview>(RestoreBackup {
            id: b.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<_> = pv.conflicts.iter().map(|c| c.kind).collect();
    assert!(
        kinds.contains(&ConflictKind::NameInUse) && kinds.contains(&ConflictKind::VolumeExists),
        "{kinds:?}"
    );
    assert_eq!(pv.manifest.volumes[0].name, vol);
    assert_eq!(
        index["volumes"][0]["sha256"], pv.manifest.volumes[0].sha256,
        "the index holds what the head of the archive could not"
    );
    let pv = op
        .call::<BackupsPreview>(RestoreBackup {
            id: b.id.clone(),
            name: Some(scope.name("app2")),
            volumes: BTreeMap::from([(vol.clone(), scope.name("data2"))]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(pv.conflicts.is_empty(), "{:?}", pv.conflicts);

    // Restoring over the name in use is refused, naming the conflict.
    let clash = op
        .call::<BackupsRestore>(RestoreBackup {
            id: b.id.clone(),
            volumes: BTreeMap::from([(vol.clone(), scope.name("data2"))]),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&clash), Some(ErrorCode::Conflict));
    assert!(clash.unwrap_err().to_string().contains(&app_name));
    let clash = op
        .call::<BackupsRestore>(RestoreBackup {
            id: b.id.clone(),
            name: Some(scope.name("app2")),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&clash), Some(ErrorCode::Conflict));
    assert!(
        clash.unwrap_err().to_string().contains(&vol),
        "the volume in use is named"
    );

    // Under a new name, with new volumes and a remapped port.
    let port = {
        let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let new_name = scope.name("app2");
    let new_vol = scope.name("data2");
    let job = op
        .call::<BackupsRestore>(RestoreBackup {
            id: b.id.clone(),
            name: Some(new_name.clone()),
            volumes: BTreeMap::from([(vol.clone(), new_vol.clone())]),
            ports: BTreeMap::from([("8080/tcp".to_owned(), port)]),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &job.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let restored = scope
        .docker
        .inspect_container(&new_name, None)
        .await
        .unwrap();
    assert!(
        restored.state.as_ref().unwrap().running.unwrap(),
        "restored and started"
    );
    let config = restored.config.as_ref().unwrap();
    assert_eq!(
        config
            .env
            .as_ref()
            .unwrap()
            .iter()
            .filter(|e| *e == "APP_MODE=production")
            .count(),
        1
    );
    let hc = restored.host_config.as_ref().unwrap();
    assert_eq!(
        hc.port_bindings.as_ref().unwrap()["8080/tcp"]
            .as_ref()
            .unwrap()[0]
            .host_port
            .as_deref(),
        Some(port.to_string().as_str())
    );
    assert_eq!(
        hc.mounts.as_ref().unwrap()[0].source.as_deref(),
        Some(new_vol.as_str())
    );
    let after = run_with(&scope, &new_vol, "list-after", LIST).await;
    assert_eq!(before, after, "the restored volume differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_backups_need_their_passphrase_and_damage_is_found() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let vol = make_volume(&scope, "sealed").await;
    run_with(&scope, &vol, "fill", "echo confidential > /data/plans.txt; busybox dd if=/dev/urandom of=/data/r bs=4096 count=64 2>/dev/null").await;
    let before = run_with(&scope, &vol, "list-before", LIST).await;

    let short = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume { name: vol.clone() }],
            passphrase: Some("short".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&short), Some(ErrorCode::BadRequest));

    let pass = "correct horse battery staple";
    let q = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume { name: vol.clone() }],
            passphrase: Some(pass.into()),
            consistency: Some(Consistency::Hot),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let b = backups(&op, &vol).await.remove(0);
    assert!(b.encrypted && b.key.ends_with(".tar.gz.enc"));
    let object = berth.data_dir.join("backups").join(&b.key);
    let raw = std::fs::read(&object).unwrap();
    assert!(raw.starts_with(b"BERTHENC"));
    assert!(
        !raw.windows(12).any(|w| w == b"confidential"),
        "plaintext in an encrypted backup"
    );

    // Without or with a wrong passphrase: a clear error and nothing restored.
    let target = scope.name("sealed2");
    let none = op
        .call::<BackupsRestore>(RestoreBackup {
            id: b.id.clone(),
            volumes: BTreeMap::from([(vol.clone(), target.clone())]),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&none), Some(ErrorCode::BadRequest));
    assert!(none.unwrap_err().to_string().contains("passphrase"));
    let wrong = op
        .call::<BackupsRestore>(RestoreBackup {
            id: b.id.clone(),
            volumes: BTreeMap::from([(vol.clone(), target.clone())]),
            passphrase: Some("not the passphrase".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &wrong.id).await;
    assert_eq!(state, JobState::Failed);
    assert!(msg.contains("wrong passphrase"), "{msg}");
    assert!(
        scope.docker.inspect_volume(&target).await.is_err(),
        "a failed restore leaves no volume"
    );

    let ok = op
        .call::<BackupsRestore>(RestoreBackup {
            id: b.id.clone(),
            volumes: BTreeMap::from([(vol.clone(), target.clone())]),
            passphrase: Some(pass.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &ok.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    assert_eq!(before, run_with(&scope, &target, "list-after", LIST).await);

    // Downloads give the object as stored (still encrypted), whole or by range.
    let token = ws::login(&berth, "admin", ws::ADMIN_PASSWORD).await;
    let http = reqwest::Client::new();
    let t = op
        .call::<BackupsDownloadTicket>(BackupRef { id: b.id.clone() })
        .await
        .unwrap();
    assert!(t.filename.ends_with(".tar.gz.enc"));
    let resp = http
        .get(format!("{}{}", berth.url, t.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), raw.as_slice());
    let t = op
        .call::<BackupsDownloadTicket>(BackupRef { id: b.id.clone() })
        .await
        .unwrap();
    let resp = http
        .get(format!("{}{}", berth.url, t.url))
        .bearer_auth(&token)
        .header("range", "bytes=100000-100099")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100000-100099/{}", raw.len())
    );
    assert_eq!(resp.bytes().await.unwrap(), &raw[100000..100100]);

    // One flipped byte in storage: verify fails, restore refuses.
    let v = op
        .call::<BackupsVerify>(VerifyBackup {
            id: b.id.clone(),
            passphrase: Some(pass.into()),
        })
        .await
        .unwrap();
    assert_eq!(end_state(&op, &v.id).await.0, JobState::Complete);
    let mut bad = raw.clone();
    let i = bad.len() / 2;
    bad[i] ^= 0x40;
    std::fs::write(&object, &bad).unwrap();
    let v = op
        .call::<BackupsVerify>(VerifyBackup {
            id: b.id.clone(),
            passphrase: Some(pass.into()),
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &v.id).await;
    assert_eq!(state, JobState::Failed);
    assert!(msg.contains("damaged"), "{msg}");
    let target3 = scope.name("sealed3");
    let r = op
        .call::<BackupsRestore>(RestoreBackup {
            id: b.id.clone(),
            volumes: BTreeMap::from([(vol.clone(), target3.clone())]),
            passphrase: Some(pass.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &r.id).await;
    assert_eq!(state, JobState::Failed);
    assert!(msg.contains("damaged"), "{msg}");
    assert!(scope.docker.inspect_volume(&target3).await.is_err());

    // Bulk delete: the objects and the entries go (two backups, one storage session);
    // an unknown id is reported in its place, not fatal.
    let q = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume { name: vol.clone() }],
            consistency: Some(Consistency::Hot),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(end_state(&op, &q.jobs[0]).await.0, JobState::Complete);
    let plain = backups(&op, &vol)
        .await
        .into_iter()
        .find(|e| !e.encrypted)
        .unwrap();
    let plain_object = berth.data_dir.join("backups").join(&plain.key);
    assert!(plain_object.exists());
    let r = op
        .call::<BackupsBulkDelete>(BulkDeleteBackups {
            ids: vec![b.id.clone(), "b-nope".into(), plain.id.clone()],
        })
        .await
        .unwrap();
    let summary: Vec<(&str, bool)> = r.results.iter().map(|i| (i.id.as_str(), i.ok)).collect();
    assert_eq!(
        summary,
        [
            (b.id.as_str(), true),
            ("b-nope", false),
            (plain.id.as_str(), true)
        ]
    );
    assert_eq!(
        r.results[1].error.as_ref().unwrap().code,
        ErrorCode::NotFound
    );
    assert!(!object.exists() && !plain_object.exists());
    assert!(backups(&op, &vol).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_checked_as_they_stream_in_and_refused_files_leave_nothing() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let token = ws::login(&berth, "admin", ws::ADMIN_PASSWORD).await;
    let vol = make_volume(&scope, "carried").await;
    run_with(&scope, &vol, "fill", "echo hello > /data/a.txt; busybox dd if=/dev/urandom of=/data/r bs=4096 count=256 2>/dev/null").await;
    let before = run_with(&scope, &vol, "list-before", LIST).await;
    let make = |passphrase: Option<&str>| CreateBackup {
        targets: vec![BackupTarget::Volume { name: vol.clone() }],
        consistency: Some(Consistency::Hot),
        passphrase: passphrase.map(str::to_owned),
        ..Default::default()
    };
    // A backup made elsewhere: made here, its file kept, then deleted from Berth.
    let q = op.call::<BackupsCreate>(make(None)).await.unwrap();
    assert_eq!(end_state(&op, &q.jobs[0]).await.0, JobState::Complete);
    let b = backups(&op, &vol).await.remove(0);
    let raw = std::fs::read(berth.data_dir.join("backups").join(&b.key)).unwrap();
    op.call::<BackupsDelete>(BackupRef { id: b.id.clone() })
        .await
        .unwrap();
    assert!(stored_files(&berth).is_empty());

    // Refused: garbage, a truncated file, a file with one byte changed — nothing kept.
    let (status, body) = upload(&berth, &op, &token, None, b"not a backup\n".repeat(50_000)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a whole Berth backup"),
        "{body}"
    );
    let (status, body) = upload(&berth, &op, &token, None, raw[..raw.len() / 2].to_vec()).await;
    assert_eq!(status, 400, "{body}");
    let mut flipped = raw.clone();
    let i = flipped.len() * 3 / 4;
    flipped[i] ^= 0x01;
    let (status, body) = upload(&berth, &op, &token, None, flipped).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = upload(&berth, &op, &token, None, Vec::new()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        stored_files(&berth).is_empty(),
        "{:?}",
        stored_files(&berth)
    );
    assert!(backups(&op, &vol).await.is_empty());

    // The intact file enters the catalog as it was, and restores.
    let (status, body) = upload(&berth, &op, &token, None, raw.clone()).await;
    assert_eq!(status, 200, "{body}");
    let e: BackupEntry = serde_json::from_value(body).unwrap();
    assert_eq!(
        (e.id.as_str(), e.sha256.as_str()),
        (b.id.as_str(), b.sha256.as_str())
    );
    assert_eq!(
        (e.size, e.status, e.encrypted),
        (raw.len() as u64, BackupStatus::Complete, false)
    );
    assert!(e.key.starts_with("uploaded/"), "{}", e.key);
    assert_eq!(backups(&op, &vol).await, vec![e.clone()]);
    assert_eq!(stored_files(&berth), vec![e.key.clone()]);
    // Twice is refused: one id, one entry.
    let (status, body) = upload(&berth, &op, &token, None, raw.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in the catalog")
    );
    assert_eq!(stored_files(&berth), vec![e.key.clone()]);
    let copy = scope.name("carried-copy");
    let r = op
        .call::<BackupsRestore>(RestoreBackup {
            id: e.id.clone(),
            volumes: BTreeMap::from([(vol.clone(), copy.clone())]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(end_state(&op, &r.id).await.0, JobState::Complete);
    assert_eq!(before, run_with(&scope, &copy, "list-after", LIST).await);

    // Encrypted: checked with its passphrase, kept encrypted.
    let pass = "correct horse battery staple";
    let q = op.call::<BackupsCreate>(make(Some(pass))).await.unwrap();
    assert_eq!(end_state(&op, &q.jobs[0]).await.0, JobState::Complete);
    let sealed = backups(&op, &vol)
        .await
        .into_iter()
        .find(|x| x.encrypted)
        .unwrap();
    let raw = std::fs::read(berth.data_dir.join("backups").join(&sealed.key)).unwrap();
    op.call::<BackupsDelete>(BackupRef {
        id: sealed.id.clone(),
    })
    .await
    .unwrap();
    let (status, body) = upload(&berth, &op, &token, None, raw.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("passphrase"),
        "{body}"
    );
    let (status, body) = upload(&berth, &op, &token, Some("not the passphrase"), raw.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong passphrase"),
        "{body}"
    );
    assert_eq!(stored_files(&berth), vec![e.key.clone()]);
    let (status, body) = upload(&berth, &op, &token, Some(pass), raw.clone()).await;
    assert_eq!(status, 200, "{body}");
    let s: BackupEntry = serde_json::from_value(body).unwrap();
    assert!(
        s.encrypted && s.key.ends_with(".tar.gz.enc") && s.id == sealed.id,
        "{s:?}"
    );
    assert_eq!(
        std::fs::read(berth.data_dir.join("backups").join(&s.key)).unwrap(),
        raw,
        "stored as uploaded"
    );

    // Both in one download: a tar of the objects as stored.
    let t = op
        .call::<BackupsBundleTicket>(BundleBackups {
            ids: vec![e.id.clone(), s.id.clone()],
        })
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .get(format!("{}{}", berth.url, t.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let len: u64 = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let tarball = resp.bytes().await.unwrap();
    assert_eq!(tarball.len() as u64, len);
    let mut got = Vec::new();
    for entry in tar::Archive::new(tarball.as_ref()).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        got.push((path, bytes));
    }
    let plain = std::fs::read(berth.data_dir.join("backups").join(&e.key)).unwrap();
    assert_eq!(
        got,
        vec![
            (format!("volume-{vol}/{}.tar.gz", e.id), plain),
            (format!("volume-{vol}/{}.tar.gz.enc", s.id), raw.clone()),
        ]
    );
    let twice = op
        .call::<BackupsBundleTicket>(BundleBackups {
            ids: vec![e.id.clone(), e.id.clone()],
        })
        .await;
    assert_eq!(code(&twice), Some(ErrorCode::BadRequest));

    // A Berth that lost its data directory but has the storage: a rescan rebuilds the
    // catalog from the objects (encrypted ones with their passphrase), and leaves a
    // damaged object where it is, reported.
    let (_tmp2, berth2) = ws::start().await;
    let op2 = ws::admin(&berth2).await;
    let root2 = berth2.data_dir.join("backups");
    for key in [&e.key, &s.key] {
        let to = root2.join(key);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(berth.data_dir.join("backups").join(key), &to).unwrap();
    }
    std::fs::create_dir_all(root2.join("junk")).unwrap();
    std::fs::write(root2.join("junk/old.tar.gz"), b"not a backup at all").unwrap();
    let rescan = |passphrase: Option<&str>| RescanStorage {
        storage: None,
        passphrase: passphrase.map(str::to_owned),
    };
    let j = op2.call::<BackupsRescan>(rescan(None)).await.unwrap();
    let (state, msg) = end_state(&op2, &j.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    assert!(
        msg.starts_with("1 backup(s) added") && msg.contains("2 object(s) not added"),
        "{msg}"
    );
    let log = op2
        .call::<JobsGet>(JobRef { id: j.id.clone() })
        .await
        .unwrap()
        .log;
    assert!(
        log.iter()
            .any(|l| l.message.contains("junk/old.tar.gz: not added")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.message.contains("encrypted; rescan with its passphrase")),
        "{log:?}"
    );
    let j = op2.call::<BackupsRescan>(rescan(Some(pass))).await.unwrap();
    let (state, msg) = end_state(&op2, &j.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    assert!(msg.starts_with("1 backup(s) added"), "{msg}");
    let mut rebuilt = backups(&op2, &vol).await;
    rebuilt.sort_by(|a, b| a.key.cmp(&b.key));
    // Another installation (another key) did not write them: foreign there.
    assert!(rebuilt.iter().all(|b| b.origin == BackupOrigin::Foreign));
    let mut originals = vec![e.clone(), s.clone()];
    originals.sort_by(|a, b| a.key.cmp(&b.key));
    for o in &mut originals {
        assert_eq!(
            o.origin,
            BackupOrigin::ThisInstallation,
            "downloaded and uploaded again here"
        );
        o.origin = BackupOrigin::Foreign;
    }
    assert_eq!(
        rebuilt, originals,
        "the same entries, rebuilt from the objects"
    );
    assert!(
        root2.join("junk/old.tar.gz").exists(),
        "a damaged object is not deleted"
    );
    let j = op2.call::<BackupsRescan>(rescan(Some(pass))).await.unwrap();
    assert!(
        end_state(&op2, &j.id)
            .await
            .1
            .starts_with("0 backup(s) added")
    );
}

/// A volume big enough that a backup is still running when the test acts.
const BIG: &str = "busybox dd if=/dev/urandom of=/data/big bs=1048576 count=384 2>/dev/null";

/// Waits until the job is moving data.
async fn until_running(c: &Client, job: &str) {
    let mut sub = c
        .open::<JobProgress>(JobProgressParams {
            job: Some(job.to_owned()),
        })
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        while let Some(p) = sub.next().await {
            let p = p.unwrap();
            assert!(
                !p.state.is_terminal(),
                "ended before the test acted: {}",
                p.message
            );
            if p.state == JobState::Running && p.bytes_done > 0 {
                return;
            }
        }
    })
    .await
    .expect("the backup runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_kill_during_a_stop_mode_backup_leave_the_app_running_and_nothing_stored() {
    let scope = Scope::new().await;
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    // Without the spool the containers are held until the archive is stored, long
    // enough for the test to act while they are down (with it they run again once
    // the volume is read, which `held_containers_run_again_…` shows).
    let start = || {
        let mut cmd = serve_command(&data_dir);
        cmd.env("BERTH_ADMIN_PASSWORD", ws::ADMIN_PASSWORD)
            .env("BERTH_BACKUP_SPOOL", "off");
        cmd
    };
    let berth = Berth::start_with(start(), &data_dir).await;
    berth.wait_ready().await;
    let op = ws::admin(&berth).await;
    let vol = make_volume(&scope, "big").await;
    run_with(&scope, &vol, "fill", BIG).await;
    let app_id = app(&scope, "app", &vol).await;
    let app_name = scope.name("app");

    // Cancel mid-backup.
    let q = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Container {
                name: app_name.clone(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    until_running(&op, &q.jobs[0]).await;
    assert!(!running(&scope, &app_id).await, "stopped for the backup");
    op.call::<JobsCancel>(JobRef {
        id: q.jobs[0].clone(),
    })
    .await
    .unwrap();
    let (state, _) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Cancelled);
    assert!(
        running(&scope, &app_id).await,
        "running again after the cancel"
    );
    assert!(backups(&op, &app_name).await.is_empty());
    assert!(
        stored_files(&berth)
            .iter()
            .all(|f| f.starts_with(".partial/")),
        "{:?}",
        stored_files(&berth)
    );

    // kill -9 of the host mid-backup, once it reads the volume through its helper
    // (whose create event is awaited: subscribed before the backup starts).
    let helper_of_vol = format!("dev.berth.helper={vol}");
    let mut helper_created = docker_events(&scope, "label", &helper_of_vol, "create");
    let q = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Container {
                name: app_name.clone(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    until_running(&op, &q.jobs[0]).await;
    assert!(!running(&scope, &app_id).await);
    tokio::time::timeout(Duration::from_secs(60), helper_created.next())
        .await
        .expect("the backup creates a helper for the volume")
        .expect("a Docker event")
        .expect("a create event");
    drop(op);
    berth.process.signal(9);
    let mut berth = berth;
    berth.process.wait(Duration::from_secs(10)).expect("killed");
    assert!(
        !running(&scope, &app_id).await,
        "still stopped while Berth is down"
    );
    // A helper of another Berth on this engine: not this one's to sweep.
    let foreign = scope
        .create_container_with(
            "foreign-helper",
            &["true"],
            &[
                ("dev.berth.helper", "someone-elses-volume"),
                ("dev.berth.instance", "another-berth"),
            ],
        )
        .await;

    // The runner reconciles right after the start, beside readiness: the container's
    // start event is awaited (subscribed before Berth starts, so it cannot be missed).
    let mut started = docker_events(&scope, "container", &app_id, "start");
    let berth = Berth::start_with(start(), &data_dir).await;
    berth.wait_ready().await;
    if !running(&scope, &app_id).await {
        tokio::time::timeout(Duration::from_secs(60), started.next())
            .await
            .expect("started again at the next start")
            .expect("a Docker event")
            .expect("a start event");
    }
    assert!(
        running(&scope, &app_id).await,
        "started again at the next start"
    );
    // The killed run's helper would keep the volume in use; the start removed it
    // (before it started the app again, so it is gone by now).
    let helpers = scope
        .docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&std::collections::HashMap::from([(
                    "label".to_owned(),
                    vec![helper_of_vol],
                )]))
                .build(),
        ))
        .await
        .unwrap();
    assert!(helpers.is_empty(), "stale helpers left: {helpers:?}");
    assert!(
        scope.docker.inspect_container(&foreign, None).await.is_ok(),
        "another instance's helper was removed"
    );
    let op = ws::admin(&berth).await;
    assert!(backups(&op, &app_name).await.is_empty(), "no catalog entry");
    let job = op
        .call::<JobsGet>(JobRef {
            id: q.jobs[0].clone(),
        })
        .await
        .unwrap();
    assert_eq!(job.job.progress.state, JobState::Failed);
    assert!(job.job.progress.message.contains("interrupted"));
    assert!(
        stored_files(&berth)
            .iter()
            .all(|f| f.starts_with(".partial/")),
        "{:?}",
        stored_files(&berth)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_around_the_backup_and_a_failing_essential_hook_fails_it_with_the_app_running() {
    let scope = Scope::new().await;
    let sink = berth_tests::http_sink::Sink::start().await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    // A notifier: failures reach it by default.
    op.call::<PluginsConfigure>(berth_protocol::api::plugins::ConfigureInstance {
        plugin: "notify-webhook".into(),
        name: "ops".into(),
        config: serde_json::json!({"url": format!("{}/hook", sink.base), "preset": "json"}),
        secrets: BTreeMap::new(),
        egress: Vec::new(),
        allow_private: true,
        path: None,
    })
    .await
    .unwrap();
    let vol = make_volume(&scope, "hooked").await;
    let app_id = app_with(
        &scope,
        "app",
        &vol,
        &[
            ("berth.backup.pre", "echo pre >> /data/hooks.log"),
            ("berth.backup.post", "echo post >> /data/hooks.log"),
        ],
    )
    .await;
    let name = scope.name("app");
    let create = |hooks: Hooks| CreateBackup {
        targets: vec![BackupTarget::Container { name: name.clone() }],
        hooks,
        ..Default::default()
    };

    // Labels: pre before the stop (so it is in the backup), post after the start.
    let q = op
        .call::<BackupsCreate>(create(Hooks::default()))
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let log = run_with(&scope, &vol, "cat", "cat /data/hooks.log").await;
    assert_eq!(log, "pre\npost\n");
    let b = backups(&op, &name).await.remove(0);
    let copy = scope.name("hooked-copy");
    let r = op
        .call::<BackupsRestore>(RestoreBackup {
            id: b.id.clone(),
            volumes: BTreeMap::from([(vol.clone(), copy.clone())]),
            name: Some(scope.name("app-copy")),
            start: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(end_state(&op, &r.id).await.0, JobState::Complete);
    assert_eq!(
        run_with(&scope, &copy, "cat-copy", "cat /data/hooks.log").await,
        "pre\n"
    );

    // A failing essential hook (the request overrides the label) fails the backup; the
    // app keeps running and nothing is kept.
    let q = op
        .call::<BackupsCreate>(create(Hooks {
            pre: Some("echo flushing; exit 3".into()),
            ..Default::default()
        }))
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Failed);
    assert!(
        msg.contains("pre hook exited with 3") && msg.contains("flushing"),
        "{msg}"
    );
    assert!(running(&scope, &app_id).await);
    assert_eq!(backups(&op, &name).await.len(), 1);
    // The failure reached the notifier (successes are not routed by default, so it is
    // the first request the sink sees).
    let hit = sink.next().await.json();
    assert_eq!(hit["kind"], "backup_failed", "{hit}");
    assert_eq!(hit["severity"], "error", "{hit}");
    assert!(
        hit["body"]
            .as_str()
            .unwrap_or_default()
            .contains("pre hook exited with 3"),
        "{hit}"
    );
    assert_eq!(hit["fields"]["job"], q.jobs[0].as_str(), "{hit}");

    // A failing post hook after the data is written: essential fails the backup (the
    // app runs again first); optional only logs.
    let q = op
        .call::<BackupsCreate>(create(Hooks {
            post: Some("exit 5".into()),
            ..Default::default()
        }))
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Failed, "{msg}");
    assert!(
        running(&scope, &app_id).await,
        "started again before the post hook"
    );
    assert_eq!(backups(&op, &name).await.len(), 1);
    let q = op
        .call::<BackupsCreate>(create(Hooks {
            post: Some("exit 5".into()),
            essential: Some(false),
            ..Default::default()
        }))
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let detail = op
        .call::<JobsGet>(JobRef {
            id: q.jobs[0].clone(),
        })
        .await
        .unwrap();
    assert!(detail.log.iter().any(|l| l.message.contains("optional")));

    // Hooks on a volume target are refused.
    let bad = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume { name: vol.clone() }],
            hooks: Hooks {
                pre: Some("true".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await;
    assert_eq!(code(&bad), Some(ErrorCode::BadRequest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_is_backed_up_and_recreated_with_its_driver_ipam_and_options() {
    use berth_protocol::api::catalogue::{NetworkBackup, NetworkRestore};
    use berth_protocol::api::networks::NetworkRef;
    use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};

    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let net = scope.name("net");
    let third = std::process::id() % 250;
    let subnet = format!("10.231.{third}.0/24");
    let mut labels = scope.labels();
    labels.insert("tier".into(), "db".into());
    scope
        .docker
        .create_network(NetworkCreateRequest {
            name: net.clone(),
            driver: Some("bridge".into()),
            internal: Some(true),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.clone()),
                    gateway: Some(format!("10.231.{third}.1")),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(std::collections::HashMap::from([(
                "com.docker.network.driver.mtu".to_owned(),
                "1400".to_owned(),
            )])),
            labels: Some(labels),
            ..Default::default()
        })
        .await
        .unwrap();

    let q = op
        .call::<NetworkBackup>(NetworkRef {
            host: None,
            id: net.clone(),
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let b = backups(&op, &net).await.remove(0);
    assert_eq!(b.target, BackupTarget::Network { name: net.clone() });
    assert!(b.volumes.is_empty());

    // Refused while a network of that name exists.
    let clash = op
        .call::<NetworkRestore>(RestoreBackup {
            id: b.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&clash), Some(ErrorCode::Conflict));
    // Built-in networks are not backed up.
    let builtin = op
        .call::<NetworkBackup>(NetworkRef {
            host: None,
            id: "bridge".into(),
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &builtin.jobs[0]).await;
    assert_eq!(state, JobState::Failed);
    assert!(msg.contains("built into Docker"), "{msg}");

    scope.docker.remove_network(&net).await.unwrap();
    let r = op
        .call::<NetworkRestore>(RestoreBackup {
            id: b.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &r.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let n = scope
        .docker
        .inspect_network(&net, None)
        .await
        .expect("recreated");
    assert_eq!(n.driver.as_deref(), Some("bridge"));
    assert_eq!(n.internal, Some(true));
    let cfg = &n.ipam.unwrap().config.unwrap()[0];
    assert_eq!(cfg.subnet.as_deref(), Some(subnet.as_str()));
    assert_eq!(n.options.unwrap()["com.docker.network.driver.mtu"], "1400");
    assert_eq!(n.labels.unwrap()["tier"], "db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_can_carry_its_image_and_the_restore_loads_it_where_it_is_missing() {
    use bollard::models::ContainerConfig;
    use bollard::query_parameters::{CommitContainerOptionsBuilder, RemoveImageOptionsBuilder};

    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    // An image that exists only here: the test image with a file baked in.
    let seed = scope
        .create_container("seed", &["sh", "-c", "echo baked > /baked.txt"])
        .await;
    scope.docker.start_container(&seed, None).await.unwrap();
    scope.wait_success(&seed).await;
    let repo = scope.name("img");
    let reference = format!("{repo}:1");
    let image_id = scope
        .docker
        .commit_container(
            CommitContainerOptionsBuilder::default()
                .container(&seed)
                .repo(&repo)
                .tag("1")
                .build(),
            ContainerConfig {
                labels: Some(scope.labels()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let name = scope.name("imgapp");
    scope
        .container("imgapp")
        .image(&reference)
        .sh("while true; do sleep 1; done")
        .start()
        .await;

    let bad = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume {
                name: "anything".into(),
            }],
            include_image: true,
            ..Default::default()
        })
        .await;
    assert_eq!(code(&bad), Some(ErrorCode::BadRequest));
    let q = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Container { name: name.clone() }],
            include_image: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let b = backups(&op, &name).await.remove(0);

    // The host loses the container and the image.
    scope
        .docker
        .remove_container(
            &name,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await
        .unwrap();
    scope
        .docker
        .remove_container(
            &seed,
            None::<bollard::query_parameters::RemoveContainerOptions>,
        )
        .await
        .unwrap();
    let remove_image = || async {
        let _ = scope
            .docker
            .remove_image(
                &reference,
                Some(RemoveImageOptionsBuilder::default().force(true).build()),
                None,
            )
            .await;
    };
    remove_image().await;
    assert!(scope.docker.inspect_image(&image_id).await.is_err());

    // The preview sees the image in the backup, so it is no conflict.
    let req = RestoreBackup {
        id: b.id.clone(),
        ..Default::default()
    };
    let p = op.call::<BackupsPreview>(req.clone()).await.unwrap();
    let carried = p
        .manifest
        .image
        .clone()
        .expect("the manifest lists the image");
    assert_eq!(
        (carried.reference.as_str(), carried.id.as_str()),
        (reference.as_str(), image_id.as_str())
    );
    assert!(p.conflicts.is_empty(), "{:?}", p.conflicts);
    let v = op
        .call::<BackupsVerify>(VerifyBackup {
            id: b.id.clone(),
            passphrase: None,
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &v.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    assert!(msg.contains("and the image"), "{msg}");

    let r = op.call::<BackupsRestore>(req).await.unwrap();
    let (state, msg) = end_state(&op, &r.id).await;
    let loaded = scope.docker.inspect_image(&reference).await;
    let running = running(&scope, &name).await;
    let _ = scope
        .docker
        .remove_container(
            &name,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await;
    remove_image().await;
    assert_eq!(state, JobState::Complete, "{msg}");
    assert_eq!(
        loaded.unwrap().id.as_deref(),
        Some(image_id.as_str()),
        "the same image, tag and all"
    );
    assert!(running, "the restored container runs on the loaded image");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_sharing_a_volume_stop_dependents_first_and_start_them_last() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let vol = make_volume(&scope, "shared").await;
    let project = scope.name("shop");
    // Labelled as compose v2 labels its services; `web` depends on `db`. `web` is
    // created first, so Docker lists `db` (the newest) first: the naive order would
    // stop the database under the running web app.
    let mut names = BTreeMap::new();
    for (service, deps) in [("web", Some("db:service_started:false")), ("db", None)] {
        let mut member = scope
            .container(service)
            .volume(&vol, "/data")
            .sh("trap 'exit 0' TERM; while true; do sleep 1; done")
            .label("com.docker.compose.project", &project)
            .label("com.docker.compose.service", service);
        if let Some(d) = deps {
            member = member.label("com.docker.compose.depends_on", d);
        }
        member.start().await;
        let name = scope.name(service);
        names.insert(service, name);
    }
    let q = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume { name: vol.clone() }],
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let log = log_of(&op, &q.jobs[0]).await;
    let at = |m: String| line_at(&log, &m);
    let (web, db) = (&names["web"], &names["db"]);
    assert!(
        at(format!("stopped {web}")) < at(format!("stopped {db}")),
        "{log:?}"
    );
    assert!(
        at(format!("{db} runs again")) < at(format!("{web} runs again")),
        "{log:?}"
    );
    for n in names.values() {
        assert!(running(&scope, n).await, "{n} runs again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compose_project_is_one_backup_and_restores_as_a_running_copy_under_a_new_name() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let op = ws::admin(&berth).await;
    let image = ensure_test_image(&scope.docker).await;
    let project = scope.name("shop");
    let label = format!("berth.test: \"{}\"", scope.run);
    // db keeps its data in a named volume; web shares db's network stack (so it is
    // stopped first and its `container:` mode must point at the new db); probe
    // reaches db by its service name over the project network.
    let dir = tempfile::tempdir().unwrap();
    let loop_ = "trap 'exit 0' TERM; while true; do sleep 1; done";
    std::fs::write(
        dir.path().join("compose.yaml"),
        format!(
            r#"version: "3.7"
services:
  db:
    image: {image}
    command: ["sh", "-c", "echo kept > /data/greeting; {loop_}"]
    labels: {{ {label} }}
    volumes: ["data:/data"]
  web:
    image: {image}
    command: ["sh", "-c", "{loop_}"]
    labels: {{ {label} }}
    network_mode: "service:db"
    depends_on: [db]
  probe:
    image: {image}
    command: ["sh", "-c", "{loop_}"]
    labels: {{ {label} }}
    depends_on: [db]
volumes:
  data:
    labels: {{ {label} }}
networks:
  default:
    labels: {{ {label} }}
"#
        ),
    )
    .unwrap();
    compose(dir.path(), &project, &["up", "-d"]);
    let before = scope.project_services(&project).await;
    assert_eq!(before.len(), 3, "compose started db, web and probe");

    // One backup of the whole project.
    let q = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Project {
                name: project.clone(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(q.jobs.len(), 1, "a project is one job");
    let (state, msg) = end_state(&op, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let log = log_of(&op, &q.jobs[0]).await;
    let name_of = |s: &str| {
        before[s]
            .name
            .clone()
            .unwrap()
            .trim_start_matches('/')
            .to_owned()
    };
    let at = |m: String| line_at(&log, &m);
    assert!(
        at(format!("stopped {}", name_of("web"))) < at(format!("stopped {}", name_of("db"))),
        "web shares db's network: stopped first: {log:?}"
    );
    assert!(
        at(format!("{} runs again", name_of("db"))) < at(format!("{} runs again", name_of("web"))),
        "{log:?}"
    );
    let entry = backups(&op, &project).await.remove(0);
    assert_eq!(
        entry.target,
        BackupTarget::Project {
            name: project.clone()
        }
    );
    let data = format!("{project}_data");
    assert_eq!(entry.volumes, vec![data.clone()]);
    for (_, c) in scope.project_services(&project).await {
        assert!(c.state.unwrap().running.unwrap(), "the original runs again");
    }

    // The preview names every container in the way, and a missing chosen network.
    let preview = op
        .call::<BackupsPreview>(RestoreBackup {
            id: entry.id.clone(),
            network: Some(scope.name("nowhere")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(preview.manifest.members.len(), 3);
    let pos = |s: &str| {
        preview
            .manifest
            .members
            .iter()
            .position(|m| m.service.as_deref() == Some(s))
            .unwrap()
    };
    assert!(pos("db") < pos("web"), "members are kept in start order");
    let in_use = preview
        .conflicts
        .iter()
        .filter(|c| c.kind == ConflictKind::NameInUse)
        .count();
    assert_eq!(in_use, 3, "{:?}", preview.conflicts);
    assert!(
        preview
            .conflicts
            .iter()
            .any(|c| c.kind == ConflictKind::NetworkNotFound),
        "{:?}",
        preview.conflicts
    );
    assert!(
        preview
            .conflicts
            .iter()
            .any(|c| c.kind == ConflictKind::VolumeExists && c.name == data)
    );
    let refused = op
        .call::<BackupsRestore>(RestoreBackup {
            id: entry.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&refused), Some(ErrorCode::Conflict));

    // Restored as a copy: a new project name renames its containers, volume and
    // network; everything runs; the data is there; the service names resolve.
    let copy = scope.name("shop2");
    let job = op
        .call::<BackupsRestore>(RestoreBackup {
            id: entry.id.clone(),
            name: Some(copy.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &job.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let after = scope.project_services(&copy).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        vec!["db", "probe", "web"],
        "{msg}"
    );
    for (service, c) in &after {
        assert!(c.state.as_ref().unwrap().running.unwrap(), "{service} runs");
        let name = c.name.as_deref().unwrap().trim_start_matches('/');
        assert!(
            name.starts_with(&copy),
            "{name} carries the new project name"
        );
    }
    let db_id = after["db"].id.clone().unwrap();
    assert_eq!(
        after["web"]
            .host_config
            .as_ref()
            .unwrap()
            .network_mode
            .as_deref(),
        Some(format!("container:{db_id}").as_str()),
        "web shares the new db's network stack"
    );
    let net = scope
        .docker
        .inspect_network(&format!("{copy}_default"), None)
        .await
        .expect("the project's network is recreated under its new name");
    assert_eq!(
        net.labels.unwrap()["com.docker.compose.project"],
        copy,
        "compose recognises it as the copy's"
    );
    let vol = scope
        .docker
        .inspect_volume(&format!("{copy}_data"))
        .await
        .expect("the project's volume follows its new name");
    assert_eq!(vol.labels["com.docker.compose.project"], copy);
    let probe = after["probe"].id.clone().unwrap();
    assert_eq!(
        scope
            .exec(&probe, &["sh", "-c", "ping -c1 -W5 db >/dev/null"])
            .await,
        0,
        "probe reaches db by its service name"
    );
    assert_eq!(
        scope
            .exec(
                &db_id,
                &["sh", "-c", "[ \"$(cat /data/greeting)\" = kept ]"]
            )
            .await,
        0,
        "the volume's data came back"
    );
    for (_, c) in scope.project_services(&project).await {
        assert!(
            c.state.unwrap().running.unwrap(),
            "the original project is untouched"
        );
    }

    // A chosen network replaces the project's own: nothing else is created.
    let lan = scope.create_network("lan").await;
    let third = scope.name("shop3");
    let job = op
        .call::<BackupsRestore>(RestoreBackup {
            id: entry.id.clone(),
            name: Some(third.clone()),
            network: Some(lan.clone()),
            start: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&op, &job.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let on_lan = scope.project_services(&third).await;
    assert_eq!(on_lan.len(), 3);
    for (service, c) in &on_lan {
        assert!(!c.state.as_ref().unwrap().running.unwrap(), "start: false");
        let mode = c
            .host_config
            .as_ref()
            .unwrap()
            .network_mode
            .clone()
            .unwrap();
        if service == "web" {
            assert!(mode.starts_with("container:"), "{mode}");
        } else {
            assert_eq!(mode, lan, "{service} is on the chosen network");
            let nets = c
                .network_settings
                .as_ref()
                .unwrap()
                .networks
                .as_ref()
                .unwrap();
            assert_eq!(nets.keys().collect::<Vec<_>>(), vec![&lan]);
            assert!(
                nets[&lan]
                    .aliases
                    .as_ref()
                    .is_some_and(|a| a.contains(service)),
                "{service} keeps its service alias"
            );
        }
    }
    assert!(
        scope
            .docker
            .inspect_network(&format!("{third}_default"), None)
            .await
            .is_err(),
        "no project network when one is chosen"
    );
    compose(dir.path(), &project, &["down", "-v"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_job_concurrency_two_jobs_run_at_once_but_never_on_the_same_volume() {
    let scope = Scope::new().await;
    // Started with one job at a time; an admin raises it while Berth runs.
    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_JOB_CONCURRENCY", "1");
    })
    .await;
    let op = ws::admin(&berth).await;
    let settings = op
        .call::<berth_protocol::api::catalogue::SettingsUpdate>(
            berth_protocol::api::settings::SettingsUpdate {
                job_concurrency: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(settings.job_concurrency, 2);
    let (a, b) = (
        make_volume(&scope, "a").await,
        make_volume(&scope, "b").await,
    );
    // a is the long one: b ends first, so the second backup of a starts while the
    // first still runs, and has to wait.
    for (v, base, mib) in [(&a, "fill-a", 300), (&b, "fill-b", 40)] {
        run_with(
            &scope,
            v,
            base,
            &format!("busybox dd if=/dev/urandom of=/data/r bs=1048576 count={mib} 2>/dev/null"),
        )
        .await;
    }
    let mut all = op
        .open::<JobProgress>(JobProgressParams { job: None })
        .await
        .unwrap();
    // Three jobs: a and b may overlap; the second backup of a must wait for the first.
    let q = op
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![
                BackupTarget::Volume { name: a.clone() },
                BackupTarget::Volume { name: b.clone() },
                BackupTarget::Volume { name: a.clone() },
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let (ja, jb, ja2) = (q.jobs[0].clone(), q.jobs[1].clone(), q.jobs[2].clone());
    let mut last: BTreeMap<String, JobState> = BTreeMap::new();
    let mut overlapped = false;
    let busy = |s: Option<&JobState>| matches!(s, Some(JobState::Running | JobState::Verifying));
    tokio::time::timeout(WAIT, async {
        while let Some(p) = all.next().await {
            let p = p.unwrap();
            last.insert(p.job.clone(), p.state);
            overlapped |= busy(last.get(&ja)) && busy(last.get(&jb));
            assert!(
                !(busy(last.get(&ja)) && busy(last.get(&ja2))),
                "two jobs read volume {a} at once: {last:?}"
            );
            if [&ja, &jb, &ja2]
                .iter()
                .all(|j| last.get(*j).is_some_and(|s| s.is_terminal()))
            {
                return;
            }
        }
    })
    .await
    .expect("the jobs end");
    assert!(overlapped, "jobs on different volumes ran at the same time");
    for j in [&ja, &jb, &ja2] {
        assert_eq!(last[j], JobState::Complete, "{j}");
    }
    let log = log_of(&op, &ja2).await;
    assert!(
        log.iter().any(|l| l.starts_with("waiting: ")
            && l.contains(&format!("job {ja} "))
            && l.contains(&format!("holds volume:{a}"))),
        "the second backup of {a} said which job it waited for: {log:?}"
    );
}

/// Configures storage instance `offsite`: the bucket `bucket` of `server`, in 5 MiB
/// parts.
async fn offsite(admin: &Client, server: &S3Server, bucket: &str) {
    let settings = serde_json::json!({ "prefix": "berth", "part_size_mib": 5 });
    admin
        .call::<PluginsConfigure>(server.configure_request(
            "offsite",
            bucket,
            settings,
            s3::SECRET_KEY,
        ))
        .await
        .unwrap();
}

/// A `stop`-mode backup's containers run again once Docker has read their volumes,
/// not once the archive is stored: with the bucket's server stopped before the backup,
/// nothing can be stored, yet the app starts again while the job is still writing;
/// with the server back, the backup completes, its downtime shorter than the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_containers_run_again_once_their_volumes_are_read() {
    let scope = Scope::new().await;
    let server = S3Server::start("berth-held");
    let vol = make_volume(&scope, "held").await;
    // More than the upload's buffers hold (the storage's parts, the channels): a
    // backup that streamed straight to the bucket could not read it all.
    let fill = "busybox dd if=/dev/urandom of=/data/blob bs=1048576 count=64 2>/dev/null";
    run_with(&scope, &vol, "fill-held", fill).await;
    let app_id = app(&scope, "held-app", &vol).await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    offsite(&admin, &server, "berth-held").await;

    server.pause();
    let mut started = docker_events(&scope, "container", &app_id, "start");
    let queued = admin
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Container {
                name: scope.name("held-app"),
            }],
            storage: Some("offsite".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let job = queued.jobs[0].clone();
    tokio::time::timeout(Duration::from_secs(60), started.next())
        .await
        .expect("the app started again while the bucket's server was stopped")
        .expect("a Docker event")
        .expect("a start event");
    let during = admin
        .call::<JobsGet>(JobRef { id: job.clone() })
        .await
        .unwrap();
    assert_eq!(during.job.finished_ms, None, "the job is still writing");
    assert!(running(&scope, &app_id).await);
    server.resume();

    let (state, message) = end_state(&admin, &job).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let done = admin.call::<JobsGet>(JobRef { id: job }).await.unwrap();
    let log: Vec<String> = done.log.iter().map(|l| l.message.clone()).collect();
    let read = line_at(&log, "volumes read: the containers run again");
    let figures = log
        .iter()
        .position(|l| l.starts_with(&format!("volume {vol}: ")) && l.ends_with(" bytes of tar"))
        .unwrap_or_else(|| panic!("the volume's figures in {log:?}"));
    assert!(
        read < figures,
        "released before the archive was written: {log:?}"
    );
    let [down] = done.job.downtime.as_slice() else {
        panic!("one container held: {:?}", done.job.downtime)
    };
    let took = done.job.finished_ms.unwrap() - done.job.started_ms.unwrap();
    assert!(down.ms < took, "down {} ms of the job's {took}", down.ms);
    let entries = backups(&admin, &scope.name("held-app")).await;
    assert_eq!(entries[0].storage, "offsite");
}

/// A restore reads each volume back as soon as it is written, while the next one
/// streams in: with the bucket's server stopped in the middle of the second volume,
/// the first one's read-back (a helper made, read and removed) still happens, and the
/// job is still writing; once the server runs again the job completes with both
/// volumes verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_volume_is_verified_while_the_next_one_is_written() {
    let scope = Scope::new().await;
    let server = S3Server::start("berth-overlap");
    let (first, second) = (
        make_volume(&scope, "overlap-1").await,
        make_volume(&scope, "overlap-2").await,
    );
    // Each more than the restore's read-ahead (the storage's ranges in flight, the
    // channels) holds, whichever volume the archive has first.
    let fill = "busybox dd if=/dev/urandom of=/data/blob bs=1048576 count=96 2>/dev/null";
    run_with(&scope, &first, "fill-overlap-1", fill).await;
    run_with(&scope, &second, "fill-overlap-2", fill).await;
    scope
        .container("overlap-app")
        .volume(&first, "/one")
        .volume(&second, "/two")
        .create()
        .await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    offsite(&admin, &server, "berth-overlap").await;
    let app = scope.name("overlap-app");
    let target = BackupTarget::Container { name: app.clone() };
    back_up(&admin, target, Some("offsite")).await;
    let id = backups(&admin, &app).await[0].id.clone();

    let copies = [scope.name("overlap-copy-1"), scope.name("overlap-copy-2")];
    // A read-back's helper is removed once it has read; the restore's own writing
    // helpers are removed only after the whole archive is written.
    // (Docker ANDs label filters: the helpers of these volumes are picked out here.)
    let label = "dev.berth.helper";
    let mut read_back = docker_events(&scope, "label", label, "destroy").filter(|e| {
        let mounted = e.as_ref().ok().and_then(|e| {
            let attributes = e.actor.as_ref()?.attributes.as_ref()?;
            attributes.get(label).cloned()
        });
        std::future::ready(mounted.is_some_and(|m| copies.contains(&m)))
    });
    let restore = admin
        .call::<BackupsRestore>(RestoreBackup {
            id,
            name: Some(scope.name("overlap-restored")),
            volumes: BTreeMap::from([
                (first.clone(), copies[0].clone()),
                (second.clone(), copies[1].clone()),
            ]),
            start: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    until(&admin, &restore.id, |p| p.items_done >= 1).await;
    server.pause();
    tokio::time::timeout(Duration::from_secs(60), read_back.next())
        .await
        .expect("the first volume was read back while the bucket's server was stopped")
        .expect("a Docker event")
        .expect("a destroy event");
    let during = admin
        .call::<JobsGet>(JobRef {
            id: restore.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        during.job.progress.state,
        JobState::Running,
        "still writing the second volume: {:?}",
        during.job.progress
    );
    server.resume();

    let (state, message) = end_state(&admin, &restore.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let log = log_of(&admin, &restore.id).await;
    for copy in &copies {
        assert!(
            log.iter()
                .any(|l| l.starts_with(&format!("volume {copy}: "))
                    && l.ends_with(" entries verified")),
            "{copy} verified: {log:?}"
        );
    }
}

/// The volume the format-1 fixture holds, as it was backed up.
const FORMAT_1_VOLUME: &str = "berth-fixture-format-1";

/// What `LIST` printed for that volume when the fixture was made.
const FORMAT_1_LISTING: &str = r#".|directory 755 0 0 4096|-|-
./docs|directory 750 0 0 4096|-|-
./docs/deep|directory 755 0 0 4096|-|-
./docs/deep/a.txt|regular file 644 0 0 11|3a217fca7d45127cf19d34e634a7a050ec696e99d72c252171964c8c3628f4ad  -|-
./empty|regular empty file 644 0 0 0|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  -|-
./link|symbolic link 777 0 0 15|-|docs/deep/a.txt
./private|regular file 600 1234 5678 7|b37e50cedcd3e3f1ff64f4afc0422084ae694253cf399326868e07a35f4a45fb  -|-
./with space|directory 755 0 0 4096|-|-
./with space/b.txt|regular file 644 0 0 7|96faa18568f8de6d2be0927265d4f317324564b41ca02188ba5430234a87860d  -|-
"#;

/// Backups written by earlier Berths keep restoring: a volume backup in format 1, made
/// by Berth and committed as `tests/fixtures/backups/format-1-volume.tar.gz` (files,
/// a symlink, an owner and modes), is uploaded — another installation's,
/// so foreign — and restored into a new volume with its contents as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_written_in_format_1_still_restores() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let token = ws::login(&berth, "admin", ws::ADMIN_PASSWORD).await;
    let raw = std::fs::read(
        berth_tests::workspace_root().join("tests/fixtures/backups/format-1-volume.tar.gz"),
    )
    .unwrap();
    let (status, body) = upload(&berth, &admin, &token, None, raw).await;
    assert_eq!(status, 200, "{body}");
    let entry: BackupEntry = serde_json::from_value(body).unwrap();
    assert_eq!(entry.origin, BackupOrigin::Foreign);
    assert_eq!(entry.volumes, vec![FORMAT_1_VOLUME.to_owned()]);
    let copy = scope.name("format-1");
    let request = RestoreBackup {
        id: entry.id.clone(),
        volumes: BTreeMap::from([(FORMAT_1_VOLUME.to_owned(), copy.clone())]),
        ..Default::default()
    };
    // Another installation's backup restores once an admin approves its origin.
    let refused = admin.call::<BackupsRestore>(request.clone()).await;
    assert_eq!(code(&refused), Some(ErrorCode::BadRequest));
    let restore = admin
        .call::<BackupsRestore>(RestoreBackup {
            approve: vec!["origin:foreign".to_owned()],
            ..request
        })
        .await
        .unwrap();
    let (state, message) = end_state(&admin, &restore.id).await;
    let listed = match state {
        JobState::Complete => Some(
            scope
                .container("list")
                .volume(&copy, "/data")
                .sh(LIST)
                .throwaway()
                .run()
                .await,
        ),
        _ => None,
    };
    // The restored volume carries the fixture's labels, not this run's: removed here.
    let _ = scope
        .docker
        .remove_volume(
            &copy,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        )
        .await;
    assert_eq!(state, JobState::Complete, "{message}");
    assert_eq!(listed.unwrap_or_default(), FORMAT_1_LISTING);
}
