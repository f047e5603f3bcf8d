//! What a Berth in use holds besides its backups — an operator, a viewer's API token, a
//! schedule, a stack — written through the API, and checked after the Berth moved: a
//! state restore onto a new data directory, an upgrade from an older store.

use berth_client::Client;
use berth_protocol::api::Empty;
use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::catalogue::{
    AuthWhoami, SchedulesCreate, SchedulesList, StacksCreate, StacksList, TokensCreate,
};
use berth_protocol::api::schedules::ScheduleSpec;
use berth_protocol::api::stacks::StackFiles;
use berth_protocol::api::tokens::CreateToken;
use berth_protocol::role::Role;

use crate::server::Berth;
use crate::ws;

/// The stack's `.env`, as written.
pub const STACK_ENV: &str = "GREETING=hello\n";

/// Adds the operator `otto` (password `password-of-otto`), the viewer token `deploy`,
/// the schedule `nightly` backing up `target`, and the stack `notes`; returns the
/// token's secret.
pub async fn populate(berth: &Berth, admin: &Client, target: BackupTarget) -> String {
    ws::user(berth, admin, "otto", Role::Operator).await;
    let token = admin
        .call::<TokensCreate>(CreateToken {
            name: "deploy".into(),
            role: Some(Role::Viewer),
            expires_in_days: None,
        })
        .await
        .unwrap()
        .secret;
    admin
        .call::<SchedulesCreate>(ScheduleSpec {
            name: "nightly".into(),
            cron: "0 3 * * *".into(),
            targets: vec![target],
            ..Default::default()
        })
        .await
        .unwrap();
    admin
        .call::<StacksCreate>(StackFiles {
            name: "notes".into(),
            compose: "services:\n  app:\n    image: busybox\n".into(),
            env: Some(STACK_ENV.into()),
            draft: false,
        })
        .await
        .unwrap();
    token
}

/// Checks on `berth` what [`populate`] wrote elsewhere: `otto` logs in with his
/// password and is an operator, the token works with its role, the schedule and the
/// stack are listed. `context` names the case in failures. Returns the token's client.
pub async fn check(berth: &Berth, token: &str, context: &str) -> Client {
    let otto = ws::client(berth, &ws::login(berth, "otto", "password-of-otto").await).await;
    let whoami = otto.call::<AuthWhoami>(Empty {}).await.unwrap();
    assert_eq!(whoami.role, Role::Operator, "{context}");
    let deploy = ws::client(berth, token).await;
    let whoami = deploy.call::<AuthWhoami>(Empty {}).await.unwrap();
    assert_eq!(whoami.role, Role::Viewer, "{context}");
    let schedules = deploy.call::<SchedulesList>(Empty {}).await.unwrap();
    assert!(
        schedules.schedules.iter().any(|s| s.spec.name == "nightly"),
        "{context}: {schedules:?}"
    );
    let stacks = otto.call::<StacksList>(Empty {}).await.unwrap();
    assert!(
        format!("{stacks:?}").contains("notes"),
        "{context}: {stacks:?}"
    );
    deploy
}
