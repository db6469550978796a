//! Alerts: a filter and a condition over the project's entries; each firing reaches a stream
//! destination once per condition window, signed like every delivery; the built-in presets
//! fire on what they name; only a project's admins manage alerts.

use std::collections::BTreeSet;
use std::time::Duration;

use auditlog_shared::wire::{alert_presets, AlertFiring, AlertRule, Role, StreamStatus};
use auditlog_tests::receiver::Receiver;
use diesel::RunQueryDsl;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{problem, Backend, Caller, TestApp, ADMIN_EMAIL};

const PATIENCE: Duration = Duration::from_secs(20);
/// How long to watch for notifications that must not come.
const QUIET: Duration = Duration::from_millis(2_500);

/// Creates a webhook to `receiver` that streams no entries (its filter matches nothing here),
/// and returns its id and signing secret.
async fn alert_destination(admin: &Caller, project: i64, receiver: &Receiver) -> (i64, String) {
    let response = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/streams"),
            Some(json!({"name": "Pager", "kind": "webhook", "url": format!("{}/alerts", receiver.url),
                        "filter": "action=stream.test"})),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let created: Value = response.json().await.unwrap();
    (
        created["destination"]["id"].as_i64().unwrap(),
        created["signing_secret"].as_str().unwrap().to_string(),
    )
}

