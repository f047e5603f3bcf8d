//! `networks.list`, `networks.create`, `network.inspect`, `network.remove`,
//! `network.connect`, `network.disconnect`.

use berth_docker::hosts::Hosts;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    NetworkConnect, NetworkDisconnect, NetworkInspect, NetworkRemove, NetworksCreate, NetworksList,
};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::networks::{
    ConnectContainer, CreateNetwork, DisconnectContainer, NetworkRef,
};
use berth_protocol::api::networks::{NetworkList, NetworkSummary};
use berth_protocol::error::{ErrorBody, ErrorCode};
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};
use std::net::IpAddr;

use super::containers::{all_containers, host_docker};
use crate::errors::WireResult;
use crate::errors::docker_call as docker_err;
use crate::proxies::Cidr;
use crate::ws::registry::{Registry, bad_field, internal};
use berth_docker::args as docker_args;
use berth_docker::model::{PROJECT_LABEL, container_name};

/// Docker's own networks: removing them breaks the engine's defaults.
const BUILTIN: [&str; 3] = ["bridge", "host", "none"];

/// Network name → (container name, running) for every container, running or not.
async fn attached(d: &bollard::Docker) -> Result<HashMap<String, Vec<(String, bool)>>, ErrorBody> {
    let cs = all_containers(d, false).await?;
    let mut by_net: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for c in cs {
        let running = c.state.is_some_and(|s| s.to_string() == "running");
        let name = container_name(c.names.as_ref());
        for net in c
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_keys()
        {
            by_net.entry(net).or_default().push((name.clone(), running));
        }
    }
    Ok(by_net)
}

async fn inspect_network(
    d: &bollard::Docker,
    id: &str,
) -> Result<bollard::models::NetworkInspect, ErrorBody> {
    d.inspect_network(id, None::<InspectNetworkOptions>)
        .await
        .map_err(|e| docker_err(&e, &format!("network {id}")))
}

pub fn register(r: &mut Registry) {
    r.method(NetworksList, list);
    r.method(NetworksCreate, create);
    r.method(NetworkInspect, inspect);
    r.method(NetworkRemove, remove);
    r.method(NetworkConnect, connect);
    r.method(NetworkDisconnect, disconnect);
}

async fn list(hosts: Arc<Hosts>, params: HostOnly) -> Result<NetworkList, ErrorBody> {
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let nets = d
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| docker_err(&e, "networks"))?;
    let by_net = attached(&d).await?;
    let mut networks: Vec<NetworkSummary> = nets.into_iter().map(|n| summary(n, &by_net)).collect();
    networks.sort_by(|a, b| (!a.builtin, &a.name).cmp(&(!b.builtin, &b.name)));
    Ok(NetworkList { networks })
}

/// The wire summary of `n`, with the containers `by_net` attaches to it.
fn summary(
    n: bollard::models::Network,
    by_net: &HashMap<String, Vec<(String, bool)>>,
) -> NetworkSummary {
    let name = n.name.unwrap_or_default();
    let users = by_net.get(&name).cloned().unwrap_or_default();
    let labels: BTreeMap<String, String> = n.labels.unwrap_or_default().into_iter().collect();
    let mut containers: Vec<String> = users.iter().map(|(c, _)| c.clone()).collect();
    containers.sort();
    NetworkSummary {
        id: n.id.unwrap_or_default(),
        driver: n.driver.unwrap_or_default(),
        scope: n.scope.unwrap_or_default(),
        internal: n.internal.unwrap_or(false),
        builtin: BUILTIN.contains(&name.as_str()),
        subnets: n
            .ipam
            .and_then(|i| i.config)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.subnet)
            .collect(),
        containers_running: users.iter().filter(|(_, r)| *r).count() as u32,
        containers_stopped: users.iter().filter(|(_, r)| !*r).count() as u32,
        containers,
        stack: labels.get(PROJECT_LABEL).cloned(),
        labels,
        name,
    }
}

/// The fields [`summary`] reads, from an inspect answer.
fn network_of(n: bollard::models::NetworkInspect) -> bollard::models::Network {
    bollard::models::Network {
        name: n.name,
        id: n.id,
        scope: n.scope,
        driver: n.driver,
        internal: n.internal,
        ipam: n.ipam,
        labels: n.labels,
        ..Default::default()
    }
}

/// The IPAM block of a new network: `subnet` a CIDR, `gateway` an address inside it.
fn addressing(subnet: Option<&str>, gateway: Option<&str>) -> Result<Option<Ipam>, ErrorBody> {
    let Some(subnet) = subnet.filter(|s| !s.trim().is_empty()) else {
        if gateway.is_some_and(|g| !g.trim().is_empty()) {
            return Err(bad_field("gateway", "a gateway needs a subnet"));
        }
        return Ok(None);
    };
    let block = Some(subnet)
        .filter(|s| s.contains('/'))
        .and_then(Cidr::parse)
        .ok_or_else(|| {
            bad_field(
                "subnet",
                format!("{subnet:?} is not a CIDR such as 172.30.0.0/24"),
            )
        })?;
    let gateway = match gateway.filter(|g| !g.trim().is_empty()) {
        None => None,
        Some(g) => {
            let ip: IpAddr = g
                .parse()
                .map_err(|_| bad_field("gateway", format!("{g:?} is not an IP address")))?;
            if !block.contains(ip) {
                return Err(bad_field("gateway", format!("{g} is not inside {subnet}")));
            }
            Some(g.to_owned())
        }
    };
    Ok(Some(Ipam {
        config: Some(vec![IpamConfig {
            subnet: Some(subnet.to_owned()),
            gateway,
            ..Default::default()
        }]),
        ..Default::default()
    }))
}

