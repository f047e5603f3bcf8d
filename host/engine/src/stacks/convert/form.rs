//! The part of a `docker run` line the "New container" form has fields for, kept
//! as `docker run` wrote it (the form takes the same syntax), and every other flag
//! named so the user knows what a plain container would lose (a stack keeps it).

/// What the form can be filled with, and the flags it has no field for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormSettings {
    pub image: String,
    pub name: Option<String>,
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub ports: Vec<String>,
    pub mounts: Vec<String>,
    pub labels: Vec<String>,
    pub restart: Option<String>,
    pub network: Option<String>,
    /// Each flag as `--name value`, with why when the form has the field but not
    /// this value.
    pub left_out: Vec<String>,
    /// A `--network` was taken (the default bridge leaves `network` empty).
    joined: bool,
}

impl FormSettings {
    /// One flag as the converter read it (a switch has no value).
    pub(super) fn flag(&mut self, name: &str, value: Option<&str>) {
        let Some(value) = value else {
            // `-d` is how the form runs a container; every other switch is left out.
            if name != "detach" {
                self.left_out.push(format!("--{name}"));
            }
            return;
        };
        let kept = match name {
            "publish" => push(&mut self.ports, value),
            "volume" => short_volume(value) && push(&mut self.mounts, value),
            "mount" => short_mount(value).is_some_and(|m| push(&mut self.mounts, &m)),
            "env" => value.contains('=') && push(&mut self.env, value),
            "label" => value.contains('=') && push(&mut self.labels, value),
            "name" => set(&mut self.name, value),
            "network" | "net" => self.network(value),
            "restart" => self.restart(value),
            _ => false,
        };
        if !kept {
            self.left_out.push(format!("--{name} {value}"));
        }
    }

    /// One network (the form joins one); Docker's default bridge is the form's
    /// default.
    fn network(&mut self, value: &str) -> bool {
        if self.joined || value == "none" || value.starts_with("container:") {
            return false;
        }
        self.joined = true;
        if !matches!(value, "bridge" | "default") {
            self.network = Some(value.to_owned());
        }
        true
    }

    fn restart(&mut self, value: &str) -> bool {
        match value {
            "no" => true,
            "always" | "unless-stopped" | "on-failure" => set(&mut self.restart, value),
            retries if retries.starts_with("on-failure:") => {
                self.restart = Some("on-failure".to_owned());
                self.left_out.push(format!(
                    "--restart {retries}: the form restarts on failure without a limit"
                ));
                true
            }
            _ => false,
        }
    }
}

fn push(list: &mut Vec<String>, value: &str) -> bool {
    list.push(value.to_owned());
    true
}

fn set(field: &mut Option<String>, value: &str) -> bool {
    *field = Some(value.to_owned());
    true
}

/// `source:/target[:ro|:rw]` — the form's mount syntax (SELinux and propagation
/// options are not).
fn short_volume(value: &str) -> bool {
    match value.split(':').collect::<Vec<_>>()[..] {
        [source, target] | [source, target, "ro" | "rw"] => {
            !source.is_empty() && target.starts_with('/')
        }
        _ => false,
    }
}

/// `--mount` of a volume or a bind with only a source, a target and read-only, in
/// the short syntax.
fn short_mount(value: &str) -> Option<String> {
    let (mut source, mut target, mut read_only) = (None, None, false);
    for part in value.split(',') {
        match part.split_once('=').unwrap_or((part, "true")) {
            ("type", "volume" | "bind") => {}
            ("source" | "src", v) => source = Some(v),
            ("target" | "destination" | "dst", v) => target = Some(v),
            ("readonly" | "ro", v) => read_only = v == "true" || v == "1",
            _ => return None,
        }
    }
    let line = format!("{}:{}", source?, target?);
    let line = if read_only { line + ":ro" } else { line };
    short_volume(&line).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::super::from_docker_run;

    #[test]
    fn the_form_gets_its_fields_and_the_rest_is_named() {
        let c = from_docker_run(
            "docker run -d --name web -p 8080:80 -p 127.0.0.1::53/udp -v data:/data:ro -v /srv/x:/x:z --mount type=bind,src=/etc,dst=/etc2,readonly -e TZ=UTC -e HOME -l team=infra --restart on-failure:3 --network backend --memory 64m -it nginx:1 sh -c 'echo hi'",
        )
        .unwrap();
        let f = c.form;
        assert_eq!(f.image, "nginx:1");
        assert_eq!(f.name.as_deref(), Some("web"));
        assert_eq!(f.command, ["sh", "-c", "echo hi"]);
        assert_eq!(f.ports, ["8080:80", "127.0.0.1::53/udp"]);
        assert_eq!(f.mounts, ["data:/data:ro", "/etc:/etc2:ro"]);
        assert_eq!(f.env, ["TZ=UTC"]);
        assert_eq!(f.labels, ["team=infra"]);
        assert_eq!(f.restart.as_deref(), Some("on-failure"));
        assert_eq!(f.network.as_deref(), Some("backend"));
        assert_eq!(
            f.left_out,
            [
                "--volume /srv/x:/x:z",
                "--env HOME",
                "--restart on-failure:3: the form restarts on failure without a limit",
                "--memory 64m",
                "--interactive",
                "--tty",
            ]
        );
    }

    #[test]
    fn the_default_bridge_is_the_forms_default_and_a_second_network_is_left_out() {
        let f = from_docker_run("docker run --network bridge --network other img")
            .unwrap()
            .form;
        assert_eq!(f.network, None);
        assert_eq!(f.left_out, ["--network other"]);
    }
}
