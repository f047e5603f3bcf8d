//! The Schedules page in a real browser: a schedule made with a preset, its meaning
//! and next runs shown as it is built, its backup options and retention saved as
//! chosen, run now, and the log of the job it queued; a schedule backing up Berth's
//! own state, offered to an admin only.

use berth_protocol::api::Empty;
use berth_protocol::api::backups::{BackupTarget, Consistency};
use berth_protocol::api::catalogue::SchedulesList;
use berth_protocol::api::schedules::ScheduleAction;
use berth_protocol::role::Role;
use berth_tests::browser::{Browser, click, login, pick, type_into, wait_for, wait_for_work};
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::ws::{self, ADMIN_PASSWORD};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_built_from_a_preset_previewed_run_and_its_job_seen() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let app = scope.name("ui-sched");
    scope.container("ui-sched").sh("sleep 600").start().await;
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    let op = ws::admin(&berth).await;
    Browser::start("schedules")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            click(&c, "#nav-schedules").await;
            wait_for(&c, "#schedules-empty").await;
            type_into(&c, "#schedule-name", "ui-weekly").await;
            type_into(&c, "#schedule-zone", "UTC").await;
            let described = |text: &'static str| {
                let c = c.clone();
                async move {
                    c.wait()
                        .for_element(Locator::XPath(&format!(
                            "//strong[@id='schedule-description' and text()='{text}']"
                        )))
                        .await
                        .unwrap_or_else(|e| panic!("no description {text:?}: {e}"));
                }
            };
            described("At 02:30").await;
            pick(&c, "#schedule-preset", "weekly").await;
            pick(&c, "#schedule-weekday", "5").await;
            described("At 02:30, Friday").await;
            let next = c.find_all(Locator::Css("#schedule-next li")).await.unwrap();
            assert_eq!(next.len(), 5);
            type_into(&c, "#schedule-target-0", &app).await;
            // A target row takes its name when the field is left (`change`).
            click(&c, "#schedule-targets legend").await;
            wait_for(&c, "#schedule-target-1").await;
            pick(&c, "#backup-consistency", "pause").await;
            type_into(&c, "#schedule-keep-last", "3").await;
            type_into(&c, "#schedule-keep-within", "7d").await;
            // The same policy, also as the target's own.
            click(&c, "#schedule-own-apply").await;
            let own = wait_for(&c, "#schedule-own-retention .own-policy").await;
            assert!(own.text().await.unwrap().contains("last 3, within 7d"));
            click(&c, "#schedule-submit").await;
            let row = "tr[data-schedule='ui-weekly']";
            wait_for(&c, &format!("{row} .schedule-next")).await;
            let when = wait_for(&c, &format!("{row} .schedule-when")).await;
            assert!(when.text().await.unwrap().contains("At 02:30, Friday"));
            let listed = op.call::<SchedulesList>(Empty {}).await.unwrap();
            let spec = &listed.schedules[0].spec;
            assert_eq!(
                spec.targets,
                [BackupTarget::Container { name: app.clone() }]
            );
            let options = spec.backup.clone().expect("backup options saved");
            assert_eq!(options.consistency, Some(Consistency::Pause));
            let retention = options.retention.expect("retention saved");
            assert_eq!(
                (retention.last, retention.within.as_deref()),
                (Some(3), Some("7d"))
            );
            assert_eq!(options.target_retention.len(), 1);
            assert_eq!(options.target_retention[0].target, spec.targets[0]);
            assert_eq!(options.target_retention[0].retention, retention);
            click(&c, &format!("{row} .schedule-run")).await;
            c.wait()
                .for_element(Locator::XPath(
                    "//div[@id='schedules-result']/p[contains(., 'queued 1 job')]",
                ))
                .await
                .expect("run now says what it queued");
            click(&c, &format!("{row} .schedule-history")).await;
            wait_for(&c, "#schedule-runs tr[data-run]").await;
            click(&c, "#schedule-runs a.run-job").await;
            // The link opens the job's own log.
            let log = wait_for(&c, "#job-log h2").await;
            assert!(
                log.text()
                    .await
                    .unwrap()
                    .contains(&format!("Back up container {app}"))
            );
            wait_for_work(
                &c,
                "#jobs-table tr[data-kind='backup'][data-state='complete']",
            )
            .await;
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_schedules_berths_own_state_and_an_operator_is_not_offered_it() {
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    let admin = ws::admin(&berth).await;
    ws::user(&berth, &admin, "otto", Role::Operator).await;
    let api = admin.clone();
    Browser::start("schedules-state")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            click(&c, "#nav-schedules").await;
            wait_for(&c, "#schedules-empty").await;
            type_into(&c, "#schedule-name", "berth-state").await;
            pick(&c, "#schedule-action", "state_backup").await;
            // No targets for Berth itself: its own options instead.
            wait_for(&c, "#schedule-state-options").await;
            assert!(c.find(Locator::Css("#schedule-targets")).await.is_err());
            type_into(&c, "#backup-passphrase", "ui state passphrase").await;
            type_into(&c, "#schedule-keep-daily", "7").await;
            click(&c, "#schedule-submit").await;
            let row = "tr[data-schedule='berth-state']";
            let does = wait_for(&c, &format!("{row} td:nth-child(2)")).await;
            assert!(does.text().await.unwrap().contains("Berth's own state"));
            let listed = api.call::<SchedulesList>(Empty {}).await.unwrap();
            let saved = &listed.schedules[0];
            assert_eq!(saved.spec.action, ScheduleAction::StateBackup);
            assert!(saved.encrypted && saved.spec.targets.is_empty());
            let retention = saved.spec.backup.as_ref().and_then(|b| b.retention.clone());
            assert_eq!(retention.and_then(|r| r.daily), Some(7));
            click(&c, &format!("{row} .schedule-run")).await;
            click(&c, "#nav-jobs").await;
            wait_for_work(
                &c,
                "#jobs-table tr[data-kind='statebackup'][data-state='complete']",
            )
            .await;

            // An operator sees the schedule, but neither the action nor its buttons.
            click(&c, "#logout").await;
            wait_for(&c, "main[data-page='login'] #login-user").await;
            login(&c, &url, "otto", "password-of-otto").await;
            click(&c, "#nav-schedules").await;
            wait_for(&c, row).await;
            assert!(
                c.find(Locator::Css(&format!("{row} .schedule-run")))
                    .await
                    .is_err()
            );
            let offered = c
                .find_all(Locator::Css(
                    "#schedule-action option[value='state_backup']",
                ))
                .await
                .unwrap();
            assert!(offered.is_empty());
        })
        .await;
}
