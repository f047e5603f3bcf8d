//! Docker's failures as [`DockerError`]: the engine's own message (it names the
//! container, the port, the dependent image) with what it means ([`Kind`]).

use berth_core::error::Kind;
use bollard::errors::Error;

/// A failure talking to Docker, or a request it cannot take.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach Docker at {endpoint}: {source}")]
    Unreachable { endpoint: String, source: Error },
    #[error("Docker at {endpoint} did not answer within {}s", crate::PROBE_TIMEOUT.as_secs())]
    Timeout { endpoint: String },
    /// Docker answered with an error; its message is kept as the engine wrote it.
    #[error("{message}")]
    Answered { kind: Kind, message: String },
    /// A name or argument that may not go into a Docker API path or request.
    #[error("{message}")]
    BadArgument { field: String, message: String },
    /// Something asked for does not exist (a host Berth does not manage).
    #[error("{message}")]
    NotFound {
        field: Option<String>,
        message: String,
    },
    /// Refused by Berth (its own container is not redeployed).
    #[error("{0}")]
    Refused(String),
    /// Beyond the caller's role (a host path in a new container's mounts).
    #[error("{0}")]
    Forbidden(String),
    /// An unexpected state (a bug): the cause goes to the log, not to users.
    #[error("{0}")]
    Internal(String),
}

impl DockerError {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => Kind::Unavailable,
            Self::Answered { kind, .. } => *kind,
            Self::BadArgument { .. } => Kind::BadRequest,
            Self::NotFound { .. } => Kind::NotFound,
            Self::Refused(_) => Kind::Conflict,
            Self::Forbidden(_) => Kind::Forbidden,
            Self::Internal(_) => Kind::Internal,
        }
    }

    /// A bad argument named after the request's field.
    pub fn bad(field: &str, message: impl Into<String>) -> Self {
        Self::BadArgument {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// An unexpected failure (logged by whoever reports it).
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

/// The error for a failed Docker call about `what` ("container web").
pub fn docker_err(e: &Error, what: &str) -> DockerError {
    let answered = |kind, message: String| DockerError::Answered { kind, message };
    match e {
        Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            let kind = match *status_code {
                404 => Kind::NotFound,
                409 => Kind::Conflict,
                400 => Kind::BadRequest,
                // The engine reports some conflicts as 500s.
                500 if is_conflict_message(message) => Kind::Conflict,
                503 => Kind::Unavailable,
                _ => Kind::Internal,
            };
            let text = if message.is_empty() {
                format!("{what}: Docker answered {status_code}")
            } else {
                message.clone()
            };
            if kind == Kind::Internal {
                tracing::warn!(status = status_code, error = %message, what, "docker refused");
            }
            answered(kind, text)
        }
        Error::DockerContainerWaitError { error, code } => answered(
            Kind::Conflict,
            format!("{what} exited with {code}: {error}"),
        ),
        Error::RequestTimeoutError => answered(
            Kind::Timeout,
            format!("{what}: Docker did not answer in time"),
        ),
        // Transport failures: the daemon is gone or restarting.
        _ if is_transport(e) => {
            answered(Kind::Unavailable, format!("Docker is not reachable: {e}"))
        }
        _ => {
            tracing::warn!(error = %e, what, "docker call failed");
            answered(Kind::Internal, format!("{what}: {e}"))
        }
    }
}

fn is_conflict_message(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    [
        "already allocated",
        "already in use",
        "address in use",
        "is already",
        "in use by",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Whether the failure is the connection, not the request.
fn is_transport(e: &Error) -> bool {
    matches!(
        e,
        Error::HyperResponseError { .. }
            | Error::IOError { .. }
            | Error::HyperLegacyError { .. }
            | Error::SocketNotFoundError(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> Error {
        Error::DockerResponseServerError {
            status_code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn statuses_map_to_stable_kinds() {
        let nf = docker_err(&server(404, "No such container: x"), "container x");
        assert_eq!(nf.kind(), Kind::NotFound);
        assert_eq!(nf.to_string(), "No such container: x");
        assert_eq!(
            docker_err(&server(409, "name in use"), "c").kind(),
            Kind::Conflict
        );
        let port = server(
            500,
            "driver failed programming external connectivity: Bind for 0.0.0.0:80 failed: port is already allocated",
        );
        assert_eq!(docker_err(&port, "c").kind(), Kind::Conflict);
        assert_eq!(docker_err(&server(500, "boom"), "c").kind(), Kind::Internal);
        let timeout = docker_err(&Error::RequestTimeoutError, "c");
        assert_eq!(timeout.kind(), Kind::Timeout);
        let gone = docker_err(
            &Error::SocketNotFoundError("/var/run/docker.sock".into()),
            "c",
        );
        assert_eq!(gone.kind(), Kind::Unavailable);
    }
}
