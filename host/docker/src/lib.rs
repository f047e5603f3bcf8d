//! Berth's Docker side: the connection to a Docker Engine ([`DockerHost`]), the hosts
//! ([`hosts`]) with their events ([`events`]) and stats ([`stats`]), never-started helper
//! containers that read and write volumes ([`helper`], [`volpath`]), what a container's
//! inspect document becomes ([`model`], [`redact`]), how a container is recreated from
//! it ([`redeploy`]) or made from a form ([`create`]), and the checks on names that go
//! into Docker's API paths ([`args`]), the compose CLI ([`compose`]), and the volumes'
//! sizes ([`disk_usage`], read through [`raw`]). Errors are [`DockerError`]; nothing
//! here knows the wire.
//!
//! Only this crate (and the features built on it) talks to Docker. The engine may be
//! older than bollard's default API version, so every connection negotiates first
//! (`negotiate_version`); the negotiated client is kept and thrown away on failure so
//! that the next use reconnects by itself when the daemon comes back.

// Needs no unsafe code; forbid (the workspace only denies) keeps it that way.
#![forbid(unsafe_code)]
// Host functions stay short enough to read whole (threshold in clippy.toml);
// a longer one is split by phase, or carries a reasoned `#[expect]`.
#![warn(clippy::too_many_lines)]

pub mod args;
pub mod compose;
pub mod create;
pub mod disk_usage;
pub mod edit;
pub mod errors;
pub mod events;
pub mod helper;
pub mod hosts;
pub mod model;
pub mod raw;
pub mod redact;
pub mod redeploy;
pub mod stats;
pub mod terminal;
pub mod volpath;

use std::path::PathBuf;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};
use tokio::sync::Mutex;

/// Seconds bollard waits for response headers. Long enough for `stop` with a timeout.
const CLIENT_TIMEOUT_S: u64 = 120;
/// Bound on a health probe, so `/readyz` answers promptly when the daemon hangs.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the engine listens. `Default` defers to bollard (`DOCKER_HOST`, then the socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `tcp://` or `http://`; TLS when `DOCKER_TLS_VERIFY` is set, like the docker CLI.
    Tcp(String),
    /// `https://`: always TLS, certificates from `DOCKER_CERT_PATH` or `~/.docker`.
    Https(String),
}

impl Endpoint {
    /// Parses a `DOCKER_HOST`-style URL. The error is a reason, for the configuration.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not a Docker endpoint such as unix:///var/run/docker.sock or tcp://host:2376"
            )
        };
        if let Some(path) = s.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(bad());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        for (prefix, https) in [("tcp://", false), ("http://", false), ("https://", true)] {
            if let Some(rest) = s.strip_prefix(prefix) {
                if rest.is_empty() || rest.contains(char::is_whitespace) {
                    return Err(bad());
                }
                return Ok(if https {
                    Self::Https(s.to_owned())
                } else {
                    Self::Tcp(s.to_owned())
                });
            }
        }
        Err(bad())
    }

    fn connect(this: Option<&Self>) -> Result<Docker, bollard::errors::Error> {
        let v = API_DEFAULT_VERSION;
        match this {
            None => Docker::connect_with_defaults(),
            Some(Self::Unix(p)) => {
                Docker::connect_with_unix(&p.to_string_lossy(), CLIENT_TIMEOUT_S, v)
            }
            Some(Self::Tcp(addr)) if std::env::var_os("DOCKER_TLS_VERIFY").is_none() => {
                Docker::connect_with_http(addr, CLIENT_TIMEOUT_S, v)
            }
            Some(Self::Tcp(addr) | Self::Https(addr)) => {
                let certs = cert_dir();
                Docker::connect_with_ssl(
                    addr,
                    &certs.join("key.pem"),
                    &certs.join("cert.pem"),
                    &certs.join("ca.pem"),
                    CLIENT_TIMEOUT_S,
                    v,
                )
            }
        }
    }
}

fn cert_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("DOCKER_CERT_PATH") {
        return PathBuf::from(p);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".docker")
}

/// What the engine told us about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub version: String,
    /// The API version in use after negotiation.
    pub api_version: String,
}

pub use errors::{DockerError, docker_err};

/// One Docker host and its (lazily negotiated) client.
#[derive(Debug)]
pub struct DockerHost {
    endpoint: Option<Endpoint>,
    client: Mutex<Option<Docker>>,
}

impl DockerHost {
    pub fn new(endpoint: Option<Endpoint>) -> Self {
        Self {
            endpoint,
            client: Mutex::new(None),
        }
    }

    /// The endpoint configured (none: `DOCKER_HOST`, else the local socket).
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }

    /// A human-readable name of the endpoint, for logs and errors.
    pub fn describe(&self) -> String {
        match &self.endpoint {
            None => std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned()),
            Some(Endpoint::Unix(p)) => format!("unix://{}", p.display()),
            Some(Endpoint::Tcp(a) | Endpoint::Https(a)) => a.clone(),
        }
    }

    /// A negotiated client, connecting (again) if needed.
    pub async fn client(&self) -> Result<Docker, DockerError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let unreachable = |source| DockerError::Unreachable {
            endpoint: self.describe(),
            source,
        };
        let fresh = Endpoint::connect(self.endpoint.as_ref()).map_err(unreachable)?;
        let negotiated = tokio::time::timeout(PROBE_TIMEOUT, fresh.negotiate_version())
            .await
            .map_err(|_| DockerError::Timeout {
                endpoint: self.describe(),
            })?
            .map_err(unreachable)?;
        *slot = Some(negotiated.clone());
        Ok(negotiated)
    }

    /// Drops the client, so the next use connects and negotiates again (the daemon
    /// went away, or restarted with another version).
    pub async fn forget(&self) {
        *self.client.lock().await = None;
    }

    /// Asks the engine for its version; forgets the client on failure.
    pub async fn probe(&self) -> Result<EngineInfo, DockerError> {
        let client = self.client().await?;
        let answer = tokio::time::timeout(PROBE_TIMEOUT, client.version()).await;
        let result = match answer {
            Err(_) => Err(DockerError::Timeout {
                endpoint: self.describe(),
            }),
            Ok(Err(source)) => Err(DockerError::Unreachable {
                endpoint: self.describe(),
                source,
            }),
            Ok(Ok(v)) => Ok(EngineInfo {
                version: v.version.unwrap_or_default(),
                api_version: client.client_version().to_string(),
            }),
        };
        if result.is_err() {
            *self.client.lock().await = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_host_urls() {
        assert_eq!(
            Endpoint::parse("unix:///run/docker.sock"),
            Ok(Endpoint::Unix("/run/docker.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("tcp://10.0.0.1:2375"),
            Ok(Endpoint::Tcp("tcp://10.0.0.1:2375".into()))
        );
        assert_eq!(
            Endpoint::parse("https://h:2376"),
            Ok(Endpoint::Https("https://h:2376".into()))
        );
        for bad in [
            "",
            "unix://relative",
            "ftp://x",
            "tcp://",
            "/var/run/docker.sock",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn a_missing_socket_is_reported_not_hung() {
        let host = DockerHost::new(Some(Endpoint::Unix("/nonexistent/docker.sock".into())));
        let err = host.probe().await.unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/docker.sock"),
            "{err}"
        );
    }
}
