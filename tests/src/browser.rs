//! Debian's chromium, driven through chromedriver with fantoccini.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{Value, json};

/// How long element waits may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(20);
/// How long [`wait_for_work`] waits: the page shows the outcome of work on the server
/// (a job, a storage round trip), which on a loaded 2-core CI machine running a 1 GiB
/// transfer beside the test takes longer than any page update should.
pub const WORK_WAIT: Duration = Duration::from_secs(120);

fn tool(var: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.into());
    assert!(
        path.is_file(),
        "{} not found: the browser tests need Debian's chromium (apt-get install {package}, or set {var})",
        path.display()
    );
    path
}

/// A headless chromium session and the chromedriver behind it.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    driver: Child,
    name: String,
}

impl Browser {
    /// Starts chromedriver and a headless chromium that records console messages.
    pub async fn start(name: &str) -> Self {
        let chromium = tool("CHROMIUM", "/usr/bin/chromium", "chromium");
        let chromedriver = tool("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        // chromedriver prints this once it accepts connections.
        let stdout = driver.stdout.take().expect("piped");
        let ready = std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let ok = lines
                .by_ref()
                .map_while(Result::ok)
                .any(|l| l.contains("started successfully"));
            // Keep draining so chromedriver never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            ok
        });
        assert!(ready.join().unwrap_or(false), "chromedriver did not start");

        let caps = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--window-size=1280,800"]
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!("object literal")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("webdriver session");
        Self {
            client,
            driver,
            name: name.to_owned(),
        }
    }

    /// Runs `test`; on failure saves a screenshot to `target/test-screenshots/<name>.png`.
    /// Afterwards fails if the page logged any console error.
    pub async fn run<F, Fut>(self, test: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = ()>,
    {
        let outcome = AssertUnwindSafe(test(self.client.clone()))
            .catch_unwind()
            .await;
        let errors = if outcome.is_ok() {
            self.console_errors().await
        } else {
            Vec::new()
        };
        if outcome.is_err() || !errors.is_empty() {
            self.screenshot().await;
        }
        let _ = self.client.clone().close().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
        assert!(
            errors.is_empty(),
            "the page logged console errors:\n{}",
            errors.join("\n")
        );
    }

    async fn screenshot(&self) {
        let dir = crate::workspace_root().join("target/test-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        match self.client.screenshot().await {
            Ok(png) => {
                let path = dir.join(format!("{}.png", self.name));
                let _ = std::fs::write(&path, png);
                eprintln!("screenshot saved: {}", path.display());
            }
            Err(e) => eprintln!("no screenshot: {e}"),
        }
    }

    /// Console messages at level SEVERE (errors, uncaught exceptions, failed loads).
    pub async fn console_errors(&self) -> Vec<String> {
        take_console_errors(&self.client).await
    }
}

/// The console errors logged since the last call, and forgets them: a test that
/// causes one on purpose (a refused upload's 400) takes it and checks it is that one.
pub async fn take_console_errors(client: &Client) -> Vec<String> {
    let entries = client.issue_cmd(BrowserLog).await.expect("browser log");
    entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// chromedriver's log endpoint (not part of W3C WebDriver).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Waits for an element matching `css` and returns it.
pub async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    wait_within(client, css, WAIT).await
}

/// Waits for the element matching `css` that appears when work on the server ends
/// (a job's row turning complete, a storage test's result), up to [`WORK_WAIT`].
pub async fn wait_for_work(client: &Client, css: &str) -> fantoccini::elements::Element {
    wait_within(client, css, WORK_WAIT).await
}

async fn wait_within(client: &Client, css: &str, limit: Duration) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(limit)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css:?} within {limit:?}: {e}"))
}

/// Waits (up to 20 s, looking every 100 ms) until the form field matching `css` holds
/// `expected` — a field's value is a property, which selectors cannot see.
pub async fn wait_for_value(client: &Client, css: &str, expected: &str) {
    let mut last = None;
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let value = client
                .execute(
                    "const e = document.querySelector(arguments[0]); return e ? e.value : null;",
                    vec![css.into()],
                )
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            if value.as_deref() == Some(expected) {
                return;
            }
            last = value;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "{css} never held {expected:?} (last {last:?})"
    );
}

