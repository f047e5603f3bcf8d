//! A real Docker Engine, an offline test image, and labelled, self-cleaning resources.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

/// Label on everything the tests create; the value is the run id `<pid>-<millis>-<n>`.
pub const LABEL: &str = "berth.test";
/// The offline test image (Debian's busybox-static, imported as a rootfs).
pub const TEST_IMAGE: &str = "berth-test/busybox:1";

/// A negotiated client, like the host's. Fails with one line when there is no engine.
pub async fn connect() -> Docker {
    let attempt = async {
        let d = Docker::connect_with_defaults()?;
        tokio::time::timeout(Duration::from_secs(5), d.negotiate_version())
            .await
            .map_err(|_| bollard::errors::Error::RequestTimeoutError)?
    };
    match attempt.await {
        Ok(d) => d,
        Err(e) => panic!(
            "Docker Engine not reachable ({e}): these tests need a running engine \
             (apt-get install docker.io && service docker start, or set DOCKER_HOST)"
        ),
    }
}

static IMAGE: OnceCell<()> = OnceCell::const_new();

/// Makes sure [`TEST_IMAGE`] exists, importing it from `/bin/busybox` if needed.
pub async fn ensure_test_image(docker: &Docker) -> &'static str {
    IMAGE
        .get_or_init(|| async {
            if docker.inspect_image(TEST_IMAGE).await.is_ok() {
                return;
            }
            let rootfs = busybox_rootfs();
            let (repo, tag) = TEST_IMAGE.split_once(':').expect("repo:tag");
            let opts = CreateImageOptionsBuilder::default()
                .from_src("-")
                .repo(repo)
                .tag(tag)
                .changes(vec![
                    r#"CMD ["/bin/sh"]"#.to_owned(),
                    format!("LABEL {LABEL}.fixture=busybox"),
                ])
                .message("Berth test image: Debian busybox-static")
                .build();
            docker
                .create_image(Some(opts), Some(bollard::body_full(rootfs.into())), None)
                .try_collect::<Vec<_>>()
                .await
                .unwrap_or_else(|e| panic!("cannot import the test image {TEST_IMAGE}: {e}"));
        })
        .await;
    TEST_IMAGE
}

/// A tar of a minimal root filesystem: busybox, its applet links, /etc, /tmp.
fn busybox_rootfs() -> Vec<u8> {
    let busybox = std::env::var_os("BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/bin/busybox".into());
    let bytes = std::fs::read(&busybox).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): the Docker tests build their image from Debian's busybox-static \
             (apt-get install busybox-static, or set BUSYBOX to a static busybox)",
            busybox.display()
        )
    });
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, mode: u32, kind: tar::EntryType, data: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l).expect("link name");
        }
        tar.append_data(&mut h, path, data).expect("tar entry");
    };
    for dir in ["bin", "etc", "tmp", "data", "root"] {
        let mode = if dir == "tmp" { 0o1777 } else { 0o755 };
        add(dir, mode, tar::EntryType::Directory, &[], None);
    }
    add("bin/busybox", 0o755, tar::EntryType::Regular, &bytes, None);
    for applet in [
        "sh",
        "sleep",
        "ls",
        "cat",
        "echo",
        "tar",
        "mkdir",
        "rm",
        "sync",
        "true",
        "false",
        "env",
        "id",
        "wc",
        "head",
        "du",
        "find",
        "stat",
        "dd",
        "sha256sum",
        "touch",
        "printf",
        "kill",
        "ps",
    ] {
        add(
            &format!("bin/{applet}"),
            0o777,
            tar::EntryType::Symlink,
            &[],
            Some("busybox"),
        );
    }
    add(
        "etc/passwd",
        0o644,
        tar::EntryType::Regular,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        None,
    );
    add(
        "etc/group",
        0o644,
        tar::EntryType::Regular,
        b"root:x:0:\nnogroup:x:65534:\n",
        None,
    );
    tar.into_inner().expect("tar")
}

/// One test's Docker resources: labelled with a unique run id and removed on drop.
#[derive(Debug)]
pub struct Scope {
    pub docker: Docker,
    pub run: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
static SWEPT: OnceCell<()> = OnceCell::const_new();

impl Scope {
    pub async fn new() -> Self {
        let docker = connect().await;
        SWEPT.get_or_init(|| sweep_dead_runs(docker.clone())).await;
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let run = format!(
            "{}-{millis}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Self { docker, run }
    }

    /// The labels every resource of this scope carries.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(LABEL.to_owned(), self.run.clone())])
    }

    /// A unique resource name.
    pub fn name(&self, base: &str) -> String {
        format!("berth-test-{}-{base}", self.run)
    }

