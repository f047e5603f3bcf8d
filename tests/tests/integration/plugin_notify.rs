//! Notifier instances end to end: the real binary, the embedded `notify-webhook`
//! plugin (wasmtime, wasi:http through the host's egress hook) and a real HTTP server
//! on loopback. Presets, secrets (write-only, sealed, never logged), the egress
//! allow-list, retries, configuration checks and roles; plus configured storage
//! instances and the default storage.
//!
//! Needs the plugins embedded: `cargo xtask test` builds them first.

use std::collections::BTreeMap;

use berth_client::Client;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    AuditList, NotificationsList, NotificationsTest, PluginsConfigure, PluginsDisable,
    PluginsEnable, PluginsInstances, PluginsList, PluginsTest, PluginsUnconfigure, StorageList,
    StorageSetDefault, StorageTest,
};
use berth_protocol::api::plugins::{
    ConfigureInstance, InstanceRef, PluginInstance, PluginKind, PluginRef, PluginTestResult,
    StorageRef,
};
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::http_sink::Sink;
use berth_tests::ws;
use serde_json::{Value, json};

const TOKEN: &str = "s3cr3t-token-QX7Z";

fn webhook(name: &str, config: Value) -> ConfigureInstance {
    ConfigureInstance {
        plugin: "notify-webhook".into(),
        name: name.into(),
        config,
        secrets: BTreeMap::new(),
        egress: Vec::new(),
        allow_private: true,
        path: None,
    }
}

async fn configure(c: &Client, p: ConfigureInstance) -> PluginInstance {
    let name = p.name.clone();
    c.call::<PluginsConfigure>(p)
        .await
        .unwrap_or_else(|e| panic!("configure {name}: {e}"))
}

async fn refused(c: &Client, p: ConfigureInstance) -> (ErrorCode, String) {
    let e = c
        .call::<PluginsConfigure>(p)
        .await
        .expect_err("the configuration is refused");
    let b = e.body().expect("a protocol error").clone();
    (b.code, b.message)
}

async fn test_notifier(c: &Client, name: &str) -> Result<u32, (ErrorCode, String)> {
    c.call::<NotificationsTest>(InstanceRef { name: name.into() })
        .await
        .map(|r| r.attempts)
        .map_err(|e| {
            let b = e.body().expect("a protocol error");
            (b.code, b.message.clone())
        })
}

