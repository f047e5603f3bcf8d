//! The engine's failures. The server maps them to protocol errors in one place; a job
//! records [`EngineError::kind`]'s name and [`EngineError::public`] as its message.

use berth_core::error::Kind;
use berth_core::store::StoreError;
use berth_docker::DockerError;
use berth_plugins::PluginError;

/// What an admin would have to do, where a refusal says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForbiddenDetails {
    /// Replacing these volumes' contents needs an admin.
    Overwrites(Vec<String>),
    /// These keys need an admin's approval.
    NeedsApproval(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A request value is wrong; `field` names it.
    #[error("{message}")]
    BadField { field: String, message: String },
    #[error("{0}")]
    BadRequest(String),
    /// Something asked for does not exist; `field` names the request field if one did.
    #[error("{message}")]
    NotFound {
        field: Option<String>,
        message: String,
    },
    /// Something stands in the way (a name in use, a job holding the backup, damage).
    #[error("{message}")]
    Conflict { message: String },
    /// A restore meets `conflicts` things in its way; the first is `message`, about
    /// request field `field` (`missing`: something it needs is not here).
    #[error("{message}")]
    Blocked {
        missing: bool,
        field: &'static str,
        conflicts: usize,
        message: String,
    },
    /// A restore's host-level settings (or foreign origin) were not all approved.
    #[error("{message}")]
    NotApproved {
        missing: Vec<String>,
        message: String,
    },
    /// Not the requester's to do.
    #[error("{message}")]
    Forbidden {
        message: String,
        details: Option<ForbiddenDetails>,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Cancelled(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An unexpected state (a bug): the cause goes to the log, not to users.
    #[error("{0}")]
    Internal(String),
    /// A failure without a better kind whose reason users do see (an archive that
    /// cannot be read on).
    #[error("{0}")]
    Failed(String),
}

impl EngineError {
    pub fn kind(&self) -> Kind {
        match self {
            Self::BadField { .. } | Self::BadRequest(_) | Self::NotApproved { .. } => {
                Kind::BadRequest
            }
            Self::NotFound { .. } | Self::Blocked { missing: true, .. } => Kind::NotFound,
            Self::Conflict { .. } | Self::Blocked { .. } => Kind::Conflict,
            Self::Forbidden { .. } => Kind::Forbidden,
            Self::Unavailable(_) => Kind::Unavailable,
            Self::Cancelled(_) => Kind::Cancelled,
            Self::Docker(e) => e.kind(),
            Self::Plugin(e) => e.kind(),
            Self::Store(_) | Self::Internal(_) | Self::Failed(_) => Kind::Internal,
        }
    }

    /// A bad value of request field `field`.
    pub fn bad(field: &str, message: impl Into<String>) -> Self {
        Self::BadField {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::Cancelled(message.into())
    }

    /// A failure users see the reason of, without a better kind.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            field: None,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
            details: None,
        }
    }

    /// An unexpected failure (logged, with a trace id, by whoever reports it).
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// Whether this is a bug or a store failure, whose cause users do not see.
    pub fn is_hidden(&self) -> bool {
        matches!(self, Self::Internal(_) | Self::Store(_))
            || matches!(self, Self::Docker(DockerError::Internal(_)))
    }

    /// What users may read of it: the message, or — for a bug — a pointer to the log,
    /// where the cause is written under a trace id.
    pub fn public(&self) -> String {
        if !self.is_hidden() {
            return self.to_string();
        }
        berth_core::error::log_internal(self);
        "internal error; see the server log".to_owned()
    }
}

impl From<berth_plugins::ServiceError> for EngineError {
    fn from(e: berth_plugins::ServiceError) -> Self {
        match e {
            berth_plugins::ServiceError::NoStorage(_) => Self::NotFound {
                field: Some("storage".to_owned()),
                message: e.to_string(),
            },
            other => Self::internal(&other),
        }
    }
}

/// A failed Docker call about `what`, as an engine error.
pub fn docker_err(e: &bollard::errors::Error, what: &str) -> EngineError {
    berth_docker::docker_err(e, what).into()
}

/// An archive problem as an engine error: refused (`PermissionDenied`: a passphrase),
/// damaged (`InvalidData`), or anything else.
pub fn io_error(e: &std::io::Error) -> EngineError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => EngineError::forbidden(e.to_string()),
        std::io::ErrorKind::InvalidData => EngineError::conflict(e.to_string()),
        _ => EngineError::Failed(e.to_string()),
    }
}
