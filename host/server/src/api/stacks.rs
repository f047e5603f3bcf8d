//! `stacks.*`: compose stacks' files (`berth_engine::stacks`). Who may do what is the
//! catalogue's (writing a compose file is root on the host: admins only); this module
//! binds the handlers and hides `.env` values from viewers.

use std::sync::Arc;

use berth_engine::Engine;
use std::net::SocketAddr;

use berth_engine::stacks::{actions, manage};
use berth_identity::principal::Principal;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    StackOutput, StacksCreate, StacksDelete, StacksGet, StacksHistory, StacksList,
    StacksRestoreVersion, StacksSave, StacksScan, StacksValidate,
};
use berth_protocol::api::stacks::{
    StackDelete, StackDetail, StackFiles, StackHistory, StackList, StackOutputParams, StackRef,
    Validation, VersionRef,
};
use berth_protocol::error::ErrorBody;
use berth_protocol::frame::Stream;
use berth_protocol::role::Role;
use tokio::io::AsyncReadExt;

use super::streams::SessionAudit;
use crate::errors::WireResult;
use crate::ws::outbox::ChannelSink;
use crate::ws::registry::{Auditor, ChannelEnd, Registry, blocking};

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
    r.channel(StackOutput, output);
}

/// `stack.output`: the action's output as it comes (stdout on stream 1, stderr on 2);
/// closing the channel kills the CLI. Audited as a session, like a terminal.
fn output(
    (engine, principal, client, auditor): (Arc<Engine>, Principal, SocketAddr, Auditor),
    params: StackOutputParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    berth_engine::stacks::folder::check_name(&params.stack).wire()?;
    Ok(async move {
        let caller = (principal, client, auditor);
        let doing = format!("compose {}", actions::args(params.action).join(" "));
        let mut audit = SessionAudit::start(&caller, "stack.output", &params.stack, &doing);
        let mut child = actions::start(&engine, &params.stack, params.action)
            .await
            .wire()?;
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take())
        else {
            return Err(crate::ws::registry::internal(&"compose without pipes"));
        };
        let (mut out, mut err) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
        let (mut out_open, mut err_open) = (true, true);
        while out_open || err_open {
            tokio::select! {
                n = stdout.read(&mut out), if out_open => match n {
                    Ok(n) if n > 0 => if sink.send_bytes(Stream::Stdout, out[..n].to_vec().into()).await.is_err() { return Ok(None) },
                    _ => out_open = false,
                },
                n = stderr.read(&mut err), if err_open => match n {
                    Ok(n) if n > 0 => if sink.send_bytes(Stream::Stderr, err[..n].to_vec().into()).await.is_err() { return Ok(None) },
                    _ => err_open = false,
                },
                // The CLI is killed as `child` drops.
                () = sink.closed() => return Ok(None),
            }
        }
        let code = child.wait().await.ok().and_then(|s| s.code());
        audit.exit_code = code.map(i64::from);
        Ok(Some(serde_json::json!({ "exit_code": code })))
    })
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
