//! `GET /metrics`: off by default; on, it answers API tokens and the addresses of
//! `metrics_open_to` and nobody else; what it serves passes `promtool check metrics`
//! and a real Prometheus scrapes it — the last successful backup per target and per
//! schedule, jobs by outcome, schedule intervals — with the shipped alert rules
//! loaded and healthy.

use berth_protocol::api::backups::{BackupQuery, BackupTarget};
use berth_protocol::api::catalogue::{
    BackupsList, JobsGet, SchedulesCreate, SchedulesRunNow, TokensCreate,
};
use berth_protocol::api::jobs::{JobRef, JobState};
use berth_protocol::api::schedules::{ScheduleAction, ScheduleBackup, ScheduleRef, ScheduleSpec};
use berth_protocol::api::tokens::CreateToken;
use berth_protocol::role::Role;
use berth_tests::docker::Scope;
use berth_tests::jobs::{back_up, end_state};
use berth_tests::prometheus::{Prometheus, deployed, promtool};
use berth_tests::server::Berth;
use berth_tests::ws;
use reqwest::{StatusCode, header};

async fn viewer_token(admin: &berth_client::Client) -> String {
    admin
        .call::<TokensCreate>(CreateToken {
            name: "prometheus".into(),
            role: Some(Role::Viewer),
            expires_in_days: None,
        })
        .await
        .unwrap()
        .secret
}

