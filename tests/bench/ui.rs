//! Web UI figures (issue 29), in a real Chromium against the release binary, each
//! beside a baseline measured in the same run:
//!
//! - first load to an interactive login (the login form's `berth:login-ready`
//!   performance mark, a fresh browser each time so nothing is cached), against the
//!   document's own `DOMContentLoaded` (index.html alone, before the wasm);
//! - what that first page loads, in compressed bytes as the browser received them
//!   (Resource Timing's `encodedBodySize`), against the same files sent gzip-only;
//! - the Containers page with 500 containers, as it opens (its first 100 rows) and
//!   with every row shown ("Show all", rendered as a window of the rows near the
//!   viewport): from the click to the rows, and the longest main-thread task
//!   meanwhile;
//! - a live update (a container started behind the page's back, until its row says
//!   running): the longest main-thread task per update (goal ≤ 16 ms: no dropped frame),
//!   against the longest task while the same page sits idle.
//!
//! The longest task is read with a heartbeat: a `MessageChannel` posts to itself
//! without pause, so the gap between two beats is the task that ran between them
//! (with the style, layout and paint that followed it). The page's own
//! `berth:containers-rendered` measures give the script part: a render of the list
//! to its DOM patch.
//!
//! Run with `cargo xtask bench`. Writes `target/bench/ui.md`. The containers carry the
//! test label and are removed at the end.

use std::time::Duration;

use berth_tests::browser::{Browser, login, wait_for};
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::ws::{self, ADMIN_PASSWORD};
use berth_tests::{median, pct};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use fantoccini::Client;
use futures_util::future::join_all;
use serde_json::Value;

const CONTAINERS: usize = 500;
/// The rows a group shows until "Show all" (`ROWS_AT_FIRST` in the containers page).
const SHOWN: usize = 100;
const UPDATES: usize = 10;
const LOADS: usize = 5;

/// Starts the heartbeat (or restarts its maximum).
const BEAT: &str = r#"
    if (!window.__beat) {
        const beat = { max: 0, last: performance.now() };
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
            const now = performance.now();
            beat.max = Math.max(beat.max, now - beat.last);
            beat.last = now;
            channel.port2.postMessage(0);
        };
        channel.port2.postMessage(0);
        window.__beat = beat;
    }
    window.__beat.max = 0;
    window.__beat.last = performance.now();
    if (!window.__frames) {
        new PerformanceObserver(list => window.__frames.push(...list.getEntries()))
            .observe({ type: 'long-animation-frame' });
    }
    window.__frames = [];
"#;

/// The longest animation frame since the beat restarted, split: (whole frame, its
/// scripts, its rendering — from the rendering's start to the frame's end) in ms, by
/// Chromium's Long Animation Frames API (frames over 50 ms only: none is 0). Scripts
/// under 5 ms are not listed, so the parts need not add up.
const LONGEST_FRAME: &str = r#"
    const f = window.__frames.reduce((a, b) => (b.duration > (a ? a.duration : -1) ? b : a), null);
    if (!f) return [0, 0, 0];
    const scripts = f.scripts.reduce((total, s) => total + s.duration, 0);
    const rendering = f.renderStart ? f.startTime + f.duration - f.renderStart : 0;
    return [f.duration, scripts, rendering];
"#;

async fn longest_frame(c: &Client) -> [f64; 3] {
    let v = c.execute(LONGEST_FRAME, vec![]).await.unwrap();
    serde_json::from_value(v).unwrap_or([f64::NAN; 3])
}

async fn longest_task(c: &Client) -> f64 {
    let v = c
        .execute("return window.__beat.max;", vec![])
        .await
        .unwrap();
    v.as_f64().unwrap_or(f64::NAN)
}

async fn create_containers(scope: &Scope) -> Vec<String> {
    let image = ensure_test_image(&scope.docker).await;
    let mut ids = Vec::new();
    for chunk in (0..CONTAINERS).collect::<Vec<_>>().chunks(10) {
        let made = join_all(chunk.iter().map(|i| {
            let body = ContainerCreateBody {
                image: Some(image.to_owned()),
                cmd: Some(vec!["sleep".into(), "3600".into()]),
                labels: Some(scope.labels()),
                host_config: Some(HostConfig::default()),
                ..Default::default()
            };
            let name = scope.name(&format!("ui{i:03}"));
            let docker = scope.docker.clone();
            async move {
                let o = CreateContainerOptionsBuilder::default().name(&name).build();
                docker.create_container(Some(o), body).await.unwrap().id
            }
        }))
        .await;
        ids.extend(made);
    }
    ids
}

