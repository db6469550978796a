//! Alerts (admins only): a filter and a condition over the project's entries whose firings are
//! sent to a stream destination. Counting and notifying run in the background
//! (`streaming::alerts`); these handlers create, change, list and delete alerts, and each of
//! those requests is recorded like any other.

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{
    AlertChange, AlertFiring, AlertRule, CreateAlertRule, UpdateAlertRule,
};
use diesel::prelude::*;

use crate::capture::access::{PathId, ProjectAccess};
use crate::capture::{describe_changes, describe_resource};
use crate::db::schema::{alert_firings, alert_rules, stream_destinations};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::routes::{with_conn, with_project_conn, ProjectRoutes};
use crate::state::AppState;
use crate::streaming::alerts::{self, AlertRow, FiringRow, WindowState, MAX_ALERTS};
use crate::streaming::destination;
use crate::validation::{valid_name, valid_optional_name};

pub fn configure(routes: &mut ProjectRoutes) {
    use auditlog_shared::wire::{AlertFiring, AlertRule, CreateAlertRule, UpdateAlertRule};

    routes
        .add("alert.list", list)
        .answers::<Vec<AlertRule>>()
        .add("alert.create", create)
        .takes::<CreateAlertRule>()
        .answers::<AlertRule>()
        .add("alert.update", update)
        .takes::<UpdateAlertRule>()
        .answers::<AlertRule>()
        .add("alert.delete", delete)
        .add("alert.firings", firings)
        .answers::<Vec<AlertFiring>>();
}

/// The most firings `GET …/alerts/{id}/firings` returns (the newest).
const FIRINGS_SHOWN: i64 = 100;
/// The longest field name or value of an alert's change condition.
const MAX_CHANGE_CHARS: usize = 200;

/// An alert with its destination's name and its waiting notifications, as clients see it.
fn to_wire(conn: &mut DbConnection, row: &AlertRow) -> Result<AlertRule, ApiError> {
    let destination_name: String = stream_destinations::table
        .find(row.destination_id)
        .select(stream_destinations::name)
        .first(conn)?;
    let pending = alerts::pending_notifications(conn, row.id)?;
    row.to_wire(destination_name, pending)
        .map_err(ApiError::internal)
}

/// `GET …/alerts`: the project's alerts, by name.
async fn list(state: web::Data<AppState>, access: ProjectAccess) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let alerts = with_project_conn(&state, &access, move |conn| {
        let rows: Vec<AlertRow> = alert_rules::table
            .filter(alert_rules::project_id.eq(project_id))
            .order((alert_rules::name.asc(), alert_rules::id.asc()))
            .select(AlertRow::as_select())
            .load(conn)?;
        rows.iter()
            .map(|row| to_wire(conn, row))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(alerts))
}

/// Refuses a destination that is not the project's (named like an unknown one: another
/// project's destinations are not revealed).
fn check_destination(
    conn: &mut DbConnection,
    project_id: i64,
    destination_id: i64,
) -> Result<(), ApiError> {
    destination::load(conn, project_id, destination_id).map_err(|error| match error {
        ApiError::NotFound => ApiError::InvalidField {
            param: "destination_id".into(),
            detail: format!("this project has no stream destination {destination_id}"),
        },
        other => other,
    })?;
    Ok(())
}

/// Refuses a name another alert of the project has, or a project at its limit.
fn check_room(
    conn: &mut DbConnection,
    project_id: i64,
    name: &str,
    except: Option<i64>,
) -> Result<(), ApiError> {
    crate::routes::check_room!(
        conn,
        alert_rules,
        project_id,
        name,
        except,
        MAX_ALERTS,
        "an alert",
        "alerts"
    )
}

/// A change condition as it is stored: a field name of letters, digits and `_`, and a value
/// without control characters.
fn check_change(change: &AlertChange) -> Result<AlertChange, ApiError> {
    let invalid = |detail: &str| ApiError::InvalidField {
        param: "changed".into(),
        detail: detail.into(),
    };
    let field = change.field.trim();
    if field.is_empty()
        || field.chars().count() > MAX_CHANGE_CHARS
        || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(invalid(
            "`field` must be a field name (letters, digits and `_`), such as `role`",
        ));
    }
    if let Some(to) = &change.to {
        if to.is_empty()
            || to.chars().count() > MAX_CHANGE_CHARS
            || to.chars().any(char::is_control)
        {
            return Err(invalid(
                "`to` must be 1 to 200 characters without control characters",
            ));
        }
    }
    Ok(AlertChange {
        field: field.to_string(),
        to: change.to.clone(),
    })
}

