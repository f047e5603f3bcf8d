//! Docker's models turned into the protocol's: pure functions, unit-tested without an
//! engine.

use std::collections::{BTreeMap, HashMap};

use berth_protocol::api::containers::{ContainerGroup, ContainerSummary, PortMapping, StackStatus};
use berth_protocol::api::events::Event;
use berth_protocol::api::rfc3339;
use bollard::models::{ContainerSummary as DockerSummary, EventMessage};

pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
/// Where compose ran for the project: the stack's folder.
pub const WORKING_DIR_LABEL: &str = "com.docker.compose.project.working_dir";
/// The compose files it read, comma-separated absolute paths.
pub const CONFIG_FILES_LABEL: &str = "com.docker.compose.project.config_files";
/// The `.env`-style files it read (compose v2), comma-separated.
pub const ENVIRONMENT_FILE_LABEL: &str = "com.docker.compose.project.environment_file";

/// Docker's container name without the leading slash.
pub fn container_name(names: Option<&Vec<String>>) -> String {
    names
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_owned())
        .unwrap_or_default()
}

/// Health from the status text (API 1.41 has no health field in the list).
fn health_of(status: &str) -> Option<String> {
    if status.contains("(healthy)") {
        Some("healthy".into())
    } else if status.contains("(unhealthy)") {
        Some("unhealthy".into())
    } else if status.contains("(health: starting)") {
        Some("starting".into())
    } else {
        None
    }
}

pub fn summary(c: DockerSummary, self_id: Option<&str>) -> ContainerSummary {
    let labels: BTreeMap<String, String> = c.labels.unwrap_or_default().into_iter().collect();
    let status = c.status.unwrap_or_default();
    let id = c.id.unwrap_or_default();
    let mut ports: Vec<PortMapping> = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| PortMapping {
            private: p.private_port,
            public: p.public_port,
            // Docker lists a port bound on every address twice (0.0.0.0 and ::);
            // "every address" is one binding to a user.
            ip: p
                .ip
                .filter(|s| !s.is_empty() && s != "0.0.0.0" && s != "::"),
            proto: p.typ.map_or_else(|| "tcp".to_owned(), |t| t.to_string()),
        })
        .collect();
    ports.sort_by(|a, b| (a.private, &a.proto, a.public).cmp(&(b.private, &b.proto, b.public)));
    ports.dedup();
    let mut ips: Vec<String> = c
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_values()
        .filter_map(|e| e.ip_address.filter(|ip| !ip.is_empty()))
        .collect();
    ips.sort();
    ContainerSummary {
        protected: self_id.is_some_and(|s| s == id),
        name: container_name(c.names.as_ref()),
        image: c.image.unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        health: health_of(&status),
        status,
        ports,
        ips,
        created: rfc3339(c.created.unwrap_or(0).max(0) as u64 * 1000),
        stack: labels.get(PROJECT_LABEL).cloned(),
        service: labels.get(SERVICE_LABEL).cloned(),
        labels,
        id,
    }
}

/// Compose projects (by name), then standalone containers; each group sorted by name.
pub fn group(containers: Vec<ContainerSummary>) -> Vec<ContainerGroup> {
    let mut stacks: BTreeMap<String, Vec<ContainerSummary>> = BTreeMap::new();
    let mut standalone = Vec::new();
    for c in containers {
        match &c.stack {
            Some(s) => stacks.entry(s.clone()).or_default().push(c),
            None => standalone.push(c),
        }
    }
    let mut groups: Vec<ContainerGroup> = stacks
        .into_iter()
        .map(|(name, cs)| make_group(Some(name), cs))
        .collect();
    if !standalone.is_empty() {
        groups.push(make_group(None, standalone));
    }
    groups
}

fn make_group(stack: Option<String>, mut containers: Vec<ContainerSummary>) -> ContainerGroup {
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    let running = containers.iter().filter(|c| c.state == "running").count();
    let status = match running {
        0 => StackStatus::Stopped,
        n if n == containers.len() => StackStatus::Running,
        _ => StackStatus::Partial,
    };
    ContainerGroup {
        stack,
        status,
        containers,
    }
}

/// The state a container action leaves it in, for the event's `state`.
fn state_after(action: &str) -> Option<&'static str> {
    Some(match action {
        "create" => "created",
        "start" | "unpause" | "restart" => "running",
        "pause" => "paused",
        "die" | "stop" | "kill" => "exited",
        "destroy" => "removed",
        _ => return None,
    })
}

/// A Docker event in the protocol's shape (without its cursor).
pub fn normalise(e: EventMessage) -> Option<Event> {
    let typ = e.typ.map(|t| t.to_string())?;
    // "exec_start: sh -c ..." and "health_status: healthy": the verb is before ':'.
    let raw_action = e.action.unwrap_or_default();
    let action = raw_action
        .split_once(':')
        .map_or(raw_action.as_str(), |(a, _)| a)
        .trim()
        .to_owned();
    let actor = e.actor.unwrap_or_default();
    let attrs: HashMap<String, String> = actor.attributes.unwrap_or_default();
    let id = actor.id.unwrap_or_default();
    let ms = e
        .time_nano
        .map(|n| (n / 1_000_000).max(0) as u64)
        .or_else(|| e.time.map(|t| t.max(0) as u64 * 1000))
        .unwrap_or(0);
    let is_container = typ == "container";
    Some(Event {
        state: if is_container {
            state_after(&action).map(str::to_owned)
        } else {
            None
        },
        exit_code: attrs.get("exitCode").and_then(|c| c.parse().ok()),
        name: attrs.get("name").cloned(),
        stack: attrs.get(PROJECT_LABEL).cloned(),
        helper: is_container && attrs.contains_key(super::helper::LABEL),
        kind: None,
        job: None,
        message: None,
        typ,
        action,
        id,
        time: rfc3339(ms),
        cursor: String::new(),
    })
}