/// One fresh browser's first load.
#[derive(Default)]
struct Load {
    /// ms after navigation start: the login form ready, index.html's DOMContentLoaded.
    ready: f64,
    parsed: f64,
    /// What the page fetched from Berth (index.html and its assets), as sent: the
    /// compressed bodies' bytes, and each file's path.
    sent: f64,
    paths: Vec<String>,
}

/// The page's own files as the browser received them (compressed body sizes).
const SENT: &str = "return [performance.getEntriesByType('navigation')[0],
            ...performance.getEntriesByType('resource')]
         .filter(e => new URL(e.name).origin === location.origin && !e.name.includes('/api/'))
         .map(e => [new URL(e.name).pathname, e.encodedBodySize]);";

/// The bytes the same files take when the server may send only gzip (what it sent
/// before brotli): the baseline of the first page's budget.
async fn gzip_bytes(url: &str, paths: &[String]) -> f64 {
    let client = reqwest::Client::new();
    let mut total = 0;
    for path in paths {
        let r = client
            .get(format!("{url}{path}"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        total += r.bytes().await.unwrap().len();
    }
    total as f64
}

async fn first_load(url: &str) -> Load {
    let mut out = Load::default();
    let result = &mut out;
    Browser::start("bench_first_load")
        .await
        .run(|c| async move {
            c.goto(url).await.unwrap();
            wait_for(&c, "#login-user").await;
            let v = c
                .execute(
                    "return [performance.getEntriesByName('berth:login-ready')[0].startTime,
                      performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd];",
                    vec![],
                )
                .await
                .unwrap();
            let f = |i: usize| v[i].as_f64().unwrap_or(f64::NAN);
            let sent: Vec<(String, f64)> =
                serde_json::from_value(c.execute(SENT, vec![]).await.unwrap()).unwrap();
            *result = Load {
                ready: f(0),
                parsed: f(1),
                sent: sent.iter().map(|(_, bytes)| bytes).sum(),
                paths: sent.into_iter().map(|(path, _)| path).collect(),
            };
        })
        .await;
    out
}

/// Clicks `button` (a CSS selector) and waits until the list has rendered: `rows`
/// rows, or (with `rows` above [`SHOWN`]) its window of the rows near the viewport;
/// (ms to them, longest main-thread task meanwhile).
async fn render(c: &Client, button: &str, rows: usize) -> (f64, f64) {
    c.execute(BEAT, vec![]).await.unwrap();
    let rendered = match rows > SHOWN {
        true => "document.querySelector('tbody.windowed tr[data-id]') !== null".to_owned(),
        false => format!("document.querySelectorAll('tr[data-id]').length >= {rows}"),
    };
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const start = performance.now();
         const check = () => {{
             if ({rendered}) {{ done(performance.now() - start); return true; }}
             return false;
         }};
         new MutationObserver((_, o) => {{ if (check()) o.disconnect(); }})
             .observe(document.body, {{ childList: true, subtree: true }});
         document.querySelector(arguments[0]).click();"
    );
    let took: Value = c.execute_async(&script, vec![button.into()]).await.unwrap();
    (took.as_f64().unwrap_or(f64::NAN), longest_task(c).await)
}

/// One view of the list (its first rows, or all of them) under live updates.
#[derive(Default)]
struct View {
    rows: usize,
    to_rows: f64,
    render_task: f64,
    /// The longest task per update.
    updates: Vec<f64>,
    /// The longest frame per update: whole, scripts, rendering.
    frames: Vec<[f64; 3]>,
    /// The list's renders to their DOM patch while the updates ran.
    renders: Vec<f64>,
}

/// Opens a view with `button`, then starts each of `ids` behind the page's back and
/// waits for its row to say running.
async fn view(
    c: &Client,
    docker: &bollard::Docker,
    (button, rows): (&str, usize),
    ids: &[String],
) -> View {
    let (to_rows, render_task) = render(c, button, rows).await;
    // Clicking scrolled the button into view; the updated rows are near the top.
    c.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(fantoccini::Locator::Css(&format!(
            "tr[data-id='{}']",
            ids[0]
        )))
        .await
        .expect("the first updated row is rendered at the top");
    c.execute(
        "performance.clearMeasures('berth:containers-rendered');",
        vec![],
    )
    .await
    .unwrap();
    let mut v = View {
        rows,
        to_rows,
        render_task,
        ..View::default()
    };
    for id in ids {
        c.execute(BEAT, vec![]).await.unwrap();
        docker.start_container(id, None).await.unwrap();
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(fantoccini::Locator::Css(&format!(
                "tr[data-id='{id}'] .state.running"
            )))
            .await
            .expect("the row follows the start");
        v.updates.push(longest_task(c).await);
        v.frames.push(longest_frame(c).await);
    }
    // The updates' renders (and the once-a-second redraws of the CPU and memory
    // columns meanwhile).
    let renders = c
        .execute(
            "return performance.getEntriesByName('berth:containers-rendered').map(e => e.duration);",
            vec![],
        )
        .await
        .unwrap();
    v.renders = serde_json::from_value(renders).unwrap_or_default();
    v
}

