//! Scheduler figures (issue 26), against the release binary and the real engine, each
//! beside a baseline measured in the same run:
//!
//! - firing accuracy: due time → job queued, p50/p99 over `BENCH_FIRINGS` (default
//!   200) firings of a schedule every second, with 1,000 other schedules loaded (goal
//!   p99 ≤ 50 ms), against a bare `tokio::time::sleep_until` loop in this process over
//!   the same seconds;
//! - 1,000 schedules loaded: idle CPU over 20 s (goal ≈ 0: nothing polls) and RSS
//!   growth (goal ≤ 2 MB), against the same Berth before they were created, and a
//!   Berth restarted with them against one started without them; start-up
//!   (exec → `/readyz` 200, and the scheduler's first pass over them) with them
//!   (goal ≤ 150 ms), against the same data directory without them;
//! - `schedules.retention_preview` over 10,000 catalogued backups (goal ≤ 50 ms),
//!   against the policy alone on the same backups in this process.
//!
//! Run with `cargo xtask bench`. Writes `target/bench/schedules.md`. Everything it
//! creates in Docker carries the test label and is removed at the end.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_client::Client;
use berth_engine::backup::catalog::CatalogTable;
use berth_engine::schedule::retention::{self, Candidate};
use berth_protocol::api::backups::{BackupTarget, Consistency};
use berth_protocol::api::catalogue::{
    JobsList, SchedulesCreate, SchedulesEnable, SchedulesHistory, SchedulesRetentionPreview,
    SchedulesRunNow,
};
use berth_protocol::api::jobs::{JobState, JobsQuery};
use berth_protocol::api::schedules::{
    HistoryQuery, Retention, RetentionPreviewParams, ScheduleAction, ScheduleBackup,
    ScheduleEnable, ScheduleRef, ScheduleSpec,
};
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::jobs::end_state;
use berth_tests::server::{Berth, Process, serve_command};
use berth_tests::ws;
use berth_tests::{cpu_time, ms, pct};

const SCHEDULES: usize = 1_000;
const BACKUPS: usize = 10_000;
const IDLE: Duration = Duration::from_secs(20);
const STARTS: usize = 5;
const PREVIEWS: usize = 20;

fn command(data_dir: &Path) -> std::process::Command {
    let mut cmd = serve_command(data_dir);
    cmd.env("BERTH_ADMIN_PASSWORD", ws::ADMIN_PASSWORD)
        .env("BERTH_LOG_LEVEL", "info");
    cmd
}

async fn start(data_dir: &Path) -> Berth {
    let berth = Berth::start_with(command(data_dir), data_dir).await;
    berth.wait_ready().await;
    berth
}

fn stop(mut berth: Berth) {
    berth.process.signal(libc::SIGTERM);
    berth
        .process
        .wait(Duration::from_secs(30))
        .expect("berth stops");
}

/// exec → first `/readyz` 200 (polled every 0.5 ms: this is the measurement), and
/// the scheduler's first pass as it logs it (µs).
fn time_to_ready(data_dir: &Path) -> (Duration, u64, Process) {
    let t0 = Instant::now();
    let process = Process::spawn(command(data_dir));
    let line = process
        .wait_for_line(Duration::from_secs(30), |l| {
            l.contains("listening on http://")
        })
        .expect("berth listens");
    let addr: String = line[line.find("http://").unwrap() + 7..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":.".contains(*c))
        .collect();
    loop {
        if berth_tests::http_status(&addr, "/readyz") == Some(200) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "not ready in 30 s");
        std::thread::sleep(Duration::from_micros(500));
    }
    let ready = t0.elapsed();
    let pass = process
        .wait_for_line(Duration::from_secs(30), |l| l.contains("scheduler started"))
        .expect("the scheduler starts");
    let elapsed_us = pass
        .split("elapsed_us=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ready, elapsed_us, process)
}

fn stop_process(mut process: Process) {
    process.signal(libc::SIGTERM);
    process.wait(Duration::from_secs(30)).expect("berth stops");
}

/// Median exec → ready and median scheduler pass over `STARTS` starts.
fn starts(data_dir: &Path) -> (f64, f64) {
    let (mut ready, mut pass) = (Vec::new(), Vec::new());
    for _ in 0..STARTS {
        let (r, p, process) = time_to_ready(data_dir);
        ready.push(ms(r));
        pass.push(p as f64 / 1e3);
        stop_process(process);
    }
    (pct(&mut ready, 0.5), pct(&mut pass, 0.5))
}

fn container(name: &str) -> BackupTarget {
    BackupTarget::Container {
        name: name.to_owned(),
    }
}

/// Idle CPU (ms over [`IDLE`]) and RSS (bytes) of a running Berth.
async fn idle(berth: &Berth) -> (f64, u64) {
    let pid = berth.process.pid();
    let before = cpu_time(pid);
    tokio::time::sleep(IDLE).await;
    (ms(cpu_time(pid) - before), ws::rss_bytes(pid))
}

