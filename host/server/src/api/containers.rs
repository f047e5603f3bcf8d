//! `containers.*` and `container.*`: the grouped list, inspect, create, lifecycle,
//! redeploy and bulk actions.

use berth_docker::hosts::Hosts;
use berth_identity::principal::Principal;
use std::sync::Arc;

use berth_protocol::api::catalogue::{
    ContainerCreate, ContainerEdit, ContainerInspect as InspectM, ContainerKill, ContainerPause,
    ContainerRedeploy, ContainerRemove, ContainerRename, ContainerRestart, ContainerStart,
    ContainerStop, ContainerUnpause, ContainersBulk, ContainersList,
};
use berth_protocol::api::containers::BulkAction;
use berth_protocol::api::containers::ContainerRef;
use berth_protocol::api::containers::KillContainer;
use berth_protocol::api::containers::Redeployed;
use berth_protocol::api::containers::RemoveContainer;
use berth_protocol::api::containers::RenameContainer;
use berth_protocol::api::containers::StopContainer;
use berth_protocol::api::containers::{
    BulkItem, BulkResult, BulkVerb, ContainerInspect, ContainerList, ContainerState,
};
use berth_protocol::api::containers::{CreateContainer, CreatedContainer, EditContainer};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::role::Role;
use bollard::Docker;
use bollard::query_parameters::{
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};

use crate::errors::WireResult;
use crate::errors::docker_call as docker_err;
use crate::ws::registry::{Registry, bad_field, forbidden};
use berth_docker::args as docker_args;
use berth_docker::create;
use berth_docker::hosts::Host;
use berth_docker::model;

/// Most containers one `containers.bulk` call may name.
const BULK_MAX: usize = 500;

pub(crate) async fn host_docker(
    hosts: &Hosts,
    host: Option<&str>,
) -> Result<(Arc<Host>, Docker), ErrorBody> {
    let h = hosts.get(host).wire()?;
    let d = h.docker().await.wire()?;
    Ok((h, d))
}

/// Every container, running or not (`size`: with their writable-layer sizes).
pub(crate) async fn all_containers(
    docker: &Docker,
    size: bool,
) -> Result<Vec<bollard::models::ContainerSummary>, ErrorBody> {
    let o = ListContainersOptionsBuilder::default()
        .all(true)
        .size(size)
        .build();
    docker
        .list_containers(Some(o))
        .await
        .map_err(|e| docker_err(&e, "containers"))
}

/// The container's full id and state; `not_found` with Docker's message otherwise.
async fn resolve(docker: &Docker, id: &str) -> Result<(String, String), ErrorBody> {
    let i = docker
        .inspect_container(id, None)
        .await
        .map_err(|e| docker_err(&e, &format!("container {id}")))?;
    let state = i
        .state
        .and_then(|s| s.status)
        .map(|s| s.to_string())
        .unwrap_or_default();
    Ok((i.id.unwrap_or_else(|| id.to_owned()), state))
}

async fn state_of(docker: &Docker, id: &str) -> Result<ContainerState, ErrorBody> {
    let (id, state) = resolve(docker, id).await?;
    Ok(ContainerState { id, state })
}

pub(crate) fn refuse_self(h: &Host, id: &str, verb: &str) -> Result<(), ErrorBody> {
    if h.self_id.as_deref() == Some(id) {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("refusing to {verb} the container Berth runs in"),
        ));
    }
    Ok(())
}

/// One lifecycle action; shared by the single-container methods and `containers.bulk`.
pub(crate) async fn act(
    h: &Host,
    docker: &Docker,
    verb: BulkVerb,
    id: &str,
    timeout_s: Option<u32>,
    force: bool,
    signal: Option<&str>,
) -> Result<ContainerState, ErrorBody> {
    docker_args::object("id", id).wire()?;
    let (full, _) = resolve(docker, id).await?;
    let what = format!("container {id}");
    let err = |e: bollard::errors::Error| docker_err(&e, &what);
    let t = timeout_s.map(|t| t.min(3600) as i32);
    match verb {
        BulkVerb::Start => match docker.start_container(&full, None).await {
            // 304: already running — the state the caller asked for.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            r => r.map_err(err)?,
        },
        BulkVerb::Stop => {
            refuse_self(h, &full, "stop")?;
            let mut o = StopContainerOptionsBuilder::default();
            if let Some(t) = t {
                o = o.t(t);
            }
            match docker.stop_container(&full, Some(o.build())).await {
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 304, ..
                }) => {}
                r => r.map_err(err)?,
            }
        }
        BulkVerb::Restart => {
            refuse_self(h, &full, "restart")?;
            let mut o = RestartContainerOptionsBuilder::default();
            if let Some(t) = t {
                o = o.t(t);
            }
            docker
                .restart_container(&full, Some(o.build()))
                .await
                .map_err(err)?;
        }
        BulkVerb::Kill => {
            refuse_self(h, &full, "kill")?;
            let sig = signal.unwrap_or("SIGKILL");
            if sig.is_empty()
                || sig.len() > 16
                || !sig
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
            {
                return Err(bad_field(
                    "signal",
                    format!("{sig:?} is not a signal name or number"),
                ));
            }
            let o = KillContainerOptionsBuilder::default().signal(sig).build();
            docker.kill_container(&full, Some(o)).await.map_err(err)?;
        }
        BulkVerb::Pause => {
            refuse_self(h, &full, "pause")?;
            docker.pause_container(&full).await.map_err(err)?;
        }
        BulkVerb::Unpause => docker.unpause_container(&full).await.map_err(err)?,
        BulkVerb::Remove => {
            refuse_self(h, &full, "remove")?;
            let o = RemoveContainerOptionsBuilder::default()
                .force(force)
                .build();
            docker.remove_container(&full, Some(o)).await.map_err(err)?;
            return Ok(ContainerState {
                id: full,
                state: "removed".into(),
            });
        }
    }
    state_of(docker, &full).await
}