/// Creates a network, refusing a name in use (Docker 20.10 would create a second
/// network of the same name, and every later call by name would be ambiguous).
async fn create(hosts: Arc<Hosts>, params: CreateNetwork) -> Result<NetworkSummary, ErrorBody> {
    docker_args::new_object(
        &params.name,
        params.driver.as_deref(),
        &params.options,
        &params.labels,
    )
    .wire()?;
    let ipam = addressing(params.subnet.as_deref(), params.gateway.as_deref())?;
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    if d.inspect_network(&params.name, None::<InspectNetworkOptions>)
        .await
        .is_ok()
    {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("a network named {} exists", params.name),
        ));
    }
    let request = NetworkCreateRequest {
        name: params.name.clone(),
        driver: params.driver,
        internal: Some(params.internal),
        attachable: Some(params.attachable),
        ipam,
        options: Some(params.options.into_iter().collect()),
        labels: Some(params.labels.into_iter().collect()),
        ..Default::default()
    };
    let created = d
        .create_network(request)
        .await
        .map_err(|e| docker_err(&e, &format!("network {}", params.name)))?;
    tracing::info!(network = %params.name, id = %created.id, "network created");
    let n = inspect_network(&d, &created.id).await?;
    Ok(summary(network_of(n), &HashMap::new()))
}

async fn inspect(hosts: Arc<Hosts>, params: NetworkRef) -> Result<serde_json::Value, ErrorBody> {
    docker_args::object("id", &params.id).wire()?;
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let n = inspect_network(&d, &params.id).await?;
    serde_json::to_value(n).map_err(|e| internal(&e))
}

async fn remove(hosts: Arc<Hosts>, params: NetworkRef) -> Result<Empty, ErrorBody> {
    docker_args::object("id", &params.id).wire()?;
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let n = inspect_network(&d, &params.id).await?;
    let name = n.name.clone().unwrap_or_default();
    if BUILTIN.contains(&name.as_str()) {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("{name} is one of Docker's built-in networks"),
        ));
    }
    let users = attached(&d).await?.remove(&name).unwrap_or_default();
    if !users.is_empty() {
        let names: Vec<String> = users.into_iter().map(|(c, _)| c).collect();
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "network {name} has containers attached: {}",
                names.join(", ")
            ),
        )
        .with_details(serde_json::json!({ "containers": names })));
    }
    d.remove_network(&name)
        .await
        .map_err(|e| docker_err(&e, &format!("network {name}")))?;
    Ok(Empty {})
}

/// The network's name and the container's full id, checked: both exist, and the
/// container is not the one Berth runs in (cutting its network cuts Berth off).
async fn endpoints(
    host: &berth_docker::hosts::Host,
    d: &bollard::Docker,
    network: &str,
    container: &str,
    verb: &str,
) -> Result<(String, String), ErrorBody> {
    docker_args::object("network", network).wire()?;
    docker_args::object("container", container).wire()?;
    let name = inspect_network(d, network).await?.name.unwrap_or_default();
    let id = d
        .inspect_container(container, None)
        .await
        .map_err(|e| docker_err(&e, &format!("container {container}")))?
        .id
        .unwrap_or_default();
    super::containers::refuse_self(host, &id, verb)?;
    Ok((name, id))
}

async fn connect(hosts: Arc<Hosts>, params: ConnectContainer) -> Result<Empty, ErrorBody> {
    let (host, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let (name, id) = endpoints(&host, &d, &params.network, &params.container, "connect").await?;
    for alias in &params.aliases {
        docker_args::object("aliases", alias).wire()?;
    }
    let request = bollard::models::NetworkConnectRequest {
        container: id,
        endpoint_config: (!params.aliases.is_empty()).then(|| bollard::models::EndpointSettings {
            aliases: Some(params.aliases.clone()),
            ..Default::default()
        }),
    };
    d.connect_network(&name, request)
        .await
        .map_err(|e| docker_err(&e, &format!("network {name}")))?;
    Ok(Empty {})
}

async fn disconnect(hosts: Arc<Hosts>, params: DisconnectContainer) -> Result<Empty, ErrorBody> {
    let (host, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let (name, id) = endpoints(&host, &d, &params.network, &params.container, "disconnect").await?;
    let request = bollard::models::NetworkDisconnectRequest {
        container: id,
        force: Some(false),
    };
    d.disconnect_network(&name, request)
        .await
        .map_err(|e| docker_err(&e, &format!("network {name}")))?;
    Ok(Empty {})
}
