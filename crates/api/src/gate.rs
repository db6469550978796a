//! The gate: the capture middleware that turns every project-scoped request by an
//! identified actor into exactly one durable audit entry, and authorizes it on the way.
//!
//! Order of work for a request under `/api/v1/projects/{project_id}`:
//! 1. reserve a place in the writer's queue, or answer 503 without running anything;
//! 2. authenticate (unidentified callers get 401 and are not recorded: there is no one to name);
//! 3. find the project and the caller's role; check CSRF, membership and the route's permission
//!    from the catalog — a refusal is answered here *and recorded*;
//! 4. run the handler, which may name the resource it touched ([`describe_resource`]);
//! 5. build the entry from the route template, the outcome and the names as they are now, commit
//!    it, and only then let the response go.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage as _, ResponseError as _};
use auditlog_shared::wire::Role;
use auditlog_shared::{ResourceType, Source};

use crate::auth::{self, Actor, AuthFailure, Credentials, Identity};
use crate::capture::access::ProjectAccess;
use crate::capture::transaction::RequestTransaction;
use crate::capture::writer::Reservation;
use crate::capture::{
    canonical_id, client_ip, collection_name, non_canonical_id, redaction, request_id,
    resource_name, user_agent, AuditedResource, CarriedEntries, EntryChanges,
};
use crate::catalog::{self, Permission, RouteSpec};
use crate::db::DbConnection;
use crate::entry::draft::EntryDraft;
use crate::entry::NewAuditEntry;
use crate::error::ApiError;
use crate::state::AppState;

