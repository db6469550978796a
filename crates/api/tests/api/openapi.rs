//! The OpenAPI document describes exactly the routes the server serves.

use std::collections::BTreeSet;

use auditlog_api::catalog;
use auditlog_api::routes::openapi::SERVER_ROUTES;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

async fn the_document_lists_every_route_and_each_is_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.0.3");

    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = SERVER_ROUTES
        .iter()
        .map(|(method, path, _)| (method.to_string(), path.to_string()))
        .chain(catalog::all_routes().map(|route| {
            (
                route.method.to_string(),
                format!("{}{}", catalog::PROJECT_SCOPE, route.template),
            )
        }))
        .collect();
    assert_eq!(documented, expected);

    // Every schema reference resolves.
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "missing schema {name}");
    }
    // The audit list documents the query language.
    let list = &document["paths"]["/api/v1/projects/{project_id}/audit-logs"]["get"];
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for key in [
        "range",
        "from",
        "to",
        "method.not",
        "status",
        "q",
        "limit",
        "cursor",
        "request_id",
    ] {
        assert!(names.contains(&key), "{key}");
    }
    let facets = &document["paths"]["/api/v1/projects/{project_id}/audit-logs/facets"]["get"];
    let facet_keys: Vec<&str> = facets["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for key in ["facet", "facet.contains", "facet.limit"] {
        assert!(facet_keys.contains(&key), "{key}");
    }
    // Answers in several media types name each of them.
    let media = |path: &str| -> BTreeSet<String> {
        document["paths"][path]["get"]["responses"]["200"]["content"]
            .as_object()
            .unwrap_or_else(|| panic!("no 200 content for {path}"))
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        media("/api/v1/projects/{project_id}/audit-logs/verify"),
        BTreeSet::from([
            "application/json".to_string(),
            "application/x-ndjson".to_string()
        ])
    );
    assert_eq!(
        media("/api/v1/projects/{project_id}/audit-logs/export.{format}"),
        BTreeSet::from(["application/x-ndjson".to_string(), "text/csv".to_string()])
    );

    // Every documented read is served (no route-less 404 or 405) for an admin.
    // (`/metrics` answers 404 on the main address unless the server has a metrics token; the
    // metrics tests read it.)
    for (method, path) in documented
        .iter()
        .filter(|(method, path)| method == "GET" && path != "/metrics")
    {
        let concrete = path
            .replace("{project_id}", &project.to_string())
            .replace("{id}", "1")
            .replace("{format}", "csv");
        let response = admin.send(Method::GET, &concrete, None).await;
        let status = response.status().as_u16();
        assert_ne!(status, 405, "{method} {path}");
        if status == 404 {
            let body: Value = response.json().await.unwrap();
            assert!(
                body.get("instance").is_none(),
                "{method} {path} is not routed: {body}"
            );
        }
    }
}

/// `/api/docs/` serves Swagger UI from the binary, pointed at this server's document, with a
/// policy that lets no script in but the server's own files; other methods and unknown files
/// get problem documents.
async fn the_api_reference_is_served_from_the_binary(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let at = |path: &str| format!("{}{path}", app.address);
    let bare = client.get(at("/api/docs")).send().await.unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/api/docs/");

    let page = client.get(at("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    // Every script is a file: the policy's `script-src 'self'` holds for the whole page.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "{html}"
    );
    let initializer = client
        .get(at("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("/api/v1/openapi.json"),
        "{initializer}"
    );
    assert!(!initializer.contains("petstore"), "{initializer}");
    let bundle = client
        .get(at("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert!(bundle.bytes().await.unwrap().len() > 100_000);

    let unknown = client
        .get(at("/api/docs/..%2F..%2FCargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let missing = client.get(at("/api/docs/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let posted = client.post(at("/api/docs/")).send().await.unwrap();
    assert_eq!(posted.status(), 405);
    assert_eq!(posted.headers()["allow"], "GET, HEAD");
    let head = client.head(at("/api/docs/index.css")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    // The app's pages keep their own, stricter policy.
    let app_policy = client.get(at("/healthz")).send().await.unwrap().headers()
        ["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(app_policy.contains("style-src 'self';"), "{app_policy}");
}

crate::on_both_backends!(
    the_document_lists_every_route_and_each_is_served,
    the_api_reference_is_served_from_the_binary
);