async fn create_alert(admin: &Caller, project: i64, body: Value) -> AlertRule {
    let response = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/alerts"),
            Some(body),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn alerts(admin: &Caller, project: i64) -> Vec<AlertRule> {
    let response = admin
        .get(&format!("/api/v1/projects/{project}/alerts"))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits until the receiver holds `count` alert messages, then watches a while for more, and
/// returns them all.
async fn wait_for_alerts(receiver: &Receiver, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while receiver.alerts().len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} alert notifications arrived: {:#?}",
            receiver.alerts().len(),
            receiver.alerts()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(QUIET).await;
    receiver.alerts()
}

async fn fail_sign_in(app: &TestApp, email: &str) {
    let response = app
        .anonymous()
        .send(
            Method::POST,
            "/api/v1/session",
            Some(json!({"email": email, "password": "not the password"})),
        )
        .await;
    assert_eq!(response.status(), 401, "a wrong password for {email}");
}

async fn a_threshold_fires_once_per_window_for_each_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let (member_id, _member) = app
        .add_member(
            &admin,
            project,
            "bo@example.com",
            "Bo",
            "bo's long password",
            Role::Developer,
        )
        .await;
    let receiver = Receiver::start().await;
    let (destination, secret) = alert_destination(&admin, project, &receiver).await;
    // The preset, as the dashboard offers it.
    let preset = alert_presets()
        .into_iter()
        .find(|preset| preset.key == "failed-sign-ins")
        .unwrap();
    let alert = create_alert(&admin, project, json!(preset.to_create(destination))).await;
    assert_eq!(
        alert.condition_text,
        "5 matches within 10 minutes for one actor"
    );
    let admin_id = app.entries(project)[0].actor_id.unwrap();

    // Five wrong passwords for the admin (the fifth locks the account), three for Bo.
    for _ in 0..5 {
        fail_sign_in(&app, ADMIN_EMAIL).await;
    }
    for _ in 0..3 {
        fail_sign_in(&app, "bo@example.com").await;
    }
    let received = wait_for_alerts(&receiver, 1).await;
    assert_eq!(received.len(), 1, "one firing: {received:#?}");
    let notification = &received[0];
    assert_eq!(notification["alert_id"], alert.id);
    assert_eq!(notification["alert_name"], preset.name);
    assert_eq!(
        notification["event_id"],
        format!("{project}:alert:{}", notification["firing"]["id"])
    );
    assert_eq!(notification["firing"]["group"], format!("user:{admin_id}"));
    assert_eq!(notification["firing"]["group_label"], "Ada Admin");
    assert_eq!(notification["firing"]["match_count"], 5);
    let entries = notification["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    for entry in entries {
        assert_eq!(entry["action"], "session.sign_in_failed");
        assert_eq!(entry["actor"]["id"], admin_id);
    }
    assert!(entries[4]["resource"]["name"]
        .as_str()
        .unwrap()
        .contains("5 failed attempts"));
    // The link opens the alert's view over the entries that fired it.
    let view = notification["firing"]["view_url"].as_str().unwrap();
    assert!(
        view.starts_with(&format!("/projects/{project}/security/audit-logs?from=")),
        "{view}"
    );
    assert!(view.ends_with("&action=session.sign_in_failed"), "{view}");
    let listed = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?{}",
            view.split_once('?').unwrap().1
        ))
        .await;
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    let listed = listed["entries"].as_array().unwrap();
    assert!(listed.len() >= 5, "{listed:#?}");
    assert!(listed
        .iter()
        .all(|e| e["action"] == "session.sign_in_failed"));

    // Signed like every delivery to the destination.
    let delivery = receiver
        .deliveries()
        .into_iter()
        .find(|d| String::from_utf8_lossy(&d.body).contains("auditlog.alert"))
        .unwrap();
    let signature = delivery.header("auditlog-signature").unwrap().to_string();
    let (t, v1) = signature
        .split_once(",v1=")
        .map(|(t, v1)| (t.trim_start_matches("t="), v1))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&delivery.body);
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1);

    // Sixteen minutes later the accounts are unlocked and a new window starts: five more for
    // the admin fire again; Bo's two more do not reach five within ten minutes.
    app.advance_clock(chrono::Duration::minutes(16));
    for _ in 0..5 {
        fail_sign_in(&app, ADMIN_EMAIL).await;
    }
    for _ in 0..2 {
        fail_sign_in(&app, "bo@example.com").await;
    }
    let received = wait_for_alerts(&receiver, 2).await;
    assert_eq!(received.len(), 2, "{received:#?}");
    assert_eq!(received[1]["firing"]["group"], format!("user:{admin_id}"));
    assert_ne!(received[0]["event_id"], received[1]["event_id"]);
    assert!(!received
        .iter()
        .any(|n| n["firing"]["group"] == format!("user:{member_id}")));

    let listed = alerts(&admin, project).await;
    assert_eq!(listed[0].fired_count, 2);
    assert_eq!(listed[0].pending_notifications, 0);
    assert_eq!(listed[0].status, StreamStatus::Active);
    let firings: Vec<AlertFiring> = admin
        .get(&format!(
            "/api/v1/projects/{project}/alerts/{}/firings",
            alert.id
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(firings.len(), 2);
    assert!(firings.iter().all(|f| f.notified_at.is_some()));
    assert!(firings[0].fired_at >= firings[1].fired_at, "newest first");
}

async fn a_burst_fires_once_and_a_paused_alert_catches_up_on_resume(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let receiver = Receiver::start().await;
    let (destination, _) = alert_destination(&admin, project, &receiver).await;
    let alert = create_alert(
        &admin,
        project,
        json!({"name": "Application churn", "filter": "action=application.create",
               "condition": {"type": "threshold", "count": 2, "window_seconds": 600},
               "destination_id": destination}),
    )
    .await;
    assert_eq!(alert.condition_text, "2 matches within 10 minutes");
    // Six creations within ten minutes: one firing, on the second.
    for n in 0..6 {
        admin
            .create_application(project, &format!("app-{n}"), "web:1")
            .await;
    }
    let received = wait_for_alerts(&receiver, 1).await;
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0]["firing"]["match_count"], 2);
    assert_eq!(received[0]["firing"]["group"], Value::Null);

    // Paused, it counts nothing; resumed, it counts what was written meanwhile.
    let path = format!("/api/v1/projects/{project}/alerts/{}", alert.id);
    let response = admin
        .send(Method::PATCH, &path, Some(json!({"paused": true})))
        .await;
    assert_eq!(response.status(), 200);
    app.advance_clock(chrono::Duration::minutes(11));
    for n in 6..8 {
        admin
            .create_application(project, &format!("app-{n}"), "web:1")
            .await;
    }
    tokio::time::sleep(QUIET).await;
    assert_eq!(receiver.alerts().len(), 1, "a paused alert fires nothing");
    let response = admin
        .send(Method::PATCH, &path, Some(json!({"paused": false})))
        .await;
    assert_eq!(response.status(), 200);
    let received = wait_for_alerts(&receiver, 2).await;
    assert_eq!(received.len(), 2, "{received:#?}");
    let names: Vec<&str> = received[1]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app-6", "app-7"]);

    // Creating, pausing and resuming are recorded; notifications are not requests.
    let actions: Vec<String> = app
        .entries(project)
        .into_iter()
        .map(|e| e.action)
        .filter(|action| action.starts_with("alert."))
        .collect();
    assert_eq!(actions, ["alert.create", "alert.update", "alert.update"]);

    // Retention takes the firings (which name actors) with the entries that fired them.
    let firings_path = format!("{path}/firings");
    let firings: Vec<AlertFiring> = admin.get(&firings_path).await.json().await.unwrap();
    assert_eq!(firings.len(), 2);
    // (Forty days on, the admin's session has ended too: the rows are read directly.)
    let later = chrono::Utc::now().timestamp_micros() + 40 * 86_400_000_000;
    let mut conn = app.pool.get().unwrap();
    auditlog_api::audit_log::retention::purge_expired(&mut conn, later, &app.chain_signer).unwrap();
    let left: i64 = {
        use auditlog_api::db::schema::alert_firings;
        use diesel::prelude::*;
        alert_firings::table.count().get_result(&mut conn).unwrap()
    };
    assert_eq!(left, 0);
}

