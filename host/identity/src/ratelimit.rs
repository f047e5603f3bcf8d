//! Brute-force defence for logins: per-IP and per-user failure counters with
//! exponential lockout.
//!
//! After [`FREE_FAILURES`] failures a key is locked for the base lockout; every further
//! failure doubles it, up to [`MAX_LOCKOUT`]. A success clears the user's and the IP's
//! counters. Counters forget failures older than [`WINDOW`]. State is in memory: a
//! restart forgives, which is acceptable because a restart is not something an attacker
//! can trigger.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the first lockout.
pub const FREE_FAILURES: u32 = 5;
/// Failures older than this are forgotten.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Bound on tracked keys, so a flood of distinct names cannot grow memory without limit.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    User(String),
}

#[derive(Debug)]
pub struct LoginLimiter {
    base_lockout: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl LoginLimiter {
    pub fn new(base_lockout: Duration) -> Self {
        Self {
            base_lockout,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(remaining)` while either the IP or the user is locked out.
    pub fn check(&self, ip: IpAddr, user: &str, now: Instant) -> Result<(), Duration> {
        let entries = self.entries.lock().expect("limiter lock");
        Self::locked(&entries, ip, user, now).map_or(Ok(()), Err)
    }

    fn locked(
        entries: &HashMap<Key, Entry>,
        ip: IpAddr,
        user: &str,
        now: Instant,
    ) -> Option<Duration> {
        [Key::Ip(ip), Key::User(user.to_owned())]
            .iter()
            .filter_map(|k| entries.get(k).and_then(|e| e.locked_until))
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Starts one password check: refused (`Err(remaining)`) while the IP or the user
    /// is locked out; otherwise the attempt is counted as a failure *now*, in the same
    /// step, so parallel guesses cannot all pass the check before any is counted. A
    /// success then clears the counters ([`Self::success`]); an attempt that turns out
    /// not to be a guess (a right password still waiting for its code, or one never
    /// evaluated) is handed back with [`Self::refund`].
    pub fn begin(&self, ip: IpAddr, user: &str, now: Instant) -> Result<(), Duration> {
        let mut entries = self.entries.lock().expect("limiter lock");
        if let Some(remaining) = Self::locked(&entries, ip, user, now) {
            return Err(remaining);
        }
        self.count(&mut entries, ip, user, now);
        Ok(())
    }

    /// Records a failed attempt; returns the lockout it caused, if any.
    pub fn failure(&self, ip: IpAddr, user: &str, now: Instant) -> Option<Duration> {
        let mut entries = self.entries.lock().expect("limiter lock");
        self.count(&mut entries, ip, user, now)
    }

    fn count(
        &self,
        entries: &mut HashMap<Key, Entry>,
        ip: IpAddr,
        user: &str,
        now: Instant,
    ) -> Option<Duration> {
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| now.duration_since(e.last_failure) < WINDOW);
        }
        if entries.len() >= MAX_KEYS {
            // A flood of distinct names inside the window: keep only what is locked, so
            // memory stays bounded while real lockouts survive.
            entries.retain(|_, e| e.locked_until.is_some_and(|u| u > now));
        }
        if entries.len() >= MAX_KEYS {
            entries.clear();
        }
        let mut longest = None;
        for key in [Key::Ip(ip), Key::User(user.to_owned())] {
            let e = entries.entry(key).or_insert(Entry {
                failures: 0,
                last_failure: now,
                locked_until: None,
            });
            if now.duration_since(e.last_failure) >= WINDOW {
                *e = Entry {
                    failures: 0,
                    last_failure: now,
                    locked_until: None,
                };
            }
            e.failures += 1;
            e.last_failure = now;
            if e.failures >= FREE_FAILURES {
                let doublings = (e.failures - FREE_FAILURES).min(16);
                let lockout = (self.base_lockout * 2u32.pow(doublings)).min(MAX_LOCKOUT);
                e.locked_until = Some(now + lockout);
                longest = longest.max(Some(lockout));
            }
        }
        longest
    }

    /// Hands back an attempt [`Self::begin`] counted that was not a guess.
    pub fn refund(&self, ip: IpAddr, user: &str) {
        let mut entries = self.entries.lock().expect("limiter lock");
        for key in [Key::Ip(ip), Key::User(user.to_owned())] {
            if let Some(e) = entries.get_mut(&key) {
                e.failures = e.failures.saturating_sub(1);
                if e.failures < FREE_FAILURES {
                    e.locked_until = None;
                }
            }
        }
    }

    /// A successful login clears the counters of that user and IP.
    pub fn success(&self, ip: IpAddr, user: &str) {
        let mut entries = self.entries.lock().expect("limiter lock");
        entries.remove(&Key::Ip(ip));
        entries.remove(&Key::User(user.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9));

    #[test]
    fn locks_after_free_failures_and_doubles() {
        let l = LoginLimiter::new(Duration::from_secs(30));
        let t0 = Instant::now();
        for i in 0..FREE_FAILURES - 1 {
            assert_eq!(l.failure(IP, "alice", t0), None, "failure {i} is free");
            assert!(l.check(IP, "alice", t0).is_ok());
        }
        assert_eq!(l.failure(IP, "alice", t0), Some(Duration::from_secs(30)));
        assert_eq!(l.check(IP, "alice", t0), Err(Duration::from_secs(30)));
        // The user is locked from any address, the address for any user.
        assert!(l.check(OTHER_IP, "alice", t0).is_err());
        assert!(l.check(IP, "bob", t0).is_err());
        assert!(l.check(OTHER_IP, "bob", t0).is_ok());
        // Expires…
        let later = t0 + Duration::from_secs(31);
        assert!(l.check(IP, "alice", later).is_ok());
        // …and the next failure doubles it.
        assert_eq!(l.failure(IP, "alice", later), Some(Duration::from_secs(60)));
    }

    #[test]
    fn lockout_is_capped_and_success_clears() {
        let l = LoginLimiter::new(Duration::from_secs(30));
        let t0 = Instant::now();
        let mut last = None;
        for _ in 0..40 {
            last = l.failure(IP, "alice", t0);
        }
        assert_eq!(last, Some(MAX_LOCKOUT));
        l.success(IP, "alice");
        assert!(l.check(IP, "alice", t0).is_ok());
    }

    #[test]
    fn distinct_names_cannot_grow_memory_without_bound() {
        let l = LoginLimiter::new(Duration::from_secs(30));
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            l.failure(IP, "victim", t0);
        }
        for i in 0..MAX_KEYS + 10 {
            l.failure(OTHER_IP, &format!("name{i}"), t0);
            assert!(l.entries.lock().unwrap().len() <= MAX_KEYS + 1);
        }
        assert!(
            l.check(OTHER_IP, "victim", t0).is_err(),
            "the real lockout survived the flood"
        );
    }

    #[test]
    fn parallel_attempts_are_counted_as_they_begin() {
        let l = std::sync::Arc::new(LoginLimiter::new(Duration::from_secs(30)));
        let t0 = Instant::now();
        let admitted: u32 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..100)
                .map(|_| {
                    let l = &l;
                    s.spawn(move || u32::from(l.begin(IP, "alice", t0).is_ok()))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(
            admitted, FREE_FAILURES,
            "only the free attempts are evaluated"
        );
        // A refunded attempt (not a guess) gives its place back.
        let l = LoginLimiter::new(Duration::from_secs(30));
        for _ in 0..FREE_FAILURES {
            l.begin(IP, "bob", t0).unwrap();
        }
        assert!(l.begin(IP, "bob", t0).is_err());
        l.refund(IP, "bob");
        assert!(l.begin(IP, "bob", t0).is_ok());
    }

    #[test]
    fn old_failures_are_forgotten() {
        let l = LoginLimiter::new(Duration::from_secs(30));
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            l.failure(IP, "alice", t0);
        }
        assert_eq!(
            l.failure(IP, "alice", t0 + WINDOW),
            None,
            "the window restarted"
        );
    }
}
