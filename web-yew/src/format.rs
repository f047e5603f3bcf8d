//! Numbers and times for people, and the `key=value` lines people type.

use std::collections::BTreeMap;

use berth_protocol::error::{ErrorBody, ErrorCode};

/// A byte count: GiB, MiB or KiB.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", n / (1u64 << 30) as f64)
    } else if n >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", n / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", n / 1024.0)
    }
}

/// A size Docker reports signed, where negative means unknown.
pub fn signed_bytes(n: i64) -> String {
    bytes(n.max(0) as u64)
}

/// A moment as `2026-12-04 18:46:44` (UTC).
pub fn when(ms: u64) -> String {
    berth_protocol::api::rfc3339(ms)
        .replace('T', " ")
        .replace('Z', "")
}

/// How far `ms` is from `now_ms` in words: "just now", "3 min ago", "in 2 h",
/// "5 days ago" — what people read at a glance; the exact moment goes in a tooltip.
pub fn relative(ms: u64, now_ms: u64) -> String {
    let (delta, past) = if ms <= now_ms {
        (now_ms - ms, true)
    } else {
        (ms - now_ms, false)
    };
    let seconds = delta / 1000;
    let amount = match seconds {
        0..45 => return "just now".to_owned(),
        45..5_400 => format!("{} min", (seconds + 30) / 60),
        5_400..129_600 => format!("{} h", (seconds + 1_800) / 3_600),
        129_600..3_888_000 => format!("{} days", (seconds + 43_200) / 86_400),
        _ => format!("{} months", (seconds + 1_296_000) / 2_592_000),
    };
    if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// An optional field: `None` when left empty, else exactly what was typed.
pub fn given(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// `key=value` lines (labels, environment, driver options) → a map; blank lines are
/// skipped, a value may hold `=`, a line without a key is refused naming `field`.
pub fn pairs(field: &str, text: &str) -> Result<BTreeMap<String, String>, ErrorBody> {
    let mut map = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                map.insert(key.trim().to_owned(), value.trim().to_owned());
            }
            _ => {
                return Err(ErrorBody::new(
                    ErrorCode::BadRequest,
                    format!("{field}: write {line:?} as key=value"),
                ));
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn moments_read_as_distances() {
        let now = 10_000_000_000;
        let ago = |s: u64| relative(now - s * 1000, now);
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(44), "just now");
        assert_eq!(ago(45), "1 min ago");
        assert_eq!(ago(3 * 60), "3 min ago");
        assert_eq!(ago(89 * 60), "89 min ago");
        assert_eq!(ago(90 * 60), "2 h ago");
        assert_eq!(ago(35 * 3600), "35 h ago");
        assert_eq!(ago(36 * 3600), "2 days ago");
        assert_eq!(ago(45 * 86_400), "2 months ago");
        assert_eq!(relative(now + 3 * 3_600_000, now), "in 3 h");
    }
}
