//! The build steps, each a plain function that runs cargo (or rustup) and says what it
//! is doing and how long it took.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::assets;
use crate::outputs::Outputs;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

pub fn ui_dist() -> PathBuf {
    root().join("target").join("ui-dist")
}

pub fn plugins_dist() -> PathBuf {
    root().join("target").join("plugins-dist")
}

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // `cargo xtask` runs this binary with xtask's own package variables set
    // (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, …). Build scripts such as ring's rerun when
    // those change, so passing them on made every build through xtask and every plain
    // `cargo build` invalidate each other's artifacts (minutes of rebuilding).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || matches!(
                &*key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            )
        {
            cmd.env_remove(&*key);
        }
    }
    cmd
}

/// Runs a command, echoing it, and fails with its exit status.
pub(crate) fn sh(what: &str, mut cmd: Command) -> Result<()> {
    eprintln!("==> {what}");
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot start: {cmd:?}"))?;
    ensure!(status.success(), "{what} failed ({status})");
    eprintln!("    {what}: {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The env vars that point the host's build script at the built UI and plugins.
pub(crate) fn embed_env(cmd: &mut Command) {
    cmd.env("BERTH_UI_DIST", ui_dist())
        .env("BERTH_PLUGINS_DIST", plugins_dist());
}

pub fn ensure_targets() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm targets")?;
    let installed = String::from_utf8_lossy(&out.stdout);
    let missing: Vec<&str> = ["wasm32-unknown-unknown", "wasm32-wasip2"]
        .into_iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add"]).args(&missing);
    sh(&format!("rustup target add {}", missing.join(" ")), cmd)
}

/// Builds the web UI into `target/ui-dist`.
pub fn ui() -> Result<PathBuf> {
    ensure_targets()?;
    // Smallest wasm: what ships (the root Cargo.toml's `wasm-release` profile).
    let profile = "wasm-release";
    let mut cmd = cargo();
    cmd.current_dir(root()).args([
        "build",
        "-p",
        "berth-web",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        profile,
    ]);
    sh("build web UI (wasm32)", cmd)?;
    let wasm = target_dir()
        .join("wasm32-unknown-unknown")
        .join(profile)
        .join("berth-web.wasm");
    let dist = ui_dist();
    let started = Instant::now();
    assets::bundle(&root().join("web-yew"), &wasm, &dist)?;
    eprintln!("    bundle web UI: {:.1}s", started.elapsed().as_secs_f64());
    Ok(dist)
}

/// Builds the built-in plugins into `target/plugins-dist/<id>.wasm`.
pub fn plugins() -> Result<PathBuf> {
    ensure_targets()?;
    let dir = root().join("plugins");
    // One cargo run per plugin: each picks its world by an SDK feature, and features
    // of one run are unified (two worlds in one SDK build would clash).
    for id in plugin_ids()? {
        build_plugin(&dir, &id, "plugin")?;
    }
    let built = dir.join("target").join("wasm32-wasip2").join("release");
    let dist = plugins_dist();
    // Only changed bytes are written (the host embeds these; see outputs.rs).
    let mut out = Outputs::new(&dist)?;
    for id in plugin_ids()? {
        let file = format!("{}.wasm", id.replace('-', "_"));
        let from = built.join(&file);
        ensure!(
            from.is_file(),
            "plugin {id} was not built at {}",
            from.display()
        );
        out.copy(&from, format!("{id}.wasm"))?;
        // The manifest travels with the component (the host embeds both).
        let manifest = dir.join(&id).join("plugin.toml");
        if manifest.is_file() {
            out.copy(&manifest, format!("{id}.toml"))?;
        }
        eprintln!(
            "    plugin {id}: {} KiB",
            std::fs::metadata(&from)?.len() / 1024
        );
    }
    out.finish()?;
    Ok(dist)
}

/// Builds one member of the plugins workspace (`dir`) for wasm32-wasip2, release.
fn build_plugin(dir: &Path, id: &str, what: &str) -> Result<()> {
    let mut cmd = cargo();
    cmd.current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            id,
            "--target-dir",
        ])
        .arg(dir.join("target"));
    sh(&format!("build {what} {id} (wasm32-wasip2)"), cmd)
}

/// The members of the plugins workspace (each directory with a Cargo.toml).
fn plugin_ids() -> Result<Vec<String>> {
    crate_dirs(&root().join("plugins"))
}

/// Test-only plugins (`plugins/testing/*`): built for the sandbox tests, never embedded.
fn test_plugin_ids() -> Result<Vec<String>> {
    crate_dirs(&root().join("plugins").join("testing"))
}

/// Names of the directories under `dir` that hold a Cargo.toml, sorted.
/// The names of the folders under `dir` that hold a crate (a Cargo.toml).
pub fn crate_dirs(dir: &Path) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file() {
            ids.push(
                path.file_name()
                    .and_then(|n| n.to_str())
                    .context("crate folder name")?
                    .to_owned(),
            );
        }
    }
    ids.sort();
    Ok(ids)
}

