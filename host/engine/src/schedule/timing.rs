//! When a cron expression fires in a time zone, as instants. Wall-clock times are
//! matched by [`Cron`] and turned into instants here, DST-correct as cron users expect:
//! a time skipped by a spring-forward runs once, at the first instant after the gap;
//! a time repeated by a fall-back runs once, on its first pass.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::cron::Cron;

/// A time zone by its IANA name; `None` is the host's (UTC when it cannot be told).
pub fn zone(name: Option<&str>) -> Result<Tz, String> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n
            .parse::<Tz>()
            .map_err(|_| format!("{n:?} is not an IANA time zone name (such as Europe/Berlin)")),
        None => Ok(host_zone()),
    }
}

/// The host's time zone: `TZ`, then the system's, else UTC.
pub fn host_zone() -> Tz {
    std::env::var("TZ")
        .ok()
        .and_then(|z| z.trim_start_matches(':').parse().ok())
        .or_else(|| iana_time_zone::get_timezone().ok()?.parse().ok())
        .unwrap_or(Tz::UTC)
}

/// The instant a wall-clock time means in `tz` (see the module's DST rules).
fn instant_of(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => gap_end(tz, local),
    }
}

/// The first instant whose wall-clock time is past `local`, which the zone skips:
/// the end of the gap. Offsets are within ±14 h, so the answer lies in that window.
fn gap_end(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let as_utc = local.and_utc().timestamp();
    // Whole seconds: transitions fall on them.
    let (mut low, mut high) = (as_utc - 15 * 3600, as_utc + 15 * 3600);
    let past = |s: i64| {
        DateTime::from_timestamp(s, 0).is_some_and(|t| t.with_timezone(&tz).naive_local() > local)
    };
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if past(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    DateTime::from_timestamp(high, 0).unwrap_or_default()
}

/// The first instant after `after` at which `cron` fires in `tz`.
///
/// Wall-clock matches map to instants in non-decreasing order (first pass of a
/// repeated hour, end of a skipped one), and every match before `after`'s own
/// wall-clock time maps to `after` or earlier; so the first match from there whose
/// instant is later is the answer.
pub fn next_after(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut from = after.with_timezone(&tz).naive_local();
    // A repeated hour is at most a few thousand matches (one a second); a bound keeps
    // a pathological zone from looping.
    for _ in 0..100_000 {
        let local = cron.next_match(from)?;
        let at = instant_of(tz, local);
        if at > after {
            return Some(at);
        }
        from = local + Duration::seconds(1);
    }
    None
}

/// The next `count` firing instants after `after`.
pub fn next_runs(cron: &Cron, tz: Tz, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
    let mut runs = Vec::with_capacity(count);
    let mut t = after;
    while runs.len() < count {
        let Some(next) = next_after(cron, tz, t) else {
            break;
        };
        runs.push(next);
        t = next;
    }
    runs
}

/// A schedule's delay within its jitter for one due time: spread over the window,
/// the same for the same schedule and due time (so a preview tells the truth).
pub fn jitter(name: &str, due_ms: u64, window_s: u32) -> Duration {
    if window_s == 0 {
        return Duration::zero();
    }
    // FNV-1a: stable across builds, unlike the std hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain(due_ms.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Duration::milliseconds((h % (u64::from(window_s) * 1000)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn spring_forward_runs_once_at_the_end_of_the_gap() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let cron = Cron::parse("30 2 * * *").unwrap();
        // 2027-03-28: 02:00 CET becomes 03:00 CEST.
        let runs = next_runs(&cron, berlin, utc("2027-03-27T12:00:00Z"), 3);
        assert_eq!(
            runs,
            [
                utc("2027-03-28T01:00:00Z"), // 03:00 CEST, the first instant after the gap
                utc("2027-03-29T00:30:00Z"), // 02:30 CEST
                utc("2027-03-30T00:30:00Z"),
            ]
        );
    }

    #[test]
    fn fall_back_runs_once() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let cron = Cron::parse("30 2 * * *").unwrap();
        // 2027-10-31: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        let runs = next_runs(&cron, berlin, utc("2027-10-30T12:00:00Z"), 2);
        assert_eq!(
            runs,
            [utc("2027-10-31T00:30:00Z"), utc("2027-11-01T01:30:00Z")]
        );
        // Hourly across the repeated hour: 01:00, 02:00 (first pass), 03:00.
        let hourly = Cron::parse("0 * * * *").unwrap();
        let runs = next_runs(&hourly, berlin, utc("2027-10-30T22:30:00Z"), 3);
        assert_eq!(
            runs,
            [
                utc("2027-10-30T23:00:00Z"),
                utc("2027-10-31T00:00:00Z"),
                utc("2027-10-31T02:00:00Z")
            ]
        );
    }

    #[test]
    fn zones_are_named_or_refused() {
        assert!(zone(Some("America/New_York")).is_ok());
        assert!(zone(Some("Mars/Olympus")).unwrap_err().contains("IANA"));
        assert!(zone(None).is_ok());
    }

    #[test]
    fn jitter_is_stable_and_within_its_window() {
        let a = jitter("nightly", 1_000, 60);
        assert_eq!(a, jitter("nightly", 1_000, 60));
        assert!(a >= Duration::zero() && a < Duration::seconds(60));
        assert_eq!(jitter("nightly", 1_000, 0), Duration::zero());
    }
}

