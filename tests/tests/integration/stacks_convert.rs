//! `docker run` → compose, proven by running both: each command of a corpus in the
//! style of popular images' READMEs runs with `docker run`, its conversion with the
//! compose CLI, and the two containers' inspect documents must agree on everything
//! the flags set (environment, command, ports, mounts, labels minus compose's own,
//! restart policy, capabilities, limits, health check, network…).

use berth_protocol::api::catalogue::ComposeFromDockerRun;
use berth_protocol::api::stacks::ConvertRun;
use berth_tests::docker::{Scope, compose, ensure_test_image};
use berth_tests::ws;
use serde_json::{Value, json};

/// The corpus: `{}` placeholders are filled in by [`corpus`]. Each runs a process
/// that stays up, so flags checked at start (devices, sysctls, limits) are proven too.
fn corpus(image: &str, volume: &str, network: &str, dir: &str) -> Vec<String> {
    let sleep = "sleep 600";
    [
        format!("docker run -d -p 18080:80 -e TZ=Europe/Paris --restart unless-stopped {image} {sleep}"),
        format!("docker run -d -v {volume}:/config -v {dir}:/data:ro {image} {sleep}"),
        format!("docker run -d --mount type=bind,source={dir},target=/m,readonly --mount type=tmpfs,target=/t,tmpfs-size=1048576 {image} {sleep}"),
        format!("docker run -d --mount source={volume},target=/vol {image} {sleep}"),
        format!("docker run -d --cap-add NET_ADMIN --cap-add SYS_TIME --cap-drop MKNOD {image} {sleep}"),
        format!("docker run -d --memory 256m --memory-reservation 64m --cpus 0.5 --cpu-shares 512 {image} {sleep}"),
        format!("docker run -d --health-cmd 'test -d /' --health-interval 5s --health-timeout 3s --health-retries 2 --health-start-period 1s {image} {sleep}"),
        format!("docker run -d --no-healthcheck --init {image} {sleep}"),
        format!("docker run -d --add-host db:10.1.2.3 --add-host cache:10.1.2.4 --dns 10.0.0.53 --dns-search example.org {image} {sleep}"),
        format!("docker run -d --tmpfs /run:size=64m --tmpfs /cache {image} {sleep}"),
        format!("docker run -d --ulimit nofile=1024:2048 --ulimit nproc=512 {image} {sleep}"),
        format!("docker run -d --shm-size 128m --sysctl net.core.somaxconn=1024 {image} {sleep}"),
        format!("docker run -dit {image} sh"),
        format!("docker run -d -w /tmp -u 1000:1000 {image} {sleep}"),
        format!("docker run -d --entrypoint /bin/sh {image} -c 'echo started; exec sleep 600'"),
        // `--privileged` is not here: this machine's engine (itself in a container)
        // cannot start a privileged container; the unit tests map it.
        format!("docker run -d --device /dev/null:/dev/nothing {image} {sleep}"),
        format!("docker run -d --hostname box --domainname example.org --read-only {image} {sleep}"),
        format!("docker run -d -l app=shop -l tier=web --label 'note=two words' {image} {sleep}"),
        format!("docker run -d --env-file {dir}/app.env -e EXTRA=1 {image} {sleep}"),
        format!("docker run -d --network {network} --network-alias api {image} {sleep}"),
        format!("docker run -d --network host {image} {sleep}"),
        format!("docker run -d --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 {image} {sleep}"),
        format!("docker run -d --security-opt no-new-privileges --stop-signal SIGINT --stop-timeout 30 {image} {sleep}"),
        format!("docker run -d --group-add 100 --pids-limit 100 --oom-score-adj 100 --expose 9000 {image} {sleep}"),
        format!("docker run -d --restart on-failure:3 -p 127.0.0.1:18081:81/udp -e 'GREETING=hello world' {image} {sleep}"),
    ]
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_docker_run_commands_make_the_same_containers() {
    let scope = Scope::new().await;
    let image = ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let volume = scope.create_volume("convert").await;
    let network = scope.create_network("convert").await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("app.env"), "FROM_FILE=1\nMODE=test\n").unwrap();
    let dir = data.path().to_str().unwrap();
    let lines = corpus(image, &volume, &network, dir);
    assert!(lines.len() >= 20);
    for (i, line) in lines.iter().enumerate() {
        let name = scope.name(&format!("run{i}"));
        // Named and labelled for the clean-up, on both sides alike.
        let line = line.replacen(
            "docker run ",
            &format!("docker run --name {name} -l berth.test={} ", scope.run),
            1,
        );
        let by_run = with_docker_run(&scope, &line, &name).await;
        let converted = admin
            .call::<ComposeFromDockerRun>(ConvertRun {
                command: line.clone(),
            })
            .await
            .unwrap();
        assert!(
            converted.unsupported.is_empty(),
            "{line}: {:?}",
            converted.unsupported
        );
        let by_compose = with_compose(&scope, &converted.compose, &name).await;
        let differ: Vec<String> = by_run
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| by_compose[k.as_str()] != **v)
            .map(|(k, v)| format!("{k}: run {v} / compose {}", by_compose[k.as_str()]))
            .collect();
        assert!(
            differ.is_empty(),
            "{line}\n{}\n{differ:#?}",
            converted.compose
        );
    }
}

