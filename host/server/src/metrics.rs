//! `GET /metrics`: Prometheus's text format, off unless `metrics = on`.
//!
//! Two kinds of series. Counted as things happen and kept for the process's life:
//! the process (CPU, memory, descriptors), build info, protocol requests by method and
//! outcome with their latency, jobs by kind and outcome with their durations
//! (`berth_engine::metrics`). Read at each scrape from what Berth already keeps: the
//! catalogue (last successful backup per target and per schedule, bytes per storage),
//! the schedules (next run, interval, failures in a row), plugin health, Docker's
//! reachability and its containers by state — so a deleted target's series goes away
//! instead of lingering with its last value.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_engine::Engine;
use berth_engine::prelude::*;
use berth_identity::prelude::*;
use berth_protocol::api::backups::BackupStatus;
use berth_protocol::error::{ErrorBody, ErrorCode};
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::server::{AppState, http_error};

/// Protocol calls take from a millisecond (a read) to minutes (a compose pull).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

/// How long a scrape waits for Docker before reporting it down.
const DOCKER_WAIT: Duration = Duration::from_secs(5);

/// The series counted as things happen.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The process's series, build info, requests, and the engine's job series.
    pub fn new(jobs: &berth_engine::metrics::JobMetrics) -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "berth_requests_total",
                "Protocol requests answered, by method and outcome (ok or the error code).",
            ),
            &["method", "outcome"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "berth_request_duration_seconds",
                "How long protocol requests took to answer, by method.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method"],
        )?;
        let build = IntGaugeVec::new(
            Opts::new(
                "berth_build_info",
                "The running Berth's version (always 1).",
            ),
            &["version"],
        )?;
        build.with_label_values(&[crate::VERSION]).set(1);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(build))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        jobs.register(&registry)?;
        Ok(Self {
            registry,
            requests,
            latency,
        })
    }

    /// Counts one answered request; `method` is `unknown` for names not in the
    /// catalogue (a client cannot grow the series without bound).
    pub fn observe_request(&self, method: &str, outcome: &str, took: Duration) {
        self.requests.with_label_values(&[method, outcome]).inc();
        self.latency
            .with_label_values(&[method])
            .observe(took.as_secs_f64());
    }
}

/// The handler: 404 while metrics are off, 401 without a token or an allowed
/// address, else every series.
pub async fn serve(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !state.metrics_access.enabled {
        return http_error(ErrorBody::new(
            ErrorCode::NotFound,
            "metrics are off; start Berth with `metrics = on` to serve them",
        ));
    }
    if let Err(refused) = authorise(&state, peer, &headers).await {
        return refused;
    }
    let mut families = state.metrics.registry.gather();
    families.extend(read_now(&state).await);
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    if let Err(e) = encoder.encode(&families, &mut body) {
        return http_error(crate::errors::internal(&e));
    }
    let mut response = (StatusCode::OK, body).into_response();
    if let Ok(kind) = HeaderValue::from_str(encoder.format_type()) {
        response.headers_mut().insert(header::CONTENT_TYPE, kind);
    }
    response
}

/// An address in `metrics_open_to`, or a token of any role (viewer is enough: the
/// series name targets and schedules, which every role may list).
async fn authorise(
    state: &Arc<AppState>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let client = crate::proxies::client(peer, headers, &state.trusted_proxies).addr(peer);
    if state
        .metrics_access
        .open_to
        .iter()
        .any(|c| c.contains(client.ip()))
    {
        return Ok(());
    }
    let unauthorised = |message: &str| {
        let mut r = http_error(ErrorBody::new(ErrorCode::Unauthenticated, message));
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"berth\""),
        );
        r
    };
    let Some(secret) = crate::login::bearer(headers) else {
        return Err(unauthorised(
            "send an API token (Authorization: Bearer …) or scrape from an address in metrics_open_to",
        ));
    };
    let store = Arc::clone(&state.engine.store);
    match tokio::task::spawn_blocking(move || store.authenticate(&secret)).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(unauthorised(
            "this token is not valid (revoked or expired?)",
        )),
        Ok(Err(e)) => Err(http_error(crate::errors::internal(&e))),
        Err(e) => Err(http_error(crate::errors::internal(&e))),
    }
}

