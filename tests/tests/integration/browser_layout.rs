//! The layout at a phone's width (issue 29): at 390 px no main page scrolls sideways,
//! with a running container, its volume and network listed
//! (the document and the content area measured against the viewport), the sections
//! fold behind a Menu button that opens and closes them, and every main page is saved
//! as a screenshot at desktop and phone widths (`target/test-screenshots/pages/`) for
//! review.

use berth_tests::browser::{Browser, click, login, path, wait_for};
use berth_tests::docker::Scope;
use berth_tests::ws::{self, ADMIN_PASSWORD};
use fantoccini::Client;

/// The main pages: (address, `data-page`).
const PAGES: [(&str, &str); 14] = [
    ("/", "dashboard"),
    ("/containers", "containers"),
    ("/stats", "stats"),
    ("/containers/new", "new-container"),
    ("/stacks", "stacks"),
    ("/backups", "backups"),
    ("/jobs", "jobs"),
    ("/schedules", "schedules"),
    ("/volumes", "volumes"),
    ("/images", "images"),
    ("/networks", "networks"),
    ("/plugins", "plugins"),
    ("/audit", "audit"),
    ("/settings", "settings"),
];

async fn save_screenshot(c: &Client, name: &str) {
    let dir = berth_tests::workspace_root().join("target/test-screenshots/pages");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

/// How far the document and the content area reach beyond what is shown, in pixels.
async fn sideways(c: &Client) -> (i64, i64) {
    let measured = c
        .execute(
            "const main = document.getElementById('main');
             return [document.documentElement.scrollWidth - window.innerWidth,
                     main ? main.scrollWidth - main.clientWidth : 0];",
            vec![],
        )
        .await
        .expect("measured");
    let at = |i: usize| measured[i].as_i64().unwrap_or(i64::MAX);
    (at(0), at(1))
}

/// The elements reaching furthest right, for the failure message.
async fn widest(c: &Client) -> String {
    c.execute(
        "const limit = window.innerWidth;
         return [...document.querySelectorAll('#main *')]
           .map(e => [e.getBoundingClientRect().right, e.tagName + '.' + e.className + '#' + e.id])
           .filter(([r]) => r > limit).sort((a, b) => b[0] - a[0]).slice(0, 5)
           .map(([r, d]) => Math.round(r) + ' ' + d).join('; ');",
        vec![],
    )
    .await
    .ok()
    .and_then(|v| v.as_str().map(str::to_owned))
    .unwrap_or_default()
}

/// Controls without an accessible name (what a screen reader would announce): no
/// text, no `aria-label`, no `title`, no label that names them — a placeholder does
/// not count, it is gone once something is typed. Up to twenty, described.
async fn unnamed_controls(c: &Client) -> Vec<String> {
    let v = c
        .execute(
            "const named = e => {
                 if ((e.getAttribute('aria-label') || e.getAttribute('title') || '').trim()) return true;
                 if (['BUTTON', 'A'].includes(e.tagName) && e.textContent.trim()) return true;
                 if (e.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(e.type) && e.value.trim()) return true;
                 if ([...(e.labels || [])].some(l => l.textContent.trim())) return true;
                 const by = e.getAttribute('aria-labelledby') || '';
                 return by.split(' ').some(id => (document.getElementById(id)?.textContent || '').trim());
             };
             return [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea, svg[role=img]')]
               .filter(e => e.getClientRects().length > 0 && !named(e))
               .slice(0, 20).map(e => e.outerHTML.slice(0, 140));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap_or_default()
}

/// Opens each main page (waiting for its content to load) and hands it to `check`.
async fn each_page(c: &Client, url: &str, width: &str) {
    let mut unnamed = Vec::new();
    for (address, page) in PAGES {
        c.goto(&format!("{url}{address}")).await.unwrap();
        wait_for(c, &format!("section[data-page='{page}'] h1")).await;
        // Loaded: no "Loading…" left (lists fill the width once they arrive).
        c.wait()
            .for_element(fantoccini::Locator::XPath(
                "//main[not(.//p[text()='Loading…'])]",
            ))
            .await
            .expect("the page loaded");
        // The Stats page fills as samples come; its table is what is measured.
        if page == "stats" {
            wait_for(c, "#stats-table tbody tr").await;
        }
        save_screenshot(c, &format!("{page}-{width}")).await;
        for control in unnamed_controls(c).await {
            unnamed.push(format!("{page}: {control}"));
        }
        if width == "phone" {
            let (document, content) = sideways(c).await;
            assert!(
                document <= 1 && content <= 1,
                "{page} scrolls sideways at 390 px: document by {document} px, content by {content} px; widest: {}",
                widest(c).await
            );
        }
    }
    assert!(
        unnamed.is_empty(),
        "controls without an accessible name: {unnamed:#?}"
    );
}

#[tokio::test]
async fn at_a_phone_s_width_no_page_scrolls_sideways_and_the_menu_folds() {
    // Something in each list, with the long names tests give things.
    let scope = Scope::new().await;
    let volume = scope.create_volume("layout-data").await;
    let network = scope.create_network("layout-net").await;
    scope
        .container("layout-app")
        .volume(&volume, "/data")
        .network(&network)
        .publish("8080/tcp")
        .sh("while true; do sleep 1; done")
        .start()
        .await;
    let (_tmp, berth) = ws::start().await;
    let url = berth.url.clone();
    Browser::start("layout")
        .await
        .run(|c| async move {
            login(&c, &url, "admin", ADMIN_PASSWORD).await;
            each_page(&c, &url, "desktop").await;
            c.set_window_size(390, 844).await.unwrap();
            each_page(&c, &url, "phone").await;
            // The sections are behind the Menu button, which opens them; picking one
            // goes there and folds them again.
            let sidebar = wait_for(&c, "#sidebar").await;
            assert!(!sidebar.is_displayed().await.unwrap(), "folded at first");
            click(&c, "#menu-toggle").await;
            wait_for(&c, "#menu-toggle[aria-expanded='true']").await;
            click(&c, "#nav-volumes").await;
            wait_for(&c, "section[data-page='volumes']").await;
            assert_eq!(path(&c).await, "/volumes");
            wait_for(&c, "#menu-toggle[aria-expanded='false']").await;
            assert!(!sidebar.is_displayed().await.unwrap(), "folded again");
        })
        .await;
}
