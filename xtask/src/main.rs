//! `cargo xtask <task>`: Berth's build, run and test entry points.
//!
//! - `dist`  — adds the wasm targets if missing, builds the web UI (wasm32 +
//!   wasm-bindgen, content-hashed assets) and the built-in plugins (wasm32-wasip2), then
//!   the release host with both embedded: `target/release/berth`.
//! - `run [ARGS]` — `dist`, then `target/release/berth serve ARGS`.
//! - `test` — the whole gate: tidy, fmt, clippy (native, wasm32, wasip2), every test.
//! - `bench` — `dist`, then the foundation benchmark (figures for docs/BENCHMARKS.md).
//! - `tidy` — the house rules the compiler does not check (run first by `test`).
//! - `image` — the container image, offline: a static (musl) binary `FROM scratch`.

// Needs no unsafe code; forbid (the workspace only denies) keeps it that way.
#![forbid(unsafe_code)]

mod assets;
mod image;
mod modules;
mod outputs;
mod steps;
mod tidy;

use std::process::ExitCode;

use anyhow::Result;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match task.as_str() {
        "dist" => steps::dist().map(|_| ()),
        "run" => run(&rest),
        "test" => steps::test(),
        "bench" => steps::bench(),
        "ui" => steps::ui().map(|_| ()),
        "plugins" => steps::plugins().map(|_| ()),
        "tidy" => tidy::tidy(),
        "image" => image::image(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n\
                 tasks:\n  \
                 dist          build everything; leaves target/release/berth\n  \
                 run [ARGS]    dist, then `berth serve ARGS` (default: 127.0.0.1:8080, ./data)\n  \
                 test          fmt + clippy + every test (unit, Docker, browser)\n  \
                 bench         dist, then measure the figures in docs/BENCHMARKS.md\n  \
                 tidy          the house rules: crate layers, code map, schema version\n  \
                 image         the container image (static binary FROM scratch, no pulls);\n                \
                 --debug: a debug binary, --rootfs-only: stop before docker build\n  \
                 ui | plugins  build only the web UI or the built-in plugins"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let bin = steps::dist()?;
    let status = std::process::Command::new(&bin)
        .arg("serve")
        .args(args)
        .current_dir(steps::root())
        .status()?;
    anyhow::ensure!(status.success(), "berth exited with {status}");
    Ok(())
}
