//! Projects: the caller's project list, one project, and its settings.

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{ProjectSettings, ProjectSummary, SettingsChange};
use diesel::prelude::*;

use crate::auth::{self, Actor, AuthFailure, Credentials};
use crate::capture::access::ProjectAccess;
use crate::db::schema::{project_settings, projects};
use crate::error::ApiError;
use crate::routes::{session::member_projects, with_conn, with_project_conn, ProjectRoutes};
use crate::state::AppState;

pub fn configure(routes: &mut ProjectRoutes) {
    use auditlog_shared::wire::{ProjectSettings, ProjectSummary, SettingsChange};

    routes
        .add("project.read", read)
        .answers::<ProjectSummary>()
        .add("project.settings.read", read_settings)
        .answers::<ProjectSettings>()
        .add("project.settings.update", update_settings)
        .takes::<SettingsChange>()
        .answers::<ProjectSettings>();
}

/// `GET /api/v1/projects`: the projects the caller can use — a user's memberships, or a token's
/// one project.
pub async fn list_mine(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now_micros();
    let key = state.secret_key.clone();
    let credentials = Credentials::from_request(&request);
    let projects = with_conn(&state, move |conn| {
        let identity = match auth::authenticate(conn, &credentials, key.expose(), now)? {
            Ok(identity) => identity,
            Err(AuthFailure::Anonymous(reason) | AuthFailure::Refused { reason, .. }) => {
                return Err(ApiError::Unauthorized(reason.into()))
            }
        };
        match identity.actor {
            Actor::User { id, .. } => member_projects(conn, id),
            Actor::Token {
                project_id, role, ..
            } => {
                let (name, slug) = projects::table
                    .find(project_id)
                    .select((projects::name, projects::slug))
                    .first::<(String, String)>(conn)?;
                Ok(vec![ProjectSummary {
                    id: project_id,
                    name,
                    slug,
                    role,
                }])
            }
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(projects))
}

async fn read(state: web::Data<AppState>, access: ProjectAccess) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let slug = with_project_conn(&state, &access, move |conn| {
        Ok(projects::table
            .find(project_id)
            .select(projects::slug)
            .first::<String>(conn)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProjectSummary {
        id: access.project_id,
        name: access.project_name,
        slug,
        role: access.role,
    }))
}

async fn read_settings(
    state: web::Data<AppState>,
    access: ProjectAccess,
) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let settings =
        with_project_conn(&state, &access, move |conn| load_settings(conn, project_id)).await?;
    Ok(HttpResponse::Ok().json(settings))
}

async fn update_settings(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: actix_web::HttpRequest,
    body: crate::routes::JsonObject<SettingsChange>,
) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let now = state.clock.now_micros();
    let change = body.into_inner();
    let (before, settings) = with_project_conn(&state, &access, move |conn| {
        let current = load_settings(conn, project_id)?;
        let before = current.clone();
        let enabled = change
            .audit_export_enabled
            .unwrap_or(current.audit_export_enabled);
        diesel::update(project_settings::table.find(project_id))
            .set((
                project_settings::audit_export_enabled.eq(enabled),
                project_settings::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok((
            before,
            ProjectSettings {
                audit_export_enabled: enabled,
            },
        ))
    })
    .await?;
    crate::capture::describe_changes(&request, &before, &settings, &["audit_export_enabled"]);
    Ok(HttpResponse::Ok().json(settings))
}

/// The project's settings (defaults when none were saved).
pub(crate) fn load_settings(
    conn: &mut crate::db::DbConnection,
    project_id: i64,
) -> Result<ProjectSettings, ApiError> {
    let enabled = project_settings::table
        .find(project_id)
        .select(project_settings::audit_export_enabled)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(false);
    Ok(ProjectSettings {
        audit_export_enabled: enabled,
    })
}