/// The series read at this scrape.
async fn read_now(state: &Arc<AppState>) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    let connections = *state.websockets.borrow();
    families.extend(gauge(
        "berth_websocket_connections",
        "Open protocol WebSocket connections.",
        &[],
        [(vec![], connections as f64)],
    ));
    families.extend(docker(&state.engine).await);
    let engine = Arc::clone(&state.engine);
    match tokio::task::spawn_blocking(move || stored(&engine)).await {
        Ok(Ok(more)) => families.extend(more),
        Ok(Err(e)) => tracing::error!(error = %e, "metrics: cannot read the store"),
        Err(e) => tracing::error!(error = %e, "metrics: the store read panicked"),
    }
    families
}

/// One gauge family from `(label values, value)` pairs; nothing for no pairs.
fn gauge<I>(name: &str, help: &str, labels: &[&str], values: I) -> Vec<MetricFamily>
where
    I: IntoIterator<Item = (Vec<String>, f64)>,
{
    let Ok(family) = GaugeVec::new(Opts::new(name, help), labels) else {
        tracing::error!(name, "metrics: a gauge's name or labels are invalid");
        return Vec::new();
    };
    let mut any = false;
    for (label_values, value) in values {
        let refs: Vec<&str> = label_values.iter().map(String::as_str).collect();
        family.with_label_values(&refs).set(value);
        any = true;
    }
    if any { family.collect() } else { Vec::new() }
}

/// Whether the engine answers, and its containers by state.
async fn docker(engine: &Engine) -> Vec<MetricFamily> {
    let host = engine.hosts.local();
    let up = host.conn.probe().await.is_ok();
    let mut families = gauge(
        "berth_docker_up",
        "Whether the Docker engine answered this scrape (1) or not (0).",
        &[],
        [(vec![], if up { 1.0 } else { 0.0 })],
    );
    if !up {
        return families;
    }
    let listed = match host.docker().await {
        Ok(docker) => {
            let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .build();
            tokio::time::timeout(DOCKER_WAIT, docker.list_containers(Some(options))).await
        }
        Err(_) => return families,
    };
    let Ok(Ok(containers)) = listed else {
        return families;
    };
    // Every state Docker knows is reported, 0 included: "none running" is a value
    // to alert on, not a missing series.
    let mut by_state: BTreeMap<String, f64> = [
        "created",
        "running",
        "paused",
        "restarting",
        "removing",
        "exited",
        "dead",
    ]
    .into_iter()
    .map(|s| (s.to_owned(), 0.0))
    .collect();
    for c in containers {
        let state = c.state.map(|s| s.to_string()).unwrap_or_default();
        *by_state.entry(state).or_default() += 1.0;
    }
    families.extend(gauge(
        "berth_containers",
        "Containers on the Docker host, by state.",
        &["state"],
        by_state.into_iter().map(|(s, n)| (vec![s], n)),
    ));
    families
}

/// Milliseconds since the epoch as Prometheus's Unix seconds.
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// What the store says now: backups, schedules, plugin instances.
fn stored(engine: &Engine) -> Result<Vec<MetricFamily>, String> {
    let entries = engine.store.backup_entries().map_err(|e| e.to_string())?;
    let mut last_by_target: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    let mut last_by_schedule: BTreeMap<String, u64> = BTreeMap::new();
    let mut used: BTreeMap<String, u64> = BTreeMap::new();
    for e in &entries {
        for storage in e.storages() {
            *used.entry(storage.to_owned()).or_default() += e.size;
        }
        if e.status != BackupStatus::Complete {
            continue;
        }
        let target = vec![
            e.host.clone(),
            e.target.kind().to_owned(),
            e.target.name().to_owned(),
        ];
        let last = last_by_target.entry(target).or_default();
        *last = (*last).max(e.created_ms);
        if let Some(s) = &e.schedule {
            let last = last_by_schedule.entry(s.clone()).or_default();
            *last = (*last).max(e.created_ms);
        }
    }
    let last_state = state_backups(engine, &mut last_by_schedule)?;
    let mut families = gauge(
        "berth_state_backup_last_success_timestamp_seconds",
        "When the newest complete backup of Berth's own state was written (Unix time).",
        &[],
        last_state.map(|ms| (vec![], seconds(ms))),
    );
    families.extend(gauge(
        "berth_backup_last_success_timestamp_seconds",
        "When the newest complete backup of each target was made (Unix time).",
        &["host", "kind", "target"],
        last_by_target.into_iter().map(|(t, ms)| (t, seconds(ms))),
    ));
    families.extend(gauge(
        "berth_storage_used_bytes",
        "Bytes of backups in the catalogue on each storage instance (copies included).",
        &["storage"],
        used.into_iter().map(|(s, n)| (vec![s], n as f64)),
    ));
    families.extend(schedules(engine, last_by_schedule)?);
    families.extend(plugins(engine)?);
    Ok(families)
}

