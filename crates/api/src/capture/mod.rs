//! Capture: the middleware that turns every project-scoped request by an
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

pub mod catalog;
pub mod chain;
pub mod chain_chunks;
pub mod checkpoint;
pub mod redaction;
pub mod transaction;
pub mod writer;

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage as _, HttpRequest, ResponseError as _};
use auditlog_shared::wire::{FieldChange, Role};
use auditlog_shared::{ResourceType, Source};
use diesel::prelude::*;

use crate::auth::{self, Actor, AuthFailure, Credentials, Identity, ProjectAccess};
use crate::capture::catalog::{Permission, RouteSpec};
use crate::capture::writer::{NewAuditEntry, Reservation};
use crate::db::schema;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::startup::AppState;
pub use transaction::RequestTransaction;

/// What a handler says about the resource it touched, for the audit entry.
#[derive(Clone, Debug)]
pub struct AuditedResource {
    pub id: Option<i64>,
    pub name: String,
}

/// Entries a handler adds to its request's own (the events an ingest request carries): stored
/// with the request's entry, just before it in the chain, if the request succeeds, and never
/// otherwise.
#[derive(Clone, Debug)]
struct CarriedEntries(Vec<NewAuditEntry>);

/// Adds entries to be stored with the request's own entry (see [`CarriedEntries`]).
pub fn carry_entries(request: &HttpRequest, entries: Vec<NewAuditEntry>) {
    request.extensions_mut().insert(CarriedEntries(entries));
}

/// What a state-changing request changed, for its entry (see [`describe_changes`]).
#[derive(Clone, Debug)]
struct EntryChanges(Vec<FieldChange>);

/// The longest value a change records, in characters; longer ones are cut with "…".
const MAX_CHANGE_VALUE_CHARS: usize = 200;

/// Records what a request changed: each of `fields` whose value in the resource's API form
/// differs between `before` and `after`. Fields whose name says they hold a secret (secrets,
/// passwords, tokens' hashes) are never recorded, whatever a caller passes; the API forms carry
/// none anyway. Stored with the entry, and covered by its hash, only if the request succeeds.
pub fn describe_changes(
    request: &HttpRequest,
    before: &impl serde::Serialize,
    after: &impl serde::Serialize,
    fields: &[&str],
) {
    let (Ok(before), Ok(after)) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return;
    };
    let shown = |value: Option<&serde_json::Value>| -> Option<String> {
        let text = match value? {
            serde_json::Value::Null => return None,
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        Some(if text.chars().count() > MAX_CHANGE_VALUE_CHARS {
            text.chars()
                .take(MAX_CHANGE_VALUE_CHARS)
                .chain(['…'])
                .collect()
        } else {
            text
        })
    };
    let changes: Vec<FieldChange> = fields
        .iter()
        .filter(|field| {
            let lower = field.to_ascii_lowercase();
            !["secret", "password", "hash"]
                .iter()
                .any(|word| lower.contains(word))
        })
        // A missing field and a null one are the same absence.
        .filter(|field| {
            let present_before = before.get(**field).filter(|v| !v.is_null());
            let present_after = after.get(**field).filter(|v| !v.is_null());
            present_before != present_after
        })
        .map(|field| FieldChange {
            field: field.to_string(),
            before: shown(before.get(*field)),
            after: shown(after.get(*field)),
        })
        .collect();
    if !changes.is_empty() {
        request.extensions_mut().insert(EntryChanges(changes));
    }
}

