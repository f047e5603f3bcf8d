//! The "New container" form's text, the request it becomes, and the text a
//! duplicated container starts from. Written the way `docker run` takes them (ports
//! `8080:80`, mounts `data:/data:ro`), one per line, so a user copies from a README;
//! the host checks everything again and names the field it refuses.

use berth_protocol::api::containers::{CreateContainer, NewMount, PortMapping};
use berth_protocol::api::stacks::RunForm;
use berth_protocol::api::volumes::is_anonymous_name;
use berth_protocol::error::{ErrorBody, ErrorCode};
use serde_json::Value;

use crate::format::pairs;

/// Every field as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draft {
    pub image: String,
    pub name: String,
    pub command: String,
    pub env: String,
    pub ports: String,
    pub mounts: String,
    pub restart: String,
    pub network: String,
    pub labels: String,
    pub start: bool,
}

fn bad(field: &str, message: String) -> ErrorBody {
    ErrorBody::new(ErrorCode::BadRequest, format!("{field}: {message}"))
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

impl Draft {
    /// A new form: started once created, like `docker run -d`.
    pub fn new() -> Self {
        Draft {
            start: true,
            ..Default::default()
        }
    }

    /// The request, or the first line the browser can already tell is wrong.
    pub fn request(&self) -> Result<CreateContainer, ErrorBody> {
        let name = self.name.trim();
        Ok(CreateContainer {
            host: None,
            image: self.image.trim().to_owned(),
            name: (!name.is_empty()).then(|| name.to_owned()),
            command: split_words(&self.command).map_err(|m| bad("Command", m))?,
            env: pairs("Environment", &self.env)?,
            ports: lines(&self.ports).map(port).collect::<Result<_, _>>()?,
            mounts: lines(&self.mounts).map(mount).collect::<Result<_, _>>()?,
            restart: Some(self.restart.clone()).filter(|r| !r.is_empty()),
            network: Some(self.network.clone()).filter(|n| !n.is_empty()),
            labels: pairs("Labels", &self.labels)?,
            start: self.start,
        })
    }

    /// The form for a copy of the container `inspect` describes: its settings, its
    /// named volumes and host paths (anonymous volumes are the image's, made afresh),
    /// without the labels compose and Berth set, under the name `<name>-copy`.
    pub fn duplicate(inspect: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let config = &inspect["Config"];
        let host = &inspect["HostConfig"];
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default()
        };
        let labels = config["Labels"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !k.starts_with("com.docker.compose.") && !k.starts_with("dev.berth."))
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect::<Vec<_>>();
        let network = text(&host["NetworkMode"]);
        Draft {
            image: text(&config["Image"]),
            name: format!("{}-copy", text(&inspect["Name"]).trim_start_matches('/')),
            command: command_line(&strings(&config["Cmd"])),
            env: strings(&config["Env"]).join("\n"),
            ports: published(&host["PortBindings"]).join("\n"),
            mounts: mounted(&inspect["Mounts"]).join("\n"),
            restart: Some(text(&host["RestartPolicy"]["Name"]))
                .filter(|r| r != "no")
                .unwrap_or_default(),
            network: if matches!(network.as_str(), "default" | "bridge") {
                String::new()
            } else {
                network
            },
            labels: labels.join("\n"),
            start: true,
        }
    }

    /// The form for editing the container `inspect` describes: its settings under its
    /// own name, started again if it runs.
    pub fn edit(inspect: &Value) -> Self {
        Draft {
            name: inspect["Name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            start: inspect["State"]["Running"].as_bool().unwrap_or(true),
            ..Self::duplicate(inspect)
        }
    }

    /// The form for a `docker run` line the host converted: its fields as the line
    /// wrote them (the flags the form has no field for are listed by the caller).
    pub fn from_run(run: &RunForm) -> Self {
        Draft {
            image: run.image.clone(),
            name: run.name.clone().unwrap_or_default(),
            command: command_line(&run.command),
            env: run.env.join("\n"),
            ports: run.ports.join("\n"),
            mounts: run.mounts.join("\n"),
            restart: run.restart.clone().unwrap_or_default(),
            network: run.network.clone().unwrap_or_default(),
            labels: run.labels.join("\n"),
            start: true,
        }
    }
}

/// Words as one line a shell (and [`split_words`]) splits back into them.
fn command_line(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// What the host shows in place of a value the caller may not see.
const REDACTED: &str = "<redacted>";

impl Draft {
    /// Leaves out what the host redacted (a copy of a container whose secrets the
    /// caller may not read must not get `<redacted>` as their values); says which
    /// fields lost something, for the form to tell.
    pub fn without_redacted(mut self) -> (Self, Vec<&'static str>) {
        let mut lost = Vec::new();
        for (field, text) in [("environment", &mut self.env), ("labels", &mut self.labels)] {
            if text.contains(REDACTED) {
                *text = text
                    .lines()
                    .filter(|l| !l.contains(REDACTED))
                    .collect::<Vec<_>>()
                    .join("\n");
                lost.push(field);
            }
        }
        if self.command.contains(REDACTED) {
            self.command.clear();
            lost.push("command");
        }
        (self, lost)
    }
}

/// `[ip:][public:]private[/proto]`, as `docker run -p` takes it (an IPv6 address in
/// brackets).
fn port(line: &str) -> Result<PortMapping, ErrorBody> {
    let wrong = || {
        bad(
            "Ports",
            format!("write {line:?} as 8080:80, 127.0.0.1:8080:80 or 53/udp"),
        )
    };
    let (spec, proto) = line.rsplit_once('/').unwrap_or((line, "tcp"));
    let (ip, rest) = match spec.strip_prefix('[') {
        Some(v6) => {
            let (ip, rest) = v6.split_once("]:").ok_or_else(wrong)?;
            (Some(ip.to_owned()), rest)
        }
        None => match spec.matches(':').count() {
            2 => {
                let (ip, rest) = spec.split_once(':').ok_or_else(wrong)?;
                (Some(ip.to_owned()), rest)
            }
            _ => (None, spec),
        },
    };
    let number = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(wrong)
    };
    let (public, private) = match rest.split_once(':') {
        Some(("", private)) => (None, number(private)?),
        Some((public, private)) => (Some(number(public)?), number(private)?),
        None => (None, number(rest)?),
    };
    Ok(PortMapping {
        private,
        public,
        ip: ip.filter(|i| !i.is_empty()),
        proto: proto.to_owned(),
    })
}

/// `source:/target[:ro]`.
fn mount(line: &str) -> Result<NewMount, ErrorBody> {
    let wrong = || {
        bad(
            "Volumes",
            format!("write {line:?} as data:/data or /srv/app:/app:ro"),
        )
    };
    let (rest, read_only) = match line.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (line.strip_suffix(":rw").unwrap_or(line), false),
    };
    let (source, target) = rest.split_once(':').ok_or_else(wrong)?;
    if source.is_empty() || !target.starts_with('/') {
        return Err(wrong());
    }
    Ok(NewMount {
        source: source.to_owned(),
        target: target.to_owned(),
        read_only,
    })
}

