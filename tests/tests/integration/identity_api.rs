//! Identity over the protocol, through the Rust client SDK: the role matrix generated
//! from the method catalogue, API tokens, user administration, the audit log (filters,
//! paging, export) and TOTP.

use berth_client::ClientError;
use berth_identity::totp;
use berth_protocol::api::Empty;
use berth_protocol::api::audit::{AuditExport as Export, AuditFilter, AuditQuery, ExportFormat};
use berth_protocol::api::auth::{ConfirmPassword, TotpCode};
use berth_protocol::api::catalogue::{
    AuditExport, AuditList, AuthSessionsList, AuthSessionsRevoke, AuthTotpConfirm, AuthTotpDisable,
    AuthTotpEnroll, AuthWhoami, CHANNELS, METHODS, TokensCreate, TokensList, TokensRevoke,
    UsersCreate, UsersDelete, UsersList, UsersUpdate,
};
use berth_protocol::api::tokens::{CreateToken, ListTokens, RevokeToken};
use berth_protocol::api::users::{CreateUser, UpdateUser, UserName};
use berth_protocol::auth::LoginRequest;
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::ws::{self, ADMIN_PASSWORD};
use serde_json::json;

fn code(e: &ClientError) -> Option<ErrorCode> {
    e.body().map(|b| b.code)
}

