//! `stacks.*`: compose stacks' files (`berth_engine::stacks`). Who may do what is the
//! catalogue's (writing a compose file is root on the host: admins only); this module
//! binds the handlers and hides `.env` values from viewers.

use std::sync::Arc;

use berth_engine::Engine;
use berth_engine::stacks::manage;
use berth_identity::principal::Principal;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    StacksCreate, StacksDelete, StacksGet, StacksHistory, StacksList, StacksRestoreVersion,
    StacksSave, StacksScan, StacksValidate,
};
use berth_protocol::api::stacks::{
    StackDelete, StackDetail, StackFiles, StackHistory, StackList, StackRef, Validation, VersionRef,
};
use berth_protocol::error::ErrorBody;
use berth_protocol::role::Role;

use crate::errors::WireResult;
use crate::ws::registry::{Registry, blocking};

pub fn register(r: &mut Registry) {
    r.method(StacksList, list);
    r.method(StacksScan, list);
    r.method(StacksGet, get);
    r.method(StacksValidate, validate);
    r.method(StacksCreate, create);
    r.method(StacksSave, save);
    r.method(StacksDelete, delete);
    r.method(StacksHistory, history);
    r.method(StacksRestoreVersion, restore_version);
}

async fn list(engine: Arc<Engine>, _: Empty) -> Result<StackList, ErrorBody> {
    manage::list(&engine).await.wire()
}

async fn get(
    (engine, principal): (Arc<Engine>, Principal),
    params: StackRef,
) -> Result<StackDetail, ErrorBody> {
    // `.env` holds passwords as often as container environments do.
    let redact = !principal.role.allows(Role::Operator);
    blocking(move || manage::get(&engine, &params.name, redact).wire()).await
}

async fn validate(engine: Arc<Engine>, files: StackFiles) -> Result<Validation, ErrorBody> {
    manage::validate(&engine, &files).await.wire()
}

async fn create(
    (engine, principal): (Arc<Engine>, Principal),
    files: StackFiles,
) -> Result<StackDetail, ErrorBody> {
    manage::save(&engine, files, true, &principal.user)
        .await
        .wire()
}

async fn save(
    (engine, principal): (Arc<Engine>, Principal),
    files: StackFiles,
) -> Result<StackDetail, ErrorBody> {
    manage::save(&engine, files, false, &principal.user)
        .await
        .wire()
}

async fn delete(engine: Arc<Engine>, params: StackDelete) -> Result<Empty, ErrorBody> {
    manage::delete(&engine, &params)
        .await
        .wire()
        .map(|()| Empty {})
}

async fn history(engine: Arc<Engine>, params: StackRef) -> Result<StackHistory, ErrorBody> {
    blocking(move || manage::history(&engine, &params.name).wire()).await
}

async fn restore_version(
    (engine, principal): (Arc<Engine>, Principal),
    params: VersionRef,
) -> Result<StackDetail, ErrorBody> {
    manage::restore_version(&engine, &params.name, &params.id, &principal.user)
        .await
        .wire()
}
