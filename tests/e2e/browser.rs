//! The built web app in headless Chromium, served by the real server.

use std::time::{Duration, Instant};

use auditlog_shared::wire::{AuditPage, Histogram};
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

async fn sign_in_page(browser: &Browser, url: &str, email: &str, password: &str) {
    browser
        .client
        .goto(&format!("{url}/sign-in"))
        .await
        .unwrap();
    fill_sign_in_form(browser, email, password, true).await;
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
        current_query(&browser).await == "method.not=GET"
    })
    .await;
    wait_for(&browser, "[data-test=entry]").await;
    let rows = table_rows(&browser).await;
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|(_, method)| method != "GET"), "{rows:?}");
    let chip = wait_for_text(&browser, "[data-test=chip]").await;
    assert!(chip.contains("Method excludes GET"), "{chip}");
    save_screenshot(&browser, "audit-logs.png").await;

    // Include DELETE: the URL and the rows change.
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