/// Names the resource a request touched (call it with the name *before* deleting the resource).
pub fn describe_resource(request: &HttpRequest, id: Option<i64>, name: impl Into<String>) {
    request.extensions_mut().insert(AuditedResource {
        id,
        name: name.into(),
    });
}

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
        web::block(move || -> anyhow::Result<Gate> {
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

    let (identity, project_name, response) = match gate {
        Gate::Unrecorded(error) => return Ok(request.into_response(error.error_response())),
        Gate::Refused {
            identity,
            project_name,
            error,
        } => {
            let response = request.into_response(error.error_response());
            (identity, project_name, response)
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
            if let Some(transaction) = transaction {
                return record_in_transaction(
                    &state,
                    reservation,
                    transaction,
                    Recorded {
                        identity,
                        project_id,
                        path_id: path_id.flatten(),
                        project_name,
                        route,
                        received_at,
                        started,
                    },
                    response,
                )
                .await;
            }
            (identity, project_name, response)
        }
    };

    record(
        &state,
        reservation,
        Recorded {
            identity,
            project_id,
            path_id: path_id.flatten(),
            project_name,
            route,
            received_at,
            started,
        },
        response,
    )
    .await
}

/// Reads a path id in its one canonical spelling: decimal digits without sign or leading zero,
/// at most `i64::MAX`. Rust's own `parse` would also take `+7` and `007`, which would let one
/// resource be named several ways (and the router leaves `%2B` encoded).
pub fn canonical_id(segment: &str) -> Option<i64> {
    let canonical = !segment.is_empty()
        && segment.len() <= 19
        && segment.bytes().all(|b| b.is_ascii_digit())
        && !segment.starts_with('0');
    canonical.then(|| segment.parse().ok()).flatten()
}

fn non_canonical_id(parameter: &str) -> String {
    format!(
        "invalid path parameter `{parameter}`: expected a positive decimal number without sign or leading zeros"
    )
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
    let entry = NewAuditEntry {
        project_id: recorded.project_id,
        ts: recorded.received_at,
        actor_kind: actor.kind().into(),
        actor_id: Some(actor.id()),
        actor_name: actor.name().into(),
        actor_email: actor.email().map(str::to_string),
        source: recorded.identity.source.as_str().into(),
        method: request.method().as_str().into(),
        path: redaction::stored_path(
            request.path(),
            request.query_string(),
            route.template.starts_with("/audit-logs"),
        ),
        route: route_template,
        action: route.action.into(),
        status_code: i32::from(status),
        resource_type: route.resource_type.as_str().into(),
        resource_id: resource.id,
        resource_name: resource.name,
        client_ip: client_ip(&request, &state.trusted_proxies).map(|ip| ip.to_string()),
        user_agent: user_agent(&request),
        request_id: request_id(&request),
        duration_us: i64::try_from(recorded.started.elapsed().as_micros()).unwrap_or(i64::MAX),
        actor_key: String::new(),
        resource_key: String::new(),
        search_text: String::new(),
        chain_seq: 0,
        prev_hash: String::new(),
        entry_hash: String::new(),
        ingested_by_token_id: None,
        // Only a request that succeeded changed anything.
        changes: request
            .extensions()
            .get::<EntryChanges>()
            .filter(|_| response.status().is_success())
            .and_then(|changes| auditlog_shared::chain::changes_text(&changes.0)),
    };
    with_derived_fields(entry)
}

/// Fills the derived columns: `actor_key`, `resource_key` and `search_text` (the lowercased
/// fields that search matches).
pub fn with_derived_fields(mut entry: NewAuditEntry) -> NewAuditEntry {
    entry.actor_key = entity_key(&entry.actor_kind, entry.actor_id);
    entry.resource_key = entity_key(&entry.resource_type, entry.resource_id);
    entry.search_text = entry_search_text(&entry);
    entry
}

/// The search text of an entry's fields (see [`search_text`]).
pub fn entry_search_text(entry: &NewAuditEntry) -> String {
    search_text(
        &entry.path,
        entry.actor_email.as_deref(),
        &entry.actor_kind,
        &entry.actor_name,
        &entry.resource_type,
        &entry.resource_name,
    )
}

/// `kind:id`, or `kind:` without an id: the key filters and facets use for actors and resources.
pub fn entity_key(kind: &str, id: Option<i64>) -> String {
    match id {
        Some(id) => format!("{kind}:{id}"),
        None => format!("{kind}:"),
    }
}

/// The text search matches: path, user email, token name, application or cluster name.
pub fn search_text(
    path: &str,
    actor_email: Option<&str>,
    actor_kind: &str,
    actor_name: &str,
    resource_type: &str,
    resource_name: &str,
) -> String {
    search_text_parts(
        path,
        actor_email,
        actor_kind,
        actor_name,
        resource_type,
        resource_name,
    )
    .collect::<Vec<_>>()
    .join("\n")
    .to_lowercase()
}

/// Whether `stored` is the search text of an entry's fields ([`search_text`]), without
/// building it when the fields are ASCII: verification checks every entry of a chain.
pub fn search_text_matches(stored: &str, fields: &chain::HashedFields<'_>) -> bool {
    let parts = || {
        search_text_parts(
            fields.path,
            fields.actor_email,
            fields.actor_kind,
            fields.actor_name,
            fields.resource_type,
            fields.resource_name,
        )
    };
    if !parts().all(|part| part.is_ascii()) {
        return stored == parts().collect::<Vec<_>>().join("\n").to_lowercase();
    }
    let mut rest = stored.as_bytes();
    for (index, part) in parts().enumerate() {
        if index > 0 {
            match rest.split_first() {
                Some((b'\n', tail)) => rest = tail,
                _ => return false,
            }
        }
        let Some((head, tail)) = rest.split_at_checked(part.len()) else {
            return false;
        };
        if !head
            .iter()
            .zip(part.bytes())
            .all(|(stored, field)| *stored == field.to_ascii_lowercase())
        {
            return false;
        }
        rest = tail;
    }
    rest.is_empty()
}

/// The fields of the search text, in order.
fn search_text_parts<'a>(
    path: &'a str,
    actor_email: Option<&'a str>,
    actor_kind: &str,
    actor_name: &'a str,
    resource_type: &str,
    resource_name: &'a str,
) -> impl Iterator<Item = &'a str> + Clone {
    let named_resource = resource_type == "application" || resource_type == "cluster";
    [
        Some(path),
        actor_email,
        (actor_kind == "token").then_some(actor_name),
        named_resource.then_some(resource_name),
    ]
    .into_iter()
    .flatten()
}