/// Runs `line` as a shell would; what the container is, then removed.
async fn with_docker_run(scope: &Scope, line: &str, name: &str) -> Value {
    let out = std::process::Command::new("sh")
        .args(["-c", line])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = inspected(scope, name).await;
    let out = std::process::Command::new("docker")
        .args(["rm", "-f", name])
        .output()
        .unwrap();
    assert!(out.status.success());
    seen
}

/// Brings `file` up as a project of its own; what its container is, then `down`.
async fn with_compose(scope: &Scope, file: &str, name: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), file).unwrap();
    let project = name.to_lowercase().replace('.', "-");
    compose(dir.path(), &project, &["up", "-d"]);
    let seen = inspected(scope, name).await;
    compose(dir.path(), &project, &["down", "-t", "1"]);
    seen
}

/// What the flags set, from the container's inspect document: lists whose order
/// Docker does not keep sorted, compose's own labels dropped, defaults that only
/// differ in spelling (`null`, `false` and empty; no restart policy and `no`) made
/// one.
async fn inspected(scope: &Scope, name: &str) -> Value {
    let c = scope.docker.inspect_container(name, None).await.unwrap();
    let c = serde_json::to_value(c).unwrap();
    let (config, host) = (&c["Config"], &c["HostConfig"]);
    let mut labels = config["Labels"].as_object().cloned().unwrap_or_default();
    labels.retain(|k, _| !k.starts_with("com.docker.compose."));
    let network_mode = host["NetworkMode"].as_str().unwrap_or_default();
    let mut networks: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|n| n.keys().cloned().collect())
        .unwrap_or_default();
    // With no network given, `docker run` joins `bridge` and compose its project's
    // `default` network: the same role under two names.
    let own = matches!(network_mode, "host" | "none") || networks.len() > 1;
    let chosen = !own
        && networks
            .iter()
            .all(|n| n != "bridge" && !n.ends_with("_default"));
    if !chosen {
        networks.clear();
    }
    let mut mounts: Vec<Value> = c["Mounts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| json!([m["Type"], m["Source"], m["Destination"], m["RW"]]))
        .collect();
    mounts.sort_by_key(Value::to_string);
    let restart = match host["RestartPolicy"]["Name"].as_str() {
        None | Some("") => "no",
        Some(n) => n,
    };
    emptied(json!({
        "env": sorted(&config["Env"]),
        "cmd": config["Cmd"],
        "entrypoint": config["Entrypoint"],
        "working_dir": config["WorkingDir"],
        "user": config["User"],
        "tty": flag(&config["Tty"]),
        "stdin": flag(&config["OpenStdin"]),
        "labels": labels,
        "healthcheck": config["Healthcheck"],
        "exposed": config["ExposedPorts"],
        "stop_signal": config["StopSignal"],
        "stop_timeout": config["StopTimeout"],
        "domainname": config["Domainname"],
        "hostname": if config["Hostname"] == "box" { json!("box") } else { Value::Null },
        "ports": host["PortBindings"],
        "restart": [restart, host["RestartPolicy"]["MaximumRetryCount"]],
        "cap_add": capabilities(&host["CapAdd"]),
        "cap_drop": capabilities(&host["CapDrop"]),
        "privileged": flag(&host["Privileged"]),
        "memory": [host["Memory"], host["MemoryReservation"], host["NanoCpus"], host["CpuShares"]],
        "pids_limit": host["PidsLimit"],
        "oom_score_adj": host["OomScoreAdj"],
        "devices": host["Devices"],
        "extra_hosts": sorted(&host["ExtraHosts"]),
        "dns": [host["Dns"], host["DnsSearch"]],
        "tmpfs": host["Tmpfs"],
        "ulimits": host["Ulimits"],
        "shm_size": host["ShmSize"],
        "sysctls": host["Sysctls"],
        "init": flag(&host["Init"]),
        "read_only": flag(&host["ReadonlyRootfs"]),
        "log": host["LogConfig"],
        "security_opt": sorted(&host["SecurityOpt"]),
        "group_add": sorted(&host["GroupAdd"]),
        "network_mode": if chosen || own { json!(network_mode) } else { Value::Null },
        "networks": networks,
        "mounts": mounts,
    }))
}

/// Empty lists and maps as `null`: Docker spells "none set" either way.
fn emptied(v: Value) -> Value {
    match v {
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Object(o) if o.is_empty() => Value::Null,
        Value::Array(a) => Value::Array(a.into_iter().map(emptied).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, emptied(v))).collect()),
        other => other,
    }
}

fn sorted(v: &Value) -> Value {
    let mut items = v.as_array().cloned().unwrap_or_default();
    items.sort_by_key(Value::to_string);
    Value::Array(items)
}

/// The Docker CLI writes `CAP_NET_ADMIN` where compose passes `NET_ADMIN` through:
/// the engine takes both as the same capability.
fn capabilities(v: &Value) -> Value {
    let names = v
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let c = c.as_str().unwrap_or_default();
            Value::from(c.strip_prefix("CAP_").unwrap_or(c))
        });
    sorted(&Value::Array(names.collect()))
}

fn flag(v: &Value) -> bool {
    v.as_bool().unwrap_or(false)
}
