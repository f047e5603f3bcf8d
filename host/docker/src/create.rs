//! `container.create`: a standalone container from a local image, described by what a
//! user fills in (image, name, command, environment, ports, mounts, restart policy,
//! network, labels) — checked here, so a bad value is named by its field before Docker
//! sees it, and Berth's own label namespace and the host's privileges stay out of reach.
//!
//! A container whose start fails is removed again: the caller gets Docker's reason
//! (a port in use, a missing network) and nothing half-made is left behind.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};

use crate::args;
use crate::{DockerError, docker_err};

/// A new container as the user describes it (domain form of `container.create`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewContainer {
    pub image: String,
    pub name: Option<String>,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<Publish>,
    pub mounts: Vec<NewMount>,
    pub restart: Option<String>,
    pub network: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub start: bool,
}

/// One published port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publish {
    pub private: u16,
    pub public: Option<u16>,
    pub ip: Option<String>,
    pub proto: String,
}

/// One mount: a volume's name, or an absolute host path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMount {
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// What was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub id: String,
    pub name: String,
    pub state: String,
    pub warnings: Vec<String>,
}

/// What the caller may ask beyond the ordinary: host paths and the host's network
/// reach past Docker's isolation, so only admins get them; and the volumes they may
/// not mount (Berth's own data, which holds its installation key, for non-admins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    pub host_access: bool,
    pub withheld_volumes: Vec<String>,
    /// Host paths an edited container already mounts: keeping them grants nothing.
    pub kept_host_paths: Vec<String>,
    /// An edited container already on the host network keeps it.
    pub kept_host_network: bool,
}

/// Most entries per list (a form, not a bulk import).
const MAX_ENTRIES: usize = 100;

/// Checks `spec` and turns it into Docker's create body; the first bad field wins.
pub fn body(spec: &NewContainer, allowed: &Allowed) -> Result<ContainerCreateBody, DockerError> {
    args::image("image", &spec.image)?;
    if let Some(name) = &spec.name {
        args::object("name", name)?;
    }
    args::user_labels(&spec.labels)?;
    env_keys(&spec.env)?;
    command(&spec.command)?;
    let (exposed, bindings) = ports(&spec.ports)?;
    let mounts = mounts(&spec.mounts, allowed)?;
    let network_mode = network(spec.network.as_deref(), allowed)?;
    let host_config = HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        mounts: (!mounts.is_empty()).then_some(mounts),
        restart_policy: restart(spec.restart.as_deref())?,
        network_mode,
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        env: (!spec.env.is_empty())
            .then(|| spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: (!spec.labels.is_empty())
            .then(|| spec.labels.clone().into_iter().collect::<HashMap<_, _>>()),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(host_config),
        ..Default::default()
    })
}

/// Environment names: what a shell accepts in `export`, plus the dots and dashes some
/// images read; values may be anything but control characters.
fn env_keys(env: &BTreeMap<String, String>) -> Result<(), DockerError> {
    if env.len() > MAX_ENTRIES {
        return Err(DockerError::bad(
            "env",
            format!("at most {MAX_ENTRIES} variables"),
        ));
    }
    for (key, value) in env {
        let key_ok = !key.is_empty()
            && key.len() <= 255
            && !key.as_bytes()[0].is_ascii_digit()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !key_ok {
            return Err(DockerError::bad(
                "env",
                format!("{key:?} is not a variable name (letters, digits, _ . -)"),
            ));
        }
        if value.len() > 32 * 1024 || value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(DockerError::bad(
                "env",
                format!("the value of {key} is over 32 KiB or holds control characters"),
            ));
        }
    }
    Ok(())
}

fn command(words: &[String]) -> Result<(), DockerError> {
    let total: usize = words.iter().map(String::len).sum();
    if words.len() > 1000 || total > 64 * 1024 || words.iter().any(|w| w.contains('\0')) {
        return Err(DockerError::bad(
            "command",
            "the command is over 64 KiB, has over 1000 words or holds a NUL",
        ));
    }
    Ok(())
}

