//! Capture and authorization: every role against every project route, each request leaving
//! exactly one entry with the right fields.

use std::collections::HashMap;

use auditlog_api::catalog::{self, Permission};
use auditlog_shared::wire::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Backend, Caller, TestApp};

/// Ids of one fixture of each resource, made by the admin before a role's round.
pub(crate) struct Fixtures {
    pub(crate) ids: HashMap<&'static str, i64>,
    /// The id of a completed export, whose manifest exists.
    pub(crate) export_id: String,
}

async fn create(admin: &Caller, project: i64, collection: &str, body: Value) -> i64 {
    let response = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/{collection}"),
            Some(body),
        )
        .await;
    assert_eq!(response.status(), 201, "creating a fixture in {collection}");
    let body: Value = response.json().await.unwrap();
    body.get("id")
        .or_else(|| body.pointer("/destination/id"))
        .or_else(|| body.get("user_id"))
        .or_else(|| body.pointer("/token/id"))
        .and_then(Value::as_i64)
        .expect("an id")
}

pub(crate) async fn fixtures(admin: &Caller, project: i64, round: &str) -> Fixtures {
    let enabled = admin
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{project}/settings"),
            Some(json!({"audit_export_enabled": true})),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    let mut ids = HashMap::new();
    let n = |kind: &str| format!("{kind}-{round}-fixture");
    ids.insert(
        "/clusters",
        create(
            admin,
            project,
            "clusters",
            json!({"name": n("cluster"), "region": "eu-west-1"}),
        )
        .await,
    );
    ids.insert(
        "/applications",
        create(
            admin,
            project,
            "applications",
            json!({"name": n("app"), "image": "registry/app:1"}),
        )
        .await,
    );
    ids.insert(
        "/datastores",
        create(
            admin,
            project,
            "datastores",
            json!({"name": n("db"), "engine": "postgres"}),
        )
        .await,
    );
    ids.insert(
        "/environment-groups",
        create(
            admin,
            project,
            "environment-groups",
            json!({"name": n("env")}),
        )
        .await,
    );
    ids.insert(
        "/cloud-accounts",
        create(
            admin,
            project,
            "cloud-accounts",
            json!({"name": n("aws"), "provider": "aws", "external_account_id": "123456789012"}),
        )
        .await,
    );
    ids.insert(
        "/integrations",
        create(
            admin,
            project,
            "integrations",
            json!({"name": n("slack"), "kind": "slack"}),
        )
        .await,
    );
    ids.insert(
        "/tokens",
        create(
            admin,
            project,
            "tokens",
            json!({"name": n("token"), "role": "viewer"}),
        )
        .await,
    );
    ids.insert(
        "/saved-views",
        create(
            admin,
            project,
            "saved-views",
            json!({"name": n("view"), "query": "method.not=GET"}),
        )
        .await,
    );
    ids.insert(
        "/streams",
        create(
            admin,
            project,
            "streams",
            json!({"name": n("siem"), "kind": "webhook", "url": auditlog_tests::receiver::Receiver::shared().url}),
        )
        .await,
    );
    // Alerts notify a destination of their own, which no route of the sweep deletes (a
    // destination alerts notify cannot be deleted).
    let alert_destination = create(
        admin,
        project,
        "streams",
        json!({"name": n("pager"), "kind": "webhook", "url": auditlog_tests::receiver::Receiver::shared().url}),
    )
    .await;
    ids.insert("/alert-destination", alert_destination);
    ids.insert(
        "/alerts",
        create(
            admin,
            project,
            "alerts",
            json!({"name": n("alert"), "filter": "action=api_token.create",
                   "condition": {"type": "any"}, "destination_id": alert_destination}),
        )
        .await,
    );
    // A member joins by invitation; a second invitation stays pending.
    let invitation = invite(admin, project, &format!("member-{round}@example.com")).await;
    let accepted = admin
        .client
        .post(format!(
            "{}/api/v1/invitations/{}/accept",
            admin.address,
            invitation["secret"].as_str().unwrap()
        ))
        .json(&json!({"password": "a long enough password", "display_name": n("member")}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200, "accepting a fixture invitation");
    let joined: Value = accepted.json().await.unwrap();
    ids.insert("/members", joined["user"]["id"].as_i64().unwrap());
    let pending = invite(admin, project, &format!("pending-{round}@example.com")).await;
    ids.insert(
        "/invitations",
        pending["invitation"]["id"].as_i64().unwrap(),
    );
    // The first position of the project's chain always exists.
    ids.insert("/audit-logs", 1);
    let export = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs/export.ndjson?range=1h"
        ))
        .await;
    assert_eq!(export.status(), 200, "a fixture export");
    let export_id = export.headers()["x-audit-export-id"]
        .to_str()
        .unwrap()
        .to_string();
    // Read to the end: the manifest is stored when the whole file was sent.
    export.bytes().await.unwrap();
    Fixtures { ids, export_id }
}

