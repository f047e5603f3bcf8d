//! Which backups a retention policy keeps: restic `forget`'s rules over one target's
//! backups, newest first. A pure function of the catalogue and the policy, so the
//! preview and the prune after a scheduled backup cannot disagree.

use berth_protocol::api::schedules::{Retention, RetentionDecision};
use chrono::{DateTime, Datelike, Duration, Months, Timelike, Utc};
use chrono_tz::Tz;

/// Counts above this are refused (a typo, not a policy).
const MAX_COUNT: u32 = 100_000;

/// One backup the policy may keep or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub created_ms: u64,
    pub pinned: bool,
}

/// `within`'s duration: calendar months and years, plus days and hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Within {
    months: u32,
    hours: i64,
}

impl Within {
    /// `36h`, `7d`, `2w`, `6m`, `1y6m`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad =
            || format!("within {text:?}: use a number and a unit, y m w d h (such as 7d or 1y6m)");
        let mut within = Self::default();
        let mut digits = String::new();
        for c in text.trim().chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let n: u32 = digits.parse().map_err(|_| bad())?;
            digits.clear();
            match c {
                'y' => within.months += n.checked_mul(12).ok_or_else(bad)?,
                'm' => within.months += n,
                'w' => within.hours += i64::from(n) * 24 * 7,
                'd' => within.hours += i64::from(n) * 24,
                'h' => within.hours += i64::from(n),
                _ => return Err(bad()),
            }
        }
        if !digits.is_empty() || within == Self::default() {
            return Err(bad());
        }
        Ok(within)
    }

    fn before(self, t: DateTime<Utc>) -> DateTime<Utc> {
        t.checked_sub_months(Months::new(self.months))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
            - Duration::hours(self.hours)
    }
}

/// Refuses a policy that keeps by no rule (it would delete everything but the newest)
/// or has an absurd count.
pub fn validate(policy: &Retention) -> Result<(), String> {
    let counts = [
        policy.last,
        policy.hourly,
        policy.daily,
        policy.weekly,
        policy.monthly,
        policy.yearly,
    ];
    if counts.iter().all(Option::is_none) && policy.within.is_none() {
        return Err(
            "a retention policy needs at least one rule (last, within, hourly … yearly)".into(),
        );
    }
    if counts.iter().flatten().any(|n| *n == 0 || *n > MAX_COUNT) {
        return Err(format!("retention counts are 1 to {MAX_COUNT}"));
    }
    if let Some(w) = &policy.within {
        Within::parse(w)?;
    }
    Ok(())
}

/// A period, as a comparable key: (year, month or ISO week, day, hour).
type Period = (i32, u32, u32, u32);

/// A period rule: its name, how many periods, and the period of an instant.
type PeriodOf = fn(&DateTime<Tz>) -> Period;

