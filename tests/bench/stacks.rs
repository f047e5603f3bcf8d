//! Stack figures (issue 27), against the release binary, the real engine and the
//! real compose CLI, each beside a baseline measured in the same run:
//!
//! - `stacks.list` with 50 stacks up (p50), against `containers.list` on the same
//!   host (the Docker half of the work);
//! - an action → the first byte of its output on `stack.output` (p50; `up -d` of a
//!   stack that is already up), against running the compose CLI directly and reading
//!   its first byte;
//! - idle CPU over 20 s with the 50 stacks (goal ≈ 0: nothing polls).
//!
//! Run with `cargo xtask bench`. Writes `target/bench/stacks.md`. Everything it
//! creates in Docker carries the test label and is removed at the end.

use std::time::{Duration, Instant};

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{ContainersList, StacksList};
use berth_protocol::api::hosts::HostOnly;
use berth_tests::docker::{Scope, compose, compose_command, ensure_test_image};
use berth_tests::ws;
use berth_tests::{cpu_time, ms, pct};
use tokio::io::AsyncReadExt;

const STACKS: usize = 50;
const CALLS: usize = 50;
const ACTIONS: usize = 10;
const IDLE: Duration = Duration::from_secs(20);

/// A stack without a network of its own: Docker's default address pools hold about
/// 30 bridge networks, fewer than the 50 stacks.
fn compose_file(image: &str, run: &str) -> String {
    format!(
        "services:\n  app:\n    image: {image}\n    init: true\n    network_mode: none\n    command: [\"sleep\", \"3600\"]\n    labels: {{ berth.test: \"{run}\" }}\n"
    )
}

/// The compose CLI as a user would run it; the time to its first byte of output.
fn direct_first_byte(dir: &std::path::Path, project: &str) -> Duration {
    use std::io::Read;
    let mut cmd = compose_command();
    let t0 = Instant::now();
    let mut child = cmd
        .current_dir(dir)
        .args([
            "--ansi",
            "never",
            "-p",
            project,
            "-f",
            "compose.yaml",
            "up",
            "-d",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut byte = [0u8; 1];
    child
        .stderr
        .as_mut()
        .unwrap()
        .read_exact(&mut byte)
        .unwrap();
    let first = t0.elapsed();
    child.wait().unwrap();
    first
}

async fn via_channel(c: &berth_client::Client, name: &str) -> Duration {
    let t0 = Instant::now();
    let mut channel = c
        .open_binary(
            "stack.output",
            serde_json::json!({"stack": name, "action": "up"}),
            Some(65536),
        )
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    channel.read_exact(&mut byte).await.unwrap();
    let first = t0.elapsed();
    let mut rest = Vec::new();
    channel.read_to_end(&mut rest).await.unwrap();
    first
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let md = rt.block_on(async {
        let scope = Scope::new().await;
        let image = ensure_test_image(&scope.docker).await;
        let (_tmp, berth) = ws::start().await;
        let op = ws::admin(&berth).await;
        let root = berth.data_dir.join("stacks");
        let names: Vec<String> = (0..STACKS).map(|i| format!("bench-{i:02}")).collect();
        for name in &names {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("compose.yaml"), compose_file(image, &scope.run)).unwrap();
            compose(&dir, name, &["up", "-d"]);
        }
        let listed = op.call::<StacksList>(Empty {}).await.unwrap();
        assert_eq!(listed.stacks.iter().filter(|s| s.managed).count(), STACKS);
        let (mut list, mut containers) = (Vec::new(), Vec::new());
        for _ in 0..CALLS {
            let t = Instant::now();
            op.call::<StacksList>(Empty {}).await.unwrap();
            list.push(ms(t.elapsed()));
            let t = Instant::now();
            op.call::<ContainersList>(HostOnly::default()).await.unwrap();
            containers.push(ms(t.elapsed()));
        }
        let (mut channel, mut direct) = (Vec::new(), Vec::new());
        for i in 0..ACTIONS {
            let name = &names[i % STACKS];
            channel.push(ms(via_channel(&op, name).await));
            direct.push(ms(direct_first_byte(&root.join(name), name)));
        }
        let pid = berth.process.pid();
        let before = cpu_time(pid);
        tokio::time::sleep(IDLE).await;
        let idle = ms(cpu_time(pid) - before);
        for name in &names {
            compose(&root.join(name), name, &["down", "-t", "1"]);
        }
        let (l, c) = (pct(&mut list, 0.5), pct(&mut containers, 0.5));
        let (a, d) = (pct(&mut channel, 0.5), pct(&mut direct, 0.5));
        format!(
            "| figure | Berth | baseline | ratio |\n|---|---|---|---|\n\
             | `stacks.list`, {STACKS} stacks up, p50 of {CALLS} (ms) | {l:.1} | {c:.1} (`containers.list`, same host) | {:.2}× |\n\
             | action → first output byte (`up -d`, already up), p50 of {ACTIONS} (ms) | {a:.0} | {d:.0} (the compose CLI run directly) | {:.2}× |\n\
             | idle CPU over {}s with {STACKS} stacks (ms) | {idle:.0} | — | — |\n",
            l / c,
            a / d,
            IDLE.as_secs()
        )
    });
    print!("{md}");
    berth_tests::write_bench_report("stacks", &md);
}
