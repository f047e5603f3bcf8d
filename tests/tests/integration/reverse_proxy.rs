//! Berth behind the reverse-proxy snippets in `deploy/`, run for real (nginx and
//! Caddy on loopback): logging in and the browser-style WebSocket (session cookie and
//! Origin) work through each, and a client's spoofed `X-Forwarded-For` does not reach
//! Berth's audit log — the proxy states the client itself.

use berth_client::{Client, ConnectOptions};
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{AuditList, SystemInfo};
use berth_tests::proxy::Proxy;
use berth_tests::server::serve_command;
use berth_tests::ws::ADMIN_PASSWORD;
use reqwest::{StatusCode, header};

async fn through(proxy: &Proxy) {
    let login = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", proxy.url))
        .header("x-forwarded-for", "203.0.113.5")
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP to the proxy: {cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    // As a browser on the proxy's origin opens it: cookie and Origin, no token.
    let mut opts = ConnectOptions::new(&proxy.url);
    opts.headers = vec![
        ("Cookie".into(), session),
        ("Origin".into(), proxy.url.clone()),
    ];
    let c = Client::connect_with(opts)
        .await
        .expect("the WebSocket upgrades through the proxy");
    c.call::<SystemInfo>(Empty {}).await.unwrap();
    let page = c.call::<AuditList>(Default::default()).await.unwrap();
    let login = page
        .entries
        .iter()
        .find(|e| e.method == "auth.login")
        .expect("the login is audited");
    assert_eq!(
        login.client, "127.0.0.1",
        "the proxy's word, not the client's claim"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_nginx_and_caddy_snippets_carry_logins_and_the_websocket() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut cmd = serve_command(&data_dir);
    cmd.env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("BERTH_TRUSTED_PROXIES", "127.0.0.1");
    let berth = berth_tests::server::Berth::start_with(cmd, &data_dir).await;
    berth.wait_ready().await;
    let port: u16 = berth.url.rsplit(':').next().unwrap().parse().unwrap();
    through(&Proxy::nginx(port)).await;
    through(&Proxy::caddy(port)).await;
}
