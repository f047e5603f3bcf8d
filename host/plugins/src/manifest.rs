//! A plugin's manifest, `plugin.toml`: who it is, which world it implements, the API
//! version it was built against, what it may touch (capabilities), what it asks for
//! (limits) and the JSON Schema of its configuration.
//!
//! Built-in plugins carry theirs in the binary (next to the component); a plugin
//! without a manifest (the self-test probe, the sandbox tests' plugins) gets one
//! derived from its world with no capabilities at all.

use serde::Deserialize;

use super::egress::Pattern;

/// The WIT package version this host serves: plugins built against `0.x` with
/// `x ≤ API_MINOR` link (additive changes only within a major; see docs/plugins.md).
pub const API_MAJOR: u64 = 0;
pub const API_MINOR: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestKind {
    Base,
    Storage,
    Notifier,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Outgoing HTTP the plugin may ever make: `scheme://host[:port]` patterns (`*` for
    /// any host, `*.example.com` for a domain). Each instance narrows this further with
    /// what the admin grants. Empty: no `wasi:http` is linked at all.
    #[serde(default)]
    pub http: Vec<String>,
    /// Whether each instance gets one directory (preopened as `/data`).
    #[serde(default)]
    pub storage_dir: bool,
    /// Configuration fields that are secrets: stored sealed, handed only to this
    /// plugin's `init`, never logged or returned.
    #[serde(default)]
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedLimits {
    pub memory_mib: Option<u64>,
    pub call_timeout_ms: Option<u64>,
    /// Storage only: how far the host reads ahead of `write` (see `Limits`).
    pub upload_buffer_mib: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    pub kind: ManifestKind,
    /// `berth:plugin@MAJOR.MINOR`.
    pub api: String,
    #[serde(default)]
    pub description: String,
    /// The component's file name inside a package.
    #[serde(default)]
    pub wasm: Option<String>,
    /// sha256 of the component (required for installed packages).
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: RequestedLimits,
    /// JSON Schema of the configuration, as JSON text.
    #[serde(default)]
    pub config_schema: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("plugin manifest: {0}")]
pub struct ManifestError(pub String);

impl Manifest {
    /// Parses and checks a `plugin.toml`: id, API version, patterns, secrets and the
    /// schema must all make sense before any wasm is compiled.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let m: Manifest = toml::from_str(text).map_err(|e| ManifestError(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    /// What a plugin without a manifest gets: nothing.
    pub fn implicit(id: &str, kind: ManifestKind) -> Self {
        Self {
            id: id.to_owned(),
            name: id.to_owned(),
            version: "0.0.0".into(),
            kind,
            api: format!("berth:plugin@{API_MAJOR}.{API_MINOR}"),
            description: String::new(),
            wasm: None,
            sha256: None,
            capabilities: Capabilities::default(),
            limits: RequestedLimits::default(),
            config_schema: None,
        }
    }

    fn check(&self) -> Result<(), ManifestError> {
        let bad = |m: String| Err(ManifestError(m));
        if !valid_id(&self.id) {
            return bad(format!(
                "id {:?}: use 2–40 of a-z, 0-9 and '-', starting with a letter",
                self.id
            ));
        }
        check_api(&self.api).map_err(ManifestError)?;
        for p in &self.capabilities.http {
            Pattern::parse(p).map_err(|e| ManifestError(format!("capabilities.http: {e}")))?;
        }
        if self.capabilities.storage_dir && self.kind != ManifestKind::Storage {
            return bad("capabilities.storage_dir is for storage plugins".into());
        }
        if self.limits.upload_buffer_mib.is_some() && self.kind != ManifestKind::Storage {
            return bad("limits.upload_buffer_mib is for storage plugins".into());
        }
        if let Some(s) = &self.sha256
            && (s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return bad(format!("sha256 {s:?} is not 64 hex digits"));
        }
        let schema = self.schema().map_err(ManifestError)?;
        for s in &self.capabilities.secrets {
            let declared = schema
                .as_ref()
                .and_then(|v| v.get("properties"))
                .and_then(|p| p.get(s))
                .is_some();
            if !declared {
                return bad(format!(
                    "secret {s:?} is not a property of config_schema (secrets are configuration fields)"
                ));
            }
        }
        Ok(())
    }

    /// The configuration schema, parsed (`None`: the plugin takes no configuration).
    pub fn schema(&self) -> Result<Option<serde_json::Value>, String> {
        self.config_schema
            .as_deref()
            .map(|s| {
                let v: serde_json::Value =
                    serde_json::from_str(s).map_err(|e| format!("config_schema: {e}"))?;
                super::schema::check_schema(&v).map_err(|e| format!("config_schema: {e}"))?;
                Ok(v)
            })
            .transpose()
    }

    /// The HTTP patterns, parsed (checked at [`Self::parse`]).
    pub fn http_patterns(&self) -> Vec<Pattern> {
        self.capabilities
            .http
            .iter()
            .filter_map(|p| Pattern::parse(p).ok())
            .collect()
    }

    /// The capabilities in words, for the UI's approval list.
    pub fn describe_capabilities(&self) -> Vec<String> {
        let c = &self.capabilities;
        let mut out = Vec::new();
        if c.storage_dir {
            out.push("one directory per instance (nothing else on disk)".to_owned());
        } else {
            out.push("no filesystem".to_owned());
        }
        if c.http.is_empty() {
            out.push("no network".to_owned());
        } else {
            out.push(format!(
                "outgoing HTTP to {} (each instance to what the admin grants)",
                c.http.join(", ")
            ));
        }
        if !c.secrets.is_empty() {
            out.push(format!("secrets: {}", c.secrets.join(", ")));
        }
        out
    }
}

fn valid_id(id: &str) -> bool {
    (2..=40).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `Ok` when this host serves the API version `api` (`berth:plugin@0.1`, `@0.1.0`).
pub fn check_api(api: &str) -> Result<(), String> {
    let version = api
        .strip_prefix("berth:plugin@")
        .ok_or_else(|| format!("api {api:?}: expected berth:plugin@MAJOR.MINOR"))?;
    let mut parts = version.split('.').map(str::parse::<u64>);
    let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
        return Err(format!("api {api:?}: expected berth:plugin@MAJOR.MINOR"));
    };
    if major != API_MAJOR || minor > API_MINOR {
        return Err(format!(
            "api {api:?}: this Berth serves berth:plugin@{API_MAJOR}.0 to @{API_MAJOR}.{API_MINOR}; \
             upgrade Berth or use a plugin built for this version"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEBHOOK: &str = r#"
id = "notify-webhook"
name = "Webhook"
version = "0.1.0"
kind = "notifier"
api = "berth:plugin@0.1"
config_schema = '''{"type":"object","properties":{"url":{"type":"string"},"token":{"type":"string","writeOnly":true}},"required":["url"]}'''
[capabilities]
http = ["https://*", "http://*"]
secrets = ["token"]
[limits]
memory_mib = 32
"#;

    #[test]
    fn storage_plugins_ask_for_an_upload_buffer_within_the_cap() {
        let storage = |mib: u64| {
            format!(
                "id = \"store\"\nname = \"S\"\nversion = \"1.0.0\"\nkind = \"storage\"\n\
                 api = \"berth:plugin@0.1\"\n[limits]\nupload_buffer_mib = {mib}\n"
            )
        };
        let caps = super::super::Limits::default();
        let buffer = |m: &Manifest| caps.for_manifest(m).upload_buffer;
        assert_eq!(buffer(&Manifest::parse(&storage(16)).unwrap()), 16 << 20);
        assert_eq!(buffer(&Manifest::parse(&storage(4096)).unwrap()), 64 << 20);
        let unstated = Manifest::implicit("s", ManifestKind::Storage);
        assert_eq!(buffer(&unstated), 2 << 20);
        let notifier = WEBHOOK.replace("memory_mib = 32", "upload_buffer_mib = 8");
        let refused = Manifest::parse(&notifier).unwrap_err().to_string();
        assert!(refused.contains("for storage plugins"), "{refused}");
    }

    #[test]
    fn parses_a_manifest_and_describes_it() {
        let m = Manifest::parse(WEBHOOK).unwrap();
        assert_eq!(m.kind, ManifestKind::Notifier);
        assert_eq!(m.limits.memory_mib, Some(32));
        assert_eq!(m.http_patterns().len(), 2);
        assert!(m.describe_capabilities()[1].contains("https://*"));
    }

    #[test]
    fn refuses_bad_manifests() {
        let ok = WEBHOOK;
        for (from, to, why) in [
            ("berth:plugin@0.1", "berth:plugin@1.0", "serves"),
            ("berth:plugin@0.1", "berth:plugin@0.9", "serves"),
            ("berth:plugin@0.1", "other@0.1", "expected"),
            ("\"notify-webhook\"", "\"Bad_Id\"", "id"),
            ("\"http://*\"", "\"ftp://x\"", "scheme"),
            (
                "secrets = [\"token\"]",
                "secrets = [\"password\"]",
                "not a property",
            ),
            ("\"type\":\"object\"", "\"type\":\"thing\"", "type"),
        ] {
            let text = ok.replace(from, to);
            let e = Manifest::parse(&text).unwrap_err().to_string();
            assert!(e.contains(why), "{to}: {e}");
        }
    }

    #[test]
    fn api_versions() {
        assert!(check_api("berth:plugin@0.1").is_ok());
        assert!(check_api("berth:plugin@0.1.0").is_ok());
        assert!(check_api("berth:plugin@0.0").is_ok());
        assert!(check_api("berth:plugin@0.2").is_err());
        assert!(check_api("berth:plugin@x").is_err());
    }
}
