//! The Stacks page in a real browser: a `docker run` line converted into a new
//! stack's file, then a new stack with a typo shown at its line and
//! refused, fixed and saved, opened on its own page, edited, an earlier version
//! restored, then brought up and down with the compose CLI's output on the page; the
//! schedules covering it listed there; a compose project from elsewhere stopped from
//! its row and adopted.

use berth_protocol::api::schedules::{ScheduleAction, ScheduleSpec, Selector};
use berth_tests::browser::{Browser, click, login, type_into, wait_for, wait_for_value};
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::ws::{self, ADMIN_PASSWORD};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_is_made_checked_saved_edited_and_rolled_back_in_the_browser() {
    let scope = Scope::new().await;
    let image = ensure_test_image(&scope.docker).await;
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    let runnable = format!(
        "services:\n  web:\n    image: {image}\n    init: true\n    command: [\"sh\", \"-c\", \"echo hello-from-web; exec sleep 600\"]\n    labels: {{ berth.test: \"{run}\" }}\nnetworks:\n  default:\n    labels: {{ berth.test: \"{run}\" }}\n",
        run = scope.run
    );
    let expected = runnable.clone();
    // A schedule over every compose project covers the stack.
    ws::admin(&berth)
        .await
        .call::<berth_protocol::api::catalogue::SchedulesCreate>(ScheduleSpec {
            name: "every-project".into(),
            cron: "0 3 * * *".into(),
            action: ScheduleAction::Restart,
            selector: Some(Selector::AllProjects),
            ..Default::default()
        })
        .await
        .unwrap();
    let dir = berth.data_dir.join("stacks/web-ui");
    let outside = tempfile::tempdir().unwrap();
    // Slow to stop (it ignores SIGTERM for its grace period), so its row's pending
    // state can be seen.
    let slow = format!(
        "services:\n  app:\n    image: {image}\n    stop_grace_period: 2s\n    command: [\"sh\", \"-c\", \"trap '' TERM; while true; do sleep 1; done\"]\n    labels: {{ berth.test: \"{run}\" }}\nnetworks:\n  default:\n    labels: {{ berth.test: \"{run}\" }}\n",
        run = scope.run
    );
    std::fs::write(outside.path().join("compose.yaml"), &slow).unwrap();
    Browser::start("stacks")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            click(&c, "#nav-stacks").await;
            // Loaded (not "empty": the list holds every compose project on the
            // host, and another test may be running one).
            wait_for(&c, "#stacks-dir").await;
            // A README's `docker run` line becomes the file, with the name offered.
            click(&c, "#from-run summary").await;
            type_into(
                &c,
                "#run-command",
                "docker run -d --rm --name web-ui -p 8080:80 -v site:/usr/share/nginx/html nginx",
            )
            .await;
            click(&c, "#run-convert").await;
            wait_for(&c, "#run-unsupported li").await;
            let file = wait_for(&c, "#stack-compose")
                .await
                .prop("value")
                .await
                .unwrap();
            assert!(
                file.unwrap_or_default().contains("container_name: web-ui"),
                "the converted file is in the editor"
            );
            wait_for_value(&c, "#stack-name", "web-ui").await;
            type_into(&c, "#stack-compose", "services:\n  web:\n    imagee: x\n").await;
            click(&c, "#stack-validate").await;
            let problem = wait_for(&c, "#stack-problems li[data-line='3']").await;
            // The editor's gutter marks the line, the problem as its title.
            let mark = wait_for(&c, "#stack-compose-gutter .bad[data-line='3']").await;
            let title = mark.attr("title").await.unwrap().unwrap_or_default();
            assert!(title.contains("imagee"), "{title}");
            assert!(
                problem
                    .text()
                    .await
                    .unwrap()
                    .contains("did you mean `image`")
            );
            click(&c, "#stack-save").await;
            let refused = wait_for(&c, "#stack-result .error").await;
            assert!(refused.text().await.unwrap().contains("line 3"));
            type_into(&c, "#stack-compose", "services:\n  web:\n    image: x\n").await;
            click(&c, "#stack-save").await;
            // Saved: the stack's own page.
            let at = wait_for(&c, "#stack-dir").await;
            wait_for(&c, "#stack-schedules li[data-schedule='every-project']").await;
            assert!(at.text().await.unwrap().ends_with("web-ui/compose.yaml"));
            type_into(&c, "#stack-compose", "services:\n  web:\n    image: y\n").await;
            // What is about to be saved, as a diff; kept when the page is left.
            let diff = wait_for(&c, "#stack-diff").await.text().await.unwrap();
            assert!(
                diff.contains("-     image: x") && diff.contains("+     image: y"),
                "{diff}"
            );
            click(&c, "#nav-stacks").await;
            click(&c, "#stacks-table tr[data-stack='web-ui'] .stack-open").await;
            wait_for(&c, "#stack-unsaved").await;
            wait_for_value(&c, "#stack-compose", "services:\n  web:\n    image: y\n").await;
            click(&c, "#stack-save").await;
            wait_for(&c, "#stack-versions tr[data-version]").await;
            click(&c, "#stack-versions .stack-restore").await;
            wait_for_value(&c, "#stack-compose", "services:\n  web:\n    image: x\n").await;
            // A file that runs, up and down with the CLI's output on the page.
            type_into(&c, "#stack-compose", &runnable).await;
            click(&c, "#stack-save").await;
            wait_for(&c, "#stack-versions tr[data-version]:nth-child(3)").await;
            click(&c, "#stack-action-up").await;
            wait_for(&c, "#stack-action-status[data-exit='0']").await;
            let said = wait_for(&c, "#stack-output").await.text().await.unwrap();
            assert!(said.contains("web"), "the CLI's output is shown: {said}");
            // Its service running, and the stack's logs with the service's name.
            wait_for(
                &c,
                "#stack-services tr[data-service='web'][data-state='running']",
            )
            .await;
            click(&c, "#stack-logs-open").await;
            c.wait()
                .for_element(Locator::XPath(
                    "//pre[@id='stack-logs'][contains(., 'web | hello-from-web')]",
                ))
                .await
                .expect("the combined logs show the service's line");
            // The stack backed up from its own page, listed there once verified.
            click(&c, "#stack-backups #backup-now").await;
            click(&c, "#stack-backups #backup-start").await;
            wait_for(&c, "#stack-backups tr[data-backup]").await;
            // A service's terminal is its container's, one click away.
            click(&c, "#stack-services .service-terminal").await;
            wait_for(&c, "#terminal[data-status='idle']").await;
            c.back().await.unwrap();
            wait_for(&c, "#stack-action-down").await;
            click(&c, "#stack-action-down").await;
            c.wait()
                .for_element(Locator::XPath(
                    "//p[@id='stack-action-status' and text()='down done.']",
                ))
                .await
                .expect("down ends");
            click(&c, "#nav-stacks").await;
            wait_for(
                &c,
                "#stacks-table tr[data-stack='web-ui'][data-state='not created']",
            )
            .await;
            // The dashboard counts stacks by state.
            click(&c, "#nav-dashboard").await;
            let tile = wait_for(&c, "#stack-counts .sub").await;
            assert!(tile.text().await.unwrap().contains("1 not created"));
            // A project started outside Berth: stopped from its row, then adopted.
            berth_tests::docker::compose(outside.path(), "outside-app", &["up", "-d"]);
            click(&c, "#nav-stacks").await;
            let row = "#stacks-table tr[data-stack='outside-app']";
            click(&c, &format!("{row}[data-state='running'] .external-stop")).await;
            let pending = wait_for(&c, &format!("{row} .pending")).await;
            assert_eq!(pending.text().await.unwrap(), "stopping…");
            wait_for(&c, &format!("{row} .external-start[disabled]")).await;
            wait_for(&c, &format!("{row}[data-state='stopped']")).await;
            wait_for(&c, &format!("{row} .external-start:not([disabled])")).await;
            click(&c, &format!("{row} .external-adopt")).await;
            let at = wait_for(&c, "#stack-dir").await;
            assert!(
                at.text()
                    .await
                    .unwrap()
                    .ends_with("outside-app/compose.yaml")
            );
        })
        .await;
    ws::admin(&berth)
        .await
        .call::<berth_protocol::api::catalogue::StacksDelete>(
            berth_protocol::api::stacks::StackDelete {
                name: "outside-app".into(),
                down: true,
                keep_volumes: false,
            },
        )
        .await
        .unwrap();
    let saved = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    assert_eq!(saved, expected);
}
