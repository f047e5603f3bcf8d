//! Is a compose file good? Three passes, cheapest first: YAML (line and column of a
//! syntax error), the compose shape (a `services` mapping whose services name an
//! image or a build, no unknown options — located in the text, with the likely
//! meant name), then the compose CLI's own `config` check on the files as they would
//! be saved. The CLI is the authority; the first two give line numbers it does not
//! (v1 reports schema errors without them) and work without it.

use std::path::Path;
use std::time::Duration;

use berth_docker::compose::Compose;
use berth_protocol::api::stacks::{Problem, ProblemSource, Validation};
use serde_yaml::Value;

use crate::EngineError;

/// Top-level keys of a compose file (besides `x-…` extensions).
const TOP: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "configs", "secrets", "include", "models",
];

/// A service's options in the compose specification, plus the v2 file format's.
const SERVICE: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "labels",
    "label_file",
    "links",
    "log_driver",
    "log_opt",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "net",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volume_driver",
    "volumes",
    "volumes_from",
    "working_dir",
];

fn problem(source: ProblemSource, at: Option<(u32, u32)>, message: String) -> Problem {
    Problem {
        source,
        line: at.map(|a| a.0),
        column: at.map(|a| a.1),
        message,
    }
}

/// The first line (1-based) at or after `from` that is `key:` indented by `indent`,
/// and the key's column.
fn locate(text: &str, key: &str, indent: Option<usize>, from: usize) -> Option<(u32, u32)> {
    text.lines().enumerate().skip(from).find_map(|(i, line)| {
        let rest = line.trim_start();
        let column = line.len() - rest.len();
        let named = rest
            .strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with(':'))
            || rest
                .strip_prefix(&format!("\"{key}\""))
                .is_some_and(|r| r.starts_with(':'));
        (named && indent.is_none_or(|n| n == column)).then_some((i as u32 + 1, column as u32 + 1))
    })
}

/// The known name closest to `word`, when it is close (a typo).
fn meant(word: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Edits (insert, delete, replace) from `a` to `b`.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            previous = here;
        }
    }
    row[b.len()]
}

/// A key that is no option: an `x-` extension or a YAML merge (`<<: *anchor`).
fn extension(key: &str) -> bool {
    key.starts_with("x-") || key == "<<"
}

fn unknown(
    text: &str,
    key: &str,
    indent: Option<usize>,
    from: usize,
    known: &[&'static str],
    what: &str,
) -> Problem {
    let hint = meant(key, known)
        .map(|m| format!(" (did you mean `{m}`?)"))
        .unwrap_or_default();
    problem(
        ProblemSource::Schema,
        locate(text, key, indent, from),
        format!("unknown option `{key}` {what}{hint}"),
    )
}

/// The YAML and compose-shape problems of `text` (empty: it has the shape).
pub fn shape(text: &str) -> Vec<Problem> {
    let doc: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let at = e.location().map(|l| (l.line() as u32, l.column() as u32));
            return vec![problem(ProblemSource::Yaml, at, e.to_string())];
        }
    };
    let Some(top) = doc.as_mapping() else {
        return vec![problem(
            ProblemSource::Schema,
            Some((1, 1)),
            "a compose file is a mapping (`services:` …)".into(),
        )];
    };
    let mut problems = Vec::new();
    for key in top.keys().filter_map(Value::as_str) {
        if !TOP.contains(&key) && !extension(key) {
            problems.push(unknown(text, key, Some(0), 0, TOP, "at the top level"));
        }
    }
    match top.get("services").and_then(Value::as_mapping) {
        Some(services) if !services.is_empty() => {
            let start = locate(text, "services", Some(0), 0).map_or(0, |(l, _)| l as usize);
            for (name, service) in services {
                let name = name.as_str().unwrap_or_default();
                problems.extend(service_problems(text, name, service, start));
            }
        }
        _ => problems.push(problem(
            ProblemSource::Schema,
            locate(text, "services", Some(0), 0),
            "`services` must be a mapping with at least one service".into(),
        )),
    }
    problems
}

