//! `docker run` → compose (`compose.from_docker_run`): a command line from a README,
//! split as a shell would, becomes one compose service — every flag real READMEs use
//! mapped to its compose key, and a flag compose has no key for listed with the
//! reason rather than dropped. Pure: nothing runs here (the tests run both sides).

use serde_yaml::{Mapping, Sequence, Value};

use crate::EngineError;

mod form;

pub use form::FormSettings;

/// One converted command: the service's name, the whole compose file, and what
/// could not be carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub service: String,
    pub compose: String,
    pub unsupported: Vec<String>,
    pub warnings: Vec<String>,
    /// The same command for the "New container" form.
    pub form: FormSettings,
}

/// The longest command line taken (a README's is a few hundred bytes).
const MAX_LINE: usize = 64 * 1024;

/// Flags that take no value (`--flag` or `--flag=true|false`).
const SWITCHES: &[&str] = &[
    "detach",
    "interactive",
    "tty",
    "privileged",
    "init",
    "read-only",
    "rm",
    "publish-all",
    "no-healthcheck",
    "oom-kill-disable",
    "sig-proxy",
    "disable-content-trust",
    "quiet",
];

/// Flags compose has no key for, with why.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "rm",
        "compose keeps a service's container; `down` removes it",
    ),
    (
        "publish-all",
        "compose has no publish-all: list the ports under `ports`",
    ),
    (
        "gpus",
        "add `deploy.resources.reservations.devices` with `capabilities: [gpu]` by hand",
    ),
    ("cidfile", "compose writes no container-id file"),
    ("label-file", "copy the labels into `labels`"),
    ("attach", "compose attaches to every service's output"),
    ("detach-keys", "set it in the Docker CLI's config instead"),
    ("sig-proxy", "compose proxies signals itself"),
    ("disable-content-trust", "set DOCKER_CONTENT_TRUST instead"),
    ("quiet", "compose has no quiet pull per service"),
    ("kernel-memory", "removed from Docker"),
    ("blkio-weight", "use `blkio_config.weight`"),
    ("cpu-rt-runtime", "compose has no key for it"),
    ("cpu-rt-period", "compose has no key for it"),
    ("uts", "compose has no key for it"),
    ("cgroupns", "compose has no key for it"),
];

/// Short flags and the long ones they stand for.
fn long_name(short: char) -> Option<&'static str> {
    Some(match short {
        'p' => "publish",
        'v' => "volume",
        'e' => "env",
        'l' => "label",
        'w' => "workdir",
        'u' => "user",
        'm' => "memory",
        'c' => "cpu-shares",
        'h' => "hostname",
        'd' => "detach",
        'i' => "interactive",
        't' => "tty",
        'P' => "publish-all",
        'a' => "attach",
        'q' => "quiet",
        _ => return None,
    })
}

/// `docker run …` (or `docker container run`, after `sudo`; lines continued with a
/// backslash) as one compose service.
pub fn from_docker_run(line: &str) -> Result<Converted, EngineError> {
    if line.len() > MAX_LINE {
        return Err(bad(format!("at most {MAX_LINE} bytes")));
    }
    let words = words(line)?;
    let mut draft = Draft::default();
    let rest = draft.flags(&words)?;
    let Some((image, command)) = rest.split_first() else {
        return Err(bad("no image: the command ends before it"));
    };
    draft.finish(image, command)
}

fn bad(message: impl Into<String>) -> EngineError {
    EngineError::BadField {
        field: "command".into(),
        message: message.into(),
    }
}

/// The words after `docker run`, as a shell would split them.
fn words(line: &str) -> Result<Vec<String>, EngineError> {
    let joined = line.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut words = shlex::split(joined.trim())
        .ok_or_else(|| bad("unbalanced quotes: the command does not split as a shell would"))?;
    if words.first().is_some_and(|w| w == "sudo") {
        words.remove(0);
    }
    let skip = match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["docker", "container", "run", ..] => 3,
        ["docker", "run", ..] => 2,
        ["run", ..] => 1,
        _ => return Err(bad("not a `docker run` command")),
    };
    Ok(words.split_off(skip))
}