async fn invite(admin: &Caller, project: i64, email: &str) -> Value {
    let response = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/members"),
            Some(json!({"email": email, "role": "viewer"})),
        )
        .await;
    assert_eq!(response.status(), 201, "inviting {email}");
    response.json().await.unwrap()
}

/// A body that the route accepts.
pub(crate) fn body_for(
    method: &str,
    template: &str,
    fixtures: &Fixtures,
    round: &str,
    step: usize,
) -> Option<Value> {
    let name = format!("{round}-{step}");
    let collection = template.split('/').nth(1).unwrap_or_default();
    match (method, collection) {
        ("GET" | "DELETE", _) => None,
        ("POST", "applications") if template.ends_with("/deploy") => {
            Some(json!({"image": "registry/app:2"}))
        }
        ("POST", "applications") => Some(json!({"name": name, "image": "registry/app:1"})),
        ("POST", "clusters") => Some(json!({"name": name, "region": "us-east-1"})),
        ("POST", "datastores") => Some(json!({"name": name, "engine": "redis"})),
        ("POST", "environment-groups") => Some(json!({"name": name})),
        ("POST", "cloud-accounts") => {
            Some(json!({"name": name, "provider": "gcp", "external_account_id": "p-1"}))
        }
        ("POST", "integrations") => Some(json!({"name": name, "kind": "github"})),
        ("POST", "tokens") => Some(json!({"name": name, "role": "viewer"})),
        ("POST", "saved-views") => Some(json!({"name": name, "query": "range=24h"})),
        ("POST", "streams") if template.ends_with("/test") => None,
        ("POST", "streams") => Some(json!({
            "name": name, "kind": "webhook",
            "url": auditlog_tests::receiver::Receiver::shared().url,
        })),
        ("POST", "alerts") => Some(json!({
            "name": name, "condition": {"type": "any"},
            "destination_id": fixtures.ids["/alert-destination"],
        })),
        ("POST", "members") => {
            Some(json!({"email": format!("{name}@example.com"), "role": "viewer"}))
        }
        ("POST", "ingest") => Some(json!({"events": [{
            "actor": {"kind": "user", "name": "External Erin", "email": "erin@example.com"},
            "method": "POST", "path": "/external/thing", "action": "ext.thing", "status": 200,
            "resource": {"type": "integration", "name": "external"}
        }]})),
        ("PATCH", "settings") => Some(json!({"audit_export_enabled": true})),
        ("PATCH", "members") => Some(json!({"role": "developer"})),
        ("PATCH", _) => Some(json!({"name": format!("renamed-{name}")})),
        _ => panic!("no body for {method} {template}"),
    }
}

/// Routes in an order that reads before it changes and deletes last.
pub(crate) fn ordered_routes() -> Vec<&'static catalog::RouteSpec> {
    let mut routes: Vec<_> = catalog::all_routes().collect();
    routes.sort_by_key(|route| match route.method {
        "GET" => 0,
        "POST" => 1,
        "PATCH" => 2,
        _ => 3,
    });
    routes
}