pub fn register(r: &mut Registry) {
    r.method(ContainersList, list);
    r.method(InspectM, inspect);

    r.method(ContainerStart, start);
    r.method(ContainerPause, pause);
    r.method(ContainerUnpause, unpause);
    r.method(ContainerStop, stop);
    r.method(ContainerRestart, restart);
    r.method(ContainerKill, kill);
    r.method(ContainerRemove, remove);
    r.method(ContainerRename, rename);
    r.method(ContainerRedeploy, redeploy);
    r.method(ContainersBulk, bulk);
    r.method(ContainerCreate, create);
    r.method(ContainerEdit, edit);
}

/// `container.create`: the form's values become [`create::NewContainer`]; host paths,
/// the host network and Berth's own data volume only for admins.
async fn create(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: CreateContainer,
) -> Result<CreatedContainer, ErrorBody> {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let allowed = allowed(&principal, &h, &d).await?;
    let made = create::create(&d, &new_container(params), &allowed)
        .await
        .wire()?;
    Ok(created(made))
}

/// `container.edit`: as `container.create`, for a container recreated in place; what
/// it already mounts from the host (and its host network) it keeps without admin.
async fn edit(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: EditContainer,
) -> Result<CreatedContainer, ErrorBody> {
    docker_args::object("id", &params.id).wire()?;
    let (h, d) = host_docker(&hosts, params.settings.host.as_deref()).await?;
    let allowed = allowed(&principal, &h, &d).await?;
    let spec = new_container(params.settings);
    let made = berth_docker::edit::edit(&h, &d, &params.id, &spec, allowed)
        .await
        .wire()?;
    Ok(created(made))
}

/// What the caller may ask beyond the ordinary (see [`create::Allowed`]).
async fn allowed(
    principal: &Principal,
    h: &Host,
    d: &Docker,
) -> Result<create::Allowed, ErrorBody> {
    let admin = principal.role.allows(Role::Admin);
    let withheld_volumes = if admin {
        Vec::new()
    } else {
        let own = h.own_data(d).await.wire()?;
        own.iter().map(|o| o.volume.clone()).collect()
    };
    Ok(create::Allowed {
        host_access: admin,
        withheld_volumes,
        ..Default::default()
    })
}

fn new_container(params: CreateContainer) -> create::NewContainer {
    create::NewContainer {
        image: params.image,
        name: params.name.filter(|n| !n.is_empty()),
        command: params.command,
        env: params.env,
        ports: params
            .ports
            .into_iter()
            .map(|p| create::Publish {
                private: p.private,
                public: p.public,
                ip: p.ip.filter(|ip| !ip.is_empty()),
                proto: p.proto,
            })
            .collect(),
        mounts: params
            .mounts
            .into_iter()
            .map(|m| create::NewMount {
                source: m.source,
                target: m.target,
                read_only: m.read_only,
            })
            .collect(),
        restart: params.restart,
        network: params.network,
        labels: params.labels,
        start: params.start,
    }
}

fn created(made: create::Created) -> CreatedContainer {
    CreatedContainer {
        id: made.id,
        name: made.name,
        state: made.state,
        warnings: made.warnings,
    }
}

async fn list(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: HostOnly,
) -> Result<ContainerList, ErrorBody> {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let list = all_containers(&d, false).await?;
    let viewer = !principal.role.allows(Role::Operator);
    let summaries = list
        .into_iter()
        .map(|c| model::summary(c, h.self_id.as_deref()))
        .map(|mut s| {
            if viewer {
                berth_docker::redact::redact_labels(s.labels.iter_mut());
            }
            s
        })
        .collect();
    Ok(ContainerList {
        groups: model::group(summaries),
    })
}