fn service_problems(text: &str, name: &str, service: &Value, start: usize) -> Vec<Problem> {
    let at = locate(text, name, None, start);
    let Some(options) = service.as_mapping() else {
        return vec![problem(
            ProblemSource::Schema,
            at,
            format!("service `{name}` must be a mapping of options"),
        )];
    };
    let from = at.map_or(start, |(l, _)| l as usize);
    let mut problems: Vec<Problem> = options
        .keys()
        .filter_map(Value::as_str)
        .filter(|k| !SERVICE.contains(k) && !extension(k))
        .map(|k| {
            unknown(
                text,
                k,
                None,
                from,
                SERVICE,
                &format!("for service `{name}`"),
            )
        })
        .collect();
    if !options.contains_key("image")
        && !options.contains_key("build")
        && !options.contains_key("extends")
    {
        problems.push(problem(
            ProblemSource::Schema,
            at,
            format!("service `{name}` has neither `image` nor `build`"),
        ));
    }
    problems
}

/// `line N, column M` in a CLI message (v1's YAML errors), the first one.
fn cli_location(message: &str) -> Option<(u32, u32)> {
    let at = message.find("line ")?;
    let rest = &message[at + 5..];
    let line: u32 = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let column = rest
        .find("column ")
        .and_then(|c| {
            rest[c + 7..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(1);
    Some((line, column))
}

/// The compose CLI's verdict on the files in `check` (a scratch folder holding them),
/// run as project `name` from `project_dir` (the stack's folder once it exists, so
/// its relative paths resolve as they will).
pub async fn cli(
    compose: &Compose,
    name: &str,
    project_dir: &Path,
    check: &Path,
    compose_file: &str,
    env: bool,
) -> Result<Validation, EngineError> {
    let env_file = check.join(".env");
    let mut args: Vec<&str> = Vec::new();
    let env_path = env_file.to_string_lossy();
    if env {
        args.extend(["--env-file", &env_path]);
    }
    args.extend(["config", "-q"]);
    let run = compose
        .run(
            name,
            project_dir,
            &check.join(compose_file),
            &args,
            Duration::from_secs(30),
        )
        .await?;
    let lines = |s: &str| -> Vec<String> {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if run.success {
        return Ok(Validation {
            valid: true,
            problems: Vec::new(),
            warnings: lines(&run.stderr),
        });
    }
    let said = lines(&run.stderr).join("\n");
    // The scratch folder's path means nothing to the user.
    let said = said.replace(&check.to_string_lossy().into_owned(), ".");
    Ok(Validation {
        valid: false,
        problems: vec![problem(ProblemSource::Compose, cli_location(&said), said)],
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_errors_have_their_line_and_column() {
        let p = shape("services:\n  web:\n    image: x\n   bad: [\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].source, ProblemSource::Yaml);
        assert!(p[0].line.is_some_and(|l| l >= 3), "{p:?}");
    }

    #[test]
    fn a_misspelt_option_is_found_at_its_line_with_the_meant_name() {
        let text = "services:\n  web:\n    imagee: busybox\n  db:\n    image: x\n";
        let p = shape(text);
        let typo = p
            .iter()
            .find(|p| p.message.contains("imagee"))
            .expect("typo found");
        assert_eq!((typo.line, typo.column), (Some(3), Some(5)));
        assert!(
            typo.message.contains("did you mean `image`"),
            "{}",
            typo.message
        );
        assert!(
            p.iter()
                .any(|p| p.message.contains("neither `image` nor `build`"))
        );
    }

    #[test]
    fn a_good_file_and_extensions_pass() {
        let text = "x-common: &c\n  restart: always\nservices:\n  web:\n    <<: *c\n    image: busybox\n    x-note: 1\nvolumes:\n  data:\n";
        assert_eq!(shape(text), Vec::<Problem>::new());
        assert!(!shape("services: {}\n").is_empty());
        assert!(!shape("- a\n- b\n").is_empty());
    }

    #[test]
    fn cli_messages_give_their_location() {
        let m = "yaml.parser.ParserError: while parsing a block mapping\n  in \"./docker-compose.yml\", line 3, column 3";
        assert_eq!(cli_location(m), Some((3, 3)));
        assert_eq!(
            cli_location("Unsupported config option for services.web: 'imagee'"),
            None
        );
    }
}
