//! `container.create` and `container.edit` against the real engine: every setting of
//! the form reaches Docker, bad values are refused by field, host access needs an
//! admin, a container whose start fails is not left behind, and an edit keeps data
//! and settings the form does not show.

use std::collections::BTreeMap;

use berth_client::ClientError;
use berth_protocol::api::catalogue::{ContainerCreate, ContainerEdit};
use berth_protocol::api::containers::{CreateContainer, EditContainer, NewMount, PortMapping};
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::docker::{LABEL, Scope, TEST_IMAGE, ensure_test_image};
use berth_tests::ws;
use bollard::models::RestartPolicyNameEnum;

fn code(r: &Result<impl std::fmt::Debug, ClientError>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(|e| e.body()).map(|b| b.code)
}

fn field(r: &Result<impl std::fmt::Debug, ClientError>) -> String {
    let body = r.as_ref().err().and_then(|e| e.body()).expect("an error");
    body.details
        .as_ref()
        .and_then(|d| d["field"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The smallest request this scope cleans up after.
fn request(scope: &Scope, base: &str) -> CreateContainer {
    CreateContainer {
        host: None,
        image: TEST_IMAGE.to_owned(),
        name: Some(scope.name(base)),
        command: vec![
            "sh".into(),
            "-c".into(),
            "trap 'exit 0' TERM; while true; do sleep 0.2; done".into(),
        ],
        env: BTreeMap::new(),
        ports: Vec::new(),
        mounts: Vec::new(),
        restart: None,
        network: None,
        labels: BTreeMap::from([(LABEL.to_owned(), scope.run.clone())]),
        start: true,
    }
}

#[tokio::test]
async fn an_operator_creates_a_running_container_with_every_setting() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let viewer = ws::user(&berth, &admin, "vera", Role::Viewer).await;
    let (volume, network) = (
        scope.create_volume("made-data").await,
        scope.create_network("made-net").await,
    );
    let mut full = request(&scope, "made");
    full.env.insert("GREETING".into(), "hello world".into());
    full.ports.push(PortMapping {
        private: 80,
        public: None,
        ip: Some("127.0.0.1".into()),
        proto: "tcp".into(),
    });
    full.mounts.push(NewMount {
        source: volume.clone(),
        target: "/data".into(),
        read_only: true,
    });
    full.restart = Some("unless-stopped".into());
    full.network = Some(network.clone());
    full.labels.insert("team".into(), "infra".into());
    assert_eq!(
        code(&viewer.call::<ContainerCreate>(full.clone()).await),
        Some(ErrorCode::Forbidden)
    );
    let made = op.call::<ContainerCreate>(full.clone()).await.unwrap();
    assert_eq!(
        (made.name.as_str(), made.state.as_str()),
        (scope.name("made").as_str(), "running")
    );
    let i = scope
        .docker
        .inspect_container(&made.id, None)
        .await
        .unwrap();
    let config = i.config.unwrap();
    assert!(
        config
            .env
            .unwrap()
            .contains(&"GREETING=hello world".to_owned())
    );
    assert_eq!(config.labels.unwrap()["team"], "infra");
    assert_eq!(config.cmd.unwrap()[0], "sh");
    let host = i.host_config.unwrap();
    assert_eq!(
        host.restart_policy.unwrap().name,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED)
    );
    let bound = host.port_bindings.unwrap()["80/tcp"].clone().unwrap();
    assert_eq!(bound[0].host_ip.as_deref(), Some("127.0.0.1"));
    let mount = &i.mounts.unwrap()[0];
    assert_eq!(
        (mount.name.as_deref(), mount.rw),
        (Some(volume.as_str()), Some(false))
    );
    assert_eq!(mount.typ.as_deref(), Some("volume"));
    let networks = i.network_settings.unwrap().networks.unwrap();
    assert!(networks.contains_key(&network), "{networks:?}");

    // The same name again: Docker's conflict, with its message.
    let again = op.call::<ContainerCreate>(full.clone()).await;
    assert_eq!(code(&again), Some(ErrorCode::Conflict), "{again:?}");

    // Not started when asked so.
    let mut idle = request(&scope, "idle");
    idle.start = false;
    let idle = op.call::<ContainerCreate>(idle).await.unwrap();
    assert_eq!(idle.state, "created");
}

#[tokio::test]
async fn bad_values_and_host_access_are_refused_and_a_failed_start_leaves_nothing() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let refused = |change: fn(&mut CreateContainer)| {
        let mut r = request(&scope, "refused");
        change(&mut r);
        r
    };
    for (expected, change) in [
        (
            "labels",
            (|r| drop(r.labels.insert("dev.berth.helper".into(), "1".into())))
                as fn(&mut CreateContainer),
        ),
        ("name", |r| r.name = Some("../x".into())),
        ("env", |r| drop(r.env.insert("A B".into(), "1".into()))),
        ("restart", |r| r.restart = Some("sometimes".into())),
        ("mounts", |r| {
            r.mounts.push(NewMount {
                source: "v".into(),
                target: "relative".into(),
                read_only: false,
            })
        }),
    ] {
        let answer = op.call::<ContainerCreate>(refused(change)).await;
        assert_eq!(
            code(&answer),
            Some(ErrorCode::BadRequest),
            "{expected}: {answer:?}"
        );
        assert_eq!(field(&answer), expected);
    }
    // An image that is not here: pulling is image.pull's job.
    let missing = op
        .call::<ContainerCreate>(refused(|r| r.image = "berth-test/not-here:1".into()))
        .await;
    assert_eq!(code(&missing), Some(ErrorCode::NotFound));
    assert!(
        format!("{missing:?}").contains("pull it first"),
        "{missing:?}"
    );
    // Host paths and the host network are an admin's.
    let host_path = |r: &mut CreateContainer| {
        r.mounts.push(NewMount {
            source: "/etc".into(),
            target: "/host-etc".into(),
            read_only: true,
        })
    };
    let as_operator = op.call::<ContainerCreate>(refused(host_path)).await;
    assert_eq!(
        code(&as_operator),
        Some(ErrorCode::Forbidden),
        "{as_operator:?}"
    );
    let host_net = op
        .call::<ContainerCreate>(refused(|r| r.network = Some("host".into())))
        .await;
    assert_eq!(code(&host_net), Some(ErrorCode::Forbidden), "{host_net:?}");
    let mut by_admin = refused(host_path);
    by_admin.start = false;
    admin.call::<ContainerCreate>(by_admin).await.unwrap();
    let docker = scope.docker.clone();
    let exists = |base: &str| {
        let (name, docker) = (scope.name(base), docker.clone());
        async move { docker.inspect_container(&name, None).await.is_ok() }
    };
    assert!(exists("refused").await);

    // A start that fails (the host port is taken by the first container): Docker's
    // reason, and the second container is removed again.
    let mut first = request(&scope, "port-owner");
    first.ports.push(PortMapping {
        private: 80,
        public: None,
        ip: Some("127.0.0.1".into()),
        proto: "tcp".into(),
    });
    let first = op.call::<ContainerCreate>(first).await.unwrap();
    let taken = published_port(&scope, &first.id).await;
    let mut second = request(&scope, "port-taker");
    second.ports.push(PortMapping {
        private: 80,
        public: Some(taken),
        ip: Some("127.0.0.1".into()),
        proto: "tcp".into(),
    });
    let failed = op.call::<ContainerCreate>(second).await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(
        format!("{failed:?}").contains("allocated") || format!("{failed:?}").contains("in use"),
        "{failed:?}"
    );
    assert!(
        !exists("port-taker").await,
        "the container that could not start is gone"
    );
}

