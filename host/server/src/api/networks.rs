//! `networks.list`, `network.inspect`, `network.remove`.

use berth_docker::hosts::Hosts;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{NetworkInspect, NetworkRemove, NetworksList};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::networks::NetworkRef;
use berth_protocol::api::networks::{NetworkList, NetworkSummary};
use berth_protocol::error::{ErrorBody, ErrorCode};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};

use super::containers::{all_containers, host_docker};
use crate::errors::WireResult;
use crate::errors::docker_call as docker_err;
use crate::ws::registry::{Registry, internal};
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
    r.method(NetworkInspect, inspect);
    r.method(NetworkRemove, remove);
}

async fn list(hosts: Arc<Hosts>, params: HostOnly) -> Result<NetworkList, ErrorBody> {
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let nets = d
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| docker_err(&e, "networks"))?;
    let by_net = attached(&d).await?;
    let mut networks: Vec<NetworkSummary> = nets
        .into_iter()
        .map(|n| {
            let name = n.name.unwrap_or_default();
            let users = by_net.get(&name).cloned().unwrap_or_default();
            let labels: BTreeMap<String, String> =
                n.labels.unwrap_or_default().into_iter().collect();
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
        })
        .collect();
    networks.sort_by(|a, b| (!a.builtin, &a.name).cmp(&(!b.builtin, &b.name)));
    Ok(NetworkList { networks })
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
