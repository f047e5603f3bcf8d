//! Upgrades never lose data. For every schema version of the store, a data directory
//! made by that version's own code is committed under `tests/fixtures/store/v<N>/`
//! (users, a token, a sealed plugin secret, a schedule, a stack, a backup and its
//! archive); this Berth opens each of them, migrates it and finds everything, and
//! restores the old backup byte for byte. A store written by a newer Berth is refused
//! with a message that says what to do.
//!
//! A version's fixture is generated once, by the code of that version:
//! `BERTH_UPDATE_FIXTURES=1 cargo test -p berth-tests --test integration upgrade::`
//! writes the current version's fixture when it is missing (CONTRIBUTING.md,
//! "Changing the store"). Without it, a schema version without a fixture fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_client::Client;
use berth_protocol::api::Empty;
use berth_protocol::api::backups::{BackupQuery, BackupTarget, RestoreBackup};
use berth_protocol::api::catalogue::{
    BackupsList, BackupsRestore, NotificationsTest, PluginsConfigure, SchedulesCreate,
    SchedulesList, SchedulesRunNow, UsersList,
};
use berth_protocol::api::jobs::JobState;
use berth_protocol::api::plugins::{ConfigureInstance, InstanceRef};
use berth_protocol::api::schedules::{
    Retention, ScheduleAction, ScheduleBackup, ScheduleRef, ScheduleSpec,
};
use berth_tests::docker::Scope;
use berth_tests::http_sink::Sink;
use berth_tests::in_use;
use berth_tests::jobs::{back_up, end_state};
use berth_tests::server::{Berth, Process, serve_command};
use berth_tests::ws;
use serde::{Deserialize, Serialize};
use serde_json::json;

const WEBHOOK_TOKEN: &str = "fixture-webhook-token-7Q";
const STATE_SCHEDULE: &str = "berth-state";

/// What a fixture's data directory holds that its files alone do not say.
#[derive(Debug, Serialize, Deserialize)]
struct Expected {
    schema_version: u64,
    /// The viewer token's secret (a test credential of a throwaway directory).
    token: String,
    /// The backed-up volume's name and the one file it held.
    volume: String,
    file: String,
    /// A `state_backup` schedule with a sealed passphrase (from schema 10 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state_schedule: Option<String>,
}

fn fixtures() -> PathBuf {
    berth_tests::workspace_root().join("tests/fixtures/store")
}

