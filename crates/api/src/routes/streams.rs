//! Stream destinations: where a project's audit entries are pushed (admins only). Deliveries
//! themselves run in the background (`streaming::delivery`); these handlers create, change,
//! test and delete destinations, and each of those requests is recorded like any other.

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{
    CreateStreamDestination, CreatedStreamDestination, StreamDestination, StreamKind,
    StreamMessage, StreamTestResult, UpdateStreamDestination,
};
use diesel::prelude::*;

use crate::capture::access::{PathId, ProjectAccess};
use crate::capture::{describe_changes, describe_resource};
use crate::db::schema::stream_destinations;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::routes::{with_conn, with_project_conn, ProjectRoutes};
use crate::state::AppState;
use crate::streaming::destination::{self, DestinationRow, MAX_DESTINATIONS};
use crate::streaming::send::{self, Target};
use crate::streaming::Streaming;
use crate::validation::{valid_name, valid_optional_name};

pub fn configure(routes: &mut ProjectRoutes) {
    use auditlog_shared::wire::{
        CreateStreamDestination, CreatedStreamDestination, StreamDestination, StreamTestResult,
        UpdateStreamDestination,
    };

    routes
        .add("stream.list", list)
        .answers::<Vec<StreamDestination>>()
        .add("stream.create", create)
        .takes::<CreateStreamDestination>()
        .answers::<CreatedStreamDestination>()
        .add("stream.update", update)
        .takes::<UpdateStreamDestination>()
        .answers::<StreamDestination>()
        .add("stream.delete", delete)
        .add("stream.test", test)
        .answers::<StreamTestResult>();
}

/// A destination with its lag, as clients see it.
fn to_wire(
    conn: &mut DbConnection,
    row: &DestinationRow,
    now: i64,
) -> Result<StreamDestination, ApiError> {
    let lag = destination::lag(conn, row.project_id, row.cursor_seq, now)?;
    row.to_wire(lag).map_err(ApiError::internal)
}

