//! The built web app in headless Chromium, served by the real server.

use std::time::Duration;

use auditlog_tests::browser::Browser;
use auditlog_tests::{workspace_root, Backend};
use fantoccini::Locator;

use crate::{built_web_app, RunningServer};

async fn wait_for_text(browser: &Browser, css: &str) -> String {
    let element = browser
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("{css} did not appear: {error}"));
    element.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_shows_server_health_and_reads_views_from_the_url() {
    let running = RunningServer::start(Backend::Sqlite, built_web_app());
    let browser = Browser::start().await;

    browser.client.goto(running.url()).await.unwrap();
    let health = wait_for_text(&browser, "[data-test=health]").await;
    assert!(health.contains("ok"), "{health}");
    assert!(health.contains("sqlite"), "{health}");
    save_screenshot(&browser, "home.png").await;

    // A deep link is served by the server's fallback and read by the shared query model in WASM.
    let deep = format!(
        "{}/projects/1/security/audit-logs?q=deploy&method.not=get&range=24h",
        running.url()
    );
    browser.client.goto(&deep).await.unwrap();
    let view = wait_for_text(&browser, "[data-test=audit-query]").await;
    assert!(view.contains("range=24h&method.not=GET&q=deploy"), "{view}");

    let broken = format!(
        "{}/projects/1/security/audit-logs?status=7xx",
        running.url()
    );
    browser.client.goto(&broken).await.unwrap();
    let error = wait_for_text(&browser, "[data-test=audit-query-error]").await;
    assert!(error.contains("`7xx`"), "{error}");

    browser.close().await;
}

/// Keeps a picture of the page for the README (`docs/screenshots/`).
async fn save_screenshot(browser: &Browser, name: &str) {
    let png = browser.client.screenshot().await.unwrap();
    let dir = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}