async fn presets_fire_on_what_they_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let receiver = Receiver::start().await;
    let (destination, _) = alert_destination(&admin, project, &receiver).await;
    for preset in alert_presets() {
        create_alert(&admin, project, json!(preset.to_create(destination))).await;
    }
    let base = format!("/api/v1/projects/{project}");
    // A token is created; one member is made an admin, another a viewer; the log is exported.
    app.create_token(&admin, project, "deploy bot", Role::Developer, false)
        .await;
    let (dana, _) = app
        .add_member(
            &admin,
            project,
            "dana@example.com",
            "Dana",
            "dana's long password",
            Role::Developer,
        )
        .await;
    let (eli, _) = app
        .add_member(
            &admin,
            project,
            "eli@example.com",
            "Eli",
            "eli's long password",
            Role::Developer,
        )
        .await;
    for (member, role) in [(dana, "admin"), (eli, "viewer")] {
        let response = admin
            .send(
                Method::PATCH,
                &format!("{base}/members/{member}"),
                Some(json!({ "role": role })),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let response = admin
        .send(
            Method::PATCH,
            &format!("{base}/settings"),
            Some(json!({"audit_export_enabled": true})),
        )
        .await;
    assert_eq!(response.status(), 200);
    let export = admin
        .get(&format!("{base}/audit-logs/export.csv?range=1h"))
        .await;
    assert_eq!(export.status(), 200, "{}", export.text().await.unwrap());
    // A database writer alters an entry; the next verification finds it.
    let token_entry = app
        .entries(project)
        .into_iter()
        .find(|e| e.action == "api_token.create")
        .unwrap();
    {
        let mut conn = app.pool.get().unwrap();
        crate::tampering::lift_append_only_guard(&app, &mut conn);
        diesel::sql_query(format!(
            "UPDATE audit_entries SET resource_name = 'nothing to see' WHERE id = {}",
            token_entry.id
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let report = admin.verify(project).await;
    assert!(!report.ok);
    // The finding is recorded just before the verification's own entry.
    let entries = app.entries(project);
    let finding = &entries[entries.len() - 2];
    assert_eq!(finding.action, "audit_log.verification_failed");
    assert_eq!(entries[entries.len() - 1].action, "audit_log.verify");
    assert_eq!(finding.actor_id, entries[entries.len() - 1].actor_id);
    assert!(
        finding
            .resource_name
            .contains(&format!("chain position {}", token_entry.chain_seq)),
        "{}",
        finding.resource_name
    );

    let received = wait_for_alerts(&receiver, 4).await;
    let fired: BTreeSet<&str> = received
        .iter()
        .map(|n| n["alert_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fired,
        BTreeSet::from([
            "API token created",
            "Role changed to admin",
            "Audit log exported",
            "Audit log verification failed",
        ]),
        "{received:#?}"
    );
    assert_eq!(received.len(), 4, "each fired once: {received:#?}");
    let promotion = received
        .iter()
        .find(|n| n["alert_name"] == "Role changed to admin")
        .unwrap();
    assert_eq!(promotion["entries"][0]["resource"]["id"], dana);
}

async fn servers_sharing_a_database_fire_each_alert_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let (second_address, _second_dir) = app.spawn_second_server();
    let receiver = Receiver::start().await;
    let (destination, _) = alert_destination(&admin, project, &receiver).await;
    create_alert(
        &admin,
        project,
        json!({"name": "New applications", "filter": "action=application.create",
               "condition": {"type": "any"}, "destination_id": destination}),
    )
    .await;
    let mut through_second = admin.clone();
    through_second.address = second_address;
    for round in 0..6 {
        let caller = if round % 2 == 0 {
            &admin
        } else {
            &through_second
        };
        caller
            .create_application(project, &format!("app-{round}"), "img:1")
            .await;
    }
    // Both servers count; one holds the lease, so each creation fires once.
    let received = wait_for_alerts(&receiver, 6).await;
    let names: Vec<&str> = received
        .iter()
        .map(|n| n["entries"][0]["resource"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["app-0", "app-1", "app-2", "app-3", "app-4", "app-5"]
    );
    let ids: BTreeSet<&str> = received
        .iter()
        .map(|n| n["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6);
}

async fn alerts_are_checked_and_only_the_projects_admins_manage_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let receiver = Receiver::start().await;
    let (destination, _) = alert_destination(&admin, project, &receiver).await;
    let base = format!("/api/v1/projects/{project}/alerts");
    let other_admin = app.outsider_admin("Globex").await;
    let other_project = other_admin
        .get("/api/v1/projects")
        .await
        .json::<Value>()
        .await
        .unwrap()[0]["id"]
        .as_i64()
        .unwrap();
    let (foreign_destination, _) = alert_destination(&other_admin, other_project, &receiver).await;

    let valid = json!({"name": "x", "filter": "", "condition": {"type": "any"}, "destination_id": destination});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    for (body, field) in [
        (with("name", json!("")), "name"),
        (with("filter", json!("range=24h")), "filter"),
        (with("filter", json!("colour=red")), "filter"),
        (
            with(
                "condition",
                json!({"type": "threshold", "count": 1, "window_seconds": 60}),
            ),
            "condition",
        ),
        (
            with(
                "condition",
                json!({"type": "threshold", "count": 5, "window_seconds": 0}),
            ),
            "condition",
        ),
        (
            with(
                "condition",
                json!({"type": "threshold", "count": 5, "window_seconds": 9_999_999}),
            ),
            "condition",
        ),
        (
            with("destination_id", json!(foreign_destination)),
            "destination_id",
        ),
        (with("destination_id", json!(987_654)), "destination_id"),
        (
            with(
                "changed",
                json!({"field": "role; DROP TABLE", "to": "admin"}),
            ),
            "changed",
        ),
    ] {
        let response = admin.send(Method::POST, &base, Some(body.clone())).await;
        let problem = problem(response, 400).await;
        let named = match problem["invalid_params"][0]["name"].as_str() {
            Some(name) => name == field,
            None => problem["detail"]
                .as_str()
                .unwrap()
                .starts_with(&format!("`{field}`")),
        };
        assert!(named, "{body}: {problem}");
    }
    // Unknown condition types and fields are refused, not ignored.
    for body in [
        with("condition", json!({"type": "sometimes"})),
        with("colour", json!("red")),
    ] {
        let response = admin.send(Method::POST, &base, Some(body)).await;
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let alert = create_alert(&admin, project, valid.clone()).await;
    let response = admin.send(Method::POST, &base, Some(valid.clone())).await;
    problem(response, 409).await;

    // A developer and another project's admin are refused; another project's alert is unknown.
    let (_, developer) = app
        .add_member(
            &admin,
            project,
            "dev@example.com",
            "Dev",
            "dev's long password",
            Role::Developer,
        )
        .await;
    assert_eq!(developer.get(&base).await.status(), 403);
    let response = developer
        .send(Method::POST, &base, Some(with("name", json!("y"))))
        .await;
    assert_eq!(response.status(), 403);
    let path = format!("{base}/{}", alert.id);
    assert_eq!(other_admin.get(&base).await.status(), 404);
    let response = other_admin.send(Method::DELETE, &path, None).await;
    assert_eq!(response.status(), 404);
    let foreign_path = format!("/api/v1/projects/{other_project}/alerts/{}", alert.id);
    for (method, path) in [
        (Method::PATCH, foreign_path.clone()),
        (Method::DELETE, foreign_path.clone()),
        (Method::GET, format!("{foreign_path}/firings")),
    ] {
        let response = other_admin
            .send(method, &path, Some(json!({"paused": true})))
            .await;
        assert_eq!(response.status(), 404, "{path}");
    }
    // A re-spelled id names no alert.
    let response = admin
        .send(Method::DELETE, &format!("{base}/0{}", alert.id), None)
        .await;
    problem(response, 400).await;
    assert_eq!(alerts(&admin, project).await.len(), 1);
    // A revoked admin token is refused.
    let token = app
        .create_token(&admin, project, "alert-admin", Role::Admin, false)
        .await;
    let token_caller = app.token_caller(&token.secret);
    assert_eq!(token_caller.get(&base).await.status(), 200);
    app.revoke_token(&admin, project, token.token.id).await;
    problem(token_caller.get(&base).await, 401).await;
    problem(token_caller.send(Method::DELETE, &path, None).await, 401).await;
    assert_eq!(alerts(&admin, project).await.len(), 1);

    // A destination alerts notify cannot be deleted until they are sent elsewhere or deleted.
    let destination_path = format!("/api/v1/projects/{project}/streams/{destination}");
    let response = admin.send(Method::DELETE, &destination_path, None).await;
    let body = problem(response, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("(x)"), "{body}");
    let response = admin.send(Method::DELETE, &path, None).await;
    assert_eq!(response.status(), 204);
    let response = admin.send(Method::DELETE, &destination_path, None).await;
    assert_eq!(response.status(), 204);
}

crate::on_both_backends!(
    a_threshold_fires_once_per_window_for_each_account,
    a_burst_fires_once_and_a_paused_alert_catches_up_on_resume,
    presets_fire_on_what_they_name,
    servers_sharing_a_database_fire_each_alert_once,
    alerts_are_checked_and_only_the_projects_admins_manage_them,
);
