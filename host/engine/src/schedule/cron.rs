//! Cron expressions, matched against wall-clock time: 5 fields (minute hour
//! day-of-month month day-of-week), 6 with seconds first, or a macro (`@hourly`,
//! `@daily`, `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`). Day of month
//! and day of week combine as in Vixie cron: when both are restricted, either one
//! matching is enough. Time zones are [`super::timing`]'s concern, not this module's.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// How far ahead a match is looked for: long enough for 29 February on a Monday.
const SEARCH_YEARS: i32 = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "a cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first), not {0}"
    )]
    Fields(usize),
    #[error("unknown macro {0:?}: use @hourly, @daily, @weekly, @monthly or @yearly")]
    Macro(String),
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("the expression never matches (a day that does not exist, such as 31 February)")]
    Never,
}

/// One field's allowed values, bit `n` for value `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Set(u64);

impl Set {
    fn has(self, n: u32) -> bool {
        self.0 & (1 << n) != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: Set,
    minutes: Set,
    hours: Set,
    days: Set,
    months: Set,
    weekdays: Set,
    /// Whether day of month / day of week were `*` (Vixie's OR applies only when
    /// both are restricted).
    days_any: bool,
    weekdays_any: bool,
    /// The fields as written (macros expanded), for the description.
    fields: [String; 6],
    with_seconds: bool,
}

struct Spec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const SECOND: Spec = Spec {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Spec = Spec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Spec = Spec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Spec = Spec {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const WEEKDAY: Spec = Spec {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl Spec {
    fn error(&self, message: String) -> CronError {
        CronError::Field {
            field: self.name,
            message,
        }
    }

    fn value(&self, s: &str) -> Result<u32, CronError> {
        let lower = s.to_ascii_lowercase();
        let named = self.names.iter().position(|n| *n == lower);
        let offset = if self.names.len() == 12 { 1 } else { 0 };
        let v = match named {
            Some(i) => i as u32 + offset,
            None => s
                .parse::<u32>()
                .map_err(|_| self.error(format!("{s:?} is not a number")))?,
        };
        if v < self.min || v > self.max {
            return Err(self.error(format!("{v} is outside {}–{}", self.min, self.max)));
        }
        Ok(v)
    }

    fn parse(&self, field: &str) -> Result<Set, CronError> {
        let mut set = 0u64;
        for item in field.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let step: u32 = s.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        self.error(format!("step {s:?} is not a positive number"))
                    })?;
                    (r, step)
                }
                None => (item, 1),
            };
            let (low, high) = match range {
                "*" | "?" => (self.min, self.max),
                r => match r.split_once('-') {
                    Some((a, b)) => (self.value(a)?, self.value(b)?),
                    // `5/15`: from 5 to the end, every 15.
                    None if item.contains('/') => (self.value(r)?, self.max),
                    None => {
                        let v = self.value(r)?;
                        (v, v)
                    }
                },
            };
            if low > high {
                return Err(self.error(format!("range {range:?} runs backwards")));
            }
            for v in (low..=high).step_by(step as usize) {
                set |= 1 << v;
            }
        }
        if self.names.len() == 7 && set & (1 << 7) != 0 {
            // 7 is Sunday too.
            set = (set | 1) & !(1 << 7);
        }
        Ok(Set(set))
    }
}

