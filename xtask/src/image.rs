//! `cargo xtask image`: Berth's container image, built without pulling anything.
//!
//! The `Dockerfile` at the root has two stages: a Rust build stage (for whoever has a
//! registry) and the runtime stage `FROM scratch` holding one static binary, the CA
//! certificates and an empty `/tmp`. This task builds that binary here (the
//! `x86_64-unknown-linux-musl` target, added like the wasm targets; C code needs
//! Debian's `musl-tools`), lays out the same root file system and builds the runtime
//! stage alone — the Dockerfile's text from `FROM scratch` on, with the build stage's
//! output replaced by that directory. `scratch` is no image, so nothing is pulled.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::steps::{cargo, embed_env, plugins, root, sh, target_dir, ui};

pub const TARGET: &str = "x86_64-unknown-linux-musl";
/// The build stage's output, as the runtime stage copies it.
const FROM_BUILD: &str = "COPY --from=build /out/ /";
/// What the image is tagged by default, besides `berth:<version>`.
pub const TAG: &str = "berth:latest";
/// What `cargo xtask test` builds and the tests run (a debug binary).
pub const TEST_TAG: &str = "berth:test";

/// `[--debug] [--rootfs-only]`: a release image tagged [`TAG`] and `berth:<version>`
/// by default; `--debug` builds a debug binary tagged [`TEST_TAG`] only.
pub fn image(args: &[String]) -> Result<()> {
    ui()?;
    plugins()?;
    let release = !args.iter().any(|a| a == "--debug");
    if args.iter().any(|a| a == "--rootfs-only") {
        let rootfs = rootfs(release)?;
        eprintln!("    root file system in {}", rootfs.display());
        return Ok(());
    }
    build_image(release)
}

/// The image, the UI and plugins being built already: release → [`TAG`] and
/// `berth:<version>`, debug → [`TEST_TAG`].
pub fn build_image(release: bool) -> Result<()> {
    let rootfs = rootfs(release)?;
    let tags = if release {
        vec![
            TAG.to_owned(),
            format!("berth:{}", env!("CARGO_PKG_VERSION")),
        ]
    } else {
        vec![TEST_TAG.to_owned()]
    };
    build(&rootfs, &tags)
}

/// The release static binary (symbols kept, like the glibc release binary), for the
/// benchmarks; the UI and plugins being built already.
pub fn static_release_binary() -> Result<PathBuf> {
    static_binary(true)
}

/// Adds the musl target if missing; checks the C compiler for it.
fn ensure_musl() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the musl target")?;
    if !String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        let mut cmd = Command::new("rustup");
        cmd.args(["target", "add", TARGET]);
        sh(&format!("rustup target add {TARGET}"), cmd)?;
    }
    let gcc = Command::new("musl-gcc").arg("--version").output();
    ensure!(
        gcc.is_ok_and(|o| o.status.success()),
        "musl-gcc is missing: install Debian's musl-tools (the C code of ring needs it)"
    );
    Ok(())
}

/// The static binary, with the (already built) UI and built-in plugins embedded.
fn static_binary(release: bool) -> Result<PathBuf> {
    ensure_musl()?;
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["build", "-p", "berth", "--target", TARGET]);
    if release {
        cmd.arg("--release");
    }
    embed_env(&mut cmd);
    let profile = if release { "release" } else { "debug" };
    sh(&format!("build host (static, {profile})"), cmd)?;
    let bin = target_dir().join(TARGET).join(profile).join("berth");
    ensure!(bin.is_file(), "no binary at {}", bin.display());
    Ok(bin)
}

/// `target/image/rootfs`: `/usr/local/bin/berth`, the CA bundle, `/tmp`, `/data`.
fn rootfs(release: bool) -> Result<PathBuf> {
    let bin = static_binary(release)?;
    let image = target_dir().join("image");
    let rootfs = image.join("rootfs");
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)?;
    }
    for dir in ["usr/local/bin", "etc/ssl/certs", "tmp", "data"] {
        std::fs::create_dir_all(rootfs.join(dir))?;
    }
    set_mode(&rootfs.join("tmp"), 0o1777)?;
    let target = rootfs.join("usr/local/bin/berth");
    if release {
        // The symbol table (6 MB) only names functions in a panic's backtrace; the
        // image is what users download. The release binary itself keeps it.
        let mut cmd = Command::new("strip");
        cmd.args(["--strip-all", "-o"]).arg(&target).arg(&bin);
        sh("strip the binary's symbols", cmd)?;
    } else {
        std::fs::copy(&bin, &target)?;
    }
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    std::fs::copy(bundle, rootfs.join("etc/ssl/certs/ca-certificates.crt"))
        .with_context(|| format!("{}: install Debian's ca-certificates", bundle.display()))?;
    Ok(rootfs)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// The Dockerfile's runtime stage, copying `rootfs/` instead of the build stage's
/// output.
fn runtime_stage() -> Result<String> {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile"))?;
    // An instruction starts a line (the comments mention it too).
    let start = dockerfile
        .find("\nFROM scratch\n")
        .context("the Dockerfile has no `FROM scratch` runtime stage")?;
    let stage = &dockerfile[start + 1..];
    ensure!(
        stage.contains(FROM_BUILD),
        "the runtime stage no longer has `{FROM_BUILD}`"
    );
    Ok(stage.replacen(FROM_BUILD, "COPY rootfs/ /", 1))
}

/// `docker build` of the runtime stage with `tags`.
fn build(rootfs: &Path, tags: &[String]) -> Result<()> {
    let context = rootfs.parent().context("rootfs has a parent")?;
    std::fs::write(context.join("Dockerfile"), runtime_stage()?)?;
    let mut cmd = Command::new("docker");
    // The classic builder: it needs no buildx and, FROM scratch, pulls nothing.
    cmd.env("DOCKER_BUILDKIT", "0").args(["build", "--quiet"]);
    for tag in tags {
        cmd.args(["-t", tag]);
    }
    cmd.arg(context);
    sh("docker build (runtime stage)", cmd)?;
    let size = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Size}}", &tags[0]])
        .output()?;
    let bytes: f64 = String::from_utf8_lossy(&size.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0);
    eprintln!("    {}: {:.1} MB", tags.join(", "), bytes / 1e6);
    Ok(())
}
