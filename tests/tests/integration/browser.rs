//! The web UI in a real browser: loads, navigates by clicking, survives a reload of a
//! deep link, toggles the theme, and logs no console errors.

use berth_tests::browser::{
    Browser, click, login, path, type_into, wait_for, wait_for_value, wait_for_work,
};
use berth_tests::ws::{self, ADMIN_PASSWORD};
use fantoccini::{Client, Locator};

async fn theme(c: &Client) -> String {
    c.execute(
        "return document.documentElement.dataset.theme || ''",
        vec![],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[tokio::test]
async fn shell_navigates_reloads_deep_links_and_toggles_theme() {
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    Browser::start("shell_navigation")
        .await
        .run(|c| async move {
            // Nothing but the login page before logging in.
            c.goto(&url).await.unwrap();
            wait_for(&c, "main[data-page='login'] #login-user").await;
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            // The dashboard shows the server's real readiness, and the indicator agrees.
            wait_for(&c, "#connection[data-state='ok']").await;
            let row = wait_for(&c, "table.checks tr.ok td").await;
            assert_eq!(row.text().await.unwrap(), "store");
            let rows = c
                .find_all(Locator::Css("table.checks tbody tr"))
                .await
                .unwrap();
            assert_eq!(
                rows.len(),
                8,
                "store, docker, compose, plugin:notify-webhook, plugin:probe, plugin:storage-local, plugin:storage-s3, plugin:storage-webdav"
            );

            c.find(Locator::Css("#nav-containers"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for(&c, "section[data-page='containers']").await;
            assert_eq!(path(&c).await, "/containers");
            wait_for(&c, ".nav-link.active #nav-containers").await;

            c.find(Locator::Css("#nav-volumes"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let h1 = wait_for(&c, "section[data-page='volumes'] h1").await;
            assert_eq!(h1.text().await.unwrap(), "Volumes");
            assert_eq!(path(&c).await, "/volumes");

            // A deep link typed in and reloaded.
            c.goto(&format!("{url}/networks")).await.unwrap();
            wait_for(&c, "section[data-page='networks']").await;
            c.refresh().await.unwrap();
            wait_for(&c, "section[data-page='networks']").await;
            wait_for(&c, ".nav-link.active #nav-networks").await;

            // Theme: toggle flips it, and the choice survives a reload.
            wait_for(&c, "#theme-toggle").await;
            let before = theme(&c).await;
            assert!(
                before == "light" || before == "dark",
                "theme set at start: {before:?}"
            );
            c.find(Locator::Css("#theme-toggle"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let after = if before == "light" { "dark" } else { "light" };
            wait_for(&c, &format!("html[data-theme='{after}']")).await;
            c.refresh().await.unwrap();
            wait_for(&c, &format!("#theme-toggle[data-theme-current='{after}']")).await;
            assert_eq!(theme(&c).await, after);

            // Unknown addresses get a page that says so, inside the shell.
            c.goto(&format!("{url}/no-such-section")).await.unwrap();
            wait_for(&c, "section[data-page='not-found']").await;
        })
        .await;
}

#[tokio::test]
async fn plugins_page_lists_plugins_and_tests_storage() {
    let sink = std::sync::Arc::new(berth_tests::http_sink::Sink::start().await);
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    Browser::start("plugins_page")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            c.find(Locator::Css("#nav-plugins"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let row = wait_for(&c, "#plugins-table tr[data-id='storage-local']").await;
            let text = row.text().await.unwrap();
            assert!(
                text.contains("storage") && text.contains("healthy"),
                "{text}"
            );
            assert!(text.contains("no network"), "capabilities shown: {text}");
            wait_for(&c, "#plugins-table tr[data-id='probe']").await;

            // The storage round trip, from the button to the reported timings.
            wait_for(&c, "#storage-table tr[data-name='local'] .badge").await;
            c.find(Locator::Css(
                "#storage-table tr[data-name='local'] button.storage-test",
            ))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
            let done = wait_for_work(&c, "#storage-test-result .ok-note").await;
            let text = done.text().await.unwrap();
            assert!(
                text.starts_with("Storage local works: 256 KiB written"),
                "{text}"
            );

            // A webhook configured through the form rendered from its schema, then
            // tested from its row: the request reaches a real server.
            wait_for(&c, "#notifiers-empty").await;
            c.find(Locator::Css("#instance-plugin"))
                .await
                .unwrap()
                .select_by_value("notify-webhook")
                .await
                .unwrap();
            let field = |name: &'static str| {
                let c = c.clone();
                async move { wait_for(&c, &format!("#instance-form [name='{name}']")).await }
            };
            field("name").await.send_keys("ops").await.unwrap();
            field("cfg.url")
                .await
                .send_keys(&format!("{}/hook", sink.base))
                .await
                .unwrap();
            field("cfg.token").await.send_keys("tok-123").await.unwrap();
            field("allow_private").await.click().await.unwrap();
            c.find(Locator::Css("#instance-form button[type='submit']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let saved = wait_for(&c, "#instances-result .ok-note").await;
            assert_eq!(saved.text().await.unwrap(), "Saved ops.");
            let row = wait_for(&c, "#instances-table tr[data-name='ops']").await;
            let text = row.text().await.unwrap();
            assert!(
                text.contains("token (set)") && !text.contains("tok-123"),
                "{text}"
            );
            wait_for(
                &c,
                "#notifiers-table tr[data-name='ops'] button.notifier-test",
            )
            .await
            .click()
            .await
            .unwrap();
            let got = sink.next().await;
            assert_eq!(got.path, "/hook");
            assert_eq!(got.header("authorization"), Some("Bearer tok-123"));
            let done = wait_for(&c, "#notify-test-result .ok-note").await;
            let text = done.text().await.unwrap();
            assert!(
                text.starts_with("Test notification sent through ops"),
                "{text}"
            );
        })
        .await;
}

#[tokio::test]
async fn a_plugin_package_installs_through_the_ui_and_its_events_are_routed_in_settings() {
    let (tmp, berth) = ws::start().await;
    let pkg = tmp.path().join("acme-hook.tar");
    std::fs::write(
        &pkg,
        berth_tests::plugin_package::package("acme-hook", "1.2.0", &[], None, "berth:plugin@0.1"),
    )
    .unwrap();
    let url = berth.url.clone();
    Browser::start("plugin_install")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            c.goto(&format!("{url}/plugins")).await.unwrap();
            wait_for(&c, "#plugin-package")
                .await
                .send_keys(pkg.to_str().unwrap())
                .await
                .unwrap();
            click(&c, "#plugin-upload").await;
            let review = wait_for(&c, "#plugin-review").await;
            let text = review.text().await.unwrap();
            assert!(
                text.contains("1.2.0") && text.contains("secret setting"),
                "{text}"
            );
            // Install stays disabled until every capability is ticked.
            let install = wait_for(&c, "#plugin-install").await;
            assert_eq!(
                install.attr("disabled").await.unwrap().as_deref(),
                Some("true")
            );
            let boxes = c
                .find_all(Locator::Css("#plugin-review input.approve"))
                .await
                .unwrap();
            assert_eq!(boxes.len(), 3, "two origins and a secret to approve");
            for b in boxes {
                b.click().await.unwrap();
            }
            click(&c, "#plugin-install").await;
            let done = wait_for(&c, "#plugin-install-result .ok-note").await;
            assert!(
                done.text()
                    .await
                    .unwrap()
                    .starts_with("Installed acme-hook 1.2.0")
            );
            let row = wait_for(&c, "#plugins-table tr[data-id='acme-hook']").await;
            assert!(row.text().await.unwrap().contains("Uninstall"));

            // An instance of it, then its events chosen in Settings.
            c.find(Locator::Css("#instance-plugin"))
                .await
                .unwrap()
                .select_by_value("acme-hook")
                .await
                .unwrap();
            type_into(&c, "#instance-form [name='name']", "acme").await;
            type_into(
                &c,
                "#instance-form [name='cfg.url']",
                "https://hooks.example.org/x",
            )
            .await;
            click(&c, "#instance-form button[type='submit']").await;
            wait_for(&c, "#instances-result .ok-note").await;
            c.goto(&format!("{url}/settings")).await.unwrap();
            wait_for(&c, "#default-storage").await;
            let cell = "#routes-table tr[data-name='acme'] input[data-event='backup_succeeded']";
            let ok = wait_for(&c, cell).await;
            assert_eq!(
                ok.prop("checked").await.unwrap().as_deref(),
                Some("false"),
                "successes are opt-in"
            );
            ok.click().await.unwrap();
            click(&c, "#routes-save").await;
            wait_for(&c, "#routes-result .ok-note").await;
            c.refresh().await.unwrap();
            let ok = wait_for(&c, cell).await;
            assert_eq!(
                ok.prop("checked").await.unwrap().as_deref(),
                Some("true"),
                "saved"
            );
        })
        .await;
}

#[tokio::test]
async fn an_admin_backs_up_berths_own_state_from_settings() {
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    let backups = berth.data_dir.join("backups");
    Browser::start("state_backup")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            c.goto(&format!("{url}/settings")).await.unwrap();
            wait_for(&c, "#state-storage option[value='local']").await;
            type_into(&c, "#state-passphrase", "too short").await;
            click(&c, "#state-form button[type='submit']").await;
            let refused = wait_for(&c, "#state-result .error").await;
            let said = refused.text().await.unwrap();
            assert!(said.contains("12 characters"), "{said}");
            type_into(&c, "#state-passphrase", "long enough for the state").await;
            click(&c, "#state-form button[type='submit']").await;
            let done = wait_for(&c, "#state-result .ok-note").await;
            let said = done.text().await.unwrap();
            let key = said
                .split(" as ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or_default();
            assert!(key.starts_with("state/berth-state-"), "{said}");
            assert!(backups.join(key).is_file(), "{said}");
        })
        .await;
}

#[tokio::test]
async fn an_admin_changes_a_server_setting_and_returns_it_to_the_configuration() {
    use berth_protocol::api::Empty;
    use berth_protocol::api::catalogue::SettingsGet;
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    let api = ws::admin(&berth).await;
    Browser::start("server_settings")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            c.goto(&format!("{url}/settings")).await.unwrap();
            wait_for_value(&c, "#setting-job_concurrency", "1").await;
            type_into(&c, "#setting-job_concurrency", "3").await;
            click(&c, "#server-settings-save").await;
            wait_for(&c, "[data-setting='job_concurrency'] .settings-reset").await;
            let now = api.call::<SettingsGet>(Empty {}).await.unwrap();
            assert_eq!(
                (now.job_concurrency, now.changed.as_slice()),
                (3, &["job_concurrency".to_owned()][..])
            );
            // Out of range: the browser holds the form back, and nothing changes.
            type_into(&c, "#setting-password_min_length", "5").await;
            click(&c, "#server-settings-save").await;
            wait_for(&c, "#setting-password_min_length:invalid").await;
            assert_eq!(
                api.call::<SettingsGet>(Empty {})
                    .await
                    .unwrap()
                    .password_min_length,
                10
            );
            // "Use configured" returns it to the server's flags.
            click(&c, "[data-setting='job_concurrency'] .settings-reset").await;
            wait_for_value(&c, "#setting-job_concurrency", "1").await;
            let back = api.call::<SettingsGet>(Empty {}).await.unwrap();
            assert_eq!((back.job_concurrency, back.changed.len()), (1, 0));
        })
        .await;
}
