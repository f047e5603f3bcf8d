//! The container image (`cargo xtask image`, which `cargo xtask test` runs first) against
//! the real engine, as a user runs it: the Docker socket and a data volume mounted,
//! the first password from the environment. It becomes ready, takes a login, lists
//! containers, backs a volume up into `/data` and restores it, reports healthy through
//! its own `berth healthcheck`, and stops on SIGTERM with exit code 0 within 5 s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use berth_client::Client;
use berth_protocol::api::backups::{BackupQuery, BackupTarget, RestoreBackup};
use berth_protocol::api::catalogue::{BackupsList, BackupsRestore, ContainersList};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::jobs::JobState;
use berth_protocol::auth::LoginRequest;
use berth_tests::docker::Scope;
use berth_tests::jobs::{back_up, end_state};
use berth_tests::ws::ADMIN_PASSWORD;
use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptionsBuilder, StopContainerOptionsBuilder};

/// The image under test: `BERTH_IMAGE`, else what `cargo xtask image --debug` tags.
fn image() -> String {
    std::env::var("BERTH_IMAGE").unwrap_or_else(|_| "berth:test".to_owned())
}

/// Berth's container: socket and data volume mounted, published on a free port,
/// health checked every second (the image's own check, only more often).
async fn run_berth(scope: &Scope, data: &str, port: u16) -> String {
    let name = scope.name("berth-image");
    let body = ContainerCreateBody {
        image: Some(image()),
        env: Some(vec![format!("BERTH_ADMIN_PASSWORD={ADMIN_PASSWORD}")]),
        labels: Some(scope.labels()),
        healthcheck: Some(HealthConfig {
            interval: Some(1_000_000_000),
            timeout: Some(5_000_000_000),
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            binds: Some(vec![
                "/var/run/docker.sock:/var/run/docker.sock".to_owned(),
                format!("{data}:/data"),
            ]),
            port_bindings: Some(
                [(
                    "8080/tcp".to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(port.to_string()),
                    }]),
                )]
                .into(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = scope
        .docker
        .create_container(Some(options), body)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create from {} (run `cargo xtask image --debug`): {e}",
                image()
            )
        });
    scope
        .docker
        .start_container(&created.id, None)
        .await
        .unwrap();
    created.id
}

/// Polls until Docker's health check of `id` says `healthy` (bounded).
async fn healthy(scope: &Scope, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let inspect = scope.docker.inspect_container(id, None).await.unwrap();
        let health = inspect.state.and_then(|s| s.health);
        let status = health
            .as_ref()
            .and_then(|h| h.status)
            .map(|s| s.to_string());
        if status.as_deref() == Some("healthy") {
            return;
        }
        assert!(Instant::now() < deadline, "not healthy: {health:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn login(url: &str) -> Client {
    let request = LoginRequest {
        username: "admin".into(),
        password: ADMIN_PASSWORD.into(),
        totp: None,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let token = loop {
        match berth_client::http::login(url, &request).await {
            Ok((token, _)) => break token,
            Err(e) => {
                assert!(Instant::now() < deadline, "no login at {url}: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    Client::connect(url, &token).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_backs_up_restores_reports_healthy_and_stops_cleanly() {
    let scope = Scope::new().await;
    let data = scope.create_volume("image-data").await;
    let volume = scope.create_volume("image-app").await;
    scope
        .container("fill")
        .volume(&volume, "/data")
        .sh("echo kept > /data/file")
        .run()
        .await;
    let port = berth_tests::s3::free_port();
    let id = run_berth(&scope, &data, port).await;
    let url = format!("http://127.0.0.1:{port}");
    let admin = login(&url).await;

    let listed = admin
        .call::<ContainersList>(HostOnly::default())
        .await
        .unwrap();
    assert!(
        format!("{listed:?}").contains(&scope.name("berth-image")),
        "Berth sees its own container"
    );
    back_up(
        &admin,
        BackupTarget::Volume {
            name: volume.clone(),
        },
        None,
    )
    .await;
    let backup = admin
        .call::<BackupsList>(BackupQuery::default())
        .await
        .unwrap()
        .backups
        .remove(0);
    assert_eq!(backup.storage, "local", "kept in /data/backups");
    let copy = scope.name("image-copy");
    let queued = admin
        .call::<BackupsRestore>(RestoreBackup {
            id: backup.id.clone(),
            volumes: BTreeMap::from([(volume.clone(), copy.clone())]),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, message) = end_state(&admin, &queued.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    // Exits 0 only if the restored copy holds the file.
    scope
        .container("check")
        .volume(&copy, "/data")
        .sh("test \"$(cat /data/file)\" = kept")
        .run()
        .await;
    healthy(&scope, &id).await;

    let stopping = Instant::now();
    scope
        .docker
        .stop_container(
            &id,
            Some(StopContainerOptionsBuilder::default().t(10).build()),
        )
        .await
        .unwrap();
    let took = stopping.elapsed();
    let state = scope
        .docker
        .inspect_container(&id, None)
        .await
        .unwrap()
        .state;
    assert_eq!(
        state.and_then(|s| s.exit_code),
        Some(0),
        "SIGTERM ends it cleanly"
    );
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
}
