//! `GET /api/v1/query/resolve`: the server reads the dashboard's query string.

use auditlog_shared::wire::ResolvedQuery;
use chrono::{Duration, Utc};

use crate::helpers::{problem, Backend, TestApp};

async fn a_dashboard_query_comes_back_canonical(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .get("/api/v1/query/resolve?q=deploy&status=5XX&method.not=get&range=24h")
        .await;
    assert_eq!(response.status(), 200);
    let resolved: ResolvedQuery = response.json().await.unwrap();
    assert_eq!(
        resolved.canonical,
        "range=24h&method.not=GET&status=5xx&q=deploy"
    );
    assert_eq!(resolved.to - resolved.from, Duration::hours(24));
    assert!((Utc::now() - resolved.to).num_seconds().abs() < 60);
    assert!(!resolved.clamped_to_retention);
}

async fn ranges_reaching_past_retention_are_clamped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let from = (Utc::now() - Duration::days(45)).format("%Y-%m-%dT%H:%M:%SZ");
    let response = app.get(&format!("/api/v1/query/resolve?from={from}")).await;
    assert_eq!(response.status(), 200);
    let resolved: ResolvedQuery = response.json().await.unwrap();
    assert!(resolved.clamped_to_retention);
    let kept = resolved.to - resolved.from;
    assert!(kept <= Duration::days(30) && kept > Duration::days(30) - Duration::minutes(1));
}

async fn bad_queries_get_a_problem_naming_the_parameter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long_value = "x".repeat(20_000);
    let cases: Vec<(String, &str)> = vec![
        ("colour=red".into(), "colour"),
        ("method=FETCH".into(), "method"),
        ("status=6xx".into(), "status"),
        ("limit=0".into(), "limit"),
        ("limit=1000000000".into(), "limit"),
        ("cursor=bogus".into(), "cursor"),
        ("q=%zz".into(), "q"),
        ("q=a&q=b".into(), "q"),
        ("method=GET&method.not=GET".into(), "method"),
        ("range=7d&from=2026-01-01T00:00:00Z".into(), "range"),
        (
            "from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z".into(),
            "range",
        ),
        ("to=2001-01-01T00:00:00Z".into(), "to"),
        ("from=2999-01-01T00:00:00Z".into(), "from"),
        ("application=99999999999999999999999".into(), "application"),
    ];
    for (query, parameter) in cases {
        let body = problem(
            app.get(&format!("/api/v1/query/resolve?{query}")).await,
            400,
        )
        .await;
        assert_eq!(body["type"], "/problems/invalid-query", "{query}");
        assert_eq!(
            body["invalid_params"][0]["name"], parameter,
            "{query}: {body}"
        );
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    let body = problem(
        app.get(&format!("/api/v1/query/resolve?q={long_value}"))
            .await,
        400,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("longer than"),
        "{body}"
    );
}

crate::on_both_backends!(
    a_dashboard_query_comes_back_canonical,
    ranges_reaching_past_retention_are_clamped,
    bad_queries_get_a_problem_naming_the_parameter,
    a_typed_query_resolves_names_in_its_own_project_only
);

/// `GET …/audit-logs/query?bar=`: the typed query bar, read against one project. Names resolve
/// to this project's members, tokens, applications and clusters only; every error points at its
/// token.
async fn a_typed_query_resolves_names_in_its_own_project_only(backend: Backend) {
    use auditlog_shared::wire::{BarQuery, Role};
    use serde_json::{json, Value};

    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let base = format!("/api/v1/projects/{project}");
    let (dana_id, dana) = app
        .add_member(
            &admin,
            project,
            "dq@example.com",
            "Dana Quill",
            "dana's long password",
            Role::Developer,
        )
        .await;
    let mut app_ids = Vec::new();
    for name in ["billing", "billing-v2"] {
        app_ids.push(
            admin
                .create_application(project, name, "registry/app:1")
                .await,
        );
    }
    // Olga's project has an application only she has: its name means nothing in Acme.
    let olga = app.outsider_admin("Other").await;
    let projects: Value = olga.get("/api/v1/projects").await.json().await.unwrap();
    let olga_project = projects[0]["id"].as_i64().unwrap();
    olga.create_application(olga_project, "olga-only", "registry/app:1")
        .await;

    let ask = |caller: &crate::helpers::Caller, project: i64, text: &str| {
        let path = format!(
            "/api/v1/projects/{project}/audit-logs/query?bar={}",
            auditlog_shared::encode_query_component(text)
        );
        let caller = caller.clone();
        async move { caller.get(&path).await }
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let text = format!(r#"actor:dana -method:GET app:BILLING "pay ments" after:{today}"#);
    let response = ask(&admin, project, &text).await;
    assert_eq!(response.status(), 200);
    let read: BarQuery = response.json().await.unwrap();
    assert_eq!(
        read.canonical,
        format!(
            "from={today}T00:00:00Z&actor=user:{dana_id}&method.not=GET&application={}&q=pay+ments",
            app_ids[0]
        )
    );
    assert_eq!(
        read.bar,
        format!(r#"after:{today} actor:"Dana Quill" -method:GET app:billing pay ments"#)
    );
    // Ids pass as they are (a deleted resource keeps its entries reachable).
    let ids: BarQuery = ask(&admin, project, "actor:user:999 app:424242")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids.canonical, "actor=user:999&application=424242");

    for (text, token, says) in [
        ("status:5xx app:bill", "app:bill", "matches 2 applications"),
        (
            "app:olga-only",
            "app:olga-only",
            "no application of this project",
        ),
        ("deploy colour:red", "colour:red", "unknown key"),
        ("-method:FETCH", "-method:FETCH", "method"),
        ("after:2001-01-01 before:2001-02-01", "", "retention"),
    ] {
        let body = problem(ask(&admin, project, text).await, 400).await;
        assert_eq!(body["type"], "/problems/invalid-query", "{text}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{text}: {body}");
        if !token.is_empty() {
            let start = text.find(token).unwrap();
            assert_eq!(body["invalid_params"][0]["name"], "bar", "{text}");
            assert_eq!(
                body["invalid_params"][0]["span"],
                json!({"start": start, "end": start + token.len()}),
                "{text}: {body}"
            );
        }
    }
    let unknown = problem(
        admin.get(&format!("{base}/audit-logs/query?q=x")).await,
        400,
    )
    .await;
    assert_eq!(unknown["invalid_params"][0]["name"], "q");

    // Admins of this project only: a developer is refused, a stranger is told nothing exists.
    assert_eq!(ask(&dana, project, "actor:dana").await.status(), 403);
    assert_eq!(ask(&olga, project, "actor:dana").await.status(), 404);
    assert_eq!(
        ask(&app.anonymous(), project, "actor:dana").await.status(),
        401
    );
    // In Olga's own project, Acme's member is nobody.
    let body = problem(ask(&olga, olga_project, "actor:dana").await, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("no actor"),
        "{body}"
    );
}