#[tokio::test]
async fn presets_deliver_and_the_token_stays_secret() {
    let sink = Sink::start().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;

    let list = admin.call::<PluginsList>(Empty {}).await.unwrap();
    let hook = list
        .plugins
        .iter()
        .find(|p| p.id == "notify-webhook")
        .expect("notify-webhook is built in");
    assert_eq!(hook.kind, Some(PluginKind::Notifier));
    let m = hook.manifest.as_ref().expect("a manifest");
    assert_eq!(m.secrets, vec!["token".to_owned()]);
    assert!(m.config_schema.as_ref().unwrap()["properties"]["url"].is_object());
    assert!(
        hook.capabilities
            .iter()
            .any(|c| c.contains("outgoing HTTP"))
    );

    // JSON, with the token inline in the form's config.
    let inst = configure(
        &admin,
        webhook(
            "ops",
            json!({"url": format!("{}/hook", sink.base), "preset": "json", "token": TOKEN}),
        ),
    )
    .await;
    assert_eq!(inst.secrets_set, vec!["token".to_owned()]);
    assert!(inst.config.get("token").is_none(), "{}", inst.config);
    assert_eq!(inst.egress, vec![format!("http://127.0.0.1:{}", sink.port)]);
    assert_eq!(test_notifier(&admin, "ops").await, Ok(1));
    let r = sink.next().await;
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook"));
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let body = r.json();
    assert_eq!(body["kind"], "test");
    assert_eq!(body["severity"], "info");
    assert_eq!(body["title"], "Berth test notification");
    assert_eq!(body["fields"]["instance"], "ops");

    // An update that leaves the token out keeps it; `null` in `secrets` clears it.
    let inst = configure(
        &admin,
        webhook("ops", json!({"url": format!("{}/hook2", sink.base)})),
    )
    .await;
    assert_eq!(inst.secrets_set, vec!["token".to_owned()]);
    assert_eq!(test_notifier(&admin, "ops").await, Ok(1));
    let r = sink.next().await;
    assert_eq!(r.path, "/hook2");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let mut clear = webhook("ops", json!({"url": format!("{}/hook2", sink.base)}));
    clear.secrets.insert("token".into(), None);
    assert!(configure(&admin, clear).await.secrets_set.is_empty());
    test_notifier(&admin, "ops").await.unwrap();
    assert_eq!(sink.next().await.header("authorization"), None);

    // The services' own formats.
    configure(
        &admin,
        webhook(
            "ntfy",
            json!({"url": format!("{}/alerts", sink.base), "preset": "ntfy"}),
        ),
    )
    .await;
    test_notifier(&admin, "ntfy").await.unwrap();
    let r = sink.next().await;
    assert_eq!(r.path, "/");
    let b = r.json();
    assert_eq!(
        (b["topic"].as_str(), b["title"].as_str()),
        (Some("alerts"), Some("Berth test notification"))
    );
    assert_eq!(b["priority"], 3);
    assert!(b["message"].as_str().unwrap().contains("instance: ntfy"));

    configure(
        &admin,
        webhook(
            "discord",
            json!({"url": format!("{}/api/webhooks/1/x", sink.base), "preset": "discord"}),
        ),
    )
    .await;
    test_notifier(&admin, "discord").await.unwrap();
    let b = sink.next().await.json();
    assert_eq!(b["embeds"][0]["title"], "Berth test notification");
    assert_eq!(b["embeds"][0]["fields"][0]["name"], "instance");

    configure(
        &admin,
        webhook(
            "slack",
            json!({"url": format!("{}/services/T/B/X", sink.base), "preset": "slack"}),
        ),
    )
    .await;
    test_notifier(&admin, "slack").await.unwrap();
    let b = sink.next().await.json();
    assert!(
        b["text"]
            .as_str()
            .unwrap()
            .starts_with("*Berth test notification*\n"),
        "{b}"
    );

    let mut gotify = webhook(
        "gotify",
        json!({"url": sink.base.clone(), "preset": "gotify"}),
    );
    gotify.secrets.insert("token".into(), Some(TOKEN.into()));
    configure(&admin, gotify).await;
    test_notifier(&admin, "gotify").await.unwrap();
    let r = sink.next().await;
    assert_eq!(r.path, "/message");
    assert_eq!(r.header("x-gotify-key"), Some(TOKEN));
    assert_eq!(r.json()["priority"], 2);

    // Everyone sees which notifiers exist; nobody sees a secret, anywhere.
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;
    let names: Vec<String> = viewer
        .call::<NotificationsList>(Empty {})
        .await
        .unwrap()
        .notifiers
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["discord", "gotify", "ntfy", "ops", "slack"]);
    let listed = admin.call::<PluginsInstances>(Empty {}).await.unwrap();
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains(TOKEN), "{text}");
    let gotify = listed
        .instances
        .iter()
        .find(|i| i.name == "gotify")
        .unwrap();
    assert_eq!(gotify.secrets_set, vec!["token".to_owned()]);
    let audit = admin
        .call::<AuditList>(serde_json::from_value(json!({"method": "plugins.configure"})).unwrap())
        .await
        .unwrap();
    let audit = serde_json::to_string(&audit).unwrap();
    assert!(
        audit.contains("\"gotify\"") && !audit.contains(TOKEN),
        "{audit}"
    );
    let store = std::fs::read(berth.data_dir.join("berth.redb")).unwrap();
    assert!(
        !store.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is in the store file in the clear"
    );
    let lines = berth.process.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("plugin instance configured"))
    );
    assert!(
        !lines.iter().any(|l| l.contains(TOKEN)),
        "a log line has the token"
    );
}

