//! Berth run as it ships — in a container, with its data directory on a Docker volume
//! and the Docker socket mounted — protects itself: its own container's logs and a
//! shell in it are an admin's only, its environment is hidden below admin, its data
//! volume is closed to operators, and its installation key is served to no one, not
//! even inside a directory download or a backup.

use std::time::{Duration, Instant};

use berth_client::Client;
use berth_protocol::api::backups::{BackupTarget, CreateBackup};
use berth_protocol::api::catalogue::{
    BackupsCreate, ContainerInspect, UsersCreate, VolumeBrowse, VolumeDownloadTicket,
    VolumeReadFile,
};
use berth_protocol::api::containers::ContainerRef;
use berth_protocol::api::jobs::JobState;
use berth_protocol::api::users::CreateUser;
use berth_protocol::api::volumes::{BrowseVolume, DownloadVolumePath, ReadFile};
use berth_protocol::auth::LoginRequest;
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::docker::Scope;
use berth_tests::jobs::{code, end_state};
use serde_json::json;
use tokio::io::AsyncReadExt;

const PASSWORD: &str = "the-admin-password";

/// Berth in a container of the test image: the binary under test and the host's
/// libraries mounted read-only, its data directory at `/data/state` on `volume`, the
/// Docker socket, the host's network (listening on a free loopback port).
async fn berth_in_a_container(scope: &Scope, volume: &str) -> (String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = berth_tests::server::bin();
    let socket = berth_tests::docker::engine_socket();
    let id = scope
        .container("berth")
        .cmd(&["/berth", "serve"])
        .env(&format!("BERTH_LISTEN=127.0.0.1:{port}"))
        .env("BERTH_DATA_DIR=/data/state")
        .env(&format!("BERTH_ADMIN_PASSWORD={PASSWORD}"))
        .env("DOCKER_HOST=unix:///var/run/docker.sock")
        .bind(&format!("{}:/berth:ro", bin.display()))
        .bind("/usr:/usr:ro")
        .bind("/lib:/lib:ro")
        .bind("/lib64:/lib64:ro")
        .bind(&format!("{}:/var/run/docker.sock", socket.display()))
        .bind(&format!("{volume}:/data"))
        .network("host")
        .create()
        .await;
    scope.docker.start_container(&id, None).await.unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ready = reqwest::get(format!("{url}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Berth in its container never got ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (url, id)
}

async fn login(url: &str, user: &str, password: &str) -> Client {
    let (token, _) = berth_client::http::login(
        url,
        &LoginRequest {
            username: user.into(),
            password: password.into(),
            totp: None,
        },
    )
    .await
    .unwrap();
    Client::connect(url, &token).await.unwrap()
}

async fn user(url: &str, admin: &Client, name: &str, role: Role) -> Client {
    let password = format!("password-of-{name}");
    admin
        .call::<UsersCreate>(CreateUser {
            name: name.into(),
            role,
            password: password.clone(),
        })
        .await
        .unwrap();
    login(url, name, &password).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berths_own_container_and_data_are_closed_to_all_but_admins_and_its_key_to_all() {
    let scope = Scope::new().await;
    let volume = scope.name("berth-data");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (url, me) = berth_in_a_container(&scope, &volume).await;
    let admin = login(&url, "admin", PASSWORD).await;
    let op = user(&url, &admin, "otto", Role::Operator).await;
    let viewer = user(&url, &admin, "vera", Role::Viewer).await;

    // Logs: a viewer's (and an operator's) channel is refused; an admin reads them.
    for who in [&viewer, &op] {
        let mut logs = who
            .open_binary("container.logs", json!({"id": me}), None)
            .await
            .unwrap();
        let mut out = Vec::new();
        logs.read_to_end(&mut out).await.unwrap();
        assert!(out.is_empty());
        assert_eq!(
            logs.close_error().map(|e| e.code),
            Some(ErrorCode::Forbidden)
        );
    }
    let mut logs = admin
        .open_binary("container.logs", json!({"id": me}), None)
        .await
        .unwrap();
    let mut first = [0u8; 64];
    assert!(
        logs.read(&mut first).await.unwrap() > 0,
        "an admin reads them"
    );
    drop(logs);

    // A shell in Berth's container would read the key: not an operator's.
    let mut sh = op
        .open_binary(
            "exec",
            json!({"container": me, "cmd": ["cat", "/data/state/secret.key"]}),
            None,
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    sh.read_to_end(&mut out).await.unwrap();
    assert!(out.is_empty(), "nothing of the key");
    assert_eq!(sh.close_error().map(|e| e.code), Some(ErrorCode::Forbidden));

    // Its environment holds the first admin's password.
    let seen = op
        .call::<ContainerInspect>(ContainerRef {
            host: None,
            id: me.clone(),
        })
        .await
        .unwrap();
    assert!(seen.redacted && !seen.inspect.to_string().contains(PASSWORD));

    // The data volume: closed to operators.
    let browse = |path: &str| BrowseVolume {
        host: None,
        name: volume.clone(),
        path: path.into(),
    };
    let r = op.call::<VolumeBrowse>(browse("/")).await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{r:?}");
    // Nor mounted into a new container, where a shell would read the key.
    let mount = op
        .call_raw(
            "container.create",
            json!({"image": "berth-test/busybox:1", "mounts": [{"source": volume, "target": "/steal"}]}),
        )
        .await;
    assert_eq!(
        mount.as_ref().err().and_then(|e| e.body()).map(|b| b.code),
        Some(ErrorCode::Forbidden),
        "{mount:?}"
    );
    let read = |path: &str| ReadFile {
        host: None,
        name: volume.clone(),
        path: path.into(),
        offset: 0,
        limit: None,
    };
    let r = op.call::<VolumeReadFile>(read("/state/secret.key")).await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden));
    // An admin may look, but the key is served to no one: not as a file, not through
    // a link to it, not inside a directory's tar.
    let listing = admin.call::<VolumeBrowse>(browse("/state")).await.unwrap();
    assert!(listing.entries.iter().any(|e| e.name == "secret.key"));
    let r = admin
        .call::<VolumeReadFile>(read("/state/secret.key"))
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{r:?}");
    for path in ["/", "/state"] {
        let r = admin
            .call::<VolumeDownloadTicket>(DownloadVolumePath {
                host: None,
                name: volume.clone(),
                path: path.into(),
            })
            .await;
        assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{path}: {r:?}");
    }
    admin
        .call::<VolumeDownloadTicket>(DownloadVolumePath {
            host: None,
            name: volume.clone(),
            path: "/state/berth.redb".into(),
        })
        .await
        .expect("other files are an admin's to read");

    // Nor does a backup carry it off — of the volume, or of Berth's container.
    for target in [
        BackupTarget::Volume {
            name: volume.clone(),
        },
        BackupTarget::Container {
            name: scope.name("berth"),
        },
    ] {
        let q = admin
            .call::<BackupsCreate>(CreateBackup {
                targets: vec![target],
                consistency: Some(berth_protocol::api::backups::Consistency::Hot),
                ..Default::default()
            })
            .await
            .unwrap();
        let (state, message) = end_state(&admin, &q.jobs[0]).await;
        assert_eq!(state, JobState::Failed, "{message}");
        assert!(message.contains("installation key"), "{message}");
    }
}
