//! What the capture middleware hands a project handler once the caller passed the gate: the
//! project, the caller's role and identity, the route's `{id}` in its canonical spelling and, for
//! a state-changing request, the transaction its changes share with its audit entry.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use auditlog_shared::wire::Role;

use crate::auth::Identity;
use crate::capture::transaction::RequestTransaction;
use crate::error::ApiError;

/// A project as the caller may use it: set by the capture middleware on every project-scoped
/// request once the caller is authenticated, a member, and allowed the route.
#[derive(Clone, Debug)]
pub struct ProjectAccess {
    pub project_id: i64,
    pub project_name: String,
    pub role: Role,
    pub identity: Identity,
    /// The route's `{id}`, read in its canonical spelling by the capture middleware: the one
    /// resource the handler may act on and the one its audit entry names.
    pub resource_id: Option<i64>,
    /// For a state-changing request: the transaction its changes and its audit entry share.
    pub transaction: Option<RequestTransaction>,
}

impl FromRequest for ProjectAccess {
    type Error = ApiError;
    type Future = std::future::Ready<Result<ProjectAccess, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(
            request
                .extensions()
                .get::<ProjectAccess>()
                .cloned()
                .ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!(
                        "project route outside the capture middleware"
                    ))
                }),
        )
    }
}

/// The `{id}` of a project route, as the capture middleware read and recorded it. Handlers take
/// this instead of `web::Path`, whose number parsing accepts other spellings (`+7`, `007`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathId(pub i64);

impl FromRequest for PathId {
    type Error = ApiError;
    type Future = std::future::Ready<Result<PathId, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(
            request
                .extensions()
                .get::<ProjectAccess>()
                .and_then(|access| access.resource_id)
                .map(PathId)
                .ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!("a route without an `{{id}}` asked for one"))
                }),
        )
    }
}
