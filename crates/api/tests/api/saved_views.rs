//! Saved views: named audit log views shared by a project's admins.

use auditlog_shared::wire::{AuditPage, Role, SavedView};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{problem, Backend, TestApp};

async fn saved_views_are_shared_by_admins_and_stored_canonical(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let base = format!("/api/v1/projects/{project}/saved-views");

    // Any spelling the query language accepts is stored in its canonical form, without a cursor.
    let created = admin
        .send(
            Method::POST,
            &base,
            Some(json!({"name": "  Deletes  ", "query": "?method=delete&range=30d&status=4XX,5xx&cursor=bzEyMy40NQ"})),
        )
        .await;
    // A cursor that is not the server's is an error like any other bad value.
    let body = problem(created, 400).await;
    assert_eq!(body["invalid_params"][0]["name"], "query", "{body}");
    let created = admin
        .send(
            Method::POST,
            &base,
            Some(
                json!({"name": "  Deletes  ", "query": "?method=delete&range=30d&status=4XX,5xx"}),
            ),
        )
        .await;
    assert_eq!(created.status(), 201);
    let view: SavedView = created.json().await.unwrap();
    assert_eq!(view.name, "Deletes");
    assert_eq!(view.query, "range=30d&method=DELETE&status=4xx&status=5xx");
    assert_eq!(view.created_by, "Ada Admin");

    // Its query reads back exactly as a view.
    let page = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?{}",
            view.query
        ))
        .await;
    assert_eq!(page.status(), 200);
    let _: AuditPage = page.json().await.unwrap();

    // Names are unique in the project; bad names and queries are refused with the field named.
    for (body, status, field) in [
        (json!({"name": "deletes", "query": ""}), 201, None),
        (json!({"name": "Deletes", "query": ""}), 409, None),
        (json!({"name": "x\u{202e}y", "query": ""}), 400, None),
        (json!({"name": "", "query": ""}), 400, None),
        (
            json!({"name": "Bad", "query": "colour=red"}),
            400,
            Some("query"),
        ),
        (
            json!({"name": "Bad", "query": "method=GET&method.not=GET"}),
            400,
            Some("query"),
        ),
        (
            json!({"name": "Bad", "query": "", "shared": false}),
            400,
            None,
        ),
    ] {
        let response = admin.send(Method::POST, &base, Some(body.clone())).await;
        if status == 201 {
            assert_eq!(response.status(), 201, "{body}");
            continue;
        }
        let problem = problem(response, status).await;
        if let Some(field) = field {
            assert_eq!(
                problem["invalid_params"][0]["name"], field,
                "{body}: {problem}"
            );
        }
    }

    // Listed by name; renamed and re-pointed; deleted.
    let listed: Vec<SavedView> = admin.get(&base).await.json().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Deletes", "deletes"]);
    let item = format!("{base}/{}", view.id);
    let renamed = admin
        .send(
            Method::PATCH,
            &item,
            Some(json!({"name": "Failed deletes", "query": "method=DELETE&status=4xx"})),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let renamed: SavedView = renamed.json().await.unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.query.as_str()),
        ("Failed deletes", "method=DELETE&status=4xx")
    );
    problem(
        admin
            .send(Method::PATCH, &item, Some(json!({"name": "deletes"})))
            .await,
        409,
    )
    .await;
    assert_eq!(admin.send(Method::DELETE, &item, None).await.status(), 204);
    problem(admin.send(Method::DELETE, &item, None).await, 404).await;

    // Each change is in the log, named.
    let log: AuditPage = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?resource_type=saved_view&method.not=GET&limit=200"
        ))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<(String, String, u16)> = log
        .entries
        .iter()
        .map(|e| (e.action.clone(), e.resource.name.clone(), e.status))
        .collect();
    assert!(
        actions.contains(&("saved_view.create".into(), "Deletes".into(), 201)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("saved_view.update".into(), "Failed deletes".into(), 200)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("saved_view.delete".into(), "Failed deletes".into(), 204)),
        "{actions:?}"
    );
    assert!(actions
        .iter()
        .any(|(action, _, status)| action == "saved_view.create" && *status == 409));
}

async fn only_admins_of_the_project_see_or_change_its_views(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let base = format!("/api/v1/projects/{project}/saved-views");
    let view: SavedView = admin
        .send(
            Method::POST,
            &base,
            Some(json!({"name": "Writes", "query": "method.not=GET"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let item = format!("{base}/{}", view.id);

    let developer = app
        .create_token(&admin, project, "dev", Role::Developer, false)
        .await;
    let developer = app.token_caller(&developer.secret);
    problem(developer.get(&base).await, 403).await;
    problem(developer.send(Method::DELETE, &item, None).await, 403).await;
    problem(app.anonymous().get(&base).await, 401).await;

    // Ada also administers another project: its path does not reach this project's view.
    let (other, _) = app.project_with_admin("Other").await;
    let foreign = format!("/api/v1/projects/{other}/saved-views/{}", view.id);
    problem(
        admin
            .send(Method::PATCH, &foreign, Some(json!({"name": "mine now"})))
            .await,
        404,
    )
    .await;
    problem(admin.send(Method::DELETE, &foreign, None).await, 404).await;
    let others: Vec<SavedView> = admin
        .get(&format!("/api/v1/projects/{other}/saved-views"))
        .await
        .json()
        .await
        .unwrap();
    assert!(others.is_empty());

    // A revoked admin token is refused; the view is unchanged.
    let token = app
        .create_token(&admin, project, "soon revoked", Role::Admin, false)
        .await;
    app.revoke_token(&admin, project, token.token.id).await;
    problem(
        app.token_caller(&token.secret)
            .send(Method::DELETE, &item, None)
            .await,
        401,
    )
    .await;
    // A removed admin's live session is refused too.
    let (member_id, member) = app
        .add_member(
            &admin,
            project,
            "mallory@example.com",
            "Mallory",
            "mallory's long password",
            Role::Admin,
        )
        .await;
    assert_eq!(member.get(&base).await.status(), 200);
    let removed = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/members/{member_id}"),
            None,
        )
        .await;
    assert!(removed.status().is_success(), "{}", removed.status());
    problem(member.send(Method::DELETE, &item, None).await, 401).await;
    problem(
        member
            .send(
                Method::POST,
                &base,
                Some(json!({"name": "mine", "query": ""})),
            )
            .await,
        401,
    )
    .await;
    let listed: Vec<SavedView> = admin.get(&base).await.json().await.unwrap();
    assert_eq!(listed, vec![view]);
}

crate::on_both_backends!(
    saved_views_are_shared_by_admins_and_stored_canonical,
    only_admins_of_the_project_see_or_change_its_views,
);