/// Docker's port bindings as `-p` lines.
fn published(bindings: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (key, list) in bindings.as_object().into_iter().flatten() {
        let (private, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let suffix = if proto == "tcp" {
            String::new()
        } else {
            format!("/{proto}")
        };
        for b in list.as_array().into_iter().flatten() {
            let ip = b["HostIp"].as_str().unwrap_or_default();
            let public = b["HostPort"].as_str().unwrap_or_default();
            let ip = if ip.is_empty() {
                String::new()
            } else {
                format!("{ip}:")
            };
            out.push(format!("{ip}{public}:{private}{suffix}"));
        }
    }
    out.sort();
    out
}

/// Named volumes and host paths as `-v` lines; anonymous volumes are left out.
fn mounted(mounts: &Value) -> Vec<String> {
    mounts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let source = match m["Type"].as_str()? {
                "volume" => m["Name"].as_str().filter(|n| !is_anonymous_name(n))?,
                "bind" => m["Source"].as_str()?,
                _ => return None,
            };
            let ro = if m["RW"].as_bool() == Some(false) {
                ":ro"
            } else {
                ""
            };
            Some(format!("{source}:{}{ro}", m["Destination"].as_str()?))
        })
        .collect()
}

/// Words split as a shell would: spaces separate, quotes group, `\` escapes.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let (mut words, mut word, mut in_word) = (Vec::new(), String::new(), false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => word.extend(chars.next()),
                        Some(other) => word.push(other),
                        None => return Err(format!("a {c} quote is not closed")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A word as the shell reads it back: quoted when it holds anything special.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_converted_run_line_fills_a_form_that_becomes_the_same_request() {
        let run = RunForm {
            image: "nginx:1".into(),
            name: Some("web".into()),
            command: vec!["sh".into(), "-c".into(), "echo 'hi'; sleep 1".into()],
            env: vec!["TZ=UTC".into()],
            ports: vec!["127.0.0.1::53/udp".into()],
            mounts: vec!["data:/data:ro".into()],
            restart: Some("always".into()),
            ..Default::default()
        };
        let request = Draft::from_run(&run).request().unwrap();
        assert_eq!(request.command, run.command);
        assert_eq!(request.env, [("TZ".to_owned(), "UTC".to_owned())].into());
        assert_eq!(request.ports[0].ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(request.ports[0].public, None);
        assert!(request.mounts[0].read_only);
        assert_eq!(request.restart.as_deref(), Some("always"));
        assert_eq!(request.network, None);
    }

    #[test]
    fn a_typed_form_becomes_the_request() {
        let draft = Draft {
            image: " busybox:latest ".into(),
            name: "web".into(),
            command: r#"sh -c 'echo "hi there"; sleep 1'"#.into(),
            env: "TZ=Europe/Berlin\n\nURL=http://x/?a=b".into(),
            ports: "8080:80\n127.0.0.1:5353:53/udp\n[::1]:9000:9000\n:7000\n443".into(),
            mounts: "data:/data\n/srv/app:/app:ro".into(),
            restart: "unless-stopped".into(),
            network: String::new(),
            labels: "team=infra".into(),
            start: true,
        };
        let r = draft.request().unwrap();
        assert_eq!(r.image, "busybox:latest");
        assert_eq!(r.command, ["sh", "-c", r#"echo "hi there"; sleep 1"#]);
        assert_eq!(r.env["URL"], "http://x/?a=b");
        let ports: Vec<_> = r
            .ports
            .iter()
            .map(|p| (p.ip.as_deref(), p.public, p.private, p.proto.as_str()))
            .collect();
        assert_eq!(
            ports,
            [
                (None, Some(8080), 80, "tcp"),
                (Some("127.0.0.1"), Some(5353), 53, "udp"),
                (Some("::1"), Some(9000), 9000, "tcp"),
                (None, None, 7000, "tcp"),
                (None, None, 443, "tcp"),
            ]
        );
        assert!(r.mounts[1].read_only && !r.mounts[0].read_only);
        assert_eq!(r.network, None);
    }

    #[test]
    fn a_wrong_line_is_named() {
        for (field, draft) in [
            (
                "Ports",
                Draft {
                    ports: "80:http".into(),
                    ..Draft::new()
                },
            ),
            (
                "Volumes",
                Draft {
                    mounts: "data".into(),
                    ..Draft::new()
                },
            ),
            (
                "Environment",
                Draft {
                    env: "JUSTAKEY".into(),
                    ..Draft::new()
                },
            ),
            (
                "Command",
                Draft {
                    command: "echo 'open".into(),
                    ..Draft::new()
                },
            ),
        ] {
            let e = draft.request().unwrap_err();
            assert!(e.message.starts_with(field), "{}", e.message);
        }
    }

    #[test]
    fn redacted_values_are_left_out_of_a_copy() {
        let d = Draft {
            env: "A=1\nTOKEN=<redacted>".into(),
            labels: "team=x".into(),
            command: "sh -c 'PGPASSWORD=<redacted> pg_dump'".into(),
            ..Draft::new()
        };
        let (d, lost) = d.without_redacted();
        assert_eq!((d.env.as_str(), d.command.as_str()), ("A=1", ""));
        assert_eq!(lost, ["environment", "command"]);
    }

    #[test]
    fn a_duplicate_starts_from_the_containers_settings() {
        let inspect = serde_json::json!({
            "Name": "/web",
            "Config": {"Image": "busybox:latest", "Cmd": ["sh", "-c", "sleep 1; echo it's"],
                "Env": ["A=1"], "Labels": {"team": "x", "com.docker.compose.project": "p"}},
            "HostConfig": {"NetworkMode": "backend", "RestartPolicy": {"Name": "always"},
                "PortBindings": {"53/udp": [{"HostIp": "", "HostPort": "5353"}]}},
            "Mounts": [
                {"Type": "volume", "Name": "data", "Destination": "/data", "RW": true},
                {"Type": "volume", "Name": "a".repeat(64), "Destination": "/anon", "RW": true},
                {"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": false}
            ]
        });
        let d = Draft::duplicate(&inspect);
        assert_eq!(d.name, "web-copy");
        assert_eq!(d.ports, "5353:53/udp");
        assert_eq!(d.mounts, "data:/data\n/srv:/srv:ro");
        assert_eq!(d.labels, "team=x");
        assert_eq!(
            (d.restart.as_str(), d.network.as_str()),
            ("always", "backend")
        );
        // The command survives a round trip through the text field.
        let r = d.request().unwrap();
        assert_eq!(r.command, ["sh", "-c", "sleep 1; echo it's"]);
    }
}
