//! Headers on every answer: a request id that reveals nothing, the content security policy that
//! lets only the served app's own scripts run, and no caching of API answers.

use std::collections::BTreeSet;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp};

const BOOT_SCRIPT: &str = "\nimport init from '/app.js';\ninit();\n";

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn every_answer_carries_a_request_id_and_the_security_headers(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        std::fs::write(
            settings.static_dir.join("index.html"),
            format!("<!doctype html><script type=\"module\">{BOOT_SCRIPT}</script>"),
        )
        .unwrap();
    })
    .await;
    let (project, admin) = app.project_with_admin("Alpha").await;

    let boot_hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(BOOT_SCRIPT.as_bytes()));
    let page = app.get("/projects/1/security/audit-logs").await;
    let policy = header(&page, "content-security-policy")
        .unwrap_or_default()
        .to_string();
    for directive in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        &format!("'sha256-{boot_hash}'"),
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(
            policy.contains(directive),
            "{directive} is missing from {policy}"
        );
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");

    let mut ids = BTreeSet::new();
    let paths = [
        "/healthz".to_string(),
        "/app.js".into(),
        "/api/v1/nothing-here".into(),
        "/api/v1/session".into(),
        format!("/api/v1/projects/{project}/audit-logs"),
    ];
    for path in &paths {
        let response = app.get(path).await;
        let id = header(&response, "x-request-id").unwrap_or_else(|| panic!("{path}: no id"));
        ids.insert(id.to_string());
        assert_eq!(
            header(&response, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&response, "referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert!(
            header(&response, "content-security-policy").is_some(),
            "{path}"
        );
    }
    assert_eq!(ids.len(), paths.len(), "every request has its own id");

    // API answers that carry data are never cached.
    for path in [
        "/api/v1/session".to_string(),
        format!("/api/v1/projects/{project}/audit-logs"),
        format!("/api/v1/projects/{project}/members"),
    ] {
        let response = admin.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "cache-control"),
            Some("no-store"),
            "{path}"
        );
    }

    // A project that does not exist answers with the same headers as one the caller may not see.
    let (other, _) = {
        let mut conn = app.pool.get().unwrap();
        let setup = auditlog_api::admin::create_admin(
            &mut conn,
            "bob@beta.test",
            "Bob",
            "bob's long passphrase",
            "Beta",
            chrono::Utc::now().timestamp_micros(),
        )
        .unwrap();
        (setup.project_id, ())
    };
    let names = |response: &reqwest::Response| -> BTreeSet<String> {
        response
            .headers()
            .keys()
            .filter(|name| *name != "date")
            .map(|name| name.to_string())
            .collect()
    };
    let foreign = admin
        .get(&format!("/api/v1/projects/{other}/audit-logs"))
        .await;
    let missing = admin.get("/api/v1/projects/999999/audit-logs").await;
    assert_eq!(
        (foreign.status(), missing.status()),
        (404.try_into().unwrap(), 404.try_into().unwrap())
    );
    assert_eq!(names(&foreign), names(&missing));
    assert!(names(&missing).contains("x-request-id"));
}

crate::on_both_backends!(every_answer_carries_a_request_id_and_the_security_headers);
