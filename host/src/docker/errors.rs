//! Docker's answers as protocol errors: the engine's own message (it names the
//! container, the port, the dependent image) with a stable code.

use berth_protocol::error::{ErrorBody, ErrorCode};
use bollard::errors::Error;

use super::DockerError;

/// The error for a failed Docker call about `what` ("container web").
pub fn docker_err(e: &Error, what: &str) -> ErrorBody {
    match e {
        Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            let code = match *status_code {
                404 => ErrorCode::NotFound,
                409 => ErrorCode::Conflict,
                400 => ErrorCode::BadRequest,
                // The engine reports some conflicts as 500s.
                500 if is_conflict_message(message) => ErrorCode::Conflict,
                503 => ErrorCode::Unavailable,
                _ => ErrorCode::Internal,
            };
            let text = if message.is_empty() {
                format!("{what}: Docker answered {status_code}")
            } else {
                message.clone()
            };
            let body = ErrorBody::new(code, text);
            if code == ErrorCode::Internal {
                tracing::warn!(status = status_code, error = %message, what, "docker refused");
            }
            body
        }
        Error::DockerContainerWaitError { error, code } => ErrorBody::new(
            ErrorCode::Conflict,
            format!("{what} exited with {code}: {error}"),
        ),
        Error::RequestTimeoutError => ErrorBody::new(
            ErrorCode::Timeout,
            format!("{what}: Docker did not answer in time"),
        ),
        // Transport failures: the daemon is gone or restarting.
        _ if is_transport(e) => ErrorBody::new(
            ErrorCode::Unavailable,
            format!("Docker is not reachable: {e}"),
        ),
        _ => {
            tracing::warn!(error = %e, what, "docker call failed");
            ErrorBody::new(ErrorCode::Internal, format!("{what}: {e}"))
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

impl From<&DockerError> for ErrorBody {
    fn from(e: &DockerError) -> Self {
        ErrorBody::new(ErrorCode::Unavailable, e.to_string())
    }
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
    fn statuses_map_to_stable_codes() {
        let nf = docker_err(&server(404, "No such container: x"), "container x");
        assert_eq!(nf.code, ErrorCode::NotFound);
        assert_eq!(nf.message, "No such container: x");
        assert_eq!(
            docker_err(&server(409, "name in use"), "c").code,
            ErrorCode::Conflict
        );
        let port = server(
            500,
            "driver failed programming external connectivity: Bind for 0.0.0.0:80 failed: port is already allocated",
        );
        assert_eq!(docker_err(&port, "c").code, ErrorCode::Conflict);
        assert_eq!(
            docker_err(&server(500, "boom"), "c").code,
            ErrorCode::Internal
        );
        let timeout = docker_err(&Error::RequestTimeoutError, "c");
        assert_eq!(timeout.code, ErrorCode::Timeout);
        let gone = docker_err(
            &Error::SocketNotFoundError("/var/run/docker.sock".into()),
            "c",
        );
        assert_eq!(gone.code, ErrorCode::Unavailable);
        assert!(gone.retryable);
    }
}
