//! The sandbox holds against a plugin that misbehaves on purpose (`plugins/testing/
//! hostile`, built by `cargo xtask test` into `$BERTH_TEST_PLUGINS`): an endless loop is
//! stopped at its deadline while other plugin calls go on, a memory bomb hits the cap
//! and says so, a panic is reported and the next call works, and the filesystem,
//! network and environment are out of reach.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_plugins::{ExtraPlugin, Limits, PluginError, PluginRuntime};
use berth_protocol::error::ErrorCode;

const LIMITS: Limits = Limits {
    call_timeout: Duration::from_millis(1500),
    memory: 32 << 20,
    upload_buffer: 2 << 20,
};

async fn runtime() -> (tempfile::TempDir, PluginRuntime) {
    let dir = std::env::var_os("BERTH_TEST_PLUGINS")
        .map(PathBuf::from)
        .expect(
            "BERTH_TEST_PLUGINS: run through `cargo xtask test`, which builds the test plugins",
        );
    let wasm = std::fs::read(dir.join("hostile.wasm")).expect("hostile.wasm built");
    let tmp = tempfile::tempdir().unwrap();
    let rt = PluginRuntime::start_with(
        &tmp.path().join("cache"),
        LIMITS,
        vec![ExtraPlugin {
            id: "hostile".to_owned(),
            wasm,
            manifest: None,
        }],
    )
    .await
    .unwrap();
    rt.get("hostile").expect("hostile loaded");
    (tmp, rt)
}

async fn run(rt: &PluginRuntime, mode: &str) -> Result<(), PluginError> {
    rt.init_and_check("hostile", None, &serde_json::to_string(mode).unwrap())
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_at_its_deadline_and_others_keep_working() {
    let (_tmp, rt) = runtime().await;
    let started = Instant::now();
    let (spin, probe) = tokio::join!(run(&rt, "spin"), async {
        // Give the loop a head start, then ask another plugin for its health.
        tokio::task::yield_now().await;
        let t = Instant::now();
        let h = rt.health("probe", None).await;
        (h, t.elapsed())
    });
    let spent = started.elapsed();
    let e = spin.unwrap_err();
    assert!(matches!(e, PluginError::Timeout { .. }), "{e}");
    assert_eq!(berth_server::errors::plugin(&e).code, ErrorCode::Timeout);
    assert!(e.to_string().contains("1500 ms time limit"), "{e}");
    assert!(
        spent >= LIMITS.call_timeout && spent < LIMITS.call_timeout + Duration::from_secs(2),
        "stopped at the deadline: {spent:?}"
    );
    let (h, took) = probe;
    h.expect("the probe answers while the loop spins");
    assert!(
        took < LIMITS.call_timeout,
        "the probe did not wait for the loop: {took:?}"
    );
    // Recovered: the next call gets a fresh instance.
    run(&rt, "ok").await.unwrap();
}

/// Everything this test process logs (plugins' log lines among it), for assertions.
fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOGS: std::sync::OnceLock<&'static std::sync::Mutex<Vec<u8>>> =
        std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static std::sync::Mutex<Vec<u8>> =
            Box::leak(Box::new(std::sync::Mutex::new(Vec::new())));
        let _ = tracing_subscriber::fmt()
            .with_writer(move || Capture(logs))
            .with_max_level(tracing::Level::WARN)
            .try_init();
        logs
    })
}

struct Capture(&'static std::sync::Mutex<Vec<u8>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waiting_in_a_host_call_is_dropped_at_its_deadline_not_left_running() {
    let logs = captured_logs();
    let (_tmp, rt) = runtime().await;
    let started = Instant::now();
    // The guest sleeps in a host call for 3 s (no guest code runs, so no epoch check
    // can stop it), then logs its wake-up.
    let e = run(&rt, "sleep-log:3").await.unwrap_err();
    assert!(matches!(e, PluginError::Timeout { .. }), "{e}");
    assert!(
        started.elapsed() < LIMITS.call_timeout + Duration::from_secs(1),
        "answered at the deadline"
    );
    // Had the call been left running, its wake-up would be logged 3 s after it began.
    tokio::time::sleep_until((started + Duration::from_secs(4)).into()).await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        !text.contains("hostile woke up"),
        "the timed-out call ran on: {text}"
    );
    run(&rt, "ok").await.unwrap();
}

#[tokio::test]
async fn a_memory_bomb_hits_the_cap_and_says_so() {
    let (_tmp, rt) = runtime().await;
    let e = run(&rt, "bomb").await.unwrap_err();
    assert!(matches!(e, PluginError::Memory { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "plugin hostile exceeded its 32 MiB memory limit"
    );
    let body = berth_server::errors::plugin(&e);
    assert_eq!(body.code, ErrorCode::Unavailable);
    assert_eq!(body.details.unwrap()["plugin"], "hostile");
    run(&rt, "ok").await.unwrap();
}

#[tokio::test]
async fn huge_answers_are_cut_before_they_reach_anyone() {
    let (_tmp, rt) = runtime().await;
    // A 16 MiB error message (a single huge string lifted out of the guest) reaches
    // users as one short line.
    let e = run(&rt, "huge-error:16").await.unwrap_err();
    let text = berth_server::errors::plugin(&e).message;
    assert!(text.len() < 2048, "{} bytes passed on", text.len());
    assert!(
        text.starts_with("plugin hostile: EEEE") && text.ends_with("(cut; 16777216 bytes in all)"),
        "{}",
        &text[text.len().saturating_sub(80)..]
    );
    // A 16 MiB log line is cut too; the call itself is fine.
    run(&rt, "huge-log:16").await.unwrap();
    run(&rt, "ok").await.unwrap();
}

#[tokio::test]
async fn a_panic_is_reported_and_the_instance_recycled() {
    let (_tmp, rt) = runtime().await;
    let e = run(&rt, "panic").await.unwrap_err();
    assert!(matches!(e, PluginError::Trap { .. }), "{e}");
    assert!(e.to_string().starts_with("plugin hostile: "), "{e}");
    assert_eq!(
        rt.call_health("hostile").status,
        berth_plugins::HealthStatus::Degraded
    );
    run(&rt, "ok").await.unwrap();
    assert_eq!(
        rt.call_health("hostile").status,
        berth_plugins::HealthStatus::Healthy
    );
}

#[tokio::test]
async fn files_network_and_environment_are_out_of_reach() {
    let (_tmp, rt) = runtime().await;
    // A file the test can read itself, so only the sandbox can be the reason.
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "secret").unwrap();
    for path in [
        secret.path().display().to_string(),
        "/etc/passwd".to_owned(),
        "../../etc/passwd".to_owned(),
    ] {
        let e = run(&rt, &format!("read:{path}")).await.unwrap_err();
        assert!(
            matches!(e, PluginError::Failed { .. }),
            "{path}: refused as an I/O error, not read: {e}"
        );
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let e = run(&rt, &format!("tcp:{addr}")).await.unwrap_err();
    assert!(matches!(e, PluginError::Failed { .. }), "{e}");
    assert!(
        listener.accept().is_err(),
        "nothing connected to the listener"
    );

    // The test process has an environment; the plugin sees none of it.
    assert!(std::env::vars().next().is_some());
    let e = run(&rt, "env").await.unwrap_err();
    assert!(e.to_string().contains("no environment"), "{e}");
}