#[tokio::test]
async fn egress_retries_and_errors() {
    let sink = Sink::start().await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let url = format!("{}/hook", sink.base);

    // Loopback is private: refused by the host unless the instance allows it.
    let mut closed = webhook("closed", json!({"url": url}));
    closed.allow_private = false;
    configure(&admin, closed).await;
    let (code, msg) = test_notifier(&admin, "closed").await.unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden, "{msg}");
    assert!(
        msg.contains("request denied") && msg.contains("private or loopback"),
        "{msg}"
    );

    // The URL's origin must be granted, and grants stay within the manifest.
    let mut other = webhook("other", json!({"url": url}));
    other.egress = vec!["http://127.0.0.1:1".into()];
    let (code, msg) = refused(&admin, other).await;
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(msg.contains("not in the egress allow-list"), "{msg}");
    let mut ftp = webhook("other", json!({"url": url}));
    ftp.egress = vec!["ftp://127.0.0.1".into()];
    assert_eq!(refused(&admin, ftp).await.0, ErrorCode::BadRequest);
    assert!(sink.drain().await.is_empty(), "nothing reached the server");

    // A transient failure is retried; the answer after it counts.
    configure(&admin, webhook("ops", json!({"url": url}))).await;
    sink.script(&[503]);
    assert_eq!(test_notifier(&admin, "ops").await, Ok(2));
    assert_eq!(sink.next().await.path, "/hook");
    assert_eq!(sink.next().await.path, "/hook");
    // A refusal is not.
    sink.script(&[401]);
    let (code, msg) = test_notifier(&admin, "ops").await.unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(
        msg.contains("HTTP 401") && msg.contains("notify-webhook"),
        "{msg}"
    );
    sink.next().await;
    // Three failures in a row give up with the last reason.
    sink.script(&[503, 502, 500]);
    let (code, msg) = test_notifier(&admin, "ops").await.unwrap_err();
    assert_eq!(code, ErrorCode::Unavailable);
    assert!(msg.contains("HTTP 500"), "{msg}");
    for _ in 0..3 {
        sink.next().await;
    }
    assert!(sink.drain().await.is_empty(), "no fourth attempt");

    // Bad configurations name what is wrong.
    for (config, field) in [
        (json!({"url": "ftp://x"}), "url"),
        (json!({}), "url"),
        (json!({"url": url, "preset": "xml"}), "preset"),
        (json!({"url": url, "colour": "red"}), "colour"),
    ] {
        let (code, msg) = refused(&admin, webhook("bad", config.clone())).await;
        assert_eq!(code, ErrorCode::BadRequest, "{config}: {msg}");
        assert!(msg.starts_with(field), "{config}: {msg}");
    }
    // The plugin's own rule: Gotify needs a token.
    let (code, msg) = refused(
        &admin,
        webhook("bad", json!({"url": url, "preset": "gotify"})),
    )
    .await;
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(msg.contains("Gotify needs an application token"), "{msg}");
    let mut secret = webhook("bad", json!({"url": url}));
    secret.secrets.insert("password".into(), Some("x".into()));
    assert!(
        refused(&admin, secret)
            .await
            .1
            .contains("not a secret field")
    );
    assert_eq!(
        refused(&admin, webhook("local", json!({"url": url})))
            .await
            .0,
        ErrorCode::Conflict
    );
    assert_eq!(
        refused(&admin, webhook("Bad Name", json!({"url": url})))
            .await
            .0,
        ErrorCode::BadRequest
    );
    let mut probe = webhook("p", json!({}));
    probe.plugin = "probe".into();
    assert_eq!(refused(&admin, probe).await.0, ErrorCode::BadRequest);
    let mut nope = webhook("p", json!({}));
    nope.plugin = "nope".into();
    assert_eq!(refused(&admin, nope).await.0, ErrorCode::NotFound);

    // Only admins configure or test; a disabled plugin's instances do not send.
    let operator = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let e = operator
        .call::<PluginsConfigure>(webhook("x", json!({"url": url})))
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Forbidden));
    assert_eq!(
        test_notifier(&operator, "ops").await.unwrap_err().0,
        ErrorCode::Forbidden
    );
    admin
        .call::<PluginsDisable>(PluginRef {
            id: "notify-webhook".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        test_notifier(&admin, "ops").await.unwrap_err().0,
        ErrorCode::Conflict
    );
    let n = admin.call::<NotificationsList>(Empty {}).await.unwrap();
    assert!(n.notifiers.iter().all(|n| !n.enabled));
    admin
        .call::<PluginsEnable>(PluginRef {
            id: "notify-webhook".into(),
        })
        .await
        .unwrap();
    let r = admin
        .call::<PluginsTest>(InstanceRef { name: "ops".into() })
        .await
        .unwrap();
    assert!(matches!(r, PluginTestResult::Notifier(n) if n.attempts == 1));
    sink.next().await;
    admin
        .call::<PluginsUnconfigure>(InstanceRef { name: "ops".into() })
        .await
        .unwrap();
    assert_eq!(
        test_notifier(&admin, "ops").await.unwrap_err().0,
        ErrorCode::NotFound
    );
}

