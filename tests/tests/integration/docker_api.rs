//! Docker management over the protocol against the real engine: every container action,
//! live events, logs, exec terminals, volumes (browse, read, confinement), networks,
//! images — with the role rules (viewers read redacted, never mutate or exec).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use berth_client::{Client, ClientError};
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    ContainerInspect, ContainerKill, ContainerPause, ContainerRedeploy, ContainerRemove,
    ContainerRename, ContainerRestart, ContainerStart, ContainerStats, ContainerStop,
    ContainerUnpause, ContainersBulk, ContainersList, Events, HostsList, ImagesList, ImagesRemove,
    ImagesTag, NetworkInspect, NetworkRemove, NetworksCreate, NetworksList, SystemDf, VolumeBrowse,
    VolumeDownloadTicket, VolumeReadFile, VolumesCreate, VolumesInspect, VolumesList,
    VolumesRemove,
};
use berth_protocol::api::containers::{
    BulkAction, BulkVerb, ContainerRef, KillContainer, RemoveContainer, RenameContainer,
    StopContainer,
};
use berth_protocol::api::events::{Event, EventFilters, EventsParams};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::images::{RemoveImage, TagImage};
use berth_protocol::api::networks::{CreateNetwork, NetworkRef};
use berth_protocol::api::streams::StatsParams;
use berth_protocol::api::system::DfParams;
use berth_protocol::api::transfers::Ticket;
use berth_protocol::api::volumes::{
    BrowseVolume, CreateVolume, DownloadVolumePath, ReadFile, RemoveVolume, VolumeRef,
};
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::docker::{ContainerBuilder, Scope, ensure_test_image};
use berth_tests::ws;
use bollard::models::NetworkCreateRequest;
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(30);

fn code(r: &Result<impl std::fmt::Debug, ClientError>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(|e| e.body()).map(|b| b.code)
}

fn r(id: &str) -> ContainerRef {
    ContainerRef {
        host: None,
        id: id.to_owned(),
    }
}

/// A container of the test image running `script`, with a secret in its environment
/// (which viewers must see redacted).
fn container<'a>(scope: &'a Scope, base: &str, script: &str) -> ContainerBuilder<'a> {
    scope.container(base).sh(script).env("SECRET_TOKEN=hunter2")
}

