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
use bollard::Docker;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt;

use super::events::EventHub;
use super::stats::StatsHub;
use super::{DockerError, DockerHost, Endpoint};

/// How often a host that is down is tried again.
const RETRY: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Host {
    pub name: String,
    pub conn: DockerHost,
    pub events: EventHub,
    /// The `container.stats` sampler's subscribers.
    pub stats: StatsHub,
    /// The volumes' sizes as last measured.
    pub sizes: crate::disk_usage::SizeCache,
    /// The container Berth itself runs in, on this host (protected from stop/remove).
    pub self_id: Option<String>,
    /// Berth's data directory as Berth sees it (inside its container, if it runs in one).
    data_dir: std::path::PathBuf,
    /// The volumes of Berth's own container that hold its data directory, found once.
    own_data: tokio::sync::OnceCell<Vec<OwnData>>,
}

/// A volume that holds Berth's data directory (the store, the installation key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnData {
    pub volume: String,
    /// Where the data directory is inside the volume (empty: at its root).
    pub data_dir: Vec<String>,
}

/// Files of the data directory never served over the API, to anyone.
pub const NEVER_SERVED: &[&str] = &["secret.key", "initial-admin-password"];

impl OwnData {
    /// Whether `path` (resolved, inside the volume) is a file never served.
    pub fn is_secret(&self, path: &[String]) -> bool {
        path.len() == self.data_dir.len() + 1
            && path.starts_with(&self.data_dir)
            && NEVER_SERVED.contains(&path[path.len() - 1].as_str())
    }

    /// Whether `path` is the data directory or holds it (its tar would carry the key).
    pub fn holds_data_dir(&self, path: &[String]) -> bool {
        self.data_dir.starts_with(path)
    }
}

/// The mounts of `c` that hold `data_dir`, volumes only (binds are not reachable
/// through the volume API).
fn own_data_of(
    c: &bollard::models::ContainerInspectResponse,
    data_dir: &std::path::Path,
) -> Vec<OwnData> {
    let mut out: Vec<(usize, OwnData)> = Vec::new();
    for m in c.mounts.iter().flatten() {
        let (Some(name), Some(dest)) = (&m.name, &m.destination) else {
            continue;
        };
        if m.typ.as_deref() != Some("volume") {
            continue;
        }
        if let Ok(rest) = data_dir.strip_prefix(dest) {
            let parts = rest
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((
                dest.len(),
                OwnData {
                    volume: name.clone(),
                    data_dir: parts,
                },
            ));
        }
    }
    out.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
    out.into_iter().map(|(_, o)| o).collect()
}

impl Host {
    /// Whether container `id` (an id, a prefix or a name) is the one Berth runs in.
    pub async fn is_self(&self, docker: &Docker, id: &str) -> Result<bool, DockerError> {
        let Some(me) = &self.self_id else {
            return Ok(false);
        };
        if id == me {
            return Ok(true);
        }
        match docker.inspect_container(id, None).await {
            Ok(c) => Ok(c.id.as_deref() == Some(me.as_str())),
            Err(e) => Err(crate::docker_err(&e, &format!("container {id}"))),
        }
    }

    /// The volumes of Berth's own container that hold its data directory (none when
    /// Berth does not run in a container). Asked of Docker once.
    pub async fn own_data(&self, docker: &Docker) -> Result<&[OwnData], DockerError> {
        let Some(me) = &self.self_id else {
            return Ok(&[]);
        };
        self.own_data
            .get_or_try_init(|| async {
                let c = docker
                    .inspect_container(me, None)
                    .await
                    .map_err(|e| crate::docker_err(&e, "Berth's own container"))?;
                Ok::<_, DockerError>(own_data_of(&c, &self.data_dir))
            })
            .await
            .map(Vec::as_slice)
    }

    /// The protected volume `name`, if it is one.
    pub async fn own_volume(
        &self,
        docker: &Docker,
        name: &str,
    ) -> Result<Option<OwnData>, DockerError> {
        Ok(self
            .own_data(docker)
            .await?
            .iter()
            .find(|o| o.volume == name)
            .cloned())
    }

    /// A negotiated client, or `unavailable` (retryable) while the daemon is away.
    pub async fn docker(&self) -> Result<Docker, DockerError> {
        self.conn.client().await
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
            kind: None,
            job: None,
            message: None,
            helper: false,
            time: rfc3339(berth_core::time::now_ms()),
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
            let mut helpers = super::model::Helpers::default();
            while let Some(item) = stream.next().await {
                match item {
                    Ok(e) => {
                        if let Some(ev) = helpers.normalise(e) {
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
    /// `data_dir`: Berth's data directory, whose volume (when Berth runs in a container)
    /// is protected.
    pub fn new(endpoint: Option<Endpoint>, data_dir: &std::path::Path) -> Self {
        Self {
            local: Arc::new(Host {
                name: LOCAL.to_owned(),
                conn: DockerHost::new(endpoint),
                events: EventHub::new(),
                stats: StatsHub::default(),
                sizes: crate::disk_usage::SizeCache::default(),
                self_id: super::model::own_container_id(),
                data_dir: data_dir.to_path_buf(),
                own_data: tokio::sync::OnceCell::new(),
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
    pub fn get(&self, name: Option<&str>) -> Result<Arc<Host>, DockerError> {
        match name {
            None => Ok(Arc::clone(&self.local)),
            Some(n) if n == self.local.name => Ok(Arc::clone(&self.local)),
            Some(other) => Err(DockerError::NotFound {
                field: Some("host".to_owned()),
                message: format!("no Docker host {other:?}; this Berth manages only \"local\""),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_volume_holding_the_data_directory_is_found_and_its_key_named() {
        let c: bollard::models::ContainerInspectResponse = serde_json::from_value(serde_json::json!({
            "Mounts": [
                {"Type": "volume", "Name": "berth-data", "Destination": "/data"},
                {"Type": "volume", "Name": "other", "Destination": "/srv"},
                {"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock"}
            ]
        }))
        .unwrap();
        let own = own_data_of(&c, std::path::Path::new("/data/berth"));
        assert_eq!(
            own,
            [OwnData {
                volume: "berth-data".into(),
                data_dir: vec!["berth".into()]
            }]
        );
        let p = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(own[0].is_secret(&p(&["berth", "secret.key"])));
        assert!(!own[0].is_secret(&p(&["secret.key"])));
        assert!(own[0].holds_data_dir(&p(&[])));
        assert!(own[0].holds_data_dir(&p(&["berth"])));
        assert!(!own[0].holds_data_dir(&p(&["berth", "backups"])));
    }
}
