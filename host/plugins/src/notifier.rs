//! Notifiers as the rest of Berth sees them: send one [`Notification`] through one
//! configured instance, with retries.
//!
//! Each attempt gets a fresh Store with the instance's egress policy (the only way out
//! of the sandbox is `wasi:http`, checked by [`super::egress`]); `init` receives the
//! instance's configuration — secrets included, opened from their sealed form just
//! before the call and never logged — then `notify` runs. An `unavailable` answer (a
//! 5xx, a 429, a timeout, a refused connection) is retried with backoff; anything else
//! is final. A request the host refused is reported with the host's reason, not the
//! plugin's wording of a failed send.

use std::time::{Duration, Instant};

use super::bindings::notifier_world::exports::berth::plugin::notification::{Event, Severity};
use super::egress::{EgressPolicy, Pattern};
use super::{PluginError, PluginRuntime};

/// Attempts per notification (the first and two retries).
pub const ATTEMPTS: u32 = 3;

/// One configured notifier instance, ready to call.
#[derive(Clone)]
pub struct NotifierInstance {
    pub name: String,
    pub plugin: String,
    /// The configuration with its secrets, as JSON; never logged (see `Debug`).
    pub config: String,
    pub egress: Vec<Pattern>,
    pub allow_private: bool,
}

impl std::fmt::Debug for NotifierInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierInstance")
            .field("name", &self.name)
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Warning,
    Error,
}

/// What happened, for people.
#[derive(Debug, Clone)]
pub struct Notification {
    /// `backup.complete`, `backup.failed`, `test`, …
    pub kind: String,
    pub level: Level,
    pub title: String,
    pub body: String,
    pub fields: Vec<(String, String)>,
}

/// How a delivery went.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    pub attempts: u32,
    pub elapsed: Duration,
}

fn retryable(e: &PluginError) -> bool {
    use super::bindings::PluginError as E;
    matches!(
        e,
        PluginError::Timeout { .. }
            | PluginError::Failed {
                error: E::Unavailable(_),
                ..
            }
    )
}

/// Wait before attempt `n + 1`: 250 ms, then 1 s.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(250 * 4u64.pow(n.saturating_sub(1)))
}

impl PluginRuntime {
    /// Delivers `n` through `inst`, retrying what may succeed later.
    pub async fn notify(
        &self,
        inst: &NotifierInstance,
        n: &Notification,
    ) -> Result<Delivery, PluginError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.notify_once(inst, n).await {
                Ok(()) => {
                    return Ok(Delivery {
                        attempts: attempt,
                        elapsed: started.elapsed(),
                    });
                }
                Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                    tracing::info!(plugin = inst.plugin, instance = inst.name, attempt, error = %e, "notification failed; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => {
                    tracing::warn!(plugin = inst.plugin, instance = inst.name, attempt, error = %e, "notification not delivered");
                    return Err(e);
                }
            }
        }
    }

    async fn notify_once(
        &self,
        inst: &NotifierInstance,
        n: &Notification,
    ) -> Result<(), PluginError> {
        let plugin = self.get(&inst.plugin)?;
        let pre = plugin
            .notifier_pre
            .clone()
            .ok_or_else(|| PluginError::Usage {
                id: inst.plugin.clone(),
                reason: "not a notifier".into(),
            })?;
        let policy = EgressPolicy::new(
            &inst.plugin,
            plugin.manifest.http_patterns(),
            inst.egress.clone(),
            inst.allow_private,
        );
        let denials = policy.denials();
        let limits = plugin.limits;
        let id = inst.plugin.clone();
        let trap = move |e: wasmtime::Error| PluginError::from_trap(&id, limits, &e);
        let mut store = self
            .new_store(&inst.plugin, None, policy)
            .map_err(trap.clone())?;
        let (config, id) = (inst.config.clone(), inst.plugin.clone());
        let event = Event {
            kind: n.kind.clone(),
            severity: match n.level {
                Level::Info => Severity::Info,
                Level::Success => Severity::Success,
                Level::Warning => Severity::Warning,
                Level::Error => Severity::Error,
            },
            title: n.title.clone(),
            body: n.body.clone(),
            fields: n.fields.clone(),
        };
        let r = self
            .run_call(&inst.plugin, limits, async move {
                let instance = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(trap.clone())?;
                instance
                    .berth_plugin_lifecycle()
                    .call_init(&mut store, &config)
                    .await
                    .map_err(trap.clone())?
                    .map_err(|error| PluginError::Failed {
                        id: id.clone(),
                        error,
                    })?;
                instance
                    .berth_plugin_notification()
                    .call_notify(&mut store, &event)
                    .await
                    .map_err(trap)?
                    .map_err(|error| PluginError::Failed { id, error })
            })
            .await;
        let denied = denials.lock().unwrap_or_else(|p| p.into_inner()).take();
        match (r, denied) {
            (Err(_), Some(reason)) => Err(PluginError::Denied {
                id: inst.plugin.clone(),
                reason,
            }),
            (r, _) => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_what_may_succeed_later() {
        use super::super::bindings::PluginError as E;
        let failed = |error| PluginError::Failed {
            id: "p".into(),
            error,
        };
        assert!(retryable(&failed(E::Unavailable("503".into()))));
        assert!(retryable(&PluginError::Timeout {
            id: "p".into(),
            limit: Duration::from_secs(1)
        }));
        assert!(!retryable(&failed(E::Unauthorized("401".into()))));
        assert!(!retryable(&PluginError::Denied {
            id: "p".into(),
            reason: "x".into()
        }));
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(1000));
    }
}
