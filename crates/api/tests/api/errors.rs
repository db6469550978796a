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
    problem(post, 404).await;
}

crate::on_both_backends!(unknown_api_routes_are_problem_documents);
