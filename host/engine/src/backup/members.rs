//! The containers a restore recreates, as the request's overrides make them: a
//! container backup has one, a project backup every container of the project in the
//! order they start. A new project name carries over to what the project owns — its
//! containers' names, its volumes and networks (those compose named `<project>_…` or
//! `<project>-…`) and the compose project label — so a restored copy can run beside
//! the original. A chosen network replaces the networks each container was on.

use crate::EngineError;
use std::collections::{BTreeMap, HashMap};

use berth_docker::model::{CONFIG_FILES_LABEL, ENVIRONMENT_FILE_LABEL, WORKING_DIR_LABEL};
use berth_protocol::api::backups::{BackupTarget, Manifest, ManifestVolume, RestoreBackup};
use bollard::models::{ContainerInspectResponse, MountType, NetworkCreateRequest};

use super::host_paths::Destinations;
use super::order::PROJECT;

/// One container to create.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its name on this host.
    pub name: String,
    /// Its name and id when backed up.
    pub old_name: String,
    pub old_id: String,
    /// Its backed-up configuration with the project's new name and the chosen
    /// network applied.
    pub config: ContainerInspectResponse,
    pub was_running: bool,
    /// Host port remapping (`80/tcp` → port) for this container.
    pub ports: BTreeMap<String, u16>,
}

/// A project's own network to create where missing.
#[derive(Debug, Clone)]
pub struct OwnNetwork {
    pub name: String,
    pub body: NetworkCreateRequest,
}

/// The project's new name applied to names it owns.
struct Rename<'a> {
    from: &'a str,
    to: Option<&'a str>,
}

impl<'a> Rename<'a> {
    fn of(manifest: &'a Manifest, req: &'a RestoreBackup) -> Self {
        match &manifest.target {
            BackupTarget::Project { name } => Rename {
                from: name,
                to: req.name.as_deref(),
            },
            _ => Rename { from: "", to: None },
        }
    }

    /// `<old>_x` / `<old>-x` → `<new>_x` / `<new>-x`; other names are kept.
    fn apply(&self, s: &str) -> String {
        match self.to {
            Some(to) if !self.from.is_empty() => match s.strip_prefix(self.from) {
                Some(rest) if rest.starts_with(['_', '-']) => format!("{to}{rest}"),
                _ => s.to_owned(),
            },
            _ => s.to_owned(),
        }
    }

    fn labels(&self, labels: &mut HashMap<String, String>) {
        if let (Some(to), Some(p)) = (self.to, labels.get_mut(PROJECT))
            && p == self.from
        {
            *p = to.to_owned();
        }
    }
}

/// The name a backed-up volume is restored into: the request's mapping, else (for a
/// renamed project) the project's new name for a volume it owns, else its own name.
pub fn volume_name(manifest: &Manifest, req: &RestoreBackup, v: &ManifestVolume) -> String {
    if let Some(to) = req.volumes.get(&v.name) {
        return to.clone();
    }
    let r = Rename::of(manifest, req);
    if v.labels.get(PROJECT).is_some_and(|p| p == r.from) {
        r.apply(&v.name)
    } else {
        v.name.clone()
    }
}

/// The volume's labels as restored (the project label following a new name).
pub fn volume_labels(
    manifest: &Manifest,
    req: &RestoreBackup,
    v: &ManifestVolume,
) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = v.labels.clone().into_iter().collect();
    Rename::of(manifest, req).labels(&mut labels);
    labels
}

fn parse(c: &serde_json::Value) -> Result<ContainerInspectResponse, EngineError> {
    serde_json::from_value(c.clone()).map_err(|e| EngineError::internal(&e))
}

