//! Compose stacks' files against the real compose CLI and Docker: created with an
//! error (refused at its line, kept as a draft), fixed, saved and rolled back through
//! its versions; listed beside an external project with their services' states (the
//! external one stopped through Docker, then adopted);
//! brought up, stopped and started as jobs — over `stack.output` with the CLI's output
//! streamed from a terminal, or queued by `stacks.stop` — and cancelled mid-way;
//! names and symbolic links that would leave the stacks directory refused; `.env`
//! values hidden from viewers, writing kept to admins; deleted after `compose down`.

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    JobsCancel, StacksAdopt, StacksCreate, StacksDelete, StacksGet, StacksHistory, StacksList,
    StacksRestoreVersion, StacksSave, StacksStop, StacksUp, StacksValidate,
};
use berth_protocol::api::jobs::{JobRef, JobState};
use berth_protocol::api::stacks::{
    ProblemSource, ServiceState, StackDelete, StackFiles, StackRef, VersionRef,
};
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::docker::{Scope, compose, ensure_test_image};
use berth_tests::jobs::code;
use berth_tests::ws;

/// A one-service stack labelled for the test's clean-up; `extra` goes into the service.
fn stack_file(image: &str, run: &str, extra: &str) -> String {
    format!(
        "services:\n  app:\n    image: {image}\n    init: true\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    labels: {{ berth.test: \"{run}\" }}\n{extra}networks:\n  default:\n    labels: {{ berth.test: \"{run}\" }}\n"
    )
}

