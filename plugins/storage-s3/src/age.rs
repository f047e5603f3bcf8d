//! Which unfinished multipart uploads are leftovers: those begun more than a day ago.
//! No backup runs that long, while a concurrent job's upload is younger and must be
//! kept. Pure (opendal's time parsing only), so the root workspace's tests include
//! this file and check it on the host.

/// How old an unfinished upload must be to be aborted.
pub const STALE_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// Whether an upload S3 says was `initiated` (RFC 3339) is stale at `now_ms`. A time
/// that does not parse is no proof of age: such an upload is kept.
pub fn is_stale(initiated: &str, now_ms: i64) -> bool {
    initiated
        .parse::<opendal::raw::Timestamp>()
        .is_ok_and(|begun| begun.into_inner().as_millisecond() < now_ms - STALE_AFTER_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-05T12:00:00Z.
    const NOW_MS: i64 = 1_796_472_000_000;

    #[test]
    fn only_uploads_begun_over_a_day_ago_are_stale() {
        assert!(is_stale("2026-12-04T11:59:59.000Z", NOW_MS));
        assert!(is_stale("2010-11-10T20:48:33.000Z", NOW_MS));
        assert!(!is_stale("2026-12-04T12:00:01.000Z", NOW_MS));
        assert!(!is_stale("2026-12-05T11:00:00Z", NOW_MS));
        // A clock ahead of ours is not an old upload either.
        assert!(!is_stale("2026-12-06T12:00:00Z", NOW_MS));
    }

    #[test]
    fn an_unreadable_time_keeps_the_upload() {
        assert!(!is_stale("", NOW_MS));
        assert!(!is_stale("yesterday", NOW_MS));
    }
}
