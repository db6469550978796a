//! The built web app in headless Chromium, served by the real server.

use std::time::{Duration, Instant};

use auditlog_shared::wire::{AuditPage, Histogram, Role};
use auditlog_tests::api::sign_in;
use auditlog_tests::browser::Browser;
use auditlog_tests::{workspace_root, AdminAccount, Backend};
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::elements::Element;
use fantoccini::Locator;
use serde_json::json;

use crate::{built_web_app, RunningServer};

async fn wait_for(browser: &Browser, css: &str) -> Element {
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("{css} did not appear: {error}"))
}

async fn wait_for_text(browser: &Browser, css: &str) -> String {
    wait_for(browser, css).await.text().await.unwrap()
}

/// Polls until `check` holds for the page, or fails after 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn current_query(browser: &Browser) -> String {
    browser
        .client
        .current_url()
        .await
        .unwrap()
        .query()
        .unwrap_or_default()
        .to_string()
}

/// The entry ids and methods the table shows, read again when a re-render replaces the rows
/// midway.
async fn table_rows(browser: &Browser) -> Vec<(i64, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(rows) = try_table_rows(browser).await {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "the table kept changing for 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn try_table_rows(browser: &Browser) -> Option<Vec<(i64, String)>> {
    let mut rows = Vec::new();
    for row in browser
        .client
        .find_all(Locator::Css("[data-test=entry]"))
        .await
        .ok()?
    {
        let id = row.attr("data-entry-id").await.ok()??;
        let method = row.attr("data-method").await.ok()??;
        rows.push((id.parse().ok()?, method));
    }
    Some(rows)
}

/// Whether the checkbox `css` is checked.
async fn is_checked(browser: &Browser, css: &str) -> bool {
    wait_for(browser, css)
        .await
        .prop("checked")
        .await
        .unwrap()
        .as_deref()
        == Some("true")
}

async fn sign_in_page(browser: &Browser, url: &str, email: &str, password: &str) {
    browser
        .client
        .goto(&format!("{url}/sign-in"))
        .await
        .unwrap();
    fill_sign_in_form(browser, email, password, true).await;
}

/// Signs `admin` in and opens Audit logs from the navigation (its default view), with rows.
async fn open_audit_logs(browser: &Browser, url: &str, admin: &AdminAccount) {
    sign_in_page(browser, url, &admin.email, &admin.password).await;
    wait_for(browser, "[data-test=nav-audit-logs]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(browser, "[data-test=entry]").await;
}

/// Fills the sign-in form the page shows and submits it.
async fn fill_sign_in_form(browser: &Browser, email: &str, password: &str, screenshot: bool) {
    wait_for(browser, "input[name=email]")
        .await
        .send_keys(email)
        .await
        .unwrap();
    wait_for(browser, "input[name=password]")
        .await
        .send_keys(password)
        .await
        .unwrap();
    if screenshot {
        save_screenshot(browser, "sign-in.png").await;
    }
    wait_for(browser, "button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_filters_brushes_and_exports_and_a_viewer_is_kept_out() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    let api = |suffix: &str| session.project_url(project, suffix);

    // Some real activity: reads, writes, deletes; a viewer member; export enabled.
    let created: serde_json::Value = session
        .authorize(client.post(api("/applications")))
        .json(&json!({"name": "billing", "image": "registry/billing:1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app_id = created["id"].as_i64().unwrap();
    for name in ["web", "worker", "cron"] {
        let response = session
            .authorize(client.post(api("/applications")))
            .json(&json!({"name": name, "image": "registry/app:1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    for _ in 0..3 {
        session
            .authorize(client.get(api("/applications")))
            .send()
            .await
            .unwrap();
        session
            .authorize(client.post(api(&format!("/applications/{app_id}/deploy"))))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    }
    let deleted = session
        .authorize(client.delete(api(&format!("/applications/{app_id}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let invitation: serde_json::Value = session
        .authorize(client.post(api("/members")))
        .json(&json!({"email": "vera@example.com", "role": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accepted = client
        .post(format!(
            "{url}/api/v1/invitations/{}/accept",
            invitation["secret"].as_str().expect("an invitation secret")
        ))
        .json(&json!({"display_name": "Vera Viewer", "password": "vera's long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    session
        .authorize(client.patch(api("/settings")))
        .json(&json!({"audit_export_enabled": true}))
        .send()
        .await
        .unwrap();

    let browser = Browser::start().await;

    // The admin signs in and opens Audit logs from the navigation: reads are hidden.
    sign_in_page(&browser, &url, &admin.email, &admin.password).await;
    wait_for(&browser, "[data-test=nav-audit-logs]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the URL holds the GET exclusion", || async {
        current_query(&browser).await == "method.not=GET&action.not=audit_log.*"
    })
    .await;
    wait_for(&browser, "[data-test=entry]").await;
    let rows = table_rows(&browser).await;
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|(_, method)| method != "GET"), "{rows:?}");
    let chip = wait_for_text(&browser, "[data-test=chip]").await;
    assert!(chip.contains("Method excludes GET"), "{chip}");
    assert!(
        is_checked(&browser, "[data-test=hide-own-reads]").await,
        "the navigation default hides the audit log's own requests"
    );
    save_screenshot(&browser, "audit-logs.png").await;

    // Include DELETE: the URL and the rows change.
    wait_for(&browser, "[data-test=filter-dimension]")
        .await
        .select_by_value("method")
        .await
        .unwrap();
    wait_for(&browser, "[data-test=filter-value]")
        .await
        .send_keys("DELETE")
        .await
        .unwrap();
    wait_for(&browser, "[data-test=add-filter]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the URL includes DELETE", || async {
        current_query(&browser).await.contains("method=DELETE")
    })
    .await;
    eventually("only DELETE rows show", || async {
        let rows = table_rows(&browser).await;
        !rows.is_empty() && rows.iter().all(|(_, method)| method == "DELETE")
    })
    .await;
    let filtered_query = current_query(&browser).await;
    save_screenshot(&browser, "audit-logs-filtered.png").await;

    // A reload keeps the view.
    browser.client.refresh().await.unwrap();
    wait_for(&browser, "[data-test=entry]").await;
    assert_eq!(current_query(&browser).await, filtered_query);
    assert!(table_rows(&browser)
        .await
        .iter()
        .all(|(_, method)| method == "DELETE"));

    // Back to the writes of the last hour; brush the newest part of the chart.
    for chip in browser
        .client
        .find_all(Locator::Css("[data-test=chip]"))
        .await
        .unwrap()
    {
        if chip.text().await.unwrap().contains("DELETE") {
            chip.find(Locator::Css(".chip-remove"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            break;
        }
    }
    eventually("DELETE is no longer included", || async {
        !current_query(&browser).await.contains("method=DELETE")
    })
    .await;
    wait_for(&browser, "[data-test=range-1h]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the range is the last hour", || async {
        current_query(&browser).await.contains("range=1h")
    })
    .await;
    let chart = wait_for(&browser, "[data-test=volume-chart]").await;
    // From a quarter of the chart to its right edge (offsets are from the chart's centre).
    let (_, _, width, _) = chart.rectangle().await.unwrap();
    let right_edge = width / 2.0 - 2.0;
    let drag = MouseActions::new("mouse".to_string())
        .then(PointerAction::MoveToElement {
            element: chart.clone(),
            duration: None,
            x: -width / 4.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveToElement {
            element: chart.clone(),
            duration: Some(Duration::from_millis(200)),
            x: width / 4.0,
            y: 0.0,
        })
        .then(PointerAction::MoveToElement {
            element: chart.clone(),
            duration: Some(Duration::from_millis(200)),
            x: right_edge,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser.client.perform_actions(drag).await.unwrap();
    eventually("the brushed window is in the URL", || async {
        let query = current_query(&browser).await;
        query.contains("from=") && query.contains("to=") && !query.contains("range=")
    })
    .await;
    let brushed = current_query(&browser).await;
    let page: AuditPage = session
        .authorize(client.get(format!("{}?{brushed}", api("/audit-logs"))))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        (page.to - page.from).num_minutes() < 50,
        "the window narrowed"
    );
    let expected: Vec<i64> = page.entries.iter().map(|e| e.id).collect();
    eventually("the table shows the brushed window", || async {
        table_rows(&browser)
            .await
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>()
            == expected
    })
    .await;
    // The table counts the window's matches with the chart's total.
    let counted: Histogram = session
        .authorize(client.get(format!("{}?{brushed}", api("/audit-logs/histogram"))))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shown = format!("{} shown · {} matching", expected.len(), counted.total);
    eventually("the table counts the matches", || async {
        match browser.client.find(Locator::Css("[data-test=total]")).await {
            Ok(element) => element.text().await.is_ok_and(|t| t.starts_with(&shown)),
            Err(_) => false,
        }
    })
    .await;
    assert!(
        !expected.is_empty(),
        "the newest writes fall in the brushed window: {brushed} ({} to {})",
        page.from,
        page.to
    );
    wait_for(&browser, "[data-test=reset-zoom]").await;
    save_screenshot(&browser, "audit-logs-brushed.png").await;

    // Export the view: as many rows as the table's total, the same entries.
    wait_for(&browser, "[data-test=export]")
        .await
        .click()
        .await
        .unwrap();
    let done = wait_for_text(&browser, "[data-test=export-done]").await;
    assert!(
        done.contains(&format!("Downloaded {} rows", counted.total)),
        "{done}"
    );
    // The app fetched the export's signed manifest and compared the file with it.
    let manifest = wait_for_text(&browser, "[data-test=export-manifest]").await;
    assert!(
        manifest.starts_with("Matches its signed manifest (SHA-256 "),
        "{manifest}"
    );
    wait_for(&browser, "[data-test=export-manifest-download]").await;
    let exported = session
        .authorize(client.get(format!("{}?{brushed}", api("/audit-logs/export.ndjson"))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exported_ids: Vec<i64> = exported
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(exported_ids, expected);

    // A viewer sees no Audit logs tab, and the direct URL explains why.
    browser.client.delete_all_cookies().await.unwrap();
    sign_in_page(&browser, &url, "vera@example.com", "vera's long password").await;
    wait_for(&browser, "[data-test=project-switcher]").await;
    assert!(browser
        .client
        .find(Locator::Css("[data-test=nav-audit-logs]"))
        .await
        .is_err());
    browser
        .client
        .goto(&format!(
            "{url}/projects/{project}/security/audit-logs?method.not=GET"
        ))
        .await
        .unwrap();
    let denied = wait_for_text(&browser, "[data-test=admins-only]").await;
    assert!(
        denied.contains("Only project admins can view audit logs"),
        "{denied}"
    );
    save_screenshot(&browser, "viewer-denied.png").await;

    // The admin verifies on demand: intact, then, after someone deletes the oldest entries
    // behind the server's back, tampering found.
    browser.client.delete_all_cookies().await.unwrap();
    sign_in_page(&browser, &url, &admin.email, &admin.password).await;
    wait_for(&browser, "[data-test=nav-audit-logs]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[data-test=verify]")
        .await
        .click()
        .await
        .unwrap();
    let verified = wait_for_text(&browser, "[data-test=integrity-ok]").await;
    assert!(
        verified.starts_with("Verified through entry #"),
        "{verified}"
    );
    auditlog_tests::storage::StoredDatabase::open(running.database_url()).execute(&format!(
        "DELETE FROM audit_entries WHERE project_id = {project} AND chain_seq <= 2"
    ));
    wait_for(&browser, "[data-test=verify]")
        .await
        .click()
        .await
        .unwrap();
    let broken = wait_for_text(&browser, "[data-test=integrity-broken]").await;
    assert!(
        broken.contains("Tampering found at entry #1") && broken.contains("missing"),
        "{broken}"
    );

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_shows_server_health_and_rejects_broken_links() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let browser = Browser::start().await;

    browser
        .client
        .goto(&format!("{}/sign-in", running.url()))
        .await
        .unwrap();
    let health = wait_for_text(&browser, "[data-test=health]").await;
    assert!(
        health.contains("ok") && health.contains("sqlite"),
        "{health}"
    );

    // A shared link opened signed out lands on the sign-in page, once, and after signing in on
    // exactly the shared view.
    let shared = format!("/projects/{project}/security/audit-logs?method.not=GET&range=24h");
    browser
        .client
        .goto(&format!("{}{shared}", running.url()))
        .await
        .unwrap();
    wait_for(&browser, "input[name=email]").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at_sign_in = browser.client.current_url().await.unwrap();
    assert_eq!(at_sign_in.path(), "/sign-in");
    let next: Vec<String> = at_sign_in
        .query_pairs()
        .filter(|(key, _)| key == "next")
        .map(|(_, value)| value.into_owned())
        .collect();
    assert_eq!(next, vec![shared.clone()], "{at_sign_in}");
    fill_sign_in_form(&browser, &admin.email, &admin.password, false).await;
    eventually("the shared view opens", || async {
        let now = browser.client.current_url().await.unwrap();
        format!("{}?{}", now.path(), now.query().unwrap_or_default()) == shared
    })
    .await;
    wait_for(&browser, "[data-test=nav-audit-logs]").await;

    // Signing out leaves a usable sign-in page, not a growing address.
    wait_for(&browser, ".whoami button.link")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&browser, "input[name=email]").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signed_out = browser.client.current_url().await.unwrap();
    assert_eq!(signed_out.path(), "/sign-in");
    assert!(signed_out.as_str().len() < 300, "{signed_out}");
    assert!(
        !signed_out.as_str().contains("next=%2Fsign-in"),
        "{signed_out}"
    );

    // A broken link is explained, not a blank page.
    sign_in_page(&browser, running.url(), &admin.email, &admin.password).await;
    wait_for(&browser, "[data-test=project-switcher]").await;
    browser
        .client
        .goto(&format!(
            "{}/projects/{project}/security/audit-logs?status=7xx",
            running.url()
        ))
        .await
        .unwrap();
    let error = wait_for_text(&browser, "[data-test=audit-query-error]").await;
    assert!(error.contains("`7xx`"), "{error}");
    // Only the explanation: no filters, chart, rows or endless loading of another view.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for css in [
        "[data-test=table-card]",
        "[data-test=chart-card]",
        ".skeleton",
        "[data-test=filter-value]",
        "[data-test=export]",
    ] {
        assert!(
            browser.client.find(Locator::Css(css)).await.is_err(),
            "an invalid view shows {css}"
        );
    }
    wait_for(&browser, "[data-test=audit-query-error] button")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[data-test=table-card][data-view]").await;
    assert!(browser
        .client
        .find(Locator::Css("[data-test=audit-query-error]"))
        .await
        .is_err());
    browser.close().await;
}

/// Makes every request of the page wait `delay_ms` before it is sent, so a test can look at
/// what the page shows while a view loads. (gloo-net calls `window.fetch` when it sends.)
async fn slow_down_requests(browser: &Browser, delay_ms: u64) {
    browser
        .client
        .execute(
            "const delay = arguments[0];
             const send = window.fetch.bind(window);
             window.fetch = (...args) => new Promise(r => setTimeout(r, delay)).then(() => send(...args));",
            vec![json!(delay_ms)],
        )
        .await
        .unwrap();
}

/// Watches every frame the page paints and records each one where the table shows a row that
/// the URL's method filter excludes, or where the table claims another view.
async fn watch_for_stale_rows(browser: &Browser) {
    browser
        .client
        .execute(
            "window.__stale = []; window.__busySeen = false;
             const check = () => {
               const query = location.search.replace(/^\\?/, '');
               const wanted = new URLSearchParams(location.search).getAll('method');
               for (const row of document.querySelectorAll('[data-test=entry]')) {
                 if (wanted.length && !wanted.includes(row.dataset.method)) {
                   window.__stale.push(query + ' shows a ' + row.dataset.method + ' row');
                   break;
                 }
               }
               const table = document.querySelector('[data-test=table-card]');
               if (table && table.getAttribute('aria-busy') === 'true') window.__busySeen = true;
               if (table && table.dataset.view !== undefined && table.dataset.view !== query)
                 window.__stale.push(query + ' shows the table of ' + table.dataset.view);
               requestAnimationFrame(check);
             };
             requestAnimationFrame(check);",
            vec![],
        )
        .await
        .unwrap();
}

/// What the watcher saw: the stale frames, and whether the table ever said it was loading.
async fn stale_frames(browser: &Browser) -> (Vec<String>, bool) {
    let seen = browser
        .client
        .execute("return [window.__stale, window.__busySeen];", vec![])
        .await
        .unwrap();
    let stale = seen[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (stale, seen[1].as_bool().unwrap())
}

/// Picks a filter dimension, types a value and presses Enter, as an admin adds a filter.
async fn add_filter_by_typing(browser: &Browser, dimension: &str, value: &str) {
    wait_for(browser, "[data-test=filter-dimension]")
        .await
        .select_by_value(dimension)
        .await
        .unwrap();
    wait_for(browser, "[data-test=filter-value]")
        .await
        .send_keys(&format!("{value}{ENTER}"))
        .await
        .unwrap();
}

/// The texts of the picker's listed values.
async fn picker_options(browser: &Browser) -> Vec<String> {
    let mut texts = Vec::new();
    for option in browser
        .client
        .find_all(Locator::Css("[data-test=filter-option]"))
        .await
        .unwrap_or_default()
    {
        if let Ok(text) = option.text().await {
            texts.push(text);
        }
    }
    texts
}

const ENTER: &str = "\u{E007}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_finds_rare_values_by_name_and_a_loading_view_never_shows_the_last_one() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    let api = |suffix: &str| session.project_url(project, suffix);

    // Many writes of a few kinds, and one revoked token: the revoke is rarer than any of them.
    for i in 0..40 {
        let response = session
            .authorize(client.post(api("/applications")))
            .json(&json!({"name": format!("app-{i}"), "image": "registry/app:1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        session
            .authorize(client.post(api("/clusters")))
            .json(&json!({"name": format!("cluster-{i}"), "region": "eu-west-1"}))
            .send()
            .await
            .unwrap();
    }
    let token = session
        .create_token(&client, project, "Nightly Backup Robot", Role::Developer)
        .await;
    let robot = reqwest::Client::new();
    for i in 0..3 {
        let response = robot
            .post(api("/applications"))
            .bearer_auth(&token.secret)
            .json(&json!({"name": format!("robot-{i}"), "image": "registry/app:1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let revoked = session
        .authorize(client.delete(api(&format!("/tokens/{}", token.token.id))))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    let browser = Browser::start().await;
    open_audit_logs(&browser, &url, &admin).await;

    // The action picker finds the revoke by a word of its label.
    wait_for(&browser, "[data-test=filter-dimension]")
        .await
        .select_by_value("action")
        .await
        .unwrap();
    wait_for(&browser, "[data-test=filter-value]")
        .await
        .send_keys("revoke")
        .await
        .unwrap();
    eventually("the picker lists only what contains the text", || async {
        let options = picker_options(&browser).await;
        options.iter().any(|t| t.starts_with("Revoke API token"))
            && options.iter().all(|t| t.to_lowercase().contains("revoke"))
    })
    .await;
    save_screenshot(&browser, "audit-logs-picker.png").await;
    for option in browser
        .client
        .find_all(Locator::Css("[data-test=filter-option]"))
        .await
        .unwrap()
    {
        if option.text().await.unwrap().starts_with("Revoke API token") {
            option.click().await.unwrap();
            break;
        }
    }
    eventually("the URL filters on the revoke", || async {
        current_query(&browser).await
            == "method.not=GET&action=api_token.revoke&action.not=audit_log.*"
    })
    .await;
    eventually("only the revoke shows", || async {
        let rows = table_rows(&browser).await;
        rows.len() == 1 && rows[0].1 == "DELETE"
    })
    .await;
    eventually("the chip names the action", || async {
        let mut texts = Vec::new();
        for chip in browser
            .client
            .find_all(Locator::Css("[data-test=chip]"))
            .await
            .unwrap_or_default()
        {
            texts.push(chip.text().await.unwrap_or_default());
        }
        texts
            .iter()
            .any(|t| t.contains("Action is Revoke API token"))
    })
    .await;

    // An actor is found by part of its name and shown by name, never as a bare id; a typed
    // name that is the only match is taken with Enter.
    wait_for(&browser, "[data-test=clear-all]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the filters are cleared", || async {
        current_query(&browser).await.is_empty()
    })
    .await;
    wait_for(&browser, "[data-test=filter-dimension]")
        .await
        .select_by_value("actor")
        .await
        .unwrap();
    let input = wait_for(&browser, "[data-test=filter-value]").await;
    input.send_keys("backup").await.unwrap();
    eventually("the picker lists the robot by name", || async {
        picker_options(&browser)
            .await
            .iter()
            .any(|t| t.starts_with("Nightly Backup Robot"))
    })
    .await;
    assert!(
        picker_options(&browser)
            .await
            .iter()
            .all(|t| !t.contains("token:")),
        "raw ids are not shown"
    );
    // The new view's facets are slow to come: the chip is named from the pick, never `token:N`.
    slow_down_requests(&browser, 800).await;
    input.send_keys(ENTER).await.unwrap();
    eventually("the URL filters on the robot", || async {
        current_query(&browser).await == format!("actor=token:{}", token.token.id)
    })
    .await;
    let chip = wait_for_text(&browser, "[data-test=chip]").await;
    assert!(chip.contains("Actor is Nightly Backup Robot"), "{chip}");
    // A reload keeps the name on the chip (the facets name the view's own values).
    browser.client.refresh().await.unwrap();
    eventually("the chip names the robot after a reload", || async {
        match browser.client.find(Locator::Css("[data-test=chip]")).await {
            Ok(chip) => chip
                .text()
                .await
                .is_ok_and(|t| t.contains("Actor is Nightly Backup Robot")),
            Err(_) => false,
        }
    })
    .await;
    // Text that matches nothing is refused with a reason, and nothing changes.
    let before = current_query(&browser).await;
    wait_for(&browser, "[data-test=filter-dimension]")
        .await
        .select_by_value("actor")
        .await
        .unwrap();
    wait_for(&browser, "[data-test=filter-value]")
        .await
        .send_keys("nobody-by-this-name")
        .await
        .unwrap();
    wait_for(&browser, "[data-test=add-filter]")
        .await
        .click()
        .await
        .unwrap();
    let refused = wait_for_text(&browser, "[data-test=filter-error]").await;
    assert!(
        refused.contains("No actor matches “nobody-by-this-name”"),
        "{refused}"
    );
    assert_eq!(current_query(&browser).await, before);

    // While a new view loads, the page shows that it loads: never the rows of the view before
    // under the new filters.
    browser
        .client
        .goto(&format!("{url}/projects/{project}/security/audit-logs"))
        .await
        .unwrap();
    wait_for(&browser, "[data-test=entry]").await;
    slow_down_requests(&browser, 600).await;
    watch_for_stale_rows(&browser).await;
    add_filter_by_typing(&browser, "method", "DELETE").await;
    eventually("the URL includes DELETE", || async {
        current_query(&browser).await.contains("method=DELETE")
    })
    .await;
    eventually("the DELETE rows show", || async {
        let rows = table_rows(&browser).await;
        !rows.is_empty() && rows.iter().all(|(_, method)| method == "DELETE")
    })
    .await;
    let (stale, busy_seen) = stale_frames(&browser).await;
    assert!(stale.is_empty(), "frames showed another view: {stale:?}");
    assert!(busy_seen, "the table said it was loading");
    browser.close().await;
}

/// Whether an element lies inside the viewport's width.
async fn inside_viewport(browser: &Browser, css: &str) -> bool {
    browser
        .client
        .execute(
            "const e = document.querySelector(arguments[0]); if (!e) return false;
             const r = e.getBoundingClientRect();
             return r.width > 0 && r.left >= -1 && r.right <= window.innerWidth + 1;",
            vec![json!(css)],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_an_admin_reads_rows_filters_and_charts() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    for i in 0..6 {
        let response = session
            .authorize(client.post(session.project_url(project, "/applications")))
            .json(&json!({"name": format!("phone-app-{i}"), "image": "registry/app:1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    let browser = Browser::start().await;
    browser.client.set_window_size(390, 844).await.unwrap();
    sign_in_page(&browser, &url, &admin.email, &admin.password).await;
    let width = browser
        .client
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(width <= 400.0, "a phone's viewport: {width}");

    // The navigation is folded into a menu button.
    let toggle = wait_for(&browser, "[data-test=nav-toggle]").await;
    assert!(toggle.is_displayed().await.unwrap());
    let audit_link = wait_for(&browser, "[data-test=nav-audit-logs]").await;
    assert!(
        !audit_link.is_displayed().await.unwrap(),
        "the menu starts folded"
    );
    toggle.click().await.unwrap();
    eventually("the menu opens", || async {
        audit_link.is_displayed().await.unwrap_or(false)
    })
    .await;
    audit_link.click().await.unwrap();
    wait_for(&browser, "[data-test=entry]").await;
    eventually("the menu folds after navigating", || async {
        match browser
            .client
            .find(Locator::Css("[data-test=nav-audit-logs]"))
            .await
        {
            Ok(link) => !link.is_displayed().await.unwrap_or(true),
            Err(_) => false,
        }
    })
    .await;

    // Nothing is wider than the phone; each entry is a card across it, leading with what
    // happened.
    let page_width = browser
        .client
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(
        page_width <= width + 1.0,
        "the page scrolls sideways: {page_width} > {width}"
    );
    let rows = browser
        .client
        .find_all(Locator::Css("[data-test=entry]"))
        .await
        .unwrap();
    assert!(rows.len() >= 6);
    let mut actions = Vec::new();
    for row in &rows {
        let (_, _, row_width, _) = row.rectangle().await.unwrap();
        assert!(row_width >= width * 0.8, "a row is {row_width} px wide");
        let action = row.find(Locator::Css(".cell-action")).await.unwrap();
        assert!(action.is_displayed().await.unwrap());
        actions.push(action.text().await.unwrap());
    }
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.as_str() == "Create application")
            .count(),
        6,
        "{actions:?}"
    );
    for css in [
        "[data-test=volume-chart]",
        "[data-test=filter-value]",
        "[data-test=add-filter]",
        "[data-test=search]",
        "[data-test=range-30d]",
        "[data-test=next-page]",
    ] {
        assert!(inside_viewport(&browser, css).await, "{css} is off screen");
    }
    save_screenshot(&browser, "audit-logs-phone.png").await;

    // Filters work there too.
    wait_for(&browser, "[data-test=range-1h]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the range is the last hour", || async {
        current_query(&browser).await.contains("range=1h")
    })
    .await;
    add_filter_by_typing(&browser, "method", "POST").await;
    eventually("the phone's view filters on POST", || async {
        current_query(&browser).await.contains("method=POST")
    })
    .await;
    eventually("only POST rows show", || async {
        let rows = table_rows(&browser).await;
        !rows.is_empty() && rows.iter().all(|(_, method)| method == "POST")
    })
    .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joins_through_the_invitation_page_and_ends_their_sessions() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();

    // The app runs under the content security policy the server sends with it.
    let page = reqwest::get(format!("{url}/sign-in")).await.unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        policy.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-")
            && !policy.contains("unsafe-inline"),
        "{policy}"
    );

    // The admin invites Dora from the members page and gets the link to hand over.
    let browser = Browser::start().await;
    sign_in_page(&browser, &url, &admin.email, &admin.password).await;
    wait_for(&browser, "[data-test=project-switcher]").await;
    browser
        .client
        .goto(&format!("{url}/projects/{project}/members"))
        .await
        .unwrap();
    wait_for(&browser, "[data-test=invite-email]")
        .await
        .send_keys("dora@example.com")
        .await
        .unwrap();
    wait_for(&browser, "[data-test=invite-role]")
        .await
        .select_by_value("developer")
        .await
        .unwrap();
    wait_for(&browser, "[data-test=invite-member] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    let notice = wait_for_text(&browser, "[data-test=notice]").await;
    let link = notice
        .split_whitespace()
        .find(|word| word.contains("/invitations/"))
        .unwrap_or_else(|| panic!("no link in {notice}"))
        .to_string();
    assert!(link.starts_with(&url), "{link}");
    let pending = wait_for_text(&browser, "[data-test=invitation-row]").await;
    assert!(pending.contains("dora@example.com"), "{pending}");

    // Dora, signed out, opens the link, chooses her own password and lands in the project.
    browser.client.delete_all_cookies().await.unwrap();
    browser.client.goto(&link).await.unwrap();
    let invited = wait_for_text(&browser, "[data-test=accept-invitation] h1").await;
    assert!(invited.starts_with("Join "), "{invited}");
    for (field, text) in [
        ("accept-name", "Dora Developer"),
        ("accept-password", "dora's own passphrase"),
        ("accept-confirm", "dora's own passphrase"),
    ] {
        wait_for(&browser, &format!("[data-test={field}]"))
            .await
            .send_keys(text)
            .await
            .unwrap();
    }
    save_screenshot(&browser, "accept-invitation.png").await;
    wait_for(&browser, "[data-test=accept-submit]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[data-test=project-switcher]").await;
    let whoami = wait_for_text(&browser, ".whoami").await;
    assert!(whoami.contains("Dora Developer"), "{whoami}");

    // The link works once.
    let client = reqwest::Client::new();
    let secret = link.rsplit('/').next().unwrap();
    let again = client
        .get(format!("{url}/api/v1/invitations/{secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410);

    // Another session of Dora's, then a password change on the account page ends it.
    let elsewhere = sign_in(&client, &url, "dora@example.com", "dora's own passphrase").await;
    wait_for(&browser, "[data-test=account-link]")
        .await
        .click()
        .await
        .unwrap();
    for (field, text) in [
        ("current-password", "dora's own passphrase"),
        ("new-password", "a fresher passphrase"),
        ("confirm-password", "a fresher passphrase"),
    ] {
        wait_for(&browser, &format!("[data-test={field}]"))
            .await
            .send_keys(text)
            .await
            .unwrap();
    }
    wait_for(&browser, "[data-test=change-password-submit]")
        .await
        .click()
        .await
        .unwrap();
    let changed = wait_for_text(&browser, "[data-test=account-notice]").await;
    assert!(changed.contains("Password changed"), "{changed}");
    let status = elsewhere
        .authorize(client.get(format!("{url}/api/v1/session")))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "the other session ended");

    // Sign out everywhere, from the page whose session survived the change.
    wait_for(&browser, "[data-test=sign-out-everywhere]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the sign-in page opens", || async {
        browser.client.current_url().await.unwrap().path() == "/sign-in"
    })
    .await;
    sign_in_page(&browser, &url, "dora@example.com", "a fresher passphrase").await;
    wait_for(&browser, "[data-test=project-switcher]").await;
    browser.close().await;
}

/// Keeps a picture of the page for the README (`docs/screenshots/`).
async fn save_screenshot(browser: &Browser, name: &str) {
    let png = browser.client.screenshot().await.unwrap();
    let dir = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_switch_hides_the_audit_logs_own_reads_and_search_finds_labels() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    let api = |suffix: &str| session.project_url(project, suffix);
    let created = session
        .authorize(client.post(api("/applications")))
        .json(&json!({"name": "billing", "image": "registry/app:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let listed = session
        .authorize(client.get(api("/applications")))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let actions_of = |query: String| {
        let request = session.authorize(client.get(api(&format!("/audit-logs?{query}"))));
        async move {
            let page: AuditPage = request.send().await.unwrap().json().await.unwrap();
            page.entries
                .into_iter()
                .map(|e| (e.id, e.action))
                .collect::<Vec<_>>()
        }
    };

    let browser = Browser::start().await;
    open_audit_logs(&browser, &url, &admin).await;
    assert!(is_checked(&browser, "[data-test=hide-own-reads]").await);
    // With GETs included, the switch still keeps the page's own reads out.
    let method_chip = wait_for(&browser, "[data-test=chip] .chip-remove").await;
    method_chip.click().await.unwrap();
    eventually(
        "GETs are back, the audit log's own requests are not",
        || async { current_query(&browser).await == "action.not=audit_log.*" },
    )
    .await;
    eventually("the rows are the API's for that view", || async {
        let expected = actions_of("action.not=audit_log.*".into()).await;
        let rows = table_rows(&browser).await;
        expected
            .iter()
            .all(|(_, action)| !action.starts_with("audit_log."))
            && expected
                .iter()
                .any(|(_, action)| action == "application.list")
            && rows.iter().map(|(id, _)| *id).collect::<Vec<_>>()
                == expected.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    })
    .await;
    // Off: the investigator's own reads show.
    wait_for(&browser, "[data-test=hide-own-reads]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the switch is off in the URL", || async {
        current_query(&browser).await.is_empty()
    })
    .await;
    assert!(!is_checked(&browser, "[data-test=hide-own-reads]").await);
    eventually("the page's own reads are listed", || async {
        let own: Vec<i64> = actions_of(String::new())
            .await
            .into_iter()
            .filter(|(_, action)| action.starts_with("audit_log."))
            .map(|(id, _)| id)
            .collect();
        table_rows(&browser)
            .await
            .iter()
            .any(|(id, _)| own.contains(id))
    })
    .await;
    // Search finds an action by the label the table shows.
    wait_for(&browser, "[data-test=search]")
        .await
        .send_keys("Create applic")
        .await
        .unwrap();
    eventually("only the create matches", || async {
        let rows = table_rows(&browser).await;
        current_query(&browser).await == "q=Create+applic" && rows.len() == 1 && rows[0].1 == "POST"
    })
    .await;
    browser.close().await;
}

/// The query bar's text.
async fn bar_text(browser: &Browser) -> String {
    wait_for(browser, "[data-test=query-bar]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Replaces the query bar's text with `text` (without submitting it).
async fn type_into_bar(browser: &Browser, text: &str) {
    let bar = wait_for(browser, "[data-test=query-bar]").await;
    bar.clear().await.unwrap();
    bar.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_bar_and_the_chips_agree_both_ways() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    let api = |suffix: &str| session.project_url(project, suffix);
    let mut billing = 0;
    for name in ["billing", "web"] {
        let created: serde_json::Value = session
            .authorize(client.post(api("/applications")))
            .json(&json!({"name": name, "image": "registry/app:1"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if name == "billing" {
            billing = created["id"].as_i64().unwrap();
        }
    }
    let browser = Browser::start().await;
    open_audit_logs(&browser, &url, &admin).await;
    eventually("the bar shows the navigation default", || async {
        bar_text(&browser).await == "-method:GET -action:audit_log.*"
    })
    .await;

    // A typed name the page does not know is read by the server.
    type_into_bar(&browser, &format!("method:POST app:billing{ENTER}")).await;
    eventually("the URL holds the typed view", || async {
        current_query(&browser).await == format!("method=POST&application={billing}")
    })
    .await;
    eventually("the chips name it, and the bar shows it back", || async {
        let chips: Vec<String> = match browser
            .client
            .find_all(Locator::Css("[data-test=chip]"))
            .await
        {
            Ok(chips) => {
                let mut texts = Vec::new();
                for chip in chips {
                    texts.push(chip.text().await.unwrap_or_default());
                }
                texts
            }
            Err(_) => Vec::new(),
        };
        chips.iter().any(|c| c.contains("Application is billing"))
            && bar_text(&browser).await == "method:POST app:billing"
    })
    .await;
    eventually("only the billing create shows", || async {
        let rows = table_rows(&browser).await;
        rows.len() == 1 && rows[0].1 == "POST"
    })
    .await;
    save_screenshot(&browser, "audit-logs-query-bar.png").await;

    // Removing a chip rewrites the bar.
    wait_for(&browser, "[data-test=chip] .chip-remove")
        .await
        .click()
        .await
        .unwrap();
    eventually("the bar follows the chips", || async {
        bar_text(&browser).await == "app:billing"
            && current_query(&browser).await == format!("application={billing}")
    })
    .await;

    // Errors point at their token and leave the view alone.
    for (typed, token, says) in [
        ("deploy status:7xx", "status:7xx", "status"),
        (
            "app:nothing-here method:GET",
            "app:nothing-here",
            "no application",
        ),
    ] {
        type_into_bar(&browser, &format!("{typed}{ENTER}")).await;
        let error = wait_for_text(&browser, "[data-test=query-bar-error]").await;
        assert!(error.contains(says), "{typed}: {error}");
        assert_eq!(
            wait_for_text(&browser, "[data-test=query-bar-token]").await,
            token
        );
        assert_eq!(
            current_query(&browser).await,
            format!("application={billing}")
        );
    }

    // Typing a key suggests the view's values; a picked name needs no server round trip.
    type_into_bar(&browser, "actor:ad").await;
    let suggestion = wait_for(&browser, "[data-test=query-bar-suggestion]").await;
    assert!(
        suggestion.text().await.unwrap().contains(&admin.name),
        "suggested: {}",
        suggestion.text().await.unwrap()
    );
    suggestion.click().await.unwrap();
    assert_eq!(bar_text(&browser).await, format!("actor:{}", admin.name));
    wait_for(&browser, "[data-test=query-bar]")
        .await
        .send_keys(ENTER)
        .await
        .unwrap();
    eventually("the picked actor filters the view", || async {
        current_query(&browser).await.starts_with("actor=user:")
    })
    .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_opens_in_a_drawer_the_url_keeps_and_cells_filter_on_click() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    let api = |suffix: &str| session.project_url(project, suffix);
    for name in ["billing", "web"] {
        let response = session
            .authorize(client.post(api("/applications")))
            .json(&json!({"name": name, "image": "registry/app:1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let clusters = session
        .authorize(client.post(api("/clusters")))
        .json(&json!({"name": "prod", "region": "eu-west-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(clusters.status(), 201);

    // Three hours behind UTC all year, so local and UTC times differ.
    let browser = Browser::start_in_time_zone("America/Sao_Paulo").await;
    open_audit_logs(&browser, &url, &admin).await;
    let rows = table_rows(&browser).await;
    let (first_id, _) = rows[0];

    // A row opens its entry in a drawer; the URL names it.
    wait_for(&browser, "[data-test=entry] [data-test=open-entry]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the URL names the open entry", || async {
        current_query(&browser).await
            == format!("method.not=GET&action.not=audit_log.*&entry={first_id}")
    })
    .await;
    let expected: auditlog_shared::wire::AuditEntry = session
        .authorize(client.get(api(&format!("/audit-logs/entries/{first_id}"))))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let field = |name: &'static str| {
        let browser = &browser;
        async move { wait_for_text(browser, &format!("[data-field='{name}']")).await }
    };
    assert_eq!(field("Request id").await, expected.request_id);
    assert_eq!(
        field("Chain position").await,
        format!("#{}", expected.chain_seq)
    );
    assert_eq!(field("Entry hash").await, expected.entry_hash);
    assert!(field("Route").await.contains(&expected.route));
    save_screenshot(&browser, "audit-logs-drawer.png").await;
    // Its JSON is the entry exactly.
    let json = browser
        .client
        .execute(
            "return document.querySelector('[data-test=entry-json]').textContent;",
            vec![],
        )
        .await
        .unwrap();
    let shown: auditlog_shared::wire::AuditEntry =
        serde_json::from_str(json.as_str().unwrap()).unwrap();
    assert_eq!(shown, expected);

    // A reload keeps it open; Escape closes it and leaves the view.
    browser.client.refresh().await.unwrap();
    assert_eq!(field("Request id").await, expected.request_id);
    wait_for(&browser, "[data-test=entry-drawer]")
        .await
        .send_keys("\u{E00C}")
        .await
        .unwrap();
    eventually("Escape closes the drawer", || async {
        current_query(&browser).await == "method.not=GET&action.not=audit_log.*"
    })
    .await;
    assert!(browser
        .client
        .find(Locator::Css("[data-test=entry-drawer]"))
        .await
        .is_err());

    // The permalink opens the entry over a window around it; "same request id" shows the
    // request's entries.
    wait_for(&browser, "[data-test=entry] [data-test=open-entry]")
        .await
        .click()
        .await
        .unwrap();
    let permalink = wait_for(&browser, "[data-test=entry-permalink]")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        permalink.contains("from=") && permalink.ends_with(&format!("&entry={first_id}")),
        "{permalink}"
    );
    browser
        .client
        .goto(&format!("{url}{permalink}"))
        .await
        .unwrap();
    assert_eq!(field("Request id").await, expected.request_id);
    eventually("the permalink's window shows the entry", || async {
        table_rows(&browser)
            .await
            .iter()
            .any(|(id, _)| *id == first_id)
    })
    .await;
    wait_for(&browser, "[data-test=same-request]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the view filters on the request", || async {
        current_query(&browser)
            .await
            .contains(&format!("request_id={}", expected.request_id))
    })
    .await;
    eventually("only the request's entry shows", || async {
        table_rows(&browser)
            .await
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>()
            == vec![first_id]
    })
    .await;

    // Click-to-filter: a cell includes its value; Alt-click excludes it.
    browser
        .client
        .goto(&format!(
            "{url}/projects/{project}/security/audit-logs?method.not=GET"
        ))
        .await
        .unwrap();
    wait_for(&browser, "[data-test=entry]").await;
    wait_for(
        &browser,
        "[data-test=cell-filter][data-dimension=action][data-value='application.create']",
    )
    .await
    .click()
    .await
    .unwrap();
    eventually("the cell's value filters the view", || async {
        current_query(&browser).await == "method.not=GET&action=application.create"
    })
    .await;
    eventually("only creates show", || async {
        let rows = table_rows(&browser).await;
        rows.len() == 2 && rows.iter().all(|(_, method)| method == "POST")
    })
    .await;
    assert!(
        browser
            .client
            .find(Locator::Css("[data-test=entry-drawer]"))
            .await
            .is_err(),
        "a cell filters without opening the entry"
    );
    let resource = wait_for(
        &browser,
        "[data-test=cell-filter][data-dimension=application]",
    )
    .await;
    let excluded = resource.attr("data-value").await.unwrap().unwrap();
    browser
        .client
        .execute(
            "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true, altKey: true}));",
            vec![serde_json::to_value(&resource).unwrap()],
        )
        .await
        .unwrap();
    eventually("Alt-click excludes the value", || async {
        current_query(&browser).await
            == format!("method.not=GET&action=application.create&application.not={excluded}")
    })
    .await;
    eventually("one create is left", || async {
        table_rows(&browser).await.len() == 1
    })
    .await;

    // Times in the browser's zone or in UTC, named beside them and remembered.
    let shown_time =
        || async { wait_for_text(&browser, "[data-test=entry] [data-test=open-entry]").await };
    let heading = wait_for_text(&browser, "[data-test=time-heading]").await;
    // (The heading is shown in capitals.)
    assert!(
        heading.to_lowercase().contains("utc-03:00 (local)"),
        "{heading}"
    );
    let newest: AuditPage = session
        .authorize(client.get(format!(
            "{}?{}",
            api("/audit-logs"),
            current_query(&browser).await
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = newest.entries[0].timestamp;
    let in_sao_paulo = (at - chrono::Duration::hours(3))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_eq!(shown_time().await, in_sao_paulo);
    wait_for(&browser, "[data-test=zone-utc]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the times are in UTC", || async {
        shown_time().await == at.format("%Y-%m-%d %H:%M:%S").to_string()
    })
    .await;
    assert!(wait_for_text(&browser, "[data-test=time-heading]")
        .await
        .to_lowercase()
        .contains("(utc)"));
    browser.client.refresh().await.unwrap();
    eventually("UTC is remembered", || async {
        shown_time().await == at.format("%Y-%m-%d %H:%M:%S").to_string()
    })
    .await;

    // A relative view's link can pin the window it shows now.
    wait_for(&browser, "[data-test=range-24h]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[data-test=copy-absolute-link]")
        .await
        .click()
        .await
        .unwrap();
    let pinned = wait_for(&browser, "[data-test=absolute-link]")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        pinned.contains("from=") && pinned.contains("to=") && !pinned.contains("range="),
        "{pinned}"
    );
    browser.client.goto(&pinned).await.unwrap();
    wait_for(&browser, "[data-test=entry]").await;
    assert!(browser
        .client
        .find(Locator::Css("[data-test=copy-absolute-link]"))
        .await
        .is_err());
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tail_announces_new_entries_and_views_are_saved_for_the_project() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    let create = |name: String| {
        let request = session
            .authorize(client.post(session.project_url(project, "/applications")))
            .json(&json!({"name": name, "image": "registry/app:1"}));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 201);
        }
    };
    create("first".into()).await;

    let browser = Browser::start().await;
    open_audit_logs(&browser, &url, &admin).await;
    let before = table_rows(&browser).await;
    wait_for(&browser, "[data-test=live-toggle]")
        .await
        .click()
        .await
        .unwrap();

    for i in 0..3 {
        create(format!("live-{i}")).await;
    }
    let banner = wait_for_text(&browser, "[data-test=new-entries]").await;
    assert_eq!(banner, "3 new entries — show them");
    // The rows stayed where the reader was.
    assert_eq!(table_rows(&browser).await, before);
    wait_for(&browser, "[data-test=new-entries]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the new entries are shown on top", || async {
        let rows = table_rows(&browser).await;
        rows.len() == before.len() + 3 && rows[3..] == before[..]
    })
    .await;
    assert!(browser
        .client
        .find(Locator::Css("[data-test=new-entries]"))
        .await
        .is_err());

    // Switched off, nothing is announced.
    wait_for(&browser, "[data-test=live-toggle]")
        .await
        .click()
        .await
        .unwrap();
    create("quiet".into()).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(browser
        .client
        .find(Locator::Css("[data-test=new-entries]"))
        .await
        .is_err());

    // The view is saved under a name, listed for the project's admins, opened and deleted.
    wait_for(&browser, "[data-test=range-24h]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the window is a day", || async {
        current_query(&browser).await == "range=24h&method.not=GET&action.not=audit_log.*"
    })
    .await;
    let save = |name: &'static str| {
        let browser = &browser;
        async move {
            wait_for(browser, "[data-test=save-view]")
                .await
                .click()
                .await
                .unwrap();
            wait_for(browser, "[data-test=save-view-name]")
                .await
                .send_keys(name)
                .await
                .unwrap();
            wait_for(browser, "[data-test=save-view-submit]")
                .await
                .click()
                .await
                .unwrap();
        }
    };
    save("Writes today").await;
    let done = wait_for_text(&browser, "[data-test=save-view-done]").await;
    assert_eq!(done, "Saved as “Writes today”");
    let link = wait_for(&browser, "[data-test=saved-view]").await;
    assert_eq!(link.text().await.unwrap(), "Writes today");
    let saved: Vec<auditlog_shared::wire::SavedView> = session
        .authorize(client.get(session.project_url(project, "/saved-views")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(
        saved[0].query,
        "range=24h&method.not=GET&action.not=audit_log.*"
    );
    save("Writes today").await;
    let refused = wait_for_text(&browser, "[data-test=save-view-error]").await;
    assert!(refused.contains("already exists"), "{refused}");
    // Another view, then the saved one from the navigation.
    wait_for(&browser, "[data-test=range-1h]")
        .await
        .click()
        .await
        .unwrap();
    eventually("another view", || async {
        current_query(&browser).await.contains("range=1h")
    })
    .await;
    wait_for(&browser, "[data-test=saved-view]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the saved view opens", || async {
        current_query(&browser).await == "range=24h&method.not=GET&action.not=audit_log.*"
    })
    .await;
    // Deleting asks once more.
    let delete = wait_for(&browser, "[data-test=delete-saved-view]").await;
    delete.click().await.unwrap();
    assert_eq!(delete.text().await.unwrap(), "Delete?");
    delete.click().await.unwrap();
    eventually("the saved view is gone", || async {
        browser
            .client
            .find(Locator::Css("[data-test=saved-view]"))
            .await
            .is_err()
    })
    .await;
    browser.close().await;
}

/// The `from` and `to` of the page's query.
async fn window_of(
    browser: &Browser,
) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    let query = auditlog_shared::AuditQuery::parse(&current_query(browser).await).ok()?;
    match query.range {
        auditlog_shared::DateRange::Custom(custom) => Some((custom.from()?, custom.to()?)),
        auditlog_shared::DateRange::Last(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_reads_a_bar_zooms_into_it_and_moves_the_window() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    for i in 0..5 {
        let response = session
            .authorize(client.post(session.project_url(project, "/applications")))
            .json(&json!({"name": format!("chart-{i}"), "image": "registry/app:1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    // A refused create (the name is taken) is a 4xx among the 2xx.
    let taken = session
        .authorize(client.post(session.project_url(project, "/applications")))
        .json(&json!({"name": "chart-0", "image": "registry/app:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 409);

    let browser = Browser::start().await;
    sign_in_page(&browser, &url, &admin.email, &admin.password).await;
    wait_for(&browser, "[data-test=nav-audit-logs]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[data-test=range-1h]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the last hour", || async {
        current_query(&browser).await == "range=1h&method.not=GET&action.not=audit_log.*"
    })
    .await;
    wait_for(&browser, "[data-test=chart-card][data-view]").await;
    let chart: Histogram = session
        .authorize(client.get(format!(
            "{}?range=1h&method.not=GET&action.not=audit_log.*",
            session.project_url(project, "/audit-logs/histogram")
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (index, busiest) = chart
        .buckets
        .iter()
        .enumerate()
        .max_by_key(|(_, bucket)| bucket.count)
        .unwrap();
    assert!(busiest.count >= 6, "{busiest:?}");
    // The count axis reaches the busiest bar.
    let top: u64 = wait_for_text(&browser, "[data-test=chart-y-axis] span:first-child")
        .await
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(top >= busiest.count, "{top} < {}", busiest.count);

    // Hovering the busiest bar reads its count.
    let svg = wait_for(&browser, "[data-test=volume-chart]").await;
    let (_, _, width, _) = svg.rectangle().await.unwrap();
    let n = chart.buckets.len() as f64;
    let x = ((index as f64 + 0.5) / n - 0.5) * width;
    let hover = MouseActions::new("mouse".to_string()).then(PointerAction::MoveToElement {
        element: svg.clone(),
        duration: None,
        x,
        y: 0.0,
    });
    browser.client.perform_actions(hover).await.unwrap();
    let readout = wait_for_text(&browser, "[data-test=chart-tooltip]").await;
    let classes = busiest
        .by_status_class
        .expect("the bar is split by status class");
    assert_eq!(classes[3], 1, "the refused create: {busiest:?}");
    assert_eq!(classes.iter().sum::<u64>(), busiest.count);
    assert!(
        readout.ends_with(&format!(
            "· {} entries (1 4xx, {} 2xx)",
            busiest.count, classes[1]
        )),
        "{readout}"
    );
    // The bar is drawn in segments, the 4xx one among them, and a legend names the classes.
    assert!(!browser
        .client
        .find_all(Locator::Css("[data-test=volume-chart] rect.fill.s4xx"))
        .await
        .unwrap()
        .is_empty());
    assert!(wait_for_text(&browser, "[data-test=chart-legend]")
        .await
        .contains("4xx"));

    // A click zooms into that bar's window.
    let click = MouseActions::new("mouse".to_string())
        .then(PointerAction::MoveToElement {
            element: svg.clone(),
            duration: None,
            x,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser.client.perform_actions(click).await.unwrap();
    eventually("the window is the bar's", || async {
        // The newest bar ends at the page's "now", a moment after the test's.
        let end = busiest.start + chrono::Duration::seconds(chart.bucket_seconds);
        window_of(&browser).await.is_some_and(|(from, to)| {
            from == busiest.start.max(chart.from)
                && to <= end
                && to >= end.min(chart.to) - chrono::Duration::seconds(60)
        })
    })
    .await;
    let (from, to) = window_of(&browser).await.unwrap();
    wait_for(&browser, "[data-test=reset-zoom]").await;

    // Earlier moves the window back by its width; Zoom out doubles it around its middle.
    wait_for(&browser, "[data-test=chart-card][data-view]").await;
    wait_for(&browser, "[data-test=shift-earlier]")
        .await
        .click()
        .await
        .unwrap();
    let width_of_window = to - from;
    eventually("the window moved back", || async {
        window_of(&browser).await == Some((from - width_of_window, to - width_of_window))
    })
    .await;
    wait_for(&browser, "[data-test=chart-card][data-view]").await;
    wait_for(&browser, "[data-test=zoom-out]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the window is twice as wide", || async {
        // (Half a width is rounded to the microsecond.)
        let near = |a: chrono::DateTime<chrono::Utc>, b: chrono::DateTime<chrono::Utc>| {
            (a - b).num_microseconds().unwrap().abs() <= 1
        };
        window_of(&browser).await.is_some_and(|(f, t)| {
            near(f, from - width_of_window - width_of_window / 2)
                && near(t, to - width_of_window + width_of_window / 2)
        })
    })
    .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dark_mode_follows_the_system_and_the_keyboard_reaches_search_and_shortcuts() {
    let admin = AdminAccount::ada();
    let (running, _project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let browser = Browser::start_dark().await;
    open_audit_logs(&browser, &url, &admin).await;

    // The page is dark because the system is.
    let colours = browser
        .client
        .execute(
            "return [matchMedia('(prefers-color-scheme: dark)').matches,
                     getComputedStyle(document.body).backgroundColor,
                     getComputedStyle(document.querySelector('.table-card')).backgroundColor,
                     getComputedStyle(document.querySelector('.entries td')).color];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        colours[0],
        json!(true),
        "the browser prefers dark: {colours}"
    );
    let channels = |css: &serde_json::Value| -> Vec<u32> {
        css.as_str()
            .unwrap()
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|c| c.trim().parse().unwrap())
            .collect()
    };
    let page = channels(&colours[1]);
    let card = channels(&colours[2]);
    let text = channels(&colours[3]);
    assert!(page.iter().all(|c| *c < 40), "a dark page: {page:?}");
    assert!(card.iter().all(|c| *c < 50), "a dark card: {card:?}");
    assert!(text.iter().all(|c| *c > 180), "light text: {text:?}");
    save_screenshot(&browser, "audit-logs-dark.png").await;

    // `/` goes to the search box; `?` lists the shortcuts and Escape closes the list.
    browser
        .client
        .execute(
            "document.activeElement && document.activeElement.blur();",
            vec![],
        )
        .await
        .unwrap();
    let press = |key: char| {
        fantoccini::actions::KeyActions::new("keyboard".to_string())
            .then(fantoccini::actions::KeyAction::Down { value: key })
            .then(fantoccini::actions::KeyAction::Up { value: key })
    };
    browser.client.perform_actions(press('/')).await.unwrap();
    let focused = browser
        .client
        .execute("return document.activeElement.dataset.test;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!("search"));
    // Typed into the search box, `?` is text, not a shortcut.
    browser.client.perform_actions(press('?')).await.unwrap();
    assert!(browser
        .client
        .find(Locator::Css("[data-test=shortcuts]"))
        .await
        .is_err());
    browser
        .client
        .execute("document.activeElement.blur();", vec![])
        .await
        .unwrap();
    browser.client.perform_actions(press('?')).await.unwrap();
    let listed = wait_for_text(&browser, "[data-test=shortcuts]").await;
    assert!(
        listed.contains("Search") && listed.contains("Move between rows"),
        "{listed}"
    );
    browser
        .client
        .perform_actions(press('\u{E00C}'))
        .await
        .unwrap();
    eventually("Escape closes the list", || async {
        browser
            .client
            .find(Locator::Css("[data-test=shortcuts]"))
            .await
            .is_err()
    })
    .await;
    browser.close().await;
}

/// Runs axe-core (installed from npm by `scripts/setup.sh --browser`) in the page and returns
/// its WCAG 2 A and AA violations, one line each: rule, impact, what it asks and where.
async fn accessibility_violations(browser: &Browser) -> Vec<String> {
    let axe = std::fs::read_to_string(
        workspace_root().join(".tools/axe/node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core is installed: run scripts/setup.sh --browser");
    browser.client.execute(&axe, vec![]).await.unwrap();
    let found = browser
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                 .then(result => done(result.violations.map(v =>
                     `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`)))
                 .catch(error => done([`axe failed: ${error}`]));"#,
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_an_accessibility_audit_in_light_and_dark() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    let created = session
        .authorize(client.post(session.project_url(project, "/applications")))
        .json(&json!({"name": "billing", "image": "registry/app:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    for dark in [false, true] {
        let browser = if dark {
            Browser::start_dark().await
        } else {
            Browser::start().await
        };
        let mut found = Vec::new();
        browser
            .client
            .goto(&format!("{url}/sign-in"))
            .await
            .unwrap();
        wait_for(&browser, "input[name=email]").await;
        found.extend(
            accessibility_violations(&browser)
                .await
                .into_iter()
                .map(|v| format!("sign-in: {v}")),
        );
        open_audit_logs(&browser, &url, &admin).await;
        found.extend(
            accessibility_violations(&browser)
                .await
                .into_iter()
                .map(|v| format!("audit logs: {v}")),
        );
        // The drawer and the shortcuts list open over the page.
        wait_for(&browser, "[data-test=entry] [data-test=open-entry]")
            .await
            .click()
            .await
            .unwrap();
        wait_for(&browser, "[data-test=entry-drawer]").await;
        found.extend(
            accessibility_violations(&browser)
                .await
                .into_iter()
                .map(|v| format!("entry drawer: {v}")),
        );
        for page in [
            "applications",
            "clusters",
            "members",
            "tokens",
            "settings",
            "streaming",
        ] {
            browser
                .client
                .goto(&format!("{url}/projects/{project}/{page}"))
                .await
                .unwrap();
            wait_for(&browser, "main h1").await;
            // Let the page's data arrive before it is audited.
            tokio::time::sleep(Duration::from_millis(400)).await;
            found.extend(
                accessibility_violations(&browser)
                    .await
                    .into_iter()
                    .map(|v| format!("{page}: {v}")),
            );
        }
        browser.close().await;
        assert!(
            found.is_empty(),
            "{} violations ({}):\n{}",
            found.len(),
            if dark { "dark" } else { "light" },
            found.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_keeps_the_columns_and_density_the_admin_picks() {
    let admin = AdminAccount::ada();
    let (running, _project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let browser = Browser::start().await;
    open_audit_logs(&browser, &url, &admin).await;
    let displayed = |css: &'static str| {
        let browser = &browser;
        async move { wait_for(browser, css).await.is_displayed().await.unwrap() }
    };
    assert!(displayed("[data-test=heading-method]").await);
    assert!(
        !displayed("[data-test=heading-ip]").await,
        "Client IP is off until chosen"
    );

    wait_for(&browser, "[data-test=table-options] summary")
        .await
        .click()
        .await
        .unwrap();
    for choice in ["column-ip", "column-method", "compact-rows"] {
        wait_for(&browser, &format!("[data-test={choice}]"))
            .await
            .click()
            .await
            .unwrap();
    }
    let check = || async {
        let table = wait_for(&browser, "[data-test=entries]").await;
        let classes = table.attr("class").await.unwrap().unwrap_or_default();
        displayed("[data-test=heading-ip]").await
            && !displayed("[data-test=heading-method]").await
            && classes.split(' ').any(|c| c == "compact")
            && wait_for(&browser, "[data-test=cell-ip]")
                .await
                .text()
                .await
                .unwrap()
                .contains("127.0.0.1")
    };
    eventually("the chosen columns and density show", check).await;
    // A preference of this browser: it survives a reload (and is not part of the URL).
    let before = current_query(&browser).await;
    browser.client.refresh().await.unwrap();
    wait_for(&browser, "[data-test=entry]").await;
    eventually("the choice is remembered", check).await;
    assert_eq!(current_query(&browser).await, before);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drawer_shows_what_a_request_changed() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;
    let api = |suffix: &str| session.project_url(project, suffix);
    let created: serde_json::Value = session
        .authorize(client.post(api("/applications")))
        .json(&json!({"name": "web", "image": "registry/web:1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let updated = session
        .authorize(client.patch(api(&format!("/applications/{id}"))))
        .json(&json!({"image": "registry/web:2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let page: AuditPage = session
        .authorize(client.get(api("/audit-logs?action=application.update")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = page.entries[0].id;

    let browser = Browser::start().await;
    sign_in_page(&browser, &url, &admin.email, &admin.password).await;
    wait_for(&browser, "[data-test=nav-audit-logs]").await;
    browser
        .client
        .goto(&format!(
            "{url}/projects/{project}/security/audit-logs?method.not=GET&entry={entry}"
        ))
        .await
        .unwrap();
    let changes = wait_for_text(&browser, "[data-test=entry-changes]").await;
    assert!(
        changes.contains("What changed")
            && changes.contains("image registry/web:1 → registry/web:2"),
        "{changes}"
    );
    save_screenshot(&browser, "audit-logs-changes.png").await;
    browser.close().await;
}

/// The status badge of the destination named `name` on the Streaming page.
async fn stream_status(browser: &Browser, name: &str) -> Option<String> {
    let row = browser
        .client
        .find(Locator::Css(&format!(
            "[data-test=stream-row][data-stream-name='{name}']"
        )))
        .await
        .ok()?;
    row.attr("data-status").await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_streams_the_log_to_a_webhook_and_watches_its_health() {
    use auditlog_tests::receiver::{Mode, Receiver};
    use auditlog_tests::{create_admin, ServerProcess, TestDatabase};

    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(Backend::Sqlite, dir.path());
    let data_dir = dir.path().join("data");
    let admin = AdminAccount::ada();
    let project = create_admin(database.url(), &data_dir, &admin);
    let server = ServerProcess::start_with_args(
        database.url(),
        &data_dir,
        &built_web_app(),
        &[
            "--stream-allow-private-networks",
            "--stream-retry-max-seconds",
            "1",
        ],
    );
    let url = server.url().to_string();
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();
    let session = sign_in(&client, &url, &admin.email, &admin.password).await;

    let browser = Browser::start().await;
    sign_in_page(&browser, &url, &admin.email, &admin.password).await;
    wait_for(&browser, "[data-test=nav-streaming]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[data-test=create-stream]").await;
    assert!(wait_for_text(&browser, "[data-test=empty]")
        .await
        .contains("Nothing is streamed yet"));

    // A filter with a window is refused as it is typed, by the shared query model.
    wait_for(&browser, "[data-test=stream-name]")
        .await
        .send_keys("Security SIEM")
        .await
        .unwrap();
    wait_for(&browser, "[data-test=stream-url]")
        .await
        .send_keys(&format!("{}/hook", receiver.url))
        .await
        .unwrap();
    let filter = wait_for(&browser, "[data-test=stream-filter]").await;
    filter.send_keys("&range=24h").await.unwrap();
    assert!(wait_for_text(&browser, "[data-test=stream-filter-error]")
        .await
        .contains("range"));
    filter.clear().await.unwrap();
    filter.send_keys("method.not=GET").await.unwrap();
    wait_for(&browser, "[data-test=create-stream] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();

    // The signing secret is shown once; the destination is listed and active.
    let secret = wait_for_text(&browser, "[data-test=stream-secret]").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    wait_for(&browser, "[data-test=dismiss-secret]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the destination is listed as active", || async {
        stream_status(&browser, "Security SIEM").await.as_deref() == Some("active")
    })
    .await;

    // What admins do arrives at the receiver; the page shows it delivered.
    let created = session
        .authorize(client.post(session.project_url(project, "/applications")))
        .json(&json!({"name": "billing", "image": "registry/app:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    receiver
        .wait_for_entries(
            Duration::from_secs(20),
            "the application's creation",
            |got| {
                got.iter()
                    .any(|e| e["entry"]["action"] == "application.create")
            },
        )
        .await;
    eventually("the page counts the delivery", || async {
        let row =
            "[data-test=stream-row][data-stream-name='Security SIEM'] [data-test=stream-delivered]";
        wait_for_text(&browser, row)
            .await
            .split(' ')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n >= 2)
    })
    .await;

    // The receiver fails: the page says so, with the error, and the test event fails too.
    receiver.set_mode(Mode::Fail(503));
    let created = session
        .authorize(client.post(session.project_url(project, "/applications")))
        .json(&json!({"name": "web", "image": "registry/app:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // Retrying, then failing after five failures in a row (retries come every second here).
    eventually("the destination shows it is failing", || async {
        matches!(
            stream_status(&browser, "Security SIEM").await.as_deref(),
            Some("retrying" | "failing")
        )
    })
    .await;
    let error = wait_for_text(&browser, "[data-test=stream-row] [data-test=stream-error]").await;
    assert!(error.contains("503"), "{error}");
    let lag = wait_for_text(&browser, "[data-test=stream-row] [data-test=stream-lag]").await;
    assert!(lag.contains("behind"), "{lag}");
    wait_for(&browser, "[data-test=stream-row] [data-test=stream-test]")
        .await
        .click()
        .await
        .unwrap();
    let tested = wait_for_text(&browser, "[data-test=stream-test-result]").await;
    assert!(
        tested.contains("not delivered") && tested.contains("503"),
        "{tested}"
    );
    save_screenshot(&browser, "streaming.png").await;

    // Back up, it catches up; paused, it says so; resumed, it is active again.
    receiver.set_mode(Mode::Accept);
    receiver
        .wait_for_entries(Duration::from_secs(20), "the missed entry", |got| {
            got.iter().any(|e| e["entry"]["resource"]["name"] == "web")
        })
        .await;
    eventually("the destination is active again", || async {
        stream_status(&browser, "Security SIEM").await.as_deref() == Some("active")
    })
    .await;
    wait_for(&browser, "[data-test=stream-row] [data-test=stream-toggle]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the destination is paused", || async {
        stream_status(&browser, "Security SIEM").await.as_deref() == Some("paused")
    })
    .await;
    wait_for(&browser, "[data-test=stream-row] [data-test=stream-toggle]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the destination is resumed", || async {
        stream_status(&browser, "Security SIEM").await.as_deref() == Some("active")
    })
    .await;

    // An alert from a preset: five failed sign-ins of one account in ten minutes, sent to the
    // destination; it fires once, and its firing links to the entries.
    wait_for(&browser, "[data-test=create-alert]").await;
    wait_for(&browser, "[data-test=alert-preset]")
        .await
        .select_by_value("failed-sign-ins")
        .await
        .unwrap();
    assert_eq!(
        wait_for(&browser, "[data-test=alert-name]")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("5 failed sign-ins for one account in 10 minutes")
    );
    wait_for(&browser, "[data-test=create-alert] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    let condition = wait_for_text(
        &browser,
        "[data-test=alert-row][data-alert-name='5 failed sign-ins for one account in 10 minutes'] [data-test=alert-condition]",
    )
    .await;
    assert_eq!(condition, "5 matches within 10 minutes for one actor");
    let member_email = "mallory@example.com";
    let invited = session
        .authorize(client.post(session.project_url(project, "/members")))
        .json(&json!({"email": member_email, "role": "developer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 201);
    let secret = invited.json::<serde_json::Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let accepted = client
        .post(format!("{url}/api/v1/invitations/{secret}/accept"))
        .json(&json!({"password": "mallory's long password", "display_name": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    for _ in 0..5 {
        let refused = client
            .post(format!("{url}/api/v1/session"))
            .json(&json!({"email": member_email, "password": "a guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }
    eventually("the alert notification arrives", || async {
        receiver.alerts().len() == 1
    })
    .await;
    eventually("the page counts the firing", || async {
        wait_for_text(&browser, "[data-test=alert-row] [data-test=alert-fired]")
            .await
            .starts_with("1 ·")
    })
    .await;
    wait_for(&browser, "[data-test=alert-row] [data-test=alert-firings]")
        .await
        .click()
        .await
        .unwrap();
    let firing = wait_for_text(&browser, "[data-test=firing]").await;
    assert!(
        firing.contains("5 entries") && firing.contains("Mallory") && firing.contains("sent"),
        "{firing}"
    );
    save_screenshot(&browser, "alerts.png").await;
    wait_for(&browser, "[data-test=firing-view]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the firing's entries are listed", || async {
        browser
            .client
            .current_url()
            .await
            .is_ok_and(|now| now.as_str().contains("action=session.sign_in_failed"))
    })
    .await;
    assert_eq!(receiver.alerts().len(), 1, "the alert fired once");
    browser.close().await;
    drop(server);
}

/// The interactive API reference at `/api/docs` renders this server's own document under its
/// Content-Security-Policy (every script from the server, nothing from another origin), and
/// "Try it out" reaches the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_renders_the_servers_own_document() {
    let admin = AdminAccount::ada();
    let (running, _project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{}/api/docs", running.url()))
        .await
        .unwrap();
    let title = wait_for_text(&browser, ".information-container .title").await;
    assert!(title.contains("Auditlog API"), "{title}");
    let paths: Vec<String> = {
        let mut paths = Vec::new();
        for element in browser
            .client
            .find_all(Locator::Css(".opblock-summary-path"))
            .await
            .unwrap()
        {
            paths.push(element.text().await.unwrap().replace('\u{200b}', ""));
        }
        paths
    };
    assert!(paths.iter().any(|p| p == "/api/v1/session"), "{paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p == "/api/v1/projects/{project_id}/audit-logs"),
        "{paths:?}"
    );
    assert_eq!(
        browser.client.current_url().await.unwrap().path(),
        "/api/docs/"
    );
    // Try it out: the public health check answers through the page.
    wait_for(&browser, ".opblock-summary-path[data-path='/healthz']")
        .await
        .click()
        .await
        .unwrap();
    // "Try it out" is on from the start: the operation opens ready to execute.
    wait_for(&browser, ".execute").await.click().await.unwrap();
    let status = wait_for_text(&browser, ".live-responses-table tbody .response-col_status").await;
    assert!(status.contains("200"), "{status}");
    save_screenshot(&browser, "api-reference.png").await;
}

/// Clicks the element `css` names.
async fn click(browser: &Browser, css: &str) {
    wait_for(browser, css).await.click().await.unwrap();
}

/// Types `text` into the field `css` names, after what it holds.
async fn type_into(browser: &Browser, css: &str, text: &str) {
    wait_for(browser, css).await.send_keys(text).await.unwrap();
}

/// Waits until the page's change notice says something containing `expected`.
async fn notice_saying(browser: &Browser, expected: &str) {
    eventually(&format!("the notice says “{expected}”"), || async {
        match browser
            .client
            .find(Locator::Css("[data-test=notice]"))
            .await
        {
            Ok(element) => element.text().await.unwrap_or_default().contains(expected),
            Err(_) => false,
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_the_platform_from_its_pages() {
    let admin = AdminAccount::ada();
    let (running, project) = RunningServer::with_admin(Backend::Sqlite, built_web_app(), &admin);
    let url = running.url().to_string();
    let browser = Browser::start().await;
    sign_in_page(&browser, &url, &admin.email, &admin.password).await;
    wait_for(&browser, "[data-test=project-switcher]").await;
    let page = |name: &str| format!("{url}/projects/{project}/{name}");

    // A cluster is created from its form, and the list shows it.
    browser.client.goto(&page("clusters")).await.unwrap();
    wait_for(&browser, "[data-test=empty]").await;
    type_into(&browser, "[data-test=cluster-name]", "production").await;
    type_into(&browser, "[data-test=cluster-region]", "eu-west-1").await;
    click(&browser, "[data-test=create-cluster] button[type=submit]").await;
    notice_saying(&browser, "Created cluster production.").await;
    let row = wait_for_text(
        &browser,
        "[data-test=cluster-row][data-cluster-name=production]",
    )
    .await;
    assert!(row.contains("eu-west-1"), "{row}");
    // The same name again is refused with the server's reason, and what was typed stays.
    type_into(&browser, "[data-test=cluster-name]", "production").await;
    type_into(&browser, "[data-test=cluster-region]", "us-east-1").await;
    click(&browser, "[data-test=create-cluster] button[type=submit]").await;
    let refused = wait_for_text(
        &browser,
        "[data-test=create-cluster] [data-test=form-error]",
    )
    .await;
    assert!(refused.contains("already exists"), "{refused}");
    let kept = wait_for(&browser, "[data-test=cluster-region]")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("us-east-1"));

    // An application on that cluster is created, deployed with a new image and deleted.
    browser.client.goto(&page("applications")).await.unwrap();
    wait_for(&browser, "[data-test=empty]").await;
    type_into(&browser, "[data-test=app-name]", "web").await;
    type_into(
        &browser,
        "[data-test=app-image]",
        "registry.example.com/web:1",
    )
    .await;
    wait_for(&browser, "[data-test=app-cluster]")
        .await
        .select_by_label("production (eu-west-1)")
        .await
        .unwrap();
    click(&browser, "[data-test=create-app] button[type=submit]").await;
    notice_saying(&browser, "Created web.").await;
    let row = wait_for_text(&browser, "[data-test=app-row][data-app-name=web]").await;
    assert!(row.contains("production"), "the cluster is named: {row}");
    type_into(
        &browser,
        "[data-test=app-row] [data-test=deploy-image]",
        "registry.example.com/web:2",
    )
    .await;
    click(&browser, "[data-test=app-row] [data-test=deploy]").await;
    notice_saying(
        &browser,
        "Deployed web with registry.example.com/web:2 (deploy #1).",
    )
    .await;
    eventually("the row counts the deploy", || async {
        wait_for_text(&browser, "[data-test=app-row] [data-test=deploy-count]").await == "1"
    })
    .await;
    click(&browser, "[data-test=app-row] [data-test=delete]").await;
    let asking = wait_for_text(&browser, "[data-test=app-row] [data-test=delete]").await;
    assert_eq!(asking, "Confirm delete");
    click(&browser, "[data-test=app-row] [data-test=delete]").await;
    notice_saying(&browser, "Deleted web.").await;
    wait_for(&browser, "[data-test=empty]").await;

    // A token's secret is shown once; it works until it is revoked from its row.
    browser.client.goto(&page("tokens")).await.unwrap();
    type_into(&browser, "[data-test=token-name]", "deploy script").await;
    wait_for(&browser, "[data-test=token-role]")
        .await
        .select_by_value("developer")
        .await
        .unwrap();
    type_into(&browser, "[data-test=token-expires]", "30").await;
    click(&browser, "[data-test=create-token] button[type=submit]").await;
    let secret = wait_for_text(&browser, "[data-test=token-secret]").await;
    click(&browser, "[data-test=dismiss-secret]").await;
    eventually("the secret is gone from the page", || async {
        browser
            .client
            .find(Locator::Css("[data-test=token-secret]"))
            .await
            .is_err()
    })
    .await;
    let client = reqwest::Client::new();
    let with_token = || {
        client
            .get(format!("{url}/api/v1/projects/{project}/applications"))
            .bearer_auth(&secret)
            .send()
    };
    assert_eq!(with_token().await.unwrap().status(), 200);
    let token_row = "[data-test=token-row][data-token-name='deploy script']";
    click(&browser, &format!("{token_row} [data-test=revoke]")).await;
    click(&browser, &format!("{token_row} [data-test=revoke]")).await;
    notice_saying(&browser, "Revoked deploy script; it no longer works.").await;
    eventually("the row shows the revocation", || async {
        wait_for(&browser, token_row)
            .await
            .attr("data-revoked")
            .await
            .unwrap()
            .as_deref()
            == Some("true")
    })
    .await;
    assert_eq!(with_token().await.unwrap().status(), 401);

    // The project's only admin cannot demote herself: the row says why and the picker goes back.
    browser.client.goto(&page("members")).await.unwrap();
    let own_role = format!(
        "[data-test=member-row][data-member-email='{}'] [data-test=member-role]",
        admin.email
    );
    wait_for(&browser, &own_role)
        .await
        .select_by_value("viewer")
        .await
        .unwrap();
    let refused = wait_for_text(&browser, "[data-test=member-row] [data-test=form-error]").await;
    assert!(refused.contains("at least one admin"), "{refused}");
    eventually("the picker shows the role the server kept", || async {
        wait_for(&browser, &own_role)
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref()
            == Some("admin")
    })
    .await;
    browser.close().await;
}
