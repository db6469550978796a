//! The web app is served with a history-API fallback.

use crate::helpers::{problem, Backend, TestApp};

async fn deep_links_load_the_app(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let index = std::fs::read_to_string(app.static_dir.join("index.html")).unwrap();
    for path in [
        "/",
        "/projects/1/security/audit-logs?range=7d&method.not=GET",
        "/some/page/the/app/routes",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), index, "{path}");
    }
    let asset = app.get("/app.js").await;
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.text().await.unwrap(), "console.log('app')");
    // The API namespace never falls back to the app.
    problem(app.get("/api/v1/unknown").await, 404).await;
}

crate::on_both_backends!(deep_links_load_the_app);
