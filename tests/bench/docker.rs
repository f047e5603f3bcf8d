//! Docker management figures (issue 4), against the release binary and the real engine,
//! each beside a baseline measured in the same run:
//!
//! - `containers.list` with 200 containers (created by the bench) against `docker ps -a`
//!   (the CLI, as users would run it) and a bare `GET /containers/json?all=1`;
//! - Docker action → event at a protocol client, p50/p99 (goal p99 ≤ 50 ms), against
//!   the same event read straight from Docker's `/events` stream;
//! - Berth's CPU over 60 s with 50 running containers and a dashboard client connected
//!   (goal ≈ 0: nothing polls), against the same Berth before, with no client and
//!   those 50 not yet started;
//! - `container.logs` throughput of a container that printed ~7 MB, to a Rust client,
//!   against `docker logs -f` into /dev/null;
//! - terminal round trip (a keystroke to its echo through `exec` with a TTY), p50,
//!   against the same keystroke through Docker's exec attach directly.
//!
//! Run with `cargo xtask bench`. Writes `target/bench/docker.md`. Everything it creates
//! carries the test label and is removed at the end.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_client::Client;
use berth_protocol::api::catalogue::{ContainersList, Events};
use berth_protocol::api::events::EventsParams;
use berth_protocol::api::hosts::HostOnly;
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::ws;
use berth_tests::{cpu_time, ms, pct};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, ListContainersOptionsBuilder,
};
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LISTED: usize = 200;
const RUNNING: usize = 50;
const ACTIONS: usize = 100;
const KEYSTROKES: usize = 200;
const IDLE: Duration = Duration::from_secs(60);
const BASELINE_IDLE: Duration = Duration::from_secs(20);
/// Lines the chatty container prints (`seq`: ~6.9 bytes each → ~6.9 MB).
const LOG_LINES: u32 = 1_000_000;

async fn create(scope: &Scope, base: &str, cmd: &str, tty: bool) -> String {
    let image = ensure_test_image(&scope.docker).await;
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(vec!["sh".into(), "-c".into(), cmd.into()]),
        labels: Some(scope.labels()),
        tty: Some(tty),
        host_config: Some(HostConfig::default()),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default()
        .name(&scope.name(base))
        .build();
    scope
        .docker
        .create_container(Some(opts), body)
        .await
        .expect("create")
        .id
}

/// Creates `n` containers, `start`ing them when asked, a few at a time.
async fn fleet(scope: &Scope, prefix: &str, n: usize, start: bool) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let made = join_all(chunk.iter().map(|i| async move {
            let id = create(
                scope,
                &format!("{prefix}{i}"),
                "trap 'exit 0' TERM; sleep 3600 & wait",
                false,
            )
            .await;
            if start {
                scope
                    .docker
                    .start_container(&id, None)
                    .await
                    .expect("start");
            }
            id
        }))
        .await;
        ids.extend(made);
    }
    ids
}

/// `containers.list` through Berth vs `docker ps -a` and Docker's own list call.
async fn list_figures(scope: &Scope, client: &Client) -> String {
    fleet(scope, "list", LISTED, false).await;
    let mut berth = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let l = client
            .call::<ContainersList>(HostOnly::default())
            .await
            .unwrap();
        berth.push(ms(t.elapsed()));
        let n: usize = l.groups.iter().map(|g| g.containers.len()).sum();
        assert!(n >= LISTED, "listed {n}");
    }
    let mut cli = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let ok = Command::new("docker")
            .args(["ps", "-a"])
            .stdout(Stdio::null())
            .status()
            .expect("docker ps")
            .success();
        cli.push(ms(t.elapsed()));
        assert!(ok);
    }
    let mut api = Vec::new();
    let opts = ListContainersOptionsBuilder::default().all(true).build();
    for _ in 0..50 {
        let t = Instant::now();
        scope
            .docker
            .list_containers(Some(opts.clone()))
            .await
            .unwrap();
        api.push(ms(t.elapsed()));
    }
    let (b, c, a) = (pct(&mut berth, 0.5), pct(&mut cli, 0.5), pct(&mut api, 0.5));
    format!(
        "| `containers.list`, {LISTED}+ containers, p50 (ms) | {b:.1} | {c:.1} (`docker ps -a`); {a:.1} (bare `GET /containers/json`) | {:.2}× of the CLI; {:.2}× of the API | — |\n",
        b / c,
        b / a
    )
}

