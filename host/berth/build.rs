//! Release link options of the `berth` binary.

use std::env;

fn main() {
    release_link_args();
}

/// A link option that shrinks what a release `berth` maps at start (its RSS figure, see
/// docs/BENCHMARKS.md): `-z pack-relative-relocs` stores the ~50,000 relative
/// relocations of a position-independent binary as a compact bitmap (DT_RELR, 14 KB)
/// instead of a 1.2 MiB table the loader reads whole at every start — 1.2 MB less RSS.
/// It needs glibc ≥ 2.36 where the binary runs; the Docker image's runtime stage is
/// the same Debian release as its build stage.
///
/// (`--icf=all` was measured too: 1 MB less text but only 0.4 MB less RSS, not worth
/// folding functions whose addresses some code may compare.)
///
/// Only for the default linker of x86_64 Linux (rust-lld since Rust 1.90) and a glibc
/// that knows DT_RELR; any other target or a configured linker gets a plain link.
fn release_link_args() {
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let var = |k: &str| env::var(k).unwrap_or_default();
    let custom_linker = var("CARGO_ENCODED_RUSTFLAGS").contains("linker")
        || env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some();
    if var("PROFILE") != "release"
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("HOST") != var("TARGET")
        || custom_linker
        || !glibc_at_least(2, 36)
    {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}

/// The build machine's glibc (`getconf GNU_LIBC_VERSION` prints `glibc 2.36`).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(v) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}
