//! `system.info`, `state.backup` and the `system.stats` channel.

use crate::hoststats::HostStats;
use berth_docker::hosts::Hosts;
use std::path::Path;
use std::sync::Arc;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    DiagSpeedtest, StateBackup as StateBackupM, SystemInfo as SystemInfoM,
    SystemStats as SystemStatsK,
};
use berth_protocol::api::system::{
    DockerCounts, DockerVersion, SpeedtestParams, StateBackupParams, StateBackupResult, SystemInfo,
    SystemStatsParams,
};
use berth_protocol::error::ErrorBody;

use crate::server::{DataRoot, Uptime};
use crate::ws::outbox::ChannelSink;
use crate::ws::registry::{ChannelEnd, Registry, bad_field, blocking};
use berth_engine::Engine;
use berth_identity::principal::Principal;

/// Largest speed test.
const SPEEDTEST_MAX: u64 = 1 << 30;
use crate::errors::WireResult;

/// Bytes under `dir`, not following symlinks.
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned())
}

pub fn register(r: &mut Registry) {
    r.method(SystemInfoM, info);
    r.method(StateBackupM, state_backup);

    r.channel(SystemStatsK, stats);
    r.channel(DiagSpeedtest, speedtest);
}

/// `state.backup`: queued as a job (it runs in turn with backups and restores, and
/// shows on the Jobs page), answered when the job has written, read back and checked
/// it. A caller that goes away leaves the job running.
async fn state_backup(
    (engine, principal): (Arc<Engine>, Principal),
    params: StateBackupParams,
) -> Result<StateBackupResult, ErrorBody> {
    use berth_engine::jobs::Output;
    let (watcher, mut told) = tokio::sync::mpsc::channel(1);
    let job = berth_engine::state::job::queue(
        &engine,
        params.storage.as_deref(),
        &params.passphrase,
        principal.actor(),
        Some(watcher),
    )
    .wire()?;
    match told.recv().await {
        Some(Output::StateBackup(written)) => Ok(StateBackupResult {
            storage: written.storage,
            key: written.key,
            size: written.size,
            sha256: written.sha256,
            tables: u32::try_from(written.tables).unwrap_or(u32::MAX),
            job: Some(job),
        }),
        Some(Output::Failed { kind, message }) => {
            Err(ErrorBody::new(crate::errors::code(kind), message))
        }
        // The job was cancelled before it ran (its watcher dropped unanswered).
        _ => Err(ErrorBody::new(
            berth_protocol::error::ErrorCode::Cancelled,
            format!("the state backup job {job} was cancelled"),
        )),
    }
}

fn stats(
    (hosts, stats): (Arc<Hosts>, Arc<HostStats>),
    params: SystemStatsParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    hosts.get(params.host.as_deref()).wire()?;
    // The shared sampler writes into this channel's outbox directly; the producer only
    // has to live as long as the channel.
    stats.subscribe(sink.clone());
    Ok(async move {
        sink.closed().await;
        Ok(None)
    })
}

fn speedtest(
    (): (),
    params: SpeedtestParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    if !(1..=SPEEDTEST_MAX).contains(&params.bytes) {
        return Err(bad_field("bytes", format!("between 1 and {SPEEDTEST_MAX}")));
    }
    Ok(send_zeros(params.bytes, sink))
}

/// `bytes` of test data as fast as the channel's credit lets them go.
async fn send_zeros(bytes: u64, sink: ChannelSink) -> ChannelEnd {
    use berth_protocol::frame::{HEADER_LEN, MAX_PAYLOAD, Stream};
    // One 32 KiB frame, encoded once and shared: the writer sends it without copying,
    // so the test measures the link and not this producer.
    let frame = sink.encode_frame(Stream::Stdout, &vec![0x5a; MAX_PAYLOAD]);
    let mut left = bytes;
    while left > 0 {
        let n = left.min(MAX_PAYLOAD as u64) as usize;
        // Backpressure: waits while the channel's queue is full (no credit).
        let sent = if n == MAX_PAYLOAD {
            sink.send_frame(frame.clone()).await
        } else {
            sink.send_bytes(Stream::Stdout, frame.slice(HEADER_LEN..HEADER_LEN + n))
                .await
        };
        if sent.is_err() {
            return Ok(None);
        }
        left -= n as u64;
    }
    Ok(Some(serde_json::json!({ "bytes": bytes })))
}

async fn info(
    (engine, data_root, uptime): (Arc<Engine>, DataRoot, Uptime),
    _: Empty,
) -> Result<SystemInfo, ErrorBody> {
    let host = engine.hosts.local();
    let docker = host.conn.probe().await;
    let info = match host.docker().await {
        Ok(d) => d.info().await.ok(),
        Err(_) => None,
    };
    let store = Arc::clone(&engine.store);
    let (data_dir, bytes, schema) = blocking(move || {
        let bytes = dir_bytes(&data_root.0);
        let schema = store
            .schema_version()
            .map_err(|e| crate::ws::registry::internal(&e))?;
        Ok((data_root.0.display().to_string(), bytes, schema))
    })
    .await?;
    Ok(SystemInfo {
        version: crate::VERSION.to_owned(),
        uptime_s: uptime.0.as_secs(),
        data_dir,
        data_dir_bytes: bytes,
        store_schema: schema,
        host_os: os_name(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        compose: berth_engine::stacks::manage::compose_cli().await,
        docker_error: docker.as_ref().err().map(ToString::to_string),
        docker: docker.ok().map(|e| DockerVersion {
            version: e.version,
            api_version: e.api_version,
            os: info.as_ref().and_then(|i| i.operating_system.clone()),
            counts: info.as_ref().map(|i| DockerCounts {
                containers_running: i.containers_running.unwrap_or(0).max(0) as u64,
                containers_paused: i.containers_paused.unwrap_or(0).max(0) as u64,
                containers_stopped: i.containers_stopped.unwrap_or(0).max(0) as u64,
                images: i.images.unwrap_or(0).max(0) as u64,
            }),
        }),
    })
}