type Exposed = Vec<String>;
type Bindings = HashMap<String, Option<Vec<PortBinding>>>;

/// Docker's exposed ports and bindings; a host port published twice is refused here
/// (Docker would accept the body and fail only at start).
fn ports(list: &[Publish]) -> Result<(Exposed, Bindings), DockerError> {
    if list.len() > MAX_ENTRIES {
        return Err(DockerError::bad(
            "ports",
            format!("at most {MAX_ENTRIES} ports"),
        ));
    }
    let mut exposed = Exposed::new();
    let mut bindings = Bindings::new();
    let mut public_seen = Vec::new();
    for port in list {
        let proto = if port.proto.is_empty() {
            "tcp"
        } else {
            port.proto.as_str()
        };
        if !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(DockerError::bad(
                "ports",
                format!("{proto:?} is not tcp, udp or sctp"),
            ));
        }
        if port.private == 0 || port.public == Some(0) {
            return Err(DockerError::bad("ports", "ports run from 1 to 65535"));
        }
        if let Some(ip) = &port.ip
            && ip.parse::<std::net::IpAddr>().is_err()
        {
            return Err(DockerError::bad(
                "ports",
                format!("{ip:?} is not an IP address"),
            ));
        }
        if let Some(public) = port.public {
            let key = (public, proto, port.ip.clone());
            if public_seen.contains(&key) {
                return Err(DockerError::bad(
                    "ports",
                    format!("host port {public}/{proto} is published twice"),
                ));
            }
            public_seen.push(key);
        }
        let key = format!("{}/{proto}", port.private);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let binding = PortBinding {
            host_ip: port.ip.clone(),
            host_port: port.public.map(|p| p.to_string()),
        };
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    Ok((exposed, bindings))
}

/// Volume mounts for everyone; bind mounts of absolute host paths for admins only
/// (a bind of `/` or the Docker socket is the host).
fn mounts(list: &[NewMount], allowed: &Allowed) -> Result<Vec<Mount>, DockerError> {
    if list.len() > MAX_ENTRIES {
        return Err(DockerError::bad(
            "mounts",
            format!("at most {MAX_ENTRIES} mounts"),
        ));
    }
    let mut targets = Vec::new();
    list.iter()
        .map(|m| {
            let target_ok = Path::new(&m.target).is_absolute()
                && !m.target.split('/').any(|s| s == "..")
                && !m.target.contains(['\0', ':', ',']);
            if !target_ok || m.target == "/" {
                return Err(DockerError::bad(
                    "mounts",
                    format!(
                        "{:?} is not an absolute path inside the container",
                        m.target
                    ),
                ));
            }
            if targets.contains(&&m.target) {
                return Err(DockerError::bad(
                    "mounts",
                    format!("{} is mounted twice", m.target),
                ));
            }
            targets.push(&m.target);
            let typ = source_type(&m.source, allowed)?;
            Ok(Mount {
                target: Some(m.target.clone()),
                source: Some(m.source.clone()),
                typ: Some(typ),
                read_only: Some(m.read_only),
                ..Default::default()
            })
        })
        .collect()
}

fn source_type(source: &str, allowed: &Allowed) -> Result<MountType, DockerError> {
    if !source.starts_with('/') {
        args::object("mounts", source)?;
        if allowed.withheld_volumes.iter().any(|v| v == source) {
            return Err(DockerError::Forbidden(format!(
                "volume {source} holds Berth's own data; only an admin may mount it"
            )));
        }
        return Ok(MountType::VOLUME);
    }
    if !allowed.host_access && !allowed.kept_host_paths.iter().any(|p| p == source) {
        return Err(DockerError::Forbidden(format!(
            "mounting the host path {source} needs the admin role; use a volume"
        )));
    }
    if source.split('/').any(|s| s == "..") || source.contains(['\0', ',']) {
        return Err(DockerError::bad(
            "mounts",
            format!("{source:?} is not a plain absolute path"),
        ));
    }
    Ok(MountType::BIND)
}