/// The current URL's path.
pub async fn path(client: &Client) -> String {
    client
        .current_url()
        .await
        .expect("current url")
        .path()
        .to_owned()
}

/// Types `text` into the element matching `css`.
pub async fn type_into(client: &Client, css: &str, text: &str) {
    let e = wait_for(client, css).await;
    e.clear().await.ok();
    e.send_keys(text)
        .await
        .unwrap_or_else(|err| panic!("typing into {css}: {err}"));
}

/// Replaces what a field holds with `text` by selecting it all and typing over it:
/// the field's own input events carry the new value, so a page that re-renders the
/// field from its state meanwhile (a controlled input) cannot bring the old one back,
/// as it can after WebDriver's `clear`.
pub async fn replace_text(client: &Client, css: &str, text: &str) {
    let e = wait_for(client, css).await;
    // Control down, "a", all modifiers up (WebDriver's key codes).
    e.send_keys(&format!("\u{E009}a\u{E000}{text}"))
        .await
        .unwrap_or_else(|err| panic!("typing into {css}: {err}"));
}

/// A CSS property of the element matching `css`, as the browser computed it (e.g.
/// whether a toolbar is `sticky`).
pub async fn computed_style(client: &Client, css: &str, property: &str) -> String {
    wait_for(client, css).await;
    client
        .execute(
            "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]];",
            vec![css.into(), property.into()],
        )
        .await
        .unwrap_or_else(|e| panic!("style of {css}: {e}"))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Starts recording every row that says it is busy (`[aria-busy=true]` inside a
/// `tr[data-name]` or `tr[data-id]`): a pending state may last only as long as a fast call, so it is
/// caught as the DOM changes rather than polled. [`busy_rows_seen`] reads it.
pub async fn record_busy_rows(client: &Client) {
    client
        .execute(
            "window.__busy = new Set();
             const look = () => document.querySelectorAll('tr [aria-busy=true]').forEach(e => {
                 const row = e.closest('tr').dataset;
                 window.__busy.add((row.name || row.id) + ': ' + e.textContent);
             });
             if (window.__busyObserver) window.__busyObserver.disconnect();
             window.__busyObserver = new MutationObserver(look);
             window.__busyObserver.observe(document.body, { childList: true, subtree: true, characterData: true });",
            vec![],
        )
        .await
        .expect("record busy rows");
}

/// What [`record_busy_rows`] saw, as `name: text` ("vol-a: removing…", a row
/// without a name by its id), sorted.
pub async fn busy_rows_seen(client: &Client) -> Vec<String> {
    let seen = client
        .execute("return [...window.__busy].sort();", vec![])
        .await
        .expect("busy rows seen");
    serde_json::from_value(seen).unwrap_or_default()
}

/// Clicks the element matching `css`.
pub async fn click(client: &Client, css: &str) {
    wait_for(client, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Answers the open in-app dialog (the UI's `components/dialog.rs`) with its
/// confirming button, after typing `text` into its field when given; returns the
/// dialog's question.
pub async fn answer_dialog(client: &Client, text: Option<&str>) -> String {
    let question = wait_for(client, "#ask-dialog[open] #ask-title")
        .await
        .text()
        .await
        .expect("the dialog's question");
    if let Some(text) = text {
        type_into(client, "#ask-dialog[open] #ask-input", text).await;
    }
    click(client, "#ask-dialog[open] #ask-confirm").await;
    question
}

/// Declines the open in-app dialog (Cancel); returns its question.
pub async fn decline_dialog(client: &Client) -> String {
    let question = wait_for(client, "#ask-dialog[open] #ask-title")
        .await
        .text()
        .await
        .expect("the dialog's question");
    click(client, "#ask-dialog[open] #ask-cancel").await;
    question
}

/// Picks the option with `value` in the `<select>` matching `css`.
pub async fn pick(client: &Client, css: &str, value: &str) {
    wait_for(client, css)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("picking {value} in {css}: {e}"));
}

/// Opens `url`, logs in through the login page and waits for the shell.
pub async fn login(client: &Client, url: &str, user: &str, password: &str) {
    client.goto(url).await.expect("open the UI");
    type_into(client, "#login-user", user).await;
    type_into(client, "#login-password", password).await;
    click(client, "#login-submit").await;
    wait_for(client, "#user-menu #nav-profile").await;
}