#[tokio::test]
async fn storage_instances_and_the_default() {
    let (tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let nas = tmp.path().join("nas");
    let storage = |name: &str, path: Option<String>| ConfigureInstance {
        plugin: "storage-local".into(),
        name: name.into(),
        config: json!({}),
        secrets: BTreeMap::new(),
        egress: Vec::new(),
        allow_private: false,
        path,
    };
    let inst = configure(&admin, storage("nas", Some(nas.display().to_string()))).await;
    assert_eq!(inst.path.as_deref(), Some(nas.to_str().unwrap()));
    assert!(nas.is_dir(), "the directory is created");
    // Defaults to a directory of its own under the data dir.
    let own = configure(&admin, storage("spare", None)).await;
    assert_eq!(
        own.path.as_deref(),
        Some(berth.data_dir.join("storage/spare").to_str().unwrap())
    );

    let list = admin.call::<StorageList>(Empty {}).await.unwrap().storage;
    let names: Vec<(&str, bool)> = list.iter().map(|s| (s.name.as_str(), s.default)).collect();
    assert_eq!(names, [("local", true), ("nas", false), ("spare", false)]);
    let t = admin
        .call::<StorageTest>(StorageRef {
            name: Some("nas".into()),
        })
        .await
        .unwrap();
    assert_eq!((t.name.as_str(), t.bytes), ("nas", 256 * 1024));
    assert!(
        nas.join(".berth-test").is_dir(),
        "the round trip went through the nas directory"
    );

    admin
        .call::<StorageSetDefault>(InstanceRef { name: "nas".into() })
        .await
        .unwrap();
    let list = admin.call::<StorageList>(Empty {}).await.unwrap().storage;
    assert!(list.iter().any(|s| s.name == "nas" && s.default));
    let t = admin
        .call::<StorageTest>(StorageRef { name: None })
        .await
        .unwrap();
    assert_eq!(t.name, "nas", "the default is used when none is named");
    // The default's plugin cannot be disabled; a missing instance cannot be the default.
    let e = admin
        .call::<PluginsDisable>(PluginRef {
            id: "storage-local".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Conflict));
    let e = admin
        .call::<StorageSetDefault>(InstanceRef {
            name: "gone".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::NotFound));

    // Directories that would expose the data dir, or are not absolute, are refused.
    for bad in [
        berth.data_dir.display().to_string(),
        berth.data_dir.join("plugin-cache").display().to_string(),
        "relative/dir".to_owned(),
        format!("{}/../x", tmp.path().display()),
        "/".to_owned(),
    ] {
        let (code, msg) = refused(&admin, storage("bad", Some(bad.clone()))).await;
        assert_eq!(code, ErrorCode::BadRequest, "{bad}: {msg}");
    }
    let (code, _) = refused(
        &admin,
        ConfigureInstance {
            config: json!({"root": "/"}),
            ..storage("bad", None)
        },
    )
    .await;
    assert_eq!(
        code,
        ErrorCode::BadRequest,
        "storage-local takes no settings"
    );

    // Removing the default falls back to `local`; `local` itself stays.
    admin
        .call::<PluginsUnconfigure>(InstanceRef { name: "nas".into() })
        .await
        .unwrap();
    let list = admin.call::<StorageList>(Empty {}).await.unwrap().storage;
    assert!(list.iter().any(|s| s.name == "local" && s.default));
    assert!(!list.iter().any(|s| s.name == "nas"));
    let e = admin
        .call::<PluginsUnconfigure>(InstanceRef {
            name: "local".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Conflict));
    let viewer = ws::user(&berth, &admin, "vic", Role::Viewer).await;
    let e = viewer.call::<PluginsInstances>(Empty {}).await.unwrap_err();
    assert_eq!(e.body().map(|b| b.code), Some(ErrorCode::Forbidden));
}
