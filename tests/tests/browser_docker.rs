//! Docker management in a real browser: the containers page follows Docker's events —
//! a container stopped from the UI, and one started behind the UI's back, change state
//! without a reload.

use berth_tests::browser::{Browser, click, login, wait_for};
use berth_tests::docker::Scope;
use berth_tests::ws::{self, ADMIN_PASSWORD};

#[tokio::test]
async fn containers_page_stops_a_container_and_follows_events_without_reload() {
    let scope = Scope::new().await;
    let id = scope
        .create_container(
            "ui",
            &[
                "sh",
                "-c",
                "trap 'exit 0' TERM; while true; do sleep 0.2; done",
            ],
        )
        .await;
    scope.docker.start_container(&id, None).await.unwrap();
    let name = scope.name("ui");
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    let docker = scope.docker.clone();
    Browser::start("docker_containers")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            click(&c, "#nav-containers").await;
            let row = format!("tr[data-name='{name}']");
            wait_for(&c, &format!("{row} .state.running")).await;
            // Mark the page: a reload would drop this attribute.
            c.execute("document.body.setAttribute('data-no-reload','1')", vec![])
                .await
                .unwrap();
            click(&c, &format!("{row} .act-stop")).await;
            c.accept_alert().await.expect("confirmation dialog");
            wait_for(&c, &format!("{row} .state.exited")).await;
            wait_for(&c, "p.ok-note").await;
            // Started outside Berth: the event updates the page.
            docker.start_container(&id, None).await.unwrap();
            wait_for(&c, &format!("{row} .state.running")).await;
            wait_for(&c, "body[data-no-reload='1']").await;
        })
        .await;
}
