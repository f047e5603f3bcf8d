//! Transcript conformance for `GET /api/v1/ws` against the running host: handshake,
//! requests, errors and every close code the spec names, CSWSH defence, flow control,
//! limits and shutdown. Raw sockets where the wire matters; the SDK elsewhere.

use std::time::Duration;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{AuthWhoami, UsersList, UsersUpdate};
use berth_protocol::api::users::UpdateUser;
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::ws::{self, ADMIN_PASSWORD, Raw, raw, raw_session};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn handshake_requests_and_errors_follow_the_transcript() {
    let (_tmp, berth) = ws::start().await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;

    // The subprotocol is required.
    let auth = format!("Bearer {token}");
    let (status, body) = raw(&berth, "", &[("authorization", &auth)])
        .await
        .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("berth.v1"), "{body}");
    let (status, _) = raw(
        &berth,
        "",
        &[
            ("sec-websocket-protocol", "chat.v2"),
            ("authorization", &auth),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400);

    // Before hello: ping works, requests are refused without closing.
    let mut r = raw(
        &berth,
        "",
        &[
            ("sec-websocket-protocol", "berth.v1"),
            ("authorization", &auth),
        ],
    )
    .await
    .unwrap();
    r.send(json!({"t":"ping","ts":7})).await;
    assert_eq!(r.recv().await, json!({"t":"pong","ts":7}));
    r.send(json!({"t":"req","id":"early","method":"auth.whoami"}))
        .await;
    let e = r.recv().await;
    assert_eq!(
        (
            e["t"].as_str(),
            e["id"].as_str(),
            e["error"]["code"].as_str()
        ),
        (Some("err"), Some("early"), Some("unauthenticated"))
    );

    r.send(json!({"t":"hello","client":{"name":"t","version":"1"},"features":[]}))
        .await;
    let w = r.recv().await;
    assert_eq!(w["t"], "welcome");
    assert_eq!(w["protocol"], 1);
    assert_eq!(w["user"], json!({"name":"admin","role":"admin"}));
    assert_eq!(w["limits"]["max_channels"], 64);
    assert_eq!(w["limits"]["max_text_bytes"], 1_048_576);
    assert!(
        w["heartbeat_ms"].as_u64().unwrap() > 0
            && w["session"].as_str().is_some_and(|s| !s.is_empty())
    );

    // Requests, concurrently, each answered once with its id.
    for id in ["a", "b", "c"] {
        r.send(json!({"t":"req","id":id,"method":"auth.whoami","p":{}}))
            .await;
    }
    let mut ids = vec![];
    for _ in 0..3 {
        let m = r.recv().await;
        assert_eq!(m["t"], "res");
        assert_eq!(m["p"]["user"]["name"], "admin");
        ids.push(m["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    assert_eq!(ids, ["a", "b", "c"]);

    // Non-fatal errors.
    r.send(json!({"t":"subscribe","id":"9"})).await;
    let e = r.recv().await;
    assert_eq!(
        (e["id"].as_str(), e["error"]["code"].as_str()),
        (Some("9"), Some("unsupported"))
    );
    r.send(json!({"t":"req","id":"x"})).await;
    let e = r.recv().await;
    assert_eq!(
        (e["id"].as_str(), e["error"]["code"].as_str()),
        (Some("x"), Some("bad_request"))
    );
    r.send(json!({"t":"req","id":"m","method":"no.such"})).await;
    assert_eq!(r.recv().await["error"]["code"], "unsupported");
    r.send(json!({"t":"req","id":"p","method":"users.create","p":{"role":"viewer"}}))
        .await;
    let e = r.recv().await;
    assert_eq!(
        (
            e["error"]["code"].as_str(),
            e["error"]["details"]["field"].as_str()
        ),
        (Some("bad_request"), Some("name"))
    );
    r.send(json!({"t":"hello","client":{"name":"t","version":"1"}}))
        .await;
    assert_eq!(r.recv().await["error"]["code"], "protocol_error");
    // Unknown fields are ignored.
    r.send(json!({"t":"ping","ts":1,"extra":[1,2]})).await;
    assert_eq!(r.recv().await["t"], "pong");

    // A framing violation closes with 4400.
    r.send_text("this is not json").await;
    let (code, seen) = r.expect_close(WAIT).await;
    assert_eq!(code, 4400, "{seen:?}");
    assert!(
        seen.iter().any(|m| m["error"]["code"] == "protocol_error"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn close_codes_4401_4408_4409_and_1009() {
    let (_tmp, berth) = ws::start().await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;
    let sub = ("sec-websocket-protocol", "berth.v1");

    // 4401: no credentials at all, then a bad token in hello.
    let mut r = raw(&berth, "", &[sub]).await.unwrap();
    r.send(json!({"t":"hello","client":{"name":"t","version":"1"}}))
        .await;
    let (code, seen) = r.expect_close(WAIT).await;
    assert_eq!(code, 4401);
    assert_eq!(seen[0]["error"]["code"], "unauthenticated");
    let mut r = raw(&berth, "", &[sub]).await.unwrap();
    r.send(json!({"t":"hello","client":{"name":"t","version":"1"},"token":"berth_nope"}))
        .await;
    assert_eq!(r.expect_close(WAIT).await.0, 4401);
    // A hello token works for clients that cannot set headers.
    let mut r = raw(&berth, "", &[sub]).await.unwrap();
    r.send(json!({"t":"hello","client":{"name":"t","version":"1"},"token":token}))
        .await;
    assert_eq!(r.recv().await["t"], "welcome");

    // 4408: no hello within 5 s.
    let started = std::time::Instant::now();
    let mut r = raw(&berth, "", &[sub]).await.unwrap();
    let (code, seen) = r.expect_close(Duration::from_secs(10)).await;
    assert_eq!(code, 4408);
    assert_eq!(seen[0]["error"]["code"], "hello_timeout");
    assert!(
        started.elapsed() >= Duration::from_millis(4900),
        "{:?}",
        started.elapsed()
    );

    // 4409: a channel id reused.
    let (mut r, _) = raw_session(&berth, &token).await;
    r.send(json!({"t":"open","ch":1,"kind":"system.stats","p":{}}))
        .await;
    assert_eq!(r.recv().await["t"], "opened");
    r.send(json!({"t":"open","ch":1,"kind":"system.stats","p":{}}))
        .await;
    let (code, seen) = r.expect_close(WAIT).await;
    assert_eq!(code, 4409, "{seen:?}");
    assert!(
        seen.iter()
            .any(|m| m["error"]["code"] == "duplicate_channel")
    );

    // 1009: a text message over max_text_bytes, whether or not the client is still
    // writing it when the server closes (32 MiB is more than the kernel buffers, so
    // that client is cut off part-way: its close frame must still arrive).
    for size in [1_100_000, 32 << 20] {
        let (mut r, _) = raw_session(&berth, &token).await;
        let big = format!(r#"{{"t":"ping","ts":1,"pad":"{}"}}"#, "x".repeat(size));
        let whole = r.send_text_refused(&big).await;
        assert_eq!(
            r.expect_close(WAIT).await.0,
            1009,
            "{size} bytes, sent whole: {whole}"
        );
    }
}

#[tokio::test]
async fn channels_open_close_limit_and_latest_value_never_queues_stale_samples() {
    let (_tmp, berth) = ws::start().await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;
    let (mut r, _) = raw_session(&berth, &token).await;

    // Window of one message, no credit returned.
    r.send(
        json!({"t":"open","ch":1,"kind":"system.stats","p":{"host":"local"},"window":{"msgs":1}}),
    )
    .await;
    let opened = r.recv().await;
    assert_eq!(
        opened,
        json!({"t":"opened","ch":1,"p":{},"window":{"msgs":1}})
    );
    let first = r.recv().await;
    assert_eq!(
        (first["t"].as_str(), first["seq"].as_u64()),
        (Some("data"), Some(1))
    );
    assert!(first["p"]["mem_total"].as_u64().unwrap() > 0);
    let t1 = first["p"]["ts_ms"].as_u64().unwrap();
    // Samples keep coming every second; with no credit none may be sent.
    assert!(
        r.next_frame(Duration::from_millis(2500)).await.is_none(),
        "sent beyond the window"
    );
    r.send(json!({"t":"credit","ch":1,"msgs":1})).await;
    let next = r.recv().await;
    assert_eq!(next["seq"], 2);
    let t2 = next["p"]["ts_ms"].as_u64().unwrap();
    assert!(
        t2 >= t1 + 2000,
        "the value after a stall is the newest, not a stale queued one ({t1} → {t2})"
    );

    // Unknown kinds, bad params and a wrong host close the channel, not the socket.
    r.send(json!({"t":"open","ch":2,"kind":"no.such"})).await;
    let c = r.recv().await;
    assert_eq!(
        (
            c["t"].as_str(),
            c["ch"].as_u64(),
            c["error"]["code"].as_str()
        ),
        (Some("close"), Some(2), Some("unsupported"))
    );
    r.send(json!({"t":"open","ch":3,"kind":"system.stats","p":{"host":"elsewhere"}}))
        .await;
    assert_eq!(r.recv().await["error"]["code"], "not_found");

    // Unsubscribe is acknowledged with close.
    r.send(json!({"t":"close","ch":1})).await;
    loop {
        let m = r.recv().await;
        if m["t"] == "close" {
            assert_eq!((m["ch"].as_u64(), m.get("error")), (Some(1), None));
            break;
        }
    }

    // At most 64 channels at once; the 65th is refused without closing the socket.
    for ch in 10..74u32 {
        r.send(json!({"t":"open","ch":ch,"kind":"system.stats","window":{"msgs":1}}))
            .await;
    }
    r.send(json!({"t":"open","ch":74,"kind":"system.stats"}))
        .await;
    let mut opened = 0;
    loop {
        let m = r.recv().await;
        match m["t"].as_str() {
            Some("opened") => opened += 1,
            Some("close") => {
                assert_eq!(
                    (m["ch"].as_u64(), m["error"]["code"].as_str()),
                    (Some(74), Some("too_many_channels"))
                );
                break;
            }
            _ => {}
        }
    }
    assert_eq!(opened, 64);
    r.send(json!({"t":"ping","ts":3})).await;
    loop {
        if r.recv().await["t"] == "pong" {
            break;
        }
    }
}

#[tokio::test]
async fn cross_site_websocket_hijacking_is_refused_before_the_upgrade() {
    let (_tmp, berth) = ws::start().await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;
    let cookie = format!("berth_session={token}");
    let own = berth.url.clone();
    let sub = ("sec-websocket-protocol", "berth.v1");

    let (status, _) = raw(
        &berth,
        "",
        &[sub, ("cookie", &cookie), ("origin", "https://evil.example")],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 403, "cookie + foreign origin");
    let (status, _) = raw(&berth, "", &[sub, ("cookie", &cookie)])
        .await
        .unwrap_err();
    assert_eq!(status, 403, "cookie + no origin");

    let mut r = raw(&berth, "", &[sub, ("cookie", &cookie), ("origin", &own)])
        .await
        .unwrap();
    r.send(json!({"t":"hello","client":{"name":"browser","version":"1"}}))
        .await;
    assert_eq!(
        r.recv().await["user"]["name"],
        "admin",
        "cookie + same origin"
    );

    let auth = format!("Bearer {token}");
    let mut r = raw(&berth, "", &[sub, ("authorization", &auth)])
        .await
        .unwrap();
    r.send(json!({"t":"hello","client":{"name":"cli","version":"1"}}))
        .await;
    assert_eq!(r.recv().await["t"], "welcome", "bearer without origin");

    // A query-string token is never read.
    let mut r = raw(&berth, &format!("?token={token}"), &[sub])
        .await
        .unwrap();
    r.send(json!({"t":"hello","client":{"name":"t","version":"1"}}))
        .await;
    assert_eq!(r.expect_close(WAIT).await.0, 4401);
}

#[tokio::test]
async fn revocation_and_demotion_apply_to_open_connections_on_the_next_message() {
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    admin
        .call::<berth_protocol::api::catalogue::UsersCreate>(
            berth_protocol::api::users::CreateUser {
                name: "ops".into(),
                role: Role::Admin,
                password: "password-of-ops".into(),
            },
        )
        .await
        .unwrap();
    let ops_token = ws::login(&berth, "ops", "password-of-ops").await;
    let ops = ws::client(&berth, &ops_token).await;
    assert_eq!(
        ops.call::<UsersList>(Empty {}).await.unwrap().users.len(),
        2
    );

    admin
        .call::<UsersUpdate>(UpdateUser {
            name: "ops".into(),
            role: Some(Role::Viewer),
            ..UpdateUser::default()
        })
        .await
        .unwrap();
    let e = ops.call::<UsersList>(Empty {}).await.unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Forbidden), "{e}");
    assert_eq!(
        ops.call::<AuthWhoami>(Empty {}).await.unwrap().role,
        Role::Viewer
    );

    admin
        .call::<UsersUpdate>(UpdateUser {
            name: "ops".into(),
            revoke_sessions: true,
            ..UpdateUser::default()
        })
        .await
        .unwrap();
    let e = ops.call::<AuthWhoami>(Empty {}).await.unwrap_err();
    assert!(
        matches!(e, berth_client::ClientError::Closed { code: 4401, .. }),
        "{e}"
    );
    assert_eq!(ops.closed().await.0, 4401);
}

#[tokio::test]
async fn a_stalled_socket_is_closed_with_4008_and_server_memory_stays_bounded() {
    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_WS_WRITE_TIMEOUT_S", "1");
    })
    .await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;
    let (mut r, _) = raw_session(&berth, &token).await;
    let rss_before = ws::rss_bytes(berth.process.pid());
    // Pipeline requests without reading any answer, until the server gives up on us.
    let pad = "p".repeat(4000);
    let mut sent = 0u64;
    let gave_up = loop {
        let msg = json!({"t":"req","id":format!("r{sent}"),"method":"auth.whoami","p":{"pad":pad}});
        let send = tokio::time::timeout(Duration::from_secs(2), r.send(msg));
        if send.await.is_err() {
            break true; // our own send buffer is full: the server stopped reading
        }
        sent += 1;
        if berth
            .process
            .lines()
            .iter()
            .any(|l| l.contains("slow_consumer"))
        {
            break true;
        }
        assert!(
            sent < 2_000_000,
            "the server never closed a socket that is not read"
        );
    };
    assert!(gave_up);
    assert!(
        berth
            .process
            .wait_for_line(Duration::from_secs(30), |l| l.contains("slow_consumer"))
            .is_some(),
        "the server logs the slow consumer"
    );
    let rss_after = ws::rss_bytes(berth.process.pid());
    assert!(
        rss_after < rss_before + 64 * 1024 * 1024,
        "server memory grew by {} MiB for one stalled client",
        (rss_after.saturating_sub(rss_before)) >> 20
    );
    // Read what was buffered: the connection ends with 4008.
    let mut code = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Some(m)) =
        tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut r.ws)).await
    {
        match m {
            Ok(Message::Close(f)) => {
                code = f.map(|f| u16::from(f.code));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(code, Some(4008), "after {sent} requests");
    // The server is fine.
    let _ = raw_session(&berth, &token).await;
}

#[tokio::test]
async fn shutdown_says_bye_and_closes_with_1001() {
    let (_tmp, berth) = ws::start().await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;
    let (mut r, _): (Raw, _) = raw_session(&berth, &token).await;
    berth.process.signal(libc::SIGTERM);
    let (code, seen) = r.expect_close(WAIT).await;
    assert_eq!(code, 1001);
    let bye = seen
        .iter()
        .find(|m| m["t"] == "bye")
        .expect("bye before close");
    assert_eq!(bye["code"], "shutting_down");
    assert!(bye["reconnect_after_ms"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn the_client_sdk_reconnects_with_backoff_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let start = || {
        let mut cmd = berth_tests::server::berth_command();
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD);
        cmd
    };
    let mut berth = berth_tests::server::Berth::start_with(start(), &data_dir).await;
    berth.wait_ready().await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;
    let client = ws::client(&berth, &token).await;
    berth.process.signal(libc::SIGTERM);
    assert_eq!(client.closed().await.0, 1001);
    assert!(berth.process.wait(Duration::from_secs(10)).is_some());

    // Nobody is listening now; the client keeps trying until the server is back.
    let url = berth.url.clone();
    let t = token.clone();
    let retry = tokio::spawn(async move {
        let mut backoff = berth_client::backoff::Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(400),
        );
        berth_client::Client::connect_with_retry(
            berth_client::ConnectOptions::new(url).token(t),
            &mut backoff,
            Duration::from_secs(60),
        )
        .await
    });
    let again = berth_tests::server::Berth::start_with(start(), &data_dir).await;
    let client = retry.await.unwrap().expect("reconnected");
    assert_eq!(
        client.call::<AuthWhoami>(Empty {}).await.unwrap().user.name,
        "admin"
    );

    // Credential errors are not retried.
    let mut backoff = berth_client::backoff::Backoff::default();
    let started = std::time::Instant::now();
    let e = berth_client::Client::connect_with_retry(
        berth_client::ConnectOptions::new(berth.url.clone()).token("berth_wrong"),
        &mut backoff,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        e.as_ref().err().and_then(|e| e.body()).map(|b| b.code) == Some(ErrorCode::Unauthenticated),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(again);
}

#[tokio::test]
async fn binary_channels_respect_byte_credit_pause_the_producer_and_read_through_the_sdk() {
    let (_tmp, berth) = ws::start().await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;
    let (mut r, _) = raw_session(&berth, &token).await;
    let rss_before = ws::rss_bytes(berth.process.pid());
    // Ten 1 GiB transfers with 64 KiB windows, never read beyond the first window.
    for ch in 1..=10u32 {
        r.send(json!({"t":"open","ch":ch,"kind":"diag.speedtest","p":{"bytes":1u64 << 30},"window":{"bytes":65536}}))
            .await;
    }
    let mut got = std::collections::HashMap::<u32, usize>::new();
    let mut opened = 0;
    while let Some(m) = r.next_frame(Duration::from_millis(1500)).await {
        match m {
            Message::Binary(b) => {
                let f = berth_protocol::frame::DataFrame::decode(&b).unwrap();
                assert!(f.payload.len() <= 32 * 1024, "frames are at most 32 KiB");
                assert_eq!(f.stream, berth_protocol::frame::Stream::Stdout);
                *got.entry(f.ch).or_default() += f.payload.len();
            }
            Message::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["t"], "opened", "{v}");
                assert_eq!(v["window"]["bytes"], 65536);
                opened += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(opened, 10);
    assert!(
        got.values().all(|n| *n == 65536),
        "exactly one window each: {got:?}"
    );
    let rss_after = ws::rss_bytes(berth.process.pid());
    assert!(
        rss_after < rss_before + 32 * 1024 * 1024,
        "producers paused: server grew by {} MiB holding 10 GiB of requested data",
        (rss_after.saturating_sub(rss_before)) >> 20
    );
    // Credit brings exactly that much more.
    r.send(json!({"t":"credit","ch":3,"bytes":10000})).await;
    let mut more = 0;
    while let Some(Message::Binary(b)) = r.next_frame(Duration::from_millis(1000)).await {
        more += berth_protocol::frame::DataFrame::decode(&b)
            .unwrap()
            .payload
            .len();
    }
    assert_eq!(more, 10000);

    // The SDK reads a whole transfer as AsyncRead, returning credit as it goes.
    let client = ws::client(&berth, &token).await;
    let mut ch = client
        .open_binary(
            "diag.speedtest",
            json!({"bytes": 5_000_000}),
            Some(128 * 1024),
        )
        .await
        .unwrap();
    let mut all = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut ch, &mut all)
        .await
        .unwrap();
    assert_eq!(all.len(), 5_000_000);
    assert_eq!(ch.close_payload(), Some(&json!({"bytes": 5_000_000})));
    let e = client
        .open_binary("diag.speedtest", json!({"bytes": 0}), None)
        .await
        .unwrap_err();
    assert_eq!(
        e.body().unwrap().details.as_ref().unwrap()["field"],
        "bytes"
    );
}

#[tokio::test]
async fn heartbeats_keep_readers_alive_and_drop_silent_connections() {
    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_WS_HEARTBEAT_S", "1");
    })
    .await;
    let token = ws::login(&berth, "admin", ADMIN_PASSWORD).await;
    let (mut alive, w) = raw_session(&berth, &token).await;
    assert_eq!(w["heartbeat_ms"], 1000);
    let (mut silent, _) = raw_session(&berth, &token).await;
    // A client that reads answers the server's pings (tungstenite does it while reading)
    // and stays connected across several intervals.
    assert!(
        alive
            .next_frame(Duration::from_millis(3500))
            .await
            .is_none()
    );
    alive.send(json!({"t":"ping","ts":1})).await;
    assert_eq!(alive.recv().await["t"], "pong");
    // One that read nothing for those 3.5 s missed two pings: it was dropped.
    assert_eq!(silent.expect_close(WAIT).await.0, 1011);
}
