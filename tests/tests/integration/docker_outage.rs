//! A Docker daemon that goes away and comes back: methods answer `unavailable`, open
//! streams end with `unavailable`, `events` subscribers hear `host disconnected` then
//! `host connected`, `/readyz` says not ready — and everything recovers by itself.
//! The outage is a socket proxy between Berth and the engine that the test takes away.

use std::time::Duration;

use berth_client::ClientError;
use berth_protocol::api::catalogue::{ContainersList, Events, HostsList};
use berth_protocol::api::events::{Event, EventFilters, EventsParams};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::error::ErrorCode;
use berth_tests::docker::{Scope, SocketProxy};
use berth_tests::ws;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

const WAIT: Duration = Duration::from_secs(30);

fn code(r: &Result<impl std::fmt::Debug, ClientError>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(|e| e.body()).map(|b| b.code)
}

async fn host_event(events: &mut berth_client::Subscription<Event>, action: &str) {
    tokio::time::timeout(WAIT, async {
        loop {
            let e = events.next().await.expect("events open").expect("event");
            if e.typ == "host" && e.action == action {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no `host {action}` event in time"));
}

// Multi-threaded: the socket proxy runs on this runtime, and starting Berth blocks a
// thread while it waits for the "listening" line — on one thread the proxy would not
// answer Berth's first ping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_outage_is_reported_and_recovered_from_without_a_restart() {
    let scope = Scope::new().await;
    let id = scope
        .create_container(
            "outage",
            &[
                "sh",
                "-c",
                "trap 'exit 0' TERM; while true; do echo tick; sleep 0.2; done",
            ],
        )
        .await;
    scope.docker.start_container(&id, None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = SocketProxy::start(&dir.path().join("docker.sock"));
    let docker_host = proxy.docker_host();
    let (_tmp, berth) = ws::start_with(|cmd| {
        cmd.env("DOCKER_HOST", &docker_host);
    })
    .await;
    let admin = ws::admin(&berth).await;
    let before = admin
        .call::<ContainersList>(HostOnly::default())
        .await
        .unwrap();
    assert!(
        before
            .groups
            .iter()
            .flat_map(|g| &g.containers)
            .any(|c| c.id == id)
    );
    let mut events = admin
        .open::<Events>(EventsParams {
            host: None,
            since: None,
            filters: EventFilters {
                types: vec!["host".into()],
                containers: vec![],
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    let mut logs = admin
        .open_binary(
            "container.logs",
            serde_json::json!({"id": id, "follow": true, "tail": 1}),
            None,
        )
        .await
        .unwrap();
    let mut b = [0u8; 64];
    let n = tokio::time::timeout(WAIT, logs.read(&mut b))
        .await
        .unwrap()
        .unwrap();
    assert!(n > 0, "the log streams before the outage");

    // The daemon goes away.
    proxy.stop().await;
    host_event(&mut events, "disconnected").await;
    let r = admin.call::<ContainersList>(HostOnly::default()).await;
    assert_eq!(code(&r), Some(ErrorCode::Unavailable), "{r:?}");
    assert!(
        r.unwrap_err().body().unwrap().retryable,
        "unavailable is retryable"
    );
    let (status, readiness) = berth.readiness().await;
    assert_eq!(status, 503);
    let docker = readiness
        .checks
        .iter()
        .find(|c| c.name == "docker")
        .unwrap();
    assert!(!docker.ok, "{docker:?}");
    let hosts = admin
        .call::<HostsList>(berth_protocol::api::Empty {})
        .await
        .unwrap();
    assert!(!hosts.hosts[0].healthy, "{hosts:?}");
    // The open log stream ends, saying why.
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match logs.read(&mut b).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the log channel closes when the daemon goes");
    assert_eq!(
        logs.close_error().map(|e| e.code),
        Some(ErrorCode::Unavailable),
        "{:?}",
        logs.close_error()
    );

    // It comes back: Berth notices by itself.
    let proxy = SocketProxy::start(&dir.path().join("docker.sock"));
    host_event(&mut events, "connected").await;
    berth.wait_ready().await;
    let after = admin
        .call::<ContainersList>(HostOnly::default())
        .await
        .unwrap();
    assert!(
        after
            .groups
            .iter()
            .flat_map(|g| &g.containers)
            .any(|c| c.id == id)
    );
    let hosts = admin
        .call::<HostsList>(berth_protocol::api::Empty {})
        .await
        .unwrap();
    assert!(hosts.hosts[0].healthy, "{hosts:?}");
    drop(proxy);
}
