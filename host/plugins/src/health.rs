//! How a plugin's calls have been going: `healthy` until a call fails, `degraded` after
//! one failure, `unhealthy` after [`UNHEALTHY_AFTER`] in a row; one success restores
//! it. Every session starts from a fresh instance, so recovery needs nothing but a call
//! that works — and an unhealthy plugin gets such a call without waiting for users: the
//! host probes it ([`HealthBook::due`]) after [`FIRST_PROBE`], doubling the wait after
//! each failed probe up to [`MAX_PROBE`], so a broken plugin is not hammered.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{HealthReport, HealthStatus};

/// Consecutive failed calls that make a plugin unhealthy.
pub const UNHEALTHY_AFTER: u32 = 3;
/// The wait before the first recovery probe of an unhealthy plugin.
pub const FIRST_PROBE: Duration = Duration::from_secs(2);
/// The longest wait between recovery probes.
pub const MAX_PROBE: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Record {
    failures: u32,
    last: String,
    backoff: Duration,
    probe_at: Instant,
}

#[derive(Debug, Default)]
pub struct HealthBook {
    by_plugin: Mutex<HashMap<String, Record>>,
    /// Plugins that just turned unhealthy (id, last failure), for the notifiers.
    turned: Mutex<Vec<(String, String)>>,
    /// Signalled when a plugin turns unhealthy, so whoever probes and notifies can
    /// sleep while all is well (a stored permit means no turn is missed).
    wake: std::sync::Arc<tokio::sync::Notify>,
}

impl HealthBook {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        // Counters stay meaningful even if a holder panicked.
        self.by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn ok(&self, id: &str) {
        self.lock().remove(id);
    }

    pub fn failed(&self, id: &str, why: &str) {
        self.failed_at(id, why, Instant::now());
    }

    fn failed_at(&self, id: &str, why: &str, now: Instant) {
        let mut g = self.lock();
        let r = g.entry(id.to_owned()).or_insert(Record {
            failures: 0,
            last: String::new(),
            backoff: Duration::ZERO,
            probe_at: now,
        });
        r.failures += 1;
        r.last = why.to_owned();
        if r.failures == UNHEALTHY_AFTER {
            let mut t = self.turned.lock().unwrap_or_else(PoisonError::into_inner);
            // Bounded: a consumer that never comes cannot make this grow.
            if t.len() < 64 {
                t.push((id.to_owned(), why.to_owned()));
            }
            self.wake.notify_one();
        }
        if r.failures >= UNHEALTHY_AFTER {
            r.backoff = if r.backoff.is_zero() {
                FIRST_PROBE
            } else {
                (r.backoff * 2).min(MAX_PROBE)
            };
            r.probe_at = now + r.backoff;
        }
    }

    /// Unhealthy plugins whose next recovery probe is due; each is claimed (its next
    /// probe moved a full backoff on), so concurrent callers do not probe twice.
    pub fn due(&self, now: Instant) -> Vec<String> {
        let mut g = self.lock();
        g.iter_mut()
            .filter(|(_, r)| r.failures >= UNHEALTHY_AFTER && r.probe_at <= now)
            .map(|(id, r)| {
                r.probe_at = now + r.backoff;
                id.clone()
            })
            .collect()
    }

    /// Signalled whenever a plugin turns unhealthy.
    pub fn wake(&self) -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::clone(&self.wake)
    }

    /// When the next recovery probe is due, if any plugin is unhealthy.
    pub fn next_due(&self) -> Option<Instant> {
        self.lock()
            .values()
            .filter(|r| r.failures >= UNHEALTHY_AFTER)
            .map(|r| r.probe_at)
            .min()
    }

    /// The plugins that turned unhealthy since the last call, with why.
    pub fn take_turned(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.turned.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn report(&self, id: &str) -> HealthReport {
        self.report_at(id, Instant::now())
    }

    fn report_at(&self, id: &str, now: Instant) -> HealthReport {
        match self.lock().get(id) {
            None => HealthReport {
                status: HealthStatus::Healthy,
                message: String::new(),
            },
            Some(r) if r.failures >= UNHEALTHY_AFTER => HealthReport {
                status: HealthStatus::Unhealthy,
                message: format!(
                    "{} failed call(s) in a row; last: {}; next recovery check in {} s",
                    r.failures,
                    r.last,
                    r.probe_at.saturating_duration_since(now).as_secs()
                ),
            },
            Some(r) => HealthReport {
                status: HealthStatus::Degraded,
                message: format!("{} failed call(s) in a row; last: {}", r.failures, r.last),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_degrade_then_condemn_and_one_success_heals() {
        let b = HealthBook::default();
        assert_eq!(b.report("p").status, HealthStatus::Healthy);
        b.failed("p", "trap");
        assert_eq!(b.report("p").status, HealthStatus::Degraded);
        b.failed("p", "trap");
        b.failed("p", "timeout");
        let r = b.report("p");
        assert_eq!(r.status, HealthStatus::Unhealthy);
        assert!(r.message.contains("timeout"));
        b.failed("p", "again");
        assert_eq!(
            b.take_turned(),
            [("p".to_owned(), "timeout".to_owned())],
            "reported once, when it turned"
        );
        assert!(b.take_turned().is_empty());
        b.ok("p");
        assert_eq!(b.report("p").status, HealthStatus::Healthy);
    }

    #[test]
    fn recovery_probes_back_off_exponentially_up_to_a_cap() {
        let b = HealthBook::default();
        let t0 = Instant::now();
        b.failed_at("p", "x", t0);
        b.failed_at("p", "x", t0);
        assert!(b.due(t0 + MAX_PROBE).is_empty(), "degraded is not probed");
        b.failed_at("p", "x", t0);
        assert!(b.due(t0).is_empty());
        assert_eq!(b.next_due(), Some(t0 + FIRST_PROBE));
        assert_eq!(b.due(t0 + FIRST_PROBE), ["p"]);
        assert!(b.due(t0 + FIRST_PROBE).is_empty(), "claimed");
        // Each failed probe doubles the wait.
        let mut wait = FIRST_PROBE;
        let mut now = t0 + FIRST_PROBE;
        for _ in 0..12 {
            b.failed_at("p", "probe failed", now);
            wait = (wait * 2).min(MAX_PROBE);
            assert!(b.due(now + wait - Duration::from_millis(1)).is_empty());
            assert!(
                b.report_at("p", now)
                    .message
                    .contains(&format!("in {} s", wait.as_secs()))
            );
            now += wait;
            assert_eq!(b.due(now), ["p"]);
        }
        assert_eq!(wait, MAX_PROBE);
        b.ok("p");
        assert!(b.due(now + MAX_PROBE).is_empty());
        assert_eq!(b.next_due(), None, "nothing to wait for");
    }
}