/// The service as the flags build it (keys in the order they first appear), and the
/// top-level volumes and networks it names.
#[derive(Debug, Default)]
struct Draft {
    service: Mapping,
    name: Option<String>,
    volumes: Mapping,
    networks: Vec<String>,
    aliases: Vec<String>,
    unsupported: Vec<String>,
    warnings: Vec<String>,
    form: FormSettings,
}

impl Draft {
    /// Takes the flags off the front of `words`; what follows is the image and its
    /// command.
    fn flags<'w>(&mut self, words: &'w [String]) -> Result<&'w [String], EngineError> {
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            if word == "--" {
                return Ok(&words[i + 1..]);
            }
            if !word.starts_with('-') || word == "-" {
                return Ok(&words[i..]);
            }
            let next = words.get(i + 1).map(String::as_str);
            i += 1 + self.flag(word, next)?;
        }
        Ok(&words[i..])
    }

    /// One flag word (`--name=x`, `--name x`, `-p80:80`, `-p 80:80`, `-dit`): how
    /// many of the following words it took as its value.
    fn flag(&mut self, word: &str, next: Option<&str>) -> Result<usize, EngineError> {
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            return self.named(name, inline, next);
        }
        let shorts: Vec<char> = word[1..].chars().collect();
        for (at, short) in shorts.iter().enumerate() {
            let name = long_name(*short).ok_or_else(|| bad(format!("unknown flag -{short}")))?;
            if SWITCHES.contains(&name) {
                self.named(name, None, None)?;
                continue;
            }
            let attached: String = shorts[at + 1..].iter().collect();
            let attached = attached.strip_prefix('=').unwrap_or(&attached);
            if attached.is_empty() {
                return self.named(name, None, next);
            }
            self.named(name, Some(attached), None)?;
            return Ok(0);
        }
        Ok(0)
    }

    fn named(
        &mut self,
        name: &str,
        inline: Option<&str>,
        next: Option<&str>,
    ) -> Result<usize, EngineError> {
        if SWITCHES.contains(&name) {
            let on = match inline {
                None | Some("true" | "1") => true,
                Some("false" | "0") => false,
                Some(v) => return Err(bad(format!("--{name}={v}: true or false"))),
            };
            if on {
                self.form.flag(name, None);
                self.switch(name);
            }
            return Ok(0);
        }
        let (value, taken) = match (inline, next) {
            (Some(v), _) => (v, 0),
            (None, Some(v)) => (v, 1),
            (None, None) => return Err(bad(format!("--{name} needs a value"))),
        };
        self.form.flag(name, Some(value));
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(n, _)| *n == name) {
            self.unsupported.push(format!("--{name} {value}: {why}"));
        } else {
            self.valued(name, value)?;
        }
        Ok(taken)
    }

    fn switch(&mut self, name: &str) {
        let key = match name {
            "detach" => return, // `up -d` is how stacks run.
            "interactive" => "stdin_open",
            "tty" => "tty",
            "privileged" => "privileged",
            "init" => "init",
            "read-only" => "read_only",
            "oom-kill-disable" => "oom_kill_disable",
            "no-healthcheck" => {
                let mut check = Mapping::new();
                check.insert("disable".into(), true.into());
                self.set("healthcheck", Value::Mapping(check));
                return;
            }
            other => {
                let why = UNSUPPORTED
                    .iter()
                    .find(|(n, _)| *n == other)
                    .map_or("compose has no key for it", |(_, why)| why);
                self.unsupported.push(format!("--{other}: {why}"));
                return;
            }
        };
        self.set(key, true.into());
    }

    fn valued(&mut self, name: &str, value: &str) -> Result<(), EngineError> {
        let text = || Value::String(value.to_owned());
        match name {
            "publish" => self.push("ports", text()),
            "volume" => self.volume(value),
            "mount" => self.mount(value)?,
            "env" => self.push("environment", text()),
            "env-file" => {
                if !value.starts_with('/') {
                    self.warnings.push(format!(
                        "--env-file {value}: compose reads it from the stack's folder"
                    ));
                }
                self.push("env_file", text());
            }
            "name" => {
                self.name = Some(value.to_owned());
                self.set("container_name", text());
            }
            "network" | "net" => self.network(value),
            "network-alias" | "net-alias" => self.aliases.push(value.to_owned()),
            "label" => self.push("labels", text()),
            "entrypoint" => self.set("entrypoint", Value::Sequence(vec![text()])),
            "health-cmd" => {
                let test = vec!["CMD-SHELL".into(), text()];
                self.health("test", Value::Sequence(test));
            }
            "health-interval" | "health-timeout" | "health-start-period" => {
                self.health(&name["health-".len()..].replace('-', "_"), text());
            }
            "health-retries" => self.health("retries", number(name, value)?),
            "ulimit" => self.ulimit(value)?,
            "log-driver" => self.logging("driver", text()),
            "log-opt" => {
                let (k, v) = value.split_once('=').unwrap_or((value, ""));
                let options = self.logging_options();
                options.insert(k.into(), v.into());
            }
            "stop-timeout" => self.set("stop_grace_period", format!("{value}s").into()),
            "cpus" => self.set("cpus", decimal(name, value)?),
            "cpu-shares" | "pids-limit" | "oom-score-adj" | "cpu-period" | "cpu-quota" => {
                self.set(&name.replace('-', "_"), number(name, value)?);
            }
            _ => return self.plain(name, value),
        }
        Ok(())
    }

    /// Flags whose value goes under a compose key as it is (a list entry or a string).
    fn plain(&mut self, name: &str, value: &str) -> Result<(), EngineError> {
        let list = match name {
            "cap-add" => "cap_add",
            "cap-drop" => "cap_drop",
            "device" => "devices",
            "dns" => "dns",
            "dns-search" => "dns_search",
            "dns-option" | "dns-opt" => "dns_opt",
            "add-host" => "extra_hosts",
            "tmpfs" => "tmpfs",
            "sysctl" => "sysctls",
            "security-opt" => "security_opt",
            "group-add" => "group_add",
            "expose" => "expose",
            "volumes-from" => "volumes_from",
            "link" => "external_links",
            "device-cgroup-rule" => "device_cgroup_rules",
            _ => "",
        };
        if !list.is_empty() {
            self.push(list, value.into());
            return Ok(());
        }
        let key = match name {
            "workdir" => "working_dir",
            "user" => "user",
            "restart" => "restart",
            "hostname" => "hostname",
            "domainname" => "domainname",
            "memory" => "mem_limit",
            "memory-reservation" => "mem_reservation",
            "memory-swap" => "memswap_limit",
            "memory-swappiness" => "mem_swappiness",
            "cpuset-cpus" => "cpuset",
            "shm-size" => "shm_size",
            "stop-signal" => "stop_signal",
            "pid" => "pid",
            "ipc" => "ipc",
            "userns" => "userns_mode",
            "mac-address" => "mac_address",
            "platform" => "platform",
            "runtime" => "runtime",
            "isolation" => "isolation",
            "cgroup-parent" => "cgroup_parent",
            "pull" => "pull_policy",
            _ => return Err(bad(format!("unknown flag --{name}"))),
        };
        self.set(key, value.into());
        Ok(())
    }

    fn set(&mut self, key: &str, value: Value) {
        self.service.insert(key.into(), value);
    }

    fn push(&mut self, key: &str, value: Value) {
        let entry = self
            .service
            .entry(key.into())
            .or_insert_with(|| Value::Sequence(Sequence::new()));
        if let Value::Sequence(list) = entry {
            list.push(value);
        }
    }

    fn health(&mut self, key: &str, value: Value) {
        let entry = self
            .service
            .entry("healthcheck".into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if let Value::Mapping(check) = entry {
            check.insert(key.into(), value);
        }
    }

    fn logging(&mut self, key: &str, value: Value) {
        if let Value::Mapping(logging) = self
            .service
            .entry("logging".into())
            .or_insert_with(|| Value::Mapping(Mapping::new()))
        {
            logging.insert(key.into(), value);
        }
    }

    fn logging_options(&mut self) -> &mut Mapping {
        let logging = self
            .service
            .entry("logging".into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !logging.is_mapping() {
            *logging = Value::Mapping(Mapping::new());
        }
        let options = logging
            .as_mapping_mut()
            .expect("a mapping")
            .entry("options".into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !options.is_mapping() {
            *options = Value::Mapping(Mapping::new());
        }
        options.as_mapping_mut().expect("a mapping")
    }

    /// `-v source:target[:options]`: a named volume is declared at the top level
    /// under its own name, so compose uses the volume `docker run` would (not one
    /// prefixed with the project's name).
    fn volume(&mut self, value: &str) {
        let source = value.split(':').next().unwrap_or_default();
        if value.contains(':') && is_volume_name(source) {
            self.declare_volume(source);
        }
        self.push("volumes", value.into());
    }

    fn declare_volume(&mut self, name: &str) {
        let mut volume = Mapping::new();
        volume.insert("name".into(), name.into());
        self.volumes.insert(name.into(), Value::Mapping(volume));
    }

    /// `--mount type=…,source=…,target=…,readonly,…` as the long volume syntax.
    fn mount(&mut self, value: &str) -> Result<(), EngineError> {
        let mut kind = "volume".to_owned();
        let mut long = Mapping::new();
        let mut extra: Vec<(&str, &str, Value)> = Vec::new();
        for part in value.split(',') {
            let (k, v) = part.split_once('=').unwrap_or((part, "true"));
            match k {
                "type" => kind = v.to_owned(),
                "source" | "src" => {
                    long.insert("source".into(), v.into());
                }
                "target" | "destination" | "dst" => {
                    long.insert("target".into(), v.into());
                }
                "readonly" | "ro" => {
                    long.insert("read_only".into(), (v == "true" || v == "1").into());
                }
                "bind-propagation" => extra.push(("bind", "propagation", v.into())),
                "volume-nocopy" => extra.push(("volume", "nocopy", (v == "true").into())),
                "tmpfs-size" => extra.push(("tmpfs", "size", size(v))),
                "consistency" => {
                    long.insert("consistency".into(), v.into());
                }
                other => {
                    self.unsupported
                        .push(format!("--mount {other}={v}: compose has no key for it"));
                }
            }
        }
        if !long.contains_key("target") {
            return Err(bad(format!("--mount {value}: no target")));
        }
        if kind == "volume"
            && let Some(source) = long.get("source").and_then(Value::as_str)
        {
            let source = source.to_owned();
            self.declare_volume(&source);
        }
        let mut entry = Mapping::new();
        entry.insert("type".into(), kind.into());
        entry.extend(long);
        for (section, key, v) in extra {
            let mut inner = Mapping::new();
            inner.insert(key.into(), v);
            entry.insert(section.into(), Value::Mapping(inner));
        }
        self.push("volumes", Value::Mapping(entry));
        Ok(())
    }

    /// `--network`: Docker's own modes as `network_mode`; a named network joined
    /// as the existing network it is (`docker run` does not create one either).
    fn network(&mut self, value: &str) {
        let mode = matches!(value, "host" | "none" | "bridge" | "default")
            || value.starts_with("container:");
        if mode {
            self.set("network_mode", value.into());
        } else {
            self.networks.push(value.to_owned());
        }
    }

    /// `--ulimit name=soft[:hard]`.
    fn ulimit(&mut self, value: &str) -> Result<(), EngineError> {
        let (name, limits) = value
            .split_once('=')
            .ok_or_else(|| bad(format!("--ulimit {value}: name=soft[:hard]")))?;
        let limit = match limits.split_once(':') {
            None => number("ulimit", limits)?,
            Some((soft, hard)) => {
                let mut both = Mapping::new();
                both.insert("soft".into(), number("ulimit", soft)?);
                both.insert("hard".into(), number("ulimit", hard)?);
                Value::Mapping(both)
            }
        };
        if let Value::Mapping(all) = self
            .service
            .entry("ulimits".into())
            .or_insert_with(|| Value::Mapping(Mapping::new()))
        {
            all.insert(name.into(), limit);
        }
        Ok(())
    }

    /// The compose file: the service (image first), its networks with the aliases,
    /// the volumes and networks it names.
    fn finish(mut self, image: &str, command: &[String]) -> Result<Converted, EngineError> {
        let service_name = service_name(self.name.as_deref(), image);
        self.form.image = image.to_owned();
        self.form.command = command.to_vec();
        let mut service = Mapping::new();
        service.insert("image".into(), image.into());
        if let Some(name) = self.service.remove("container_name") {
            service.insert("container_name".into(), name);
        }
        if !command.is_empty() {
            let words = command.iter().map(|w| Value::from(w.as_str())).collect();
            service.insert("command".into(), Value::Sequence(words));
        }
        service.extend(std::mem::take(&mut self.service));
        let mut top = Mapping::new();
        if !self.aliases.is_empty() && self.networks.is_empty() {
            self.unsupported.push(format!(
                "--network-alias {}: aliases need a user-defined --network",
                self.aliases.join(",")
            ));
        }
        if !self.networks.is_empty() {
            let mut joined = Mapping::new();
            let mut declared = Mapping::new();
            for net in &self.networks {
                let mut with = Mapping::new();
                if !self.aliases.is_empty() {
                    let aliases = self
                        .aliases
                        .iter()
                        .map(|a| Value::from(a.as_str()))
                        .collect();
                    with.insert("aliases".into(), Value::Sequence(aliases));
                }
                joined.insert(net.as_str().into(), Value::Mapping(with));
                let mut external = Mapping::new();
                external.insert("external".into(), true.into());
                declared.insert(net.as_str().into(), Value::Mapping(external));
            }
            service.insert("networks".into(), Value::Mapping(joined));
            top.insert("networks".into(), Value::Mapping(declared));
        }
        let mut services = Mapping::new();
        services.insert(service_name.as_str().into(), Value::Mapping(service));
        let mut file = Mapping::new();
        file.insert("services".into(), Value::Mapping(services));
        if !self.volumes.is_empty() {
            file.insert("volumes".into(), Value::Mapping(self.volumes));
        }
        file.extend(top);
        let compose = serde_yaml::to_string(&file)
            .map_err(|e| EngineError::failed(format!("cannot write the compose file: {e}")))?;
        Ok(Converted {
            service: service_name,
            compose,
            unsupported: self.unsupported,
            warnings: self.warnings,
            form: self.form,
        })
    }
}

/// A `-v` source that names a volume rather than a host path.
fn is_volume_name(source: &str) -> bool {
    !source.is_empty()
        && !source.starts_with(['/', '.', '~', '$'])
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The service's name: the container's name, else the image's (without registry,
/// path and tag), made a valid compose service name.
fn service_name(name: Option<&str>, image: &str) -> String {
    let base = name.unwrap_or_else(|| {
        let last = image.rsplit('/').next().unwrap_or(image);
        last.split(['@', ':']).next().unwrap_or(last)
    });
    let cleaned: String = base
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if cleaned.is_empty() {
        "app".to_owned()
    } else {
        cleaned.to_owned()
    }
}

fn number(flag: &str, value: &str) -> Result<Value, EngineError> {
    value
        .parse::<i64>()
        .map(Value::from)
        .map_err(|_| bad(format!("--{flag} {value}: a whole number")))
}

fn decimal(flag: &str, value: &str) -> Result<Value, EngineError> {
    value
        .parse::<f64>()
        .map(Value::from)
        .map_err(|_| bad(format!("--{flag} {value}: a number")))
}

/// A tmpfs size: bytes as a number, a suffixed size as written.
fn size(value: &str) -> Value {
    value
        .parse::<i64>()
        .map_or_else(|_| Value::from(value), Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(line: &str) -> (Mapping, Converted) {
        let converted = from_docker_run(line).unwrap();
        let file: Mapping = serde_yaml::from_str(&converted.compose).unwrap();
        let services = file["services"].as_mapping().unwrap();
        let one = services[converted.service.as_str()]
            .as_mapping()
            .unwrap()
            .clone();
        (one, converted)
    }

    #[test]
    fn a_readme_command_becomes_one_service() {
        let (s, c) = service(
            "sudo docker run -d --name=Plex -p 32400:32400/tcp -e TZ=\"Europe/Paris\" \\\n  -v plex-config:/config -v /srv/media:/data:ro --restart unless-stopped -it \\\n  lscr.io/linuxserver/plex:latest sh -c 'echo hi'",
        );
        assert_eq!(c.service, "plex");
        assert_eq!(s["image"], "lscr.io/linuxserver/plex:latest");
        assert_eq!(s["container_name"], "Plex");
        assert_eq!(s["ports"][0], "32400:32400/tcp");
        assert_eq!(s["environment"][0], "TZ=Europe/Paris");
        assert_eq!(s["volumes"][1], "/srv/media:/data:ro");
        assert_eq!(s["restart"], "unless-stopped");
        assert_eq!(s["stdin_open"], true);
        assert_eq!(s["tty"], true);
        assert_eq!(s["command"][2], "echo hi");
        assert!(
            c.compose.contains("plex-config:\n    name: plex-config"),
            "{}",
            c.compose
        );
        assert!(c.unsupported.is_empty());
    }

    #[test]
    fn resource_health_and_kernel_flags_map_to_their_keys() {
        let (s, _) = service(
            "docker run --memory 256m --cpus=0.5 --health-cmd 'wget -q -O- localhost' --health-interval 30s --health-retries 3 --ulimit nofile=1024:2048 --ulimit nproc=64 --shm-size 128m --sysctl net.core.somaxconn=1024 --tmpfs /run:size=64m --cap-add NET_ADMIN --cap-drop MKNOD --device /dev/null:/dev/nothing --add-host db:10.0.0.2 --dns 1.1.1.1 --log-opt max-size=10m --log-driver json-file --stop-timeout 30 nginx",
        );
        assert_eq!(s["mem_limit"], "256m");
        assert_eq!(s["cpus"], 0.5);
        assert_eq!(s["healthcheck"]["test"][1], "wget -q -O- localhost");
        assert_eq!(s["healthcheck"]["retries"], 3);
        assert_eq!(s["ulimits"]["nofile"]["hard"], 2048);
        assert_eq!(s["ulimits"]["nproc"], 64);
        assert_eq!(s["logging"]["driver"], "json-file");
        assert_eq!(s["logging"]["options"]["max-size"], "10m");
        assert_eq!(s["stop_grace_period"], "30s");
        assert_eq!(s["extra_hosts"][0], "db:10.0.0.2");
    }

    #[test]
    fn mounts_and_networks_take_the_long_forms() {
        let (s, c) = service(
            "docker run --mount type=bind,source=/etc/hosts,target=/h,readonly --mount source=data,target=/data --mount type=tmpfs,target=/t,tmpfs-size=1048576 --network backend --network-alias api alpine",
        );
        assert_eq!(s["volumes"][0]["type"], "bind");
        assert_eq!(s["volumes"][0]["read_only"], true);
        assert_eq!(s["volumes"][1]["type"], "volume");
        assert_eq!(s["volumes"][2]["tmpfs"]["size"], 1048576);
        assert_eq!(s["networks"]["backend"]["aliases"][0], "api");
        assert!(
            c.compose.contains("backend:\n    external: true"),
            "{}",
            c.compose
        );
    }

    #[test]
    fn what_compose_cannot_say_is_listed_never_dropped() {
        let (_, c) = service("docker run --rm -P --gpus all --cidfile /tmp/id busybox");
        assert_eq!(c.unsupported.len(), 4, "{:?}", c.unsupported);
        assert!(c.unsupported[0].starts_with("--rm"));
    }

    #[test]
    fn bad_lines_are_refused_with_the_reason() {
        for (line, says) in [
            ("docker run -d", "no image"),
            ("docker run --frobnicate x img", "unknown flag --frobnicate"),
            ("docker run -p", "needs a value"),
            ("docker run 'img", "unbalanced"),
            ("docker ps", "not a `docker run`"),
            ("docker run --ulimit nofile img", "name=soft"),
        ] {
            let e = from_docker_run(line).unwrap_err().to_string();
            assert!(e.contains(says), "{line}: {e}");
        }
    }

    #[test]
    fn short_flags_combine_and_take_attached_values() {
        let (s, _) = service("docker run -dit --privileged -p8080:80 -eA=1 -uroot -w/srv img");
        assert_eq!(s["privileged"], true);
        assert_eq!(s["ports"][0], "8080:80");
        assert_eq!(s["environment"][0], "A=1");
        assert_eq!(s["user"], "root");
        assert_eq!(s["working_dir"], "/srv");
        assert_eq!(s["tty"], true);
    }
}
