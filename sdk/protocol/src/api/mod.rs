//! Parameters and results of the v1 methods and channel kinds, one module per noun.
//!
//! The host's method registry names these types for every method it serves, so the
//! JSON Schema in `docs/protocol.schema.json` documents each call; the web UI and the
//! client SDK use the same types.

pub mod audit;
pub mod auth;
pub mod backups;
pub mod catalogue;
pub mod containers;
pub mod events;
pub mod hosts;
pub mod images;
pub mod jobs;
pub mod networks;
pub mod plugins;
pub mod schedules;
pub mod settings;
pub mod stacks;
pub mod streams;
pub mod system;
pub mod tokens;
pub mod transfers;
pub mod users;
pub mod volumes;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// No parameters, or no result: `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Empty {}

/// Milliseconds since the Unix epoch as RFC 3339 (UTC, seconds precision).
pub fn rfc3339(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    // Civil-from-days (Howard Hinnant), so this crate needs no date library.
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses what [`rfc3339`] writes (and any `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) back
/// to milliseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac_ms = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        let ms = format!("{:0<3}", &f[..digits.min(3)]);
        frac_ms = ms.parse().ok()?;
        rest = &f[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") => {
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let o = oh * 3600 + om * 60;
            if &rest[..1] == "-" { -o } else { o }
        }
        _ => return None,
    };
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    u64::try_from(secs * 1000 + frac_ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_305_600_000), "2026-11-22T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2026-11-22T01:00:00+01:00"),
            Some(1_795_305_600_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T00:00:00.25Z"),
            Some(1_795_305_600_250)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-22T00:00:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(secs in 0u64..4_102_444_800) {
            prop_assert_eq!(parse_rfc3339(&rfc3339(secs * 1000)), Some(secs * 1000));
        }
    }
}
