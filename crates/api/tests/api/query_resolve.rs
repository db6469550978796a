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
    bad_queries_get_a_problem_naming_the_parameter
);
