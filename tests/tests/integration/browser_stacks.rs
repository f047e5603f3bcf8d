//! The Stacks page in a real browser: a new stack with a typo shown at its line and
//! refused, fixed and saved, opened on its own page, edited, and an earlier version
//! restored.

use berth_tests::browser::{Browser, click, login, type_into, wait_for, wait_for_value};
use berth_tests::ws::{self, ADMIN_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_is_made_checked_saved_edited_and_rolled_back_in_the_browser() {
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    let dir = berth.data_dir.join("stacks/web-ui");
    Browser::start("stacks")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            click(&c, "#nav-stacks").await;
            wait_for(&c, "#stacks-empty").await;
            type_into(&c, "#stack-name", "web-ui").await;
            type_into(&c, "#stack-compose", "services:\n  web:\n    imagee: x\n").await;
            click(&c, "#stack-validate").await;
            let problem = wait_for(&c, "#stack-problems li[data-line='3']").await;
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
            assert!(at.text().await.unwrap().ends_with("web-ui/compose.yaml"));
            type_into(&c, "#stack-compose", "services:\n  web:\n    image: y\n").await;
            click(&c, "#stack-save").await;
            wait_for(&c, "#stack-versions tr[data-version]").await;
            click(&c, "#stack-versions .stack-restore").await;
            wait_for_value(&c, "#stack-compose", "services:\n  web:\n    image: x\n").await;
            click(&c, "#nav-stacks").await;
            wait_for(
                &c,
                "#stacks-table tr[data-stack='web-ui'][data-state='not created']",
            )
            .await;
        })
        .await;
    let saved = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    assert_eq!(saved, "services:\n  web:\n    image: x\n");
}
