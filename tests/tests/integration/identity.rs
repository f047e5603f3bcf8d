//! Users at rest: no default password, the first admin, and `berth user` for recovery —
//! against the real binary and its real store.

use berth_identity::prelude::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_core::store::Store;
use berth_identity::password;
use berth_protocol::role::Role;
use berth_tests::server::{Berth, berth_command, serve_command};

fn user_cmd(
    data_dir: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    let mut cmd: Command = berth_command();
    cmd.arg("user").args(args).arg("--data-dir").arg(data_dir);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn without_a_configured_password_one_is_generated_into_a_private_file_never_the_log() {
    use berth_protocol::api::Empty;
    use berth_protocol::api::auth::ChangePassword;
    use berth_protocol::api::catalogue::{AuthChangePassword, AuthWhoami, UsersList};
    use std::os::unix::fs::PermissionsExt;
    let mut berth = Berth::start().await;
    let data_dir = berth.data_dir.clone();
    let file = data_dir.join("initial-admin-password");
    let password = std::fs::read_to_string(&file)
        .expect("the generated password is in the data directory")
        .trim()
        .to_owned();
    assert_eq!(password.len(), 24);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600,
        "readable by Berth's user only"
    );
    // The log says where it is — and never what it is (viewers read Berth's log as
    // its container's logs).
    let lines = berth.process.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("generated") && l.contains("initial-admin-password")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(&password)),
        "the password was logged"
    );

    // The first login must choose a new password before anything else.
    let token = berth_tests::ws::login(&berth, "admin", &password).await;
    let admin = berth_tests::ws::client(&berth, &token).await;
    assert!(
        admin
            .call::<AuthWhoami>(Empty {})
            .await
            .unwrap()
            .must_change_password
    );
    let e = admin.call::<UsersList>(Empty {}).await.unwrap_err();
    let body = e.body().unwrap();
    assert_eq!(body.code, berth_protocol::error::ErrorCode::Forbidden);
    assert_eq!(
        body.details.as_ref().unwrap()["reason"],
        "password_change_required"
    );
    let same = admin
        .call::<AuthChangePassword>(ChangePassword {
            current: password.clone(),
            new: password.clone(),
        })
        .await;
    assert!(same.is_err(), "the generated password cannot be kept");
    admin
        .call::<AuthChangePassword>(ChangePassword {
            current: password.clone(),
            new: "the-admins-own-password".into(),
        })
        .await
        .unwrap();
    assert!(!file.exists(), "the file goes once the password is changed");
    // The connection re-reads the identity: everything works now.
    admin.call::<UsersList>(Empty {}).await.unwrap();
    // Logging out ends the session, and with it (at once) the connection.
    berth_client::http::logout(&berth.url, &token)
        .await
        .unwrap();
    let (code, _) = admin.closed().await;
    assert_eq!(code, 4401);

    // While the server runs, recovery commands are refused: the data dir is locked.
    let (ok, _, err) = user_cmd(&data_dir, &["list"], None);
    assert!(!ok && err.contains("already in use"), "{err}");

    berth.process.signal(libc::SIGTERM);
    berth.process.wait(Duration::from_secs(5)).expect("stopped");
    {
        let store =
            Store::open(&data_dir.join("berth.redb"), berth_server::server::TABLES).unwrap();
        let admin = store.get_user("admin").unwrap().expect("admin created");
        assert_eq!(admin.role, Role::Admin);
        assert!(password::verify(
            "the-admins-own-password",
            &admin.password_hash
        ));
    }

    // A second start creates nothing.
    let again = Berth::start_with(serve_command(&data_dir), &data_dir).await;
    again.wait_ready().await;
    assert!(
        !again
            .process
            .lines()
            .iter()
            .any(|l| l.contains("generated"))
    );
    assert!(!file.exists());
}

