//! The allocator: what keeps a long-running Berth's memory at the size of the work it
//! is doing rather than the largest work it has ever done, without slowing the
//! backup pipeline.
//!
//! - glibc (the dynamically linked binary): glibc's malloc, tuned by [`tune`].
//! - musl (the container image's static binary): jemalloc. musl's own malloc gives
//!   freed 64–256 KiB blocks back to the kernel at once, so each chunk buffer of the
//!   backup pipeline was faulted in anew: its backups ran 11–18 % and its restores
//!   27–42 % slower than glibc's (docs/BENCHMARKS.md, "The image and the static
//!   binary"). jemalloc keeps freed pages for a second before purging them; mimalloc
//!   was also faster but idled at 1.45× the RSS.

/// jemalloc's options, read at its first allocation (the symbol jemalloc looks up,
/// with the prefix tikv-jemalloc-sys gives every jemalloc symbol). Two arenas as
/// with glibc; freed pages purged after 1 s, and by a background thread so an idle
/// Berth gives them back without allocating; no "muzzy" stage that would keep them
/// counted in RSS on Linux.
#[cfg(target_env = "musl")]
#[allow(unsafe_code, non_upper_case_globals)]
// SAFETY: jemalloc reads this NUL-terminated string once; a `&[u8; N]` is a thin
// pointer, the `const char *` jemalloc declares.
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 70] =
    b"narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    #[cfg(target_env = "musl")]
    #[allow(unsafe_code)]
    // SAFETY: "arena.<MALLCTL_ARENAS_ALL>.purge" takes no arguments (all pointers
    // null) and only returns every arena's unused dirty pages to the kernel.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}
