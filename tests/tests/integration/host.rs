//! The `berth` process: start, readiness, the data-dir lock, configuration errors,
//! logging and graceful shutdown — against the real binary and the real Docker Engine.

use std::time::{Duration, Instant};

use berth_tests::server::{Berth, Process, berth_command, bin, serve_command, serve_command_cold};

#[tokio::test]
async fn starts_and_is_ready_with_store_docker_and_plugin() {
    let berth = Berth::start().await;
    let health: serde_json::Value = berth
        .get("/healthz")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, serde_json::json!({"status": "ok"}));

    let (status, ready) = berth.readiness().await;
    assert_eq!(status, 200);
    let names: Vec<&str> = ready.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "store",
            "docker",
            "compose",
            "plugin:notify-webhook",
            "plugin:probe",
            "plugin:storage-local",
            "plugin:storage-s3",
            "plugin:storage-webdav"
        ],
        "{ready:?}"
    );
    assert!(ready.checks.iter().all(|c| c.ok), "{ready:?}");
    let docker = &ready.checks[1].detail;
    assert!(
        docker.contains("API 1."),
        "negotiated API version reported: {docker}"
    );
    let schema = format!("schema v{}", berth_core::store::SCHEMA_VERSION);
    assert!(ready.checks[0].detail.contains(&schema), "{ready:?}");

    // The data dir holds the store, the plugin cache (every built-in compiled) and the
    // backup dir.
    assert!(berth.data_dir.join("berth.redb").is_file());
    assert!(berth.data_dir.join("backups").is_dir());
    let cached = std::fs::read_dir(berth.data_dir.join("plugins/cache"))
        .unwrap()
        .count();
    assert_eq!(cached, 5, "one .cwasm per built-in plugin");
}

#[tokio::test]
async fn a_second_instance_on_the_same_data_dir_is_refused() {
    let first = Berth::start().await;
    let mut second = Process::spawn(serve_command(&first.data_dir));
    let status = second
        .wait(Duration::from_secs(30))
        .expect("second instance exits");
    assert!(!status.success());
    let text = second.lines().join("\n");
    assert!(
        text.contains("already in use by another berth process")
            && text.contains(&format!("pid {}", first.process.pid())),
        "{text}"
    );
    // The first one is unaffected.
    assert_eq!(first.readiness().await.0, 200);
}

#[test]
fn bad_configuration_is_refused_with_one_line_and_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("never-created");

    let mut cmd = berth_command();
    cmd.args(["serve", "--listen", "not-an-address", "--data-dir"])
        .arg(&data_dir);
    let mut p = Process::spawn(cmd);
    let status = p.wait(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(2));
    let lines = p.lines();
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(
        lines[0].contains("`listen`") && lines[0].contains("--listen"),
        "{lines:?}"
    );

    let config = tmp.path().join("berth.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nbackup_dir = \"/x\"\n").unwrap();
    // Cold: seeding the plugin cache would create the data dir this test says an
    // invalid configuration never creates.
    let mut cmd = serve_command_cold(&data_dir);
    cmd.arg("--config").arg(&config);
    let mut p = Process::spawn(cmd);
    assert_eq!(
        p.wait(Duration::from_secs(10)).expect("exits").code(),
        Some(2)
    );
    let lines = p.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("`backup_dir`") && lines[0].contains("unknown key"),
        "{lines:?}"
    );

    let mut cmd = serve_command_cold(&data_dir);
    cmd.env("BERTH_LOG_FORMAT", "yaml");
    let mut p = Process::spawn(cmd);
    assert_eq!(
        p.wait(Duration::from_secs(10)).expect("exits").code(),
        Some(2)
    );
    assert!(p.lines()[0].contains("BERTH_LOG_FORMAT"), "{:?}", p.lines());

    assert!(
        !data_dir.exists(),
        "nothing written for an invalid configuration"
    );
}