fn files(name: &str, compose: &str, env: Option<&str>) -> StackFiles {
    StackFiles {
        name: name.to_owned(),
        compose: compose.to_owned(),
        env: env.map(str::to_owned),
        draft: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_is_validated_saved_versioned_listed_and_deleted() {
    let scope = Scope::new().await;
    let image = ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let name = scope.name("shop").to_lowercase().replace('.', "-");
    let good = stack_file(image, &scope.run, "");
    // A typo: refused at its line, with the option meant.
    let typo = good.replace("    init: true\n", "    init: true\n    imagee: x\n");
    let refused = admin.call::<StacksCreate>(files(&name, &typo, None)).await;
    assert_eq!(code(&refused), Some(ErrorCode::BadRequest));
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("line 5") && message.contains("did you mean `image`"),
        "{message}"
    );
    let checked = admin
        .call::<StacksValidate>(files(&name, "services:\n  app: [\n", None))
        .await
        .unwrap();
    assert!(!checked.valid);
    assert_eq!(checked.problems[0].source, ProblemSource::Yaml);
    assert!(checked.problems[0].line.is_some());
    // The compose CLI's own check: a dependency on a service that does not exist.
    let dangling = good.replace(
        "    init: true\n",
        "    init: true\n    depends_on: [nope]\n",
    );
    let checked = admin
        .call::<StacksValidate>(files(&name, &dangling, None))
        .await
        .unwrap();
    assert!(!checked.valid, "{checked:?}");
    assert_eq!(checked.problems[0].source, ProblemSource::Compose);
    assert!(checked.problems[0].message.contains("nope"), "{checked:?}");
    // Kept as a draft when asked; then fixed.
    let draft = admin
        .call::<StacksCreate>(StackFiles {
            draft: true,
            ..files(&name, &typo, None)
        })
        .await
        .unwrap();
    assert!(draft.draft);
    let saved = admin
        .call::<StacksSave>(files(&name, &good, Some("PASSWORD=hunter2\n")))
        .await
        .unwrap();
    assert!(!saved.draft && saved.validation.valid, "{saved:?}");
    assert_eq!(saved.compose_file, "compose.yaml");
    let dir = std::path::PathBuf::from(&saved.dir);
    assert_eq!(
        std::fs::read_to_string(dir.join("compose.yaml")).unwrap(),
        good
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join(".env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, ".env is the owner's only");
    // Versions: the draft was replaced; restoring it keeps the current one too.
    let history = admin
        .call::<StacksHistory>(StackRef { name: name.clone() })
        .await
        .unwrap();
    assert_eq!(history.versions.len(), 1);
    assert_eq!(history.versions[0].compose, typo);
    assert_eq!(history.versions[0].by, "admin");
    let restored = admin
        .call::<StacksRestoreVersion>(VersionRef {
            name: name.clone(),
            id: history.versions[0].id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(restored.compose, typo);
    assert!(restored.draft);
    let history = admin
        .call::<StacksHistory>(StackRef { name: name.clone() })
        .await
        .unwrap();
    assert_eq!(history.versions[0].compose, good);
    assert!(!dir.join(".env").exists(), "the version had no .env");
    let env = Some("PASSWORD=hunter2\n");
    admin
        .call::<StacksSave>(files(&name, &good, env))
        .await
        .unwrap();
    admin
        .call::<StacksSave>(files(&name, &good, None))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join(".env")).unwrap(),
        "PASSWORD=hunter2\n",
        "env absent keeps .env"
    );
    listed_with_states_and_deleted(&scope, &berth, &admin, &name, &dir).await;
}

/// An external project: stopped through Docker (compose actions refused: Berth has
/// no file), then adopted — its file copied into the stacks directory — and deleted
/// as a managed stack.
async fn external_stopped_and_adopted(
    admin: &berth_client::Client,
    name: &str,
    dir: &std::path::Path,
) {
    let stack = || StackRef {
        name: name.to_owned(),
    };
    let job = admin.call::<StacksStop>(stack()).await.unwrap();
    let (state, message) = berth_tests::jobs::end_state(admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let listed = admin.call::<StacksList>(Empty {}).await.unwrap();
    let ext = listed.stacks.iter().find(|s| s.name == name).unwrap();
    assert_eq!((ext.managed, ext.state), (false, ServiceState::Stopped));
    let refused = admin.call::<StacksUp>(stack()).await;
    assert_eq!(code(&refused), Some(ErrorCode::BadRequest));
    std::fs::write(dir.join(".env"), "TOKEN=abc\n").unwrap();
    let adopted = admin.call::<StacksAdopt>(stack()).await.unwrap();
    assert_eq!(
        adopted.compose,
        std::fs::read_to_string(dir.join("compose.yaml")).unwrap()
    );
    assert_eq!(adopted.env.as_deref(), Some("TOKEN=abc\n"));
    let again = admin.call::<StacksAdopt>(stack()).await;
    assert_eq!(code(&again), Some(ErrorCode::Conflict), "adopted once");
    let listed = admin.call::<StacksList>(Empty {}).await.unwrap();
    let now = listed.stacks.iter().find(|s| s.name == name).unwrap();
    assert_eq!((now.managed, now.state), (true, ServiceState::Stopped));
    delete_after_down(admin, name).await;
}

/// Deletes stack `name` after `compose down` (its volumes too).
async fn delete_after_down(admin: &berth_client::Client, name: &str) {
    admin
        .call::<StacksDelete>(StackDelete {
            name: name.to_owned(),
            down: true,
            keep_volumes: false,
        })
        .await
        .unwrap();
}

/// Runs `action` on stack `name` over `stack.output`: its exit code and what it said.
async fn run_action(c: &berth_client::Client, name: &str, action: &str) -> (Option<i64>, String) {
    let (code, said, _) = run_action_job(c, name, action).await;
    (code, said)
}

/// [`run_action`], with the job that ran it.
async fn run_action_job(
    c: &berth_client::Client,
    name: &str,
    action: &str,
) -> (Option<i64>, String, String) {
    use tokio::io::AsyncReadExt;
    let mut channel = c
        .open_binary(
            "stack.output",
            serde_json::json!({"stack": name, "action": action}),
            Some(65536),
        )
        .await
        .unwrap();
    let mut said = Vec::new();
    tokio::time::timeout(berth_tests::jobs::WAIT, channel.read_to_end(&mut said))
        .await
        .expect("the action ends")
        .unwrap();
    let code = channel
        .close_payload()
        .and_then(|p| p["exit_code"].as_i64());
    let job = channel
        .close_payload()
        .and_then(|p| p["job"].as_str())
        .expect("the close names the job")
        .to_owned();
    (code, String::from_utf8_lossy(&said).into_owned(), job)
}

async fn listed_with_states_and_deleted(
    scope: &Scope,
    berth: &berth_tests::server::Berth,
    admin: &berth_client::Client,
    name: &str,
    dir: &std::path::Path,
) {
    let state_of = |l: &berth_protocol::api::stacks::StackList, n: &str| {
        l.stacks
            .iter()
            .find(|s| s.name == n)
            .map(|s| (s.managed, s.state))
    };
    let listed = admin.call::<StacksList>(Empty {}).await.unwrap();
    assert!(listed.compose.is_some(), "a compose CLI was found");
    let info = admin
        .call::<berth_protocol::api::catalogue::SystemInfo>(Empty {})
        .await
        .unwrap();
    assert_eq!(info.compose, listed.compose, "system.info names it too");
    let ready: serde_json::Value = reqwest::get(format!("{}/readyz", berth.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let check = ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "compose")
        .expect("a compose check");
    let cli = listed.compose.as_ref().unwrap();
    assert_eq!(
        check["detail"].as_str(),
        Some(format!("{} {}", cli.command, cli.version).as_str())
    );
    assert_eq!(
        state_of(&listed, name),
        Some((true, ServiceState::NotCreated))
    );
    // Up through `stack.output`, its output streamed from a terminal (the CLI draws
    // with escape sequences only there) and kept as a job's log in plain lines.
    let (exit, said, job) = run_action_job(admin, name, "up").await;
    assert_eq!(exit, Some(0), "{said}");
    assert!(said.contains("app"), "the CLI's output is streamed: {said}");
    assert!(
        said.contains("\x1b["),
        "the CLI ran in a terminal: {said:?}"
    );
    assert_eq!(
        berth_tests::jobs::end_state(admin, &job).await.0,
        JobState::Complete
    );
    let log = berth_tests::jobs::log_of(admin, &job).await;
    assert!(log[0].contains(" up -d"), "{log:?}");
    assert!(
        log.iter().any(|l| l.contains("app") && !l.contains('\x1b')),
        "{log:?}"
    );
    let outside = tempfile::tempdir().unwrap();
    let external = scope.name("ext").to_lowercase().replace('.', "-");
    std::fs::write(
        outside.path().join("compose.yaml"),
        stack_file(berth_tests::docker::TEST_IMAGE, &scope.run, ""),
    )
    .unwrap();
    compose(outside.path(), &external, &["up", "-d"]);
    let listed = admin.call::<StacksList>(Empty {}).await.unwrap();
    assert_eq!(state_of(&listed, name), Some((true, ServiceState::Running)));
    assert_eq!(
        state_of(&listed, &external),
        Some((false, ServiceState::Running))
    );
    let ext = listed.stacks.iter().find(|s| s.name == external).unwrap();
    assert_eq!(ext.services[0].name, "app");
    external_stopped_and_adopted(admin, &external, outside.path()).await;
    // `stacks.stop`: queued as a job, no channel needed.
    let job = admin
        .call::<StacksStop>(StackRef {
            name: name.to_owned(),
        })
        .await
        .unwrap();
    let (state, message) = berth_tests::jobs::end_state(admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{message}");
    let listed = admin.call::<StacksList>(Empty {}).await.unwrap();
    assert_eq!(state_of(&listed, name), Some((true, ServiceState::Stopped)));
    // Viewers see names, not values; only admins write.
    let viewer = ws::user(berth, admin, "vera", Role::Viewer).await;
    let operator = ws::user(berth, admin, "otto", Role::Operator).await;
    let seen = viewer
        .call::<StacksGet>(StackRef {
            name: name.to_owned(),
        })
        .await
        .unwrap();
    assert_eq!(seen.env.as_deref(), Some("PASSWORD=<redacted>"));
    assert!(seen.env_redacted);
    let good = seen.compose.clone();
    for c in [&viewer, &operator] {
        let r = c.call::<StacksSave>(files(name, &good, None)).await;
        assert_eq!(code(&r), Some(ErrorCode::Forbidden));
    }
    // Operators run actions; viewers do not.
    let (exit, said) = run_action(&operator, name, "start").await;
    assert_eq!(exit, Some(0), "{said}");
    let refused = viewer
        .call::<StacksUp>(StackRef {
            name: name.to_owned(),
        })
        .await;
    assert_eq!(code(&refused), Some(ErrorCode::Forbidden));
    let denied = viewer
        .open_binary(
            "stack.output",
            serde_json::json!({"stack": name, "action": "stop"}),
            None,
        )
        .await;
    assert_eq!(code(&denied), Some(ErrorCode::Forbidden));
    delete_after_down(admin, name).await;
    assert!(!dir.exists());
    let listed = admin.call::<StacksList>(Empty {}).await.unwrap();
    assert_eq!(state_of(&listed, name), None, "no folder, no containers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_links_that_leave_the_stacks_directory_are_refused() {
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let compose = "services:\n  app:\n    image: x\n";
    for bad in ["../escape", "a/b", "..", ".hidden", "Upper", ""] {
        let r = admin.call::<StacksCreate>(files(bad, compose, None)).await;
        assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{bad:?}");
        let r = admin
            .call::<StacksGet>(StackRef {
                name: bad.to_owned(),
            })
            .await;
        assert_eq!(code(&r), Some(ErrorCode::BadRequest), "{bad:?}");
    }
    assert!(!berth.data_dir.join("escape").exists());
    // A stack folder that is a link out of the directory, and a linked `.env`.
    let stacks = berth.data_dir.join("stacks");
    std::fs::create_dir_all(&stacks).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("compose.yaml"), compose).unwrap();
    std::fs::write(outside.path().join("secret"), "ROOT=1").unwrap();
    std::os::unix::fs::symlink(outside.path(), stacks.join("linked")).unwrap();
    let r = admin
        .call::<StacksGet>(StackRef {
            name: "linked".into(),
        })
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden));
    let r = admin
        .call::<StacksSave>(files("linked", compose, None))
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden));
    std::fs::create_dir(stacks.join("real")).unwrap();
    std::fs::write(stacks.join("real/compose.yaml"), compose).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), stacks.join("real/.env")).unwrap();
    let r = admin
        .call::<StacksGet>(StackRef {
            name: "real".into(),
        })
        .await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden));
    let r = admin
        .call::<StacksSave>(files("real", compose, Some("X=1")))
        .await;
    assert!(r.is_err());
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret")).unwrap(),
        "ROOT=1"
    );
    let r = admin
        .call::<StacksGet>(StackRef {
            name: "none".into(),
        })
        .await;
    assert_eq!(code(&r), Some(ErrorCode::NotFound));
}

