//! The handlers of the v1 methods and channel kinds, one module per noun. Each module's
//! `register` binds the catalogue entries it implements; authorisation and auditing are
//! the registry's job ([`crate::ws::registry`]), not theirs.

mod audit;
mod auth;
mod backups;
mod containers;
pub(crate) mod events;
mod images;
mod jobs;
mod networks;
mod notifications;
mod plugin_install;
mod plugins;
mod pull;

pub use backups::{download as download_backup, download_bundle as download_backups};
pub use plugin_install::{Installer, Staging, load_installed, receive as receive_plugin_package};
mod schedules;
pub(crate) mod settings;
mod stacks;
mod streams;
mod system;
mod tokens;
mod uploads;
mod users;
pub(crate) mod volumes;

use crate::ws::registry::Registry;

pub fn register(r: &mut Registry) {
    auth::register(r);
    tokens::register(r);
    users::register(r);
    audit::register(r);
    backups::register(r);
    jobs::register(r);
    system::register(r);
    events::register(r);
    containers::register(r);
    streams::register(r);
    images::register(r);
    pull::register(r);
    volumes::register(r);
    networks::register(r);
    plugins::register(r);
    plugin_install::register(r);
    notifications::register(r);
    schedules::register(r);
    settings::register(r);
    stacks::register(r);
    uploads::register(r);
}

pub(crate) use crate::errors::user as user_err;