async fn every_role_against_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;

    for (round, role) in [
        ("viewer", Role::Viewer),
        ("developer", Role::Developer),
        ("admin", Role::Admin),
    ] {
        let fixtures = fixtures(&admin, project, round).await;
        let token = app
            .create_token(&admin, project, &format!("{round}-caller"), role, false)
            .await;
        let caller = app.token_caller(&token.secret);

        for (step, route) in ordered_routes().into_iter().enumerate() {
            let collection = format!("/{}", route.template.split('/').nth(1).unwrap_or_default());
            let fixture_id = fixtures.ids.get(collection.as_str()).copied().unwrap_or(0);
            let path = route
                .template
                .replace("{id}", &fixture_id.to_string())
                .replace("{format}", "csv")
                .replace("{export_id}", &fixtures.export_id);
            let url = format!("/api/v1/projects/{project}{path}");
            let before = app.entries(project).len();
            let method = Method::from_bytes(route.method.as_bytes()).unwrap();
            let response = caller
                .send(
                    method,
                    &url,
                    body_for(route.method, route.template, &fixtures, round, step),
                )
                .await;
            let status = response.status().as_u16();
            let allowed = match route.permission {
                Permission::AtLeast(needed) => role >= needed,
                Permission::Ingest => false,
            };
            let what = format!("{round} {} {url}", route.method);
            if allowed {
                assert!(
                    (200..300).contains(&status),
                    "{what}: expected success, got {status}"
                );
            } else {
                assert_eq!(status, 403, "{what}: expected 403");
            }

            let entries = app.entries(project);
            assert_eq!(entries.len(), before + 1, "{what}: exactly one new entry");
            let entry = entries.last().unwrap();
            assert_eq!(entry.action, route.action, "{what}");
            assert_eq!(entry.status_code, i32::from(status), "{what}");
            assert_eq!(entry.method, route.method, "{what}");
            assert_eq!(
                entry.route,
                format!("{}{}", catalog::PROJECT_SCOPE, route.template),
                "{what}"
            );
            assert_eq!(entry.path, url, "{what}");
            assert_eq!(entry.actor_kind, "token");
            assert_eq!(entry.actor_id, Some(token.token.id));
            assert_eq!(entry.actor_name, format!("{round}-caller"));
            assert_eq!(entry.source, "api");
            assert_eq!(entry.resource_type, route.resource_type.as_str(), "{what}");
            assert!(!entry.resource_name.is_empty(), "{what}");
            assert!(!entry.request_id.is_empty());
            if path.contains(
                &fixtures
                    .ids
                    .get(collection.as_str())
                    .copied()
                    .unwrap_or(-1)
                    .to_string(),
            ) && route.template.contains("{id}")
            {
                assert_eq!(
                    entry.resource_id,
                    fixtures.ids.get(collection.as_str()).copied(),
                    "{what}"
                );
            }
        }
    }
}

async fn sources_are_dashboard_cli_and_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let token = app
        .create_token(&admin, project, "deploy-bot", Role::Admin, false)
        .await;
    let path = format!("/api/v1/projects/{project}/applications");

    admin.get(&path).await;
    let dashboard = app.last_entry(project).unwrap();
    assert_eq!(
        (dashboard.source.as_str(), dashboard.actor_kind.as_str()),
        ("dashboard", "user")
    );
    assert_eq!(
        dashboard.actor_email.as_deref(),
        Some(crate::helpers::ADMIN_EMAIL)
    );
    assert_eq!(dashboard.actor_name, "Ada Admin");

    app.token_caller(&token.secret)
        .with_user_agent("auditlog-cli/0.1.0")
        .get(&path)
        .await;
    assert_eq!(app.last_entry(project).unwrap().source, "cli");

    app.token_caller(&token.secret)
        .with_user_agent("python-requests/2.31")
        .get(&path)
        .await;
    let api = app.last_entry(project).unwrap();
    assert_eq!(
        (api.source.as_str(), api.actor_name.as_str()),
        ("api", "deploy-bot")
    );
}

