//! Installing third-party plugins over the protocol, end to end: the real binary, a
//! package uploaded with `PUT` on a ticket, checked before compiling (wrong sha256,
//! unsupported API, a built-in's id, garbage), capabilities approved (and re-approved
//! on an upgrade that adds one), the installed plugin used for real (a notification
//! reaching a local HTTP server), kept across a restart, refused uninstall while an
//! instance exists, then uninstalled.
//!
//! The package's component is the embedded webhook notifier's, under another id: a
//! component does not know its id, its manifest does.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_client::Client;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    NotificationsRoutes, NotificationsSetRoutes, NotificationsTest, PluginsConfigure,
    PluginsInstall, PluginsList, PluginsUnconfigure, PluginsUninstall, PluginsUploadTicket,
};
use berth_protocol::api::plugins::{
    ConfigureInstance, InstallPlugin, InstanceRef, NotifyEvent, NotifyRoute, NotifyRoutes,
    PluginHealth, PluginKind, PluginRef, StagedPlugin,
};
use berth_protocol::auth::HttpError;
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::http_sink::Sink;
use berth_tests::plugin_package::package;
use berth_tests::server::{Berth, serve_command};
use berth_tests::ws;
use serde_json::json;

struct Admin {
    token: String,
    c: Client,
}

async fn admin(berth: &Berth) -> Admin {
    let token = ws::login(berth, "admin", ws::ADMIN_PASSWORD).await;
    let c = ws::client(berth, &token).await;
    Admin { token, c }
}

