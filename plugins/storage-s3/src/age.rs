//! Which unfinished multipart uploads are leftovers: those begun more than a day ago.
//! No backup runs that long, while a concurrent job's upload is younger and must be
//! kept. Pure (opendal's time parsing only), so the root workspace's tests include
//! this file and check it on the host.

/// How old an unfinished upload must be to be aborted.
pub const STALE_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// When an upload S3 says was `initiated` (RFC 3339) began, in milliseconds since the
/// Unix epoch; `None` when the time does not parse.
pub fn started_ms(initiated: &str) -> Option<i64> {
    let begun = initiated.parse::<opendal::raw::Timestamp>().ok()?;
    Some(begun.into_inner().as_millisecond())
}

/// Whether an upload `initiated` (RFC 3339) began before `before_ms`. A time that
/// does not parse is no proof of age: such an upload is kept.
pub fn begun_before(initiated: &str, before_ms: i64) -> bool {
    started_ms(initiated).is_some_and(|begun| begun < before_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-05T12:00:00Z.
    const NOW_MS: i64 = 1_796_472_000_000;

    /// What the sweep before each upload aborts at `now_ms`.
    fn is_stale(initiated: &str, now_ms: i64) -> bool {
        begun_before(initiated, now_ms - STALE_AFTER_MS)
    }

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
        assert!(!begun_before("yesterday", i64::MAX));
        assert_eq!(started_ms("yesterday"), None);
    }

    #[test]
    fn an_explicit_moment_splits_older_from_younger() {
        assert_eq!(started_ms("2026-12-05T12:00:00Z"), Some(NOW_MS));
        assert!(begun_before("2026-12-05T11:59:59Z", NOW_MS));
        assert!(!begun_before("2026-12-05T12:00:00Z", NOW_MS));
    }
}