async fn inspect(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: ContainerRef,
) -> Result<ContainerInspect, ErrorBody> {
    docker_args::object("id", &params.id).wire()?;
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let i = d
        .inspect_container(&params.id, None)
        .await
        .map_err(|e| docker_err(&e, &format!("container {}", params.id)))?;
    // Berth's own environment may carry its first admin's password.
    let own = i.id.is_some() && i.id == h.self_id;
    let mut inspect = serde_json::to_value(i).map_err(|e| crate::ws::registry::internal(&e))?;
    let redacted =
        !principal.role.allows(Role::Operator) || (own && !principal.role.allows(Role::Admin));
    if redacted {
        berth_docker::redact::redact_inspect(&mut inspect);
    }
    Ok(ContainerInspect { inspect, redacted })
}

async fn start(hosts: Arc<Hosts>, params: ContainerRef) -> Result<ContainerState, ErrorBody> {
    simple(hosts, params, BulkVerb::Start).await
}

async fn pause(hosts: Arc<Hosts>, params: ContainerRef) -> Result<ContainerState, ErrorBody> {
    simple(hosts, params, BulkVerb::Pause).await
}

async fn unpause(hosts: Arc<Hosts>, params: ContainerRef) -> Result<ContainerState, ErrorBody> {
    simple(hosts, params, BulkVerb::Unpause).await
}

/// An action that takes no options.
async fn simple(
    hosts: Arc<Hosts>,
    params: ContainerRef,
    verb: BulkVerb,
) -> Result<ContainerState, ErrorBody> {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    act(&h, &d, verb, &params.id, None, false, None).await
}

async fn stop(hosts: Arc<Hosts>, params: StopContainer) -> Result<ContainerState, ErrorBody> {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    act(
        &h,
        &d,
        BulkVerb::Stop,
        &params.id,
        params.timeout_s,
        false,
        None,
    )
    .await
}

async fn restart(hosts: Arc<Hosts>, params: StopContainer) -> Result<ContainerState, ErrorBody> {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    act(
        &h,
        &d,
        BulkVerb::Restart,
        &params.id,
        params.timeout_s,
        false,
        None,
    )
    .await
}

async fn kill(hosts: Arc<Hosts>, params: KillContainer) -> Result<ContainerState, ErrorBody> {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    act(
        &h,
        &d,
        BulkVerb::Kill,
        &params.id,
        None,
        false,
        params.signal.as_deref(),
    )
    .await
}

async fn remove(hosts: Arc<Hosts>, params: RemoveContainer) -> Result<ContainerState, ErrorBody> {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    docker_args::object("id", &params.id).wire()?;
    let (full, _) = resolve(&d, &params.id).await?;
    refuse_self(&h, &full, "remove")?;
    let o = RemoveContainerOptionsBuilder::default()
        .force(params.force)
        .v(params.volumes)
        .build();
    d.remove_container(&full, Some(o))
        .await
        .map_err(|e| docker_err(&e, &format!("container {}", params.id)))?;
    Ok(ContainerState {
        id: full,
        state: "removed".into(),
    })
}

async fn rename(hosts: Arc<Hosts>, params: RenameContainer) -> Result<ContainerState, ErrorBody> {
    docker_args::object("id", &params.id).wire()?;
    docker_args::object("name", &params.name).wire()?;
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let o = RenameContainerOptionsBuilder::default()
        .name(&params.name)
        .build();
    d.rename_container(&params.id, o)
        .await
        .map_err(|e| docker_err(&e, &format!("container {}", params.id)))?;
    state_of(&d, &params.name).await
}

async fn redeploy(hosts: Arc<Hosts>, params: ContainerRef) -> Result<Redeployed, ErrorBody> {
    docker_args::object("id", &params.id).wire()?;
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    berth_docker::redeploy::redeploy(&h, &d, &params.id)
        .await
        .wire()
}

async fn bulk(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: BulkAction,
) -> Result<BulkResult, ErrorBody> {
    if params.ids.is_empty() || params.ids.len() > BULK_MAX {
        return Err(bad_field("ids", format!("1 to {BULK_MAX} containers")));
    }
    if params.action == BulkVerb::Remove && !principal.role.allows(Role::Admin) {
        return Err(forbidden(Role::Admin));
    }
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let mut results = Vec::with_capacity(params.ids.len());
    // One at a time: the engine serialises most of these anyway, and the results
    // then come back in the order of the ids.
    for id in params.ids {
        let r = act(
            &h,
            &d,
            params.action,
            &id,
            params.timeout_s,
            params.force,
            None,
        )
        .await;
        results.push(match r {
            Ok(_) => BulkItem {
                id,
                ok: true,
                error: None,
            },
            Err(e) => BulkItem {
                id,
                ok: false,
                error: Some(e),
            },
        });
    }
    Ok(BulkResult { results })
}
