//! Host CPU, memory, load and data-disk figures from /proc, sampled once a second by
//! one task and pushed into every `system.stats` subscriber's outbox ([`Fanout`]: no
//! task per subscriber). The sampler sleeps while nobody watches, so an idle Berth
//! spends no CPU on it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_protocol::api::rfc3339;
use berth_protocol::api::system::SystemStats;

use crate::ws::outbox::ChannelSink;
use berth_core::fanout::Fanout;

const INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct HostStats {
    subs: Fanout,
    /// The newest sample while the sampler runs, serialised once for everybody; a new
    /// subscriber gets it at once instead of waiting up to a second.
    latest: Mutex<Option<Arc<str>>>,
    data_dir: PathBuf,
}

impl HostStats {
    pub fn new(data_dir: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            subs: Fanout::default(),
            latest: Mutex::new(None),
            data_dir,
        })
    }

    fn latest(&self) -> std::sync::MutexGuard<'_, Option<Arc<str>>> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a subscriber (starting the sampler if it was idle); it leaves by closing
    /// its channel.
    pub fn subscribe(&self, sink: ChannelSink) {
        if let Some(s) = self.latest().clone() {
            // Closed already? Then the next sample forgets it.
            let _ = sink.replace_raw(s);
        }
        self.subs.join(Box::new(sink));
    }

    /// The sampler loop; spawned once at start.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.subs.subscribed().await;
            let mut prev = cpu_times();
            // A first sample right away, so a new dashboard is not blank for a second.
            let mut next = sample(&self.data_dir, prev, prev);
            loop {
                let encoded = encode(&next);
                *self.latest() = Some(Arc::clone(&encoded));
                if self.subs.replace_all(&encoded) == 0 {
                    break;
                }
                tokio::time::sleep(INTERVAL).await;
                let now = cpu_times();
                next = sample(&self.data_dir, prev, now);
                prev = now;
            }
            *self.latest() = None;
        }
    }
}

fn encode(s: &SystemStats) -> Arc<str> {
    Arc::from(serde_json::to_string(s).expect("stats serialise"))
}

/// (busy, total) jiffies of all CPUs.
fn cpu_times() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().next().filter(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

fn meminfo() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

fn loadavg() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .filter_map(|n| n.parse::<f64>().ok());
    [
        it.next().unwrap_or(0.0),
        it.next().unwrap_or(0.0),
        it.next().unwrap_or(0.0),
    ]
}

/// (total, free-to-unprivileged) bytes of the file system holding `path`.
pub fn disk(path: &Path) -> (u64, u64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return (0, 0);
    };
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated path and `st` points to writable memory of
    // the right type; statvfs only writes into it and we read it only on success.
    #[allow(unsafe_code)]
    let st = unsafe {
        if libc::statvfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return (0, 0);
        }
        st.assume_init()
    };
    let frsize = st.f_frsize as u64;
    (
        (st.f_blocks as u64).saturating_mul(frsize),
        (st.f_bavail as u64).saturating_mul(frsize),
    )
}

fn sample(data_dir: &Path, prev: (u64, u64), now: (u64, u64)) -> SystemStats {
    let dt = now.1.saturating_sub(prev.1);
    let cpu_percent = if dt == 0 {
        0.0
    } else {
        (now.0.saturating_sub(prev.0) as f64 * 100.0 / dt as f64).clamp(0.0, 100.0)
    };
    let (mem_total, mem_available) = meminfo();
    let (disk_total, disk_free) = disk(data_dir);
    let ts_ms = berth_identity::users::now_ms();
    SystemStats {
        time: rfc3339(ts_ms),
        ts_ms,
        cpu_percent: (cpu_percent * 10.0).round() / 10.0,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        mem_total,
        mem_used: mem_total.saturating_sub(mem_available),
        mem_available,
        load: loadavg(),
        disk_total,
        disk_free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_plausible() {
        let a = cpu_times();
        let s = sample(Path::new("/"), (0, 0), a);
        assert!(s.mem_total > 0 && s.mem_used <= s.mem_total);
        assert!(s.disk_total > 0 && s.disk_free <= s.disk_total);
        assert!((0.0..=100.0).contains(&s.cpu_percent));
        assert!(s.cpus >= 1);
    }
}
