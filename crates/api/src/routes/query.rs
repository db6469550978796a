//! `GET /api/v1/query/resolve?<audit query>`: how the server reads an audit log query.
//!
//! Clients use it to check a hand-written or pasted query and to learn its canonical form and the
//! exact window it covers after retention.

use actix_web::{HttpRequest, HttpResponse};
use auditlog_shared::wire::ResolvedQuery;

use crate::audit_query::ValidatedQuery;
use crate::error::ApiError;

pub async fn resolve(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let validated = ValidatedQuery::from_query_string(request.query_string(), chrono::Utc::now())?;
    Ok(HttpResponse::Ok().json(ResolvedQuery {
        canonical: validated.query.to_query_string(),
        from: validated.window.from,
        to: validated.window.to,
        clamped_to_retention: validated.clamped_to_retention,
    }))
}
