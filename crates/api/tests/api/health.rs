use auditlog_shared::wire::{Health, Readiness};

use crate::helpers::{Backend, TestApp};

async fn healthz_reports_the_version_and_engine(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let health: Health = response.json().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(health.database, backend.engine());
}

async fn readyz_checks_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let readiness: Readiness = response.json().await.unwrap();
    assert_eq!(readiness.status, "ready");
}

crate::on_both_backends!(
    healthz_reports_the_version_and_engine,
    readyz_checks_the_database
);
