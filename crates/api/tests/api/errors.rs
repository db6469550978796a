//! Every error is a problem document.

use crate::helpers::{problem, Backend, TestApp};

async fn unknown_api_routes_are_problem_documents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = problem(app.get("/api/v1/nothing-here").await, 404).await;
    assert_eq!(body["type"], "/problems/not-found");
    assert_eq!(body["instance"], "/api/v1/nothing-here");
    let post = app
        .client
        .post(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    // A route that exists does not take every method: 405, saying which it takes.
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    let body = problem(post, 405).await;
    assert_eq!(body["type"], "/problems/method-not-allowed");

    // In a project, whatever the id's spelling (no handler reads it), for its members only —
    // and recorded; another project's admin learns nothing (404).
    let (project, admin) = app.project_with_admin("Acme").await;
    for spelled in ["7", "0", "007"] {
        let path = format!("/api/v1/projects/{project}/applications/{spelled}");
        let response = admin
            .send(reqwest::Method::PUT, &path, Some(serde_json::json!({})))
            .await;
        assert_eq!(
            response.headers()["allow"],
            "GET, HEAD, PATCH, DELETE",
            "{path}"
        );
        problem(response, 405).await;
        let recorded = app.last_entry(project).unwrap();
        assert_eq!(
            (recorded.action.as_str(), recorded.status_code),
            ("request.unmatched", 405)
        );
    }
    let outsider = app.outsider_admin("Globex").await;
    let response = outsider
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/projects/{project}/applications/7"),
            Some(serde_json::json!({})),
        )
        .await;
    problem(response, 404).await;
}

async fn a_body_that_cannot_be_read_is_refused_not_ignored(backend: Backend) {
    use reqwest::Method;
    use serde_json::json;
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let created = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/applications"),
            Some(json!({ "name": "web", "image": "registry/web:1" })),
        )
        .await;
    assert_eq!(created.status(), 201);
    let app_id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let deploy = format!("/api/v1/projects/{project}/applications/{app_id}/deploy");

    // Broken JSON, a misspelled field and a control character are 400, and nothing is deployed.
    for body in [
        "{\"image\": ",
        "{\"imge\": \"registry/web:2\"}",
        "{\"image\": \"registry/web:2\\u0000\"}",
        "[1, 2]",
    ] {
        let response = admin
            .client
            .post(format!("{}{deploy}", admin.address))
            .header("cookie", admin.cookie.as_deref().unwrap())
            .header("x-csrf-token", admin.csrf.as_deref().unwrap())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        problem(response, 400).await;
    }
    let read: serde_json::Value = admin
        .get(&format!("/api/v1/projects/{project}/applications/{app_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["deploy_count"], 0, "{read}");
    assert_eq!(read["image"], "registry/web:1");

    // No body redeploys the current image.
    let response = admin.send(Method::POST, &deploy, None).await;
    assert_eq!(response.status(), 200);

    // A JSON array is not an object: serde would read `[null, null]` as a change of nothing
    // (a struct's fields in order), so it must be refused before, on every route with a body.
    for (method, path) in [
        (
            Method::PATCH,
            format!("/api/v1/projects/{project}/applications/{app_id}"),
        ),
        (
            Method::PATCH,
            format!("/api/v1/projects/{project}/settings"),
        ),
        (Method::POST, format!("/api/v1/projects/{project}/clusters")),
        (Method::POST, deploy.clone()),
    ] {
        let response = admin
            .client
            .request(method.clone(), format!("{}{path}", admin.address))
            .header("cookie", admin.cookie.as_deref().unwrap())
            .header("x-csrf-token", admin.csrf.as_deref().unwrap())
            .header("content-type", "application/json")
            .body("[null, null]")
            .send()
            .await
            .unwrap();
        let body = problem(response, 400).await;
        assert!(
            body["detail"].as_str().unwrap().contains("JSON object"),
            "{method} {path}: {body}"
        );
    }
    // A name over 100 characters as sent is refused, even if trimming would fit it.
    let response = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/clusters"),
            Some(json!({ "name": format!(" {}", "c".repeat(100)), "region": "eu" })),
        )
        .await;
    problem(response, 400).await;

    // Names refuse control characters too.
    let response = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/clusters"),
            Some(json!({ "name": "c1\u{1b}[2J", "region": "eu" })),
        )
        .await;
    problem(response, 400).await;
}

crate::on_both_backends!(
    unknown_api_routes_are_problem_documents,
    a_body_that_cannot_be_read_is_refused_not_ignored,
);