/// Where the test-only plugins go (`BERTH_TEST_PLUGINS` for the tests).
pub fn test_plugins_dist() -> PathBuf {
    root().join("target").join("plugins-test")
}

/// Builds the test-only plugins into `target/plugins-test`.
pub fn test_plugins() -> Result<PathBuf> {
    let dir = root().join("plugins");
    let dist = test_plugins_dist();
    std::fs::create_dir_all(&dist)?;
    for id in test_plugin_ids()? {
        build_plugin(&dir, &id, "test plugin")?;
        let file = format!("{}.wasm", id.replace('-', "_"));
        crate::outputs::copy_if_changed(
            &dir.join("target/wasm32-wasip2/release").join(&file),
            &dist.join(format!("{id}.wasm")),
        )?;
    }
    Ok(dist)
}

/// Everything, release: returns the path of the binary.
pub fn dist() -> Result<PathBuf> {
    ui()?;
    plugins()?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["build", "--release", "-p", "berth"]);
    embed_env(&mut cmd);
    sh("build host (release)", cmd)?;
    let bin = target_dir().join("release").join("berth");
    ensure!(bin.is_file(), "no binary at {}", bin.display());
    eprintln!(
        "    {}: {:.1} MB",
        bin.display(),
        std::fs::metadata(&bin)?.len() as f64 / 1e6
    );
    Ok(bin)
}