async fn names_survive_revocation_and_deletion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let token = app
        .create_token(&admin, project, "old-ci", Role::Developer, false)
        .await;
    let ci = app.token_caller(&token.secret);
    let created = ci
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/applications"),
            Some(json!({"name": "billing", "image": "registry/billing:1"})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let app_id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let token_entry = app.last_entry(project).unwrap();

    // A member acts, then is removed (their account goes with their last project).
    let (_, bob) = app
        .add_member(
            &admin,
            project,
            "bob@example.com",
            "Bob Builder",
            "bob's long password",
            Role::Developer,
        )
        .await;
    bob.send(
        Method::POST,
        &format!("/api/v1/projects/{project}/applications/{app_id}/deploy"),
        Some(json!({})),
    )
    .await;
    let bob_entry = app.last_entry(project).unwrap();
    assert_eq!(bob_entry.action, "application.deploy");
    assert_eq!(bob_entry.resource_name, "billing");
    let bob_id = bob_entry.actor_id.unwrap();

    let revoked = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/tokens/{}", token.token.id),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let removed = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/members/{bob_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let deleted_app = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/applications/{app_id}"),
            None,
        )
        .await;
    assert_eq!(deleted_app.status(), 204);
    let deletion = app.last_entry(project).unwrap();
    assert_eq!(
        (deletion.action.as_str(), deletion.resource_name.as_str()),
        ("application.delete", "billing")
    );

    let entries = app.entries(project);
    let old_token_entry = entries.iter().find(|e| e.id == token_entry.id).unwrap();
    assert_eq!(old_token_entry.actor_name, "old-ci");
    let old_bob_entry = entries.iter().find(|e| e.id == bob_entry.id).unwrap();
    assert_eq!(old_bob_entry.actor_name, "Bob Builder");
    assert_eq!(
        old_bob_entry.actor_email.as_deref(),
        Some("bob@example.com")
    );
    // Bob's account is gone: he can no longer sign in.
    let again = app
        .anonymous()
        .send(
            Method::POST,
            "/api/v1/session",
            Some(json!({"email": "bob@example.com", "password": "bob's long password"})),
        )
        .await;
    assert_eq!(again.status(), 401);
}

async fn bad_credentials_get_401_and_authentic_ones_are_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let path = format!("/api/v1/projects/{project}/applications");
    let before = app.entries(project).len();

    // Nobody, garbage, and a token signed with another key identify nobody: 401, not recorded.
    let forged = auditlog_api::auth::tokens::sign_api_token(
        "a different secret key, 32+ chars long",
        1,
        project,
    )
    .unwrap();
    for caller in [
        app.anonymous(),
        app.token_caller("not-a-token"),
        app.token_caller(&forged),
    ] {
        let body = crate::helpers::problem(caller.get(&path).await, 401).await;
        assert_eq!(body["type"], "/problems/unauthorized");
    }
    assert_eq!(app.entries(project).len(), before);

    // A revoked token and an expired one are authentic: 401, and the attempt is recorded.
    let revoked = app
        .create_token(&admin, project, "revoked-bot", Role::Admin, false)
        .await;
    admin
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/tokens/{}", revoked.token.id),
            None,
        )
        .await;
    crate::helpers::problem(app.token_caller(&revoked.secret).get(&path).await, 401).await;
    let entry = app.last_entry(project).unwrap();
    assert_eq!(
        (entry.actor_name.as_str(), entry.status_code),
        ("revoked-bot", 401)
    );

    let expiring: auditlog_shared::wire::CreatedToken = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/tokens"),
            Some(json!({"name": "short-lived", "role": "viewer", "expires_in_days": 1})),
        )
        .await
        .json()
        .await
        .unwrap();
    let short = app.token_caller(&expiring.secret);
    assert_eq!(short.get(&path).await.status(), 200);
    app.advance_clock(chrono::Duration::days(2));
    let body = crate::helpers::problem(short.get(&path).await, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("expired"));
    assert_eq!(app.last_entry(project).unwrap().actor_name, "short-lived");

    // A token of another project sees nothing of this one (404), and the attempt is recorded here.
    let (other_project, _) = {
        let mut conn = app.pool.get().unwrap();
        let setup = auditlog_api::admin::create_admin(
            &mut conn,
            "eve@example.com",
            "Eve",
            "eve's long password",
            "Other",
            0,
        )
        .unwrap();
        (setup.project_id, ())
    };
    let eve = app.sign_in("eve@example.com", "eve's long password").await;
    crate::helpers::problem(eve.get(&path).await, 404).await;
    assert_eq!(app.last_entry(project).unwrap().actor_name, "Eve");
    // Eve's own project holds her sign-in, nothing of the attempt on this one.
    let actions: Vec<String> = app
        .entries(other_project)
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, ["session.sign_in"]);
}

