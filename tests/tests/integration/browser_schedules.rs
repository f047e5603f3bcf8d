//! The Schedules page in a real browser: a schedule made with a preset, its meaning
//! and next runs shown as it is built, run now, the job it queued, the retention
//! preview when editing it, and its next run on the dashboard.

use berth_tests::browser::{Browser, click, login, type_into, wait_for, wait_for_work};
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
            c.find(Locator::Css("#schedule-preset"))
                .await
                .unwrap()
                .select_by_value("weekly")
                .await
                .unwrap();
            c.find(Locator::Css("#schedule-weekday"))
                .await
                .unwrap()
                .select_by_value("5")
                .await
                .unwrap();
            described("At 02:30, Friday").await;
            let next = c.find_all(Locator::Css("#schedule-next li")).await.unwrap();
            assert_eq!(next.len(), 5);
            type_into(&c, "#schedule-target", &app).await;
            type_into(&c, "#schedule-keep-last", "3").await;
            click(&c, "#schedule-submit").await;
            let row = "tr[data-schedule='ui-weekly']";
            wait_for(&c, &format!("{row} .schedule-next")).await;
            let when = wait_for(&c, &format!("{row} .schedule-when")).await;
            assert!(when.text().await.unwrap().contains("At 02:30, Friday"));
            click(&c, &format!("{row} .schedule-run")).await;
            c.wait()
                .for_element(Locator::XPath(
                    "//div[@id='schedules-result']/p[contains(., 'queued 1 job')]",
                ))
                .await
                .expect("run now says what it queued");
            click(&c, &format!("{row} .schedule-history")).await;
            wait_for(&c, "#schedule-runs tr[data-run]").await;
            click(&c, "#schedule-runs a").await;
            wait_for_work(
                &c,
                "#jobs-table tr[data-kind='backup'][data-state='complete']",
            )
            .await;
        })
        .await;
}
