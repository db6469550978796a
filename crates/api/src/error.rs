//! The API's one error type and its RFC 9457 problem documents.
//!
//! Invariant: a 5xx response never carries the cause; the cause chain goes to the log, tagged with
//! the request's span. A 4xx response always says what was wrong and, for input, which parameter.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use auditlog_shared::wire::{InvalidParam, Problem};
use auditlog_shared::QueryError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The audit query string could not be read.
    #[error(transparent)]
    InvalidQuery(#[from] QueryError),
    /// A typed query (the dashboard's query bar) that cannot be read; the span names the token.
    #[error("{0}")]
    InvalidBar(auditlog_shared::bar::BarError),
    /// The audit query was readable but cannot be served (for example: past retention).
    #[error("{detail}")]
    UnservableQuery { param: String, detail: String },
    /// A field of a request body is invalid; `param` names it (`events[3].method`).
    #[error("{detail}")]
    InvalidField { param: String, detail: String },
    /// A request body or path parameter that could not be read.
    #[error("{detail}")]
    BadRequest { detail: String },
    /// No credentials, or credentials that no longer work.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("no such resource")]
    NotFound,
    /// The resource existed but is used up for good (an accepted, revoked or expired invitation).
    #[error("{0}")]
    Gone(String),
    /// Too many attempts (sign-in throttling); retry after the given number of seconds.
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    /// The request contradicts the current state (a duplicate name, the last admin …).
    #[error("{0}")]
    Conflict(String),
    /// The capture queue is full: the request was not carried out.
    #[error("overloaded")]
    Overloaded,
    /// The database (or another dependency) cannot be reached right now.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A state-changing request whose audit entry could not be committed: its changes were
    /// rolled back with it.
    #[error("not carried out")]
    NotCarriedOut(#[source] anyhow::Error),
    /// A read was served but its audit entry could not be stored.
    #[error("not recorded")]
    RecordFailed(#[source] anyhow::Error),
    /// A bug or an unexpected failure.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// Wraps any error as an internal one, keeping its chain for the log.
    pub fn internal(error: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(error.into())
    }

    fn problem(&self) -> Problem {
        let status = self.status_code().as_u16();
        let (kind, title, detail, invalid_params) = match self {
            ApiError::InvalidQuery(error) => (
                "/problems/invalid-query",
                "Invalid audit log query",
                Some(error.to_string()),
                error
                    .key()
                    .map(|key| {
                        vec![InvalidParam {
                            name: key.to_string(),
                            reason: error.to_string(),
                            span: None,
                        }]
                    })
                    .unwrap_or_default(),
            ),
            ApiError::InvalidBar(error) => (
                "/problems/invalid-query",
                "Invalid audit log query",
                Some(error.message.clone()),
                vec![InvalidParam {
                    name: "bar".to_string(),
                    reason: error.message.clone(),
                    span: Some(auditlog_shared::wire::TextSpan {
                        start: error.span.start,
                        end: error.span.end,
                    }),
                }],
            ),
            ApiError::UnservableQuery { param, detail } => (
                "/problems/invalid-query",
                "Invalid audit log query",
                Some(detail.clone()),
                vec![InvalidParam {
                    name: param.clone(),
                    reason: detail.clone(),
                    span: None,
                }],
            ),
            ApiError::InvalidField { param, detail } => (
                "/problems/invalid-body",
                "Invalid request body",
                Some(format!("{param}: {detail}")),
                vec![InvalidParam {
                    name: param.clone(),
                    reason: detail.clone(),
                    span: None,
                }],
            ),
            ApiError::BadRequest { detail } => (
                "/problems/bad-request",
                "Bad request",
                Some(detail.clone()),
                Vec::new(),
            ),
            ApiError::Unauthorized(detail) => (
                "/problems/unauthorized",
                "Authentication required",
                Some(detail.clone()),
                Vec::new(),
            ),
            ApiError::Forbidden(detail) => (
                "/problems/forbidden",
                "Forbidden",
                Some(detail.clone()),
                Vec::new(),
            ),
            ApiError::Conflict(detail) => (
                "/problems/conflict",
                "Conflict",
                Some(detail.clone()),
                Vec::new(),
            ),
            ApiError::Gone(detail) => (
                "/problems/gone",
                "Gone",
                Some(detail.clone()),
                Vec::new(),
            ),
            ApiError::TooManyRequests { detail, .. } => (
                "/problems/too-many-requests",
                "Too many attempts",
                Some(detail.clone()),
                Vec::new(),
            ),
            ApiError::Overloaded => (
                "/problems/overloaded",
                "Server overloaded",
                Some("The server is busy and did not carry out the request; retry shortly.".into()),
                Vec::new(),
            ),
            ApiError::NotFound => (
                "/problems/not-found",
                "Not found",
                Some("No resource exists at this address.".to_string()),
                Vec::new(),
            ),
            ApiError::Unavailable(_) => (
                "/problems/unavailable",
                "Service unavailable",
                Some("The server cannot reach its database right now; try again shortly.".into()),
                Vec::new(),
            ),
            ApiError::NotCarriedOut(_) => (
                "/problems/not-carried-out",
                "Not carried out",
                Some("The change could not be recorded in the audit log, so it was not made. Retry shortly.".into()),
                Vec::new(),
            ),
            ApiError::RecordFailed(_) => (
                "/problems/not-recorded",
                "Audit entry not stored",
                Some("The request could not be recorded in the audit log, so its answer is withheld. Retry shortly.".into()),
                Vec::new(),
            ),
            ApiError::Internal(_) => (
                "/problems/internal",
                "Internal server error",
                Some("The server failed to handle the request; the cause is in its log.".into()),
                Vec::new(),
            ),
        };
        Problem {
            kind: kind.to_string(),
            title: title.to_string(),
            status,
            detail,
            instance: None,
            invalid_params,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidQuery(_)
            | ApiError::InvalidBar(_)
            | ApiError::UnservableQuery { .. }
            | ApiError::InvalidField { .. }
            | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded | ApiError::NotCarriedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RecordFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause)
        | ApiError::Unavailable(cause)
        | ApiError::NotCarriedOut(cause)
        | ApiError::RecordFailed(cause) = self
        {
            tracing::error!(cause_chain = %format!("{cause:#}"), "request failed: {self}");
        }
        let mut response = problem_response(self.problem());
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if matches!(
            self,
            ApiError::Overloaded | ApiError::Unavailable(_) | ApiError::NotCarriedOut(_)
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(*retry_after_secs),
            );
        }
        response
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> ApiError {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => ApiError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::Conflict("a resource with this name already exists".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(error: r2d2::Error) -> ApiError {
        ApiError::Unavailable(error.into())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> ApiError {
        ApiError::Internal(anyhow::anyhow!("{error}"))
    }
}

/// Serializes a problem document with its status and media type.
pub fn problem_response(problem: Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/problem+json"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(serde_json::to_string(&problem).unwrap_or_default())
}

/// A problem document for a request that named no route.
pub fn not_found(request: &HttpRequest) -> HttpResponse {
    let mut problem = ApiError::NotFound.problem();
    problem.instance = Some(request.path().to_string());
    problem_response(problem)
}

/// Turns actix's JSON and path extraction errors into 400 problem documents.
pub fn extraction_error(detail: String) -> actix_web::Error {
    ApiError::BadRequest { detail }.into()
}
