//! What viewers do not see of a container: environment values (always), and labels
//! and command-line arguments that look like secrets — `traefik…basicauth.users=…`,
//! `--db-password=…`, `PGPASSWORD=… pg_dump` inside `sh -c`, credentials in URLs.
//! Heuristic by nature: it errs towards hiding.

const REDACTED: &str = "<redacted>";

/// Words that mark a name as holding a secret.
const SECRET_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "credential",
    "private",
    "auth",
    "cookie",
    "session",
    "signature",
];

/// Whether a label key, variable name or option name names a secret.
pub fn secret_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// `scheme://user:password@host` → `scheme://user:<redacted>@host`.
fn url_credentials(word: &str) -> Option<String> {
    let (scheme, rest) = word.split_once("://")?;
    let (auth, host) = rest.split_once('@')?;
    let (user, _) = auth.split_once(':')?;
    Some(format!("{scheme}://{user}:{REDACTED}@{host}"))
}

/// One argument (or shell line) with secret-looking values hidden: `NAME=value` and
/// `--name=value` words whose name looks secret, and credentials in URLs.
fn redact_words(arg: &str) -> String {
    arg.split(' ')
        .map(|w| {
            if let Some(u) = url_credentials(w) {
                return u;
            }
            match w.split_once('=') {
                Some((k, _)) if secret_like(k.trim_start_matches('-')) => {
                    format!("{k}={REDACTED}")
                }
                _ => w.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command line with secret-looking arguments hidden; `--password value` hides the
/// value that follows a secret-looking option.
pub fn redact_command(args: &mut [String]) {
    let mut hide_next = false;
    for a in args.iter_mut() {
        if hide_next && !a.starts_with('-') {
            *a = REDACTED.to_owned();
            hide_next = false;
            continue;
        }
        hide_next =
            a.starts_with('-') && !a.contains('=') && secret_like(a.trim_start_matches('-'));
        *a = redact_words(a);
    }
}

/// Label values whose key looks secret (or that carry URL credentials).
pub fn redact_labels<'a>(labels: impl Iterator<Item = (&'a String, &'a mut String)>) {
    for (k, v) in labels {
        if secret_like(k) {
            *v = REDACTED.to_owned();
        } else {
            *v = redact_words(v);
        }
    }
}

/// A viewer's copy of an inspect document: every environment value, and the secret-
/// looking labels and arguments.
pub fn redact_inspect(inspect: &mut serde_json::Value) {
    if let Some(env) = inspect
        .pointer_mut("/Config/Env")
        .and_then(|e| e.as_array_mut())
    {
        for e in env {
            if let Some(s) = e.as_str() {
                let key = s.split_once('=').map_or(s, |(k, _)| k);
                *e = serde_json::Value::String(format!("{key}={REDACTED}"));
            }
        }
    }
    if let Some(labels) = inspect
        .pointer_mut("/Config/Labels")
        .and_then(|l| l.as_object_mut())
    {
        for (k, v) in labels.iter_mut() {
            if let Some(s) = v.as_str() {
                let mut s = s.to_owned();
                redact_labels(std::iter::once((k, &mut s)));
                *v = serde_json::Value::String(s);
            }
        }
    }
    for ptr in ["/Config/Cmd", "/Config/Entrypoint", "/Args"] {
        if let Some(list) = inspect.pointer_mut(ptr).and_then(|c| c.as_array_mut()) {
            let mut args: Vec<String> = list
                .iter()
                .map(|a| a.as_str().unwrap_or_default().to_owned())
                .collect();
            redact_command(&mut args);
            *list = args.into_iter().map(serde_json::Value::String).collect();
        }
    }
}

/// A viewer's copy of a volume's inspect document: every driver option's value (a
/// CIFS or NFS mount's `o` carries its password among commas) and the secret-looking
/// labels.
pub fn redact_volume(inspect: &mut serde_json::Value) {
    if let Some(options) = inspect
        .pointer_mut("/Options")
        .and_then(|o| o.as_object_mut())
    {
        for v in options.values_mut() {
            *v = serde_json::Value::String(REDACTED.to_owned());
        }
    }
    if let Some(labels) = inspect
        .pointer_mut("/Labels")
        .and_then(|l| l.as_object_mut())
    {
        for (k, v) in labels.iter_mut() {
            if let Some(s) = v.as_str() {
                let mut s = s.to_owned();
                redact_labels(std::iter::once((k, &mut s)));
                *v = serde_json::Value::String(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_labels_and_command_lines_are_hidden_the_rest_kept() {
        let mut v = serde_json::json!({
            "Config": {
                "Env": ["PASSWORD=hunter2", "FLAG=1"],
                "Labels": {
                    "traefik.http.middlewares.a.basicauth.users": "admin:$apr1$x",
                    "com.docker.compose.project": "shop",
                    "backup.target": "s3://key:sekrit@bucket"
                },
                "Cmd": ["sh", "-c", "PGPASSWORD=hunter2 pg_dump -h db", "--db-password=hunter2",
                        "--api-token", "hunter2", "--port", "5432"],
                "Entrypoint": ["/entry"]
            },
            "Args": ["--secret=hunter2"]
        });
        redact_inspect(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("sekrit") && !text.contains("apr1"),
            "{text}"
        );
        assert_eq!(v["Config"]["Labels"]["com.docker.compose.project"], "shop");
        assert_eq!(
            v["Config"]["Labels"]["backup.target"],
            "s3://key:<redacted>@bucket"
        );
        assert_eq!(v["Config"]["Cmd"][2], "PGPASSWORD=<redacted> pg_dump -h db");
        assert_eq!(v["Config"]["Cmd"][7], "5432", "ordinary arguments stay");
        assert_eq!(v["Config"]["Env"][1], "FLAG=<redacted>");
    }

    #[test]
    fn a_volumes_mount_options_are_hidden_from_viewers() {
        let mut v = serde_json::json!({
            "Name": "share",
            "Options": {"type": "cifs", "o": "addr=nas,username=bob,password=hunter2"},
            "Labels": {"db_password": "hunter3", "team": "infra"}
        });
        redact_volume(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("hunter3"),
            "{text}"
        );
        assert_eq!(v["Labels"]["team"], "infra");
        assert_eq!(v["Name"], "share");
    }
}
