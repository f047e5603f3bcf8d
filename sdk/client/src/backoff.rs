//! Jittered exponential backoff for reconnecting ("full jitter": a uniform delay between
//! zero and the current cap, so a fleet of clients does not reconnect in lockstep after
//! a restart).

use std::time::Duration;

/// Delays: attempt `n` waits a random time in `[0, min(max, base·2ⁿ)]`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(250), Duration::from_secs(30))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).expect("the OS random source works");
        let frac = u64::from_le_bytes(r) as f64 / u64::MAX as f64;
        cap.mul_f64(frac)
    }

    /// Call after a successful connection.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stay_within_it() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..12).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= Duration::from_millis(100));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(1)));
        assert!(delays.windows(2).any(|w| w[0] != w[1]), "jittered");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