/// `GET …/streams`: the project's destinations, by name, with their health and lag.
async fn list(state: web::Data<AppState>, access: ProjectAccess) -> Result<HttpResponse, ApiError> {
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let destinations = with_project_conn(&state, &access, move |conn| {
        let rows: Vec<DestinationRow> = stream_destinations::table
            .filter(stream_destinations::project_id.eq(project_id))
            .order((
                stream_destinations::name.asc(),
                stream_destinations::id.asc(),
            ))
            .select(DestinationRow::as_select())
            .load(conn)?;
        rows.iter()
            .map(|row| to_wire(conn, row, now))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(destinations))
}

/// Refuses a name another destination of the project has, or a project at its limit.
fn check_room(
    conn: &mut DbConnection,
    project_id: i64,
    name: &str,
    except: Option<i64>,
) -> Result<(), ApiError> {
    crate::routes::check_room!(
        conn,
        stream_destinations,
        project_id,
        name,
        except,
        MAX_DESTINATIONS,
        "a stream destination",
        "stream destinations"
    )
}

/// The handshake before a URL (or its credentials) is kept: a webhook must answer 2xx with the
/// challenge in its body; Splunk must accept a test event.
async fn verify(
    streaming: &Streaming,
    target: &Target,
    project_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let challenge = crate::auth::tokens::random_hex(16).map_err(ApiError::internal)?;
    let message = match target.kind {
        StreamKind::Webhook => StreamMessage::Verification {
            challenge: challenge.clone(),
        },
        StreamKind::SplunkHec | StreamKind::Datadog | StreamKind::Syslog => StreamMessage::Test {
            event_id: format!("{project_id}:verification:{challenge}"),
            project_id,
            sent_at: now,
        },
    };
    let answer = send::send(&streaming.client, target, &[message], now).await;
    let refused = |detail: String| ApiError::InvalidField {
        param: "url".into(),
        detail,
    };
    if let Some(error) = answer.error() {
        return Err(refused(format!(
            "the destination did not accept the verification: {error}"
        )));
    }
    if target.kind == StreamKind::Webhook && !answer.body.contains(&challenge) {
        return Err(refused(format!(
            "the destination answered {} but did not return the challenge: a webhook receiver answers the `auditlog.verification` message with its `challenge` in the body",
            answer.status.unwrap_or_default()
        )));
    }
    Ok(())
}

/// `POST …/streams`: verifies the destination, then starts streaming to it (from now, or from
/// the oldest kept entry with `backfill`). A webhook's signing secret is shown only here.
async fn create(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    body: crate::routes::JsonObject<CreateStreamDestination>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = valid_name("name", &body.name)?;
    let filter = destination::canonical_filter(&body.filter)?;
    let headers = destination::check_headers(&body.headers)?;
    let url = destination::delivery_url(state.streaming.policy, body.kind, &body.url)?;
    let secret = match (body.kind, body.token.as_deref()) {
        (StreamKind::Webhook, None) => destination::new_signing_secret()?,
        (StreamKind::Webhook, Some(_)) => {
            return Err(ApiError::InvalidField {
                param: "token".into(),
                detail: "a webhook takes no token: the server makes its signing secret".into(),
            })
        }
        (StreamKind::SplunkHec | StreamKind::Datadog, Some(token)) => {
            destination::check_token(token)?
        }
        (StreamKind::SplunkHec, None) => {
            return Err(ApiError::InvalidField {
                param: "token".into(),
                detail: "Splunk's HEC token is required".into(),
            })
        }
        (StreamKind::Datadog, None) => {
            return Err(ApiError::InvalidField {
                param: "token".into(),
                detail: "a Datadog API key is required".into(),
            })
        }
        (StreamKind::Syslog, None) => String::new(),
        (StreamKind::Syslog, Some(_)) => {
            return Err(ApiError::InvalidField {
                param: "token".into(),
                detail: "a syslog destination takes no token".into(),
            })
        }
    };
    if body.kind == StreamKind::Syslog && !headers.is_empty() {
        return Err(ApiError::InvalidField {
            param: "headers".into(),
            detail: "a syslog destination takes no headers".into(),
        });
    }
    let project_id = access.project_id;
    // Refuse what the insert would refuse before the destination is contacted.
    let checked_name = name.clone();
    with_conn(&state, move |conn| {
        check_room(conn, project_id, &checked_name, None)
    })
    .await?;
    let target = Target {
        destination_id: None,
        kind: body.kind,
        url: url.clone(),
        secret: secret.clone(),
        headers: headers.clone(),
        policy: state.streaming.policy,
    };
    verify(&state.streaming, &target, project_id, state.clock.now()).await?;

    let now = state.clock.now_micros();
    let created_by = access.identity.actor.name().to_string();
    let (kind, backfill) = (body.kind, body.backfill);
    let stored_secret = secret.clone();
    let headers_text = serde_json::to_string(&headers).map_err(ApiError::internal)?;
    let created = with_project_conn(&state, &access, move |conn| {
        check_room(conn, project_id, &name, None)?;
        let cursor = if backfill {
            0
        } else {
            destination::head_seq(conn, project_id)?
        };
        let id: i64 = diesel::insert_into(stream_destinations::table)
            .values((
                stream_destinations::project_id.eq(project_id),
                stream_destinations::name.eq(&name),
                stream_destinations::kind.eq(kind.as_str()),
                stream_destinations::url.eq(url.as_str()),
                stream_destinations::filter.eq(&filter),
                stream_destinations::secret.eq(&stored_secret),
                stream_destinations::headers.eq(&headers_text),
                stream_destinations::paused.eq(false),
                stream_destinations::cursor_seq.eq(cursor),
                stream_destinations::delivered_entries.eq(0_i64),
                stream_destinations::consecutive_failures.eq(0),
                stream_destinations::created_by_name.eq(&created_by),
                stream_destinations::created_at.eq(now),
                stream_destinations::updated_at.eq(now),
            ))
            .returning(stream_destinations::id)
            .get_result(conn)?;
        let row = destination::load(conn, project_id, id)?;
        to_wire(conn, &row, now)
    })
    .await?;
    describe_resource(&request, Some(created.id), created.name.clone());
    Ok(HttpResponse::Created().json(CreatedStreamDestination {
        destination: created,
        signing_secret: (kind == StreamKind::Webhook).then_some(secret),
    }))
}

/// `PATCH …/streams/{id}`: renames, re-filters, pauses or resumes a destination, or points it
/// elsewhere (a new URL, token or headers is verified first). Resuming, or fixing where it
/// points, retries at once.
async fn update(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
    body: crate::routes::JsonObject<UpdateStreamDestination>,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let body = body.into_inner();
    let name = valid_optional_name("name", body.name.as_deref())?;
    let filter = body
        .filter
        .as_deref()
        .map(destination::canonical_filter)
        .transpose()?;
    let headers = body
        .headers
        .as_ref()
        .map(destination::check_headers)
        .transpose()?;
    let project_id = access.project_id;
    // Read outside the request's write transaction: verifying a new URL waits on the network,
    // and no write may wait with it. The transaction below reads the destination again.
    let current = with_conn(&state, move |conn| destination::load(conn, project_id, id)).await?;
    let kind = current.kind().map_err(ApiError::internal)?;
    let url = body
        .url
        .as_deref()
        .map(|url| destination::delivery_url(state.streaming.policy, kind, url))
        .transpose()?;
    let token = match (kind, body.token.as_deref()) {
        (_, None) => None,
        (StreamKind::SplunkHec | StreamKind::Datadog, Some(token)) => {
            Some(destination::check_token(token)?)
        }
        (StreamKind::Webhook, Some(_)) => {
            return Err(ApiError::InvalidField {
                param: "token".into(),
                detail: "a webhook takes no token: the server makes its signing secret".into(),
            })
        }
        (StreamKind::Syslog, Some(_)) => {
            return Err(ApiError::InvalidField {
                param: "token".into(),
                detail: "a syslog destination takes no token".into(),
            })
        }
    };
    if kind == StreamKind::Syslog && headers.as_ref().is_some_and(|h| !h.is_empty()) {
        return Err(ApiError::InvalidField {
            param: "headers".into(),
            detail: "a syslog destination takes no headers".into(),
        });
    }
    let repointed = url.as_ref().is_some_and(|url| url.as_str() != current.url)
        || token.is_some()
        || headers.is_some();
    if repointed {
        let target = Target {
            destination_id: Some(id),
            kind,
            url: match &url {
                Some(url) => url.clone(),
                None => destination::delivery_url(state.streaming.policy, kind, &current.url)?,
            },
            secret: token.clone().unwrap_or_else(|| current.secret.clone()),
            headers: match &headers {
                Some(headers) => headers.clone(),
                None => current.headers().map_err(ApiError::internal)?,
            },
            policy: state.streaming.policy,
        };
        verify(&state.streaming, &target, project_id, state.clock.now()).await?;
    }

    let now = state.clock.now_micros();
    let paused = body.paused;
    let headers_text = headers
        .map(|headers| serde_json::to_string(&headers))
        .transpose()
        .map_err(ApiError::internal)?;
    let (before, after) = with_project_conn(&state, &access, move |conn| {
        let current = destination::load(conn, project_id, id)?;
        let before = to_wire(conn, &current, now)?;
        if let Some(name) = &name {
            check_room(conn, project_id, name, Some(id))?;
        }
        let resumed = paused == Some(false) && current.paused;
        let retry_now = resumed || repointed;
        diesel::update(stream_destinations::table.find(current.id))
            .set((
                stream_destinations::name.eq(name.unwrap_or(current.name)),
                stream_destinations::url.eq(url.map_or(current.url, |url| url.to_string())),
                stream_destinations::filter.eq(filter.unwrap_or(current.filter)),
                stream_destinations::headers.eq(headers_text.unwrap_or(current.headers)),
                stream_destinations::secret.eq(token.unwrap_or(current.secret)),
                stream_destinations::paused.eq(paused.unwrap_or(current.paused)),
                // Resumed or pointed elsewhere, it starts afresh: retried now, not counted failing.
                stream_destinations::next_attempt_at.eq(if retry_now {
                    None
                } else {
                    current.next_attempt_at
                }),
                stream_destinations::consecutive_failures.eq(if retry_now {
                    0
                } else {
                    current.consecutive_failures
                }),
                stream_destinations::updated_at.eq(now),
            ))
            .execute(conn)?;
        if retry_now {
            // The alerts that notify it retry at once too.
            use crate::db::schema::alert_rules;
            diesel::update(alert_rules::table.filter(alert_rules::destination_id.eq(id)))
                .set((
                    alert_rules::next_attempt_at.eq(None::<i64>),
                    alert_rules::consecutive_failures.eq(0),
                ))
                .execute(conn)?;
        }
        let row = destination::load(conn, project_id, id)?;
        Ok((before, to_wire(conn, &row, now)?))
    })
    .await?;
    describe_resource(&request, Some(after.id), after.name.clone());
    describe_changes(
        &request,
        &before,
        &after,
        &["name", "url", "filter", "header_names", "paused"],
    );
    Ok(HttpResponse::Ok().json(after))
}

/// `DELETE …/streams/{id}`: stops streaming there for good; refused while alerts notify it.
async fn delete(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let project_id = access.project_id;
    let row = with_project_conn(&state, &access, move |conn| {
        let current = destination::load(conn, project_id, id)?;
        let alerts: Vec<String> = crate::db::schema::alert_rules::table
            .filter(crate::db::schema::alert_rules::destination_id.eq(current.id))
            .select(crate::db::schema::alert_rules::name)
            .order(crate::db::schema::alert_rules::name.asc())
            .load(conn)?;
        if !alerts.is_empty() {
            return Err(ApiError::Conflict(format!(
                "alerts notify this destination ({}): delete them or send them elsewhere first",
                alerts.join(", ")
            )));
        }
        diesel::delete(stream_destinations::table.find(current.id)).execute(conn)?;
        Ok(current)
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name);
    Ok(HttpResponse::NoContent().finish())
}

/// `POST …/streams/{id}/test`: sends one `auditlog.test` message now, whatever the
/// destination's state, and says how it was taken. The cursor does not move.
async fn test(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let project_id = access.project_id;
    let row = with_conn(&state, move |conn| destination::load(conn, project_id, id)).await?;
    describe_resource(&request, Some(row.id), row.name.clone());
    let now = state.clock.now();
    let result = match crate::streaming::cursor::target(&row, state.streaming.policy) {
        Ok(target) => {
            let message = StreamMessage::Test {
                event_id: format!("{project_id}:test:{}", uuid::Uuid::new_v4()),
                project_id,
                sent_at: now,
            };
            let answer = send::send(&state.streaming.client, &target, &[message], now).await;
            StreamTestResult {
                delivered: answer.delivered(),
                status: answer.status,
                error: answer.error(),
                duration_ms: answer.duration_ms,
            }
        }
        Err(error) => StreamTestResult {
            delivered: false,
            status: None,
            error: Some(error),
            duration_ms: 0.0,
        },
    };
    Ok(HttpResponse::Ok().json(result))
}
