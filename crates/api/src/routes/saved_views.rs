//! Saved views: names for audit log views, shared by the project's admins (the dashboard lists
//! them beside Audit logs; `auditlog logs list --view NAME` runs one).
//!
//! Invariant: a stored query is the canonical form of a query the shared parser accepts, without
//! a cursor, so every saved view opens the same way in the dashboard, the API and the CLI.

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{CreateSavedView, SavedView, UpdateSavedView};
use auditlog_shared::AuditQuery;
use diesel::prelude::*;

use crate::capture::access::{PathId, ProjectAccess};
use crate::capture::{describe_changes, describe_resource};
use crate::clock::from_micros;
use crate::db::schema::saved_views;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::routes::{with_project_conn, ProjectRoutes};
use crate::state::AppState;
use crate::validation::{valid_name, valid_optional_name};

/// The most saved views one project may hold.
pub const MAX_SAVED_VIEWS: i64 = 200;

pub fn configure(routes: &mut ProjectRoutes) {
    use auditlog_shared::wire::{CreateSavedView, SavedView, UpdateSavedView};

    routes
        .add("saved_view.list", list)
        .answers::<Vec<SavedView>>()
        .add("saved_view.create", create)
        .takes::<CreateSavedView>()
        .answers::<SavedView>()
        .add("saved_view.update", update)
        .takes::<UpdateSavedView>()
        .answers::<SavedView>()
        .add("saved_view.delete", delete);
}

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = saved_views)]
struct SavedViewRow {
    id: i64,
    name: String,
    query: String,
    created_by_name: String,
    created_at: i64,
    updated_at: i64,
}

impl From<SavedViewRow> for SavedView {
    fn from(row: SavedViewRow) -> SavedView {
        SavedView {
            id: row.id,
            name: row.name,
            query: row.query,
            created_by: row.created_by_name,
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
        }
    }
}

/// A view's query as it is stored: parsed by the shared model (any error names the key), then
/// written canonically without a page cursor.
fn canonical_query(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    let text = text.strip_prefix('?').unwrap_or(text);
    let mut query = AuditQuery::parse(text).map_err(|error| ApiError::InvalidField {
        param: "query".into(),
        detail: error.to_string(),
    })?;
    query.cursor = None;
    Ok(query.to_query_string())
}

fn load(conn: &mut DbConnection, project_id: i64, id: i64) -> Result<SavedViewRow, ApiError> {
    Ok(saved_views::table
        .filter(saved_views::id.eq(id))
        .filter(saved_views::project_id.eq(project_id))
        .select(SavedViewRow::as_select())
        .first(conn)?)
}

/// Refuses a name another view of the project has, or a project at its limit.
fn check_room(
    conn: &mut DbConnection,
    project_id: i64,
    name: &str,
    except: Option<i64>,
) -> Result<(), ApiError> {
    crate::routes::check_room!(
        conn,
        saved_views,
        project_id,
        name,
        except,
        MAX_SAVED_VIEWS,
        "a saved view",
        "saved views"
    )
}

/// `GET …/saved-views`: the project's saved views, by name.
async fn list(state: web::Data<AppState>, access: ProjectAccess) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let rows = with_project_conn(&state, &access, move |conn| {
        Ok(saved_views::table
            .filter(saved_views::project_id.eq(project_id))
            .order((saved_views::name.asc(), saved_views::id.asc()))
            .select(SavedViewRow::as_select())
            .load::<SavedViewRow>(conn)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(SavedView::from).collect::<Vec<_>>()))
}

/// `POST …/saved-views`: saves a view under a name unique in the project.
async fn create(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    body: crate::routes::JsonObject<CreateSavedView>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = valid_name("name", &body.name)?;
    let query = canonical_query(&body.query)?;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let created_by = access.identity.actor.name().to_string();
    let row = with_project_conn(&state, &access, move |conn| {
        check_room(conn, project_id, &name, None)?;
        let id: i64 = diesel::insert_into(saved_views::table)
            .values((
                saved_views::project_id.eq(project_id),
                saved_views::name.eq(&name),
                saved_views::query.eq(&query),
                saved_views::created_by_name.eq(&created_by),
                saved_views::created_at.eq(now),
                saved_views::updated_at.eq(now),
            ))
            .returning(saved_views::id)
            .get_result(conn)?;
        load(conn, project_id, id)
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name.clone());
    Ok(HttpResponse::Created().json(SavedView::from(row)))
}

/// `PATCH …/saved-views/{id}`: renames it or changes its query.
async fn update(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
    body: crate::routes::JsonObject<UpdateSavedView>,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let body = body.into_inner();
    let name = valid_optional_name("name", body.name.as_deref())?;
    let query = body.query.as_deref().map(canonical_query).transpose()?;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let (before, row) = with_project_conn(&state, &access, move |conn| {
        let current = load(conn, project_id, id)?;
        let before = SavedView::from(current.clone());
        if let Some(name) = &name {
            check_room(conn, project_id, name, Some(id))?;
        }
        diesel::update(saved_views::table.find(current.id))
            .set((
                saved_views::name.eq(name.unwrap_or(current.name)),
                saved_views::query.eq(query.unwrap_or(current.query)),
                saved_views::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok((before, load(conn, project_id, id)?))
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name.clone());
    let after = SavedView::from(row);
    describe_changes(&request, &before, &after, &["name", "query"]);
    Ok(HttpResponse::Ok().json(after))
}

/// `DELETE …/saved-views/{id}`.
async fn delete(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let project_id = access.project_id;
    let row = with_project_conn(&state, &access, move |conn| {
        let current = load(conn, project_id, id)?;
        diesel::delete(saved_views::table.find(current.id)).execute(conn)?;
        Ok(current)
    })
    .await?;
    describe_resource(&request, Some(row.id), row.name);
    Ok(HttpResponse::NoContent().finish())
}