/// The newest complete state backup in the job history, also counted as its
/// schedule's newest backup (so `BerthBackupOverdue` covers `state_backup`
/// schedules too). State backups are not in the catalogue: the jobs are their record.
fn state_backups(
    engine: &Engine,
    last_by_schedule: &mut BTreeMap<String, u64>,
) -> Result<Option<u64>, String> {
    use berth_engine::jobs::JobsTable;
    use berth_protocol::api::jobs::{JobKind, JobState};
    let mut newest = None;
    for job in engine.store.jobs().map_err(|e| e.to_string())? {
        let info = job.info;
        if info.kind != JobKind::StateBackup || info.progress.state != JobState::Complete {
            continue;
        }
        let at = info.finished_ms.unwrap_or(info.created_ms);
        newest = newest.max(Some(at));
        if let Some(schedule) = info.actor.strip_prefix("schedule:") {
            let last = last_by_schedule.entry(schedule.to_owned()).or_default();
            *last = (*last).max(at);
        }
    }
    Ok(newest)
}

/// Each schedule's next run, interval, failures in a row, and newest backup.
fn schedules(
    engine: &Engine,
    last_backup: BTreeMap<String, u64>,
) -> Result<Vec<MetricFamily>, String> {
    let list = berth_engine::schedule::manage::list(engine).map_err(|e| e.to_string())?;
    let mut families = gauge(
        "berth_schedule_last_success_timestamp_seconds",
        "When the newest complete backup a backup (or state_backup) schedule made was taken (Unix time).",
        &["schedule"],
        last_backup
            .into_iter()
            .map(|(s, ms)| (vec![s], seconds(ms))),
    );
    families.extend(gauge(
        "berth_schedule_next_run_timestamp_seconds",
        "When each enabled schedule runs next (Unix time).",
        &["schedule"],
        list.iter().filter_map(|s| {
            let next = *s.next_runs.first()?;
            Some((vec![s.spec.name.clone()], seconds(next)))
        }),
    ));
    families.extend(gauge(
        "berth_schedule_interval_seconds",
        "The time between each enabled schedule's next two runs.",
        &["schedule"],
        list.iter().filter_map(|s| match s.next_runs.as_slice() {
            [first, second, ..] => Some((
                vec![s.spec.name.clone()],
                seconds(second.saturating_sub(*first)),
            )),
            _ => None,
        }),
    ));
    families.extend(gauge(
        "berth_schedule_consecutive_failures",
        "Runs of each schedule that failed in a row, up to now.",
        &["schedule"],
        list.iter()
            .map(|s| (vec![s.spec.name.clone()], f64::from(s.failures))),
    ));
    Ok(families)
}

/// Each plugin instance's health (the built-in `local` storage included): 1 while its
/// plugin's calls work, 0 once they fail in a row.
fn plugins(engine: &Engine) -> Result<Vec<MetricFamily>, String> {
    let mut instances: Vec<(String, String)> = vec![("local".into(), "storage-local".into())];
    instances.extend(
        engine
            .store
            .instances()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| (r.name, r.plugin)),
    );
    Ok(gauge(
        "berth_plugin_healthy",
        "Whether each plugin instance's plugin is healthy (1) or unhealthy (0).",
        &["instance", "plugin"],
        instances.into_iter().map(|(name, plugin)| {
            let healthy = engine.plugins.call_health(&plugin).status
                != berth_plugins::HealthStatus::Unhealthy;
            (vec![name, plugin], if healthy { 1.0 } else { 0.0 })
        }),
    ))
}