/// Action → event: pause/unpause a container through Docker, time until the event
/// reaches a Berth client and until it comes out of Docker's own event stream.
/// When `action` arrived on a stamped event stream.
async fn arrival(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>,
    action: &str,
) -> Instant {
    loop {
        let (a, at) = rx.recv().await.expect("the event stream runs");
        if a == action {
            return at;
        }
    }
}

async fn event_figures(scope: &Scope, client: &Client) -> String {
    let id = create(
        scope,
        "events",
        "trap 'exit 0' TERM; sleep 3600 & wait",
        false,
    )
    .await;
    scope.docker.start_container(&id, None).await.unwrap();
    // Both streams connect lazily (on their first poll), so each is drained by its own
    // task that stamps every event as it arrives; Docker's is opened with `since` so
    // nothing from before its connection is lost, and a warm-up pair is not counted.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .saturating_sub(1)
        .to_string();
    let mut raw = scope.docker.events(Some(
        EventsOptionsBuilder::default()
            .since(&since)
            .filters(&std::collections::HashMap::from([(
                "container".to_owned(),
                vec![id.clone()],
            )]))
            .build(),
    ));
    let (dtx, mut from_docker) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(e)) = raw.next().await {
            let _ = dtx.send((e.action.unwrap_or_default(), Instant::now()));
        }
    });
    let mut events = client
        .open::<Events>(EventsParams::default())
        .await
        .unwrap();
    let (btx, mut from_berth) = tokio::sync::mpsc::unbounded_channel();
    let watched = id.clone();
    tokio::spawn(async move {
        while let Some(Ok(e)) = events.next().await {
            if e.id == watched {
                let _ = btx.send((e.action, Instant::now()));
            }
        }
    });
    let docker = scope.docker.clone();
    let (mut via_berth, mut via_docker) = (Vec::new(), Vec::new());
    for i in 0..ACTIONS + 2 {
        let action = if i % 2 == 0 { "pause" } else { "unpause" };
        let t = Instant::now();
        if i % 2 == 0 {
            docker.pause_container(&id).await.unwrap();
        } else {
            docker.unpause_container(&id).await.unwrap();
        }
        let d = arrival(&mut from_docker, action).await;
        let b = arrival(&mut from_berth, action).await;
        if i >= 2 {
            via_docker.push(ms(d.saturating_duration_since(t)));
            via_berth.push(ms(b.saturating_duration_since(t)));
        }
    }
    let (b50, b99) = (pct(&mut via_berth, 0.5), pct(&mut via_berth, 0.99));
    let (d50, d99) = (pct(&mut via_docker, 0.5), pct(&mut via_docker, 0.99));
    format!(
        "| Docker action → event at the client, p50 / p99 (ms), {ACTIONS} pause/unpause | {b50:.1} / {b99:.1} | {d50:.1} / {d99:.1} (Docker's `/events`, same actions) | p99 {:.2}× | p99 ≤ 50 ms |\n",
        b99 / d99.max(0.001)
    )
}

