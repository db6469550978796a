//! HTTP handlers, one file per area, each with its own parameter and response types.

pub mod audit;
pub mod health;
pub mod members;
pub mod openapi;
pub mod platform;
pub mod projects;
pub mod query;
pub mod session;
pub mod spa;
pub mod tokens;

use actix_web::{middleware, web, HttpRequest, HttpResponse};
use auditlog_shared::wire::Problem;

use crate::capture;
use crate::capture::catalog::PROJECT_SCOPE;
use crate::db::DbConnection;
use crate::error::{problem_response, ApiError};
use crate::startup::AppState;

/// Registers the REST API: the session, the project list, and the project scope whose every
/// request passes through the capture middleware.
pub fn configure_api(config: &mut web::ServiceConfig) {
    config
        .service(openapi::openapi)
        .service(
            resource("/api/v1/session")
                .route(web::post().to(session::sign_in))
                .route(web::get().to(session::current))
                .route(web::delete().to(session::sign_out)),
        )
        .service(resource("/api/v1/projects").route(web::get().to(projects::list_mine)))
        .service(
            web::scope(PROJECT_SCOPE)
                .wrap(middleware::from_fn(capture::capture))
                .configure(projects::configure)
                .configure(platform::configure)
                .configure(tokens::configure)
                .configure(members::configure)
                .configure(audit::configure)
                .default_service(web::to(|request: HttpRequest| async move {
                    crate::error::not_found(&request)
                })),
        );
}

/// A resource whose unsupported methods get a 405 problem document.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(request: HttpRequest) -> HttpResponse {
    problem_response(Problem {
        kind: "/problems/method-not-allowed".into(),
        title: "Method not allowed".into(),
        status: 405,
        detail: Some(format!(
            "{} is not supported on {}",
            request.method(),
            request.path()
        )),
        instance: Some(request.path().to_string()),
        invalid_params: Vec::new(),
    })
}

/// Runs blocking database work on a pooled connection, off the async workers.
pub async fn with_conn<T, F>(state: &web::Data<AppState>, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// Runs a project handler's database work: inside the request's transaction when the request
/// changes state (so the change commits together with its audit entry), else on a pooled
/// connection.
pub async fn with_project_conn<T, F>(
    state: &web::Data<AppState>,
    access: &crate::auth::ProjectAccess,
    work: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    match &access.transaction {
        Some(transaction) => {
            let transaction = transaction.clone();
            web::block(move || transaction.run(work)).await?
        }
        None => with_conn(state, work).await,
    }
}

/// Checks a human-given name: 1 to 100 characters, no control characters, trimmed.
pub fn valid_name(field: &str, value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control)
    {
        return Err(ApiError::BadRequest {
            detail: format!("`{field}` must be 1 to 100 characters without control characters"),
        });
    }
    Ok(trimmed.to_string())
}
