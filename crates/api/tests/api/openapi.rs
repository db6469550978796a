//! The OpenAPI document describes exactly the routes the server serves.

use std::collections::BTreeSet;

use auditlog_api::capture::catalog;
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

crate::on_both_backends!(the_document_lists_every_route_and_each_is_served);
