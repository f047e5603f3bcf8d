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

use std::cell::RefCell;
use std::time::Duration;

use berth_plugin_sdk::notifier::berth::plugin::types::{HealthReport, HealthStatus, PluginError};
use berth_plugin_sdk::notifier::exports::berth::plugin::lifecycle;
use berth_plugin_sdk::notifier::exports::berth::plugin::notification::{self, Event, Severity};
use serde::Deserialize;
use serde_json::{Value, json};
use wstd::http::{Client, Request};

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

thread_local! {
    static CONFIG: RefCell<Option<Config>> = const { RefCell::new(None) };
}

struct Webhook;

impl lifecycle::Guest for Webhook {
    fn init(config_json: String) -> Result<(), PluginError> {
        let c: Config =
            berth_plugin_sdk::config::parse(&config_json).map_err(PluginError::InvalidConfig)?;
        let uri: wstd::http::Uri = c
            .url
            .parse()
            .map_err(|e| PluginError::InvalidConfig(format!("url: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
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
        CONFIG.with(|cfg| *cfg.borrow_mut() = Some(c));
        Ok(())
    }

    fn health() -> HealthReport {
        CONFIG.with(|c| match &*c.borrow() {
            Some(_) => HealthReport {
                status: HealthStatus::Healthy,
                message: String::new(),
            },
            None => HealthReport {
                status: HealthStatus::Degraded,
                message: "not configured".into(),
            },
        })
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

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Success => "success",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
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

async fn send(
    url: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> Result<(), PluginError> {
    // wasi:http sends a body of unknown length chunked; many servers (and proxies)
    // want a length, so it is always set.
    let mut req = Request::post(url)
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string())
        .header("user-agent", "berth-notify-webhook/0.1");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = req
        .body(body)
        .map_err(|e| PluginError::InvalidConfig(format!("request: {e}")))?;
    let mut client = Client::new();
    client.set_connect_timeout(Duration::from_secs(5));
    client.set_first_byte_timeout(Duration::from_secs(8));
    let resp = client
        .send(req)
        .await
        .map_err(|e| PluginError::Unavailable(format!("cannot send: {e}")))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let mut b = resp.into_body();
    let text = match b.contents().await {
        Ok(bytes) => String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
        Err(_) => String::new(),
    };
    let msg = format!("HTTP {status}: {}", text.trim());
    Err(match status {
        401 | 403 => PluginError::Unauthorized(msg),
        404 => PluginError::NotFound(msg),
        408 | 429 | 500..=599 => PluginError::Unavailable(msg),
        _ => PluginError::Other(msg),
    })
}

impl notification::Guest for Webhook {
    fn notify(event: Event) -> Result<(), PluginError> {
        let (url, headers, body) = CONFIG.with(|c| {
            c.borrow()
                .as_ref()
                .map(|c| render(c, &event))
                .ok_or_else(|| PluginError::Other("notify before init".into()))
        })?;
        let body = serde_json::to_vec(&body).map_err(|e| PluginError::Other(e.to_string()))?;
        wstd::runtime::block_on(send(&url, &headers, body))
    }
}

berth_plugin_sdk::notifier::export_notifier!(Webhook);
