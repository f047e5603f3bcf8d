//! How a plugin's calls have been going: `healthy` until a call fails, `degraded` after
//! one failure, `unhealthy` after [`UNHEALTHY_AFTER`] in a row; one success restores
//! it. Every session starts from a fresh instance, so recovery needs nothing but a call
//! that works.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{HealthReport, HealthStatus};

/// Consecutive failed calls that make a plugin unhealthy.
pub const UNHEALTHY_AFTER: u32 = 3;

#[derive(Debug, Default)]
pub struct HealthBook {
    by_plugin: Mutex<HashMap<String, (u32, String)>>,
}

impl HealthBook {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (u32, String)>> {
        // Counters stay meaningful even if a holder panicked.
        self.by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub fn ok(&self, id: &str) {
        self.lock().remove(id);
    }

    pub fn failed(&self, id: &str, why: &str) {
        let mut g = self.lock();
        let e = g.entry(id.to_owned()).or_insert((0, String::new()));
        e.0 += 1;
        e.1 = why.to_owned();
    }

    pub fn report(&self, id: &str) -> HealthReport {
        match self.lock().get(id) {
            None => HealthReport {
                status: HealthStatus::Healthy,
                message: String::new(),
            },
            Some((n, why)) => HealthReport {
                status: if *n >= UNHEALTHY_AFTER {
                    HealthStatus::Unhealthy
                } else {
                    HealthStatus::Degraded
                },
                message: format!("{n} failed call(s) in a row; last: {why}"),
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
        b.ok("p");
        assert_eq!(b.report("p").status, HealthStatus::Healthy);
    }
}
