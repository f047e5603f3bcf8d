//! Backup and restore figures (issue 6), the release binary against the real engine,
//! each beside a baseline measured in the same run on the same data:
//!
//! - a volume of mixed data (half compressible text, half random) backed up by Berth
//!   (the whole job: stream — one read of the volume, tar, gzip on every core,
//!   storage —, verify)
//!   against `tar -czf` of the volume's directory on the host at the same gzip level,
//!   and against `tar | pigz` (Debian's pigz, when installed);
//! - the restore job (create, stream in, read back and compare) against `tar -xzf`,
//!   of the volume and of a container's two volumes (the first read back while the
//!   second streams in), and against the engine's floor for it: the volume's plain tar
//!   put into an empty volume and read back out with `docker cp`;
//! - Berth's peak RSS while backing up 1 GiB and 4 GiB (bounded memory: the same for
//!   both);
//! - the cost of encryption: the same backup with a passphrase;
//! - downtime: a container using the volume backed up in `stop` mode, how long the job
//!   held it against one plain read of the volume (`tar -cf -` into a pipe);
//! - the same backup to an S3 bucket (`storage-s3` against `s3s-fs` on loopback)
//!   against `storage-local`, with both jobs' phases, the CPU time Berth and the server
//!   spend, and the raw tools' same comparison (`tar | pigz -6 | rclone rcat` against
//!   `tar | pigz -6` into a file: the server shares this machine's cores);
//! - the size of Berth's archive against `tar | pigz`'s (the same compression).
//!
//! Each timed figure is the median of [`RUNS`] runs: this machine's run-to-run noise is
//! as large as some of the differences measured.
//!
//! Run with `cargo xtask bench`. Writes `target/bench/backup.md`. Everything it creates
//! carries the test label and is removed at the end. `BERTH_BENCH_BACKUP_GIB` sets the
//! sizes (default `1,4`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_client::Client;
use berth_protocol::api::backups::{
    BackupQuery, BackupTarget, Consistency, CreateBackup, RestoreBackup,
};
use berth_protocol::api::catalogue::{
    BackupsCreate, BackupsList, BackupsRestore, JobProgress, JobsGet, PluginsConfigure,
};
use berth_protocol::api::jobs::{JobProgressParams, JobRef, JobState};
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::s3::S3Server;
use berth_tests::ws;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use futures_util::StreamExt;

const MIB: u64 = 1 << 20;

/// Runs of each timed figure; the median is reported.
const RUNS: usize = 3;

/// The median of `RUNS` runs of `f`, by `key`.
async fn median_of<T, F: Future<Output = T>>(
    mut f: impl FnMut() -> F,
    key: impl Fn(&T) -> Duration,
) -> T {
    let mut runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        runs.push(f().await);
    }
    runs.sort_by_key(|r| key(r));
    runs.swap_remove(RUNS / 2)
}

/// The stored size of a backup.
async fn stored_size(c: &Client, id: &str) -> u64 {
    c.call::<BackupsList>(BackupQuery::default())
        .await
        .unwrap()
        .backups
        .into_iter()
        .find(|b| b.id == id)
        .expect("the backup is listed")
        .size
}

async fn fill(scope: &Scope, vol: &str, gib: u64) {
    fill_mib(scope, vol, &format!("fill-{gib}"), gib * 1024).await;
}

/// Fills `vol` with `mib` MiB, half text and half random, by a container named after
/// `base`.
async fn fill_mib(scope: &Scope, vol: &str, base: &str, mib: u64) {
    let half = mib / 2;
    // Text: numbered lines (compresses ~4:1); random: incompressible.
    let script = format!(
        "set -e; cd /data; busybox seq 1 20000000 > seq.txt; \
         n=0; while [ $(( $(busybox stat -c %s text.txt 2>/dev/null || echo 0) / 1048576 )) -lt {half} ]; do cat seq.txt >> text.txt; done; \
         busybox truncate -s {half}M text.txt; rm seq.txt; \
         busybox dd if=/dev/urandom of=random.bin bs=1048576 count={half} 2>/dev/null"
    );
    let id = start_with_volume(scope, base, vol, &script).await;
    scope.wait_success(&id).await;
}