#[tokio::test]
async fn docker_unreachable_makes_readyz_503_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut cmd = serve_command(&data_dir);
    cmd.arg("--docker-host")
        .arg("unix:///nonexistent/berth-test.sock");
    let berth = Berth::start_with(cmd, &data_dir).await;
    let (status, ready) = berth.readiness().await;
    assert_eq!(status, 503);
    assert!(!ready.ready);
    let failing: Vec<&str> = ready.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failing, ["docker"], "{ready:?}");
    assert!(
        ready.checks[1]
            .detail
            .contains("/nonexistent/berth-test.sock"),
        "{ready:?}"
    );
    let probe = healthcheck(&["--url", &berth.url], &[]);
    assert_eq!(probe.status.code(), Some(1), "a 503 is unhealthy");
    assert!(String::from_utf8_lossy(&probe.stderr).contains("HTTP 503"));
}

/// `berth healthcheck` with `args` and environment `env`.
fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = berth_command();
    cmd.arg("healthcheck").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[tokio::test]
async fn healthcheck_is_healthy_only_when_ready() {
    let berth = Berth::start().await;
    let probe = healthcheck(&["--url", &berth.url], &[]);
    assert!(probe.status.success(), "{probe:?}");
    assert_eq!(String::from_utf8_lossy(&probe.stdout), "ready\n");
    // Without --url: Berth's own listen setting, a wildcard asked on loopback.
    let port = berth.url.rsplit(':').next().unwrap();
    let listen = format!("0.0.0.0:{port}");
    let probe = healthcheck(&[], &[("BERTH_LISTEN", &listen)]);
    assert!(probe.status.success(), "{probe:?}");
    let probe = healthcheck(&["--url", "http://127.0.0.1:9"], &[]);
    assert_eq!(probe.status.code(), Some(1), "nobody listening");
    let probe = healthcheck(&[], &[("BERTH_LISTEN", "nonsense")]);
    assert_eq!(
        probe.status.code(),
        Some(2),
        "a bad setting is a usage error"
    );
}

#[tokio::test]
async fn sigterm_stops_cleanly_within_5s_and_the_next_start_uses_the_plugin_cache() {
    let mut berth = Berth::start_cold().await;
    let data_dir = berth.data_dir.clone();
    assert!(
        berth
            .process
            .lines()
            .iter()
            .any(|l| l.contains("plugin loaded") && l.contains("Compiled"))
    );

    let asked = Instant::now();
    berth.process.signal(libc::SIGTERM);
    let status = berth
        .process
        .wait(Duration::from_secs(5))
        .expect("stopped within 5 s");
    assert!(status.success(), "{status}");
    assert!(asked.elapsed() < Duration::from_secs(5));
    let lines = berth.process.lines();
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {lines:?}"))
    };
    assert!(pos("shutting down") < pos("store closed") && pos("store closed") < pos("stopped"));

    // Lock released and store closed: a new process opens the same data dir at once,
    // and loads the precompiled plugin instead of compiling it again.
    let again = Berth::start_with(serve_command(&data_dir), &data_dir).await;
    again.wait_ready().await;
    assert!(
        again
            .process
            .lines()
            .iter()
            .any(|l| l.contains("plugin loaded") && l.contains("Cached")),
        "{:?}",
        again.process.lines()
    );
    drop(again);
    drop(berth);
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let mut cmd = serve_command(&data_dir);
    cmd.arg("--log-format").arg("json");
    let berth = Berth::start_with(cmd, &data_dir).await;
    berth.wait_ready().await;
    let lines = berth.process.lines();
    assert!(lines.len() >= 3);
    let mut saw_url = false;
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        saw_url |= v["url"].as_str() == Some(berth.url.as_str());
    }
    assert!(saw_url, "the listening line carries the url as a field");
}

#[test]
fn help_describes_the_commands_and_settings() {
    let out = std::process::Command::new(bin())
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("serve"), "{text}");
    let out = std::process::Command::new(bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "--data-dir",
        "--docker-host",
        "--config",
        "--log-format",
        "BERTH_LISTEN",
        "127.0.0.1:8080",
    ] {
        assert!(
            text.contains(needle),
            "serve --help lacks {needle}:\n{text}"
        );
    }
}