async fn create_many(op: &Client, app: &str) {
    for i in 0..SCHEDULES {
        op.call::<SchedulesCreate>(ScheduleSpec {
            name: format!("daily-{i:04}"),
            cron: format!("{} {} * * *", i % 60, (i / 60) % 24),
            zone: Some("UTC".into()),
            action: ScheduleAction::Start,
            targets: vec![container(app)],
            ..Default::default()
        })
        .await
        .unwrap();
    }
}

/// 1,000 schedules: idle CPU and RSS growth, start-up; then firing accuracy with them
/// loaded.
async fn load_and_firing_figures(scope: &Scope) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let app = scope.name("sched-bench");
    scope
        .container("sched-bench")
        .sh("sleep 3600")
        .start()
        .await;
    stop(start(&data_dir).await);
    let (ready0, pass0) = starts(&data_dir);
    let berth = start(&data_dir).await;
    let op = ws::admin(&berth).await;
    let (cpu0, rss0) = idle(&berth).await;
    let t = Instant::now();
    create_many(&op, &app).await;
    let create_ms = ms(t.elapsed()) / SCHEDULES as f64;
    let (cpu1, rss1) = idle(&berth).await;
    drop(op);
    stop(berth);
    let (ready1, pass1) = starts(&data_dir);
    let berth = start(&data_dir).await;
    let op = ws::admin(&berth).await;
    // What loading them costs, apart from creating them (validation, audit records
    // and redb's page cache grown by the writes).
    let (cpu2, rss2) = idle(&berth).await;
    let firing = firing_figures(&op, &app).await;
    stop(berth);
    let growth = rss1 as f64 / 1e6 - rss0 as f64 / 1e6;
    let restarted = rss2 as f64 / 1e6 - rss0 as f64 / 1e6;
    format!(
        "| {SCHEDULES} schedules loaded: idle CPU over {}s (ms) | {cpu1:.0} | {cpu0:.0} (none loaded) | — | ≈ 0 |\n\
         | {SCHEDULES} schedules loaded: RSS after creating them through the API (MB) | {:.1} | {:.1} (none loaded) | +{growth:.2} MB | growth ≤ 2 MB |\n\
         | {SCHEDULES} schedules loaded: restarted with them, idle CPU over {}s (ms) / RSS (MB) | {cpu2:.0} / {:.1} | {cpu0:.0} / {:.1} (started without them) | +{restarted:.2} MB | growth ≤ 2 MB |\n\
         | start-up with {SCHEDULES} schedules: exec → /readyz, median of {STARTS} (ms) | {ready1:.1} | {ready0:.1} (none) | {:.2}× | ≤ 150 ms |\n\
         | start-up: the scheduler's first pass over them, median (ms) | {pass1:.2} | {pass0:.2} (none) | — | (within the above) |\n\
         | schedules.create, validated against Docker, per schedule (ms) | {create_ms:.2} | — | — | — |\n\
         {firing}",
        IDLE.as_secs(),
        rss1 as f64 / 1e6,
        rss0 as f64 / 1e6,
        IDLE.as_secs(),
        rss2 as f64 / 1e6,
        rss0 as f64 / 1e6,
        ready1 / ready0,
    )
}

/// A schedule every second, `BENCH_FIRINGS` times: due → job queued (the job's
/// `created_ms`), beside `sleep_until` on the same whole seconds in this process.
async fn firing_figures(op: &Client, app: &str) -> String {
    let firings: usize = std::env::var("BENCH_FIRINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    op.call::<SchedulesCreate>(ScheduleSpec {
        name: "every-second".into(),
        cron: "* * * * * *".into(),
        zone: Some("UTC".into()),
        action: ScheduleAction::Start,
        targets: vec![container(app)],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut baseline = Vec::new();
    let now = chrono::Utc::now();
    let first = now.timestamp_millis() / 1000 + 1;
    for s in first..first + firings as i64 + 1 {
        let wait = (s * 1000 - chrono::Utc::now().timestamp_millis()).max(0) as u64;
        tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(wait)).await;
        baseline.push((chrono::Utc::now().timestamp_millis() - s * 1000) as f64);
    }
    op.call::<SchedulesEnable>(ScheduleEnable {
        name: "every-second".into(),
        enabled: false,
    })
    .await
    .unwrap();
    let runs = op
        .call::<SchedulesHistory>(HistoryQuery {
            name: Some("every-second".into()),
            limit: Some(1_000),
        })
        .await
        .unwrap()
        .runs;
    let jobs = op
        .call::<JobsList>(JobsQuery {
            limit: Some(1_000),
            ..Default::default()
        })
        .await
        .unwrap()
        .jobs;
    let mut late: Vec<f64> = runs
        .iter()
        .filter_map(|r| {
            let job = jobs.iter().find(|j| r.jobs.first() == Some(&j.id))?;
            Some(job.created_ms.saturating_sub(r.due_ms) as f64)
        })
        .collect();
    let skipped = runs.len() - late.len();
    let (p50, p99) = (pct(&mut late, 0.5), pct(&mut late, 0.99));
    let (b50, b99) = (pct(&mut baseline, 0.5), pct(&mut baseline, 0.99));
    format!(
        "| firing: due → job queued, p50 / p99 (ms), {} firings ({skipped} skipped: previous run active) | {p50:.0} / {p99:.0} | {b50:.0} / {b99:.0} (sleep_until in the bench) | p99 +{:.0} ms | p99 ≤ 50 ms |\n",
        late.len(),
        p99 - b99
    )
}