/// `POST …/alerts`: counts the entries written from now on.
async fn create(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    body: crate::routes::JsonObject<CreateAlertRule>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = valid_name("name", &body.name)?;
    let filter = destination::canonical_filter(&body.filter)?;
    let changed = body.changed.as_ref().map(check_change).transpose()?;
    if let Some(problem) = body.condition.problem() {
        return Err(ApiError::InvalidField {
            param: "condition".into(),
            detail: problem,
        });
    }
    let condition = serde_json::to_string(&body.condition).map_err(ApiError::internal)?;
    let (project_id, destination_id) = (access.project_id, body.destination_id);
    let now = state.clock.now_micros();
    let created_by = access.identity.actor.name().to_string();
    let created = with_project_conn(&state, &access, move |conn| {
        check_room(conn, project_id, &name, None)?;
        check_destination(conn, project_id, destination_id)?;
        let cursor = destination::head_seq(conn, project_id)?;
        let id: i64 = diesel::insert_into(alert_rules::table)
            .values((
                alert_rules::project_id.eq(project_id),
                alert_rules::name.eq(&name),
                alert_rules::filter.eq(&filter),
                alert_rules::changed_field.eq(changed.as_ref().map(|change| &change.field)),
                alert_rules::changed_to.eq(changed.as_ref().and_then(|change| change.to.as_ref())),
                alert_rules::condition.eq(&condition),
                alert_rules::destination_id.eq(destination_id),
                alert_rules::paused.eq(false),
                alert_rules::cursor_seq.eq(cursor),
                alert_rules::window_state.eq(WindowState::default().to_text()),
                alert_rules::fired_count.eq(0_i64),
                alert_rules::consecutive_failures.eq(0),
                alert_rules::created_by_name.eq(&created_by),
                alert_rules::created_at.eq(now),
                alert_rules::updated_at.eq(now),
            ))
            .returning(alert_rules::id)
            .get_result(conn)?;
        let row = alerts::load(conn, project_id, id)?;
        to_wire(conn, &row)
    })
    .await?;
    describe_resource(&request, Some(created.id), created.name.clone());
    Ok(HttpResponse::Created().json(created))
}

/// `PATCH …/alerts/{id}`: renames an alert, sends it elsewhere, pauses or resumes it. Its
/// filter and condition stay (the counting state belongs to them).
async fn update(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
    body: crate::routes::JsonObject<UpdateAlertRule>,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let body = body.into_inner();
    let name = valid_optional_name("name", body.name.as_deref())?;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let (before, after) = with_project_conn(&state, &access, move |conn| {
        let current = alerts::load(conn, project_id, id)?;
        let before = to_wire(conn, &current)?;
        if let Some(name) = &name {
            check_room(conn, project_id, name, Some(id))?;
        }
        if let Some(destination_id) = body.destination_id {
            check_destination(conn, project_id, destination_id)?;
        }
        let resumed = body.paused == Some(false) && current.paused;
        let repointed = body
            .destination_id
            .is_some_and(|destination| destination != current.destination_id);
        let retry_now = resumed || repointed;
        diesel::update(alert_rules::table.find(current.id))
            .set((
                alert_rules::name.eq(name.unwrap_or(current.name)),
                alert_rules::destination_id
                    .eq(body.destination_id.unwrap_or(current.destination_id)),
                alert_rules::paused.eq(body.paused.unwrap_or(current.paused)),
                alert_rules::next_attempt_at.eq(if retry_now {
                    None
                } else {
                    current.next_attempt_at
                }),
                alert_rules::consecutive_failures.eq(if retry_now {
                    0
                } else {
                    current.consecutive_failures
                }),
                alert_rules::updated_at.eq(now),
            ))
            .execute(conn)?;
        let row = alerts::load(conn, project_id, id)?;
        Ok((before, to_wire(conn, &row)?))
    })
    .await?;
    describe_resource(&request, Some(after.id), after.name.clone());
    describe_changes(
        &request,
        &before,
        &after,
        &["name", "destination_name", "paused"],
    );
    Ok(HttpResponse::Ok().json(after))
}

/// `DELETE …/alerts/{id}`: the alert and its firings.
async fn delete(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let project_id = access.project_id;
    let row = with_project_conn(&state, &access, move |conn| {
        let current = alerts::load(conn, project_id, id)?;
        diesel::delete(alert_firings::table.filter(alert_firings::alert_id.eq(current.id)))
            .execute(conn)?;
        diesel::delete(alert_rules::table.find(current.id)).execute(conn)?;
        Ok(current)
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name);
    Ok(HttpResponse::NoContent().finish())
}

/// `GET …/alerts/{id}/firings`: the newest firings first, with their notification state.
async fn firings(
    state: web::Data<AppState>,
    access: ProjectAccess,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let project_id = access.project_id;
    let public_url = state.public_url.clone();
    let firings: Vec<AlertFiring> = with_conn(&state, move |conn| {
        let alert = alerts::load(conn, project_id, id)?;
        let rows: Vec<FiringRow> = alert_firings::table
            .filter(alert_firings::alert_id.eq(alert.id))
            .order(alert_firings::id.desc())
            .limit(FIRINGS_SHOWN)
            .select(FiringRow::as_select())
            .load(conn)?;
        Ok(rows
            .iter()
            .map(|firing| firing.to_wire(&alert.filter, public_url.as_deref()))
            .collect())
    })
    .await?;
    Ok(HttpResponse::Ok().json(firings))
}
