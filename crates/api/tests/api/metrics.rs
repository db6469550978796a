//! Prometheus metrics: served only where the operator asked, counted by route template, and never
//! labelled with anything a client spelled.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

/// One sample of the text exposition format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format, failing on any line that is not a comment, a blank line
/// or a well-formed sample.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("a metric name");
        let name = &line[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices();
            let mut key = String::new();
            let end = loop {
                let (index, c) = chars.next().expect("a closed label set");
                match c {
                    '}' => break index,
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
                        let mut value = String::new();
                        loop {
                            match chars.next().expect("a closed label value").1 {
                                '"' => break,
                                '\\' => value.push(chars.next().expect("an escape").1),
                                c => value.push(c),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            };
            rest = &inner[end + 1..];
        }
        let value = rest.trim();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

const MARKER: &str = "zz-metrics-marker-7f3a";

async fn metrics_are_served_only_with_their_token(backend: Backend) {
    let unconfigured = TestApp::spawn(backend).await;
    assert_eq!(unconfigured.get("/metrics").await.status(), 404);
    drop(unconfigured);

    let token = "t".repeat(40);
    let configured = token.clone();
    let app = TestApp::spawn_with(backend, move |settings| {
        settings.metrics_token = Some(configured.parse().unwrap());
    })
    .await;
    let scrape = |bearer: Option<String>| {
        let mut request = app.client.get(format!("{}/metrics", app.address));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    assert_eq!(scrape(None).await.unwrap().status(), 401);
    assert_eq!(
        scrape(Some("t".repeat(39) + "u")).await.unwrap().status(),
        401
    );
    // An API token of a project is not the metrics token.
    let (project, admin) = app.project_with_admin("Acme").await;
    let api_token = app
        .create_token(
            &admin,
            project,
            "ci",
            auditlog_shared::wire::Role::Admin,
            false,
        )
        .await;
    assert_eq!(
        scrape(Some(api_token.secret.clone()))
            .await
            .unwrap()
            .status(),
        401
    );

    let created = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/clusters"),
            Some(json!({"name": "eu", "region": "eu-west-1"})),
        )
        .await;
    assert_eq!(created.status(), 201);
    // What a client spells must not become a label: an unmatched path, a percent-encoded one,
    // and a method of its own.
    app.get(&format!("/api/v1/projects/{project}/{MARKER}"))
        .await;
    app.get("/api/v1/projects/1/%7a%7a-metrics-marker-7f3a")
        .await;
    let odd = app
        .client
        .request(
            Method::from_bytes(b"ZZMETRICSMARKER").unwrap(),
            format!("{}/api/v1/projects/{project}/clusters", app.address),
        )
        .send()
        .await
        .unwrap();
    assert!(odd.status().is_client_error());

    let response = scrape(Some(token)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    assert!(
        !text.to_lowercase().contains("marker"),
        "a client's spelling reached the metrics:\n{text}"
    );
    let samples = parse(&text);
    let clusters = "/api/v1/projects/{project_id}/clusters";
    assert!(
        value(
            &samples,
            "auditlog_http_requests_total",
            &[("route", clusters), ("method", "POST"), ("status", "2xx")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(
            &samples,
            "auditlog_http_requests_total",
            &[("method", "OTHER")]
        ) >= 1.0
    );
    let methods = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
    ];
    for sample in &samples {
        if let Some(method) = sample.labels.get("method") {
            assert!(methods.contains(&method.as_str()), "{sample:?}");
        }
    }
    let engine = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert!(
        value(
            &samples,
            "auditlog_capture_entries_total",
            &[("backend", engine)]
        ) >= 2.0
    );
    assert!(value(&samples, "auditlog_capture_batch_entries_count", &[]) >= 1.0);
    assert!(
        value(
            &samples,
            "auditlog_http_request_duration_seconds_count",
            &[("route", clusters), ("method", "POST")]
        ) >= 1.0
    );
    for gauge in [
        "auditlog_db_pool_connections",
        "auditlog_capture_queue_depth",
    ] {
        assert!(samples.iter().any(|s| s.name == gauge), "{gauge} missing");
    }
    // Every metric the Grafana dashboard in `docs/` charts is served.
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana-dashboard.json"
    ))
    .unwrap();
    let mut charted = std::collections::BTreeSet::new();
    for (start, _) in dashboard.match_indices("auditlog_") {
        let name: String = dashboard[start..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name)
            .to_string();
        charted.insert(family);
    }
    assert!(charted.len() >= 10, "{charted:?}");
    for family in &charted {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "the dashboard charts {family}, which the server does not serve"
        );
    }
    // Scraping is not an audited project request.
    let before = app.entries(project).len();
    let _ = app.get("/metrics").await;
    assert_eq!(app.entries(project).len(), before);
}

async fn a_separate_metrics_address_serves_them_without_a_token(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.metrics_bind = Some("127.0.0.1:0".into());
    })
    .await;
    let (project, admin) = app.project_with_admin("Acme").await;
    admin.get(&format!("/api/v1/projects/{project}")).await;
    let address = app.metrics_address.clone().expect("a metrics address");
    let response = app
        .client
        .get(format!("{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let samples = parse(&response.text().await.unwrap());
    assert!(samples
        .iter()
        .any(|s| s.name == "auditlog_http_requests_total"));
    // Only the metrics live there; the main address has none without a token.
    let elsewhere = app
        .client
        .get(format!("{address}/api/v1/projects/{project}"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
    assert_eq!(app.get("/metrics").await.status(), 404);
}

crate::on_both_backends!(
    metrics_are_served_only_with_their_token,
    a_separate_metrics_address_serves_them_without_a_token,
);