/// The client's address: the peer's, unless the peer is a trusted proxy, in which case the
/// `X-Forwarded-For` hops are walked from the right (the ones trusted proxies appended) to the
/// first address that is not itself a trusted proxy. A client can write anything into the
/// header, so only what trusted proxies appended is believed; from any other peer the header is
/// ignored.
pub fn client_ip(
    request: &HttpRequest,
    trusted_proxies: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let peer = request.peer_addr()?.ip();
    let trusted = |ip: &std::net::IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops = request
        .headers()
        .get_all(header::HeaderName::from_static("x-forwarded-for"))
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<std::net::IpAddr>() else {
            break;
        };
        client = ip;
        if !trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// The request's User-Agent, at most 512 characters.
pub fn user_agent(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect())
}

/// The request's id from the tracing span, or a fresh one.
pub(crate) fn request_id(request: &HttpRequest) -> String {
    request
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub(crate) fn collection_name(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::Application => "applications",
        ResourceType::Cluster => "clusters",
        ResourceType::Datastore => "datastores",
        ResourceType::EnvironmentGroup => "environment groups",
        ResourceType::Project => "project",
        ResourceType::CloudAccount => "cloud accounts",
        ResourceType::ApiToken => "API tokens",
        ResourceType::Integration => "integrations",
        ResourceType::User => "members",
        ResourceType::Invitation => "invitations",
        ResourceType::SavedView => "saved views",
        ResourceType::StreamDestination => "stream destinations",
        ResourceType::Alert => "alerts",
    }
}

