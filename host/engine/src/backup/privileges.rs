//! What a restore would grant on the host. Berth holds the Docker socket: a container
//! created with `Privileged`, the host's PID namespace or a bind mount of `/` is root on
//! the host, and so is one that joins another container's namespaces or mounts a volume
//! the backup does not carry (Berth's own data volume, say). A backup's configuration
//! is input like any other — from this installation, or from whoever uploaded the file
//! — so a restore lists every such setting; restoring any of them needs an admin who
//! approves each by its key.

use std::collections::HashMap;

use berth_protocol::api::backups::{Manifest, Privilege};
use bollard::models::{HostConfig, MountType, NetworkCreateRequest};

use super::members::{Member, OwnNetwork};

/// Network driver options that cannot reach past the network's own bridge.
const SAFE_NETWORK_OPTIONS: &[&str] = &[
    "com.docker.network.bridge.enable_icc",
    "com.docker.network.bridge.enable_ip_masquerade",
    "com.docker.network.driver.mtu",
];

/// Security options that only restrict.
const SAFE_SECURITY_OPTS: &[&str] = &[
    "no-new-privileges",
    "no-new-privileges:true",
    "no-new-privileges=true",
];

/// The runtimes Docker uses by default.
const DEFAULT_RUNTIMES: &[&str] = &["", "runc", "io.containerd.runc.v2"];

/// Collects findings about one object.
struct Found<'a> {
    kind: &'static str,
    name: &'a str,
    out: &'a mut Vec<Privilege>,
}

impl Found<'_> {
    fn add(&mut self, setting: &str, value: impl Into<String>) {
        let value = value.into();
        let key = format!("{}:{}:{}:{}", self.kind, self.name, setting, value);
        if self.out.iter().any(|p| p.key == key) {
            return;
        }
        self.out.push(Privilege {
            key,
            object: format!("{} {}", self.kind, self.name),
            setting: setting.to_owned(),
            value,
        });
    }
}

/// Every host-level setting of what a restore would create: its containers (as the
/// request's overrides make them), the networks it would create, its volumes.
pub fn of_restore(
    manifest: &Manifest,
    members: &[Member],
    networks: &[OwnNetwork],
    network_target: Option<(&str, &NetworkCreateRequest)>,
) -> Vec<Privilege> {
    let mut out = Vec::new();
    let carried: Vec<&str> = manifest.volumes.iter().map(|v| v.name.as_str()).collect();
    for m in members {
        let mut f = Found {
            kind: "container",
            name: &m.name,
            out: &mut out,
        };
        if let Some(hc) = &m.config.host_config {
            host_config(&mut f, hc, &carried, members);
        }
    }
    for n in networks {
        network(
            &mut Found {
                kind: "network",
                name: &n.name,
                out: &mut out,
            },
            &n.body,
        );
    }
    if let Some((name, body)) = network_target {
        network(
            &mut Found {
                kind: "network",
                name,
                out: &mut out,
            },
            body,
        );
    }
    for v in &manifest.volumes {
        if !v.driver.is_empty() && v.driver != "local" {
            Found {
                kind: "volume",
                name: &v.name,
                out: &mut out,
            }
            .add("Driver", v.driver.clone());
        }
    }
    out
}

fn host_config(f: &mut Found<'_>, hc: &HostConfig, carried: &[&str], members: &[Member]) {
    if hc.privileged == Some(true) {
        f.add("Privileged", "true");
    }
    namespaces(f, hc, members);
    for c in hc.cap_add.iter().flatten() {
        f.add("CapAdd", c.clone());
    }
    for o in hc.security_opt.iter().flatten() {
        if !SAFE_SECURITY_OPTS.contains(&o.as_str()) {
            f.add("SecurityOpt", o.clone());
        }
    }
    for (k, v) in hc.sysctls.iter().flatten() {
        f.add("Sysctls", format!("{k}={v}"));
    }
    for d in hc.devices.iter().flatten() {
        f.add(
            "Devices",
            d.path_on_host.clone().unwrap_or_else(|| "?".to_owned()),
        );
    }
    for d in hc.device_requests.iter().flatten() {
        f.add(
            "DeviceRequests",
            d.driver
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "gpu".to_owned()),
        );
    }
    for r in hc.device_cgroup_rules.iter().flatten() {
        f.add("DeviceCgroupRules", r.clone());
    }
    for (setting, v) in [("CgroupParent", &hc.cgroup_parent), ("Cgroup", &hc.cgroup)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            f.add(setting, v);
        }
    }
    if let Some(r) = hc
        .runtime
        .as_deref()
        .filter(|r| !DEFAULT_RUNTIMES.contains(r))
    {
        f.add("Runtime", r);
    }
    if let Some(d) = hc
        .volume_driver
        .as_deref()
        .filter(|d| !d.is_empty() && *d != "local")
    {
        f.add("VolumeDriver", d);
    }
    for v in hc.volumes_from.iter().flatten() {
        f.add("VolumesFrom", v.clone());
    }
    mounts(f, hc, carried);
}

