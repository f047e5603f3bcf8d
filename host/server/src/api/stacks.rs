//! `stacks.*`: compose stacks' files (`berth_engine::stacks`). Who may do what is the
//! catalogue's (writing a compose file is root on the host: admins only); this module
//! binds the handlers and hides `.env` values from viewers.

use std::sync::Arc;

use berth_engine::Engine;
use std::net::SocketAddr;

use berth_engine::jobs::Output;
use berth_engine::stacks::{actions, convert, external, manage};
use berth_identity::principal::Principal;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    ComposeFromDockerRun, StackOutput, StacksAdopt, StacksCreate, StacksDelete, StacksDown,
    StacksGet, StacksHistory, StacksList, StacksPull, StacksRestart, StacksRestoreVersion,
    StacksSave, StacksScan, StacksStart, StacksStop, StacksUp, StacksValidate,
};
use berth_protocol::api::jobs::JobRef;
use berth_protocol::api::stacks::{
    ConvertRun, ConvertedRun, RunForm, StackAction, StackDelete, StackDetail, StackFiles,
    StackHistory, StackList, StackOutputParams, StackRef, Validation, VersionRef,
};
use berth_protocol::error::ErrorBody;
use berth_protocol::frame::Stream;
use berth_protocol::role::Role;

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
    r.method(StacksAdopt, adopt);
    r.method(StacksUp, up);
    r.method(StacksDown, down);
    r.method(StacksRestart, restart);
    r.method(StacksPull, pull);
    r.method(StacksStop, stop);
    r.method(StacksStart, start);
    r.method(ComposeFromDockerRun, from_docker_run);
    r.channel(StackOutput, output);
}

/// `stack.output`: queues the action as a job and streams what the CLI writes to its
/// terminal (stream 1); `close` carries `{exit_code, job}`. Closing the channel
/// cancels the job (the CLI is stopped as Ctrl-C would). Audited as a session, like
/// a terminal.
fn output(
    (engine, principal, client, auditor): (Arc<Engine>, Principal, SocketAddr, Auditor),
    params: StackOutputParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    berth_engine::stack_folder::check_name(&params.stack).wire()?;
    Ok(async move {
        let user = principal.user.clone();
        let caller = (principal, client, auditor);
        let doing = format!("compose {}", actions::args(params.action).join(" "));
        let mut audit = SessionAudit::start(&caller, "stack.output", &params.stack, &doing);
        let (watcher, mut output) = tokio::sync::mpsc::channel(64);
        let job = actions::queue(&engine, &params.stack, params.action, &user, Some(watcher))
            .await
            .wire()?;
        let mut code = None;
        loop {
            let item = tokio::select! {
                item = output.recv() => item,
                () = sink.closed() => None,
            };
            match item {
                Some(Output::Bytes(bytes)) => {
                    if sink.send_bytes(Stream::Stdout, bytes).await.is_err() {
                        break;
                    }
                }
                Some(Output::Exit(exit)) => code = Some(exit),
                Some(Output::Failed { kind, message }) if code.is_none() => {
                    return Err(ErrorBody::new(crate::errors::code(kind), message));
                }
                Some(Output::Failed { .. } | Output::StateBackup(_)) => {}
                None => break,
            }
        }
        let Some(code) = code else {
            // Cut off: the channel closed, or the job was cancelled while queued.
            let _ = engine.jobs.cancel(&engine.store, &job);
            return Ok(None);
        };
        audit.exit_code = code.map(i64::from);
        Ok(Some(serde_json::json!({ "exit_code": code, "job": job })))
    })
}

/// `stacks.up` … `stacks.start`: the action queued; its job keeps the output.
async fn queue(
    engine: &Engine,
    principal: &Principal,
    params: StackRef,
    action: StackAction,
) -> Result<JobRef, ErrorBody> {
    berth_engine::stack_folder::check_name(&params.name).wire()?;
    let id = actions::queue(engine, &params.name, action, &principal.user, None)
        .await
        .wire()?;
    Ok(JobRef { id })
}

macro_rules! stack_action {
    ($($name:ident => $action:ident),* $(,)?) => {$(
        async fn $name(
            (engine, principal): (Arc<Engine>, Principal),
            params: StackRef,
        ) -> Result<JobRef, ErrorBody> {
            queue(&engine, &principal, params, StackAction::$action).await
        }
    )*};
}

stack_action! {
    up => Up,
    down => Down,
    restart => Restart,
    pull => Pull,
    stop => Stop,
    start => Start,
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

async fn from_docker_run(_: Arc<Engine>, params: ConvertRun) -> Result<ConvertedRun, ErrorBody> {
    let converted = convert::from_docker_run(&params.command).wire()?;
    Ok(ConvertedRun {
        service: converted.service,
        compose: converted.compose,
        unsupported: converted.unsupported,
        warnings: converted.warnings,
        form: run_form(converted.form),
    })
}

fn run_form(f: convert::FormSettings) -> RunForm {
    RunForm {
        image: f.image,
        name: f.name,
        command: f.command,
        env: f.env,
        ports: f.ports,
        mounts: f.mounts,
        labels: f.labels,
        restart: f.restart,
        network: f.network,
        left_out: f.left_out,
    }
}

async fn adopt(
    (engine, principal): (Arc<Engine>, Principal),
    params: StackRef,
) -> Result<StackDetail, ErrorBody> {
    external::adopt(&engine, &params.name, &principal.user)
        .await
        .wire()
}