/// Starts a container named after `base` running `script` (`sh -c`) with `vol` at
/// `/data`; returns its id.
async fn start_with_volume(scope: &Scope, base: &str, vol: &str, script: &str) -> String {
    let image = ensure_test_image(&scope.docker).await;
    let id = scope
        .docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&scope.name(base))
                    .build(),
            ),
            ContainerCreateBody {
                image: Some(image.to_owned()),
                cmd: Some(vec!["sh".into(), "-c".into(), script.to_owned()]),
                labels: Some(scope.labels()),
                host_config: Some(HostConfig {
                    mounts: Some(vec![Mount {
                        typ: Some(MountType::VOLUME),
                        source: Some(vol.to_owned()),
                        target: Some("/data".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    scope.docker.start_container(&id, None).await.unwrap();
    id
}

async fn volume(scope: &Scope, base: &str) -> (String, PathBuf) {
    let name = scope.name(base);
    let v = scope
        .docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(scope.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    (name, PathBuf::from(v.mountpoint))
}

/// A job's time in all, and in its phases as its progress announced them.
#[derive(Debug, Default, Clone, Copy)]
struct Timing {
    all: Duration,
    /// The archive streamed into the storage (a restore: out of it, into the
    /// volumes).
    stream: Duration,
    /// The stored object read back and checked (a restore: the restored volumes).
    verify: Duration,
}

/// Runs a job to its end (queued → terminal, as the user waits).
async fn run_job(c: &Client, job: &str) -> Timing {
    let t = Instant::now();
    let mut sub = c
        .open::<JobProgress>(JobProgressParams {
            job: Some(job.to_owned()),
        })
        .await
        .unwrap();
    let (mut writing, mut verifying) = (None, None);
    while let Some(p) = sub.next().await {
        let p = p.unwrap();
        let now = Instant::now();
        if p.phase.starts_with("writing") || p.phase == "restoring data" {
            writing.get_or_insert(now);
        } else if p.state == JobState::Verifying {
            verifying.get_or_insert(now);
        }
        if p.state.is_terminal() {
            assert_eq!(p.state, JobState::Complete, "{}", p.message);
            break;
        }
    }
    let end = Instant::now();
    let span = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
        (Some(a), Some(b)) => b.saturating_duration_since(a),
        _ => Duration::ZERO,
    };
    Timing {
        all: t.elapsed(),
        stream: span(writing, verifying),
        verify: span(verifying, Some(end)),
    }
}

async fn backup(c: &Client, vol: &str, passphrase: Option<&str>) -> (Timing, String) {
    backup_to(c, vol, passphrase, None).await
}

/// Runs restore `request` and times the whole job; what it made (the container when
/// it names one, its target volumes) is removed again so three restores of 1 GiB take
/// no more disk than one.
async fn restore(c: &Client, scope: &Scope, request: RestoreBackup) -> Timing {
    let job = c.call::<BackupsRestore>(request.clone()).await.unwrap();
    let took = run_job(c, &job.id).await;
    if let Some(name) = &request.name {
        scope
            .docker
            .remove_container(
                name,
                None::<bollard::query_parameters::RemoveContainerOptions>,
            )
            .await
            .unwrap_or_else(|e| panic!("remove the restored container {name}: {e}"));
    }
    for target in request.volumes.values() {
        scope
            .docker
            .remove_volume(
                target,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
            .unwrap_or_else(|e| panic!("remove the restored volume {target}: {e}"));
    }
    took
}

/// [`backup`] to the storage instance `storage` (`None`: the default, local).
async fn backup_to(
    c: &Client,
    vol: &str,
    passphrase: Option<&str>,
    storage: Option<&str>,
) -> (Timing, String) {
    back_up(
        c,
        CreateBackup {
            targets: vec![BackupTarget::Volume {
                name: vol.to_owned(),
            }],
            consistency: Some(Consistency::Hot),
            passphrase: passphrase.map(str::to_owned),
            storage: storage.map(str::to_owned),
            ..Default::default()
        },
    )
    .await
}

/// Runs backup `request` (one target) and times it; the backup's id.
async fn back_up(c: &Client, request: CreateBackup) -> (Timing, String) {
    let q = c.call::<BackupsCreate>(request).await.unwrap();
    let d = run_job(c, &q.jobs[0]).await;
    let job = c
        .call::<JobsGet>(JobRef {
            id: q.jobs[0].clone(),
        })
        .await
        .unwrap();
    (d, job.job.backup.unwrap())
}

/// The median time `tar -xzf` takes to extract `tgz` into the empty directory `out`
/// (removed after each run).
async fn untar_time(tgz: &Path, out: &Path) -> Duration {
    median_of(
        || async {
            std::fs::create_dir_all(out).unwrap();
            let d = timed(Command::new("tar").arg("-xzf").arg(tgz).arg("-C").arg(out));
            let _ = std::fs::remove_dir_all(out);
            d
        },
        |d| *d,
    )
    .await
}

/// The floor of any verified restore through the engine, as (in, out): the volume's
/// plain tar (no gzip) put into an empty volume through Docker's archive API, then
/// read back out of it (`docker cp` both ways) — the two passes a restore makes,
/// without inflating, hashing or rebasing. Medians of three by their sum.
async fn engine_restore_floor(scope: &Scope, dir: &Path, scratch: &Path) -> (Duration, Duration) {
    let tar = scratch.join("plain.tar");
    timed(
        Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(dir)
            .arg("."),
    );
    let mut attempt = 0;
    let floor = median_of(
        || {
            attempt += 1;
            let tar = tar.clone();
            async move {
                let (vol, _) = volume(scope, &format!("floor-{attempt}")).await;
                let base = format!("floor-app-{attempt}");
                start_with_volume(scope, &base, &vol, "sleep 3600").await;
                let app = scope.name(&base);
                let put = format!("docker cp - '{app}:/data' < '{}'", tar.display());
                let put = timed(Command::new("sh").arg("-c").arg(&put));
                let get = format!("docker cp '{app}:/data' - > /dev/null");
                let get = timed(Command::new("sh").arg("-c").arg(&get));
                let force = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build();
                scope
                    .docker
                    .remove_container(&app, Some(force))
                    .await
                    .unwrap();
                scope
                    .docker
                    .remove_volume(&vol, None::<bollard::query_parameters::RemoveVolumeOptions>)
                    .await
                    .unwrap();
                (put, get)
            }
        },
        |(put, get)| *put + *get,
    )
    .await;
    let _ = std::fs::remove_file(&tar);
    floor
}

/// What the S3 rows compare against, measured on the same volume in the same run.
struct LocalRun<'a> {
    vol: &'a str,
    /// The volume's directory on the host, for the raw tools.
    dir: &'a Path,
    gib: u64,
    /// The median backup to `storage-local`.
    timing: &'a Timing,
    /// Berth's CPU time per backup to `storage-local`.
    cpu: Duration,
    /// `tar | pigz -6` into a file.
    pigz: Option<Duration>,
}

/// The same backup to an S3 bucket (`s3s-fs` on loopback, through `storage-s3`)
/// against the local one: whole job, phases, CPU time of Berth and of the server; and
/// the raw tools' same comparison (`tar | pigz -6` into `rclone rcat` to the same
/// server against into a file), since on one machine the server's work takes the
/// cores the backup compresses on.
async fn offsite_rows(c: &Client, pid: u32, local: &LocalRun<'_>) -> String {
    let server = S3Server::start("bench");
    let settings = serde_json::json!({ "prefix": "berth" });
    c.call::<PluginsConfigure>(server.configure_request(
        "offsite",
        "bench",
        settings,
        berth_tests::s3::SECRET_KEY,
    ))
    .await
    .unwrap();
    let (berth_cpu, server_cpu) = (
        berth_tests::cpu_time(pid),
        berth_tests::cpu_time(server.pid()),
    );
    let s3 = median_of(
        || backup_to(c, local.vol, None, Some("offsite")),
        |r| r.0.all,
    )
    .await
    .0;
    let per_run = |before: Duration, now: Duration| (now - before) / RUNS as u32;
    let berth_cpu = per_run(berth_cpu, berth_tests::cpu_time(pid));
    let server_cpu = per_run(server_cpu, berth_tests::cpu_time(server.pid()));
    let bytes = local.gib << 30;
    let (s, l) = (mbps(bytes, s3.all), mbps(bytes, local.timing.all));
    let phases = |t: &Timing| {
        format!(
            "{:.1} s, {:.1} s",
            t.stream.as_secs_f64(),
            t.verify.as_secs_f64()
        )
    };
    let mut md = format!(
        "| the backup to an S3 bucket (`storage-s3`, `s3s-fs` on loopback), whole job | {s:.0} MB/s ({:.1} s) | {l:.0} MB/s ({:.1} s) to `storage-local` | **{:.2}×** | ≥ 0.85× |\n",
        s3.all.as_secs_f64(),
        local.timing.all.as_secs_f64(),
        s / l
    );
    md += &format!(
        "| its phases: stream, verify | {} | {} to `storage-local` | — | — |\n",
        phases(&s3),
        phases(local.timing)
    );
    md += &format!(
        "| CPU time per backup (2 cores) | Berth {:.1} s + `s3s-fs` {:.1} s | Berth {:.1} s to `storage-local` | — | — |\n",
        berth_cpu.as_secs_f64(),
        server_cpu.as_secs_f64(),
        local.cpu.as_secs_f64()
    );
    if let Some(pigz) = local.pigz {
        let raw = raw_upload(&server, local.dir);
        let raw_ratio = pigz.as_secs_f64() / raw.as_secs_f64();
        md += &format!(
            "| the raw tools: `tar \\| pigz -6 \\| rclone rcat` to the same server | {:.0} MB/s ({:.1} s) | {:.0} MB/s ({:.1} s), `tar \\| pigz -6` into a file | {raw_ratio:.2}× | — |\n",
            mbps(bytes, raw),
            raw.as_secs_f64(),
            mbps(bytes, pigz),
            pigz.as_secs_f64()
        );
        md += &format!(
            "| Berth's S3/local ratio against the raw tools' | {:.2}× | {raw_ratio:.2}× | **{:.2}×** | ≥ 0.85× |\n",
            s / l,
            s / l / raw_ratio
        );
    }
    md
}

/// `tar | pigz -6 | rclone rcat` of `dir` into `server`'s bucket, median of [`RUNS`].
fn raw_upload(server: &S3Server, dir: &Path) -> Duration {
    let pipeline = format!(
        "tar -cf - -C '{}' . | pigz -6 | rclone rcat bench:bench/raw/base.tar.gz",
        dir.display()
    );
    let runs: Vec<Duration> = (0..RUNS)
        .map(|_| {
            timed(
                Command::new("bash")
                    .args(["-o", "pipefail", "-c", &pipeline])
                    .env_remove("AWS_CA_BUNDLE")
                    .envs(server.rclone_env()),
            )
        })
        .collect();
    berth_tests::median(runs)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Samples a process's RSS every 50 ms until stopped; the peak in bytes.
fn watch_rss(pid: u32) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let peak = Arc::new(AtomicU64::new(0));
    let h = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            peak.fetch_max(rss_kib(pid) * 1024, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(50));
        }
        peak.load(Ordering::Relaxed)
    });
    (stop, h)
}

fn timed(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let st = cmd.status().expect("baseline command runs");
    assert!(st.success(), "{cmd:?}");
    t.elapsed()
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

/// Downtime: a container using `vol` backed up in `stop` mode — how long the job held
/// it (the job's own `downtime`, stop request to running again) against one plain read
/// of the volume (`tar -cf -` of its directory into a pipe: GNU tar skips reading the
/// files when its archive is `/dev/null` itself), the floor of any stop-mode backup.
async fn downtime_row(c: &Client, scope: &Scope, vol: &str, dir: &Path) -> String {
    // Stops at once on SIGTERM, like a well-behaved service.
    let script = "trap 'exit 0' TERM; sleep 3600 & wait";
    start_with_volume(scope, "downtime-app", vol, script).await;
    let name = scope.name("downtime-app");
    let down = median_of(
        || async {
            let queued = c
                .call::<BackupsCreate>(CreateBackup {
                    targets: vec![BackupTarget::Container { name: name.clone() }],
                    consistency: Some(Consistency::Stop),
                    ..Default::default()
                })
                .await
                .unwrap();
            let job = &queued.jobs[0];
            run_job(c, job).await;
            let info = c.call::<JobsGet>(JobRef { id: job.clone() }).await.unwrap();
            let [held] = info.job.downtime.as_slice() else {
                panic!("one container held: {:?}", info.job.downtime)
            };
            Duration::from_millis(held.ms)
        },
        |d| *d,
    )
    .await;
    let cmd = format!("tar -cf - -C '{}' . | cat > /dev/null", dir.display());
    let read = median_of(
        || async { timed(Command::new("sh").arg("-c").arg(&cmd)) },
        |d| *d,
    )
    .await;
    // The engine's floor: the same volume read once through Docker's archive API (what
    // a backup reads), with the container running.
    let engine_cmd = format!("docker cp '{name}:/data' - > /dev/null");
    let engine = median_of(
        || async { timed(Command::new("sh").arg("-c").arg(&engine_cmd)) },
        |d| *d,
    )
    .await;
    format!(
        "| downtime of a `stop`-mode container backup (the job's `downtime`: stop request to running again) | {:.1} s | {:.1} s, one plain read (`tar -cf - \\| cat > /dev/null`) | {:.2}× | ≤ 1.3× |\n\
         | the same downtime | {:.1} s | {:.1} s, one read through the engine's archive API (`docker cp app:/data -`) | {:.2}× | — |\n",
        down.as_secs_f64(),
        read.as_secs_f64(),
        down.as_secs_f64() / read.as_secs_f64(),
        down.as_secs_f64(),
        engine.as_secs_f64(),
        down.as_secs_f64() / engine.as_secs_f64()
    )
}

/// A restore of two volumes (a container with two of 512 MiB, each half text, half
/// random): the first one's read-back runs while the second streams in. Against
/// `tar -xzf` of pigz's archive of both directories.
async fn two_volumes_row(c: &Client, scope: &Scope, scratch: &Path) -> String {
    let mut volumes = Vec::new();
    for n in 1..=2 {
        let (vol, dir) = volume(scope, &format!("bench-pair-{n}")).await;
        fill_mib(scope, &vol, &format!("fill-pair-{n}"), 512).await;
        volumes.push((vol, dir));
    }
    let app = scope.name("pair-app");
    let mounts = volumes
        .iter()
        .enumerate()
        .map(|(n, (vol, _))| Mount {
            typ: Some(MountType::VOLUME),
            source: Some(vol.clone()),
            target: Some(format!("/data{n}")),
            ..Default::default()
        })
        .collect();
    scope
        .docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&app).build()),
            ContainerCreateBody {
                image: Some(ensure_test_image(&scope.docker).await.to_owned()),
                cmd: Some(vec!["true".into()]),
                labels: Some(scope.labels()),
                host_config: Some(HostConfig {
                    mounts: Some(mounts),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, id) = back_up(
        c,
        CreateBackup {
            targets: vec![BackupTarget::Container { name: app.clone() }],
            consistency: Some(Consistency::Hot),
            ..Default::default()
        },
    )
    .await;
    let mut attempt = 0;
    let restored = median_of(
        || {
            attempt += 1;
            let request = RestoreBackup {
                id: id.clone(),
                name: Some(scope.name(&format!("pair-restored-{attempt}"))),
                volumes: volumes
                    .iter()
                    .map(|(v, _)| (v.clone(), format!("{v}-restored-{attempt}")))
                    .collect(),
                start: Some(false),
                ..Default::default()
            };
            restore(c, scope, request)
        },
        |t| t.all,
    )
    .await;
    let parent = volumes[0].1.parent().unwrap().parent().unwrap().to_owned();
    let tgz = scratch.join("pair.tar.gz");
    let names: Vec<String> = volumes.iter().map(|(v, _)| format!("'{v}'")).collect();
    let pack = format!(
        "tar -cf - -C '{}' {} | pigz -6 > '{}'",
        parent.display(),
        names.join(" "),
        tgz.display()
    );
    timed(Command::new("sh").arg("-c").arg(&pack));
    let untar_d = untar_time(&tgz, &scratch.join("pair")).await;
    let _ = std::fs::remove_file(&tgz);
    format!(
        "| restore of two 512 MiB volumes (one container), whole job | {:.1} s (stream in {:.1} s, then read back {:.1} s) | {:.1} s, `tar -xzf` to a directory | {:.2}× | ≥ 1.0× |\n",
        restored.all.as_secs_f64(),
        restored.stream.as_secs_f64(),
        restored.verify.as_secs_f64(),
        untar_d.as_secs_f64(),
        untar_d.as_secs_f64() / restored.all.as_secs_f64()
    )
}

fn main() {
    let sizes: Vec<u64> = std::env::var("BERTH_BENCH_BACKUP_GIB")
        .unwrap_or_else(|_| "1,4".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let md = rt.block_on(async {
        let scope = Scope::new().await;
        let (_tmp, berth) = ws::start().await;
        let c = ws::admin(&berth).await;
        let pid = berth.process.pid();
        let scratch = tempfile::tempdir().unwrap();
        let mut md = String::from("| figure | Berth | baseline (same run) | ratio | goal |\n|---|---|---|---|---|\n");
        let mut rss = Vec::new();
        let rss_before = rss_kib(pid) * 1024;
        for (i, gib) in sizes.iter().enumerate() {
            let (vol, dir) = volume(&scope, &format!("bench-{gib}")).await;
            fill(&scope, &vol, *gib).await;
            let bytes = gib << 30;
            let (stop, h) = watch_rss(pid);
            let cpu_before = berth_tests::cpu_time(pid);
            let (timing, id) = if i == 0 {
                median_of(|| backup(&c, &vol, None), |r| r.0.all).await
            } else {
                backup(&c, &vol, None).await
            };
            let berth_d = timing.all;
            let local_cpu = (berth_tests::cpu_time(pid) - cpu_before) / RUNS as u32;
            stop.store(true, Ordering::Relaxed);
            let peak = h.join().unwrap();
            rss.push((*gib, peak));
            if i > 0 {
                continue; // the larger sizes are for memory only
            }
            // Same data, same level (gzip's default, 6), read from the volume's directory.
            let tgz = scratch.path().join("base.tar.gz");
            let tar_d = median_of(
                || async {
                    timed(Command::new("tar").arg("-czf").arg(&tgz).arg("-C").arg(&dir).arg("."))
                },
                |d| *d,
            )
            .await;
            let pigz = Command::new("pigz").arg("--version").output().is_ok();
            let pigz_out = scratch.path().join("pigz.tar.gz");
            let pigz_d = if pigz {
                let cmd = format!(
                    "tar -cf - -C '{}' . | pigz -6 > '{}'",
                    dir.display(),
                    pigz_out.display()
                );
                Some(
                    median_of(
                        || async { timed(Command::new("sh").arg("-c").arg(&cmd)) },
                        |d| *d,
                    )
                    .await,
                )
            } else {
                None
            };
            let enc_d = median_of(
                || backup(&c, &vol, Some("a bench passphrase")),
                |r| r.0.all,
            )
            .await
            .0
            .all;
            let berth_size = stored_size(&c, &id).await;
            let tar_size = std::fs::metadata(&tgz).unwrap().len();
            // Restore into a new volume vs extracting the baseline archive; medians of
            // three like the backups (one restore swung 0.96-1.31x between runs).
            let mut attempt = 0;
            let restored = median_of(
                || {
                    attempt += 1;
                    let target = scope.name(&format!("bench-{gib}-restored-{attempt}"));
                    let request = RestoreBackup {
                        id: id.clone(),
                        volumes: [(vol.clone(), target)].into(),
                        ..Default::default()
                    };
                    restore(&c, &scope, request)
                },
                |t| t.all,
            )
            .await;
            let restore_d = restored.all;
            let untar_d = untar_time(&tgz, &scratch.path().join("x")).await;
            let (b, t) = (mbps(bytes, berth_d), mbps(bytes, tar_d));
            md += &format!(
                "| backup of {gib} GiB (half text, half random), whole job: stream + verify | {b:.0} MB/s ({:.1} s) | {t:.0} MB/s ({:.1} s), `tar -czf` | **{:.2}×** | ≥ 1.5× |\n",
                berth_d.as_secs_f64(),
                tar_d.as_secs_f64(),
                b / t
            );
            md += &format!(
                "| its phases: stream, verify | {:.1} s ({:.0} MB/s), {:.1} s | — | — | — |\n",
                timing.stream.as_secs_f64(),
                mbps(bytes, timing.stream),
                timing.verify.as_secs_f64()
            );
            match pigz_d {
                Some(p) => {
                    let p = mbps(bytes, p);
                    md += &format!(
                        "| the same backup | {b:.0} MB/s | {p:.0} MB/s, `tar \\| pigz -6` | **{:.2}×** | ≥ 0.9× |\n",
                        b / p
                    );
                    let pigz_size = std::fs::metadata(&pigz_out).unwrap().len();
                    md += &format!(
                        "| its archive's size | {:.1} MB | {:.1} MB `tar \\| pigz -6`, {:.1} MB `tar -czf` | {:.3}× pigz's | — |\n",
                        berth_size as f64 / 1e6,
                        pigz_size as f64 / 1e6,
                        tar_size as f64 / 1e6,
                        berth_size as f64 / pigz_size as f64
                    );
                }
                None => md += "| the same backup | — | pigz not installed | — | ≥ 0.9× |\n",
            }
            let (r, u) = (mbps(bytes, restore_d), mbps(bytes, untar_d));
            md += &format!(
                "| restore of {gib} GiB into a new volume, whole job: stream in + read back + compare | {r:.0} MB/s ({:.1} s) | {u:.0} MB/s ({:.1} s), `tar -xzf` to a directory | {:.2}× | — |\n",
                restore_d.as_secs_f64(),
                untar_d.as_secs_f64(),
                r / u
            );
            md += &format!(
                "| its phases: before the data (conflicts, volumes, helpers), stream in, read back and compare | {:.1} s, {:.1} s ({:.0} MB/s), {:.1} s | — | — | — |\n",
                restored
                    .all
                    .saturating_sub(restored.stream + restored.verify)
                    .as_secs_f64(),
                restored.stream.as_secs_f64(),
                mbps(bytes, restored.stream),
                restored.verify.as_secs_f64()
            );
            let (floor_in, floor_out) =
                engine_restore_floor(&scope, &dir, scratch.path()).await;
            let floor = floor_in + floor_out;
            md += &format!(
                "| the same restore against the engine's floor | {:.1} s | {:.1} s: the plain tar into an empty volume and read back out through Docker's archive API (`docker cp` in {:.1} s, out {:.1} s) | {:.2}× | — |\n",
                restore_d.as_secs_f64(),
                floor.as_secs_f64(),
                floor_in.as_secs_f64(),
                floor_out.as_secs_f64(),
                floor.as_secs_f64() / restore_d.as_secs_f64()
            );
            md += &format!(
                "| the backup encrypted (passphrase) | {:.1} s | {:.1} s unencrypted | {:+.1} % | ≤ 10 % |\n",
                enc_d.as_secs_f64(),
                berth_d.as_secs_f64(),
                (enc_d.as_secs_f64() / berth_d.as_secs_f64() - 1.0) * 100.0
            );
            md += &downtime_row(&c, &scope, &vol, &dir).await;
            md += &two_volumes_row(&c, &scope, scratch.path()).await;
            let local = LocalRun {
                vol: &vol,
                dir: &dir,
                gib: *gib,
                timing: &timing,
                cpu: local_cpu,
                pigz: pigz_d,
            };
            md += &offsite_rows(&c, pid, &local).await;
        }
        let idle = rss_kib(pid) * 1024;
        let list: Vec<String> = rss
            .iter()
            .map(|(g, p)| format!("{g} GiB: {:.1} MB", *p as f64 / 1e6))
            .collect();
        md += &format!(
            "| Berth peak RSS during a backup | {} | {:.1} MB before the first, {:.1} MB idle after the runs | — | ≤ 64 MB, flat in size |\n",
            list.join(", "),
            rss_before as f64 / 1e6,
            idle as f64 / 1e6
        );
        md
    });
    print!("{md}");
    berth_tests::write_bench_report("backup", &md);
}
