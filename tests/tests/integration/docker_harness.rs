//! The harness's Docker fixture against the real engine: the offline image, a labelled
//! container that starts and stops, and cleanup when the scope drops.

use berth_tests::docker::{LABEL, Scope};
use bollard::query_parameters::{InspectContainerOptions, StopContainerOptionsBuilder};

#[tokio::test]
async fn a_labelled_container_starts_stops_and_is_cleaned_up() {
    let scope = Scope::new().await;
    let docker = scope.docker.clone();
    let id = scope
        .create_container(
            "sleeper",
            &[
                "sh",
                "-c",
                "trap 'exit 0' TERM; while true; do sleep 1; done",
            ],
        )
        .await;
    docker.start_container(&id, None).await.expect("start");
    let state = docker
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .unwrap();
    assert_eq!(state.state.as_ref().and_then(|s| s.running), Some(true));
    assert_eq!(
        state
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default()
            .get(LABEL),
        Some(&scope.run)
    );

    docker
        .stop_container(
            &id,
            Some(StopContainerOptionsBuilder::default().t(5).build()),
        )
        .await
        .expect("stop");
    let state = docker
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .unwrap()
        .state
        .unwrap();
    assert_eq!(state.running, Some(false));
    assert_eq!(
        state.exit_code,
        Some(0),
        "the TERM trap ran: the container stopped cleanly"
    );

    assert_eq!(scope.containers().await, std::slice::from_ref(&id));
    drop(scope);
    assert!(
        docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
            .is_err(),
        "dropping the scope removed its container"
    );
}