async fn scrape(berth: &Berth, token: Option<&str>) -> reqwest::Response {
    let mut request = berth.get("/metrics");
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_by_default_then_need_a_token_or_an_open_address() {
    let (_tmp, off) = ws::start().await;
    assert_eq!(scrape(&off, None).await.status(), StatusCode::NOT_FOUND);
    drop(off);

    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_METRICS", "on")
            .env("BERTH_METRICS_OPEN_TO", "10.9.9.0/24");
    })
    .await;
    let refused = scrape(&berth, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().contains_key(header::WWW_AUTHENTICATE));
    let forged = scrape(&berth, Some("berth_not-a-real-token")).await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);

    let admin = ws::admin(&berth).await;
    let token = viewer_token(&admin).await;
    let answer = scrape(&berth, Some(&token)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = answer.text().await.unwrap();
    for needle in [
        "berth_build_info{version=\"",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "berth_docker_up 1",
        "berth_containers{state=\"dead\"} ",
        "berth_websocket_connections 1",
        "berth_requests_total{method=\"tokens.create\",outcome=\"ok\"} 1",
        "berth_request_duration_seconds_count{method=\"tokens.create\"} 1",
        "berth_plugin_healthy{instance=\"local\",plugin=\"storage-local\"} 1",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    let lint = promtool(&["check", "metrics"], text.as_bytes());
    assert!(
        lint.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );

    let (_tmp, open) = ws::start_with(|c| {
        c.env("BERTH_METRICS", "on")
            .env("BERTH_METRICS_OPEN_TO", "127.0.0.1");
    })
    .await;
    assert_eq!(scrape(&open, None).await.status(), StatusCode::OK);
}

#[test]
fn the_shipped_alert_rules_check_and_fire_on_what_they_should() {
    let rules = deployed("alerts.yml");
    let check = promtool(&["check", "rules", rules.to_str().unwrap()], b"");
    assert!(check.status.success(), "{check:?}");
    // The unit tests name their rule file relative to themselves.
    let tests = deployed("alerts.test.yml");
    let run = std::process::Command::new("promtool")
        .args(["test", "rules", "alerts.test.yml"])
        .current_dir(tests.parent().unwrap())
        .output()
        .expect("promtool runs");
    assert!(
        run.status.success(),
        "promtool test rules: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_sees_backups_jobs_and_schedules() {
    let scope = Scope::new().await;
    let volume = scope.create_volume("metrics").await;
    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_METRICS", "on");
    })
    .await;
    let admin = ws::admin(&berth).await;
    let target = BackupTarget::Volume {
        name: volume.clone(),
    };
    back_up(&admin, target.clone(), None).await;
    admin
        .call::<SchedulesCreate>(ScheduleSpec {
            name: "nightly".into(),
            cron: "0 3 * * *".into(),
            zone: Some("UTC".into()),
            targets: vec![target],
            ..Default::default()
        })
        .await
        .unwrap();
    let run = admin
        .call::<SchedulesRunNow>(ScheduleRef {
            name: "nightly".into(),
        })
        .await
        .unwrap();
    assert_eq!(end_state(&admin, &run.jobs[0]).await.0, JobState::Complete);
    let newest = admin
        .call::<BackupsList>(BackupQuery::default())
        .await
        .unwrap()
        .backups
        .into_iter()
        .map(|b| b.created_ms)
        .max()
        .unwrap();

    // Berth's own state, on a schedule: not in the catalogue, counted from its job.
    admin
        .call::<SchedulesCreate>(ScheduleSpec {
            name: "berth-state".into(),
            cron: "15 3 * * *".into(),
            zone: Some("UTC".into()),
            action: ScheduleAction::StateBackup,
            backup: Some(ScheduleBackup {
                passphrase: Some("metrics state passphrase".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let state_run = admin
        .call::<SchedulesRunNow>(ScheduleRef {
            name: "berth-state".into(),
        })
        .await
        .unwrap();
    let state_job = &state_run.jobs[0];
    assert_eq!(end_state(&admin, state_job).await.0, JobState::Complete);
    let state_at = admin
        .call::<JobsGet>(JobRef {
            id: state_job.clone(),
        })
        .await
        .unwrap()
        .job
        .finished_ms
        .unwrap();

    let port: u16 = berth.url.rsplit(':').next().unwrap().parse().unwrap();
    let prometheus = Prometheus::scraping(port, &viewer_token(&admin).await);
    let value = |series: &serde_json::Value| -> f64 {
        series["value"][1].as_str().unwrap().parse().unwrap()
    };
    let last = prometheus
        .series(&format!(
            "berth_backup_last_success_timestamp_seconds{{kind=\"volume\",target=\"{volume}\"}}"
        ))
        .await;
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(value(&last[0]), newest as f64 / 1000.0);
    assert_eq!(last[0]["metric"]["host"], "local");
    let by_schedule = prometheus
        .series("berth_schedule_last_success_timestamp_seconds{schedule=\"nightly\"}")
        .await;
    assert_eq!(value(&by_schedule[0]), newest as f64 / 1000.0);
    let interval = prometheus
        .series("berth_schedule_interval_seconds{schedule=\"nightly\"}")
        .await;
    assert_eq!(value(&interval[0]), 86_400.0);
    let jobs = prometheus
        .series("berth_jobs_total{kind=\"backup\",outcome=\"complete\"}")
        .await;
    assert_eq!(value(&jobs[0]), 2.0);
    let state_at = state_at as f64 / 1000.0;
    for series in [
        "berth_state_backup_last_success_timestamp_seconds",
        "berth_schedule_last_success_timestamp_seconds{schedule=\"berth-state\"}",
    ] {
        let found = prometheus.series(series).await;
        assert_eq!(found.len(), 1, "{series}: {found:?}");
        assert_eq!(value(&found[0]), state_at, "{series}");
    }
    let state_jobs = prometheus
        .series("berth_jobs_total{kind=\"state_backup\",outcome=\"complete\"}")
        .await;
    assert_eq!(value(&state_jobs[0]), 1.0);

    // The shipped rules load and evaluate against these series, and none fires.
    let rules = prometheus.evaluated_rules().await;
    assert_eq!(rules.len(), 6, "{rules:?}");
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule}");
    }
    let alerts = prometheus.api("alerts").await;
    assert_eq!(alerts["alerts"], serde_json::json!([]), "{alerts}");
}