/// Uploads `bytes` on a fresh ticket: the staged package, or the HTTP error.
async fn upload(berth: &Berth, a: &Admin, bytes: Vec<u8>) -> Result<StagedPlugin, (u16, String)> {
    let t = a.c.call::<PluginsUploadTicket>(Empty {}).await.unwrap();
    let resp = reqwest::Client::new()
        .put(format!("{}{}", berth.url, t.url))
        .bearer_auth(&a.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    if status == 200 {
        Ok(resp.json().await.unwrap())
    } else {
        let e: HttpError = resp.json().await.unwrap();
        Err((status, e.error.message))
    }
}

fn staging_files(berth: &Berth) -> usize {
    std::fs::read_dir(berth.data_dir.join("plugins/staging"))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

async fn install(
    a: &Admin,
    staged: &str,
    approve: &[String],
) -> Result<String, (ErrorCode, String)> {
    a.c.call::<PluginsInstall>(InstallPlugin {
        staged: staged.to_owned(),
        approve: approve.to_vec(),
    })
    .await
    .map(|p| p.manifest.expect("a manifest").version)
    .map_err(|e| {
        let b = e.body().expect("a protocol error");
        (b.code, b.message.clone())
    })
}

#[tokio::test]
async fn wrong_packages_are_refused_before_compiling_and_leave_nothing() {
    let (_tmp, berth) = ws::start().await;
    let a = admin(&berth).await;
    let zeros = "0".repeat(64);
    for (bytes, status, why) in [
        (
            package("acme-hook", "1.0.0", &[], Some(&zeros), "berth:plugin@0.1"),
            400,
            "damaged",
        ),
        (
            package("acme-hook", "1.0.0", &[], None, "berth:plugin@0.9"),
            400,
            "upgrade Berth",
        ),
        (
            package("notify-webhook", "9.0.0", &[], None, "berth:plugin@0.1"),
            409,
            "built-in",
        ),
        (b"not a package at all".repeat(100), 400, "not a tar"),
    ] {
        let (code, msg) = upload(&berth, &a, bytes).await.expect_err("refused");
        assert_eq!(code, status, "{msg}");
        assert!(msg.contains(why), "want {why:?} in {msg:?}");
        assert_eq!(staging_files(&berth), 0, "a refused package leaves nothing");
    }
    assert!(
        !berth
            .process
            .lines()
            .iter()
            .any(|l| l.contains("acme-hook") && l.contains("plugin loaded")),
        "nothing was compiled"
    );
    let list = a.c.call::<PluginsList>(Empty {}).await.unwrap();
    assert!(!list.plugins.iter().any(|p| p.id == "acme-hook"));

    // A ticket works once, for its user, and only with PUT.
    let t = a.c.call::<PluginsUploadTicket>(Empty {}).await.unwrap();
    let get = berth
        .get(&t.url)
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.status().as_u16(),
        400,
        "an upload ticket does not download"
    );
    let op = ws::user(&berth, &a.c, "olive", Role::Operator).await;
    let e = op
        .call::<PluginsUploadTicket>(Empty {})
        .await
        .expect_err("operators do not install plugins");
    assert_eq!(e.body().unwrap().code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn install_use_upgrade_with_reapproval_restart_and_uninstall() {
    let sink = Sink::start().await;
    let (_tmp, mut berth) = ws::start().await;
    let a = admin(&berth).await;

    let staged = upload(
        &berth,
        &a,
        package("acme-hook", "1.0.0", &[], None, "berth:plugin@0.1"),
    )
    .await
    .expect("staged");
    assert_eq!(staged.id, "acme-hook");
    assert_eq!(staged.kind, PluginKind::Notifier);
    assert_eq!(staged.installed_version, None);
    let keys: Vec<String> = staged.capabilities.iter().map(|c| c.key.clone()).collect();
    assert_eq!(
        keys,
        ["http:https://*:*", "http:http://*:*", "secret:token"],
        "the capabilities are shown for approval"
    );
    assert_eq!(
        staged.needs_approval, keys,
        "a first install approves them all"
    );
    assert!(staged.capabilities[2].description.contains("sealed"));

    // Not approved: refused, and still staged for another try.
    let (code, msg) = install(&a, &staged.staged, &keys[..2]).await.unwrap_err();
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(msg.contains("secret:token"), "{msg}");
    assert_eq!(install(&a, &staged.staged, &keys).await.unwrap(), "1.0.0");
    assert_eq!(
        staging_files(&berth),
        0,
        "installed: the staged file is gone"
    );
    let (code, _) = install(&a, &staged.staged, &keys).await.unwrap_err();
    assert_eq!(code, ErrorCode::NotFound, "a staged package installs once");

    let list = a.c.call::<PluginsList>(Empty {}).await.unwrap();
    let p = list
        .plugins
        .iter()
        .find(|p| p.id == "acme-hook")
        .expect("listed");
    assert!(!p.builtin);
    assert_eq!(p.kind, Some(PluginKind::Notifier));

    // Used for real: an instance delivers to the sink.
    hook(&a, "acme-hook", "acme", format!("{}/acme", sink.base)).await;
    a.c.call::<NotificationsTest>(InstanceRef {
        name: "acme".into(),
    })
    .await
    .expect("delivered");
    let got = sink.next().await;
    assert_eq!(got.path, "/acme");
    assert_eq!(got.json()["kind"], "test");

    // An upgrade that adds a capability needs approval of exactly that one.
    let v2_package = || {
        package(
            "acme-hook",
            "2.0.0",
            &["https://hooks.example.org"],
            None,
            "berth:plugin@0.1",
        )
    };
    let v2 = upload(&berth, &a, v2_package()).await.expect("staged");
    assert_eq!(v2.installed_version.as_deref(), Some("1.0.0"));
    assert_eq!(v2.needs_approval, ["http:https://hooks.example.org"]);
    let (code, msg) = install(&a, &v2.staged, &[]).await.unwrap_err();
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(msg.contains("hooks.example.org"), "{msg}");
    assert_eq!(
        install(&a, &v2.staged, &v2.needs_approval).await.unwrap(),
        "2.0.0"
    );
    // The same version again asks for nothing new.
    let again = upload(&berth, &a, v2_package()).await.expect("staged");
    assert!(again.needs_approval.is_empty());

    // Installed plugins survive a restart.
    drop(a);
    berth.process.signal(libc::SIGTERM);
    berth
        .process
        .wait(Duration::from_secs(10))
        .expect("stopped");
    let data_dir = berth.data_dir.clone();
    let mut cmd = serve_command(&data_dir);
    cmd.env("BERTH_ADMIN_PASSWORD", ws::ADMIN_PASSWORD);
    let berth = Berth::start_with(cmd, &data_dir).await;
    berth.wait_ready().await;
    let a = admin(&berth).await;
    let list = a.c.call::<PluginsList>(Empty {}).await.unwrap();
    let p = list
        .plugins
        .iter()
        .find(|p| p.id == "acme-hook")
        .expect("still installed");
    assert_eq!(p.manifest.as_ref().unwrap().version, "2.0.0");
    assert_eq!(
        staging_files(&berth),
        0,
        "unused staged packages are cleared at start"
    );
    a.c.call::<NotificationsTest>(InstanceRef {
        name: "acme".into(),
    })
    .await
    .expect("still delivers after a restart");
    assert_eq!(sink.next().await.path, "/acme");

    // Uninstall: refused while an instance uses it, and for built-ins.
    let e =
        a.c.call::<PluginsUninstall>(PluginRef {
            id: "acme-hook".into(),
        })
        .await
        .unwrap_err();
    let b = e.body().unwrap();
    assert_eq!(b.code, ErrorCode::Conflict);
    assert!(b.message.contains("acme"), "{}", b.message);
    let e =
        a.c.call::<PluginsUninstall>(PluginRef {
            id: "notify-webhook".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.body().unwrap().code, ErrorCode::Conflict);
    a.c.call::<PluginsUnconfigure>(InstanceRef {
        name: "acme".into(),
    })
    .await
    .unwrap();
    a.c.call::<PluginsUninstall>(PluginRef {
        id: "acme-hook".into(),
    })
    .await
    .expect("uninstalled");
    let list = a.c.call::<PluginsList>(Empty {}).await.unwrap();
    assert!(!list.plugins.iter().any(|p| p.id == "acme-hook"));
    assert!(!berth.data_dir.join("plugins/installed/acme-hook").exists());
}

/// Installs the package of `id` with everything approved.
async fn install_all(berth: &Berth, a: &Admin, id: &str) {
    let s = upload(
        berth,
        a,
        package(id, "1.0.0", &[], None, "berth:plugin@0.1"),
    )
    .await
    .expect("staged");
    install(a, &s.staged, &s.needs_approval)
        .await
        .expect("installed");
}

async fn hook(a: &Admin, plugin: &str, name: &str, url: String) {
    a.c.call::<PluginsConfigure>(ConfigureInstance {
        plugin: plugin.into(),
        name: name.into(),
        config: json!({ "url": url }),
        secrets: BTreeMap::new(),
        egress: Vec::new(),
        allow_private: true,
        path: None,
    })
    .await
    .unwrap_or_else(|e| panic!("configure {name}: {e}"));
}

#[tokio::test]
async fn a_plugin_turning_unhealthy_is_reported_through_the_routes_and_recovers_by_itself() {
    let sink = Sink::start().await;
    let (_tmp, berth) = ws::start().await;
    let a = admin(&berth).await;
    install_all(&berth, &a, "acme-hook").await;
    hook(&a, "acme-hook", "ops", format!("{}/ops", sink.base)).await;
    hook(
        &a,
        "notify-webhook",
        "flaky",
        format!("{}/flaky", sink.base),
    )
    .await;

    // Routes: new notifiers get the failures; changes are kept; unknown names refused.
    let r = a.c.call::<NotificationsRoutes>(Empty {}).await.unwrap();
    let ops = r
        .routes
        .iter()
        .find(|r| r.name == "ops")
        .expect("ops routed");
    assert_eq!(ops.events, NotifyEvent::DEFAULT);
    let set = |name: &str, events: Vec<NotifyEvent>| NotifyRoutes {
        routes: vec![NotifyRoute {
            name: name.into(),
            events,
        }],
    };
    let r =
        a.c.call::<NotificationsSetRoutes>(set("flaky", vec![NotifyEvent::BackupSucceeded]))
            .await
            .unwrap();
    let flaky = r.routes.iter().find(|r| r.name == "flaky").unwrap();
    assert_eq!(flaky.events, [NotifyEvent::BackupSucceeded]);
    let e =
        a.c.call::<NotificationsSetRoutes>(set("nobody", vec![]))
            .await
            .unwrap_err();
    assert_eq!(e.body().unwrap().code, ErrorCode::BadRequest);

    // Three failed attempts in a row (the host's retries) make notify-webhook unhealthy.
    sink.script(&[500, 500, 500]);
    let e =
        a.c.call::<NotificationsTest>(InstanceRef {
            name: "flaky".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.body().unwrap().code, ErrorCode::Unavailable);
    for _ in 0..3 {
        assert_eq!(sink.next().await.path, "/flaky");
    }
    // The other notifier (another plugin) is told; the flaky one is not asked to report itself.
    let told = sink.next().await;
    assert_eq!(
        told.path, "/ops",
        "plugin_unhealthy goes to the routed notifier"
    );
    let body = told.json();
    assert_eq!(body["kind"], "plugin_unhealthy");
    assert!(
        body.to_string().contains("notify-webhook"),
        "names the plugin: {body}"
    );

    // The host probes it after its backoff and it recovers without anybody calling it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = a.c.call::<PluginsList>(Empty {}).await.unwrap();
        let p = list
            .plugins
            .iter()
            .find(|p| p.id == "notify-webhook")
            .unwrap();
        if p.health == PluginHealth::Healthy {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never recovered: {:?} {:?}",
            p.health,
            p.message
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        berth
            .process
            .lines()
            .iter()
            .any(|l| l.contains("plugin recovered") && l.contains("notify-webhook"))
    );
    assert!(
        sink.drain().await.is_empty(),
        "the probe sent nothing anywhere"
    );
}
