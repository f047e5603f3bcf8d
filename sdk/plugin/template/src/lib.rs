//! A notifier for Berth: every event becomes `{"text": "<prefix> <title>: <body>"}`
//! posted to the configured URL, with the (secret) token as a bearer header.
//!
//! The SDK does the plumbing: it parses the configuration into `Config` (errors name
//! the field), keeps the instance between calls, exports the component and sends HTTP
//! over wasi:http with `content-length` set.

use berth_plugin_sdk::http;
use berth_plugin_sdk::notify::{Event, Notifier, PluginError, check_status};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default)]
    token: Option<String>,
}

fn default_prefix() -> String {
    "[berth]".into()
}

struct MyNotifier {
    config: Config,
}

impl Notifier for MyNotifier {
    type Config = Config;

    fn new(config: Config) -> Result<Self, PluginError> {
        Ok(Self { config })
    }

    fn notify(&self, event: &Event) -> Result<(), PluginError> {
        let text = format!("{} {}: {}", self.config.prefix, event.title, event.body);
        let auth = self.config.token.as_ref().map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let response = http::post_json(
            &self.config.url,
            &headers,
            &serde_json::json!({ "text": text }),
        )
        // No answer at all (refused, timed out, denied by the host): worth a retry.
        .map_err(|e| PluginError::Unavailable(e.to_string()))?;
        check_status(&response)
    }
}

berth_plugin_sdk::export_notifier_plugin!(MyNotifier);
