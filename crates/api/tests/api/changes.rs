//! What changed: a state-changing request's entry records the fields it changed, before and
//! after, covered by the hash chain; failures, reads and no-op changes record none, and secrets
//! never appear.

use auditlog_shared::chain::{hash_matches, HashedFields};
use auditlog_shared::wire::{AuditEntry, AuditPage, FieldChange, Role};
use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Backend, Caller, TestApp, ADMIN_PASSWORD};

fn change(field: &str, before: Option<&str>, after: Option<&str>) -> FieldChange {
    FieldChange {
        field: field.into(),
        before: before.map(str::to_string),
        after: after.map(str::to_string),
    }
}

/// Every entry of the project's last hour, oldest first.
async fn entries(admin: &Caller, project: i64) -> Vec<AuditEntry> {
    let page: AuditPage = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?range=1h&limit=200"
        ))
        .await
        .json()
        .await
        .unwrap();
    page.entries.into_iter().rev().collect()
}

async fn changes_are_recorded_chained_and_never_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let base = format!("/api/v1/projects/{project}");
    let send = |method: Method, path: String, body: Option<Value>| {
        let admin = &admin;
        async move { admin.send(method, &path, body).await.status().as_u16() }
    };
    let app_id = admin
        .create_application(project, "web", "registry/web:1")
        .await;
    let application = format!("{base}/applications/{app_id}");
    assert_eq!(
        send(
            Method::PATCH,
            application.clone(),
            Some(json!({"image": "registry/web:2"}))
        )
        .await,
        200
    );
    // The same values again: nothing changed, nothing recorded.
    assert_eq!(
        send(
            Method::PATCH,
            application.clone(),
            Some(json!({"image": "registry/web:2", "name": "web"}))
        )
        .await,
        200
    );
    assert_eq!(
        send(
            Method::POST,
            format!("{application}/deploy"),
            Some(json!({"image": "registry/web:3"}))
        )
        .await,
        200
    );
    // A refused change records none.
    assert_eq!(
        send(
            Method::PATCH,
            application.clone(),
            Some(json!({"image": ""}))
        )
        .await,
        400
    );
    let (dana_id, _dana) = app
        .add_member(
            &admin,
            project,
            "dq@example.com",
            "Dana Quill",
            "dana's long password",
            Role::Developer,
        )
        .await;
    assert_eq!(
        send(
            Method::PATCH,
            format!("{base}/members/{dana_id}"),
            Some(json!({"role": "admin"}))
        )
        .await,
        200
    );
    assert_eq!(
        send(
            Method::PATCH,
            format!("{base}/settings"),
            Some(json!({"audit_export_enabled": true}))
        )
        .await,
        200
    );
    let token = app
        .create_token(&admin, project, "ci", Role::Developer, false)
        .await;
    assert_eq!(
        send(
            Method::DELETE,
            format!("{base}/tokens/{}", token.token.id),
            None
        )
        .await,
        200
    );
    assert_eq!(send(Method::DELETE, application.clone(), None).await, 204);
    assert_eq!(
        send(
            Method::POST,
            "/api/v1/session/password".into(),
            Some(json!({"current_password": ADMIN_PASSWORD, "new_password": "a brand new passphrase"})),
        )
        .await,
        200
    );

    // Changing the password ends the admin's sessions: sign in again to read.
    let admin = app
        .sign_in(crate::helpers::ADMIN_EMAIL, "a brand new passphrase")
        .await;
    let all = entries(&admin, project).await;
    let of = |action: &str| -> Vec<Vec<FieldChange>> {
        all.iter()
            .filter(|e| e.action == action)
            .map(|e| e.changes.clone())
            .collect()
    };
    assert_eq!(
        of("application.update"),
        vec![
            vec![change(
                "image",
                Some("registry/web:1"),
                Some("registry/web:2")
            )],
            vec![],
            vec![],
        ],
        "a change, a no-op, a refusal"
    );
    assert_eq!(
        of("application.deploy"),
        vec![vec![change(
            "image",
            Some("registry/web:2"),
            Some("registry/web:3")
        )]]
    );
    assert_eq!(
        of("user.change_role"),
        vec![vec![change("role", Some("developer"), Some("admin"))]]
    );
    assert_eq!(
        of("project.settings.update"),
        vec![vec![change(
            "audit_export_enabled",
            Some("false"),
            Some("true")
        )]]
    );
    let revoked = of("api_token.revoke");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].len(), 1);
    assert_eq!(
        (
            revoked[0][0].field.as_str(),
            revoked[0][0].before.as_deref()
        ),
        ("revoked_at", None)
    );
    assert!(revoked[0][0].after.is_some());
    // A creation records what it set, a deletion what was there.
    assert_eq!(
        of("application.create"),
        vec![vec![
            change("name", None, Some("web")),
            change("image", None, Some("registry/web:1")),
        ]]
    );
    assert_eq!(
        of("application.delete"),
        vec![vec![
            change("name", Some("web"), None),
            change("image", Some("registry/web:3"), None),
        ]]
    );
    // Reads, a token's creation and the password change record none; no secret appears anywhere.
    assert!(all
        .iter()
        .filter(|e| e.method == "GET"
            || e.action == "api_token.create"
            || e.action == "session.password_change")
        .all(|e| e.changes.is_empty()));
    let everything = serde_json::to_string(&all).unwrap();
    for secret in [
        token.secret.as_str(),
        ADMIN_PASSWORD,
        "a brand new passphrase",
        "dana's long password",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked into the log");
    }

    // The changes are covered by the chain: the entries rehash as received, the server's
    // verification agrees, and an edit of the stored changes is found at its entry.
    let mut scratch = Vec::new();
    for entry in &all {
        assert!(
            hash_matches(
                &entry.entry_hash,
                &entry.prev_hash,
                &HashedFields::of_entry(project, entry),
                &mut scratch
            ),
            "{entry:?}"
        );
    }
    assert!(admin.verify(project).await.ok);
    let deploy = all
        .iter()
        .find(|e| e.action == "application.deploy")
        .unwrap();
    {
        // A database writer edits what the deploy changed.
        let mut conn = app.pool.get().unwrap();
        crate::tampering::lift_append_only_guard(&app, &mut conn);
        diesel::sql_query(format!(
            "UPDATE audit_entries SET changes = REPLACE(changes, 'web:3', 'evil:3') WHERE id = {}",
            deploy.id
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let report = admin.verify(project).await;
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.broken.unwrap().chain_seq, deploy.chain_seq);
}

crate::on_both_backends!(changes_are_recorded_chained_and_never_secret);