impl View {
    fn rows_md(mut self, what: &str, idle: f64) -> String {
        let part = |i: usize| -> f64 {
            let mut values: Vec<f64> = self.frames.iter().map(|f| f[i]).collect();
            pct(&mut values, 0.5)
        };
        let (frame, scripts, rendering) = (part(0), part(1), part(2));
        let n = self.updates.len();
        let (p50, max) = (pct(&mut self.updates, 0.5), pct(&mut self.updates, 1.0));
        let renders = self.renders.len();
        let (r50, rmax) = (pct(&mut self.renders, 0.5), pct(&mut self.renders, 1.0));
        let (rows, to_rows, render_task) = (self.rows, self.to_rows, self.render_task);
        let rendered = match rows > SHOWN {
            true => "the rows near the viewport (windowed)".to_owned(),
            false => format!("{rows} rows"),
        };
        format!(
            "| Containers page, {CONTAINERS} containers, {what}: click to {rendered} | {to_rows:.0} ms | — | — | — |\n\
             | the same: longest main-thread task while it renders (baseline: the idle page's) | {render_task:.1} ms | {idle:.1} ms | — | — |\n\
             | the same, live update (a container started elsewhere → its row says running): longest main-thread task, p50 / max of {n} (baseline: the idle page's) | {p50:.1} / {max:.1} ms | {idle:.1} ms | — | ≤ 16 ms |\n\
             | the same: the update's longest animation frame (Long Animation Frames API), p50: whole / its scripts / its rendering | {frame:.1} / {scripts:.1} / {rendering:.1} ms | — | — | — |\n\
             | the same: the list's render to its DOM patch per update (the page's `berth:containers-rendered` measure), p50 / max of {renders} | {r50:.1} / {rmax:.1} ms | — | — | ≤ 16 ms |\n"
        )
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let md = rt.block_on(async {
        let scope = Scope::new().await;
        let ids = create_containers(&scope).await;
        let (_tmp, berth) = ws::start().await;
        let url = berth.url.clone();
        let mut loads = Vec::new();
        for _ in 0..LOADS {
            loads.push(first_load(&url).await);
        }
        let ready = median(loads.iter().map(|l| l.ready).collect());
        let parsed = median(loads.iter().map(|l| l.parsed).collect());
        let sent = median(loads.iter().map(|l| l.sent).collect());
        let gzip = gzip_bytes(&url, &loads[0].paths).await;
        let mut figures = (0.0, View::default(), View::default());
        let result = &mut figures;
        let docker = scope.docker.clone();
        Browser::start("bench_containers")
            .await
            .run(|c| async move {
                login(&c, &url, "admin", ADMIN_PASSWORD).await;
                // The first rows (the page's default), updated by the first
                // containers in its order (by name)…
                let first = view(&c, &docker, ("#nav-containers", SHOWN), &ids[..UPDATES]).await;
                // The idle page: what the heartbeat sees with nothing to do.
                c.execute(BEAT, vec![]).await.unwrap();
                tokio::time::sleep(Duration::from_secs(2)).await;
                let idle = longest_task(&c).await;
                // …then every row.
                let updated = &ids[UPDATES..2 * UPDATES];
                let all = view(&c, &docker, (".show-all-rows", CONTAINERS), updated).await;
                *result = (idle, first, all);
            })
            .await;
        let (idle, first, all) = figures;
        let mut md =
            String::from("| figure | Berth | baseline | ratio | goal |\n|---|---|---|---|---|\n");
        md += &format!(
            "| first load to an interactive login, median of {LOADS} fresh browsers (baseline: index.html's DOMContentLoaded) | {ready:.0} ms | {parsed:.0} ms | {:.1}× | ≤ 1 s |\n",
            ready / parsed
        );
        md += &format!(
            "| what the first page loads (index.html, wasm, JS, CSS), compressed as the browser received it (baseline: the same files gzip-only) | {:.0} KiB ({:.0} KB) | {:.0} KiB | {:.2}× | ≤ 600 KB |\n",
            sent / 1024.0,
            sent / 1000.0,
            gzip / 1024.0,
            sent / gzip
        );
        md += &first.rows_md(&format!("the first {SHOWN} rows shown (the default)"), idle);
        md += &all.rows_md("every row shown (“Show all”)", idle);
        drop(berth);
        md
    });
    print!("{md}");
    berth_tests::write_bench_report("ui", &md);
}
