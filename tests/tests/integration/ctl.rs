//! `berth ctl` against a running server: login saves a 0600 token, every subcommand
//! works, `--json` is parseable, and exit codes tell scripts what went wrong.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Output, Stdio};

use berth_tests::server::berth_command;
use berth_tests::ws::{self, ADMIN_PASSWORD};
use serde_json::Value;

fn ctl(config: &std::path::Path, url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = berth_command()
        .arg("ctl")
        .arg("--url")
        .arg(url)
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// A ctl configuration directory logged in as the first admin.
fn logged_in(berth: &berth_tests::server::Berth) -> tempfile::TempDir {
    let cfg = tempfile::tempdir().unwrap();
    let login = &["login", "--user", "admin", "--password-stdin"];
    let o = ctl(
        cfg.path(),
        &berth.url,
        login,
        &format!("{ADMIN_PASSWORD}\n"),
    );
    assert!(o.status.success());
    cfg
}

#[tokio::test]
async fn ctl_logs_in_calls_watches_and_manages_tokens_users_and_audit() {
    let (_tmp, berth) = ws::start().await;
    let cfg = tempfile::tempdir().unwrap();
    let c = cfg.path();
    let url = berth.url.as_str();

    let o = ctl(c, url, &["whoami"], "");
    assert_eq!(o.status.code(), Some(3), "not logged in");
    let o = ctl(
        c,
        url,
        &["login", "--user", "admin", "--password-stdin"],
        "wrong-password\n",
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = ctl(
        c,
        url,
        &["login", "--user", "admin", "--password-stdin"],
        &format!("{ADMIN_PASSWORD}\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved = c.join("berth/credentials.json");
    assert_eq!(
        std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let creds: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert!(creds["token"].as_str().unwrap().starts_with("berth_"));

    let me = ok_json(&ctl(c, url, &["whoami", "--json"], ""));
    assert_eq!(
        (
            me["user"]["name"].as_str(),
            me["credential"]["kind"].as_str()
        ),
        (Some("admin"), Some("token"))
    );
    let info = ok_json(&ctl(c, url, &["call", "system.info"], ""));
    assert_eq!(info["version"], berth_server::VERSION);
    let o = ctl(
        c,
        url,
        &["call", "users.create", r#"{"role":"viewer"}"#],
        "",
    );
    assert_eq!(o.status.code(), Some(2), "bad params");
    let o = ctl(c, url, &["call", "system.info", "[1]"], "");
    assert_eq!(o.status.code(), Some(2), "params must be an object");

    let o = ctl(c, url, &["watch", "system.stats", "--count", "2"], "");
    assert!(o.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1]["ts_ms"].as_u64() > lines[0]["ts_ms"].as_u64());

    let o = ctl(
        c,
        url,
        &["users", "create", "vera", "--role", "viewer"],
        "password-of-vera\n",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let users = ok_json(&ctl(c, url, &["users", "list", "--json"], ""));
    assert_eq!(users["users"].as_array().unwrap().len(), 2);

    let t = ok_json(&ctl(
        c,
        url,
        &[
            "tokens",
            "create",
            "backup-bot",
            "--role",
            "viewer",
            "--json",
        ],
        "",
    ));
    let secret = t["secret"].as_str().unwrap().to_owned();
    let id = t["token"]["id"].as_str().unwrap().to_owned();
    // A viewer token may not create users: exit 3.
    let o = ctl(c, url, &["--token", &secret, "users", "list"], "");
    assert_eq!(o.status.code(), Some(3));
    let listed = ok_json(&ctl(c, url, &["tokens", "list", "--json"], ""));
    assert!(
        listed["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "backup-bot")
    );
    assert!(ctl(c, url, &["tokens", "revoke", &id], "").status.success());
    let o = ctl(c, url, &["--token", &secret, "whoami"], "");
    assert_eq!(o.status.code(), Some(3), "revoked token");

    let o = ctl(
        c,
        url,
        &["audit", "--export", "csv", "--method", "users."],
        "",
    );
    assert!(o.status.success());
    let csv = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(csv.starts_with("id,time,actor"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.contains("users.create") && l.contains("vera")),
        "{csv}"
    );

    assert!(ctl(c, url, &["logout"], "").status.success());
    assert!(!saved.exists());
    assert_eq!(ctl(c, url, &["whoami"], "").status.code(), Some(3));
    // Nobody listening: exit 4.
    assert_eq!(
        ctl(
            c,
            "http://127.0.0.1:9",
            &["--token", "berth_x", "whoami"],
            ""
        )
        .status
        .code(),
        Some(4)
    );
}

#[tokio::test]
async fn ctl_validates_creates_saves_and_lists_stacks() {
    let (_tmp, berth) = ws::start().await;
    let cfg = logged_in(&berth);
    let (c, url) = (cfg.path(), berth.url.as_str());
    let files = tempfile::tempdir().unwrap();
    let (typo, good) = (
        files.path().join("typo.yaml"),
        files.path().join("good.yaml"),
    );
    std::fs::write(&typo, "services:\n  web:\n    imagee: x\n").unwrap();
    std::fs::write(&good, "services:\n  web:\n    image: x\n").unwrap();
    let o = ctl(
        c,
        url,
        &["stacks", "validate", "web", typo.to_str().unwrap()],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("3:5: Schema: unknown option `imagee`"),
        "{said}"
    );
    let good = good.to_str().unwrap();
    assert!(
        ctl(c, url, &["stacks", "create", "web", good], "")
            .status
            .success()
    );
    let o = ctl(c, url, &["stacks", "get", "web"], "");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "services:\n  web:\n    image: x\n"
    );
    let typo = typo.to_str().unwrap();
    assert!(
        ctl(c, url, &["stacks", "save", "web", typo, "--draft"], "")
            .status
            .success()
    );
    let history = ok_json(&ctl(c, url, &["stacks", "history", "web", "--json"], ""));
    let id = history["versions"][0]["id"].as_str().unwrap().to_owned();
    assert!(
        ctl(c, url, &["stacks", "restore", "web", &id], "")
            .status
            .success()
    );
    let listed = ok_json(&ctl(c, url, &["stacks", "list", "--json"], ""));
    let web = &listed["stacks"][0];
    assert_eq!(
        (web["name"].as_str(), web["managed"].as_bool()),
        (Some("web"), Some(true))
    );
    assert_eq!(
        web["draft"].as_bool(),
        None,
        "the restored version validates"
    );
    // Actions: streamed (the exit code compose's) or queued as a job.
    let o = ctl(c, url, &["stacks", "stop", "web"], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let queued = ok_json(&ctl(
        c,
        url,
        &["stacks", "stop", "web", "--detach", "--json"],
        "",
    ));
    assert!(queued["id"].as_str().is_some_and(|id| id.starts_with("j-")));
    // `docker run` → compose, what compose cannot say on stderr.
    let o = ctl(
        c,
        url,
        &["stacks", "convert-run", "-"],
        "docker run --rm -p 8080:80 --name web nginx\n",
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("container_name: web"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not converted: --rm"));
    assert!(
        ctl(c, url, &["stacks", "delete", "web"], "")
            .status
            .success()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_shows_a_stacks_logs_by_service_in_time_order() {
    let scope = berth_tests::docker::Scope::new().await;
    let image = berth_tests::docker::ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let cfg = logged_in(&berth);
    let (c, url) = (cfg.path(), berth.url.as_str());
    let name = scope.name("logs").to_lowercase().replace('.', "-");
    let service = |s: &str| {
        format!(
            "  {s}:\n    image: {image}\n    init: true\n    command: [\"sh\", \"-c\", \"echo {s}-says-1; echo {s}-says-2; while true; do sleep 1; done\"]\n    labels: {{ berth.test: \"{}\" }}\n",
            scope.run
        )
    };
    let file = cfg.path().join("compose.yaml");
    std::fs::write(
        &file,
        format!(
            "services:\n{}{}networks:\n  default:\n    labels: {{ berth.test: \"{}\" }}\n",
            service("one"),
            service("two"),
            scope.run
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    assert!(
        ctl(c, url, &["stacks", "create", &name, file], "")
            .status
            .success()
    );
    let o = ctl(c, url, &["stacks", "up", &name], "");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The containers print as they start: asked again until all four lines are there.
    let mut shown = String::new();
    for _ in 0..50 {
        let o = ctl(c, url, &["stacks", "logs", &name, "--timestamps"], "");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        shown = String::from_utf8_lossy(&o.stdout).into_owned();
        if shown.lines().count() >= 4 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 4, "{shown}");
    for s in ["one", "two"] {
        for n in [1, 2] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("{s} | "))
                        && l.ends_with(&format!("{s}-says-{n}"))),
                "{shown}"
            );
        }
    }
    let keys: Vec<String> = lines
        .iter()
        .map(|l| berth_protocol::api::streams::log_sort_key(&l[6..]).0)
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] <= w[1]),
        "in time order: {shown}"
    );
    let o = ctl(
        c,
        url,
        &["stacks", "logs", &name, "--service", "two", "--tail", "1"],
        "",
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "two | two-says-2\n");
    let o = ctl(c, url, &["stacks", "logs", "nothing-here"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        ctl(c, url, &["stacks", "delete", &name, "--down"], "")
            .status
            .success()
    );
}
