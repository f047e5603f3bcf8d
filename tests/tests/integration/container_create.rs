//! `container.create` against the real engine: every setting of the form reaches
//! Docker, bad values are refused by field, host access needs an admin, and a
//! container whose start fails is not left behind.

use std::collections::BTreeMap;

use berth_client::ClientError;
use berth_protocol::api::catalogue::ContainerCreate;
use berth_protocol::api::containers::{CreateContainer, NewMount, PortMapping};
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
    let i = scope
        .docker
        .inspect_container(&first.id, None)
        .await
        .unwrap();
    let taken: u16 = i.network_settings.unwrap().ports.unwrap()["80/tcp"]
        .clone()
        .unwrap()[0]
        .host_port
        .clone()
        .unwrap()
        .parse()
        .unwrap();
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
