//! The allocator's settings (glibc): what keeps a long-running Berth's memory at the
//! size of the work it is doing rather than the largest work it has ever done.
//!
//! The static (musl) binary of the container image keeps musl's own malloc, untuned:
//! it returns freed memory at once and, against this tuned glibc, keeps start-up,
//! idle RSS and the protocol within a few percent — but its backups run 11–18 % and
//! its restores 27–42 % slower: it gives freed 64–256 KiB blocks back to the kernel
//! at once, so each chunk buffer is faulted in anew (docs/BENCHMARKS.md, "The image
//! and the static binary"). mimalloc backed up faster but idled at 1.45× the RSS.

/// Sets glibc's malloc up before any thread starts. glibc raises its mmap threshold
/// after the first freed 1 MiB block, after which the backup pipeline's buffers came
/// from per-thread arenas that kept them; a fixed threshold maps large buffers and
/// gives them back when freed. Two arenas bound the per-thread copies.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Gives the pages of freed heap memory back to the system. Called when a job ends:
/// the small allocations a job leaves freed all over the arenas (parsed tar headers,
/// channel items, JSON) otherwise stay resident until reused, and raise the next
/// job's peak.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim is thread-safe (it takes each arena's lock) and only returns
    // free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}