async fn cookie_writes_need_the_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let body = json!({"name": "web", "image": "registry/web:1"});
    let path = format!("/api/v1/projects/{project}/applications");
    let refused = admin
        .clone()
        .without_csrf()
        .send(Method::POST, &path, Some(body.clone()))
        .await;
    let problem = crate::helpers::problem(refused, 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("CSRF"));
    assert_eq!(app.last_entry(project).unwrap().status_code, 403);
    // Reads need no CSRF token; the same write with it succeeds.
    assert_eq!(admin.clone().without_csrf().get(&path).await.status(), 200);
    assert_eq!(
        admin.send(Method::POST, &path, Some(body)).await.status(),
        201
    );
}

async fn failed_sign_ins_are_security_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, _) = app.project_with_admin("Acme").await;
    let response = app
        .anonymous()
        .send(
            Method::POST,
            "/api/v1/session",
            Some(json!({"email": "ADA@example.com", "password": "guess"})),
        )
        .await;
    crate::helpers::problem(response, 401).await;
    let entry = app.last_entry(project).unwrap();
    assert_eq!(entry.action, "session.sign_in_failed");
    assert_eq!(entry.status_code, 401);
    assert_eq!(
        entry.actor_email.as_deref(),
        Some(crate::helpers::ADMIN_EMAIL)
    );
    // An unknown email answers the same, and names no project.
    let unknown = app
        .anonymous()
        .send(
            Method::POST,
            "/api/v1/session",
            Some(json!({"email": "nobody@example.com", "password": "guess"})),
        )
        .await;
    let body = crate::helpers::problem(unknown, 401).await;
    assert_eq!(body["detail"], "wrong email or password");
}

