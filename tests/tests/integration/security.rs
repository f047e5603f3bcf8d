//! Attacks on a running Berth, each first reproduced and then refused: an operator
//! turning an uploaded backup into root on the host (privileged containers, the host's
//! root bind-mounted, host network options, an image that retags an existing one), a
//! failed overwrite restore wiping a volume, a job that panics stopping the queue.
//! Real binary, real Docker Engine, real sockets.

use std::collections::HashMap;

use berth_client::Client;
use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupTarget, CreateBackup, ExistingVolume, Hooks, RestoreBackup,
};
use berth_protocol::api::catalogue::{BackupsCreate, BackupsPreview, BackupsRestore};
use berth_protocol::api::jobs::JobState;
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::jobs::{code, end_state, hand_made_backup, upload};
use berth_tests::server::Berth;
use berth_tests::ws;
use serde_json::json;

/// A container backup's manifest whose configuration is `host_config`, with no
/// volumes: what an attacker writes by hand (the checksums are theirs too).
fn forged_manifest(
    id: &str,
    name: &str,
    image: &str,
    labels: &HashMap<String, String>,
    host_config: serde_json::Value,
) -> serde_json::Value {
    json!({
        "format": 1,
        "berth_version": "0.1.0",
        "id": id,
        "host": "local",
        "created_ms": 1_700_000_000_000u64,
        "trigger": "manual",
        "consistency": "stop",
        "target": {"kind": "container", "name": name},
        "container": {
            "Id": "ééééééééééééééééé",
            "Name": format!("/{name}"),
            "Config": {"Image": image, "Cmd": ["sh", "-c", "sleep 3600"], "Labels": labels},
            "HostConfig": host_config,
            "NetworkSettings": {"Networks": {}}
        },
        "was_running": false,
        "volumes": []
    })
}

/// An admin, an operator (`otto`) and the operator's token.
async fn admin_and_operator(berth: &Berth) -> (Client, Client, String) {
    let admin = ws::admin(berth).await;
    let op = ws::user(berth, &admin, "otto", Role::Operator).await;
    let token = ws::login(berth, "otto", "password-of-otto").await;
    (admin, op, token)
}