/// Waits for the next event matching `pred`.
async fn next_event(
    events: &mut berth_client::Subscription<Event>,
    pred: impl Fn(&Event) -> bool,
) -> Event {
    tokio::time::timeout(WAIT, async {
        loop {
            let e = events.next().await.expect("events open").expect("event");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("event in time")
}

/// Reads a terminal until its output contains `want`.
async fn read_until(
    tty: &mut berth_client::BinaryChannel,
    term: &mut String,
    want: &str,
) -> Result<(), tokio::time::error::Elapsed> {
    tokio::time::timeout(WAIT, async {
        let mut b = [0u8; 1024];
        while !term.contains(want) {
            let n = tty.read(&mut b).await.unwrap();
            assert!(n > 0, "terminal ended before {want:?}: {term:?}");
            term.push_str(&String::from_utf8_lossy(&b[..n]));
        }
    })
    .await
}

async fn state(c: &Client, id: &str) -> String {
    let i = c.call::<ContainerInspect>(r(id)).await.unwrap();
    i.inspect["State"]["Status"].as_str().unwrap().to_owned()
}

const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.2; done";

#[tokio::test]
async fn container_lifecycle_events_bulk_redeploy_and_roles() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;

    let hosts = viewer.call::<HostsList>(Empty {}).await.unwrap();
    assert_eq!(hosts.hosts.len(), 1);
    assert!(hosts.hosts[0].healthy, "{:?}", hosts.hosts[0]);
    assert_eq!(hosts.hosts[0].api_version.as_deref(), Some("1.41"));

    let id = container(&scope, "web", LOOP)
        .label("com.docker.compose.project", &format!("proj-{}", scope.run))
        .label("com.docker.compose.service", "web")
        .create()
        .await;
    let solo = container(&scope, "solo", LOOP).create().await;

    let mut events = viewer
        .open::<Events>(EventsParams {
            host: None,
            since: None,
            filters: EventFilters {
                types: vec!["container".into()],
                containers: vec![id.clone()],
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();

    // Viewers read but never act, and see env values redacted.
    assert_eq!(
        code(&viewer.call::<ContainerStart>(r(&id)).await),
        Some(ErrorCode::Forbidden)
    );
    let vi = viewer.call::<ContainerInspect>(r(&id)).await.unwrap();
    assert!(vi.redacted);
    assert_eq!(vi.inspect["Config"]["Env"][0], "SECRET_TOKEN=<redacted>");
    let oi = op.call::<ContainerInspect>(r(&id)).await.unwrap();
    assert!(!oi.redacted);
    assert!(oi.inspect["Config"]["Env"].to_string().contains("hunter2"));

    // start → running, with the event pushed to the viewer's channel.
    let s = op.call::<ContainerStart>(r(&id)).await.unwrap();
    assert_eq!(s.state, "running");
    let e = next_event(&mut events, |e| e.action == "start").await;
    assert_eq!(
        (e.id.as_str(), e.state.as_deref()),
        (id.as_str(), Some("running"))
    );
    assert_eq!(
        e.stack.as_deref(),
        Some(format!("proj-{}", scope.run).as_str())
    );
    assert!(!e.cursor.is_empty());

    // Grouped list: the compose project is its own group, running.
    let list = viewer
        .call::<ContainersList>(HostOnly::default())
        .await
        .unwrap();
    let group = list
        .groups
        .iter()
        .find(|g| g.stack.as_deref() == Some(&format!("proj-{}", scope.run)))
        .expect("project group");
    assert_eq!(group.containers.len(), 1);
    assert_eq!(group.containers[0].service.as_deref(), Some("web"));
    assert_eq!(serde_json::to_value(group.status).unwrap(), "running");
    let standalone = list
        .groups
        .iter()
        .find(|g| g.stack.is_none())
        .expect("standalone");
    let s = standalone
        .containers
        .iter()
        .find(|c| c.id == solo)
        .expect("solo listed");
    assert_eq!(s.state, "created");

    // pause / unpause / restart / stop / kill, each with its event.
    assert_eq!(
        op.call::<ContainerPause>(r(&id)).await.unwrap().state,
        "paused"
    );
    next_event(&mut events, |e| {
        e.action == "pause" && e.state.as_deref() == Some("paused")
    })
    .await;
    assert_eq!(
        op.call::<ContainerUnpause>(r(&id)).await.unwrap().state,
        "running"
    );
    next_event(&mut events, |e| e.action == "unpause").await;
    let restart = StopContainer {
        host: None,
        id: id.clone(),
        timeout_s: Some(5),
    };
    assert_eq!(
        op.call::<ContainerRestart>(restart).await.unwrap().state,
        "running"
    );
    next_event(&mut events, |e| e.action == "restart").await;
    let stop = StopContainer {
        host: None,
        id: id.clone(),
        timeout_s: Some(5),
    };
    assert_eq!(
        op.call::<ContainerStop>(stop).await.unwrap().state,
        "exited"
    );
    let die = next_event(&mut events, |e| e.action == "die").await;
    assert_eq!(die.exit_code, Some(0), "TERM trap exits 0");
    op.call::<ContainerStart>(r(&id)).await.unwrap();
    let kill = KillContainer {
        host: None,
        id: id.clone(),
        signal: Some("SIGKILL".into()),
    };
    assert_eq!(
        op.call::<ContainerKill>(kill).await.unwrap().state,
        "exited"
    );
    let die = next_event(&mut events, |e| e.action == "die").await;
    assert_eq!(die.exit_code, Some(137));
    let bad = KillContainer {
        host: None,
        id: id.clone(),
        signal: Some("KILL; rm".into()),
    };
    assert_eq!(
        code(&op.call::<ContainerKill>(bad).await),
        Some(ErrorCode::BadRequest)
    );

    // Clear errors: unknown container, running container removal, bad names.
    let nf = op.call::<ContainerStart>(r("no-such-container-xyz")).await;
    assert_eq!(code(&nf), Some(ErrorCode::NotFound));
    assert!(
        nf.unwrap_err()
            .to_string()
            .contains("no-such-container-xyz")
    );
    assert_eq!(
        code(&op.call::<ContainerStart>(r("../images/x")).await),
        Some(ErrorCode::BadRequest)
    );

    // rename
    let new_name = scope.name("renamed");
    let rn = RenameContainer {
        host: None,
        id: id.clone(),
        name: new_name.clone(),
    };
    op.call::<ContainerRename>(rn).await.unwrap();
    next_event(&mut events, |e| {
        e.action == "rename" && e.name.as_deref() == Some(new_name.as_str())
    })
    .await;
    let taken = RenameContainer {
        host: None,
        id: solo.clone(),
        name: new_name.clone(),
    };
    assert_eq!(
        code(&op.call::<ContainerRename>(taken).await),
        Some(ErrorCode::Conflict)
    );

    // bulk: start both plus a missing one; per-id results in order.
    let bulk = BulkAction {
        host: None,
        action: BulkVerb::Start,
        ids: vec![id.clone(), "missing-xyz".into(), solo.clone()],
        timeout_s: None,
        force: false,
    };
    let res = op.call::<ContainersBulk>(bulk).await.unwrap();
    let oks: Vec<bool> = res.results.iter().map(|x| x.ok).collect();
    assert_eq!(oks, vec![true, false, true]);
    assert_eq!(
        res.results[1].error.as_ref().unwrap().code,
        ErrorCode::NotFound
    );
    assert_eq!(state(&op, &solo).await, "running");
    let bulk_rm = BulkAction {
        host: None,
        action: BulkVerb::Remove,
        ids: vec![solo.clone()],
        timeout_s: None,
        force: true,
    };
    assert_eq!(
        code(&op.call::<ContainersBulk>(bulk_rm.clone()).await),
        Some(ErrorCode::Forbidden)
    );

    // redeploy: same name and configuration, a new container, still running; offline, the
    // local image is reused and the pull failure reported.
    let rd = op.call::<ContainerRedeploy>(r(&id)).await.unwrap();
    assert_ne!(rd.id, id);
    assert_eq!(rd.state, "running");
    assert!(!rd.pulled && rd.pull_error.is_some(), "{rd:?}");
    let ni = op.call::<ContainerInspect>(r(&rd.id)).await.unwrap();
    assert_eq!(ni.inspect["Name"], format!("/{new_name}"));
    assert!(
        ni.inspect["Config"]["Env"]
            .to_string()
            .contains("SECRET_TOKEN=hunter2")
    );
    assert_eq!(
        ni.inspect["Config"]["Labels"]["com.docker.compose.service"],
        "web"
    );
    assert_eq!(
        code(&op.call::<ContainerInspect>(r(&id)).await),
        Some(ErrorCode::NotFound),
        "old one removed"
    );

    // remove: admin only; a running container needs force.
    let rm = RemoveContainer {
        host: None,
        id: solo.clone(),
        force: false,
        volumes: false,
    };
    assert_eq!(
        code(&op.call::<ContainerRemove>(rm.clone()).await),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(
        code(&admin.call::<ContainerRemove>(rm).await),
        Some(ErrorCode::Conflict)
    );
    let res = admin.call::<ContainersBulk>(bulk_rm).await.unwrap();
    assert!(res.results[0].ok, "{res:?}");
    assert_eq!(
        code(&op.call::<ContainerInspect>(r(&solo)).await),
        Some(ErrorCode::NotFound)
    );

    // A cursor reopens the stream after the last event seen: the log replays.
    let cursor = e.cursor.clone();
    let mut again = viewer
        .open::<Events>(EventsParams {
            host: None,
            since: Some(cursor),
            filters: EventFilters {
                types: vec!["container".into()],
                containers: vec![id.clone()],
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    let replayed = next_event(&mut again, |_| true).await;
    assert_eq!(
        replayed.action, "pause",
        "the first event after `start` comes first"
    );
    // A cursor from nowhere closes with overflow and a cursor to resume from.
    let mut stale = viewer
        .open::<Events>(EventsParams {
            host: None,
            since: Some("feedface.1".into()),
            filters: EventFilters::default(),
            ..Default::default()
        })
        .await
        .unwrap();
    let end = tokio::time::timeout(WAIT, stale.next()).await.unwrap();
    assert!(matches!(end, Some(Err(_)) | None), "{end:?}");
    assert!(
        stale
            .close_payload()
            .and_then(|p| p.get("cursor"))
            .is_some(),
        "{:?}",
        stale.close_payload()
    );
}

#[tokio::test]
async fn logs_and_exec_stream_binary_frames_both_ways() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;
    let id = container(&scope, "chatty", "echo line-one; echo to-stderr >&2; while true; do if [ -f /tmp/go ]; then echo line-three; rm /tmp/go; fi; sleep 0.1; done")
        .create()
        .await;
    scope.docker.start_container(&id, None).await.unwrap();

    // Logs: stdout and stderr as separate streams, then follow sees a new line.
    let mut logs = viewer
        .open_binary(
            "container.logs",
            json!({"id": id, "follow": true}),
            Some(65536),
        )
        .await
        .unwrap();
    let mut seen = String::new();
    let mut streams = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        while !(seen.contains("line-one") && seen.contains("to-stderr")) {
            let n = logs.read(&mut buf).await.unwrap();
            assert!(n > 0, "logs ended early");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            streams.push((
                logs.last_stream(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
    })
    .await
    .expect("log lines");
    for (stream, text) in &streams {
        if text.contains("to-stderr") {
            assert_eq!(*stream, Some(berth_protocol::frame::Stream::Stderr));
        }
        if text.contains("line-one") {
            assert_eq!(*stream, Some(berth_protocol::frame::Stream::Stdout));
        }
    }

    // A viewer can never open a terminal.
    let denied = viewer
        .open_binary("exec", json!({"container": id, "cmd": ["sh"]}), None)
        .await;
    assert_eq!(code(&denied), Some(ErrorCode::Forbidden));

    // exec: echo, through the operator's terminal; also makes the container log more.
    let mut sh = op
        .open_binary(
            "exec",
            json!({"container": id, "cmd": ["sh", "-c", "echo hi; touch /tmp/go"]}),
            None,
        )
        .await
        .unwrap();
    let mut out = String::new();
    sh.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "hi\n");
    assert_eq!(sh.close_payload().unwrap()["exit_code"], 0);
    tokio::time::timeout(WAIT, async {
        while !seen.contains("line-three") {
            let n = logs.read(&mut buf).await.unwrap();
            assert!(n > 0);
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await
    .expect("follow sees new output");

    // stdin through AsyncWrite, half-closed with eof; the exit code in close.
    let mut cat = op
        .open_binary(
            "exec",
            json!({"container": id, "cmd": ["sh", "-c", "cat; exit 3"]}),
            None,
        )
        .await
        .unwrap();
    cat.write_all(b"from stdin\n").await.unwrap();
    cat.shutdown().await.unwrap();
    let mut out = String::new();
    cat.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "from stdin\n");
    assert_eq!(cat.close_payload().unwrap()["exit_code"], 3);

    // A TTY with an initial size, then a resize.
    let mut tty = op
        .open_binary(
            "exec",
            json!({"container": id, "cmd": ["sh"], "tty": true, "cols": 120, "rows": 40, "env": ["PS1=$ "]}),
            None,
        )
        .await
        .unwrap();
    let mut term = String::new();
    tty.write_all(b"busybox stty size\n").await.unwrap();
    read_until(&mut tty, &mut term, "40 120")
        .await
        .expect("initial size");
    tty.resize(160, 48);
    // The resize is applied before the next input is read (one queue per channel).
    tty.write_all(b"busybox stty size\n").await.unwrap();
    read_until(&mut tty, &mut term, "48 160")
        .await
        .expect("resized");
    tty.write_all(b"exit 5\n").await.unwrap();
    let mut rest = Vec::new();
    tty.read_to_end(&mut rest).await.unwrap();
    assert_eq!(tty.close_payload().unwrap()["exit_code"], 5);

    // Missing container: the channel closes with not_found.
    let mut missing = op
        .open_binary("exec", json!({"container": "no-such-xyz"}), None)
        .await
        .unwrap();
    let mut sink = Vec::new();
    missing.read_to_end(&mut sink).await.unwrap();
    assert_eq!(
        missing.close_error().map(|e| e.code),
        Some(ErrorCode::NotFound)
    );
}

#[tokio::test]
async fn volumes_are_browsed_read_and_confined_and_in_use_removal_is_refused() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;
    let vol = scope.name("data");
    scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(vol.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    let writer = container(
        &scope,
        "writer",
        "echo hello > /data/a.txt && mkdir /data/d && printf '\\000\\001\\002' > /data/d/bin && busybox ln -s /etc /data/esc && busybox ln -s d /data/inside && echo x > /data/d/y.txt && busybox seq 1 60000 > /data/d/big.txt",
    )
    .volume(&vol, "/data")
    .create()
    .await;
    scope.docker.start_container(&writer, None).await.unwrap();
    scope.wait_success(&writer).await;

    // Sizes are the engine's measurement (`seq 1 60000` alone is 348,894 bytes), and
    // the list carries the last one.
    let df = viewer.call::<SystemDf>(DfParams::default()).await.unwrap();
    let size = df.volume_sizes.get(&vol).copied();
    assert!(size.is_some_and(|s| s >= 348_894), "{df:?}");
    assert!(
        df.volumes.size >= 348_894 && df.volumes_measured.is_some(),
        "{df:?}"
    );
    let list = viewer
        .call::<VolumesList>(HostOnly::default())
        .await
        .unwrap();
    let v = list.volumes.iter().find(|v| v.name == vol).expect("listed");
    assert_eq!(v.used_by, vec![scope.name("writer")]);
    assert_eq!(v.size, size);
    let vi = viewer
        .call::<VolumesInspect>(VolumeRef {
            host: None,
            name: vol.clone(),
        })
        .await
        .unwrap();
    assert_eq!(vi.inspect["Name"], vol.as_str());

    let browse = |path: &str| BrowseVolume {
        host: None,
        name: vol.clone(),
        path: path.into(),
    };
    assert_eq!(
        code(&viewer.call::<VolumeBrowse>(browse("/")).await),
        Some(ErrorCode::Forbidden)
    );
    let root = op.call::<VolumeBrowse>(browse("/")).await.unwrap();
    let names: Vec<(&str, &str)> = root
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("d", "dir"),
            ("a.txt", "file"),
            ("esc", "symlink"),
            ("inside", "symlink")
        ]
    );
    let a = root.entries.iter().find(|e| e.name == "a.txt").unwrap();
    assert_eq!(a.size, 6);
    let d = op.call::<VolumeBrowse>(browse("/d/../d/")).await.unwrap();
    assert_eq!(d.path, "/d");
    assert_eq!(d.entries.len(), 3);
    // A link that stays inside is followed; one that leaves is refused, as is `..`.
    let inside = op.call::<VolumeBrowse>(browse("inside")).await.unwrap();
    assert_eq!(inside.path, "/d");
    for escape in ["../", "/../../etc", "esc", "esc/passwd"] {
        let r = op.call::<VolumeBrowse>(browse(escape)).await;
        assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{escape}: {r:?}");
    }
    let read = |path: &str, offset: u64, limit: Option<u64>| ReadFile {
        host: None,
        name: vol.clone(),
        path: path.into(),
        offset,
        limit,
    };
    let f = op
        .call::<VolumeReadFile>(read("a.txt", 0, None))
        .await
        .unwrap();
    assert_eq!(
        (f.encoding.as_str(), f.data.as_str(), f.size, f.more),
        ("text", "hello\n", 6, false)
    );
    let part = op
        .call::<VolumeReadFile>(read("/a.txt", 1, Some(3)))
        .await
        .unwrap();
    assert_eq!((part.data.as_str(), part.more), ("ell", true));
    let bin = op
        .call::<VolumeReadFile>(read("d/bin", 0, None))
        .await
        .unwrap();
    assert_eq!(
        (bin.encoding.as_str(), bin.data.as_str()),
        ("base64", "AAEC")
    );
    assert_eq!(
        code(&op.call::<VolumeReadFile>(read("esc/passwd", 0, None)).await),
        Some(ErrorCode::BadRequest)
    );
    assert_eq!(
        code(&op.call::<VolumeReadFile>(read("missing", 0, None)).await),
        Some(ErrorCode::NotFound)
    );

    // Downloads: a ticket per file or directory — single-use, bound to the user who
    // minted it, the path validated when it is minted.
    let op_token = ws::login(&berth, "otto", "password-of-otto").await;
    let viewer_token = ws::login(&berth, "vera", "password-of-vera").await;
    let ticket = |path: &str| DownloadVolumePath {
        host: None,
        name: vol.clone(),
        path: path.into(),
    };
    assert_eq!(
        code(&viewer.call::<VolumeDownloadTicket>(ticket("a.txt")).await),
        Some(ErrorCode::Forbidden)
    );
    for bad in ["../", "esc/passwd"] {
        let r = op.call::<VolumeDownloadTicket>(ticket(bad)).await;
        assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{bad}: {r:?}");
    }
    assert_eq!(
        code(&op.call::<VolumeDownloadTicket>(ticket("missing")).await),
        Some(ErrorCode::NotFound)
    );
    let http = reqwest::Client::new();
    let get = |t: &Ticket, token: Option<&str>| {
        let rb = http.get(format!("{}{}", berth.url, t.url));
        match token {
            Some(token) => rb.bearer_auth(token),
            None => rb,
        }
    };
    let big: String = (1..=60000).map(|i| format!("{i}\n")).collect();
    let t = op
        .call::<VolumeDownloadTicket>(ticket("d/big.txt"))
        .await
        .unwrap();
    assert_eq!(t.filename, "big.txt");
    assert_eq!(get(&t, None).send().await.unwrap().status(), 401);
    assert_eq!(
        get(&t, Some(&viewer_token)).send().await.unwrap().status(),
        403,
        "another user's ticket is refused (and survives)"
    );
    let resp = get(&t, Some(&op_token)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let disposition = resp.headers()["content-disposition"].to_str().unwrap();
    assert_eq!(disposition, "attachment; filename=\"big.txt\"");
    assert_eq!(resp.content_length(), Some(big.len() as u64));
    assert_eq!(resp.bytes().await.unwrap(), big.as_bytes());
    assert_eq!(
        get(&t, Some(&op_token)).send().await.unwrap().status(),
        404,
        "a ticket is used once"
    );
    let t = op
        .call::<VolumeDownloadTicket>(ticket("d/big.txt"))
        .await
        .unwrap();
    let resp = get(&t, Some(&op_token))
        .header("range", "bytes=100000-100009")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100000-100009/{}", big.len())
    );
    assert_eq!(resp.bytes().await.unwrap(), &big.as_bytes()[100000..100010]);
    let t = op
        .call::<VolumeDownloadTicket>(ticket("a.txt"))
        .await
        .unwrap();
    let resp = get(&t, Some(&op_token))
        .header("range", "bytes=6-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    let t = op.call::<VolumeDownloadTicket>(ticket("/d")).await.unwrap();
    assert_eq!(t.filename, format!("{vol}-d.tar"));
    let resp = get(&t, Some(&op_token)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let tar_bytes = resp.bytes().await.unwrap();
    let mut files = HashMap::new();
    for e in tar::Archive::new(&tar_bytes[..]).entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        files.insert(path, body);
    }
    assert_eq!(files.get("d/y.txt").map(Vec::as_slice), Some(&b"x\n"[..]));
    assert_eq!(
        files.get("d/big.txt").map(Vec::as_slice),
        Some(big.as_bytes()),
        "{:?}",
        files.keys().collect::<Vec<_>>()
    );

    // In use → conflict naming the container; free → removed.
    let rm = RemoveVolume {
        host: None,
        name: vol.clone(),
    };
    assert_eq!(
        code(&op.call::<VolumesRemove>(rm.clone()).await),
        Some(ErrorCode::Forbidden)
    );
    // A fresh measurement answers again until asked for a new one.
    let measure = |refresh| {
        viewer.call::<SystemDf>(DfParams {
            host: None,
            refresh,
        })
    };
    let before = measure(true).await.unwrap().volume_sizes.get(&vol).copied();
    assert_eq!(before, size);
    let grower = container(&scope, "grower", "busybox seq 1 60000 > /data/more.txt")
        .volume(&vol, "/data")
        .create()
        .await;
    scope.docker.start_container(&grower, None).await.unwrap();
    scope.wait_success(&grower).await;
    let again = measure(false).await.unwrap();
    assert_eq!(again.volume_sizes.get(&vol).copied(), before, "still fresh");
    let refreshed = measure(true).await.unwrap();
    let grown = refreshed.volume_sizes.get(&vol).copied().unwrap_or(0);
    assert!(grown >= before.unwrap_or(0) + 348_894, "{refreshed:?}");
    scope.docker.remove_container(&grower, None).await.unwrap();
    let r = admin.call::<VolumesRemove>(rm.clone()).await;
    assert_eq!(code(&r), Some(ErrorCode::Conflict));
    assert!(r.unwrap_err().to_string().contains(&scope.name("writer")));
    scope.docker.remove_container(&writer, None).await.unwrap();
    admin.call::<VolumesRemove>(rm).await.unwrap();
    // No helper container is left behind.
    let helpers = scope
        .docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&HashMap::from([("label", vec!["dev.berth.helper"])]))
                .build(),
        ))
        .await
        .unwrap();
    let mine: Vec<_> = helpers
        .iter()
        .filter(|c| c.labels.as_ref().and_then(|l| l.get("dev.berth.helper")) == Some(&vol))
        .collect();
    assert!(mine.is_empty(), "{mine:?}");
}

#[tokio::test]
async fn networks_images_and_disk_use() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let net = scope.name("net");
    scope
        .docker
        .create_network(NetworkCreateRequest {
            name: net.clone(),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    let c = container(&scope, "member", LOOP)
        .network(&net)
        .create()
        .await;

    let nets = admin
        .call::<NetworksList>(HostOnly::default())
        .await
        .unwrap();
    let n = nets
        .networks
        .iter()
        .find(|n| n.name == net)
        .expect("listed");
    assert_eq!((n.containers_running, n.containers_stopped), (0, 1));
    assert_eq!(n.containers, vec![scope.name("member")]);
    assert!(
        nets.networks
            .iter()
            .any(|n| n.name == "bridge" && n.builtin)
    );
    let ins = admin
        .call::<NetworkInspect>(NetworkRef {
            host: None,
            id: net.clone(),
        })
        .await
        .unwrap();
    assert_eq!(ins["Name"], net.as_str());
    let r = admin
        .call::<NetworkRemove>(NetworkRef {
            host: None,
            id: net.clone(),
        })
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Conflict));
    let r = admin
        .call::<NetworkRemove>(NetworkRef {
            host: None,
            id: "bridge".into(),
        })
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Conflict));
    scope.docker.remove_container(&c, None).await.unwrap();
    admin
        .call::<NetworkRemove>(NetworkRef {
            host: None,
            id: net.clone(),
        })
        .await
        .unwrap();

    let images = admin.call::<ImagesList>(HostOnly::default()).await.unwrap();
    let test_image = ensure_test_image(&scope.docker).await;
    let img = images
        .images
        .iter()
        .find(|i| i.tags.iter().any(|t| t == test_image))
        .expect("test image listed");
    assert!(!img.dangling && img.size > 0);

    let df = admin.call::<SystemDf>(DfParams::default()).await.unwrap();
    assert!(df.images.count >= 1 && df.images.size > 0, "{df:?}");
}

#[tokio::test]
async fn container_stats_come_from_one_sampler_per_host() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let viewer = ws::user(&berth, &admin, "vic", Role::Viewer).await;
    let busy = container(&scope, "busy", "while :; do :; done")
        .create()
        .await;
    let idle = container(&scope, "idle", LOOP).create().await;
    for id in [&busy, &idle] {
        scope.docker.start_container(id, None).await.unwrap();
    }
    // A viewer may watch every container; another client only one, by name.
    let mut all = viewer
        .open::<ContainerStats>(StatsParams::default())
        .await
        .unwrap();
    let mut one = admin
        .open::<ContainerStats>(StatsParams {
            host: None,
            ids: vec![scope.name("idle")],
        })
        .await
        .unwrap();
    let s = tokio::time::timeout(WAIT, async {
        loop {
            let s = all.next().await.expect("open").expect("stats");
            if s.id == busy && s.cpu_percent > 20.0 {
                return s;
            }
        }
    })
    .await
    .expect("the busy container shows its CPU use");
    assert_eq!(s.name, scope.name("busy"));
    assert!(s.cpu_percent < 250.0, "{s:?}");
    assert!(s.mem_bytes > 0 && s.mem_limit >= s.mem_bytes, "{s:?}");
    assert!(s.ts_ms > 0 && !s.time.is_empty(), "{s:?}");
    for _ in 0..3 {
        let s = tokio::time::timeout(WAIT, one.next())
            .await
            .expect("a sample in time")
            .expect("open")
            .expect("stats");
        assert_eq!(s.id, idle, "the filter holds");
        assert!(s.cpu_percent < 20.0, "{s:?}");
    }
    let bad = viewer
        .open::<ContainerStats>(StatsParams {
            host: None,
            ids: vec!["../x".into()],
        })
        .await;
    assert_eq!(code(&bad.map(|_| ())), Some(ErrorCode::BadRequest));
    let unknown_host = viewer
        .open::<ContainerStats>(StatsParams {
            host: Some("elsewhere".into()),
            ids: vec![],
        })
        .await;
    assert_eq!(code(&unknown_host.map(|_| ())), Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn volumes_and_networks_are_created_with_their_settings_by_admins_only() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;
    let labels: BTreeMap<String, String> = scope.labels().into_iter().collect();

    // A tmpfs volume: the local driver's options reach Docker.
    let vol = scope.name("made");
    let mut options = BTreeMap::new();
    options.insert("type".to_owned(), "tmpfs".to_owned());
    options.insert("device".to_owned(), "tmpfs".to_owned());
    let request = CreateVolume {
        host: None,
        name: vol.clone(),
        driver: None,
        options,
        labels: labels.clone(),
    };
    let r = op.call::<VolumesCreate>(request.clone()).await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "operators may not");
    let made = admin.call::<VolumesCreate>(request.clone()).await.unwrap();
    assert_eq!(
        (made.name.as_str(), made.driver.as_str()),
        (vol.as_str(), "local")
    );
    let inspect = scope.docker.inspect_volume(&vol).await.unwrap();
    assert_eq!(
        inspect.options.get("type").map(String::as_str),
        Some("tmpfs")
    );
    // A mount's options may hold a password: a viewer sees none of their values.
    let seen = viewer
        .call::<VolumesInspect>(VolumeRef {
            host: None,
            name: vol.clone(),
        })
        .await
        .unwrap();
    assert_eq!(seen.inspect["Options"]["type"], "<redacted>", "{seen:?}");
    // The same name again: Docker would hand back the first one; Berth says so.
    let again = admin.call::<VolumesCreate>(request.clone()).await;
    assert_eq!(code(&again), Some(ErrorCode::Conflict), "{again:?}");
    // Berth's own label namespace and bad names are refused before Docker.
    let mut berths = request.clone();
    berths.name = scope.name("sneaky");
    berths.labels.insert("dev.berth.helper".into(), "1".into());
    let r = admin.call::<VolumesCreate>(berths).await;
    assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{r:?}");
    let mut bad = request;
    bad.name = "../x".into();
    assert_eq!(
        code(&admin.call::<VolumesCreate>(bad).await),
        Some(ErrorCode::BadRequest)
    );
    let listed = admin
        .call::<VolumesList>(HostOnly::default())
        .await
        .unwrap();
    assert!(listed.volumes.iter().any(|v| v.name == vol));
    assert!(
        scope
            .docker
            .inspect_volume(&scope.name("sneaky"))
            .await
            .is_err(),
        "nothing created for a refused request"
    );

    // An internal network on a chosen subnet and gateway.
    let net = scope.name("made-net");
    let request = CreateNetwork {
        host: None,
        name: net.clone(),
        driver: None,
        subnet: Some("10.213.77.0/24".into()),
        gateway: Some("10.213.77.254".into()),
        internal: true,
        attachable: false,
        options: BTreeMap::new(),
        labels,
    };
    let r = op.call::<NetworksCreate>(request.clone()).await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "operators may not");
    let made = admin.call::<NetworksCreate>(request.clone()).await.unwrap();
    assert_eq!(made.name, net);
    assert_eq!((made.driver.as_str(), made.internal), ("bridge", true));
    assert_eq!(made.subnets, vec!["10.213.77.0/24".to_owned()]);
    let inspect = scope
        .docker
        .inspect_network(
            &net,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .unwrap();
    let ipam = inspect.ipam.unwrap().config.unwrap();
    assert_eq!(ipam[0].gateway.as_deref(), Some("10.213.77.254"));
    let again = admin.call::<NetworksCreate>(request.clone()).await;
    assert_eq!(code(&again), Some(ErrorCode::Conflict), "{again:?}");
    for (subnet, gateway, field) in [
        (Some("10.213.78.0"), None, "subnet"),
        (Some("10.213.78.0/24"), Some("10.0.0.1"), "gateway"),
        (None, Some("10.213.78.1"), "gateway"),
    ] {
        let mut bad = request.clone();
        bad.name = scope.name("bad-net");
        bad.subnet = subnet.map(str::to_owned);
        bad.gateway = gateway.map(str::to_owned);
        let e = admin.call::<NetworksCreate>(bad).await.unwrap_err();
        let body = e.body().expect("an error body");
        assert_eq!(body.code, ErrorCode::BadRequest, "{body:?}");
        assert_eq!(body.details.as_ref().unwrap()["field"], field, "{body:?}");
    }
    admin
        .call::<NetworkRemove>(NetworkRef {
            host: None,
            id: net,
        })
        .await
        .unwrap();
    admin
        .call::<VolumesRemove>(RemoveVolume {
            host: None,
            name: vol,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn images_are_tagged_by_admins_with_checked_names() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let image = ensure_test_image(&scope.docker).await;
    let repo = format!("127.0.0.1:5999/berth-tag-test/{}", scope.run.to_lowercase());
    let request = TagImage {
        host: None,
        id: image.to_owned(),
        repo: repo.clone(),
        tag: Some("v1".into()),
    };
    let r = op.call::<ImagesTag>(request.clone()).await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "operators may not");
    let tagged = admin.call::<ImagesTag>(request.clone()).await.unwrap();
    let reference = format!("{repo}:v1");
    assert_eq!(tagged.reference, reference);
    let images = admin.call::<ImagesList>(HostOnly::default()).await.unwrap();
    let named = images
        .images
        .iter()
        .find(|i| i.tags.contains(&reference))
        .expect("the new name is listed");
    assert!(named.tags.iter().any(|t| t == image), "{named:?}");
    for (repo, tag, field) in [
        ("Upper/case", Some("v1"), "repo"),
        ("a//b", None, "repo"),
        ("ok", Some("-bad"), "tag"),
        ("ok", Some("a/b"), "tag"),
    ] {
        let bad = TagImage {
            repo: repo.into(),
            tag: tag.map(str::to_owned),
            ..request.clone()
        };
        let e = admin.call::<ImagesTag>(bad).await.unwrap_err();
        let body = e.body().expect("an error body");
        assert_eq!(body.code, ErrorCode::BadRequest, "{body:?}");
        assert_eq!(body.details.as_ref().unwrap()["field"], field, "{body:?}");
    }
    // Removing by the new name only untags: the test image stays.
    let removed = admin
        .call::<ImagesRemove>(RemoveImage {
            host: None,
            id: reference.clone(),
            force: false,
        })
        .await
        .unwrap();
    assert_eq!(removed.untagged, vec![reference]);
    assert!(removed.deleted.is_empty(), "{removed:?}");
}

#[tokio::test]
async fn operators_connect_a_container_to_a_network_and_disconnect_it() {
    use berth_protocol::api::catalogue::{NetworkConnect, NetworkDisconnect};
    use berth_protocol::api::networks::{ConnectContainer, DisconnectContainer};
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;
    let net = scope.create_network("joined").await;
    let name = scope.name("joiner");
    let id = container(&scope, "joiner", LOOP).create().await;
    let connect = |container: &str| ConnectContainer {
        host: None,
        network: net.clone(),
        container: container.to_owned(),
        aliases: vec!["db-alias".into()],
    };
    assert_eq!(
        code(&viewer.call::<NetworkConnect>(connect(&name)).await),
        Some(ErrorCode::Forbidden)
    );
    op.call::<NetworkConnect>(connect(&name)).await.unwrap();
    let inspect = scope.docker.inspect_container(&id, None).await.unwrap();
    let endpoint = inspect
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|mut n| n.remove(&net))
        .expect("attached");
    assert!(
        endpoint
            .aliases
            .unwrap_or_default()
            .contains(&"db-alias".to_owned())
    );
    let listed = op.call::<NetworksList>(HostOnly::default()).await.unwrap();
    let n = listed.networks.iter().find(|n| n.name == net).unwrap();
    assert_eq!(n.containers, vec![name.clone()]);
    // Nothing that does not exist, and nothing that is not a name.
    assert_eq!(
        code(
            &op.call::<NetworkConnect>(connect("no-such-container"))
                .await
        ),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(&op.call::<NetworkConnect>(connect("../x")).await),
        Some(ErrorCode::BadRequest)
    );
    op.call::<NetworkDisconnect>(DisconnectContainer {
        host: None,
        network: net.clone(),
        container: name.clone(),
    })
    .await
    .unwrap();
    let inspect = scope.docker.inspect_container(&id, None).await.unwrap();
    let networks = inspect
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    assert!(!networks.contains_key(&net), "{networks:?}");
}

/// A prune's preview: an image no container uses is among the unused ones (with its
/// size), not among the dangling ones, and a dry run removes nothing. (A real prune of
/// unused images is not run here: other tests share the engine.)
#[tokio::test]
async fn an_image_prune_preview_names_what_would_go() {
    use berth_protocol::api::catalogue::{ImagesPrune, ImagesRemove};
    use berth_protocol::api::images::{PruneImages, RemoveImage};
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let maker = container(&scope, "pruned", "echo made > /made")
        .create()
        .await;
    scope.docker.start_container(&maker, None).await.unwrap();
    scope.wait_success(&maker).await;
    let tag = format!("berth-test/prune-{}:unused", scope.run.to_lowercase());
    berth_tests::registry::docker(&["commit", &maker, &tag]);
    scope.docker.remove_container(&maker, None).await.unwrap();
    let preview = |unused| PruneImages {
        host: None,
        unused,
        dry_run: true,
    };
    let unused = admin.call::<ImagesPrune>(preview(true)).await.unwrap();
    assert!(
        unused.dry_run && unused.deleted.contains(&tag),
        "{unused:?}"
    );
    assert!(unused.space_reclaimed > 0);
    let dangling = admin.call::<ImagesPrune>(preview(false)).await.unwrap();
    assert!(!dangling.deleted.contains(&tag), "tagged: not dangling");
    assert!(
        scope.docker.inspect_image(&tag).await.is_ok(),
        "a dry run removes nothing"
    );
    admin
        .call::<ImagesRemove>(RemoveImage {
            host: None,
            id: tag.clone(),
            force: false,
        })
        .await
        .unwrap();
}
