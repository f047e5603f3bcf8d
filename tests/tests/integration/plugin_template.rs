//! The "write a notifier in 15 minutes" guide stays true: a fresh copy of the template
//! in `sdk/plugin/template` builds with one cargo command, its manifest passes the
//! host's checks, and the component loads and delivers a notification to a real HTTP
//! server through the egress allow-list — the same path `notify-webhook` takes.

use std::path::Path;
use std::process::Command;

use berth_plugins::egress::Pattern;
use berth_plugins::notifier::{Level, Notification, NotifierInstance};
use berth_plugins::{ExtraPlugin, Limits, PluginKind, PluginRuntime};
use berth_tests::http_sink::Sink;
use berth_tests::workspace_root;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

#[tokio::test]
async fn the_template_builds_loads_and_delivers() {
    let root = workspace_root();
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("my-notifier");
    copy_dir(&root.join("sdk/plugin/template"), &project);
    // Outside the repository the SDK comes from git or a release; here, from the tree.
    let manifest_path = project.join("Cargo.toml");
    let cargo_toml = std::fs::read_to_string(&manifest_path).unwrap().replace(
        "path = \"..\"",
        &format!("path = {:?}", root.join("sdk/plugin").display().to_string()),
    );
    std::fs::write(&manifest_path, cargo_toml).unwrap();
    // The built-in plugins' lock file and target dir: the same dependency versions, so
    // the build reuses what `cargo xtask` compiled instead of starting from nothing.
    std::fs::copy(root.join("plugins/Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let target = root.join("plugins/target");

    // The guide's one command.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&project)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "the template builds:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm_path = target.join("wasm32-wasip2/release/my_notifier.wasm");
    let wasm = std::fs::read(&wasm_path).unwrap();
    assert_eq!(
        &wasm[..8],
        b"\0asm\x0d\0\x01\0",
        "a component, not a core module"
    );

    let manifest = std::fs::read_to_string(project.join("plugin.toml")).unwrap();
    let rt = PluginRuntime::start_with(
        &tmp.path().join("cache"),
        Limits::default(),
        vec![ExtraPlugin {
            id: "my-notifier".into(),
            wasm,
            manifest: Some(manifest),
        }],
    )
    .await
    .unwrap();
    let p = rt.get("my-notifier").expect("the template loads");
    assert_eq!(p.kind, PluginKind::Notifier);
    assert_eq!(p.limits.memory, 16 << 20, "the manifest's limits apply");
    assert_eq!(p.manifest.capabilities.secrets, ["token"]);

    let sink = Sink::start().await;
    let inst = NotifierInstance {
        name: "guide".into(),
        plugin: "my-notifier".into(),
        config: serde_json::json!({"url": format!("{}/chat", sink.base), "token": "t0k"})
            .to_string(),
        egress: vec![Pattern::parse(&sink.base).unwrap()],
        allow_private: true,
    };
    let n = Notification {
        kind: "test".into(),
        level: Level::Success,
        title: "Hello".into(),
        body: "it works".into(),
        fields: Vec::new(),
    };
    let d = rt.notify(&inst, &n).await.expect("delivered");
    assert_eq!(d.attempts, 1);
    let r = sink.next().await;
    assert_eq!(r.path, "/chat");
    assert_eq!(r.header("authorization"), Some("Bearer t0k"));
    assert_eq!(r.json()["text"], "[berth] Hello: it works");

    // Its configuration is the plugin's own: an unknown field is refused by name.
    let bad = NotifierInstance {
        config: serde_json::json!({"url": sink.base, "colour": 1}).to_string(),
        ..inst
    };
    let e = rt.notify(&bad, &n).await.unwrap_err().to_string();
    assert!(e.contains("unknown field `colour`"), "{e}");
}