fn rules(policy: &Retention) -> Vec<(&'static str, u32, PeriodOf)> {
    let all: [(&'static str, Option<u32>, PeriodOf); 5] = [
        ("hourly", policy.hourly, |t| {
            (t.year(), t.month(), t.day(), t.hour())
        }),
        ("daily", policy.daily, |t| (t.year(), t.month(), t.day(), 0)),
        ("weekly", policy.weekly, |t| {
            let w = t.iso_week();
            (w.year(), w.week(), 0, 0)
        }),
        ("monthly", policy.monthly, |t| (t.year(), t.month(), 0, 0)),
        ("yearly", policy.yearly, |t| (t.year(), 0, 0, 0)),
    ];
    all.into_iter()
        .filter_map(|(name, n, period)| Some((name, n?, period)))
        .collect()
}

/// The verdict on every candidate, newest first. The newest is always kept (a
/// target never loses its last backup to a policy), and so is every pinned one.
pub fn plan(candidates: &[Candidate], policy: &Retention, tz: Tz) -> Vec<RetentionDecision> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| {
        b.created_ms
            .cmp(&a.created_ms)
            .then_with(|| b.id.cmp(&a.id))
    });
    let time =
        |c: &Candidate| DateTime::from_timestamp_millis(c.created_ms as i64).unwrap_or_default();
    let cutoff = match (&policy.within, sorted.first()) {
        (Some(w), Some(newest)) => Within::parse(w).ok().map(|w| w.before(time(newest))),
        _ => None,
    };
    let mut periods: Vec<(&str, u32, PeriodOf, Option<Period>)> = rules(policy)
        .into_iter()
        .map(|(n, c, p)| (n, c, p, None))
        .collect();
    let mut last_left = policy.last.unwrap_or(0);
    sorted
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut reasons = Vec::new();
            if c.pinned {
                reasons.push("pinned".to_owned());
            }
            if last_left > 0 {
                last_left -= 1;
                reasons.push("last".to_owned());
            }
            if cutoff.is_some_and(|cut| time(c) >= cut) {
                reasons.push("within".to_owned());
            }
            let local = time(c).with_timezone(&tz);
            for (name, left, period, seen) in &mut periods {
                let p = period(&local);
                if *left > 0 && *seen != Some(p) {
                    *seen = Some(p);
                    *left -= 1;
                    reasons.push((*name).to_owned());
                }
            }
            if i == 0 && reasons.is_empty() {
                reasons.push("newest".to_owned());
            }
            RetentionDecision {
                id: c.id.clone(),
                created_ms: c.created_ms,
                keep: !reasons.is_empty(),
                reasons,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    const HOUR: u64 = 3_600_000;

    fn candidates(times: &[u64]) -> Vec<Candidate> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| Candidate {
                id: format!("b{i:04}"),
                created_ms: *t,
                pinned: false,
            })
            .collect()
    }

    fn kept(plan: &[RetentionDecision]) -> BTreeSet<String> {
        plan.iter()
            .filter(|d| d.keep)
            .map(|d| d.id.clone())
            .collect()
    }

    #[test]
    fn keep_last_keeps_the_newest_n_and_pins_survive() {
        let mut c = candidates(&[1, 2, 3, 4, 5].map(|h| h * HOUR));
        c[0].pinned = true;
        let policy = Retention {
            last: Some(2),
            ..Default::default()
        };
        let plan = plan(&c, &policy, Tz::UTC);
        assert_eq!(
            kept(&plan),
            ["b0000", "b0003", "b0004"].map(String::from).into()
        );
        assert_eq!(plan[0].reasons, ["last"]);
        assert_eq!(plan[4].reasons, ["pinned"]);
    }

    #[test]
    fn within_counts_back_from_the_newest_and_the_newest_always_stays() {
        let c = candidates(&[0, 10 * HOUR, 47 * HOUR, 48 * HOUR]);
        let policy = Retention {
            within: Some("1d".into()),
            ..Default::default()
        };
        assert_eq!(
            kept(&plan(&c, &policy, Tz::UTC)),
            ["b0002", "b0003"].map(String::from).into()
        );
        assert_eq!(Within::parse("1y6m").unwrap().months, 18);
        assert!(Within::parse("7").is_err() && Within::parse("3x").is_err());
        assert!(validate(&Retention::default()).is_err());
        assert!(
            validate(&Retention {
                daily: Some(0),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn days_are_counted_in_the_schedules_zone() {
        // 23:30 UTC and 00:30 UTC: one day in New York, two in UTC.
        let base = 1_796_428_800_000u64; // 2026-12-05T00:00:00Z
        let c = candidates(&[base - HOUR / 2, base + HOUR / 2]);
        let policy = Retention {
            daily: Some(5),
            ..Default::default()
        };
        assert_eq!(kept(&plan(&c, &policy, Tz::UTC)).len(), 2);
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(kept(&plan(&c, &policy, ny)).len(), 1);
    }

    /// The reference: for each rule, bucket every backup by period, take the newest
    /// of each bucket, keep the N newest buckets' picks.
    fn brute_force(c: &[Candidate], policy: &Retention, tz: Tz) -> BTreeSet<String> {
        let mut keep = BTreeSet::new();
        let mut by_time: Vec<&Candidate> = c.iter().collect();
        by_time.sort_by(|a, b| {
            b.created_ms
                .cmp(&a.created_ms)
                .then_with(|| b.id.cmp(&a.id))
        });
        for c in by_time.iter().take(policy.last.unwrap_or(0) as usize) {
            keep.insert(c.id.clone());
        }
        for (_, n, period) in rules(policy) {
            let mut buckets: BTreeMap<Period, &Candidate> = BTreeMap::new();
            for c in &by_time {
                let t = DateTime::from_timestamp_millis(c.created_ms as i64)
                    .unwrap()
                    .with_timezone(&tz);
                buckets.entry(period(&t)).or_insert(c);
            }
            for c in buckets.values().rev().take(n as usize) {
                keep.insert(c.id.clone());
            }
        }
        if let Some(newest) = by_time.first() {
            keep.insert(newest.id.clone());
        }
        keep
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn gfs_agrees_with_brute_force_over_periods(
            hours in prop::collection::vec(0u64..(24 * 800), 0..120),
            last in prop::option::of(1u32..5),
            hourly in prop::option::of(1u32..30),
            daily in prop::option::of(1u32..10),
            weekly in prop::option::of(1u32..6),
            monthly in prop::option::of(1u32..8),
            yearly in prop::option::of(1u32..3),
            zone in prop::sample::select(vec!["UTC", "Europe/Berlin", "Pacific/Auckland"]),
        ) {
            let base = 1_700_000_000_000u64;
            let c = candidates(&hours.iter().map(|h| base + h * HOUR + h % 7 * 60_000).collect::<Vec<_>>());
            let policy = Retention { last, hourly, daily, weekly, monthly, yearly, ..Default::default() };
            let tz: Tz = zone.parse().unwrap();
            prop_assert_eq!(kept(&plan(&c, &policy, tz)), brute_force(&c, &policy, tz));
        }
    }
}