#[tokio::test]
async fn the_configured_first_admin_is_created_and_its_password_never_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let secret = "configured-admin-secret";
    let mut cmd = serve_command(&data_dir);
    cmd.env("BERTH_ADMIN_USER", "ops")
        .env("BERTH_ADMIN_PASSWORD", secret);
    let mut berth = Berth::start_with(cmd, &data_dir).await;
    berth.wait_ready().await;
    berth.process.signal(libc::SIGTERM);
    berth.process.wait(Duration::from_secs(5)).expect("stopped");
    let lines = berth.process.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("created the first admin") && l.contains("ops")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(secret)),
        "the password was logged"
    );

    let store = Store::open(&data_dir.join("berth.redb"), berth_server::server::TABLES).unwrap();
    assert!(password::verify(
        secret,
        &store.get_user("ops").unwrap().unwrap().password_hash
    ));
    assert!(store.get_user("admin").unwrap().is_none());
}

#[tokio::test]
async fn user_commands_manage_a_stopped_data_dir() {
    let mut berth = Berth::start().await;
    let data_dir = berth.data_dir.clone();
    berth.process.signal(libc::SIGTERM);
    berth.process.wait(Duration::from_secs(5)).expect("stopped");

    let (ok, out, err) = user_cmd(
        &data_dir,
        &["add", "bob", "--role", "operator", "--password-stdin"],
        Some("bob-password-1\n"),
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("created bob (operator)") && !out.contains("shown once"),
        "{out}"
    );

    let (ok, _, err) = user_cmd(&data_dir, &["add", "bob", "--role", "viewer"], None);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = user_cmd(&data_dir, &["add", "Bad Name"], None);
    assert!(!ok && err.contains("invalid user name"), "{err}");
    let (ok, _, err) = user_cmd(&data_dir, &["add", "carol", "--role", "root"], None);
    assert!(!ok && err.contains("unknown role"), "{err}");
    let (ok, _, err) = user_cmd(
        &data_dir,
        &["add", "dave", "--password-stdin"],
        Some("short\n"),
    );
    assert!(
        !ok && err.contains("too short") && !err.contains("short\n"),
        "{err}"
    );

    // Sessions and tokens bob had: whoever knew the old password may hold them.
    let (session, token) = {
        let store =
            Store::open(&data_dir.join("berth.redb"), berth_server::server::TABLES).unwrap();
        let (session, _) = store.create_session("bob", 60_000, "127.0.0.1").unwrap();
        let (token, _) = store
            .create_token("bob", "ci", Role::Operator, None)
            .unwrap();
        (session, token)
    };
    let (ok, out, _) = user_cmd(&data_dir, &["passwd", "bob", "--keep-sessions"], None);
    assert!(ok && !out.contains("ended"), "{out}");
    {
        let store =
            Store::open(&data_dir.join("berth.redb"), berth_server::server::TABLES).unwrap();
        assert!(
            store.authenticate(&session).unwrap().is_some(),
            "kept on request"
        );
    }
    let (ok, out, _) = user_cmd(&data_dir, &["passwd", "bob"], None);
    assert!(ok);
    assert!(
        out.contains("ended 1 session(s) and revoked 1 API token(s) of bob"),
        "{out}"
    );
    let new_password = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("shown")
        .to_owned();
    {
        let store =
            Store::open(&data_dir.join("berth.redb"), berth_server::server::TABLES).unwrap();
        assert!(
            store.authenticate(&session).unwrap().is_none(),
            "session ended"
        );
        assert!(
            store.authenticate(&token).unwrap().is_none(),
            "token revoked"
        );
    }

    let (ok, out, _) = user_cmd(&data_dir, &["list", "--json"], None);
    assert!(ok);
    let users: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<(&str, &str)> = users
        .iter()
        .map(|u| (u["name"].as_str().unwrap(), u["role"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("admin", "admin"), ("bob", "operator")]);

    let store = Store::open(&data_dir.join("berth.redb"), berth_server::server::TABLES).unwrap();
    let bob = store.get_user("bob").unwrap().unwrap();
    assert!(password::verify(&new_password, &bob.password_hash));
    assert!(!password::verify("bob-password-1", &bob.password_hash));

    let (ok, _, err) = user_cmd(
        &tempfile::tempdir().unwrap().path().join("none"),
        &["list"],
        None,
    );
    assert!(!ok && err.contains("no Berth store"), "{err}");
}