    /// A container of the test image, described step by step and then created,
    /// started or run to its end: `scope.container("app").volume(&v, "/data")
    /// .sh("…").start().await`.
    pub fn container(&self, base: &str) -> ContainerBuilder<'_> {
        ContainerBuilder {
            scope: self,
            name: Some(self.name(base)),
            throwaway: false,
            body: ContainerCreateBody {
                labels: Some(self.labels()),
                host_config: Some(HostConfig::default()),
                ..Default::default()
            },
        }
    }

    /// Creates (not starts) a container from the test image running `cmd`.
    pub async fn create_container(&self, base: &str, cmd: &[&str]) -> String {
        self.create_container_with(base, cmd, &[]).await
    }

    /// [`Scope::create_container`] with labels besides the scope's.
    pub async fn create_container_with(
        &self,
        base: &str,
        cmd: &[&str],
        labels: &[(&str, &str)],
    ) -> String {
        let image = ensure_test_image(&self.docker).await;
        let mut all = self.labels();
        all.extend(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
            labels: Some(all),
            host_config: Some(HostConfig::default()),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default()
            .name(&self.name(base))
            .build();
        self.docker
            .create_container(Some(opts), body)
            .await
            .expect("create container")
            .id
    }

    /// Creates a volume named [`Scope::name`]`(base)`; returns its name.
    pub async fn create_volume(&self, base: &str) -> String {
        let name = self.name(base);
        self.docker
            .create_volume(bollard::models::VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(self.labels()),
                ..Default::default()
            })
            .await
            .expect("create volume");
        name
    }

    /// Creates a bridge network named [`Scope::name`]`(base)`; returns its name.
    pub async fn create_network(&self, base: &str) -> String {
        let name = self.name(base);
        self.docker
            .create_network(bollard::models::NetworkCreateRequest {
                name: name.clone(),
                labels: Some(self.labels()),
                ..Default::default()
            })
            .await
            .expect("create network");
        name
    }

    /// The exit code of `cmd` run inside a running container.
    pub async fn exec(&self, container: &str, cmd: &[&str]) -> i64 {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let e = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        if let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&e.id, None).await.unwrap()
        {
            while output.next().await.is_some() {}
        }
        self.docker
            .inspect_exec(&e.id)
            .await
            .unwrap()
            .exit_code
            .unwrap_or(-1)
    }

    /// Waits until the container has exited; panics unless it exited 0.
    pub async fn wait_success(&self, id: &str) {
        let w: Vec<_> = self
            .docker
            .wait_container(
                id,
                Some(
                    WaitContainerOptionsBuilder::default()
                        .condition("not-running")
                        .build(),
                ),
            )
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("container {id} did not exit 0: {e}"));
        assert_eq!(w.first().map(|w| w.status_code), Some(0), "container {id}");
    }

    /// The containers of compose project `project` (stopped ones too), inspected and
    /// keyed by service.
    pub async fn project_services(
        &self,
        project: &str,
    ) -> std::collections::BTreeMap<String, bollard::models::ContainerInspectResponse> {
        let listed = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&HashMap::from([(
                        "label".to_owned(),
                        vec![format!("com.docker.compose.project={project}")],
                    )]))
                    .build(),
            ))
            .await
            .unwrap();
        let mut by_service = std::collections::BTreeMap::new();
        for c in listed {
            let i = self
                .docker
                .inspect_container(c.id.as_deref().unwrap(), None)
                .await
                .unwrap();
            let labels = i.config.as_ref().and_then(|c| c.labels.as_ref());
            let service = labels
                .and_then(|l| l.get("com.docker.compose.service"))
                .cloned()
                .unwrap_or_default();
            by_service.insert(service, i);
        }
        by_service
    }

    /// Ids of containers with this scope's label.
    pub async fn containers(&self) -> Vec<String> {
        let found = labelled(&self.docker, &format!("{LABEL}={}", self.run)).await;
        found.containers.into_iter().filter_map(|c| c.id).collect()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Async cleanup from Drop: a thread with its own runtime works after panics and
        // regardless of the test's runtime flavour.
        let docker = self.docker.clone();
        let filter = format!("{LABEL}={}", self.run);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(remove_labelled(&docker, &filter, |_| true));
        })
        .join();
    }
}

/// Everything carrying the label `filter` (`key` or `key=value`).
struct Labelled {
    containers: Vec<bollard::models::ContainerSummary>,
    volumes: Vec<bollard::models::Volume>,
    networks: Vec<bollard::models::Network>,
}

