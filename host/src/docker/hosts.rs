//! The Docker hosts Berth manages. v1 has one, `local`, but every method and channel
//! names its host, so more hosts are an addition here rather than a rewrite.
//!
//! Each host owns its connection and its event pump. The pump is the host's health in
//! motion: when the events stream breaks, the host publishes `host disconnected`,
//! retries until the daemon answers again, then publishes `host connected` so clients
//! refetch what they missed.

use std::sync::Arc;
use std::time::Duration;

use berth_protocol::api::events::Event;
use berth_protocol::api::hosts::LOCAL;
use berth_protocol::api::rfc3339;
use berth_protocol::error::{ErrorBody, ErrorCode};
use bollard::Docker;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt;

use super::events::EventHub;
use super::stats::StatsHub;
use super::{DockerHost, Endpoint};

/// How often a host that is down is tried again.
const RETRY: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Host {
    pub name: String,
    pub conn: DockerHost,
    pub events: EventHub,
    /// The `container.stats` sampler's subscribers.
    pub stats: StatsHub,
    /// The container Berth itself runs in, on this host (protected from stop/remove).
    pub self_id: Option<String>,
}

impl Host {
    /// A negotiated client, or `unavailable` (retryable) while the daemon is away.
    pub async fn docker(&self) -> Result<Docker, ErrorBody> {
        self.conn.client().await.map_err(|e| ErrorBody::from(&e))
    }

    fn host_event(&self, action: &str) -> Event {
        Event {
            typ: "host".into(),
            action: action.into(),
            id: self.name.clone(),
            name: Some(self.name.clone()),
            stack: None,
            state: None,
            exit_code: None,
            time: rfc3339(crate::identity::users::now_ms()),
            cursor: String::new(),
        }
    }

    /// Follows the daemon's events for as long as the process lives.
    async fn pump(self: Arc<Self>) {
        let mut up: Option<bool> = None;
        loop {
            let docker = match self.conn.client().await {
                Ok(d) if d.ping().await.is_ok() => d,
                _ => {
                    self.conn.forget().await;
                    if up != Some(false) {
                        tracing::warn!(host = self.name, "docker unreachable; retrying");
                        self.events.publish(self.host_event("disconnected"));
                        up = Some(false);
                    }
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            let mut stream = docker.events(Some(EventsOptionsBuilder::default().build()));
            if up == Some(false) {
                tracing::info!(host = self.name, "docker is back");
                self.events.publish(self.host_event("connected"));
            }
            up = Some(true);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(e) => {
                        if let Some(ev) = super::model::normalise(e) {
                            self.events.publish(ev);
                        }
                    }
                    Err(e) => {
                        tracing::debug!(host = self.name, error = %e, "events stream ended");
                        break;
                    }
                }
            }
            // The stream only ends when the daemon goes away (or restarts).
            self.conn.forget().await;
        }
    }
}

#[derive(Debug)]
pub struct Hosts {
    local: Arc<Host>,
}

impl Hosts {
    pub fn new(endpoint: Option<Endpoint>) -> Self {
        Self {
            local: Arc::new(Host {
                name: LOCAL.to_owned(),
                conn: DockerHost::new(endpoint),
                events: EventHub::new(),
                stats: StatsHub::default(),
                self_id: super::model::own_container_id(),
            }),
        }
    }

    /// Starts every host's event pump and stats sampler (which sleeps until somebody
    /// subscribes).
    pub fn start(&self) {
        tokio::spawn(Arc::clone(&self.local).pump());
        tokio::spawn(super::stats::run(Arc::clone(&self.local)));
    }

    pub fn local(&self) -> &Arc<Host> {
        &self.local
    }

    pub fn all(&self) -> Vec<Arc<Host>> {
        vec![Arc::clone(&self.local)]
    }

    /// The host a request names (`local` when it names none).
    pub fn get(&self, name: Option<&str>) -> Result<Arc<Host>, ErrorBody> {
        match name {
            None => Ok(Arc::clone(&self.local)),
            Some(n) if n == self.local.name => Ok(Arc::clone(&self.local)),
            Some(other) => Err(ErrorBody::new(
                ErrorCode::NotFound,
                format!("no Docker host {other:?}; this Berth manages only \"local\""),
            )
            .with_details(serde_json::json!({ "field": "host" }))),
        }
    }
}