async fn create_user(admin: &berth_client::Client, name: &str, role: Role) {
    admin
        .call::<UsersCreate>(CreateUser {
            name: name.into(),
            role,
            password: format!("password-of-{name}"),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn role_matrix_every_method_and_channel_against_every_role() {
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    create_user(&admin, "vera", Role::Viewer).await;
    create_user(&admin, "otto", Role::Operator).await;

    // Anonymous: nothing but hello/ping.
    let (mut anon, _) = {
        let r = ws::raw(&berth, "", &[("sec-websocket-protocol", "berth.v1")])
            .await
            .unwrap();
        (r, ())
    };
    for m in METHODS {
        anon.send(json!({"t":"req","id":m.name,"method":m.name,"p":{}}))
            .await;
        let e = anon.recv().await;
        assert_eq!(
            e["error"]["code"], "unauthenticated",
            "anonymous {}",
            m.name
        );
    }
    for (i, c) in CHANNELS.iter().enumerate() {
        anon.send(json!({"t":"open","ch":i + 1,"kind":c.name}))
            .await;
        assert_eq!(
            anon.recv().await["error"]["code"],
            "unauthenticated",
            "anonymous {}",
            c.name
        );
    }

    for (user, role) in [
        ("vera", Role::Viewer),
        ("otto", Role::Operator),
        ("admin", Role::Admin),
    ] {
        let password = if user == "admin" {
            ADMIN_PASSWORD.to_owned()
        } else {
            format!("password-of-{user}")
        };
        let token = ws::login(&berth, user, &password).await;
        let client = ws::client(&berth, &token).await;
        for m in METHODS {
            // Empty params: allowed calls fail on validation at worst, never on the role.
            let r = client.call_raw(m.name, json!({})).await;
            let got = r.as_ref().err().and_then(code);
            if role.allows(m.role) {
                assert!(
                    !matches!(got, Some(ErrorCode::Forbidden | ErrorCode::Unauthenticated)),
                    "{user} ({role:?}) must be allowed {}: {r:?}",
                    m.name
                );
            } else {
                assert_eq!(
                    got,
                    Some(ErrorCode::Forbidden),
                    "{user} must be refused {}",
                    m.name
                );
            }
        }
        for c in CHANNELS {
            let r = client.open_raw(c.name, json!({}), None).await;
            if role.allows(c.role) {
                // As with methods: empty params may be refused, never for the role.
                let got = r.as_ref().err().and_then(code);
                assert!(
                    !matches!(got, Some(ErrorCode::Forbidden | ErrorCode::Unauthenticated)),
                    "{user} must be allowed channel {}: {:?}",
                    c.name,
                    r.err()
                );
            } else {
                assert_eq!(
                    r.err().as_ref().and_then(code),
                    Some(ErrorCode::Forbidden),
                    "{user} channel {}",
                    c.name
                );
            }
        }
    }
}

#[tokio::test]
async fn api_tokens_are_shown_once_capped_by_role_revocable_and_expire_in_the_list() {
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    create_user(&admin, "otto", Role::Operator).await;
    let otto = ws::client(&berth, &ws::login(&berth, "otto", "password-of-otto").await).await;

    let e = otto
        .call::<TokensCreate>(CreateToken {
            name: "x".into(),
            role: Some(Role::Admin),
            expires_in_days: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        Some(ErrorCode::Forbidden),
        "a token above its creator"
    );
    let e = otto
        .call::<TokensCreate>(CreateToken {
            name: "x".into(),
            role: None,
            expires_in_days: Some(0),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.body().unwrap().details.as_ref().unwrap()["field"],
        "expires_in_days"
    );

    let created = otto
        .call::<TokensCreate>(CreateToken {
            name: "ci deploy".into(),
            role: Some(Role::Viewer),
            expires_in_days: Some(30),
        })
        .await
        .unwrap();
    assert!(created.secret.starts_with("berth_"));
    assert_eq!(created.token.role, Role::Viewer);
    assert!(created.token.expires_at.is_some());
    let listed = otto
        .call::<TokensList>(ListTokens::default())
        .await
        .unwrap();
    assert_eq!(listed.tokens.len(), 1);
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains(&created.secret),
        "shown once"
    );
    let e = otto
        .call::<TokensList>(ListTokens { all: true })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Forbidden));

    // The token works, with its own (lower) role, and records its use.
    let bot = ws::client(&berth, &created.secret).await;
    let me = bot.call::<AuthWhoami>(Empty {}).await.unwrap();
    assert_eq!(
        (me.user.name.as_str(), me.user.role, me.role),
        ("otto", Role::Operator, Role::Viewer)
    );
    let all = admin
        .call::<TokensList>(ListTokens { all: true })
        .await
        .unwrap();
    assert!(all.tokens[0].last_used_at.is_some());

    // Another user cannot revoke it; its owner can, and the bot is cut off.
    create_user(&admin, "vera", Role::Viewer).await;
    let vera = ws::client(&berth, &ws::login(&berth, "vera", "password-of-vera").await).await;
    let e = vera
        .call::<TokensRevoke>(RevokeToken {
            id: created.token.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::NotFound));
    otto.call::<TokensRevoke>(RevokeToken {
        id: created.token.id.clone(),
    })
    .await
    .unwrap();
    assert!(matches!(
        bot.call::<AuthWhoami>(Empty {}).await,
        Err(ClientError::Closed { code: 4401, .. })
    ));
    assert!(
        ws::connect_with(&berth, |o| o.token = Some(created.secret.clone()))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn users_are_administered_and_every_change_is_audited() {
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    create_user(&admin, "vera", Role::Viewer).await;
    let e = admin
        .call::<UsersCreate>(CreateUser {
            name: "Bad Name".into(),
            role: Role::Viewer,
            password: "long-enough-pw".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.body().unwrap().details.as_ref().unwrap()["field"], "name");
    let e = admin
        .call::<UsersCreate>(CreateUser {
            name: "vera".into(),
            role: Role::Viewer,
            password: "long-enough-pw".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Conflict));
    let e = admin
        .call::<UsersCreate>(CreateUser {
            name: "sam".into(),
            role: Role::Viewer,
            password: "short".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.body().unwrap().details.as_ref().unwrap()["field"],
        "password"
    );

    let vera_token = ws::login(&berth, "vera", "password-of-vera").await;
    let vera = ws::client(&berth, &vera_token).await;
    let list = admin.call::<UsersList>(Empty {}).await.unwrap();
    let v = list.users.iter().find(|u| u.name == "vera").unwrap();
    assert_eq!((v.role, v.sessions), (Role::Viewer, 1));

    // Password reset ends the user's sessions.
    admin
        .call::<UsersUpdate>(UpdateUser {
            name: "vera".into(),
            role: Some(Role::Operator),
            password: Some("vera-new-password".into()),
            ..UpdateUser::default()
        })
        .await
        .unwrap();
    assert!(matches!(
        vera.call::<AuthWhoami>(Empty {}).await,
        Err(ClientError::Closed { code: 4401, .. })
    ));
    let vera = ws::client(
        &berth,
        &ws::login(&berth, "vera", "vera-new-password").await,
    )
    .await;
    assert_eq!(
        vera.call::<AuthWhoami>(Empty {}).await.unwrap().role,
        Role::Operator
    );
    let sessions = vera
        .call::<AuthSessionsList>(Default::default())
        .await
        .unwrap();
    assert_eq!(sessions.sessions.len(), 1);
    assert!(sessions.sessions[0].current);

    // The last admin can neither be demoted nor deleted; nobody deletes themselves.
    let e = admin
        .call::<UsersUpdate>(UpdateUser {
            name: "admin".into(),
            role: Some(Role::Viewer),
            ..UpdateUser::default()
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Conflict));
    let e = admin
        .call::<UsersDelete>(UserName {
            name: "admin".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Conflict));
    admin
        .call::<UsersDelete>(UserName {
            name: "vera".into(),
        })
        .await
        .unwrap();
    assert!(matches!(
        vera.call::<AuthWhoami>(Empty {}).await,
        Err(ClientError::Closed { code: 4401, .. })
    ));
    let e = admin
        .call::<UsersDelete>(UserName {
            name: "vera".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::NotFound));

    // Failed logins are audited too.
    let bad = berth_client::http::login(
        &berth.url,
        &LoginRequest {
            username: "admin".into(),
            password: "wrong-password".into(),
            totp: None,
        },
    )
    .await;
    assert!(bad.is_err());

    let page = admin
        .call::<AuditList>(AuditQuery::default())
        .await
        .unwrap();
    let methods: Vec<&str> = page.entries.iter().map(|e| e.method.as_str()).collect();
    for m in ["users.create", "users.update", "users.delete", "auth.login"] {
        assert!(methods.contains(&m), "{m} missing from {methods:?}");
    }
    assert!(
        page.entries.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    let failures = admin
        .call::<AuditList>(AuditQuery {
            filter: AuditFilter {
                method: Some("auth.login".into()),
                outcome: Some("error".into()),
                ..AuditFilter::default()
            },
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(failures.entries.len(), 1);
    assert_eq!(
        (
            failures.entries[0].actor.as_str(),
            failures.entries[0].outcome.as_str()
        ),
        ("admin", "unauthenticated")
    );
    let conflicts = admin
        .call::<AuditList>(AuditQuery {
            filter: AuditFilter {
                actor: Some("admin".into()),
                method: Some("users.".into()),
                outcome: Some("conflict".into()),
                ..AuditFilter::default()
            },
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(conflicts.entries.len() >= 3, "{conflicts:?}");
    assert!(
        conflicts
            .entries
            .iter()
            .any(|e| e.target.as_deref() == Some("admin"))
    );

    // Paging with the cursor visits every entry once.
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let p = admin
            .call::<AuditList>(AuditQuery {
                cursor,
                limit: Some(2),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        seen.extend(p.entries.iter().map(|e| e.id));
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let all = admin
        .call::<AuditList>(AuditQuery {
            limit: Some(1000),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(seen, all.entries.iter().map(|e| e.id).collect::<Vec<_>>());
    let e = admin
        .call::<AuditList>(AuditQuery {
            limit: Some(0),
            ..AuditQuery::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.body().unwrap().details.as_ref().unwrap()["field"],
        "limit"
    );

    // Export.
    let csv = admin
        .call::<AuditExport>(Export {
            format: ExportFormat::Csv,
            query: AuditQuery::default(),
        })
        .await
        .unwrap();
    let mut lines = csv.content.lines();
    assert_eq!(lines.next(), Some(berth_protocol::api::audit::CSV_HEADER));
    assert_eq!(lines.count() as u32, csv.count);
    let jsonl = admin
        .call::<AuditExport>(Export {
            format: ExportFormat::Jsonl,
            query: AuditQuery::default(),
        })
        .await
        .unwrap();
    for l in jsonl.content.lines() {
        let e: berth_protocol::api::audit::AuditEntry = serde_json::from_str(l).unwrap();
        assert!(!e.method.is_empty());
    }

    // Brute force: after five failures the next attempt is refused and audited as such.
    for _ in 0..6 {
        let _ = berth_client::http::login(
            &berth.url,
            &LoginRequest {
                username: "mallory".into(),
                password: "guess-guess-guess".into(),
                totp: None,
            },
        )
        .await;
    }
    // Six attempts, all audited — repeats from one source as one record with a count,
    // written back within a second; the client address had one failure already (the
    // wrong admin password above), so its per-address limit is reached first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let outcomes = loop {
        let limited = admin
            .call::<AuditList>(AuditQuery {
                filter: AuditFilter {
                    actor: Some("mallory".into()),
                    ..AuditFilter::default()
                },
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        let outcomes: Vec<(String, u64)> = limited
            .entries
            .iter()
            .map(|e| (e.outcome.clone(), e.count.unwrap_or(1)))
            .collect();
        if outcomes.iter().map(|(_, n)| n).sum::<u64>() == 6 {
            break outcomes;
        }
        assert!(std::time::Instant::now() < deadline, "{outcomes:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        outcomes.first().map(|o| o.0.as_str()),
        Some("rate_limited"),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.last().map(|o| o.0.as_str()),
        Some("unauthenticated"),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn totp_enrolment_login_with_codes_and_recovery() {
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let enrol = admin
        .call::<AuthTotpEnroll>(ConfirmPassword {
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .unwrap();
    assert!(enrol.uri.starts_with("otpauth://totp/Berth:admin?secret="));
    assert!(enrol.qr_svg.contains("<svg"));
    let now = || berth_identity::users::now_ms() / 1000;
    let e = admin
        .call::<AuthTotpConfirm>(TotpCode {
            code: "000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::BadRequest));
    let c = totp::code_at(&enrol.secret, totp::step_at(now())).unwrap();
    let recovery = admin
        .call::<AuthTotpConfirm>(TotpCode { code: c })
        .await
        .unwrap()
        .codes;
    assert_eq!(recovery.len(), 10);
    assert!(
        admin
            .call::<AuthWhoami>(Empty {})
            .await
            .unwrap()
            .totp_enabled
    );

    let login = |totp: Option<String>| {
        let url = berth.url.clone();
        async move {
            berth_client::http::login(
                &url,
                &LoginRequest {
                    username: "admin".into(),
                    password: ADMIN_PASSWORD.into(),
                    totp,
                },
            )
            .await
        }
    };
    let e = login(None).await.unwrap_err();
    assert_eq!(
        e.body().unwrap().details.as_ref().unwrap()["totp_required"],
        true
    );
    assert!(login(Some("123456".into())).await.is_err());
    // The next step's code (the current one was used to confirm and cannot be replayed).
    let next = totp::code_at(&enrol.secret, totp::step_at(now()) + 1).unwrap();
    let (token, _) = login(Some(next.clone())).await.unwrap();
    assert_eq!(token.len(), 64);
    assert!(login(Some(next)).await.is_err(), "a code works once");
    assert!(login(Some(recovery[0].clone())).await.is_ok());
    assert!(
        login(Some(recovery[0].clone())).await.is_err(),
        "recovery codes are single-use"
    );

    let e = admin
        .call::<AuthTotpDisable>(ConfirmPassword {
            password: "wrong-password".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::BadRequest));
    admin
        .call::<AuthTotpDisable>(ConfirmPassword {
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .unwrap();
    assert!(login(None).await.is_ok());

    // Sessions can be listed and revoked by id.
    let sessions = admin
        .call::<AuthSessionsList>(Default::default())
        .await
        .unwrap()
        .sessions;
    assert!(sessions.len() >= 3);
    let other = sessions.iter().find(|s| !s.current).unwrap();
    admin
        .call::<AuthSessionsRevoke>(berth_protocol::api::auth::RevokeSession {
            id: other.id.clone(),
        })
        .await
        .unwrap();
    let after = admin
        .call::<AuthSessionsList>(Default::default())
        .await
        .unwrap()
        .sessions;
    assert_eq!(after.len(), sessions.len() - 1);
}