fn expand_macro(expr: &str) -> Result<&'static str, CronError> {
    Ok(match expr.to_ascii_lowercase().as_str() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        _ => return Err(CronError::Macro(expr.to_owned())),
    })
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Self, CronError> {
        let expr = expr.trim();
        let text = if expr.starts_with('@') {
            expand_macro(expr)?
        } else {
            expr
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (with_seconds, fields): (bool, [&str; 6]) = match parts[..] {
            [mi, h, d, mo, w] => (false, ["0", mi, h, d, mo, w]),
            [s, mi, h, d, mo, w] => (true, [s, mi, h, d, mo, w]),
            _ => return Err(CronError::Fields(parts.len())),
        };
        let any = |f: &str| f == "*" || f == "?";
        let cron = Self {
            seconds: SECOND.parse(fields[0])?,
            minutes: MINUTE.parse(fields[1])?,
            hours: HOUR.parse(fields[2])?,
            days: DAY.parse(fields[3])?,
            months: MONTH.parse(fields[4])?,
            weekdays: WEEKDAY.parse(fields[5])?,
            days_any: any(fields[3]),
            weekdays_any: any(fields[5]),
            fields: fields.map(str::to_owned),
            with_seconds,
        };
        let start = NaiveDate::from_ymd_opt(2000, 1, 1)
            .expect("a date")
            .and_time(NaiveTime::MIN);
        cron.next_match(start).ok_or(CronError::Never)?;
        Ok(cron)
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.days.has(date.day());
        let dow = self.weekdays.has(date.weekday().num_days_from_sunday());
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first wall-clock time at or after `from` (rounded up to a whole second)
    /// that matches; `None` when none does within the search horizon.
    pub fn next_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut t = from.with_nanosecond(0)?;
        if t < from {
            t += Duration::seconds(1);
        }
        let horizon = from.year() + SEARCH_YEARS;
        while t.year() <= horizon {
            let date = t.date();
            if !self.months.has(t.month()) {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = NaiveDate::from_ymd_opt(y, m, 1)?.and_time(NaiveTime::MIN);
            } else if !self.day_matches(date) {
                t = date.succ_opt()?.and_time(NaiveTime::MIN);
            } else if !self.hours.has(t.hour()) {
                t = date.and_hms_opt(t.hour(), 0, 0)? + Duration::hours(1);
            } else if !self.minutes.has(t.minute()) {
                t = date.and_hms_opt(t.hour(), t.minute(), 0)? + Duration::minutes(1);
            } else if !self.seconds.has(t.second()) {
                t += Duration::seconds(1);
            } else {
                return Some(t);
            }
        }
        None
    }

    /// The expression in words: "At 02:30, Monday to Friday".
    pub fn describe(&self) -> String {
        super::describe::describe(&self.fields, self.with_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn fields_macros_and_names_parse() {
        let c = Cron::parse("30 2 * * mon-fri").unwrap();
        // 2026-12-05 is a Saturday: the next weekday 02:30 is Monday the 7th.
        assert_eq!(
            c.next_match(at("2026-12-05 03:00:00")),
            Some(at("2026-12-07 02:30:00"))
        );
        let c = Cron::parse("*/5 * * * * *").unwrap();
        assert_eq!(
            c.next_match(at("2026-12-05 03:00:01")),
            Some(at("2026-12-05 03:00:05"))
        );
        let c = Cron::parse("@weekly").unwrap();
        assert_eq!(
            c.next_match(at("2026-12-05 03:00:00")),
            Some(at("2026-12-06 00:00:00"))
        );
        let c = Cron::parse("0 0 29 feb *").unwrap();
        assert_eq!(
            c.next_match(at("2026-12-05 03:00:00")),
            Some(at("2028-02-29 00:00:00"))
        );
        // Sunday as 7; day of month OR day of week when both are restricted.
        let c = Cron::parse("0 12 1 * 7").unwrap();
        assert_eq!(
            c.next_match(at("2026-12-02 00:00:00")),
            Some(at("2026-12-06 12:00:00"))
        );
        assert_eq!(
            c.next_match(at("2026-12-28 00:00:00")),
            Some(at("2027-01-01 12:00:00"))
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expr, needle) in [
            ("* * *", "not 3"),
            ("61 * * * *", "minute: 61 is outside 0–59"),
            ("0 0 31 2 *", "never matches"),
            ("0 0 * * mon-sun2", "day of week"),
            ("@fortnightly", "unknown macro"),
            ("*/0 * * * *", "step"),
            ("0 5-3 * * *", "backwards"),
        ] {
            let e = Cron::parse(expr).unwrap_err().to_string();
            assert!(e.contains(needle), "{expr}: {e}");
        }
    }
}