/// Namespaces shared with the host, or with a container outside the restore.
fn namespaces(f: &mut Found<'_>, hc: &HostConfig, members: &[Member]) {
    let outside = |mode: &str| {
        mode.strip_prefix("container:").is_some_and(|target| {
            !members.iter().any(|m| {
                m.old_name == target || (target.len() >= 12 && m.old_id.starts_with(target))
            })
        })
    };
    if let Some(p) = hc.pid_mode.as_deref().filter(|p| !p.is_empty()) {
        f.add("PidMode", p);
    }
    if let Some(i) = hc
        .ipc_mode
        .as_deref()
        .filter(|i| *i == "host" || i.starts_with("container:"))
    {
        f.add("IpcMode", i);
    }
    for (setting, v) in [("UTSMode", &hc.uts_mode), ("UsernsMode", &hc.userns_mode)] {
        if v.as_deref() == Some("host") {
            f.add(setting, "host");
        }
    }
    // Not `CgroupnsMode: host`: it is Docker's own default on cgroup v1 hosts (every
    // container there reads it), and it grants no write access to the host's groups.
    if let Some(n) = hc
        .network_mode
        .as_deref()
        .filter(|n| *n == "host" || outside(n))
    {
        f.add("NetworkMode", n);
    }
}

/// Host paths, volume driver options that bind host paths, and volumes the backup
/// does not carry (which exist on this host already: somebody else's data).
fn mounts(f: &mut Found<'_>, hc: &HostConfig, carried: &[&str]) {
    for b in hc.binds.iter().flatten() {
        let source = b.split(':').next().unwrap_or_default();
        if source.starts_with('/') {
            f.add("Binds", source);
        } else if !source.is_empty() && !carried.contains(&source) {
            f.add(
                "Volume",
                format!("{source} (exists here; not in the backup)"),
            );
        }
    }
    for m in hc.mounts.iter().flatten() {
        let source = m.source.clone().unwrap_or_default();
        match m.typ {
            Some(MountType::BIND) => f.add("Mounts", format!("bind {source}")),
            Some(MountType::VOLUME) => {
                let driver = m
                    .volume_options
                    .as_ref()
                    .and_then(|o| o.driver_config.as_ref());
                let opts: HashMap<String, String> =
                    driver.and_then(|d| d.options.clone()).unwrap_or_default();
                for (k, v) in &opts {
                    f.add("Mounts", format!("volume {source} driver option {k}={v}"));
                }
                if let Some(name) = driver.and_then(|d| d.name.clone()).filter(|n| n != "local") {
                    f.add("Mounts", format!("volume {source} driver {name}"));
                }
                if !source.is_empty() && !carried.contains(&source.as_str()) {
                    f.add(
                        "Volume",
                        format!("{source} (exists here; not in the backup)"),
                    );
                }
            }
            Some(MountType::NPIPE | MountType::CLUSTER) => {
                f.add("Mounts", format!("{:?} {source}", m.typ));
            }
            _ => {}
        }
    }
}

fn network(f: &mut Found<'_>, body: &NetworkCreateRequest) {
    let driver = body.driver.clone().unwrap_or_default();
    if !matches!(driver.as_str(), "" | "bridge" | "overlay") {
        f.add("Driver", driver);
    }
    for (k, v) in body.options.iter().flatten() {
        if !SAFE_NETWORK_OPTIONS.contains(&k.as_str()) {
            f.add("Options", format!("{k}={v}"));
        }
    }
    if body.ingress == Some(true) {
        f.add("Ingress", "true");
    }
    if let Some(from) = body
        .config_from
        .as_ref()
        .and_then(|c| c.network.clone())
        .filter(|n| !n.is_empty())
    {
        f.add("ConfigFrom", from);
    }
    if let Some(d) = body
        .ipam
        .as_ref()
        .and_then(|i| i.driver.clone())
        .filter(|d| !d.is_empty() && d != "default")
    {
        f.add("IPAM", d);
    }
}

/// What `backups.restore` must approve: the privileges, and `origin:foreign` for a
/// backup this installation did not write.
pub fn needs_approval(privileges: &[Privilege], foreign: bool) -> Vec<String> {
    foreign
        .then(|| FOREIGN.to_owned())
        .into_iter()
        .chain(privileges.iter().map(|p| p.key.clone()))
        .collect()
}

