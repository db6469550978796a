//! The web app: Trunk's `dist/` as static files, and `index.html` for every other page address
//! so that deep links (`/projects/1/security/audit-logs?…`) load the app, which routes itself.
//!
//! Invariant: addresses under `/api/` never get the app; an unknown API route is a 404 problem.

use std::path::PathBuf;

use actix_files::NamedFile;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::HttpRequest;

use crate::error::not_found;

/// Answers a request no route or file matched.
pub async fn fallback(request: ServiceRequest) -> actix_web::Result<ServiceResponse> {
    let (request, _payload) = request.into_parts();
    let index = request
        .app_data::<actix_web::web::Data<SpaIndex>>()
        .map(|data| data.0.clone());
    let response = match index {
        Some(index) if wants_app(&request) && index.is_file() => {
            let mut response = NamedFile::open_async(&index).await?.into_response(&request);
            response.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                CacheControl(vec![CacheDirective::NoCache])
                    .to_string()
                    .parse()
                    .expect("a valid header value"),
            );
            response
        }
        _ => not_found(&request),
    };
    Ok(ServiceResponse::new(request, response))
}

/// The path of the app's `index.html`.
#[derive(Clone, Debug)]
pub struct SpaIndex(pub PathBuf);

fn wants_app(request: &HttpRequest) -> bool {
    let path = request.path();
    let is_api = path == "/api" || path.starts_with("/api/");
    !is_api
        && matches!(
            *request.method(),
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        )
}