/// Copies `from` into `to`, leaving out the compiled-plugin cache (rebuilt on start,
/// and tied to one wasmtime) and the lock file.
fn copy_data(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "berth.lock" || name == "cache" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_data(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn webhook(url: String) -> ConfigureInstance {
    ConfigureInstance {
        plugin: "notify-webhook".into(),
        name: "ops".into(),
        config: json!({ "url": url }),
        secrets: BTreeMap::new(),
        egress: Vec::new(),
        allow_private: true,
        path: None,
    }
}

/// Fills a fresh Berth the way a user would, through the API.
async fn populate(berth: &Berth, scope: &Scope) -> Expected {
    let admin = ws::admin(berth).await;
    let file = format!("written by schema {}", berth_core::store::SCHEMA_VERSION);
    let volume = scope.create_volume("fixture").await;
    scope
        .container("fill")
        .volume(&volume, "/data")
        .sh(&format!("printf '%s' '{file}' > /data/file"))
        .run()
        .await;
    let target = BackupTarget::Volume {
        name: volume.clone(),
    };
    back_up(&admin, target.clone(), None).await;
    // After the backup, so that no job reports to this address nobody listens on.
    let mut hook = webhook("http://127.0.0.1:9/hook".into());
    hook.secrets
        .insert("token".into(), Some(WEBHOOK_TOKEN.into()));
    admin.call::<PluginsConfigure>(hook).await.unwrap();
    let token = in_use::populate(berth, &admin, target).await;
    admin
        .call::<SchedulesCreate>(ScheduleSpec {
            name: STATE_SCHEDULE.into(),
            cron: "15 3 * * *".into(),
            action: ScheduleAction::StateBackup,
            backup: Some(ScheduleBackup {
                passphrase: Some("fixture state passphrase".into()),
                retention: Some(Retention {
                    daily: Some(7),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    Expected {
        schema_version: berth_core::store::SCHEMA_VERSION,
        token,
        volume,
        file,
        state_schedule: Some(STATE_SCHEDULE.into()),
    }
}

/// Writes `tests/fixtures/store/v<current>/` with this build's code.
async fn generate(dir: &Path) {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let expected = populate(&berth, &scope).await;
    let data = berth.data_dir.clone();
    stop(berth);
    copy_data(&data, &dir.join("data"));
    let text = serde_json::to_string_pretty(&expected).unwrap();
    std::fs::write(dir.join("expected.json"), text + "\n").unwrap();
}

/// SIGTERM and wait: the store is closed cleanly, as by an operator's upgrade.
fn stop(mut berth: Berth) {
    berth.process.signal(libc::SIGTERM);
    let status = berth.process.wait(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// Every committed fixture, oldest first.
fn versions() -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(fixtures())
        .map(|entries| {
            entries
                .filter_map(|e| {
                    let e = e.ok()?;
                    let n = e.file_name().to_str()?.strip_prefix('v')?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_schema_version_upgrades_with_its_data() {
    let current = berth_core::store::SCHEMA_VERSION;
    let own = fixtures().join(format!("v{current}"));
    if !own.exists() && std::env::var_os("BERTH_UPDATE_FIXTURES").is_some() {
        generate(&own).await;
    }
    let versions = versions();
    assert!(
        versions.iter().any(|(v, _)| *v == current),
        "no fixture for store schema {current}: generate it with this version's code \
         (BERTH_UPDATE_FIXTURES=1 cargo test -p berth-tests --test integration upgrade::) \
         and commit tests/fixtures/store/v{current}"
    );
    let sink = Sink::start().await;
    for (version, dir) in versions {
        let expected: Expected =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        assert_eq!(expected.schema_version, version, "{}", dir.display());
        upgrade(&dir, &expected, &sink).await;
    }
}

/// Opens a copy of one fixture with this Berth and checks everything came along.
async fn upgrade(dir: &Path, expected: &Expected, sink: &Sink) {
    let scope = Scope::new().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_data(&dir.join("data"), &data);
    let berth = Berth::start_with(serve_command(&data), &data).await;
    berth.wait_ready().await;
    let version = expected.schema_version;

    let admin = ws::admin(&berth).await;
    let users = admin.call::<UsersList>(Empty {}).await.unwrap();
    let names: Vec<&str> = users.users.iter().map(|u| u.name.as_str()).collect();
    assert!(names.contains(&"otto"), "v{version}: {names:?}");
    in_use::check(&berth, &expected.token, &format!("v{version}")).await;

    // The sealed webhook token still unseals: pointed at a live sink (the token left
    // out, so it is kept), the test notification carries it.
    let url = format!("{}/hook", sink.base);
    admin.call::<PluginsConfigure>(webhook(url)).await.unwrap();
    admin
        .call::<NotificationsTest>(InstanceRef { name: "ops".into() })
        .await
        .unwrap();
    let bearer = format!("Bearer {WEBHOOK_TOKEN}");
    assert_eq!(
        sink.next().await.header("authorization"),
        Some(bearer.as_str()),
        "v{version}"
    );

    if let Some(name) = &expected.state_schedule {
        state_schedule_runs(&admin, name, version).await;
    }
    let copy = restore_the_old_backup(&admin, &scope, expected).await;
    stop(berth);
    // The restored volume carries the fixture's labels (its run is long gone), not this
    // run's: removed by name once the scope has removed the container that checked it.
    let docker = scope.docker.clone();
    drop(scope);
    docker
        .remove_volume(
            &copy,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        )
        .await
        .unwrap();
}

/// The fixture's `state_backup` schedule is listed as it was and runs: its sealed
/// passphrase still opens with the upgraded Berth.
async fn state_schedule_runs(admin: &Client, name: &str, version: u64) {
    let listed = admin.call::<SchedulesList>(Empty {}).await.unwrap();
    let schedule = listed
        .schedules
        .iter()
        .find(|s| s.spec.name == name)
        .unwrap_or_else(|| panic!("v{version}: {name} is listed: {listed:?}"));
    assert_eq!(
        schedule.spec.action,
        ScheduleAction::StateBackup,
        "v{version}"
    );
    assert!(schedule.encrypted, "v{version}");
    let run = admin
        .call::<SchedulesRunNow>(ScheduleRef { name: name.into() })
        .await
        .unwrap();
    let (state, message) = end_state(admin, &run.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "v{version}: {message}");
}

/// The fixture's backup, written by the old version, restores byte for byte; returns
/// the restored volume's name.
async fn restore_the_old_backup(admin: &Client, scope: &Scope, expected: &Expected) -> String {
    let version = expected.schema_version;
    let backups = admin
        .call::<BackupsList>(BackupQuery::default())
        .await
        .unwrap()
        .backups;
    let backup = backups
        .iter()
        .find(|b| b.target.name() == expected.volume)
        .unwrap_or_else(|| panic!("v{version}: the backup is in the catalogue: {backups:?}"));
    let copy = scope.name("upgraded");
    let queued = admin
        .call::<BackupsRestore>(RestoreBackup {
            id: backup.id.clone(),
            volumes: BTreeMap::from([(expected.volume.clone(), copy.clone())]),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, message) = end_state(admin, &queued.id).await;
    assert_eq!(state, JobState::Complete, "v{version}: {message}");
    // Exits 0 only if the restored copy holds the file as it was.
    scope
        .container("check")
        .volume(&copy, "/data")
        .sh(&format!("test \"$(cat /data/file)\" = '{}'", expected.file))
        .run()
        .await;
    copy
}

/// A store from a newer Berth is refused at start, with the versions and what to do,
/// and left as it was.
#[tokio::test]
async fn a_newer_store_is_refused_with_a_clear_message() {
    let (_, newest) = versions().pop().expect("a fixture");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_data(&newest.join("data"), &data);
    let newer = berth_core::store::SCHEMA_VERSION + 1;
    set_schema_version(&data.join("berth.redb"), newer);
    let mut process = Process::spawn(serve_command(&data));
    let status = process
        .wait(Duration::from_secs(60))
        .expect("Berth exits instead of serving");
    assert!(!status.success());
    let said = process.lines().join("\n");
    assert!(
        said.contains(&format!(
            "store schema version {newer} is newer than this Berth"
        )) && said.contains("upgrade Berth or restore an older data directory"),
        "{said}"
    );
    assert_eq!(
        schema_version(&data.join("berth.redb")),
        newer,
        "the newer store is left as it was"
    );
}

const META: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("meta");

/// What a newer Berth would have written.
fn set_schema_version(store: &Path, version: u64) {
    let db = redb::Database::open(store).unwrap();
    let tx = db.begin_write().unwrap();
    tx.open_table(META)
        .unwrap()
        .insert("schema_version", version)
        .unwrap();
    tx.commit().unwrap();
}

fn schema_version(store: &Path) -> u64 {
    use redb::ReadableDatabase;
    let db = redb::Database::open(store).unwrap();
    let tx = db.begin_read().unwrap();
    let meta = tx.open_table(META).unwrap();
    meta.get("schema_version").unwrap().unwrap().value()
}