/// The host port Docker gave `id`'s private port 80.
async fn published_port(scope: &Scope, id: &str) -> u16 {
    let i = scope.docker.inspect_container(id, None).await.unwrap();
    i.network_settings.unwrap().ports.unwrap()["80/tcp"]
        .clone()
        .unwrap()[0]
        .host_port
        .clone()
        .unwrap()
        .parse()
        .unwrap()
}

/// An edit recreates the container in place: the form's fields change; what the form
/// does not carry (a memory limit), its volumes' data (anonymous ones too) and a host
/// path it already mounted stay — the last without admin; a failed edit puts the
/// old container back; renames, new host paths and compose projects' containers are
/// refused.
#[tokio::test]
async fn an_operator_edits_a_container_keeping_its_data_and_hidden_settings() {
    let scope = Scope::new().await;
    ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let op = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let volume = scope.create_volume("edit-data").await;
    let host_dir = tempfile::tempdir().unwrap();
    let host_path = host_dir.path().display().to_string();
    let name = scope.name("edited");
    let old_id = scope
        .container("edited")
        .volume(&volume, "/data")
        .anonymous_volume("/cache")
        .tmpfs("/scratch")
        .bind(&format!("{host_path}:/host"))
        .memory(64 << 20)
        .env("GREETING=old")
        .sh("trap 'exit 0' TERM; while true; do sleep 0.2; done")
        .start()
        .await;
    let write = [
        "sh",
        "-c",
        "echo kept > /data/file && echo anon > /cache/file",
    ];
    assert_eq!(scope.exec(&old_id, &write).await, 0);

    let mut settings = request(&scope, "edited");
    settings.env.insert("GREETING".into(), "new".into());
    settings.mounts = vec![
        NewMount {
            source: volume.clone(),
            target: "/data".into(),
            read_only: false,
        },
        NewMount {
            source: host_path.clone(),
            target: "/host".into(),
            read_only: true,
        },
    ];
    let edit = |settings: CreateContainer, id: &str| EditContainer {
        id: id.to_owned(),
        settings,
    };
    let edited = op
        .call::<ContainerEdit>(edit(settings.clone(), &old_id))
        .await
        .unwrap();
    assert_ne!(edited.id, old_id);
    assert_eq!(edited.name, name);
    let new = scope.docker.inspect_container(&name, None).await.unwrap();
    assert_eq!(new.id.as_deref(), Some(edited.id.as_str()));
    assert_eq!(new.state.unwrap().running, Some(true));
    assert!(
        new.config
            .unwrap()
            .env
            .unwrap()
            .contains(&"GREETING=new".to_owned())
    );
    assert_eq!(new.host_config.unwrap().memory, Some(64 << 20), "kept");
    let new_mounts = new.mounts.unwrap();
    let host_mount = new_mounts
        .iter()
        .find(|m| m.destination.as_deref() == Some("/host"))
        .unwrap();
    assert_eq!(host_mount.rw, Some(false));
    let kinds: Vec<_> = new_mounts
        .iter()
        .map(|m| (m.destination.clone().unwrap_or_default(), m.typ.clone()))
        .collect();
    assert!(
        kinds
            .iter()
            .any(|(d, t)| d == "/scratch" && t.as_deref() == Some("tmpfs")),
        "the tmpfs stayed: {kinds:?}"
    );
    let read = [
        "sh",
        "-c",
        "grep -q kept /data/file && grep -q anon /cache/file",
    ];
    assert_eq!(scope.exec(&edited.id, &read).await, 0, "the data stayed");
    assert!(scope.docker.inspect_container(&old_id, None).await.is_err());

    // Refused: another name, a host path it did not have, a compose project's.
    let mut renamed = settings.clone();
    renamed.name = Some(scope.name("other"));
    let r = op.call::<ContainerEdit>(edit(renamed, &edited.id)).await;
    assert_eq!(
        (code(&r), field(&r).as_str()),
        (Some(ErrorCode::BadRequest), "name")
    );
    let mut wider = settings.clone();
    wider.mounts.push(NewMount {
        source: "/etc".into(),
        target: "/etc-of-host".into(),
        read_only: true,
    });
    let r = op.call::<ContainerEdit>(edit(wider, &edited.id)).await;
    assert_eq!(code(&r), Some(ErrorCode::Forbidden), "{r:?}");
    let composed = scope
        .container("composed")
        .label("com.docker.compose.project", &scope.run)
        .sh("sleep 600")
        .create()
        .await;
    let r = op
        .call::<ContainerEdit>(edit(settings.clone(), &composed))
        .await;
    assert!(format!("{r:?}").contains("compose file"), "{r:?}");

    // A failed edit (the new port is taken): the old container is back, running.
    let mut owner = request(&scope, "port-owner");
    owner.ports.push(PortMapping {
        private: 80,
        public: None,
        ip: Some("127.0.0.1".into()),
        proto: "tcp".into(),
    });
    let owner = op.call::<ContainerCreate>(owner).await.unwrap();
    let mut clash = settings;
    clash.ports.push(PortMapping {
        private: 80,
        public: Some(published_port(&scope, &owner.id).await),
        ip: Some("127.0.0.1".into()),
        proto: "tcp".into(),
    });
    let r = op.call::<ContainerEdit>(edit(clash, &edited.id)).await;
    assert!(r.is_err(), "{r:?}");
    let back = scope.docker.inspect_container(&name, None).await.unwrap();
    assert_eq!(
        back.id.as_deref(),
        Some(edited.id.as_str()),
        "the same container"
    );
    assert_eq!(back.state.unwrap().running, Some(true));
}