/// The readable name of a resource of the project, as it is now.
pub fn resource_name(
    conn: &mut DbConnection,
    resource_type: ResourceType,
    project_id: i64,
    id: i64,
) -> QueryResult<Option<String>> {
    use schema::*;
    macro_rules! name_in {
        ($table:ident) => {
            $table::table
                .filter($table::id.eq(id))
                .filter($table::project_id.eq(project_id))
                .select($table::name)
                .first::<String>(conn)
                .optional()
        };
    }
    match resource_type {
        ResourceType::Application => name_in!(applications),
        ResourceType::Cluster => name_in!(clusters),
        ResourceType::Datastore => name_in!(datastores),
        ResourceType::EnvironmentGroup => name_in!(environment_groups),
        ResourceType::CloudAccount => name_in!(cloud_accounts),
        ResourceType::Integration => name_in!(integrations),
        ResourceType::ApiToken => name_in!(api_tokens),
        ResourceType::SavedView => name_in!(saved_views),
        ResourceType::StreamDestination => name_in!(stream_destinations),
        ResourceType::Alert => name_in!(alert_rules),
        ResourceType::Project => projects::table
            .find(id)
            .select(projects::name)
            .first::<String>(conn)
            .optional(),
        // Only a member of this project is named: an id of someone else's account must not copy
        // that person's name into this project's log.
        ResourceType::User => memberships::table
            .inner_join(users::table)
            .filter(memberships::project_id.eq(project_id))
            .filter(memberships::user_id.eq(id))
            .select(users::display_name)
            .first::<String>(conn)
            .optional(),
        ResourceType::Invitation => invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::project_id.eq(project_id))
            .select(invitations::email)
            .first::<String>(conn)
            .optional(),
    }
}

/// Sends entries built outside the middleware (failed sign-ins, ingested events) through the
/// writer and waits for their commit, all together or none.
pub async fn commit_entries(state: &AppState, entries: Vec<NewAuditEntry>) -> Result<(), ApiError> {
    let reservation = state
        .writer
        .reserve(std::time::Duration::from_secs(5))
        .await
        .ok_or(ApiError::Overloaded)?;
    reservation
        .commit(entries.into_iter().map(with_derived_fields).collect())
        .await
        .map_err(|error| ApiError::Unavailable(anyhow::Error::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_text_check_agrees_with_the_search_text() {
        for (path, email, kind, name, resource_type, resource_name) in [
            (
                "/api/v1/Projects/1",
                Some("Ada@Example.com"),
                "user",
                "Ada",
                "application",
                "Web",
            ),
            ("/x", None, "token", "CI Token", "cluster", "EU"),
            ("/x", None, "token", "ΣΟΦΙΑΣ", "cluster", "Ünïcode"),
            ("/", None, "user", "", "member", "ignored"),
        ] {
            let fields = chain::HashedFields {
                path,
                actor_email: email,
                actor_kind: kind,
                actor_name: name,
                resource_type,
                resource_name,
                ..Default::default()
            };
            let text = search_text(path, email, kind, name, resource_type, resource_name);
            assert!(search_text_matches(&text, &fields), "{text:?}");
            for wrong in [
                format!("{text}x"),
                text[..text.len() - 1].to_string(),
                text.to_uppercase(),
                format!("\n{text}"),
                String::new(),
            ] {
                if wrong != text {
                    assert!(!search_text_matches(&wrong, &fields), "{wrong:?}");
                }
            }
        }
    }

    #[test]
    fn only_canonical_ids_are_read() {
        assert_eq!(canonical_id("105"), Some(105));
        assert_eq!(canonical_id("9223372036854775807"), Some(i64::MAX));
        for spelling in [
            "",
            "0",
            "0105",
            "+105",
            "%2B105",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "0x10",
            "9223372036854775808",
            "٣",
        ] {
            assert_eq!(canonical_id(spelling), None, "{spelling:?}");
        }
    }
}
