//! Berth's own events on the `events` channel (issue 29): a job's queueing, start and
//! end and the backup it made, in order, beside Docker's events; the last events
//! replayed to a channel that opens; Berth's helper containers marked, and left out
//! on request.

use berth_client::Subscription;
use berth_protocol::api::backups::{BackupRef, BackupTarget, CreateBackup};
use berth_protocol::api::catalogue::{BackupsCreate, BackupsDelete, Events};
use berth_protocol::api::events::{Event, EventFilters, EventsParams};
use berth_protocol::api::jobs::JobState;
use berth_protocol::role::Role;
use berth_tests::docker::Scope;
use berth_tests::jobs::{WAIT, end_state};
use berth_tests::ws;
use futures_util::StreamExt;

/// The events of `subscription` until one satisfies `last` (which is included).
async fn events_until(
    subscription: &mut Subscription<Event>,
    last: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, async {
        loop {
            let event = subscription
                .next()
                .await
                .expect("events open")
                .expect("event");
            let done = last(&event);
            seen.push(event);
            if done {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no such event in time; saw {seen:?}"));
    seen
}

fn params(types: &[&str], replay: Option<u32>, exclude_helpers: bool) -> EventsParams {
    EventsParams {
        replay,
        filters: EventFilters {
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            exclude_helpers,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_and_backups_are_events_replayed_to_new_pages_without_helper_noise() {
    let scope = Scope::new().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;
    let volume = scope.create_volume("activity").await;

    // A viewer's page, open before the backup: Berth's work arrives live.
    let mut live = viewer
        .open::<Events>(params(&["job", "backup"], None, false))
        .await
        .unwrap();
    let queued = admin
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Volume {
                name: volume.clone(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let job = queued.jobs[0].clone();
    let (state, message) = end_state(&admin, &job).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let seen = events_until(&mut live, |e| e.typ == "job" && e.action == "finished").await;
    let steps: Vec<(&str, &str)> = seen
        .iter()
        .map(|e| (e.typ.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("job", "queued"),
            ("job", "started"),
            ("backup", "created"),
            ("job", "finished")
        ],
        "{seen:?}"
    );
    let finished = &seen[3];
    assert_eq!(finished.id, job);
    assert_eq!(finished.state.as_deref(), Some("complete"));
    assert_eq!(finished.kind.as_deref(), Some("backup"));
    assert!(
        finished
            .message
            .as_deref()
            .is_some_and(|m| m.contains("verified")),
        "the outcome in words: {finished:?}"
    );
    let created = &seen[2];
    assert_eq!(created.job.as_deref(), Some(job.as_str()));
    assert_eq!(created.name.as_deref(), Some(volume.as_str()));
    assert_eq!(created.kind.as_deref(), Some("volume"));
    let backup = created.id.clone();

    // A page that opens now gets the last events first: the backup's story, and no
    // helper container although one read the volume.
    let mut fresh = viewer
        .open::<Events>(params(&[], Some(200), true))
        .await
        .unwrap();
    let replayed = events_until(&mut fresh, |e| e.typ == "job" && e.action == "finished").await;
    assert!(replayed.iter().all(|e| !e.helper), "{replayed:?}");
    assert!(
        replayed.iter().any(|e| e.typ == "backup" && e.id == backup),
        "{replayed:?}"
    );
    // Without the filter the helper's container is there, marked, and so is what it
    // did to the volume.
    let mut everything = viewer
        .open::<Events>(params(&["container", "volume"], Some(1000), false))
        .await
        .unwrap();
    // Other tests' Berths share the engine, so the window may open on the middle of
    // their helpers' lives: wait for a helper seen from its creation to its end.
    let created = std::sync::Mutex::new(std::collections::HashSet::new());
    let all = events_until(&mut everything, |e| {
        let mut created = created.lock().unwrap();
        match (e.typ.as_str(), e.action.as_str()) {
            ("container", "create") if e.helper => {
                created.insert(e.id.clone());
                false
            }
            ("container", "destroy") => e.helper && created.contains(&e.id),
            _ => false,
        }
    })
    .await;
    let on_volume: Vec<&Event> = all
        .iter()
        .filter(|e| e.typ == "volume" && e.id == volume && e.action != "create")
        .collect();
    assert!(on_volume.iter().all(|e| e.helper), "{on_volume:?}");

    // Deleting the backup is an event too.
    admin
        .call::<BackupsDelete>(BackupRef { id: backup.clone() })
        .await
        .unwrap();
    let deleted = events_until(&mut live, |e| e.typ == "backup").await;
    let deleted = deleted.last().unwrap();
    assert_eq!(
        (deleted.action.as_str(), deleted.id.as_str()),
        ("deleted", backup.as_str())
    );
    assert_eq!(deleted.job, None);
}