fn restore_req(id: &str) -> RestoreBackup {
    RestoreBackup {
        id: id.to_owned(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_turn_an_uploaded_backup_into_root_on_the_host() {
    let scope = Scope::new().await;
    let image = ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let (admin, op, token) = admin_and_operator(&berth).await;
    let name = scope.name("rooted");
    let manifest = forged_manifest(
        "b-1700000000000-forged01",
        &name,
        image,
        &scope.labels(),
        json!({
            "Binds": ["/:/host"], "Privileged": true, "PidMode": "host",
            "CapAdd": ["SYS_ADMIN"], "NetworkMode": "host"
        }),
    );
    // The operator may upload a backup file: it is checked and catalogued — as foreign.
    let (status, entry) = upload(&berth, &op, &token, None, hand_made_backup(&manifest, &[])).await;
    assert_eq!(status, 200, "{entry}");
    let entry: BackupEntry = serde_json::from_value(entry).unwrap();
    assert_eq!(entry.origin, BackupOrigin::Foreign);

    // The preview names every setting that reaches the host, for the approval.
    let pv = op
        .call::<BackupsPreview>(restore_req(&entry.id))
        .await
        .unwrap();
    let keys: Vec<&str> = pv.privileges.iter().map(|p| p.key.as_str()).collect();
    for want in [
        format!("container:{name}:Binds:/"),
        format!("container:{name}:Privileged:true"),
        format!("container:{name}:PidMode:host"),
        format!("container:{name}:CapAdd:SYS_ADMIN"),
        format!("container:{name}:NetworkMode:host"),
    ] {
        assert!(keys.contains(&want.as_str()), "{want} not in {keys:?}");
    }
    assert!(pv.needs_approval.contains(&"origin:foreign".to_owned()));

    // The attack: the operator restores it. Refused before anything is queued.
    let r = op.call::<BackupsRestore>(restore_req(&entry.id)).await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{r:?}");
    assert!(
        scope.docker.inspect_container(&name, None).await.is_err(),
        "no container was created"
    );
    // Even an admin must approve each setting explicitly.
    let r = admin.call::<BackupsRestore>(restore_req(&entry.id)).await;
    assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{r:?}");
    let mut partial = restore_req(&entry.id);
    partial.approve = vec!["origin:foreign".into()];
    let r = admin.call::<BackupsRestore>(partial).await;
    assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{r:?}");
    // Approved: it runs (its container id, all multi-byte characters, once panicked
    // the job runner).
    let mut approved = restore_req(&entry.id);
    approved.approve = pv.needs_approval.clone();
    let job = admin.call::<BackupsRestore>(approved).await.unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let created = scope.docker.inspect_container(&name, None).await.unwrap();
    assert_eq!(created.host_config.unwrap().privileged, Some(true));
}

/// Imports a one-file image as `reference`; returns its id.
async fn tiny_image(scope: &Scope, reference: &str, text: &str) -> String {
    use futures_util::TryStreamExt;
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "marker", text.as_bytes()).unwrap();
    let (repo, tag) = reference.split_once(':').unwrap();
    let o = bollard::query_parameters::CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .build();
    scope
        .docker
        .create_image(
            Some(o),
            Some(bollard::body_full(tar.into_inner().unwrap().into())),
            None,
        )
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    scope
        .docker
        .inspect_image(reference)
        .await
        .unwrap()
        .id
        .unwrap()
}

/// A `docker save` of `reference` whose names were changed to `claims` (what
/// `docker load` would tag the image with).
async fn save_claiming(scope: &Scope, reference: &str, claims: &str) -> Vec<u8> {
    use futures_util::TryStreamExt;
    let saved: Vec<u8> = scope
        .docker
        .export_image(reference)
        .map_ok(|b| b.to_vec())
        .try_concat()
        .await
        .unwrap();
    let mut out = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(&saved[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        let name = path.to_string_lossy().into_owned();
        if name == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
            m[0]["RepoTags"] = json!([claims]);
            data = serde_json::to_vec(&m).unwrap();
        } else if name == "repositories" {
            let (repo, tag) = claims.split_once(':').unwrap();
            let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            let id = v
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .clone();
            data = serde_json::to_vec(&json!({ repo: { tag: id } })).unwrap();
        }
        let mut h = e.header().clone();
        h.set_size(data.len() as u64);
        out.append_data(&mut h, &path, &data[..]).unwrap();
    }
    out.into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_in_a_backup_never_retags_an_image_the_host_has() {
    use sha2::Digest;
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let token = ws::login(&berth, "admin", ws::ADMIN_PASSWORD).await;
    let run = scope.run.replace('-', "");
    let victim = format!("berth-test-victim-{run}:1");
    let carried = format!("berth-test-carried-{run}:1");
    let evil = format!("berth-test-evil-{run}:1");
    let victim_id = tiny_image(&scope, &victim, "the real image").await;
    let evil_id = tiny_image(&scope, &evil, "the attacker's image").await;
    let image_tar = save_claiming(&scope, &evil, &victim).await;
    let rm = bollard::query_parameters::RemoveImageOptionsBuilder::default()
        .force(true)
        .build();
    scope
        .docker
        .remove_image(&evil, Some(rm.clone()), None)
        .await
        .unwrap();

    // The backup says it carries image `carried` (missing here, so it is loaded) —
    // but its save claims the victim's name.
    let name = scope.name("retag");
    let mut manifest = forged_manifest(
        "b-1700000000000-retag001",
        &name,
        &carried,
        &scope.labels(),
        json!({}),
    );
    manifest["image"] = json!({
        "reference": carried,
        "id": evil_id,
        "tar_bytes": image_tar.len(),
        "sha256": hex::encode(sha2::Sha256::digest(&image_tar)),
    });
    let (status, entry) = upload(
        &berth,
        &admin,
        &token,
        None,
        hand_made_backup(&manifest, &[("image.tar", &image_tar)]),
    )
    .await;
    assert_eq!(status, 200, "{entry}");
    let entry: BackupEntry = serde_json::from_value(entry).unwrap();
    let pv = admin
        .call::<BackupsPreview>(restore_req(&entry.id))
        .await
        .unwrap();
    let mut req = restore_req(&entry.id);
    req.approve = pv.needs_approval;
    let job = admin.call::<BackupsRestore>(req).await.unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");

    let now = scope
        .docker
        .inspect_image(&victim)
        .await
        .unwrap()
        .id
        .unwrap();
    let loaded = scope
        .docker
        .inspect_image(&carried)
        .await
        .unwrap()
        .id
        .unwrap();
    for r in [&victim, &carried] {
        let _ = scope.docker.remove_image(r, Some(rm.clone()), None).await;
    }
    let _ = scope.docker.remove_image(&evil_id, Some(rm), None).await;
    assert_eq!(now, victim_id, "the host's image kept its name");
    assert_eq!(
        loaded, evil_id,
        "the backup's image got the name it was saved for, untaken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_backup_that_binds_host_interfaces_needs_an_admins_approval() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let (_admin, op, token) = admin_and_operator(&berth).await;
    let name = scope.name("lan");
    let manifest = json!({
        "format": 1, "berth_version": "0.1.0", "id": "b-1700000000000-netforge",
        "host": "local", "created_ms": 1_700_000_000_000u64, "trigger": "manual",
        "consistency": "stop", "target": {"kind": "network", "name": name},
        "network": {"Name": name, "Driver": "macvlan", "Options": {"parent": "eth0"},
                    "Labels": scope.labels()},
        "volumes": []
    });
    let (status, entry) = upload(&berth, &op, &token, None, hand_made_backup(&manifest, &[])).await;
    assert_eq!(status, 200, "{entry}");
    let id = entry["id"].as_str().unwrap().to_owned();
    let pv = op.call::<BackupsPreview>(restore_req(&id)).await.unwrap();
    let keys: Vec<&str> = pv.privileges.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            format!("network:{name}:Driver:macvlan"),
            format!("network:{name}:Options:parent=eth0")
        ]
    );
    let r = op
        .call::<berth_protocol::api::catalogue::NetworkRestore>(restore_req(&id))
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{r:?}");
    assert!(scope.docker.inspect_network(&name, None).await.is_err());
}

/// Runs `script` in a throwaway container with `vol` at /data; returns its output.
async fn in_volume(scope: &Scope, vol: &str, script: &str) -> String {
    scope
        .container("in-volume")
        .unnamed()
        .throwaway()
        .volume(vol, "/data")
        .sh(script)
        .run()
        .await
}

async fn backup_volume(c: &Client, vol: &str) -> BackupEntry {
    let q = c
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume {
                name: vol.to_owned(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, message) = end_state(c, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let list = c
        .call::<berth_protocol::api::catalogue::BackupsList>(
            berth_protocol::api::backups::BackupQuery {
                target: Some(vol.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    list.backups.into_iter().next().unwrap()
}

/// Volumes whose name says they hold a restore's aside copy.
async fn asides(scope: &Scope) -> Vec<String> {
    scope
        .docker
        .list_volumes(None::<bollard::query_parameters::ListVolumesOptions>)
        .await
        .unwrap()
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .filter(|n| n.contains(&scope.run) && n.contains("berth-aside"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_overwrite_restore_puts_the_old_data_back_and_overwriting_is_an_admins() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let (admin, op, _) = admin_and_operator(&berth).await;
    let vol = scope.name("precious");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(vol.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    in_volume(&scope, &vol, "echo backed-up > /data/state; busybox dd if=/dev/urandom of=/data/noise bs=1048576 count=8 2>/dev/null").await;
    let b = backup_volume(&op, &vol).await;
    in_volume(&scope, &vol, "echo work-since > /data/state").await;

    // This installation's own backup, restored into a new name: an operator's to do,
    // with nothing to approve.
    assert_eq!(b.origin, BackupOrigin::ThisInstallation);
    let mut copy = restore_req(&b.id);
    copy.volumes
        .insert(vol.clone(), scope.name("precious-copy"));
    assert!(
        op.call::<BackupsPreview>(copy.clone())
            .await
            .unwrap()
            .needs_approval
            .is_empty()
    );
    let job = op.call::<BackupsRestore>(copy).await.unwrap();
    let (state, message) = end_state(&op, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");

    let mut over = restore_req(&b.id);
    over.existing = ExistingVolume::Overwrite;
    // Replacing data is deleting it: not an operator's.
    let pv = op.call::<BackupsPreview>(over.clone()).await.unwrap();
    assert_eq!(pv.overwrites, std::slice::from_ref(&vol));
    let r = op.call::<BackupsRestore>(over.clone()).await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{r:?}");

    // The attack on an admin's restore: the stored object is damaged past the manifest,
    // so the restore fails after it has started replacing the volume.
    let object = berth.data_dir.join("backups").join(&b.key);
    let good = std::fs::read(&object).unwrap();
    let mut bad = good.clone();
    let i = bad.len() * 3 / 4;
    bad[i] ^= 0xff;
    std::fs::write(&object, &bad).unwrap();
    let job = admin.call::<BackupsRestore>(over.clone()).await.unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Failed, "{message}");
    assert_eq!(
        in_volume(&scope, &vol, "cat /data/state").await.trim(),
        "work-since",
        "the data the failed restore was to replace is back"
    );
    assert!(asides(&scope).await.is_empty(), "nothing left aside");

    // Whole again, the overwrite goes through and replaces the contents.
    std::fs::write(&object, &good).unwrap();
    let job = admin.call::<BackupsRestore>(over).await.unwrap();
    let (state, message) = end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    assert_eq!(
        in_volume(&scope, &vol, "cat /data/state").await.trim(),
        "backed-up"
    );
    assert!(asides(&scope).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_output_cut_inside_a_character_no_longer_stops_the_queue() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let app = scope
        .create_container("chatty-hook", &["sh", "-c", "while true; do sleep 1; done"])
        .await;
    scope.docker.start_container(&app, None).await.unwrap();
    // 9,000 bytes of three-byte characters: the hook's output was cut at a byte
    // index inside a character, a panic that stopped every later job.
    let hook = "i=0; while [ $i -lt 3000 ]; do printf '€'; i=$((i+1)); done";
    let q = admin
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Container {
                name: scope.name("chatty-hook"),
            }],
            consistency: Some(berth_protocol::api::backups::Consistency::Hot),
            hooks: Hooks {
                pre: Some(hook.into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, message) = end_state(&admin, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let vol = scope.name("after");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(vol.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    backup_volume(&admin, &vol).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_or_deleted_user_loses_an_open_terminal_at_once() {
    use tokio::io::AsyncReadExt;
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let (admin, op, token) = admin_and_operator(&berth).await;
    let id = scope
        .create_container("term", &["sh", "-c", "while true; do sleep 1; done"])
        .await;
    scope.docker.start_container(&id, None).await.unwrap();
    // A terminal waiting for input: the operator sends nothing more.
    let mut sh = op
        .open_binary("exec", json!({"container": id, "cmd": ["cat"]}), None)
        .await
        .unwrap();
    admin
        .call::<berth_protocol::api::catalogue::UsersUpdate>(
            berth_protocol::api::users::UpdateUser {
                name: "otto".into(),
                role: Some(Role::Viewer),
                password: None,
                revoke_sessions: false,
                reset_totp: false,
            },
        )
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), sh.read_to_end(&mut rest))
        .await
        .expect("the terminal closed without waiting for the operator's next message")
        .unwrap();
    assert_eq!(sh.close_error().map(|e| e.code), Some(ErrorCode::Forbidden));

    // Deleted: the connection ends at once with 4401, idle or not.
    let (mut raw, _) = ws::raw_session(&berth, &token).await;
    admin
        .call::<berth_protocol::api::catalogue::UsersDelete>(berth_protocol::api::users::UserName {
            name: "otto".into(),
        })
        .await
        .unwrap();
    let (close, seen) = raw.expect_close(std::time::Duration::from_secs(5)).await;
    assert_eq!(close, 4401, "{seen:?}");
}

/// A login from the local address `from` (any 127.x.y.z reaches the server).
async fn login_from(berth: &Berth, from: std::net::Ipv4Addr, user: &str, password: String) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr: std::net::SocketAddr = berth.url.trim_start_matches("http://").parse().unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind((from, 0).into()).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    let body = json!({"username": user, "password": password}).to_string();
    let req = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap()
}

async fn audit(admin: &Client, actor: &str) -> Vec<berth_protocol::api::audit::AuditEntry> {
    admin
        .call::<berth_protocol::api::catalogue::AuditList>(berth_protocol::api::audit::AuditQuery {
            filter: berth_protocol::api::audit::AuditFilter {
                actor: Some(actor.to_owned()),
                ..Default::default()
            },
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap()
        .entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_are_counted_before_they_are_checked_and_flooding_is_folded() {
    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_AUDIT_MAX_ENTRIES", "100");
    })
    .await;
    let admin = ws::admin(&berth).await;
    // Real history first.
    for i in 0..5 {
        admin
            .call::<berth_protocol::api::catalogue::TokensCreate>(
                berth_protocol::api::tokens::CreateToken {
                    name: format!("history-{i}"),
                    role: None,
                    expires_in_days: None,
                },
            )
            .await
            .unwrap();
    }
    // 100 guesses at once from one address: only the free ones are evaluated.
    let ip = std::net::Ipv4Addr::new(127, 0, 0, 1);
    let guesses: Vec<u16> = futures_util::future::join_all(
        (0..100).map(|i| login_from(&berth, ip, "mallory", format!("guess-number-{i}"))),
    )
    .await;
    let evaluated = guesses.iter().filter(|s| **s == 401).count();
    assert_eq!(evaluated, 5, "{guesses:?}");
    assert_eq!(guesses.iter().filter(|s| **s == 429).count(), 95);
    // A flood from the locked-out source: folded, never pushing history out.
    for _ in 0..20 {
        futures_util::future::join_all(
            (0..50).map(|_| login_from(&berth, ip, "mallory", "x".into())),
        )
        .await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let m = audit(&admin, "mallory").await;
        let total: u64 = m.iter().map(|e| e.count.unwrap_or(1)).sum();
        assert!(m.len() <= 3, "one record per kind, with a count: {m:?}");
        if total == 1100 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "counts: {m:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let history = audit(&admin, "admin").await;
    assert_eq!(
        history
            .iter()
            .filter(|e| e.method == "tokens.create")
            .count(),
        5,
        "real history survived the flood"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_parallel_logins_cannot_take_the_servers_memory() {
    let (_tmp, berth) = ws::start().await;
    let pid = berth.process.pid();
    let before = ws::rss_bytes(pid);
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let peak = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(ws::rss_bytes(pid));
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            peak
        })
    };
    // From 200 addresses and as 1,000 names, so no lockout stops them: only the
    // bound on hashing in flight does.
    let started = std::time::Instant::now();
    let answers: Vec<(u16, std::time::Duration)> =
        futures_util::future::join_all((0..1000u32).map(|i| {
            let berth = &berth;
            async move {
                let t = std::time::Instant::now();
                let ip =
                    std::net::Ipv4Addr::new(127, 1, (i / 5 / 250) as u8, (i / 5 % 250 + 1) as u8);
                (
                    login_from(berth, ip, &format!("nobody{i}"), "a-wrong-password".into()).await,
                    t.elapsed(),
                )
            }
        }))
        .await;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = peak.await.unwrap();
    let busy: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    assert!(!busy.is_empty(), "some were told to come back");
    assert!(
        answers.iter().all(|(s, _)| *s == 401 || *s == 503),
        "{answers:?}"
    );
    let growth = peak.saturating_sub(before);
    eprintln!(
        "1,000 parallel logins: RSS {} → {} MiB, {} answered 503, all in {:?}",
        before >> 20,
        peak >> 20,
        busy.len(),
        started.elapsed()
    );
    assert!(growth < 200 << 20, "RSS grew by {} MiB", growth >> 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_settings_need_the_password_the_limiter_and_an_uncapped_credential() {
    use berth_protocol::api::auth::{ChangePassword, ConfirmPassword};
    use berth_protocol::api::catalogue::{
        AuthChangePassword, AuthTotpDisable, AuthTotpEnroll, TokensCreate,
    };
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    // A token capped to viewer, handed to a script: it may not raise itself back to
    // its admin's power by taking over the account's security.
    let capped = admin
        .call::<TokensCreate>(berth_protocol::api::tokens::CreateToken {
            name: "read-only".into(),
            role: Some(Role::Viewer),
            expires_in_days: None,
        })
        .await
        .unwrap();
    let script = ws::client(&berth, &capped.secret).await;
    let r = script
        .call::<AuthTotpEnroll>(ConfirmPassword {
            password: ws::ADMIN_PASSWORD.into(),
        })
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{r:?}");
    let r = script
        .call::<AuthChangePassword>(ChangePassword {
            current: ws::ADMIN_PASSWORD.into(),
            new: "a-new-admin-password".into(),
        })
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{r:?}");
    // Enrolment needs the password.
    let r = admin
        .call::<AuthTotpEnroll>(ConfirmPassword {
            password: "not-the-password".into(),
        })
        .await;
    assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{r:?}");
    // No password oracle: wrong guesses lock out like logins do.
    let mut codes = Vec::new();
    for i in 0..6 {
        let r = admin
            .call::<AuthTotpDisable>(ConfirmPassword {
                password: format!("guess-{i}"),
            })
            .await;
        codes.push(code(&r));
    }
    assert_eq!(
        codes.last(),
        Some(&Some(ErrorCode::RateLimited)),
        "{codes:?}"
    );
    let r = admin
        .call::<AuthTotpDisable>(ConfirmPassword {
            password: ws::ADMIN_PASSWORD.into(),
        })
        .await;
    assert_eq!(
        code(&r),
        Some(ErrorCode::RateLimited),
        "even the right one, while locked out"
    );
}

#[tokio::test]
async fn a_login_posted_from_another_site_or_as_a_form_is_refused() {
    let (_tmp, berth) = ws::start().await;
    let post = |origin: Option<&str>, content_type: &str| {
        let mut r = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", berth.url))
            .header("content-type", content_type)
            .body(json!({"username": "admin", "password": ws::ADMIN_PASSWORD}).to_string());
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        post(Some("https://evil.example"), "application/json").await,
        403
    );
    assert_eq!(post(None, "text/plain").await, 415);
    assert_eq!(post(Some(&berth.url), "application/json").await, 200);
    assert_eq!(post(None, "application/json; charset=utf-8").await, 200);
}

#[tokio::test]
async fn an_expiring_token_cannot_mint_one_that_outlives_it() {
    use berth_protocol::api::catalogue::TokensCreate;
    use berth_protocol::api::tokens::CreateToken;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let mint = |name: &str, days: Option<u32>| CreateToken {
        name: name.into(),
        role: None,
        expires_in_days: days,
    };
    let short = admin
        .call::<TokensCreate>(mint("two-days", Some(2)))
        .await
        .unwrap();
    let t = ws::client(&berth, &short.secret).await;
    for days in [None, Some(3)] {
        let r = t.call::<TokensCreate>(mint("longer", days)).await;
        assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{days:?}: {r:?}");
    }
    t.call::<TokensCreate>(mint("within", Some(1)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_ticket_is_authorised_again_when_it_is_used() {
    use berth_protocol::api::catalogue::{UsersUpdate, VolumeDownloadTicket};
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let (admin, op, token) = admin_and_operator(&berth).await;
    let vol = scope.name("ticketed");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(vol.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    in_volume(&scope, &vol, "echo contents > /data/file").await;
    let t = op
        .call::<VolumeDownloadTicket>(berth_protocol::api::volumes::DownloadVolumePath {
            host: None,
            name: vol,
            path: "/file".into(),
        })
        .await
        .unwrap();
    admin
        .call::<UsersUpdate>(berth_protocol::api::users::UpdateUser {
            name: "otto".into(),
            role: Some(Role::Viewer),
            password: None,
            revoke_sessions: false,
            reset_totp: false,
        })
        .await
        .unwrap();
    let status = reqwest::Client::new()
        .get(format!("{}{}", berth.url, t.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403, "minted as operator, used as viewer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_what_berth_writes_into_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let vol = scope.name("private");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(vol.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    let b = backup_volume(&admin, &vol).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&berth.data_dir), 0o700);
    for f in ["berth.redb", "secret.key"] {
        assert_eq!(mode(&berth.data_dir.join(f)), 0o600, "{f}");
    }
    let object = berth.data_dir.join("backups").join(&b.key);
    assert_eq!(mode(&object), 0o600, "the backup object");
    assert_eq!(mode(object.parent().unwrap()), 0o700);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_file_reads_and_targets_are_in_the_audit_log() {
    use tokio::io::AsyncReadExt;
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let (admin, op, _) = admin_and_operator(&berth).await;
    let id = scope
        .create_container("audited", &["sh", "-c", "while true; do sleep 1; done"])
        .await;
    scope.docker.start_container(&id, None).await.unwrap();
    let mut sh = op
        .open_binary(
            "exec",
            json!({"container": id, "cmd": ["sh", "-c", "echo hi; exit 4"]}),
            None,
        )
        .await
        .unwrap();
    let mut out = String::new();
    sh.read_to_string(&mut out).await.unwrap();
    let vol = scope.name("read");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(vol.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    in_volume(&scope, &vol, "echo text > /data/notes").await;
    op.call::<berth_protocol::api::catalogue::VolumeReadFile>(
        berth_protocol::api::volumes::ReadFile {
            host: None,
            name: vol.clone(),
            path: "/notes".into(),
            offset: 0,
            limit: None,
        },
    )
    .await
    .unwrap();
    op.call::<BackupsCreate>(CreateBackup {
        targets: vec![BackupTarget::Volume { name: vol.clone() }],
        ..Default::default()
    })
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let entries = loop {
        let e = audit(&admin, "otto").await;
        if e.iter().filter(|e| e.method == "exec").count() == 2 {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "{e:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let detail = |m: &str, starts: &str| {
        entries
            .iter()
            .find(|e| e.method == m && e.detail.as_deref().is_some_and(|d| d.starts_with(starts)))
            .cloned()
            .unwrap_or_else(|| panic!("no {m} {starts}: {entries:?}"))
    };
    let started = detail("exec", "started: sh -c echo hi; exit 4");
    assert_eq!(started.target.as_deref(), Some(id.as_str()));
    let ended = detail("exec", "ended after");
    assert!(ended.detail.unwrap().ends_with("exit code 4"));
    let read = entries
        .iter()
        .find(|e| e.method == "volume.read_file")
        .unwrap();
    assert_eq!(
        read.target.as_deref(),
        Some(format!("{vol}:/notes").as_str())
    );
    let backup = entries
        .iter()
        .find(|e| e.method == "backups.create")
        .unwrap();
    assert_eq!(
        backup.target.as_deref(),
        Some(format!("volume {vol}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_no_secrets_in_labels_or_command_lines() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;
    let id = scope
        .create_container_with(
            "secretive",
            &[
                "sh",
                "-c",
                "PGPASSWORD=hunter2 true",
                "--db-password=hunter2",
            ],
            &[(
                "traefik.http.middlewares.x.basicauth.users",
                "admin:hunter2",
            )],
        )
        .await;
    let seen = viewer
        .call::<berth_protocol::api::catalogue::ContainerInspect>(
            berth_protocol::api::containers::ContainerRef {
                host: None,
                id: id.clone(),
            },
        )
        .await
        .unwrap();
    assert!(seen.redacted);
    assert!(
        !seen.inspect.to_string().contains("hunter2"),
        "{}",
        seen.inspect
    );
    let list = viewer
        .call::<berth_protocol::api::catalogue::ContainersList>(Default::default())
        .await
        .unwrap();
    let text = serde_json::to_string(&list).unwrap();
    assert!(text.contains(&scope.name("secretive")) && !text.contains("hunter2"));
    // An operator sees them (it can exec into the container anyway).
    let full = admin
        .call::<berth_protocol::api::catalogue::ContainerInspect>(
            berth_protocol::api::containers::ContainerRef { host: None, id },
        )
        .await
        .unwrap();
    assert!(full.inspect.to_string().contains("hunter2"));
}

/// A container publishing host port `port` (as 8080/tcp) that exits on SIGTERM.
async fn publishing(scope: &Scope, base: &str, port: u16, vol: Option<&str>) -> String {
    let mut container = scope
        .container(base)
        .sh("trap 'exit 0' TERM; while true; do sleep 1; done")
        .publish_at("8080/tcp", port);
    if let Some(v) = vol {
        container = container.bind(&format!("{v}:/data"));
    }
    container.create().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_cannot_start_again_stays_in_the_journal_and_is_retried() {
    use futures_util::StreamExt;
    let scope = Scope::new().await;
    // Without the spool the app stays down until the archive is stored: time for the
    // test to take its port.
    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_BACKUP_SPOOL", "off");
    })
    .await;
    let admin = ws::admin(&berth).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let vol = scope.name("journal-data");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(vol.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    // Enough data that the backup holds the app stopped for a while.
    in_volume(
        &scope,
        &vol,
        "busybox dd if=/dev/urandom of=/data/blob bs=1048576 count=256 2>/dev/null",
    )
    .await;
    let app = publishing(&scope, "journal-app", port, Some(&vol)).await;
    scope.docker.start_container(&app, None).await.unwrap();
    let mut died = scope.docker.events(Some(
        bollard::query_parameters::EventsOptionsBuilder::default()
            .filters(&HashMap::from([
                ("container".to_owned(), vec![app.clone()]),
                ("event".to_owned(), vec!["die".to_owned()]),
            ]))
            .build(),
    ));
    let q = admin
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Container {
                name: scope.name("journal-app"),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    // While the backup holds it stopped, something else takes its port.
    died.next().await.unwrap().unwrap();
    let blocker = publishing(&scope, "port-thief", port, None).await;
    scope.docker.start_container(&blocker, None).await.unwrap();
    let (state, message) = end_state(&admin, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let running = |id: String| {
        let d = scope.docker.clone();
        async move {
            d.inspect_container(&id, None)
                .await
                .unwrap()
                .state
                .and_then(|s| s.running)
                .unwrap_or(false)
        }
    };
    assert!(
        !running(app.clone()).await,
        "the port was taken: it could not start"
    );
    // The port is free again; before the next job Berth tries again.
    scope
        .docker
        .remove_container(
            &blocker,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await
        .unwrap();
    let other = scope.name("journal-other");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(other.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    backup_volume(&admin, &other).await;
    assert!(running(app).await, "started again from the journal");
}
