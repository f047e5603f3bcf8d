//! `POST /api/v1/auth/login` / `logout` over real HTTP: the session cookie, hashed
//! sessions, uniform failures, and brute-force lockout that expires.

use berth_identity::prelude::*;
use std::time::{Duration, Instant};

use berth_core::store::Store;
use berth_protocol::auth::{HttpError, LoginResponse};
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::server::{Berth, serve_command};
use reqwest::{StatusCode, header};

const PASSWORD: &str = "the-admin-password";

async fn start(lockout_s: &str) -> (tempfile::TempDir, Berth) {
    start_with_env(lockout_s, &[]).await
}

/// [`start`] with more environment.
async fn start_with_env(lockout_s: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, Berth) {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut cmd = serve_command(&data_dir);
    cmd.env("BERTH_ADMIN_PASSWORD", PASSWORD)
        .env("BERTH_LOGIN_LOCKOUT_S", lockout_s)
        .envs(env.iter().copied());
    let berth = Berth::start_with(cmd, &data_dir).await;
    berth.wait_ready().await;
    (tmp, berth)
}

async fn login(berth: &Berth, user: &str, password: &str) -> reqwest::Response {
    login_from(berth, user, password, &[]).await
}

fn session_token(resp: &reqwest::Response) -> String {
    let cookie = resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            cookie.split("; ").any(|a| a == attr),
            "{attr} missing: {cookie}"
        );
    }
    let token = cookie
        .strip_prefix("berth_session=")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 64, "{cookie}");
    token
}

#[tokio::test]
async fn login_sets_a_strict_session_cookie_and_logout_revokes_it() {
    let (_tmp, mut berth) = start("30").await;
    let first = login(&berth, "admin", PASSWORD).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()[header::CACHE_CONTROL], "no-store");
    let token_a = session_token(&first);
    let body: LoginResponse = first.json().await.unwrap();
    assert_eq!((body.user.name.as_str(), body.role), ("admin", Role::Admin));
    let expires = chrono::DateTime::parse_from_rfc3339(&body.expires_at).expect("RFC 3339");
    let hours = (expires.timestamp() - chrono::Utc::now().timestamp()) as f64 / 3600.0;
    assert!((11.9..=12.1).contains(&hours), "12 h session, got {hours}");

    let token_b = session_token(&login(&berth, "admin", PASSWORD).await);
    assert_ne!(token_a, token_b);

    let out = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/logout", berth.url))
        .header(header::COOKIE, format!("berth_session={token_a}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );

    berth.process.signal(libc::SIGTERM);
    berth.process.wait(Duration::from_secs(5)).expect("stopped");
    assert!(
        !berth
            .process
            .lines()
            .iter()
            .any(|l| l.contains(PASSWORD) || l.contains(&token_b)),
        "secret logged"
    );
    let store = Store::open(
        &berth.data_dir.join("berth.redb"),
        berth_server::server::TABLES,
    )
    .unwrap();
    assert_eq!(
        store.session_for_token(&token_a).unwrap(),
        None,
        "logged out"
    );
    assert_eq!(
        store.session_for_token(&token_b).unwrap().map(|s| s.user),
        Some("admin".to_owned())
    );
}

#[tokio::test]
async fn failures_look_the_same_whether_or_not_the_user_exists() {
    let (_tmp, berth) = start("30").await;
    let wrong = login(&berth, "admin", "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    let wrong: HttpError = wrong.json().await.unwrap();
    let unknown: HttpError = login(&berth, "nobody", "not-the-password")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wrong.error.code, ErrorCode::Unauthenticated);
    assert_eq!(wrong, unknown);

    let bad = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", berth.url))
        .header("content-type", "application/json")
        .body("{\"user\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad: HttpError = bad.json().await.unwrap();
    assert_eq!(bad.error.code, ErrorCode::BadRequest);
}

#[tokio::test]
async fn repeated_failures_lock_the_user_out_until_the_lockout_expires() {
    let (_tmp, berth) = start("1").await;
    for _ in 0..5 {
        assert_eq!(
            login(&berth, "admin", "guess-guess-guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: even the right password is refused, with a retry hint.
    let locked = login(&berth, "admin", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key(header::RETRY_AFTER));
    let body: HttpError = locked.json().await.unwrap();
    assert_eq!(body.error.code, ErrorCode::RateLimited);
    assert!(body.error.retryable);
    assert!(
        body.error.details.unwrap()["retry_after_s"]
            .as_u64()
            .is_some()
    );

    // The lockout expires by itself (1 s here).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = login(&berth, "admin", PASSWORD).await;
        if r.status() == StatusCode::OK {
            break;
        }
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "lockout did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failures = berth
        .process
        .lines()
        .iter()
        .filter(|l| l.contains("login failed") && l.contains("admin"))
        .count();
    assert_eq!(failures, 5, "each failure is logged with the user");
}

/// A login carrying `forwarded` headers (`X-Forwarded-For`, `-Proto`).
async fn login_from(
    berth: &Berth,
    user: &str,
    password: &str,
    forwarded: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", berth.url))
        .json(&serde_json::json!({"username": user, "password": password}));
    for (k, v) in forwarded {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

/// Five failed logins at five names, the `n`th claiming `X-Forwarded-For: from(n)`.
async fn guess_five_times(berth: &Berth, from: impl Fn(u32) -> String) {
    for n in 0..5 {
        let claimed = from(n);
        let r = login_from(
            berth,
            &format!("nobody{n}"),
            "guess",
            &[("x-forwarded-for", &claimed)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_spoofed_forwarded_for_does_not_dodge_the_lockout() {
    let (_tmp, berth) = start("60").await;
    // Five guesses at five names, each claiming another client address: all from this
    // one peer, which is locked out after them whatever the sixth claims.
    guess_five_times(&berth, |n| format!("203.0.113.{n}")).await;
    let r = login_from(
        &berth,
        "admin",
        PASSWORD,
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the header is ignored"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_counts_and_https_makes_the_cookie_secure() {
    let (_tmp, berth) = start_with_env("60", &[("BERTH_TRUSTED_PROXIES", "127.0.0.1, ::1")]).await;
    // One client behind the proxy guesses until it is locked out…
    guess_five_times(&berth, |_| "203.0.113.7".to_owned()).await;
    let r = login_from(
        &berth,
        "admin",
        PASSWORD,
        &[("x-forwarded-for", "203.0.113.7")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // …and another client behind the same proxy is not.
    let https = [
        ("x-forwarded-for", "198.51.100.1"),
        ("x-forwarded-proto", "https"),
    ];
    let ok = login_from(&berth, "admin", PASSWORD, &https).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let cookie = ok.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
    let plain = login_from(
        &berth,
        "admin",
        PASSWORD,
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await;
    let cookie = plain.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
    // The audit log names the forwarded client.
    let token = session_token(&plain);
    let c = berth_tests::ws::client(&berth, &token).await;
    let page = c
        .call::<berth_protocol::api::catalogue::AuditList>(Default::default())
        .await
        .unwrap();
    let clients: Vec<&str> = page
        .entries
        .iter()
        .filter(|e| e.method == "auth.login")
        .map(|e| e.client.as_str())
        .collect();
    assert!(
        clients.contains(&"203.0.113.7") && clients.contains(&"198.51.100.1"),
        "{clients:?}"
    );
}