/// A stack whose `up` waits for a health check that never passes: the job is
/// cancelled, the CLI stopped, and what it was waiting for is left to `down`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_action_stops_the_compose_cli() {
    let scope = Scope::new().await;
    let image = ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let name = scope.name("wait").to_lowercase().replace('.', "-");
    let waits = format!(
        "    depends_on:\n      db: {{ condition: service_healthy }}\n  db:\n    image: {image}\n    init: true\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    labels: {{ berth.test: \"{run}\" }}\n    healthcheck: {{ test: [\"CMD\", \"false\"], interval: 1h, start_period: 1h }}\n",
        run = scope.run,
    );
    let file = stack_file(image, &scope.run, &waits);
    admin
        .call::<StacksCreate>(files(&name, &file, None))
        .await
        .unwrap();
    let job = admin
        .call::<StacksUp>(StackRef { name: name.clone() })
        .await
        .unwrap();
    // `up` waits on `db`'s health once `db` runs.
    let db_running = || async {
        let filters = std::collections::HashMap::from([(
            "label".to_owned(),
            vec![
                format!("com.docker.compose.project={name}"),
                "com.docker.compose.service=db".to_owned(),
            ],
        )]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .filters(&filters)
            .build();
        let listed = scope.docker.list_containers(Some(options)).await.unwrap();
        !listed.is_empty()
    };
    tokio::time::timeout(berth_tests::jobs::WAIT, async {
        while !db_running().await {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("db starts");
    admin
        .call::<JobsCancel>(JobRef { id: job.id.clone() })
        .await
        .unwrap();
    let (state, message) = berth_tests::jobs::end_state(&admin, &job.id).await;
    assert_eq!(state, JobState::Cancelled, "{message}");
    let left = std::process::Command::new("pgrep")
        .args(["-f", &format!("p {name} -f")])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "no compose CLI is left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    delete_after_down(&admin, &name).await;
}

/// Pull and update for real: a stack's image lives in a registry on loopback; a new
/// image pushed under the same tag reaches the service through `stacks.pull` then
/// `stacks.up`, and the job logs say what compose did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_then_up_moves_a_service_to_the_new_image() {
    use berth_tests::registry::{Registry, docker};
    let scope = Scope::new().await;
    let base = ensure_test_image(&scope.docker).await;
    let registry = Registry::start();
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let reference = format!("{}/berth-test/app-{}:latest", registry.host, scope.run);
    // The host keeps v1 under the tag: only a pull brings v2 back.
    let (v1, v2) = berth_tests::registry::second_version_in_registry(
        base,
        &reference,
        &scope.name("v2"),
        &format!("berth.test={}", scope.run),
    );
    let name = scope.name("pull").to_lowercase().replace('.', "-");
    admin
        .call::<StacksCreate>(files(&name, &stack_file(&reference, &scope.run, ""), None))
        .await
        .unwrap();
    let image_of_app = || {
        docker(&[
            "ps",
            "--filter",
            &format!("label=com.docker.compose.project={name}"),
            "--format",
            "{{.ID}}",
        ])
    };
    let run = |action: &'static str| {
        let (admin, name) = (admin.clone(), name.clone());
        async move {
            let stack = StackRef { name };
            let job = match action {
                "pull" => {
                    admin
                        .call::<berth_protocol::api::catalogue::StacksPull>(stack)
                        .await
                }
                _ => admin.call::<StacksUp>(stack).await,
            }
            .unwrap();
            let (state, message) = berth_tests::jobs::end_state(&admin, &job.id).await;
            assert_eq!(state, JobState::Complete, "{action}: {message}");
            berth_tests::jobs::log_of(&admin, &job.id).await.join("\n")
        }
    };
    run("up").await;
    let running = docker(&["inspect", "-f", "{{.Image}}", &image_of_app()]);
    assert_eq!(running, v1);
    let pulled = run("pull").await;
    assert!(
        pulled.contains("app"),
        "compose said what it pulled: {pulled}"
    );
    assert_eq!(
        docker(&["image", "inspect", "-f", "{{.Id}}", &reference]),
        v2,
        "the pull brought the new image: {pulled}"
    );
    let updated = run("up").await;
    let running = docker(&["inspect", "-f", "{{.Image}}", &image_of_app()]);
    assert_eq!(running, v2, "up recreated the service on it: {updated}");
    delete_after_down(&admin, &name).await;
    docker(&["rmi", &reference]);
}
