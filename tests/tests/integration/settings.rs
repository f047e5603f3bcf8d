//! `settings.get|update` (issue 29): an admin changes the server's settings while it
//! runs; a bad value changes nothing; a change applies at once (the password minimum
//! here; the job concurrency in `backup_restore`), is audited, survives a restart, and
//! `reset` returns it to the configuration.

use std::time::Duration;

use berth_protocol::api::Empty;
use berth_protocol::api::audit::AuditQuery;
use berth_protocol::api::catalogue::{AuditList, SettingsGet, SettingsUpdate, UsersCreate};
use berth_protocol::api::settings::{Settings, SettingsUpdate as Update};
use berth_protocol::api::users::CreateUser;
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::jobs::code;
use berth_tests::server::{Berth, serve_command};
use berth_tests::ws;

fn configured() -> Settings {
    Settings {
        job_concurrency: 1,
        audit_retention_days: 90,
        password_min_length: 10,
        default_storage: "local".into(),
        changed: vec![],
    }
}

fn create(name: &str, password: &str) -> CreateUser {
    CreateUser {
        name: name.to_owned(),
        role: Role::Viewer,
        password: password.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_change_at_run_time_validated_audited_and_kept_across_a_restart() {
    let (_tmp, mut berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let operator = ws::user(&berth, &admin, "otto", Role::Operator).await;
    assert_eq!(
        admin.call::<SettingsGet>(Empty {}).await.unwrap(),
        configured()
    );
    assert_eq!(
        code(&operator.call::<SettingsGet>(Empty {}).await),
        Some(ErrorCode::Forbidden)
    );
    let raise = Update {
        job_concurrency: Some(2),
        ..Default::default()
    };
    assert_eq!(
        code(&operator.call::<SettingsUpdate>(raise).await),
        Some(ErrorCode::Forbidden)
    );

    // A bad value names its field and changes nothing, the good ones beside it neither.
    for (bad, field) in [
        (
            Update {
                job_concurrency: Some(9),
                ..Default::default()
            },
            "job_concurrency",
        ),
        (
            Update {
                password_min_length: Some(8),
                ..Default::default()
            },
            "password_min_length",
        ),
        (
            Update {
                audit_retention_days: Some(0),
                ..Default::default()
            },
            "audit_retention_days",
        ),
        (
            Update {
                reset: vec!["listen".into()],
                ..Default::default()
            },
            "reset",
        ),
    ] {
        let refused = admin
            .call::<SettingsUpdate>(Update {
                password_min_length: bad.password_min_length.or(Some(14)),
                ..bad
            })
            .await;
        assert_eq!(code(&refused), Some(ErrorCode::BadRequest), "{field}");
        let message = refused.unwrap_err().to_string();
        assert!(message.contains(field), "{message}");
    }
    let unknown = Update {
        default_storage: Some("nowhere".into()),
        ..Default::default()
    };
    assert_eq!(
        code(&admin.call::<SettingsUpdate>(unknown).await),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        admin.call::<SettingsGet>(Empty {}).await.unwrap(),
        configured()
    );

    // A longer minimum applies to the next password at once.
    let changed = admin
        .call::<SettingsUpdate>(Update {
            password_min_length: Some(14),
            audit_retention_days: Some(30),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (changed.password_min_length, changed.audit_retention_days),
        (14, 30)
    );
    assert_eq!(
        changed.changed,
        ["audit_retention_days", "password_min_length"]
    );
    let short = admin
        .call::<UsersCreate>(create("pat", "twelve-chars"))
        .await;
    assert_eq!(code(&short), Some(ErrorCode::BadRequest));
    assert!(short.unwrap_err().to_string().contains("at least 14"));
    admin
        .call::<UsersCreate>(create("pat", "fourteen-chars"))
        .await
        .unwrap();
    let audit = admin
        .call::<AuditList>(AuditQuery::default())
        .await
        .unwrap();
    assert!(
        audit
            .entries
            .iter()
            .any(|e| e.method == "settings.update" && e.outcome == "ok"),
        "{audit:?}"
    );

    // Kept across a restart, and returned to the configuration by `reset`.
    let data_dir = berth.data_dir.clone();
    berth.process.signal(libc::SIGTERM);
    berth
        .process
        .wait(Duration::from_secs(10))
        .expect("stopped");
    let again = Berth::start_with(serve_command(&data_dir), &data_dir).await;
    again.wait_ready().await;
    let admin = ws::admin(&again).await;
    let kept = admin.call::<SettingsGet>(Empty {}).await.unwrap();
    assert_eq!(kept, changed);
    let reset = admin
        .call::<SettingsUpdate>(Update {
            reset: vec!["password_min_length".into(), "audit_retention_days".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reset, configured());
}
