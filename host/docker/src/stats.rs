//! Container figures for `container.stats`: one sampler per host, however many
//! clients watch, instead of one Docker stats stream per viewer.
//!
//! Every second, while anybody subscribes, the sampler lists the running containers,
//! asks Docker for a one-shot sample of each container somebody wants (a few at a
//! time), computes the figures the way `docker stats` does, serialises each once and
//! pushes it into every interested subscriber's outbox, keyed by container id (latest
//! value per container). It stops when the last subscriber leaves.
//!
//! One-shot samples carry no previous CPU reading, so the sampler keeps each
//! container's last one and reports a container from its second sample on: every CPU
//! figure sent is a real delta.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_protocol::api::rfc3339;
use berth_protocol::api::streams::ContainerStats;
use bollard::Docker;
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::{ListContainersOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt;

use super::hosts::Host;
use berth_core::fanout::Fanout;
use berth_core::fanout::Sink;

const INTERVAL: Duration = Duration::from_secs(1);
/// One-shot requests in flight at once: enough to sample 50 containers well within the
/// interval without flooding the daemon.
const CONCURRENCY: usize = 8;

/// What one subscriber watches: ids (full or a prefix of ≥ 4) or names; empty = all.
#[derive(Debug, Clone, Default)]
pub struct Filter(Arc<[String]>);

impl Filter {
    pub fn new(ids: Vec<String>) -> Self {
        Self(ids.into())
    }

    pub fn wants(&self, id: &str, name: &str) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|w| w == name || (w.len() >= 4 && id.starts_with(w.as_str())))
    }
}

/// A sample ready to send: the container it is about, and its JSON.
#[derive(Debug, Clone)]
struct Encoded {
    id: Arc<str>,
    name: String,
    json: Arc<str>,
}

/// CPU counters of the previous sample: (container total, system total).
type CpuMark = (u64, u64);

#[derive(Debug, Default)]
pub struct StatsHub {
    subs: Fanout<Filter>,
    /// The newest samples while the sampler runs, so a new subscriber gets figures at
    /// once instead of after up to two intervals.
    latest: Mutex<Vec<Encoded>>,
}

impl StatsHub {
    fn latest(&self) -> std::sync::MutexGuard<'_, Vec<Encoded>> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a subscriber (starting the sampler if it was idle); it leaves by closing
    /// its channel.
    pub fn subscribe(&self, sink: Sink, filter: Filter) {
        for e in self.latest().iter() {
            if filter.wants(&e.id, &e.name) {
                let _ = sink.replace_keyed(&e.id, Arc::clone(&e.json));
            }
        }
        self.subs.join_with(sink, filter);
    }

    /// Gives each subscriber the samples it wants; how many subscribers remain.
    fn deliver(&self, samples: &[Encoded]) -> usize {
        self.subs.deliver(|sink, f| {
            for e in samples.iter().filter(|e| f.wants(&e.id, &e.name)) {
                sink.replace_keyed(&e.id, Arc::clone(&e.json))?;
            }
            Ok(())
        })
    }
}

/// The sampler of `host`; spawned once per host.
pub async fn run(host: Arc<Host>) {
    let hub = &host.stats;
    loop {
        hub.subs.subscribed().await;
        let mut prev: HashMap<String, CpuMark> = HashMap::new();
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if hub.subs.is_empty() {
                break;
            }
            // While the daemon is away there is nothing to sample; the pump reports it.
            let Ok(d) = host.conn.client().await else {
                continue;
            };
            let samples = sample_once(&d, &hub.subs.filters(), &mut prev).await;
            let remaining = hub.deliver(&samples);
            *hub.latest() = samples;
            if remaining == 0 {
                break;
            }
        }
        hub.latest().clear();
    }
}