#[cfg(test)]
mod reference {
    //! An independent model: walk time minute by minute and fire whenever the wall
    //! clock passes a matching minute it has not passed before.
    use super::*;
    use chrono::{Datelike, Timelike};
    use proptest::prelude::*;

    fn matches(cron: &Cron, local: NaiveDateTime) -> bool {
        cron.next_match(local) == Some(local)
    }

    fn walk(cron: &Cron, tz: Tz, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut runs = Vec::new();
        let start = after.timestamp() / 60 * 60;
        let mut t = DateTime::from_timestamp(start, 0).unwrap();
        // The wall clock may have been later before `after` (a fall-back repeats up
        // to an hour or two): the minutes it passed then were passed, so look back.
        let mut high_water = (0..=180)
            .map(|back| {
                (t - Duration::minutes(back))
                    .with_timezone(&tz)
                    .naive_local()
            })
            .max()
            .unwrap();
        while runs.len() < count {
            t += Duration::minutes(1);
            let local = t.with_timezone(&tz).naive_local();
            let mut m = high_water + Duration::minutes(1);
            let mut fired = false;
            while m <= local {
                fired |= matches(cron, m);
                m += Duration::minutes(1);
            }
            if fired && t > after {
                runs.push(t);
            }
            high_water = high_water.max(local);
        }
        runs
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn next_runs_agree_with_a_minute_by_minute_walk(
            minute in 0u32..60,
            hour in prop_oneof![Just(1u32), Just(2), 0u32..24],
            every_hour in any::<bool>(),
            zone in prop::sample::select(vec!["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]),
            // Around the 2027 transitions of the zones above.
            day in prop::sample::select(vec![(3u32, 13u32), (3, 27), (4, 3), (10, 30), (11, 6)]),
            offset_min in 0i64..2880,
        ) {
            let expr = if every_hour { format!("{minute} * * * *") } else { format!("{minute} {hour} * * *") };
            let cron = Cron::parse(&expr).unwrap();
            let tz: Tz = zone.parse().unwrap();
            let base = Utc.with_ymd_and_hms(2027, day.0, day.1, 0, 0, 0).unwrap();
            let after = base + Duration::minutes(offset_min) - Duration::days(1);
            let count = if every_hour { 6 } else { 3 };
            let model = walk(&cron, tz, after, count);
            let ours = next_runs(&cron, tz, after, count);
            prop_assert_eq!(&ours, &model, "{} in {} after {}", expr, zone, after);
            for run in &ours {
                prop_assert_eq!(run.second(), 0);
                prop_assert!(run.year() == 2027);
            }
        }
    }
}
