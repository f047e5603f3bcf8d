//! Identity in a real browser: log in, create a viewer, log in as the viewer in a second
//! browser (its own cookie jar) and see admin pages refused; create and revoke an API
//! token; live host figures on the dashboard; log out.

use berth_tests::browser::{Browser, click, login, type_into, wait_for};
use berth_tests::ws::{self, ADMIN_PASSWORD};
use fantoccini::Locator;

#[tokio::test]
async fn admin_creates_a_viewer_who_is_refused_admin_pages_and_tokens_come_and_go() {
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    let url2 = url.clone();
    Browser::start("identity_admin")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            assert_eq!(
                wait_for(&c, "#user-menu")
                    .await
                    .attr("data-role")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("admin")
            );
            // Live host figures from the system.stats channel.
            let cpu = wait_for(&c, "#host-cpu").await.text().await.unwrap();
            assert!(cpu.ends_with('%'), "{cpu}");
            wait_for(&c, "#host-mem").await;

            // Create a viewer.
            click(&c, "#nav-users").await;
            wait_for(&c, "#users-table tr[data-user='admin']").await;
            type_into(&c, "#new-user-name", "vera").await;
            type_into(&c, "#new-user-password", "password-of-vera").await;
            click(&c, "#new-user-submit").await;
            wait_for(&c, "#users-table tr[data-user='vera']").await;
            let role = c
                .find(Locator::Css("tr[data-user='vera'] select.user-role"))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap();
            assert_eq!(role.as_deref(), Some("viewer"));

            // The viewer, in a browser of their own.
            Browser::start("identity_viewer")
                .await
                .run(|v| async move {
                    login(&v, &url2, "vera", "password-of-vera").await;
                    assert_eq!(
                        wait_for(&v, "#user-menu")
                            .await
                            .attr("data-role")
                            .await
                            .unwrap()
                            .as_deref(),
                        Some("viewer")
                    );
                    // The navigation offers what a viewer may use, and nothing else.
                    wait_for(&v, "#nav-tokens").await;
                    for admin_only in ["#nav-users", "#nav-audit", "#nav-plugins", "#nav-settings"]
                    {
                        assert!(
                            v.find(Locator::Css(admin_only)).await.is_err(),
                            "{admin_only} offered to a viewer"
                        );
                    }
                    // A deep link is refused, naming the role it needs.
                    v.goto(&format!("{url2}/users")).await.unwrap();
                    let refused = wait_for(&v, "section[data-page='users'] .forbidden").await;
                    assert!(refused.text().await.unwrap().contains("admin"));
                    assert!(
                        v.find(Locator::Css("#user-create")).await.is_err(),
                        "no create form for a viewer"
                    );
                    v.goto(&format!("{url2}/audit")).await.unwrap();
                    wait_for(&v, "section[data-page='audit'] .forbidden").await;
                    click(&v, "#logout").await;
                    wait_for(&v, "main[data-page='login'] #login-user").await;
                })
                .await;

            // API token: created, secret shown once, listed, revoked.
            click(&c, "#nav-tokens").await;
            wait_for(&c, "#tokens-empty").await;
            type_into(&c, "#token-name", "nightly script").await;
            click(&c, "#token-submit").await;
            let secret = wait_for(&c, "#token-secret").await.text().await.unwrap();
            assert!(secret.starts_with("berth_"), "{secret}");
            let row = wait_for(&c, "#tokens-table tr[data-token='nightly script']").await;
            let cells = row.find_all(Locator::Css("td")).await.unwrap();
            assert_eq!(
                cells[1].text().await.unwrap(),
                "viewer",
                "a new token has the lowest role unless another is chosen"
            );
            click(&c, "#token-dismiss").await;
            // The secret is gone from the page for good.
            c.refresh().await.unwrap();
            wait_for(&c, "#tokens-table tr[data-token='nightly script']").await;
            let html = c.source().await.unwrap();
            assert!(!html.contains(&secret), "the secret is shown only once");
            click(&c, "tr[data-token='nightly script'] .token-revoke").await;
            wait_for(&c, "#tokens-empty").await;

            // The audit page shows what happened.
            click(&c, "#nav-audit").await;
            wait_for(&c, "#audit-table tr[data-method='users.create']").await;
            wait_for(&c, "#audit-table tr[data-method='tokens.revoke']").await;
            type_into(&c, "#audit-method", "tokens.").await;
            click(&c, "#audit-filter button[type='submit']").await;
            c.wait()
                .at_most(berth_tests::browser::WAIT)
                .for_element(Locator::Css("#audit-table"))
                .await
                .unwrap();
            let wait = async {
                loop {
                    let rows = c
                        .find_all(Locator::Css("#audit-table tbody tr"))
                        .await
                        .unwrap();
                    let mut methods = vec![];
                    let mut stale = false;
                    for r in &rows {
                        // The table re-renders as the filtered list arrives: a row
                        // found a moment ago may be gone; look again.
                        match r.attr("data-method").await {
                            Ok(m) => methods.push(m.unwrap_or_default()),
                            Err(_) => stale = true,
                        }
                    }
                    if !stale
                        && !methods.is_empty()
                        && methods.iter().all(|m| m.starts_with("tokens."))
                    {
                        return methods;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            };
            let methods = tokio::time::timeout(berth_tests::browser::WAIT, wait)
                .await
                .expect("filtered rows");
            assert_eq!(methods, ["tokens.revoke", "tokens.create"]);

            click(&c, "#logout").await;
            wait_for(&c, "main[data-page='login'] #login-user").await;
            // Logged out for real: a reload shows the login page again.
            c.refresh().await.unwrap();
            wait_for(&c, "main[data-page='login'] #login-user").await;
        })
        .await;
}

#[tokio::test]
async fn the_first_login_with_the_generated_password_asks_for_a_new_one() {
    let berth = berth_tests::server::Berth::start().await;
    let url = berth.url.clone();
    let generated = std::fs::read_to_string(berth.data_dir.join("initial-admin-password"))
        .unwrap()
        .trim()
        .to_owned();
    let file = berth.data_dir.join("initial-admin-password");
    Browser::start("identity_first_login")
        .await
        .run(|c| async move {
            c.goto(&url).await.unwrap();
            type_into(&c, "#login-user", "admin").await;
            type_into(&c, "#login-password", &generated).await;
            click(&c, "#login-submit").await;
            // Nothing but the new password until it is set.
            wait_for(&c, "main[data-page='choose-password']").await;
            assert!(c.find(Locator::Css("#nav-users")).await.is_err());
            type_into(&c, "#first-current", &generated).await;
            type_into(&c, "#first-new", &generated).await;
            click(&c, "#first-submit").await;
            let e = wait_for(&c, "#first-error").await.text().await.unwrap();
            assert!(e.contains("differ"), "{e}");
            type_into(&c, "#first-current", &generated).await;
            type_into(&c, "#first-new", "my-own-admin-password").await;
            click(&c, "#first-submit").await;
            wait_for(&c, "#host-cpu").await;
            click(&c, "#nav-users").await;
            wait_for(&c, "#users-table tr[data-user='admin']").await;
        })
        .await;
    assert!(!file.exists(), "the file went with the generated password");
}