/// The capture middleware. `routes::ProjectRoutes` wraps every project handler in it, bound to
/// that handler's catalog entry (and the 404 and 405 answers of the scope to
/// [`catalog::UNMATCHED`]), so the permission checked is always the one of the handler that runs.
/// It reads the path parameters as the router matched them and accepts only their canonical
/// spelling, so the entry names exactly the project and resource the handler acts on.
pub async fn capture(
    route: &'static RouteSpec,
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let state = request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("the application state is registered");
    let received_at = state.clock.now_micros();

    let Some(reservation) = state.writer.try_reserve(changes_state(request.method())) else {
        crate::metrics::metrics()
            .shed
            .with_label_values(&["capture_queue_full"])
            .inc();
        return Ok(request.into_response(ApiError::Overloaded.error_response()));
    };
    let Some(project_id) = request
        .match_info()
        .get("project_id")
        .and_then(canonical_id)
    else {
        return Ok(request.into_response(
            ApiError::BadRequest {
                detail: non_canonical_id("project_id"),
            }
            .error_response(),
        ));
    };
    // `None` when the route has no `{id}`; `Some(None)` when it has one that is not canonical.
    let path_id = request.match_info().get("id").map(canonical_id);

    let credentials = Credentials::from_request(request.request());
    let gate = {
        let state = state.clone();
        let span = tracing::info_span!("gate", action = route.action, project_id);
        web::block(move || -> anyhow::Result<Gate> {
            let _span = span.entered();
            let mut conn = state.pool.get()?;
            gate(
                &mut conn,
                &state,
                &credentials,
                project_id,
                path_id,
                route,
                received_at,
            )
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::Unavailable)?
    };

    let (identity, project_name, response, transaction) = match gate {
        Gate::Unrecorded(error) => return Ok(request.into_response(error.error_response())),
        Gate::Refused {
            identity,
            project_name,
            error,
        } => {
            let response = request.into_response(error.error_response());
            (identity, project_name, response, None)
        }
        Gate::Allowed(mut access) => {
            let identity = access.identity.clone();
            let project_name = access.project_name.clone();
            if changes_state(request.method()) {
                access.transaction = Some(RequestTransaction::new(&state.writer, &reservation));
            }
            let transaction = access.transaction.clone();
            request.extensions_mut().insert(*access);
            let response = next.call(request).await?.map_into_boxed_body();
            (identity, project_name, response, transaction)
        }
    };
    let recorded = Recorded {
        identity,
        project_id,
        path_id: path_id.flatten(),
        project_name,
        route,
        received_at,
        started,
    };
    match transaction {
        Some(transaction) => {
            record_in_transaction(&state, reservation, transaction, recorded, response).await
        }
        None => record(&state, reservation, recorded, response).await,
    }
}

/// The verdict on a request before its handler runs.
enum Gate {
    /// Not recorded: the caller is unidentified or the project does not exist.
    Unrecorded(ApiError),
    /// Answered with `error` and recorded.
    Refused {
        identity: Identity,
        project_name: String,
        error: ApiError,
    },
    Allowed(Box<ProjectAccess>),
}

fn gate(
    conn: &mut DbConnection,
    state: &AppState,
    credentials: &Credentials,
    project_id: i64,
    path_id: Option<Option<i64>>,
    route: &RouteSpec,
    now: i64,
) -> anyhow::Result<Gate> {
    let identity = match auth::authenticate(conn, credentials, state.secret_key.expose(), now)? {
        Ok(identity) => identity,
        Err(AuthFailure::Anonymous(reason)) => {
            return Ok(Gate::Unrecorded(ApiError::Unauthorized(reason.into())))
        }
        Err(AuthFailure::Refused { actor, reason }) => {
            let Some((project_name, _)) = auth::project_role(conn, project_id, &actor)? else {
                return Ok(Gate::Unrecorded(ApiError::Unauthorized(reason.into())));
            };
            let source = match actor {
                Actor::User { .. } => Source::Dashboard,
                Actor::Token { .. } => credentials.token_source(),
            };
            return Ok(Gate::Refused {
                identity: Identity {
                    actor,
                    source,
                    csrf_token: None,
                },
                project_name,
                error: ApiError::Unauthorized(reason.into()),
            });
        }
    };
    let Some((project_name, role)) = auth::project_role(conn, project_id, &identity.actor)? else {
        return Ok(Gate::Unrecorded(ApiError::NotFound));
    };
    let refuse = |error| {
        Ok(Gate::Refused {
            identity: identity.clone(),
            project_name: project_name.clone(),
            error,
        })
    };
    let Some(role) = role else {
        // Not a member: the project is not revealed, but its admins see the attempt.
        return refuse(ApiError::NotFound);
    };
    if !auth::csrf_ok(&identity, credentials) {
        return refuse(ApiError::Forbidden(
            "missing or wrong X-CSRF-Token header for a cookie-authenticated change".into(),
        ));
    }
    // Before the role check, so that the answer to a misspelled id does not depend on the role.
    // (A method the route does not have is answered 405 whatever the id: no handler reads it.)
    if path_id == Some(None) && route.action != catalog::UNMATCHED.action {
        return refuse(ApiError::BadRequest {
            detail: non_canonical_id("id"),
        });
    }
    match route.permission {
        Permission::AtLeast(needed) if role < needed => {
            return refuse(ApiError::Forbidden(format!(
                "{} needs the {} role; you are {}",
                route.label,
                needed.as_str(),
                article(role)
            )));
        }
        Permission::Ingest
            if !matches!(
                identity.actor,
                Actor::Token {
                    can_ingest: true,
                    ..
                }
            ) =>
        {
            return refuse(ApiError::Forbidden(
                "ingesting events needs an API token with the ingest permission".into(),
            ));
        }
        _ => {}
    }
    Ok(Gate::Allowed(Box::new(ProjectAccess {
        project_id,
        project_name,
        role,
        identity,
        resource_id: path_id.flatten(),
        transaction: None,
    })))
}

fn article(role: Role) -> String {
    match role {
        Role::Admin => "an admin".into(),
        other => format!("a {}", other.as_str()),
    }
}

struct Recorded {
    identity: Identity,
    project_id: i64,
    /// The canonical `{id}` of the path, when the route has one.
    path_id: Option<i64>,
    project_name: String,
    route: &'static RouteSpec,
    received_at: i64,
    started: Instant,
}

fn changes_state(method: &actix_web::http::Method) -> bool {
    !matches!(
        *method,
        actix_web::http::Method::GET
            | actix_web::http::Method::HEAD
            | actix_web::http::Method::OPTIONS
    )
}

/// Records a state-changing request: a success commits its changes together with its entry;
/// a failure rolls its changes back and its entry goes through the writer.
async fn record_in_transaction(
    state: &web::Data<AppState>,
    reservation: Reservation,
    transaction: RequestTransaction,
    recorded: Recorded,
    mut response: ServiceResponse<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if response.status().is_client_error() || response.status().is_server_error() {
        transaction.abandon();
        return record(state, reservation, recorded, response).await;
    }
    let entry = build_entry(state, &recorded, &response).await;
    let request_id = entry.request_id.clone();
    let mut entries = response
        .request()
        .extensions_mut()
        .remove::<CarriedEntries>()
        .map_or_else(Vec::new, |carried| carried.0);
    entries.push(entry);
    match transaction.finish(entries, reservation).await {
        Ok(()) => {
            set_request_id(&mut response, &request_id);
            Ok(response)
        }
        Err(error) => {
            let request = response.request().clone();
            let error = ApiError::NotCarriedOut(error);
            Ok(ServiceResponse::new(request, error.error_response()))
        }
    }
}

fn set_request_id(response: &mut ServiceResponse<BoxBody>, request_id: &str) {
    if let Ok(value) = header::HeaderValue::from_str(request_id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
}

async fn record(
    state: &web::Data<AppState>,
    reservation: Reservation,
    recorded: Recorded,
    mut response: ServiceResponse<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let entry = build_entry(state, &recorded, &response).await;
    let request_id = entry.request_id.clone();
    match reservation.commit(vec![entry]).await {
        Ok(()) => {
            set_request_id(&mut response, &request_id);
            Ok(response)
        }
        Err(error) => {
            let request = response.request().clone();
            let error = ApiError::RecordFailed(anyhow::Error::new(error));
            Ok(ServiceResponse::new(request, error.error_response()))
        }
    }
}

/// The entry of a request, from its route, its outcome and the names as they are now.
async fn build_entry(
    state: &web::Data<AppState>,
    recorded: &Recorded,
    response: &ServiceResponse<BoxBody>,
) -> NewAuditEntry {
    let request = response.request().clone();
    let described = request.extensions().get::<AuditedResource>().cloned();
    let route = recorded.route;
    let full_template = format!("{}{}", catalog::PROJECT_SCOPE, route.template);
    let path_id = recorded.path_id;

    let resource = match described {
        Some(resource) => resource,
        None if route.resource_type == ResourceType::Project => AuditedResource {
            id: Some(recorded.project_id),
            name: recorded.project_name.clone(),
        },
        None => match path_id {
            Some(id) => {
                let state = state.clone();
                let (project_id, resource_type) = (recorded.project_id, route.resource_type);
                let name = web::block(move || -> anyhow::Result<Option<String>> {
                    let mut conn = state.pool.get()?;
                    Ok(resource_name(&mut conn, resource_type, project_id, id)?)
                })
                .await
                .ok()
                .and_then(Result::ok)
                .flatten();
                AuditedResource {
                    id: Some(id),
                    name: name.unwrap_or_else(|| format!("#{id}")),
                }
            }
            None => AuditedResource {
                id: None,
                name: collection_name(route.resource_type).into(),
            },
        },
    };

    let actor = &recorded.identity.actor;
    let status = response.status().as_u16();
    let route_template = if route.template == "*" {
        redaction::stored_path(request.path(), "", false)
    } else {
        full_template
    };
    // Only a request that succeeded changed anything.
    let changes = request
        .extensions()
        .get::<EntryChanges>()
        .filter(|_| response.status().is_success())
        .and_then(|changes| auditlog_shared::chain::changes_text(&changes.0));
    EntryDraft {
        project_id: recorded.project_id,
        ts: recorded.received_at,
        actor: actor.draft(),
        source: recorded.identity.source,
        method: request.method().clone(),
        path: redaction::stored_path(
            request.path(),
            request.query_string(),
            route.template.starts_with("/audit-logs"),
        ),
        route: route_template,
        action: route.action.into(),
        status,
        resource_type: route.resource_type,
        resource_id: resource.id,
        resource_name: resource.name,
        client_ip: client_ip(&request, &state.trusted_proxies),
        user_agent: user_agent(&request),
        request_id: request_id(&request),
        duration_us: i64::try_from(recorded.started.elapsed().as_micros()).unwrap_or(i64::MAX),
        ingested_by_token_id: None,
        changes,
    }
    .into_entry()
}
