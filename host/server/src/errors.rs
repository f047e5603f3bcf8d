//! The one place where the domain crates' errors become protocol errors: a code from
//! what the failure means ([`berth_core::error::Kind`]), the message users may read,
//! and the typed `details` of the contract ([`berth_protocol::error::details`]).
//! Bugs and store failures are logged under a trace id; users get the id, not the cause.

use berth_core::error::Kind;
use berth_core::store::StoreError;
use berth_docker::DockerError;
use berth_engine::EngineError;
use berth_engine::error::ForbiddenDetails;
use berth_identity::UserError;
use berth_plugins::{PluginError, ServiceError};
use berth_protocol::error::{ErrorBody, ErrorCode, details};

/// The protocol's code for what a failure means.
pub fn code(kind: Kind) -> ErrorCode {
    match kind {
        Kind::BadRequest => ErrorCode::BadRequest,
        Kind::NotFound => ErrorCode::NotFound,
        Kind::Conflict => ErrorCode::Conflict,
        Kind::Forbidden => ErrorCode::Forbidden,
        Kind::Unavailable => ErrorCode::Unavailable,
        Kind::Timeout => ErrorCode::Timeout,
        Kind::Cancelled => ErrorCode::Cancelled,
        Kind::RateLimited => ErrorCode::RateLimited,
        Kind::Overflow => ErrorCode::Overflow,
        Kind::Internal => ErrorCode::Internal,
    }
}

/// An unexpected failure: the cause goes to the log under a trace id, which users get.
pub fn internal(cause: &dyn std::fmt::Display) -> ErrorBody {
    let trace_id = berth_core::error::log_internal(cause);
    ErrorBody::new(ErrorCode::Internal, "internal error; see the server log")
        .with(&details::Trace { trace_id })
}

/// A bad value of request field `field`.
pub fn bad_field(field: &str, message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::BadRequest, message).with(&details::Field {
        field: field.to_owned(),
    })
}

fn about_field(code: ErrorCode, message: String, field: Option<String>) -> ErrorBody {
    let body = ErrorBody::new(code, message);
    match field {
        Some(field) => body.with(&details::Field { field }),
        None => body,
    }
}

pub fn store(e: &StoreError) -> ErrorBody {
    internal(e)
}

pub fn docker(e: DockerError) -> ErrorBody {
    match e {
        DockerError::Internal(_) => internal(&e),
        DockerError::BadArgument { field, message } => bad_field(&field, message),
        DockerError::NotFound { field, message } => {
            about_field(ErrorCode::NotFound, message, field)
        }
        DockerError::Answered {
            kind: Kind::Internal,
            ..
        } => ErrorBody::new(ErrorCode::Internal, e.to_string()),
        _ => ErrorBody::new(code(e.kind()), e.to_string()),
    }
}

/// A failed Docker call about `what` ("container web").
pub fn docker_call(e: &bollard::errors::Error, what: &str) -> ErrorBody {
    docker(berth_docker::docker_err(e, what))
}

pub fn plugin(e: &PluginError) -> ErrorBody {
    ErrorBody::new(code(e.kind()), e.to_string()).with(&details::Plugin {
        plugin: e.plugin().to_owned(),
    })
}

pub fn user(e: UserError) -> ErrorBody {
    match e {
        UserError::InvalidName(_) => bad_field("name", e.to_string()),
        UserError::Policy(_) => bad_field("password", e.to_string()),
        UserError::Exists(_) | UserError::Conflict(_) => {
            ErrorBody::new(ErrorCode::Conflict, e.to_string())
        }
        UserError::NotFound(_) => ErrorBody::new(ErrorCode::NotFound, e.to_string()),
        UserError::Hash(_) | UserError::Store(_) => internal(&e),
    }
}

pub fn engine(e: EngineError) -> ErrorBody {
    let kind = e.kind();
    match e {
        EngineError::Docker(e) => docker(e),
        EngineError::Plugin(e) => plugin(&e),
        EngineError::Store(e) => store(&e),
        EngineError::Internal(_) => internal(&e),
        EngineError::BadField { field, message } => bad_field(&field, message),
        EngineError::NotFound { field, message } => about_field(code(kind), message, field),
        EngineError::Blocked {
            field,
            conflicts,
            message,
            ..
        } => ErrorBody::new(code(kind), message).with(&details::Conflicts {
            field: field.to_owned(),
            conflicts,
        }),
        EngineError::NotApproved { missing, message } => {
            ErrorBody::new(code(kind), message).with(&details::NeedsApproval {
                field: Some("approve".to_owned()),
                needs_approval: missing,
            })
        }
        EngineError::Forbidden { message, details } => {
            let body = ErrorBody::new(ErrorCode::Forbidden, message);
            match details {
                Some(ForbiddenDetails::Overwrites(overwrites)) => body.with(&details::Overwrites {
                    field: "existing".to_owned(),
                    overwrites,
                }),
                Some(ForbiddenDetails::NeedsApproval(needs_approval)) => {
                    body.with(&details::NeedsApproval {
                        field: None,
                        needs_approval,
                    })
                }
                None => body,
            }
        }
        other => ErrorBody::new(code(kind), other.to_string()),
    }
}

/// A domain error on its way to the wire: each maps through this module.
pub trait Wire {
    fn into_body(self) -> ErrorBody;
}

impl Wire for ErrorBody {
    fn into_body(self) -> ErrorBody {
        self
    }
}

impl Wire for DockerError {
    fn into_body(self) -> ErrorBody {
        docker(self)
    }
}

impl Wire for EngineError {
    fn into_body(self) -> ErrorBody {
        engine(self)
    }
}

impl Wire for PluginError {
    fn into_body(self) -> ErrorBody {
        plugin(&self)
    }
}

impl Wire for UserError {
    fn into_body(self) -> ErrorBody {
        user(self)
    }
}

impl Wire for StoreError {
    fn into_body(self) -> ErrorBody {
        store(&self)
    }
}

/// Through the engine's mapping, so a storage lookup fails the same way everywhere.
impl Wire for ServiceError {
    fn into_body(self) -> ErrorBody {
        engine(self.into())
    }
}

/// `result.wire()?` in a handler: the domain error as the protocol error.
pub trait WireResult<T> {
    fn wire(self) -> Result<T, ErrorBody>;
}

impl<T, E: Wire> WireResult<T> for Result<T, E> {
    fn wire(self) -> Result<T, ErrorBody> {
        self.map_err(Wire::into_body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_details_keep_the_contract_shape() {
        let e = engine(EngineError::Blocked {
            missing: false,
            field: "existing",
            conflicts: 2,
            message: "container web exists".to_owned(),
        });
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(
            e.details,
            Some(serde_json::json!({"field": "existing", "conflicts": 2}))
        );
        let e = engine(EngineError::NotApproved {
            missing: vec!["privileged".to_owned()],
            message: "approve".to_owned(),
        });
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert_eq!(
            e.details,
            Some(serde_json::json!({"field": "approve", "needs_approval": ["privileged"]}))
        );
    }

    #[test]
    fn bugs_hide_their_cause_behind_a_trace_id() {
        let e = engine(EngineError::internal(&"secret path /x"));
        assert_eq!(e.code, ErrorCode::Internal);
        assert!(!e.message.contains("secret"));
        let details = e.details.expect("a trace id");
        assert_eq!(details["trace_id"].as_str().map(str::len), Some(16));
    }

    #[test]
    fn docker_bad_arguments_name_their_field() {
        let e = docker(DockerError::bad("name", "bad name"));
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert_eq!(e.details, Some(serde_json::json!({"field": "name"})));
    }
}