/// The whole gate. Stops at the first failure.
pub fn test() -> Result<()> {
    let started = Instant::now();
    crate::tidy::tidy()?;
    ui()?;
    plugins()?;
    test_plugins()?;

    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["fmt", "--all", "--", "--check"]);
    sh("cargo fmt --check (workspace)", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root().join("plugins"))
        .args(["fmt", "--all", "--", "--check"]);
    sh("cargo fmt --check (plugins)", cmd)?;
    let mut cmd = Command::new("rustfmt");
    cmd.args(["--edition", "2024", "--check"])
        .arg(root().join("sdk/plugin/src/lib.rs"))
        .arg(root().join("sdk/plugin-opendal/src/lib.rs"));
    sh("rustfmt --check (plugin sdk)", cmd)?;
    let mut cmd = Command::new("rustfmt");
    cmd.args(["--edition", "2024", "--check"])
        .arg(root().join("sdk/protocol/fuzz/fuzz_targets/decode.rs"));
    sh("rustfmt --check (protocol fuzz target)", cmd)?;

    let mut cmd = cargo();
    cmd.current_dir(root()).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    embed_env(&mut cmd);
    sh("cargo clippy (native)", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root()).args([
        "clippy",
        "-p",
        "berth-web",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]);
    sh("cargo clippy (web UI, wasm32)", cmd)?;
    // Per plugin, like the build: each selects its world by an SDK feature. The
    // opendal helper crate is linted on its own (a plugin's run lints only the plugin).
    let mut linted = plugin_ids()?;
    linted.push("berth-plugin-opendal".to_owned());
    for id in linted {
        let mut cmd = cargo();
        cmd.current_dir(root().join("plugins"))
            .args([
                "clippy",
                "--target",
                "wasm32-wasip2",
                "-p",
                &id,
                "--target-dir",
            ])
            .arg(root().join("plugins").join("target"))
            .args(["--all-targets", "--", "-D", "warnings"]);
        sh(&format!("cargo clippy (plugin {id}, wasm32-wasip2)"), cmd)?;
    }

    // The decoder's fuzz target must keep building (run it with `cargo fuzz run decode`
    // in sdk/protocol/fuzz; see docs/testing.md).
    let mut cmd = cargo();
    cmd.current_dir(root().join("sdk/protocol/fuzz"))
        .args(["build", "--locked"]);
    sh("build the protocol fuzz target", cmd)?;

    // The integration tests start the real binary: build it with the UI and plugins.
    let mut cmd = cargo();
    cmd.current_dir(root()).args(["build", "-p", "berth"]);
    embed_env(&mut cmd);
    sh("build host (debug)", cmd)?;

    test_servers()?;
    // The image the image test runs: the same static binary a release ships, built
    // without optimisation (one more debug build, not a second release build).
    crate::image::build_image(false)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["test", "--workspace", "--no-fail-fast"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_IMAGE", crate::image::TEST_TAG)
        .env("BERTH_BIN", target_dir().join("debug").join("berth"))
        .env("BERTH_TEST_PLUGINS", test_plugins_dist())
        .env(
            "BERTH_MOTO_SERVER",
            test_venv().join("bin").join("moto_server"),
        )
        .env("BERTH_WSGIDAV", test_venv().join("bin").join("wsgidav"));
    // Most integration tests wait on Docker, compose, a browser or a test server more
    // than they compute: four at a time on two cores took the suite from 807 s to
    // 614 s, all green; three keeps a margin for a slower machine's timeouts
    // (docs/BENCHMARKS.md, "CI and build times"). An explicit setting wins.
    if std::env::var_os("RUST_TEST_THREADS").is_none() {
        cmd.env("RUST_TEST_THREADS", "3");
    }
    sh("cargo test --workspace", cmd)?;
    eprintln!(
        "==> all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Builds the release binary and runs the benchmarks (foundation, protocol, docker,
/// plugins, backup, offsite, schedules, stacks, ui) against it.
pub fn bench() -> Result<()> {
    let bin = dist()?;
    // The backup and offsite benchmarks run an S3 server.
    test_servers()?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "foundation"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_BIN", &bin)
        .env("BERTH_UI_WASM_DIR", ui_dist().join("assets"));
    sh("foundation benchmark", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "protocol"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_BIN", &bin);
    sh("protocol benchmark", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "docker"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_BIN", &bin);
    sh("docker benchmark", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "plugins"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_BIN", &bin);
    sh("plugin benchmark", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "backup"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_BIN", &bin);
    sh("backup benchmark", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "offsite"]);
    embed_env(&mut cmd);
    sh("off-site storage benchmark", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "schedules"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_BIN", &bin);
    sh("scheduler benchmark", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "stacks"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_BIN", &bin);
    sh("stacks benchmark", cmd)?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["bench", "-p", "berth-tests", "--bench", "ui"]);
    embed_env(&mut cmd);
    cmd.env("BERTH_BIN", &bin);
    sh("web UI benchmark", cmd)?;
    bench_static_binary()
}

/// The figures a user of the image gets (issue 28): start, memory, the protocol and
/// backups again, against the image's static (musl) binary, beside the glibc binary's
/// above — `target/bench/<name>-static.md`.
fn bench_static_binary() -> Result<()> {
    let bin = crate::image::static_release_binary()?;
    for name in ["foundation", "protocol", "backup"] {
        let mut cmd = cargo();
        cmd.current_dir(root())
            .args(["bench", "-p", "berth-tests", "--bench", name]);
        embed_env(&mut cmd);
        cmd.env("BERTH_BIN", &bin)
            .env("BERTH_BENCH_LABEL", "static")
            .env("BERTH_UI_WASM_DIR", ui_dist().join("assets"));
        sh(&format!("{name} benchmark (static binary)"), cmd)?;
    }
    Ok(())
}

/// The S3 server the storage-s3 tests start (`s3s-fs`, which checks signatures),
/// installed into cargo's bin directory once per machine.
const S3S_FS: &str = "0.14.1";
/// The second, independent S3 implementation (`moto_server`), from PyPI into a venv.
const MOTO: &str = "5.2.5";
/// The second WebDAV server (the first is Debian's rclone): wsgidav on cheroot, the
/// versions test-servers.md §5 verified.
const WSGIDAV: [&str; 2] = ["wsgidav==4.4.0", "cheroot==11.1.2"];

/// Where the Python test servers live (`target/test-tools/venv`).
pub fn test_venv() -> PathBuf {
    target_dir().join("test-tools").join("venv")
}

/// Installs the servers the integration tests start that no package manager ships.
fn test_servers() -> Result<()> {
    s3s_fs()?;
    let moto = format!("moto[server]=={MOTO}");
    python_tool("moto (the second S3 test server)", &[&moto])?;
    python_tool("wsgidav (the second WebDAV test server)", &WSGIDAV)
}

/// Installs `packages` (`name==version`) into the test-tools venv unless there.
fn python_tool(what: &str, packages: &[&str]) -> Result<()> {
    let venv = test_venv();
    let pip = venv.join("bin").join("pip");
    let installed = packages.iter().all(|package| {
        let (name, version) = package.split_once("==").unwrap_or((package, ""));
        let name = name.split('[').next().unwrap_or(name);
        Command::new(&pip)
            .args(["show", name])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {version}\n"))
            })
    });
    if installed {
        return Ok(());
    }
    if !pip.is_file() {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "venv"]).arg(&venv);
        sh("make the test-tools venv", cmd)?;
    }
    let mut cmd = Command::new(&pip);
    cmd.args(["install", "--quiet"]).args(packages);
    sh(&format!("install {what}"), cmd)
}

fn s3s_fs() -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let installed = Command::new(home.join("bin").join("s3s-fs"))
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(S3S_FS));
    if !installed {
        let mut cmd = cargo();
        cmd.args(["install", "s3s-fs", "--version", S3S_FS]).args([
            "--features",
            "binary",
            "--locked",
        ]);
        sh("install s3s-fs (the S3 test server)", cmd)?;
    }
    Ok(())
}