async fn overload_sheds_requests_without_losing_entries(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.capture_queue_capacity = 1).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let token = app
        .create_token(&admin, project, "flood", Role::Developer, false)
        .await;
    let caller = app.token_caller(&token.secret);
    let before = app.entries(project).len();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let caller = caller.clone();
        tasks.push(tokio::spawn(async move {
            caller
                .send(
                    Method::POST,
                    &format!("/api/v1/projects/{project}/applications"),
                    Some(json!({"name": format!("app-{i}"), "image": "registry/a:1"})),
                )
                .await
                .status()
                .as_u16()
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            201 => created += 1,
            503 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(created > 0);
    // Every application that exists was recorded; a shed request created nothing.
    let entries = app.entries(project);
    assert_eq!(entries.len() - before, created);
    let listed: Vec<Value> = caller
        .get(&format!("/api/v1/projects/{project}/applications"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), created);
}

async fn entries_are_append_only(backend: Backend) {
    use diesel::prelude::*;
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    admin.get(&format!("/api/v1/projects/{project}")).await;
    let mut conn = app.pool.get().unwrap();
    let update = diesel::sql_query("UPDATE audit_entries SET status_code = 200").execute(&mut conn);
    assert!(
        update.is_err(),
        "the database refuses to update audit entries"
    );
}

async fn secrets_in_paths_never_reach_the_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
    let hex = "9f".repeat(32);
    let secrets = [
        "hunter2",
        "s3cr3t-value",
        jwt,
        hex.as_str(),
        "Zx81Qw72Er63Ty54Ui45Op36",
    ];
    let keys = [
        "pwd",
        "pass",
        "jwt",
        "bearer",
        "auth_header",
        "access",
        "apikey",
        "private",
        "otp",
        "next",
        "redirect",
        "state",
        "id_token",
        "x",
    ];
    for (route, documents_query) in [
        (format!("/api/v1/projects/{project}/audit-logs"), true),
        (format!("/api/v1/projects/{project}/applications"), false),
        (format!("/api/v1/projects/{project}/no-such-route"), false),
    ] {
        for key in keys {
            for secret in secrets {
                let query = format!(
                    "range=24h&{key}={}",
                    auditlog_shared::encode_query_component(secret)
                );
                admin.get(&format!("{route}?{query}")).await;
                let entry = app.last_entry(project).unwrap();
                for stored in [&entry.path, &entry.route] {
                    assert!(
                        !stored.contains(secret),
                        "{key}={secret} is stored on {route}: {stored}"
                    );
                }
                assert!(
                    entry.path.contains(&format!("{key}=[REDACTED]")),
                    "{}",
                    entry.path
                );
                let range_kept = entry.path.contains("range=24h");
                assert_eq!(range_kept, documents_query, "{}", entry.path);
            }
        }
        // Secret-looking values are removed even under documented keys and in the path itself.
        admin.get(&format!("{route}/{jwt}?q={jwt}")).await;
        let entry = app.last_entry(project).unwrap();
        assert!(
            !entry.path.contains(jwt) && !entry.route.contains(jwt),
            "{entry:?}"
        );
    }
    // A stored path is cut at 2 KB and marked.
    let long = "hello/".repeat(1000);
    admin
        .get(&format!("/api/v1/projects/{project}/audit-logs?q={long}"))
        .await;
    let entry = app.last_entry(project).unwrap();
    assert!(
        entry.path.len() <= 2048 && entry.path.ends_with("[truncated]"),
        "{entry:?}"
    );
}

/// Requests that change state share one transaction per group commit, each in its own
/// savepoint. Of two requests creating the same name, the database refuses the second inside
/// that shared transaction: its refusal must undo only its own work, and every other request's
/// change must commit with its entry.
async fn concurrent_changes_commit_with_their_entries_or_not_at_all(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let token = app
        .create_token(&admin, project, "busy", Role::Developer, false)
        .await;
    let caller = app.token_caller(&token.secret);
    let before = app.entries(project).len();
    let mut tasks = Vec::new();
    for i in 0..48 {
        let caller = caller.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("app-{}", i / 2);
            let response = caller
                .send(
                    Method::POST,
                    &format!("/api/v1/projects/{project}/applications"),
                    Some(json!({"name": name, "image": "registry/a:1"})),
                )
                .await;
            let status = response.status().as_u16();
            let request_id = response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string();
            (name, status, request_id)
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    for pair in 0..24 {
        let name = format!("app-{pair}");
        let mut statuses: Vec<u16> = outcomes
            .iter()
            .filter(|(n, _, _)| *n == name)
            .map(|(_, status, _)| *status)
            .collect();
        statuses.sort();
        assert_eq!(statuses, [201, 409], "{name}: {outcomes:?}");
    }
    let listed: Vec<Value> = caller
        .get(&format!("/api/v1/projects/{project}/applications"))
        .await
        .json()
        .await
        .unwrap();
    let mut names: Vec<&str> = listed.iter().map(|a| a["name"].as_str().unwrap()).collect();
    names.sort();
    let mut expected: Vec<String> = (0..24).map(|pair| format!("app-{pair}")).collect();
    expected.sort();
    assert_eq!(names, expected);
    // Exactly one entry per request, with the answer it got (and one for the listing).
    let entries = app.entries(project);
    assert_eq!(entries.len() - before, 48 + 1);
    for (name, status, request_id) in &outcomes {
        let recorded: Vec<_> = entries
            .iter()
            .filter(|e| &e.request_id == request_id)
            .collect();
        assert_eq!(recorded.len(), 1, "{name} {request_id}");
        assert_eq!(recorded[0].status_code, i32::from(*status), "{name}");
        assert_eq!(recorded[0].action, "application.create");
    }
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
}

/// A second writer on the server's database, for tests that drive requests' transactions
/// directly (as the capture middleware does).
fn direct_writer(app: &TestApp) -> auditlog_api::capture::writer::AuditWriter {
    let target = auditlog_api::db::DatabaseTarget::parse(&app.database_url).unwrap();
    auditlog_api::capture::writer::AuditWriter::start(
        app.pool.clone(),
        target,
        16,
        1,
        app.chain_signer.clone(),
        auditlog_api::capture::writer::commit_signal(),
    )
}

/// A request's database work: creates the application `name` in `project`.
fn create_application(
    project: i64,
    name: &'static str,
) -> impl FnOnce(&mut auditlog_api::db::DbConnection) -> Result<(), auditlog_api::error::ApiError>
       + Send
       + 'static {
    use auditlog_api::db::schema::applications;
    use diesel::prelude::*;
    move |conn| {
        diesel::insert_into(applications::table)
            .values((
                applications::project_id.eq(project),
                applications::name.eq(name),
                applications::image.eq("registry/a:1"),
                applications::deploy_count.eq(0_i64),
                applications::created_at.eq(1_i64),
                applications::updated_at.eq(1_i64),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// An entry to queue for a directly driven request: the project's newest, with its own
/// request id.
fn entry_for(app: &TestApp, project: i64, request_id: &str) -> auditlog_api::entry::NewAuditEntry {
    use auditlog_api::db::schema::audit_entries;
    use auditlog_api::entry::row::ChainedEntry;
    use diesel::prelude::*;
    let mut conn = app.pool.get().unwrap();
    let mut entry = audit_entries::table
        .filter(audit_entries::project_id.eq(project))
        .order(audit_entries::chain_seq.desc())
        .select(ChainedEntry::as_select())
        .first(&mut conn)
        .unwrap()
        .fields;
    entry.request_id = request_id.into();
    entry.action = "application.create".into();
    entry
}

/// A request dropped half-way — its client went away while its handler had already changed
/// something in the shared transaction — leaves no change behind, and the next request's change
/// still commits with its entry.
async fn a_request_dropped_half_way_leaves_nothing_behind(backend: Backend) {
    use auditlog_api::capture::transaction::RequestTransaction;
    use auditlog_api::db::schema::{applications, audit_entries};
    use diesel::prelude::*;

    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    admin.get(&format!("/api/v1/projects/{project}")).await;
    let writer = direct_writer(&app);
    let patience = std::time::Duration::from_secs(5);
    let reservation = writer.reserve(patience).await.unwrap();
    let abandoned = RequestTransaction::new(&writer, &reservation);
    abandoned
        .run(create_application(project, "abandoned"))
        .await
        .unwrap();
    drop((abandoned, reservation));

    let reservation = writer.reserve(patience).await.unwrap();
    let kept = RequestTransaction::new(&writer, &reservation);
    kept.run(create_application(project, "kept")).await.unwrap();
    let entry = entry_for(&app, project, "the-kept-request");
    kept.finish(vec![entry], reservation).await.unwrap();

    let mut conn = app.pool.get().unwrap();
    let names: Vec<String> = applications::table
        .filter(applications::project_id.eq(project))
        .select(applications::name)
        .load(&mut conn)
        .unwrap();
    assert_eq!(names, ["kept"]);
    let recorded: i64 = audit_entries::table
        .filter(audit_entries::request_id.eq("the-kept-request"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(recorded, 1);
    // The server goes on appending to the same chain, and it verifies.
    drop(conn);
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
}

/// A request whose changes were kept in the shared transaction must not be answered as done if
/// that transaction is lost before the commit — here because the next request cannot settle it
/// (on PostgreSQL, a statement that failed inside the first request leaves the transaction
/// aborted). Whatever happens, a request is answered as done exactly when its change and its
/// entry are both stored.
async fn a_lost_shared_transaction_fails_the_requests_it_carried(backend: Backend) {
    use auditlog_api::capture::transaction::RequestTransaction;
    use auditlog_api::db::schema::{applications, audit_entries};
    use diesel::prelude::*;

    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    admin.get(&format!("/api/v1/projects/{project}")).await;
    let writer = direct_writer(&app);
    let entry = entry_for(&app, project, "the-first-request");
    let patience = std::time::Duration::from_secs(5);

    // The first request changes something, then runs a statement that fails and goes on.
    let first_place = writer.reserve(patience).await.unwrap();
    let first = RequestTransaction::new(&writer, &first_place);
    first
        .run(move |conn| {
            create_application(project, "first")(conn)?;
            let _ = diesel::sql_query("SELECT 1 / (SELECT 0)").execute(conn);
            Ok(())
        })
        .await
        .unwrap();
    // The second request queues for the write side behind it, ahead of the writer.
    let second_place = writer.reserve(patience).await.unwrap();
    let second = RequestTransaction::new(&writer, &second_place);
    let second_entry = entry_for(&app, project, "the-second-request");
    // Like a real request, the second finishes on its own, whatever the first does.
    let second_run = tokio::spawn(async move {
        match second.run(create_application(project, "second")).await {
            Ok(()) => second
                .finish(vec![second_entry], second_place)
                .await
                .is_ok(),
            Err(_) => {
                second.abandon();
                false
            }
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let first_done = first.finish(vec![entry], first_place).await.is_ok();
    let second_ran = second_run.await.unwrap();

    let mut conn = app.pool.get().unwrap();
    for (name, request_id, done) in [
        ("first", "the-first-request", first_done),
        ("second", "the-second-request", second_ran),
    ] {
        let stored: i64 = applications::table
            .filter(applications::project_id.eq(project))
            .filter(applications::name.eq(name))
            .count()
            .get_result(&mut conn)
            .unwrap();
        let recorded: i64 = audit_entries::table
            .filter(audit_entries::request_id.eq(request_id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(
            (stored, recorded),
            if done { (1, 1) } else { (0, 0) },
            "{name}: answered as done: {done}; its change stored {stored}, its entry {recorded}"
        );
    }
    if backend == Backend::Sqlite {
        // SQLite keeps the transaction usable after a failed statement: both go through.
        assert!(first_done && second_ran);
    }
}

crate::on_both_backends!(
    secrets_in_paths_never_reach_the_log,
    every_role_against_every_route,
    sources_are_dashboard_cli_and_api,
    names_survive_revocation_and_deletion,
    bad_credentials_get_401_and_authentic_ones_are_recorded,
    cookie_writes_need_the_csrf_token,
    failed_sign_ins_are_security_events,
    overload_sheds_requests_without_losing_entries,
    entries_are_append_only,
    concurrent_changes_commit_with_their_entries_or_not_at_all,
    a_request_dropped_half_way_leaves_nothing_behind,
    a_lost_shared_transaction_fails_the_requests_it_carried,
);