/// CPU of an idle Berth: first alone, then with 50 running containers and a client
/// holding what the dashboard holds (host stats, events, the container list).
async fn idle_figures(scope: &Scope) -> String {
    let (_tmp, berth) = ws::start().await;
    let pid = berth.process.pid();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c0 = cpu_time(pid);
    tokio::time::sleep(BASELINE_IDLE).await;
    let base = (cpu_time(pid) - c0).as_secs_f64() / BASELINE_IDLE.as_secs_f64() * 100.0;

    fleet(scope, "idle", RUNNING, true).await;
    let client = ws::admin(&berth).await;
    let _list = client
        .call::<ContainersList>(HostOnly::default())
        .await
        .unwrap();
    let _events = client
        .open::<Events>(EventsParams::default())
        .await
        .unwrap();
    let _stats = client
        .open_raw("system.stats", json!({}), None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c0 = cpu_time(pid);
    tokio::time::sleep(IDLE).await;
    let busy = (cpu_time(pid) - c0).as_secs_f64() / IDLE.as_secs_f64() * 100.0;
    format!(
        "| Berth CPU, {RUNNING} running containers + a dashboard client, {} s (% of a core) | {busy:.2} | {base:.2} (no client, the 50 not started, {} s) | +{:.2} points | ≈ 0 |\n",
        IDLE.as_secs(),
        BASELINE_IDLE.as_secs(),
        busy - base
    )
}

/// A container that printed a few MB: read its whole log through Berth and through
/// `docker logs -f`.
async fn log_figures(scope: &Scope, client: &Client) -> String {
    let id = create(scope, "logs", &format!("busybox seq 1 {LOG_LINES}"), false).await;
    scope.docker.start_container(&id, None).await.unwrap();
    let mut wait = scope.docker.wait_container(&id, None);
    while wait.next().await.is_some() {}

    let t = Instant::now();
    let mut ch = client
        .open_binary(
            "container.logs",
            json!({"id": id, "follow": true}),
            Some(4 << 20),
        )
        .await
        .unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = ch.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let berth = total as f64 / t.elapsed().as_secs_f64() / 1e6;

    let t = Instant::now();
    let out = Command::new("docker")
        .args(["logs", "-f", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .expect("docker logs");
    let cli = out.stdout.len() as f64 / t.elapsed().as_secs_f64() / 1e6;
    assert_eq!(
        total,
        out.stdout.len() as u64,
        "Berth delivers the whole log"
    );
    format!(
        "| `container.logs` of a finished container, {:.1} MB (MB/s) | {berth:.2} | {cli:.2} (`docker logs -f`) | {:.0} % | — |\n",
        total as f64 / 1e6,
        berth / cli * 100.0
    )
}

/// Keystroke → echo through a TTY: via Berth's `exec` channel and via Docker directly.
async fn terminal_figures(scope: &Scope, client: &Client) -> String {
    let id = create(scope, "tty", "trap 'exit 0' TERM; sleep 3600 & wait", false).await;
    scope.docker.start_container(&id, None).await.unwrap();

    let mut tty = client
        .open_binary(
            "exec",
            json!({"container": id, "cmd": ["cat"], "tty": true, "cols": 80, "rows": 24}),
            None,
        )
        .await
        .unwrap();
    let mut via_berth = Vec::new();
    let mut buf = [0u8; 256];
    for i in 0..KEYSTROKES {
        let key = b'a' + (i % 26) as u8;
        let t = Instant::now();
        tty.write_all(&[key]).await.unwrap();
        tty.flush().await.unwrap();
        loop {
            let n = tty.read(&mut buf).await.unwrap();
            assert!(n > 0, "terminal ended");
            if buf[..n].contains(&key) {
                break;
            }
        }
        via_berth.push(ms(t.elapsed()));
    }
    drop(tty);

    let docker: &Docker = &scope.docker;
    let exec = docker
        .create_exec(
            &id,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(true),
                cmd: Some(vec!["cat".to_owned()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = docker
        .start_exec(&exec.id, Some(StartExecOptions::default()))
        .await
        .unwrap()
    else {
        panic!("detached");
    };
    let mut direct = Vec::new();
    for i in 0..KEYSTROKES {
        let key = b'a' + (i % 26) as u8;
        let t = Instant::now();
        input.write_all(&[key]).await.unwrap();
        input.flush().await.unwrap();
        loop {
            let out = output.next().await.unwrap().unwrap().into_bytes();
            if out.contains(&key) {
                break;
            }
        }
        direct.push(ms(t.elapsed()));
    }
    let (b, d) = (pct(&mut via_berth, 0.5), pct(&mut direct, 0.5));
    let (b99, d99) = (pct(&mut via_berth, 0.99), pct(&mut direct, 0.99));
    format!(
        "| terminal keystroke → echo, p50 / p99 (ms), {KEYSTROKES} keys | {b:.2} / {b99:.2} | {d:.2} / {d99:.2} (Docker exec attach directly) | p50 +{:.2} ms | — |\n",
        b - d
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let md = rt.block_on(async {
        let scope = Scope::new().await;
        let (_tmp, berth) = ws::start().await;
        let client = ws::admin(&berth).await;
        let mut md =
            String::from("| figure | Berth | baseline | ratio | goal |\n|---|---|---|---|---|\n");
        md += &event_figures(&scope, &client).await;
        md += &terminal_figures(&scope, &client).await;
        md += &log_figures(&scope, &client).await;
        md += &list_figures(&scope, &client).await;
        drop(client);
        drop(berth);
        // Idle last, on a fresh Berth: the containers above stay as they are.
        md += &idle_figures(&scope).await;
        md
    });
    print!("{md}");
    berth_tests::write_bench_report("docker", &md);
}
