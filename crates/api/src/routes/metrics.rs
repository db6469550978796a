//! `GET /metrics`, served only when asked for: on the main address with a bearer token
//! (`--metrics-token`), and/or without one on a separate address (`--metrics-bind`) meant for an
//! internal network. It is not an audited project route.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError as _};

use crate::error::ApiError;
use crate::metrics::metrics;
use crate::state::AppState;

/// `GET /metrics` on the main address: only with `Authorization: Bearer <--metrics-token>`.
pub async fn scrape_with_token(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some(expected) = &state.metrics_token else {
        return crate::error::not_found(&request);
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let allowed = given.is_some_and(|given| {
        use sha2::Digest as _;
        // Compared as digests, so the time taken says nothing about the token.
        sha2::Sha256::digest(given.as_bytes()) == sha2::Sha256::digest(expected.as_bytes())
    });
    if !allowed {
        return ApiError::Unauthorized(
            "the metrics need `Authorization: Bearer <metrics token>`".into(),
        )
        .error_response();
    }
    scrape(state).await
}

/// `GET /metrics`: the text exposition format.
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics().render(&state.pool, state.writer.queue_depths()))
}
