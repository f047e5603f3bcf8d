//! `image.pull` (issue 29) against a real registry on loopback: each layer's progress
//! arrives as Docker reports it, the close names the image now on the host, a missing
//! tag fails with Docker's message, only admins pull, and each pull is audited.

use berth_client::Subscription;
use berth_protocol::api::audit::AuditQuery;
use berth_protocol::api::catalogue::{AuditList, ImagePull};
use berth_protocol::api::images::{PullImage, PullProgress};
use berth_protocol::error::ErrorCode;
use berth_protocol::role::Role;
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::jobs::WAIT;
use berth_tests::registry::{Registry, docker};
use berth_tests::ws;
use futures_util::StreamExt;

/// Every progress message until the channel closes, and how it closed.
async fn drain(
    mut pull: Subscription<PullProgress>,
) -> (
    Vec<PullProgress>,
    Result<serde_json::Value, berth_client::ClientError>,
) {
    let mut seen = Vec::new();
    let end = tokio::time::timeout(WAIT, async {
        while let Some(item) = pull.next().await {
            match item {
                Ok(p) => seen.push(p),
                Err(e) => return Err(e),
            }
        }
        Ok(pull.close_payload().cloned().unwrap_or_default())
    })
    .await
    .expect("the pull ends");
    (seen, end)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_is_pulled_from_a_registry_with_progress_per_layer() {
    let scope = Scope::new().await;
    let base = ensure_test_image(&scope.docker).await;
    let registry = Registry::start();
    let (_tmp, berth) = ws::start().await;
    let admin = ws::admin(&berth).await;
    let operator = ws::user(&berth, &admin, "otto", Role::Operator).await;
    let repository = format!(
        "{}/berth-test/pull-{}",
        registry.host,
        scope.run.to_lowercase()
    );
    let reference = format!("{repository}:v1");
    docker(&["tag", base, &reference]);
    docker(&["push", &reference]);
    let pushed = docker(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    docker(&["rmi", &reference]);
    let request = |image: &str| PullImage {
        host: None,
        image: image.to_owned(),
    };

    let refused = operator.open::<ImagePull>(request(&reference)).await;
    assert_eq!(
        refused.err().and_then(|e| e.body().map(|b| b.code)),
        Some(ErrorCode::Forbidden)
    );

    let (progress, end) = drain(admin.open::<ImagePull>(request(&reference)).await.unwrap()).await;
    let closed = end.expect("the pull succeeds");
    assert_eq!(closed["image"], reference.as_str());
    assert_eq!(closed["id"], pushed.as_str(), "{closed}");
    assert!(
        progress.iter().any(|p| !p.layer.is_empty()),
        "a layer's progress: {progress:?}"
    );
    assert!(
        progress
            .iter()
            .any(|p| p.layer.is_empty() && p.status.contains("Downloaded newer image")),
        "the pull's own status line: {progress:?}"
    );
    let here = docker(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    assert_eq!(here, pushed);

    // A tag the registry does not have: Docker's words, nothing pulled.
    let missing = format!("{repository}:nope");
    let (_, end) = drain(admin.open::<ImagePull>(request(&missing)).await.unwrap()).await;
    let error = end.expect_err("no such tag").to_string();
    assert!(
        error.contains("nope") || error.contains("not found"),
        "{error}"
    );
    // A bad reference never reaches Docker.
    let bad = admin.open::<ImagePull>(request("../etc")).await;
    assert_eq!(
        bad.err().and_then(|e| e.body().map(|b| b.code)),
        Some(ErrorCode::BadRequest)
    );

    let audit = admin
        .call::<AuditList>(AuditQuery::default())
        .await
        .unwrap();
    let pulls: Vec<_> = audit
        .entries
        .iter()
        .filter(|e| e.method == "image.pull")
        .collect();
    assert!(
        pulls
            .iter()
            .any(|e| e.target.as_deref() == Some(reference.as_str())),
        "{pulls:?}"
    );
    docker(&["rmi", &reference]);
}