async fn labelled(docker: &Docker, filter: &str) -> Labelled {
    let filters = HashMap::from([("label", vec![filter])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap_or_default();
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .ok()
        .and_then(|v| v.volumes)
        .unwrap_or_default();
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap_or_default();
    Labelled {
        containers,
        volumes,
        networks,
    }
}

/// Removes the containers, then the volumes and networks, that match the label `filter`
/// and whose labels satisfy `remove`.
async fn remove_labelled(
    docker: &Docker,
    filter: &str,
    remove: impl Fn(&HashMap<String, String>) -> bool,
) {
    let found = labelled(docker, filter).await;
    let force = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    for c in found.containers {
        if remove(&c.labels.unwrap_or_default())
            && let Some(id) = c.id
        {
            let _ = docker.remove_container(&id, Some(force.clone())).await;
        }
    }
    for v in found.volumes {
        if remove(&v.labels) {
            let _ = docker
                .remove_volume(
                    &v.name,
                    Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
                )
                .await;
        }
    }
    for n in found.networks {
        if remove(&n.labels.unwrap_or_default())
            && let Some(id) = n.id
        {
            let _ = docker.remove_network(&id).await;
        }
    }
}

/// Removes what earlier, crashed test processes left behind (their pid is gone).
async fn sweep_dead_runs(docker: Docker) {
    remove_labelled(&docker, LABEL, |labels| {
        let Some(run) = labels.get(LABEL) else {
            return false;
        };
        let pid = run.split('-').next().unwrap_or("");
        !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
    .await;
}

/// The engine's own socket: `DOCKER_HOST` when it is `unix://…`, else the default.
pub fn engine_socket() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

/// A unix socket that forwards to the engine, which a test can take away and bring
/// back: a daemon outage without stopping the machine's daemon (other tests use it).
#[derive(Debug)]
pub struct SocketProxy {
    path: PathBuf,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SocketProxy {
    /// Listens on `path` and forwards every connection to the engine.
    pub fn start(path: &std::path::Path) -> Self {
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path).expect("bind the proxy socket");
        let engine = engine_socket();
        let task = tokio::spawn(async move {
            // Dropping the set (when the task is aborted) aborts every forwarded
            // connection: an outage cuts streams that are in flight too.
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let engine = engine.clone();
                conns.spawn(async move {
                    if let Ok(mut upstream) = tokio::net::UnixStream::connect(&engine).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        Self {
            path: path.to_path_buf(),
            task: Some(task),
        }
    }

    /// The daemon "goes away": the socket disappears and open connections break.
    pub async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        let _ = std::fs::remove_file(&self.path);
    }

    /// The URL to give Berth as `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

impl Drop for SocketProxy {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A test container being described (see [`Scope::container`]); labelled with its
/// scope, so it is removed with it.
#[derive(Debug)]
pub struct ContainerBuilder<'a> {
    scope: &'a Scope,
    /// `None`: let Docker name it.
    name: Option<String>,
    body: ContainerCreateBody,
    /// Removed as soon as `run` has its output (it would otherwise count as a user of
    /// its volumes until the scope ends).
    throwaway: bool,
}

impl ContainerBuilder<'_> {
    fn host_config(&mut self) -> &mut HostConfig {
        self.body
            .host_config
            .get_or_insert_with(HostConfig::default)
    }

    /// Runs `script` with `sh -c`.
    pub fn sh(mut self, script: &str) -> Self {
        self.body.cmd = Some(vec!["sh".into(), "-c".into(), script.into()]);
        self
    }

    /// Runs `cmd` as given.
    pub fn cmd(mut self, cmd: &[&str]) -> Self {
        self.body.cmd = Some(cmd.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Mounts the named volume `volume` at `target`.
    pub fn volume(self, volume: &str, target: &str) -> Self {
        self.mount(MountType::VOLUME, Some(volume), target)
    }

    /// A tmpfs at `target`.
    pub fn tmpfs(self, target: &str) -> Self {
        self.mount(MountType::TMPFS, None, target)
    }

    fn mount(mut self, typ: MountType, source: Option<&str>, target: &str) -> Self {
        self.host_config()
            .mounts
            .get_or_insert_with(Vec::new)
            .push(Mount {
                typ: Some(typ),
                source: source.map(str::to_owned),
                target: Some(target.to_owned()),
                ..Default::default()
            });
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.body
            .labels
            .get_or_insert_with(HashMap::new)
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets `KEY=value` in the environment.
    pub fn env(mut self, pair: &str) -> Self {
        self.body
            .env
            .get_or_insert_with(Vec::new)
            .push(pair.to_owned());
        self
    }

    /// Publishes `port` (e.g. `8080/tcp`) on a host port Docker picks.
    pub fn publish(self, port: &str) -> Self {
        self.port_binding(port, None, String::new())
    }

    /// Publishes `port` (e.g. `8080/tcp`) on `127.0.0.1:host_port`.
    pub fn publish_at(self, port: &str, host_port: u16) -> Self {
        self.port_binding(port, Some("127.0.0.1".into()), host_port.to_string())
    }

    fn port_binding(mut self, port: &str, host_ip: Option<String>, host_port: String) -> Self {
        self.body
            .exposed_ports
            .get_or_insert_with(Vec::new)
            .push(port.to_owned());
        self.host_config()
            .port_bindings
            .get_or_insert_with(HashMap::new)
            .insert(
                port.to_owned(),
                Some(vec![PortBinding {
                    host_ip,
                    host_port: Some(host_port),
                }]),
            );
        self
    }

    /// Bind-mounts as Docker's `source:target[:options]`.
    pub fn bind(mut self, spec: &str) -> Self {
        self.host_config()
            .binds
            .get_or_insert_with(Vec::new)
            .push(spec.to_owned());
        self
    }

    /// A memory limit, in bytes (a setting no form field carries).
    pub fn memory(mut self, bytes: i64) -> Self {
        self.host_config().memory = Some(bytes);
        self
    }

    /// An anonymous volume at `target` (as an image's `VOLUME` makes one).
    pub fn anonymous_volume(mut self, target: &str) -> Self {
        self.body
            .volumes
            .get_or_insert_with(Vec::new)
            .push(target.to_owned());
        self
    }

    /// Runs in `mode`: a network's name, or `host`.
    pub fn network(mut self, mode: &str) -> Self {
        self.host_config().network_mode = Some(mode.to_owned());
        self
    }

    /// Another image than the test image (one a test built from it).
    pub fn image(mut self, reference: &str) -> Self {
        self.body.image = Some(reference.to_owned());
        self
    }

    /// A name of the test's choosing (as compose would name a service's container).
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Removes the container once `run` has its output.
    pub fn throwaway(mut self) -> Self {
        self.throwaway = true;
        self
    }

    /// Leaves the name to Docker.
    pub fn unnamed(mut self) -> Self {
        self.name = None;
        self
    }

    /// Creates the container; returns its id.
    pub async fn create(mut self) -> String {
        if self.body.image.is_none() {
            let image = ensure_test_image(&self.scope.docker).await;
            self.body.image = Some(image.to_owned());
        }
        let options = self
            .name
            .as_deref()
            .map(|name| CreateContainerOptionsBuilder::default().name(name).build());
        self.scope
            .docker
            .create_container(options, self.body)
            .await
            .expect("create container")
            .id
    }

    /// Creates and starts the container; returns its id.
    pub async fn start(self) -> String {
        let docker = self.scope.docker.clone();
        let id = self.create().await;
        docker
            .start_container(&id, None)
            .await
            .expect("start container");
        id
    }

    /// Starts the container, waits until it exits 0 and returns its output (stdout
    /// and stderr); a [`throwaway`](Self::throwaway) container is removed then.
    pub async fn run(self) -> String {
        let (scope, throwaway) = (self.scope, self.throwaway);
        let id = self.start().await;
        scope.wait_success(&id).await;
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .build();
        let output: Vec<_> = scope
            .docker
            .logs(&id, Some(options))
            .try_collect()
            .await
            .expect("container output");
        if throwaway {
            let _ = scope
                .docker
                .remove_container(
                    &id,
                    None::<bollard::query_parameters::RemoveContainerOptions>,
                )
                .await;
        }
        output.iter().map(ToString::to_string).collect()
    }
}

/// The compose CLI as a user runs it: `docker compose` (v2) where the Docker CLI has
/// it, else `docker-compose` (v1).
pub fn compose_command() -> std::process::Command {
    let v2 = std::process::Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if v2 {
        let mut c = std::process::Command::new("docker");
        c.arg("compose");
        c
    } else {
        std::process::Command::new("docker-compose")
    }
}

/// Runs `compose.yaml` in `dir` as `project`: `docker compose` (v2) where the Docker
/// CLI has it, else `docker-compose` (v1); panics with its stderr on failure.
pub fn compose(dir: &std::path::Path, project: &str, args: &[&str]) {
    let out = compose_command()
        .current_dir(dir)
        .args(["-p", project, "-f", "compose.yaml"])
        .args(args)
        .output()
        .expect("compose runs");
    assert!(
        out.status.success(),
        "compose {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
