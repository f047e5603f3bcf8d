//! Numbers and times for people.

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

/// An optional field: `None` when left empty, else exactly what was typed.
pub fn given(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}
