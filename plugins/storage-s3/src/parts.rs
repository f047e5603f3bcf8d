//! How large each part of a multipart upload is.
//!
//! The host does not say how large an upload will be, and S3 allows 10,000 parts per
//! object. Starting at the configured size keeps a small backup's memory small;
//! doubling the size every [`PARTS_PER_SIZE`] parts lets a large one fit. Pure
//! arithmetic with no plugin dependency, so the root workspace's tests include this
//! file and check it on the host.

/// The largest part the plugin sends: two going up at once fit the plugin's 256 MiB
/// (see [`concurrency_for`]).
pub const MAX_PART_MIB: u32 = 112;
/// Parts of one size before the size doubles.
pub const PARTS_PER_SIZE: u32 = 1000;
/// What parts may take of the plugin's 256 MiB: those going up at once (nothing else
/// is held; see `multipart.rs`) — the rest is left to the allocator, opendal and the
/// HTTP client.
pub const PARTS_BUDGET_MIB: usize = 224;

/// The size of part `index` (from 0) of an upload whose first parts are `first` bytes.
pub fn part_size(first: usize, index: u32) -> usize {
    let doublings = (index / PARTS_PER_SIZE).min(8);
    (first << doublings).min(MAX_PART_MIB as usize * (1 << 20))
}

/// How many parts of `part` bytes go up at once when the instance asks for
/// `concurrency`: as many as the budget holds, at least one.
pub fn concurrency_for(concurrency: u32, part: usize) -> usize {
    let fit = (PARTS_BUDGET_MIB << 20) / part.max(1);
    (concurrency as usize).min(fit).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;
    /// S3's limit of parts per object.
    const MAX_PARTS: u32 = 10_000;

    /// The most an upload starting with `first`-byte parts can hold, in GiB.
    fn largest_upload_gib(first: usize) -> u64 {
        let bytes: u64 = (0..MAX_PARTS).map(|i| part_size(first, i) as u64).sum();
        bytes >> 30
    }

    #[test]
    fn parts_keep_their_size_for_a_thousand_then_double_up_to_the_cap() {
        assert_eq!(part_size(16 * MIB, 0), 16 * MIB);
        assert_eq!(part_size(16 * MIB, 999), 16 * MIB);
        assert_eq!(part_size(16 * MIB, 1000), 32 * MIB);
        assert_eq!(part_size(16 * MIB, 2500), 64 * MIB);
        assert_eq!(part_size(16 * MIB, 3000), 112 * MIB);
        assert_eq!(part_size(16 * MIB, 9999), 112 * MIB);
        assert_eq!(part_size(112 * MIB, 0), 112 * MIB);
    }

    #[test]
    fn concurrency_shrinks_as_parts_grow_so_parts_stay_within_the_budget() {
        assert_eq!(concurrency_for(4, 16 * MIB), 4);
        assert_eq!(concurrency_for(8, 32 * MIB), 7);
        assert_eq!(concurrency_for(4, 64 * MIB), 3);
        assert_eq!(concurrency_for(4, 112 * MIB), 2);
        assert_eq!(concurrency_for(4, 224 * MIB), 1);
        assert_eq!(concurrency_for(1, 5 * MIB), 1);
        for parts in 1..=8 {
            for mib in [5, 16, 32, 64, 112] {
                let n = concurrency_for(parts, mib * MIB);
                assert!(n * mib <= PARTS_BUDGET_MIB, "{parts} × {mib} MiB");
            }
        }
    }

    #[test]
    fn the_default_reaches_far_beyond_fixed_parts() {
        // Fixed 16 MiB parts stopped at 156 GiB.
        assert_eq!(largest_upload_gib(16 * MIB), 875);
        assert_eq!(largest_upload_gib(5 * MIB), 698);
        assert_eq!(largest_upload_gib(112 * MIB), 1093);
    }
}