fn network(name: Option<&str>, allowed: &Allowed) -> Result<Option<String>, DockerError> {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    args::object("network", name)?;
    if name == "host" && !allowed.host_access && !allowed.kept_host_network {
        return Err(DockerError::Forbidden(
            "the host network needs the admin role".to_owned(),
        ));
    }
    Ok(Some(name.to_owned()))
}

fn restart(policy: Option<&str>) -> Result<Option<RestartPolicy>, DockerError> {
    let name = match policy.unwrap_or("no") {
        "" | "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        other => {
            return Err(DockerError::bad(
                "restart",
                format!("{other:?} is not no, always, unless-stopped or on-failure"),
            ));
        }
    };
    Ok(Some(RestartPolicy {
        name: Some(name),
        maximum_retry_count: None,
    }))
}

/// Refuses an image the host does not have: pulling is `image.pull`'s job.
pub(crate) async fn image_on_host(docker: &Docker, image: &str) -> Result<(), DockerError> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(()),
        Err(_) => Err(DockerError::NotFound {
            field: Some("image".to_owned()),
            message: format!("image {image} is not on this host; pull it first"),
        }),
    }
}

/// Creates (and unless told otherwise starts) the container. The image must be on
/// the host: pulling is `image.pull`'s job, with its progress.
pub async fn create(
    docker: &Docker,
    spec: &NewContainer,
    allowed: &Allowed,
) -> Result<Created, DockerError> {
    let body = body(spec, allowed)?;
    image_on_host(docker, &spec.image).await?;
    let mut options = CreateContainerOptionsBuilder::default();
    if let Some(name) = &spec.name {
        options = options.name(name);
    }
    let what = format!("container {}", spec.name.as_deref().unwrap_or(&spec.image));
    let made = docker
        .create_container(Some(options.build()), body)
        .await
        .map_err(|e| docker_err(&e, &what))?;
    if spec.start
        && let Err(e) = docker.start_container(&made.id, None).await
    {
        let force = RemoveContainerOptionsBuilder::default().force(true).build();
        if let Err(cleanup) = docker.remove_container(&made.id, Some(force)).await {
            tracing::warn!(id = %made.id, error = %cleanup, "could not remove a container that failed to start");
        }
        return Err(docker_err(&e, &what));
    }
    let inspected = docker
        .inspect_container(&made.id, None)
        .await
        .map_err(|e| docker_err(&e, &what))?;
    tracing::info!(id = %made.id, image = %spec.image, "container created");
    Ok(Created {
        name: inspected
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        state: inspected
            .state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        id: made.id,
        warnings: made.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &Allowed = &Allowed {
        host_access: false,
        withheld_volumes: Vec::new(),
        kept_host_paths: Vec::new(),
        kept_host_network: false,
    };
    const ADMIN: &Allowed = &Allowed {
        host_access: true,
        withheld_volumes: Vec::new(),
        kept_host_paths: Vec::new(),
        kept_host_network: false,
    };

    fn spec() -> NewContainer {
        NewContainer {
            image: "busybox:latest".to_owned(),
            start: true,
            ..Default::default()
        }
    }

    fn field(e: DockerError) -> String {
        match e {
            DockerError::BadArgument { field, .. } => field,
            other => format!("not a bad argument: {other}"),
        }
    }

    #[test]
    fn a_full_form_becomes_dockers_body() {
        let mut s = spec();
        s.command = vec!["sleep".into(), "3600".into()];
        s.env.insert("TZ".into(), "Europe/Berlin".into());
        s.labels.insert("team".into(), "infra".into());
        s.ports.push(Publish {
            private: 80,
            public: Some(8080),
            ip: Some("127.0.0.1".into()),
            proto: String::new(),
        });
        s.mounts.push(NewMount {
            source: "data".into(),
            target: "/data".into(),
            read_only: true,
        });
        s.restart = Some("unless-stopped".into());
        s.network = Some("backend".into());
        let b = body(&s, USER).unwrap();
        assert_eq!(b.env.unwrap(), vec!["TZ=Europe/Berlin"]);
        assert_eq!(b.exposed_ports.unwrap(), vec!["80/tcp"]);
        let hc = b.host_config.unwrap();
        let binding = &hc.port_bindings.unwrap()["80/tcp"].clone().unwrap()[0];
        assert_eq!(binding.host_port.as_deref(), Some("8080"));
        assert_eq!(hc.mounts.unwrap()[0].typ, Some(MountType::VOLUME));
        assert_eq!(hc.network_mode.as_deref(), Some("backend"));
        assert_eq!(
            hc.restart_policy.unwrap().name,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
    }

    /// One change that spoils a request.
    type Spoil = Box<dyn Fn(&mut NewContainer)>;

    #[test]
    fn bad_fields_are_named() {
        let cases: Vec<(&str, Spoil)> = vec![
            ("image", Box::new(|s| s.image = "../x".into())),
            ("name", Box::new(|s| s.name = Some("a b".into()))),
            (
                "env",
                Box::new(|s| drop(s.env.insert("1X".into(), "v".into()))),
            ),
            (
                "labels",
                Box::new(|s| drop(s.labels.insert("dev.berth.helper".into(), "1".into()))),
            ),
            (
                "restart",
                Box::new(|s| s.restart = Some("sometimes".into())),
            ),
            (
                "network",
                Box::new(|s| s.network = Some("container:web".into())),
            ),
            (
                "ports",
                Box::new(|s| {
                    s.ports.push(Publish {
                        private: 80,
                        proto: "icmp".into(),
                        ..Default::default()
                    })
                }),
            ),
            (
                "mounts",
                Box::new(|s| {
                    s.mounts.push(NewMount {
                        source: "data".into(),
                        target: "rel".into(),
                        read_only: false,
                    })
                }),
            ),
        ];
        for (expected, change) in cases {
            let mut s = spec();
            change(&mut s);
            assert_eq!(field(body(&s, ADMIN).unwrap_err()), expected);
        }
    }

    #[test]
    fn a_port_published_twice_is_refused() {
        let mut s = spec();
        for private in [80, 81] {
            s.ports.push(Publish {
                private,
                public: Some(8080),
                ..Default::default()
            });
        }
        let e = body(&s, USER).unwrap_err();
        assert!(e.to_string().contains("published twice"), "{e}");
    }

    #[test]
    fn host_paths_and_the_host_network_need_admin() {
        let mut s = spec();
        s.mounts.push(NewMount {
            source: "/var/run/docker.sock".into(),
            target: "/sock".into(),
            read_only: false,
        });
        assert!(matches!(body(&s, USER), Err(DockerError::Forbidden(_))));
        let hc = body(&s, ADMIN).unwrap().host_config.unwrap();
        assert_eq!(hc.mounts.unwrap()[0].typ, Some(MountType::BIND));
        let mut s = spec();
        s.network = Some("host".into());
        assert!(matches!(body(&s, USER), Err(DockerError::Forbidden(_))));
        assert!(body(&s, ADMIN).is_ok());
    }

    #[test]
    fn a_withheld_volume_is_refused() {
        let mut s = spec();
        s.mounts.push(NewMount {
            source: "berth-data".into(),
            target: "/steal".into(),
            read_only: true,
        });
        let withheld = Allowed {
            host_access: false,
            withheld_volumes: vec!["berth-data".into()],
            ..Default::default()
        };
        assert!(matches!(
            body(&s, &withheld),
            Err(DockerError::Forbidden(_))
        ));
        assert!(body(&s, USER).is_ok());
    }
}
