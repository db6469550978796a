//! Project members: list, change role, remove. Members join by invitation
//! (`routes::invitations`).
//!
//! Invariants:
//! * An account lives as long as it belongs to a project: removing a user from their last
//!   project deletes the account. Audit entries keep the user's name and email as they were.
//! * Offboarding takes the member's API tokens with them: removing a member revokes every token
//!   they created in the project; demoting one caps their tokens at the new role.
//! * A project always keeps an admin; on PostgreSQL the admin memberships are locked while the
//!   check runs, so two concurrent demotions cannot both pass it.

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{Member, Role, UpdateMember};
use diesel::prelude::*;

use crate::capture::access::{PathId, ProjectAccess};
use crate::capture::{describe_changes, describe_resource};
use crate::db::schema::{api_tokens, invitations, memberships, users};
use crate::db::stored::Stored;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::routes::{with_project_conn, ProjectRoutes};
use crate::state::AppState;

pub fn configure(routes: &mut ProjectRoutes) {
    use auditlog_shared::wire::{Member, UpdateMember};

    routes
        .add("user.list", list)
        .answers::<Vec<Member>>()
        .add("user.change_role", change_role)
        .takes::<UpdateMember>()
        .answers::<Member>()
        .add("user.remove", remove);
}

fn load(conn: &mut DbConnection, project_id: i64, user_id: i64) -> Result<Member, ApiError> {
    let (email, display_name, role) = memberships::table
        .inner_join(users::table)
        .filter(memberships::project_id.eq(project_id))
        .filter(memberships::user_id.eq(user_id))
        .select((users::email, users::display_name, memberships::role))
        .first::<(String, String, Stored<Role>)>(conn)?;
    Ok(Member {
        user_id,
        email,
        display_name,
        role: role.0,
    })
}

async fn list(state: web::Data<AppState>, access: ProjectAccess) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let members = with_project_conn(&state, &access, move |conn| {
        let rows = memberships::table
            .inner_join(users::table)
            .filter(memberships::project_id.eq(project_id))
            .order(users::email.asc())
            .select((
                users::id,
                users::email,
                users::display_name,
                memberships::role,
            ))
            .load::<(i64, String, String, Stored<Role>)>(conn)?;
        Ok(rows
            .into_iter()
            .map(|(user_id, email, display_name, role)| Member {
                user_id,
                email,
                display_name,
                role: role.0,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(members))
}

async fn change_role(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
    body: crate::routes::JsonObject<UpdateMember>,
) -> Result<HttpResponse, ApiError> {
    let PathId(user_id) = path_id;
    let role = body.into_inner().role;
    let project_id = access.project_id;
    let state_now = state.clock.now_micros();
    let (before, member) = with_project_conn(&state, &access, move |conn| {
        let current = load(conn, project_id, user_id)?;
        let before = current.clone();
        if current.role == Role::Admin && role != Role::Admin {
            ensure_another_admin(conn, project_id)?;
        }
        diesel::update(memberships::table.find((project_id, user_id)))
            .set(memberships::role.eq(role.as_str()))
            .execute(conn)?;
        cap_tokens(conn, project_id, user_id, role)?;
        if role != Role::Admin {
            // Only admins invite and grant ingest: what they did as admin ends with it.
            revoke_invitations_by(conn, project_id, user_id, state_now)?;
            diesel::update(
                api_tokens::table
                    .filter(api_tokens::project_id.eq(project_id))
                    .filter(api_tokens::created_by_user_id.eq(user_id)),
            )
            .set(api_tokens::can_ingest.eq(false))
            .execute(conn)?;
        }
        Ok((before, load(conn, project_id, user_id)?))
    })
    .await?;
    describe_resource(&request, Some(member.user_id), member.display_name.clone());
    describe_changes(&request, &before, &member, &["role"]);
    Ok(HttpResponse::Ok().json(member))
}

async fn remove(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(user_id) = path_id;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let name = with_project_conn(&state, &access, move |conn| {
        let current = load(conn, project_id, user_id)?;
        if current.role == Role::Admin {
            ensure_another_admin(conn, project_id)?;
        }
        diesel::delete(memberships::table.find((project_id, user_id))).execute(conn)?;
        diesel::update(
            api_tokens::table
                .filter(api_tokens::project_id.eq(project_id))
                .filter(api_tokens::created_by_user_id.eq(user_id))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now))
        .execute(conn)?;
        revoke_invitations_by(conn, project_id, user_id, now)?;
        let elsewhere: i64 = memberships::table
            .filter(memberships::user_id.eq(user_id))
            .count()
            .get_result(conn)?;
        if elsewhere == 0 {
            diesel::delete(users::table.find(user_id)).execute(conn)?;
        }
        Ok(current.display_name)
    })
    .await?;
    describe_resource(&request, Some(user_id), name);
    Ok(HttpResponse::NoContent().finish())
}

/// Revokes the pending invitations a member (or their tokens) created in the project, so that
/// nobody they invited can join after they left or stopped being admin.
fn revoke_invitations_by(
    conn: &mut DbConnection,
    project_id: i64,
    user_id: i64,
    now: i64,
) -> Result<(), ApiError> {
    diesel::update(
        invitations::table
            .filter(invitations::project_id.eq(project_id))
            .filter(invitations::invited_by_user_id.eq(user_id))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Lowers every live token the member created in the project to at most `role` (a token never
/// outranks the person who made it).
fn cap_tokens(
    conn: &mut DbConnection,
    project_id: i64,
    user_id: i64,
    role: Role,
) -> Result<(), ApiError> {
    let higher: Vec<&str> = [Role::Admin, Role::Developer, Role::Viewer]
        .into_iter()
        .filter(|other| *other > role)
        .map(Role::as_str)
        .collect();
    diesel::update(
        api_tokens::table
            .filter(api_tokens::project_id.eq(project_id))
            .filter(api_tokens::created_by_user_id.eq(user_id))
            .filter(api_tokens::role.eq_any(higher)),
    )
    .set(api_tokens::role.eq(role.as_str()))
    .execute(conn)?;
    Ok(())
}

/// Refuses to remove or demote the project's last admin. Runs inside the request's transaction:
/// on SQLite that transaction already holds the database's one write lock; on PostgreSQL the
/// admin memberships are locked (`FOR UPDATE`) until it ends, so a concurrent demotion waits and
/// then sees this one's outcome.
fn ensure_another_admin(conn: &mut DbConnection, project_id: i64) -> Result<(), ApiError> {
    let admins = memberships::table
        .filter(memberships::project_id.eq(project_id))
        .filter(memberships::role.eq(Role::Admin.as_str()))
        .select(memberships::user_id);
    let admins: Vec<i64> = match conn {
        DbConnection::Postgres(pg) => admins.for_update().load(pg)?,
        DbConnection::Sqlite(sqlite) => admins.load(sqlite)?,
    };
    if admins.len() <= 1 {
        return Err(ApiError::Conflict(
            "a project needs at least one admin; make someone else admin first".into(),
        ));
    }
    Ok(())
}