/// 10,000 backups of one container in the catalog, made by one schedule: one real
/// backup, cloned into the store while Berth is stopped.
async fn retention_figures(scope: &Scope) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let app = scope.name("keep-bench");
    scope.container("keep-bench").sh("sleep 3600").start().await;
    let policy = Retention {
        last: Some(3),
        daily: Some(7),
        weekly: Some(4),
        monthly: Some(12),
        yearly: Some(3),
        ..Default::default()
    };
    let berth = start(&data_dir).await;
    let op = ws::admin(&berth).await;
    op.call::<SchedulesCreate>(ScheduleSpec {
        name: "keep".into(),
        cron: "0 0 1 1 *".into(),
        zone: Some("UTC".into()),
        targets: vec![container(&app)],
        backup: Some(ScheduleBackup {
            consistency: Some(Consistency::Hot),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let run = op
        .call::<SchedulesRunNow>(ScheduleRef {
            name: "keep".into(),
        })
        .await
        .unwrap();
    assert_eq!(end_state(&op, &run.jobs[0]).await.0, JobState::Complete);
    drop(op);
    stop(berth);
    let candidates = seed(&data_dir);
    let berth = start(&data_dir).await;
    let op = ws::admin(&berth).await;
    let mut api = Vec::new();
    for _ in 0..PREVIEWS {
        let t = Instant::now();
        let p = op
            .call::<SchedulesRetentionPreview>(RetentionPreviewParams {
                schedule: "keep".into(),
                retention: Some(policy.clone()),
                target_retention: None,
            })
            .await
            .unwrap();
        api.push(ms(t.elapsed()));
        assert_eq!(p.groups[0].backups.len(), BACKUPS + 1);
    }
    stop(berth);
    let mut pure = Vec::new();
    for _ in 0..PREVIEWS {
        let t = Instant::now();
        let plan = retention::plan(&candidates, &policy, chrono_tz::Tz::UTC);
        pure.push(ms(t.elapsed()));
        assert_eq!(plan.len(), BACKUPS + 1);
    }
    let (a50, a_max) = (pct(&mut api, 0.5), pct(&mut api, 1.0));
    let p50 = pct(&mut pure, 0.5);
    format!(
        "| schedules.retention_preview over {} backups, median / max of {PREVIEWS} (ms) | {a50:.1} / {a_max:.1} | {p50:.1} (the policy alone, in process) | {:.1}× | ≤ 50 ms |\n",
        BACKUPS + 1,
        a50 / p50
    )
}

/// Writes [`BACKUPS`] copies of the one catalogued backup, an hour apart going back,
/// in one transaction; returns every backup as a retention candidate.
fn seed(data_dir: &Path) -> Vec<Candidate> {
    let store =
        berth_core::store::Store::open(&data_dir.join("berth.redb"), berth_server::server::TABLES)
            .expect("the store opens");
    let real = store.backups().unwrap().remove(0);
    let records: Vec<_> = (0..BACKUPS)
        .map(|i| {
            let mut rec = real.clone();
            rec.entry.id = format!("b-seed-{i:06}");
            rec.entry.created_ms = real.entry.created_ms - (i as u64 + 1) * 3_600_000;
            rec
        })
        .collect();
    store.put_backups(&records).unwrap();
    std::iter::once(&real)
        .chain(&records)
        .map(|r| Candidate {
            id: r.entry.id.clone(),
            created_ms: r.entry.created_ms,
            pinned: false,
        })
        .collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let md = rt.block_on(async {
        let scope = Scope::new().await;
        ensure_test_image(&scope.docker).await;
        let mut md =
            String::from("| figure | Berth | baseline | ratio | goal |\n|---|---|---|---|---|\n");
        md += &retention_figures(&scope).await;
        md += &load_and_firing_figures(&scope).await;
        md
    });
    print!("{md}");
    berth_tests::write_bench_report("schedules", &md);
}