/// The approval key of a backup another installation (or no Berth) wrote.
pub const FOREIGN: &str = "origin:foreign";

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::api::backups::{
        BackupTarget, Consistency, ManifestVolume, RestoreBackup, Trigger,
    };

    fn manifest(container: serde_json::Value) -> Manifest {
        Manifest {
            format: 1,
            berth_version: "t".into(),
            id: "b".into(),
            host: "h".into(),
            created_ms: 0,
            trigger: Trigger::Manual,
            consistency: Consistency::Stop,
            target: BackupTarget::Container { name: "web".into() },
            container: Some(container),
            network: None,
            was_running: false,
            image_id: None,
            volumes: vec![ManifestVolume {
                name: "data".into(),
                destination: Some("/data".into()),
                tar_bytes: 0,
                sha256: String::new(),
                content_digest: String::new(),
                entries: 0,
                driver: "local".into(),
                labels: Default::default(),
                host_path: None,
            }],
            image: None,
            binds_not_included: vec![],
            members: vec![],
            networks: vec![],
            seal: None,
        }
    }

    fn found(container: serde_json::Value) -> Vec<String> {
        let m = manifest(container);
        let (members, own) = super::super::members::plan(
            &m,
            &RestoreBackup::default(),
            &super::super::host_paths::Destinations::default(),
        )
        .unwrap();
        of_restore(&m, &members, &own, None)
            .into_iter()
            .map(|p| p.key)
            .collect()
    }

    #[test]
    fn an_ordinary_container_asks_for_nothing() {
        let keys = found(serde_json::json!({
            "Id": "abc", "Name": "/web", "Config": {"Image": "app"},
            "HostConfig": {"Binds": ["data:/data"], "NetworkMode": "bridge",
                "IpcMode": "private", "SecurityOpt": ["no-new-privileges"],
                "Runtime": "runc", "CgroupnsMode": "host",
                "Mounts": [{"Type": "volume", "Source": "data", "Target": "/data"}]}
        }));
        assert!(keys.is_empty(), "{keys:?}");
    }

    #[test]
    fn the_root_escalations_are_all_named() {
        let keys = found(serde_json::json!({
            "Id": "abc", "Name": "/web", "Config": {"Image": "app"},
            "HostConfig": {
                "Binds": ["/:/host", "berth-data:/steal"], "Privileged": true,
                "PidMode": "host", "IpcMode": "host", "UTSMode": "host", "UsernsMode": "host",
                "NetworkMode": "host", "CapAdd": ["SYS_ADMIN"],
                "SecurityOpt": ["apparmor=unconfined", "seccomp=unconfined"],
                "Sysctls": {"kernel.shm_rmid_forced": "1"},
                "Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda"}],
                "VolumesFrom": ["berth"], "CgroupParent": "/", "Runtime": "evil",
                "Mounts": [
                    {"Type": "bind", "Source": "/etc", "Target": "/etc2"},
                    {"Type": "volume", "Source": "x", "Target": "/x",
                     "VolumeOptions": {"DriverConfig": {"Name": "local",
                        "Options": {"type": "none", "o": "bind", "device": "/"}}}}
                ]
            }
        }));
        for want in [
            "container:web:Privileged:true",
            "container:web:Binds:/",
            "container:web:Volume:berth-data (exists here; not in the backup)",
            "container:web:PidMode:host",
            "container:web:IpcMode:host",
            "container:web:UTSMode:host",
            "container:web:UsernsMode:host",
            "container:web:NetworkMode:host",
            "container:web:CapAdd:SYS_ADMIN",
            "container:web:SecurityOpt:apparmor=unconfined",
            "container:web:SecurityOpt:seccomp=unconfined",
            "container:web:Sysctls:kernel.shm_rmid_forced=1",
            "container:web:Devices:/dev/sda",
            "container:web:VolumesFrom:berth",
            "container:web:CgroupParent:/",
            "container:web:Runtime:evil",
            "container:web:Mounts:bind /etc",
            "container:web:Mounts:volume x driver option device=/",
        ] {
            assert!(
                keys.iter().any(|k| k == want),
                "{want} missing from {keys:?}"
            );
        }
    }

    #[test]
    fn network_drivers_and_options_that_reach_the_host_are_named() {
        let m = manifest(serde_json::json!({}));
        let body: NetworkCreateRequest = serde_json::from_value(serde_json::json!({
            "Name": "n", "Driver": "macvlan", "ConfigFrom": {"Network": ""},
            "Options": {"parent": "eth0", "com.docker.network.driver.mtu": "1400"}
        }))
        .unwrap();
        let keys: Vec<String> = of_restore(&m, &[], &[], Some(("n", &body)))
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(
            keys,
            ["network:n:Driver:macvlan", "network:n:Options:parent=eth0"]
        );
        assert_eq!(
            needs_approval(&[], true),
            [FOREIGN.to_owned()],
            "foreign alone"
        );
    }
}
