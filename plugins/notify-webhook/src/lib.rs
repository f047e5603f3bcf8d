//! `notify-webhook`: sends Berth's notifications over HTTP, as plain JSON or in the
//! format of ntfy, Discord, Slack or Gotify.
//!
//! The plugin has no filesystem and no sockets: its only way out is `wasi:http`, and
//! the host lets a request through only to the origins the admin granted this
//! instance. The token (a secret) reaches the plugin in its configuration and is sent
//! only as a header, never in a URL or a log line.
//!
//! Errors tell the host whether to retry: 408, 429, 5xx and transport failures are
//! `unavailable` (retried with backoff by the host); 401/403 `unauthorized`; other
//! 4xx `other` with the status and the start of the answer.

use berth_plugin_sdk::http;
use berth_plugin_sdk::notify::{
    Event, Notifier, PluginError, Severity, check_status, severity_name,
};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Preset {
    #[default]
    Json,
    Ntfy,
    Discord,
    Slack,
    Gotify,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default)]
    preset: Preset,
    /// Bearer token (JSON, ntfy) or application token (Gotify).
    #[serde(default)]
    token: Option<String>,
}

struct Webhook {
    config: Config,
}

impl Notifier for Webhook {
    type Config = Config;

    fn new(c: Config) -> Result<Self, PluginError> {
        let scheme_ok = c.url.starts_with("http://") || c.url.starts_with("https://");
        if !scheme_ok || c.url.split('/').nth(2).is_none_or(str::is_empty) {
            return Err(PluginError::InvalidConfig(
                "url: an http:// or https:// URL with a host".into(),
            ));
        }
        if c.preset == Preset::Gotify && c.token.as_deref().is_none_or(str::is_empty) {
            return Err(PluginError::InvalidConfig(
                "token: Gotify needs an application token".into(),
            ));
        }
        if c.preset == Preset::Ntfy && topic_split(&c.url).is_none() {
            return Err(PluginError::InvalidConfig(
                "url: for ntfy, the topic's URL (https://ntfy.sh/my-topic)".into(),
            ));
        }
        Ok(Self { config: c })
    }

    fn notify(&self, event: &Event) -> Result<(), PluginError> {
        let (url, headers, body) = render(&self.config, event);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = http::post_json(&url, &headers, &body)
            .map_err(|e| PluginError::Unavailable(e.to_string()))?;
        check_status(&r)
    }
}

/// `https://ntfy.sh/topic` → (`https://ntfy.sh/`, `topic`).
fn topic_split(url: &str) -> Option<(String, String)> {
    let (base, topic) = url.trim_end_matches('/').rsplit_once('/')?;
    if base.ends_with('/') || topic.is_empty() || base.ends_with(':') {
        return None;
    }
    Some((format!("{base}/"), topic.to_owned()))
}

/// The request for one event: URL, extra headers and the JSON body.
fn render(c: &Config, e: &Event) -> (String, Vec<(&'static str, String)>, Value) {
    let mut headers = Vec::new();
    let bearer = c.token.as_ref().filter(|t| !t.is_empty());
    let fields_text: String = e
        .fields
        .iter()
        .map(|(k, v)| format!("\n{k}: {v}"))
        .collect();
    match c.preset {
        Preset::Json => {
            if let Some(t) = bearer {
                headers.push(("authorization", format!("Bearer {t}")));
            }
            let fields: serde_json::Map<String, Value> = e
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let body = json!({
                "source": "berth",
                "kind": e.kind,
                "severity": severity_name(e.severity),
                "title": e.title,
                "body": e.body,
                "fields": fields,
            });
            (c.url.clone(), headers, body)
        }
        Preset::Ntfy => {
            if let Some(t) = bearer {
                headers.push(("authorization", format!("Bearer {t}")));
            }
            let (base, topic) = topic_split(&c.url).unwrap_or((c.url.clone(), String::new()));
            let (priority, tag) = match e.severity {
                Severity::Error => (5, "rotating_light"),
                Severity::Warning => (4, "warning"),
                Severity::Success => (3, "white_check_mark"),
                Severity::Info => (3, "information_source"),
            };
            let body = json!({
                "topic": topic,
                "title": e.title,
                "message": format!("{}{fields_text}", e.body),
                "priority": priority,
                "tags": [tag],
            });
            (base, headers, body)
        }
        Preset::Discord => {
            let color = match e.severity {
                Severity::Error => 0xE74C3C,
                Severity::Warning => 0xF1C40F,
                Severity::Success => 0x2ECC71,
                Severity::Info => 0x3498DB,
            };
            let fields: Vec<Value> = e
                .fields
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v, "inline": true}))
                .collect();
            let body = json!({
                "username": "Berth",
                "embeds": [{
                    "title": e.title,
                    "description": e.body,
                    "color": color,
                    "fields": fields,
                }],
            });
            (c.url.clone(), headers, body)
        }
        Preset::Slack => {
            let lines: String = e
                .fields
                .iter()
                .map(|(k, v)| format!("\n• *{k}*: {v}"))
                .collect();
            let body = json!({ "text": format!("*{}*\n{}{lines}", e.title, e.body) });
            (c.url.clone(), headers, body)
        }
        Preset::Gotify => {
            if let Some(t) = bearer {
                headers.push(("x-gotify-key", t.clone()));
            }
            let url = if c.url.trim_end_matches('/').ends_with("/message") {
                c.url.clone()
            } else {
                format!("{}/message", c.url.trim_end_matches('/'))
            };
            let priority = match e.severity {
                Severity::Error => 8,
                Severity::Warning => 5,
                Severity::Success | Severity::Info => 2,
            };
            let body = json!({
                "title": e.title,
                "message": format!("{}{fields_text}", e.body),
                "priority": priority,
            });
            (url, headers, body)
        }
    }
}

berth_plugin_sdk::export_notifier_plugin!(Webhook);
