//! Third-party plugin packages for the install tests: the embedded webhook notifier's
//! component under another id (a component does not know its id; its manifest does).

use std::path::PathBuf;

use sha2::{Digest, Sha256};

fn webhook_component() -> (Vec<u8>, String) {
    let dist = PathBuf::from(
        std::env::var("BERTH_PLUGINS_DIST").expect("BERTH_PLUGINS_DIST (run `cargo xtask test`)"),
    );
    let wasm = std::fs::read(dist.join("notify-webhook.wasm")).expect("notify-webhook.wasm");
    let toml = std::fs::read_to_string(dist.join("notify-webhook.toml")).expect("its manifest");
    (wasm, toml)
}

/// A package: `plugin.toml` (the webhook's manifest as `id`, `version`, with extra
/// HTTP patterns) and the component, with `sha256` as given or the real one.
pub fn package(
    id: &str,
    version: &str,
    extra_http: &[&str],
    sha: Option<&str>,
    api: &str,
) -> Vec<u8> {
    let (wasm, toml) = webhook_component();
    let real = hex::encode(Sha256::digest(&wasm));
    let mut http = vec!["\"https://*:*\"".to_owned(), "\"http://*:*\"".to_owned()];
    http.extend(extra_http.iter().map(|p| format!("{p:?}")));
    let manifest = toml
        .replace("id = \"notify-webhook\"", &format!("id = \"{id}\""))
        .replace("version = \"0.1.0\"", &format!("version = \"{version}\""))
        .replace(
            "api = \"berth:plugin@0.1\"",
            &format!(
                "api = \"{api}\"\nwasm = \"hook.wasm\"\nsha256 = \"{}\"",
                sha.unwrap_or(&real)
            ),
        )
        .replace(
            "http = [\"https://*:*\", \"http://*:*\"]",
            &format!("http = [{}]", http.join(", ")),
        );
    assert!(manifest.contains(&format!("id = \"{id}\"")), "{manifest}");
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("plugin.toml", manifest.as_bytes()),
        ("hook.wasm", &wasm[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, bytes).unwrap();
    }
    b.into_inner().unwrap()
}