/// The containers to create, in start order, and the project's own networks.
/// `ports` keys that match no published port are `bad_request`.
pub fn plan(
    manifest: &Manifest,
    req: &RestoreBackup,
    dest: &Destinations,
) -> Result<(Vec<Member>, Vec<OwnNetwork>), EngineError> {
    let rename = Rename::of(manifest, req);
    let mut members = Vec::new();
    match (&manifest.target, &manifest.container) {
        (BackupTarget::Container { name }, Some(c)) => {
            let config = parse(c)?;
            members.push(Member {
                name: req.name.clone().unwrap_or_else(|| name.clone()),
                old_name: name.clone(),
                old_id: config.id.clone().unwrap_or_default(),
                config,
                was_running: manifest.was_running,
                ports: BTreeMap::new(),
            });
        }
        (BackupTarget::Project { .. }, _) => {
            for m in &manifest.members {
                let config = parse(&m.container)?;
                members.push(Member {
                    name: rename.apply(&m.name),
                    old_name: m.name.clone(),
                    old_id: config.id.clone().unwrap_or_default(),
                    config,
                    was_running: m.was_running,
                    ports: BTreeMap::new(),
                });
            }
        }
        _ => {}
    }
    let mut own = Vec::new();
    for n in &manifest.networks {
        let mut body: NetworkCreateRequest =
            serde_json::from_value(n.clone()).map_err(|e| EngineError::internal(&e))?;
        body.name = rename.apply(&body.name);
        rename.labels(body.labels.get_or_insert_with(HashMap::new));
        own.push(OwnNetwork {
            name: body.name.clone(),
            body,
        });
    }
    let own_old: Vec<String> = manifest
        .networks
        .iter()
        .filter_map(|n| n.get("Name").and_then(|v| v.as_str()).map(str::to_owned))
        .collect();
    for m in &mut members {
        if let Some(labels) = m.config.config.as_mut().and_then(|c| c.labels.as_mut()) {
            rename.labels(labels);
            moved_labels(labels, dest);
        }
        moved_binds(&mut m.config, dest);
        let net_name = |n: &str| {
            if own_old.iter().any(|o| o == n) {
                rename.apply(n)
            } else {
                n.to_owned()
            }
        };
        let hc = m.config.host_config.get_or_insert_with(Default::default);
        let mode = hc.network_mode.clone().unwrap_or_default();
        let shares = mode.starts_with("container:");
        let settings = m
            .config
            .network_settings
            .get_or_insert_with(Default::default);
        let nets = settings.networks.take().unwrap_or_default();
        settings.networks = Some(match (&req.network, shares) {
            (Some(chosen), false) => {
                // The endpoint of the network it was created on (its aliases).
                let e = nets.get(&mode).or_else(|| nets.values().next()).cloned();
                hc.network_mode = Some(chosen.clone());
                e.map(|e| HashMap::from([(chosen.clone(), e)]))
                    .unwrap_or_default()
            }
            _ => {
                if !shares {
                    hc.network_mode = Some(net_name(&mode));
                }
                nets.into_iter().map(|(k, e)| (net_name(&k), e)).collect()
            }
        });
    }
    let own = if req.network.is_some() {
        Vec::new()
    } else {
        own
    };
    spread_ports(&mut members, &req.ports)?;
    Ok((members, own))
}

/// Compose's labels naming the stack's folder and files follow it to its new place.
fn moved_labels(labels: &mut HashMap<String, String>, dest: &Destinations) {
    for key in [
        WORKING_DIR_LABEL,
        CONFIG_FILES_LABEL,
        ENVIRONMENT_FILE_LABEL,
    ] {
        if let Some(value) = labels.get_mut(key) {
            let paths: Vec<String> = value.split(',').map(|p| dest.rewrite(p)).collect();
            *value = paths.join(",");
        }
    }
}

/// Bind mounts of the stack's folder mount the restored folder.
fn moved_binds(config: &mut ContainerInspectResponse, dest: &Destinations) {
    let Some(hc) = config.host_config.as_mut() else {
        return;
    };
    for b in hc.binds.iter_mut().flatten() {
        if let Some((src, rest)) = b.split_once(':')
            && src.starts_with('/')
        {
            *b = format!("{}:{rest}", dest.rewrite(src));
        }
    }
    for m in hc.mounts.iter_mut().flatten() {
        if m.typ == Some(MountType::BIND)
            && let Some(src) = m.source.as_mut()
        {
            *src = dest.rewrite(src);
        }
    }
}

fn published(c: &ContainerInspectResponse) -> Vec<String> {
    c.host_config
        .as_ref()
        .and_then(|h| h.port_bindings.as_ref())
        .map(|b| b.keys().cloned().collect())
        .unwrap_or_default()
}

/// `80/tcp` applies to every container publishing it; `<service or name>:80/tcp` to
/// that one container.
fn spread_ports(members: &mut [Member], ports: &BTreeMap<String, u16>) -> Result<(), EngineError> {
    for (key, to) in ports {
        let (who, port) = match key.split_once(':') {
            Some((who, port)) => (Some(who), port),
            None => (None, key.as_str()),
        };
        let mut used = false;
        for m in members.iter_mut() {
            let service = m
                .config
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(super::order::SERVICE))
                .cloned();
            let chosen =
                who.is_none_or(|w| w == m.name || w == m.old_name || service.as_deref() == Some(w));
            if chosen && published(&m.config).iter().any(|p| p == port) {
                m.ports.insert(port.to_owned(), *to);
                used = true;
            }
        }
        if !used {
            return Err(EngineError::bad(
                "ports",
                match who {
                    Some(w) => format!("{w} publishes no {port}"),
                    None => format!("the container publishes no {port}"),
                },
            ));
        }
    }
    Ok(())
}

/// `container:<old id or name>` → the new container of that member, once created.
pub fn shared_network_mode(mode: &str, created: &[(Member, String)]) -> Option<String> {
    let target = mode.strip_prefix("container:")?;
    created
        .iter()
        .find(|(m, _)| m.old_name == target || (target.len() >= 12 && m.old_id.starts_with(target)))
        .map(|(_, id)| format!("container:{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_project_name_renames_what_the_project_owns_only() {
        let r = Rename {
            from: "shop",
            to: Some("shop2"),
        };
        assert_eq!(r.apply("shop_db_1"), "shop2_db_1");
        assert_eq!(r.apply("shop-web-1"), "shop2-web-1");
        assert_eq!(r.apply("shopping"), "shopping");
        assert_eq!(r.apply("custom"), "custom");
        let mut labels = HashMap::from([(PROJECT.to_owned(), "shop".to_owned())]);
        r.labels(&mut labels);
        assert_eq!(labels[PROJECT], "shop2");
        let keep = Rename {
            from: "shop",
            to: None,
        };
        assert_eq!(keep.apply("shop_db_1"), "shop_db_1");
    }
}