/// Berth's helper containers seen alive, so that the volume mounts and network
/// connections they cause are marked as theirs too (those events name the container
/// only by id, without its labels).
#[derive(Debug, Default)]
pub struct Helpers {
    ids: std::collections::HashSet<String>,
}

impl Helpers {
    /// [`normalise`], with `helper` set on what a live helper container caused.
    pub fn normalise(&mut self, e: EventMessage) -> Option<Event> {
        let container = e
            .actor
            .as_ref()
            .and_then(|a| a.attributes.as_ref())
            .and_then(|a| a.get("container"))
            .cloned();
        let mut event = normalise(e)?;
        let is_container = event.typ == "container";
        if is_container && event.helper && event.action == "destroy" {
            self.ids.remove(&event.id);
        } else if is_container && event.helper {
            self.ids.insert(event.id.clone());
        } else if !is_container {
            event.helper = container.is_some_and(|c| self.ids.contains(&c));
        }
        Some(event)
    }
}

/// The id of the container Berth runs in, if it runs in one: the container's own
/// entries in /proc/self/mountinfo (`/docker/containers/<id>/hostname`, …) name it on
/// cgroup v1 and v2 alike.
pub fn own_container_id() -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    own_id_in(&info)
}

fn own_id_in(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|l| {
        let (_, rest) = l.split_once("/containers/")?;
        let id = rest.split('/').next()?;
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{EventActor, EventMessageTypeEnum};

    fn c(name: &str, state: &str, stack: Option<&str>) -> ContainerSummary {
        ContainerSummary {
            id: name.into(),
            name: name.into(),
            image: "i".into(),
            state: state.into(),
            status: String::new(),
            health: None,
            ports: vec![],
            ips: vec![],
            created: String::new(),
            labels: BTreeMap::new(),
            stack: stack.map(Into::into),
            service: None,
            protected: false,
        }
    }

    #[test]
    fn groups_by_project_with_status() {
        let g = group(vec![
            c("b", "running", Some("web")),
            c("solo", "exited", None),
            c("a", "exited", Some("web")),
            c("db", "running", Some("data")),
        ]);
        let names: Vec<_> = g.iter().map(|g| g.stack.clone()).collect();
        assert_eq!(names, vec![Some("data".into()), Some("web".into()), None]);
        assert_eq!(g[0].status, StackStatus::Running);
        assert_eq!(g[1].status, StackStatus::Partial);
        assert_eq!(g[1].containers[0].name, "a");
        assert_eq!(g[2].status, StackStatus::Stopped);
    }

    fn event(
        typ: EventMessageTypeEnum,
        action: &str,
        id: &str,
        attrs: &[(&str, &str)],
    ) -> EventMessage {
        EventMessage {
            typ: Some(typ),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some(id.into()),
                attributes: Some(
                    attrs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn what_a_helper_container_causes_is_marked_as_its() {
        use EventMessageTypeEnum as T;
        let mut helpers = Helpers::default();
        let label = [(crate::helper::LABEL, "1")];
        let helper = helpers.normalise(event(T::CONTAINER, "create", "h1", &label));
        assert!(helper.unwrap().helper);
        let other = helpers.normalise(event(T::CONTAINER, "create", "c1", &[]));
        assert!(!other.unwrap().helper);
        let mount = helpers.normalise(event(T::VOLUME, "mount", "data", &[("container", "h1")]));
        assert!(mount.unwrap().helper, "the helper's volume mount");
        let theirs = helpers.normalise(event(T::VOLUME, "mount", "data", &[("container", "c1")]));
        assert!(!theirs.unwrap().helper, "a user container's mount");
        helpers.normalise(event(T::CONTAINER, "destroy", "h1", &label));
        let after = helpers.normalise(event(T::NETWORK, "connect", "n", &[("container", "h1")]));
        assert!(!after.unwrap().helper, "forgotten once destroyed");
    }

    #[test]
    fn events_are_normalised() {
        let e = EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some("die".into()),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(HashMap::from([
                    ("name".into(), "web-1".into()),
                    ("exitCode".into(), "137".into()),
                    (PROJECT_LABEL.into(), "web".into()),
                ])),
            }),
            time: Some(1_700_000_000),
            time_nano: Some(1_700_000_000_123_000_000),
            ..Default::default()
        };
        let n = normalise(e).unwrap();
        assert_eq!(
            (n.typ.as_str(), n.action.as_str(), n.id.as_str()),
            ("container", "die", "abc")
        );
        assert_eq!(n.state.as_deref(), Some("exited"));
        assert_eq!(n.exit_code, Some(137));
        assert_eq!(n.stack.as_deref(), Some("web"));
        assert_eq!(n.time, "2023-11-14T22:13:20Z");
        let exec = EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some("exec_start: sh -c true".into()),
            ..Default::default()
        };
        let n = normalise(exec).unwrap();
        assert_eq!((n.action.as_str(), n.state), ("exec_start", None));
    }

    #[test]
    fn finds_its_own_container_in_mountinfo() {
        let id = "a".repeat(64);
        let line = format!(
            "612 590 8:1 /var/lib/docker/containers/{id}/hostname /etc/hostname rw - ext4 /dev/sda1 rw"
        );
        assert_eq!(own_id_in(&line), Some(id));
        assert_eq!(own_id_in("25 1 8:1 / / rw - ext4 /dev/sda1 rw"), None);
    }
}