/// One round: the running containers somebody wants, sampled and encoded.
async fn sample_once(
    docker: &Docker,
    filters: &[Filter],
    prev: &mut HashMap<String, CpuMark>,
) -> Vec<Encoded> {
    let o = ListContainersOptionsBuilder::default()
        .filters(&HashMap::from([("status", vec!["running"])]))
        .build();
    let Ok(running) = docker.list_containers(Some(o)).await else {
        return Vec::new();
    };
    let wanted: Vec<(String, String)> = running
        .into_iter()
        .filter_map(|c| Some((c.id?, super::model::container_name(c.names.as_ref()))))
        .filter(|(id, name)| filters.iter().any(|f| f.wants(id, name)))
        .collect();
    let raw: Vec<(String, String, ContainerStatsResponse)> = futures_util::stream::iter(wanted)
        .map(|(id, name)| async move {
            let o = StatsOptionsBuilder::default()
                .stream(false)
                .one_shot(true)
                .build();
            let s = docker.stats(&id, Some(o)).next().await?.ok()?;
            Some((id, name, s))
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await;
    let ts_ms = berth_core::time::now_ms();
    let mut next_prev = HashMap::with_capacity(raw.len());
    let mut out = Vec::with_capacity(raw.len());
    for (id, name, s) in raw {
        let Some(mark) = cpu_mark(&s) else {
            continue; // stopped between the list and the sample
        };
        if let Some(stats) = prev
            .get(&id)
            .and_then(|p| figures(&id, &name, ts_ms, &s, *p))
        {
            out.push(Encoded {
                id: Arc::from(id.as_str()),
                name,
                json: Arc::from(serde_json::to_string(&stats).expect("stats serialise")),
            });
        }
        next_prev.insert(id, mark);
    }
    // Containers that stopped are forgotten, so a restart starts a fresh delta.
    *prev = next_prev;
    out
}

fn cpu_mark(s: &ContainerStatsResponse) -> Option<CpuMark> {
    let cpu = s.cpu_stats.as_ref()?;
    Some((cpu.cpu_usage.as_ref()?.total_usage?, cpu.system_cpu_usage?))
}

/// The figures of one sample, given the CPU counters of the previous one (the formulas
/// of docker/cli's `stats_helpers.go`); `None` when the container stopped meanwhile.
fn figures(
    id: &str,
    name: &str,
    ts_ms: u64,
    s: &ContainerStatsResponse,
    prev: CpuMark,
) -> Option<ContainerStats> {
    let (total, system) = cpu_mark(s)?;
    let cpu = s.cpu_stats.as_ref()?;
    let online = cpu.online_cpus.filter(|n| *n > 0).unwrap_or_else(|| {
        cpu.cpu_usage
            .as_ref()
            .and_then(|u| u.percpu_usage.as_ref())
            .map_or(1, |p| p.len().max(1) as u32)
    });
    let (dc, ds) = (total.checked_sub(prev.0), system.checked_sub(prev.1));
    let cpu_percent = match (dc, ds) {
        (Some(dc), Some(ds)) if ds > 0 => dc as f64 / ds as f64 * f64::from(online) * 100.0,
        _ => 0.0,
    };
    let mem = s.memory_stats.as_ref()?;
    let usage = mem.usage?;
    // cgroup v2 names the page cache `inactive_file`, v1 `total_inactive_file`.
    let cache = mem.stats.as_ref().and_then(|st| {
        st.get("inactive_file")
            .or_else(|| st.get("total_inactive_file"))
            .copied()
    });
    let mem_bytes = match cache {
        Some(c) if c < usage => usage - c,
        _ => usage,
    };
    let (net_rx, net_tx) = s.networks.iter().flatten().fold((0, 0), |(r, t), (_, n)| {
        (r + n.rx_bytes.unwrap_or(0), t + n.tx_bytes.unwrap_or(0))
    });
    let (blk_read, blk_write) = s
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref())
        .into_iter()
        .flatten()
        .fold((0, 0), |(r, w), e| {
            let v = e.value.unwrap_or(0);
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => (r + v, w),
                Some("write") => (r, w + v),
                _ => (r, w),
            }
        });
    Some(ContainerStats {
        id: id.to_owned(),
        name: name.to_owned(),
        time: rfc3339(ts_ms),
        ts_ms,
        cpu_percent: (cpu_percent * 100.0).round() / 100.0,
        mem_bytes,
        mem_limit: mem.limit.unwrap_or(0),
        net_rx,
        net_tx,
        blk_read,
        blk_write,
        pids: s.pids_stats.as_ref().and_then(|p| p.current),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(v2: bool) -> ContainerStatsResponse {
        let stats = if v2 {
            serde_json::json!({"inactive_file": 300, "anon": 700})
        } else {
            serde_json::json!({"total_inactive_file": 300, "cache": 500})
        };
        serde_json::from_value(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 3_000, "percpu_usage": [1, 2]},
                          "system_cpu_usage": 20_000, "online_cpus": if v2 { 4 } else { 0 }},
            "memory_stats": {"usage": 1_000, "limit": 8_000, "stats": stats},
            "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20},
                         "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": if v2 { "read" } else { "Read" }, "value": 4096},
                {"major": 8, "minor": 0, "op": if v2 { "write" } else { "Write" }, "value": 8192},
                {"major": 8, "minor": 0, "op": "Total", "value": 12288}]},
            "pids_stats": {"current": 3}
        }))
        .unwrap()
    }

    #[test]
    fn figures_follow_docker_stats_for_cgroup_v1_and_v2() {
        // v1: CPUs from percpu_usage (2), cache = total_inactive_file.
        let f = figures("abc", "web", 1, &sample(false), (1_000, 10_000)).unwrap();
        assert_eq!(f.cpu_percent, 40.0, "2,000 / 10,000 × 2 CPUs");
        assert_eq!(f.mem_bytes, 700);
        assert_eq!((f.net_rx, f.net_tx), (11, 22));
        assert_eq!((f.blk_read, f.blk_write), (4096, 8192));
        assert_eq!((f.mem_limit, f.pids), (8_000, Some(3)));
        // v2: online_cpus (4), cache = inactive_file, lower-case ops.
        let f = figures("abc", "web", 1, &sample(true), (1_000, 10_000)).unwrap();
        assert_eq!(f.cpu_percent, 80.0);
        assert_eq!(f.mem_bytes, 700);
        assert_eq!((f.blk_read, f.blk_write), (4096, 8192));
        // Counters that went backwards (a restart) give 0, not garbage.
        let f = figures("abc", "web", 1, &sample(true), (9_000, 10_000)).unwrap();
        assert_eq!(f.cpu_percent, 0.0);
    }

    #[test]
    fn filters_match_ids_prefixes_and_names() {
        let f = Filter::new(vec!["web".into(), "0123".into()]);
        assert!(f.wants("0123456789", "other"));
        assert!(f.wants("ffff", "web"));
        assert!(!f.wants("ffff", "db"));
        assert!(
            !Filter::new(vec!["012".into()]).wants("0123", "x"),
            "prefix too short"
        );
        assert!(Filter::default().wants("anything", "at all"));
    }
}
