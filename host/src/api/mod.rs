//! The handlers of the v1 methods and channel kinds, one module per noun. Each module's
//! `register` binds the catalogue entries it implements; authorisation and auditing are
//! the registry's job ([`crate::ws::registry`]), not theirs.

mod audit;
mod auth;
mod backups;
mod containers;
pub(crate) mod docker_args;
mod events;
mod images;
mod networks;
mod notifications;
mod plugin_install;
mod plugins;

pub use backups::{download as download_backup, download_bundle as download_backups};
pub use notifications::dispatch as notify;
pub use plugin_install::{Staging, load_installed, receive as receive_plugin_package};
pub use plugins::storage_instances;
pub(crate) mod redeploy;
mod streams;
mod system;
mod tokens;
mod users;
pub(crate) mod volumes;

use berth_protocol::error::{ErrorBody, ErrorCode};

use crate::identity::UserError;
use crate::ws::registry::{Registry, bad_field, internal};

pub fn register(r: &mut Registry) {
    auth::register(r);
    tokens::register(r);
    users::register(r);
    audit::register(r);
    backups::register(r);
    system::register(r);
    events::register(r);
    containers::register(r);
    streams::register(r);
    images::register(r);
    volumes::register(r);
    networks::register(r);
    plugins::register(r);
    plugin_install::register(r);
    notifications::register(r);
}

/// Maps identity errors to protocol errors; store failures become `internal`.
pub(crate) fn user_err(e: UserError) -> ErrorBody {
    match e {
        UserError::InvalidName(_) => bad_field("name", e.to_string()),
        UserError::Policy(_) => bad_field("password", e.to_string()),
        UserError::Exists(_) | UserError::Conflict(_) => {
            ErrorBody::new(ErrorCode::Conflict, e.to_string())
        }
        UserError::NotFound(_) => ErrorBody::new(ErrorCode::NotFound, e.to_string()),
        UserError::Hash(_) | UserError::Store(_) | UserError::Corrupt { .. } => internal(&e),
    }
}
