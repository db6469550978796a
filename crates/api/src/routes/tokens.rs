//! API tokens: create (the secret is shown once), list, read, revoke. Each token shows who
//! created it; removing that member revokes it, demoting them caps it (`routes::members`).

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{ApiToken, CreateToken, CreatedToken, Role};
use diesel::prelude::*;

use crate::auth::{tokens, Actor};
use crate::capture::access::{PathId, ProjectAccess};
use crate::capture::{describe_changes, describe_resource};
use crate::clock::from_micros;
use crate::db::schema::{api_tokens, users};
use crate::db::stored::Stored;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::routes::{with_project_conn, ProjectRoutes};
use crate::state::AppState;
use crate::validation::valid_name;

pub fn configure(routes: &mut ProjectRoutes) {
    use auditlog_shared::wire::{ApiToken, CreateToken, CreatedToken};

    routes
        .add("api_token.list", list)
        .answers::<Vec<ApiToken>>()
        .add("api_token.create", create)
        .takes::<CreateToken>()
        .answers::<CreatedToken>()
        .add("api_token.read", read)
        .answers::<ApiToken>()
        .add("api_token.revoke", revoke)
        .answers::<ApiToken>();
}

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: i64,
    name: String,
    role: Stored<Role>,
    can_ingest: bool,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

/// A token with the display name of the member who created it.
type TokenView = (TokenRow, Option<String>);

fn wire((row, created_by): TokenView) -> ApiToken {
    ApiToken {
        id: row.id,
        name: row.name,
        role: row.role.0,
        can_ingest: row.can_ingest,
        created_by,
        created_at: from_micros(row.created_at),
        expires_at: row.expires_at.map(from_micros),
        revoked_at: row.revoked_at.map(from_micros),
        last_used_at: row.last_used_at.map(from_micros),
    }
}

fn load(conn: &mut DbConnection, project_id: i64, id: i64) -> Result<TokenView, ApiError> {
    Ok(with_creator()
        .filter(api_tokens::id.eq(id))
        .filter(api_tokens::project_id.eq(project_id))
        .select((TokenRow::as_select(), users::display_name.nullable()))
        .first(conn)?)
}

#[allow(clippy::type_complexity)]
fn with_creator() -> diesel::helper_types::LeftJoinOn<
    api_tokens::table,
    users::table,
    diesel::helper_types::Eq<
        diesel::helper_types::Nullable<users::id>,
        api_tokens::created_by_user_id,
    >,
> {
    api_tokens::table
        .left_join(users::table.on(users::id.nullable().eq(api_tokens::created_by_user_id)))
}

async fn list(state: web::Data<AppState>, access: ProjectAccess) -> Result<HttpResponse, ApiError> {
    let project_id = access.project_id;
    let rows = with_project_conn(&state, &access, move |conn| {
        Ok(with_creator()
            .filter(api_tokens::project_id.eq(project_id))
            .order(api_tokens::id.asc())
            .select((TokenRow::as_select(), users::display_name.nullable()))
            .load::<TokenView>(conn)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(wire).collect::<Vec<_>>()))
}

async fn create(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    body: crate::routes::JsonObject<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = valid_name("name", &body.name)?;
    if body.expires_in_days == Some(0) || body.expires_in_days.is_some_and(|d| d > 3650) {
        return Err(ApiError::BadRequest {
            detail: "`expires_in_days` must be from 1 to 3650".into(),
        });
    }
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let expires_at = body
        .expires_in_days
        .map(|days| now + i64::from(days) * 86_400_000_000);
    let actor = access.identity.actor.clone();
    let key = state.secret_key.clone();
    let (row, secret) = with_project_conn(&state, &access, move |conn| {
        let created_by = responsible_member(conn, &actor)?;
        let id: i64 = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::project_id.eq(project_id),
                api_tokens::name.eq(&name),
                api_tokens::role.eq(body.role.as_str()),
                api_tokens::can_ingest.eq(body.can_ingest),
                api_tokens::created_by_user_id.eq(created_by),
                api_tokens::created_at.eq(now),
                api_tokens::expires_at.eq(expires_at),
            ))
            .returning(api_tokens::id)
            .get_result(conn)?;
        let secret = tokens::sign_api_token(key.expose(), id, project_id)?;
        Ok((load(conn, project_id, id)?, secret))
    })
    .await?;
    describe_resource(&request, Some(row.0.id), row.0.name.clone());
    Ok(HttpResponse::Created().json(CreatedToken {
        token: wire(row),
        secret,
    }))
}

/// The member answerable for what `actor` does: the user, or the member who created the token
/// (a token made by a token answers to the member at the root), so that removing or demoting
/// that member revokes or caps everything made in their name.
pub fn responsible_member(conn: &mut DbConnection, actor: &Actor) -> Result<Option<i64>, ApiError> {
    match actor {
        Actor::User { id, .. } => Ok(Some(*id)),
        Actor::Token { id, .. } => Ok(api_tokens::table
            .find(*id)
            .select(api_tokens::created_by_user_id)
            .first::<Option<i64>>(conn)
            .optional()?
            .flatten()),
    }
}

async fn read(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let project_id = access.project_id;
    let row = with_project_conn(&state, &access, move |conn| load(conn, project_id, id)).await?;
    describe_resource(&request, Some(row.0.id), row.0.name.clone());
    Ok(HttpResponse::Ok().json(wire(row)))
}

/// Revokes a token: it stops working at once; revoking twice changes nothing.
async fn revoke(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let (before, row) = with_project_conn(&state, &access, move |conn| {
        let current = load(conn, project_id, id)?;
        let before = wire(current.clone());
        if current.0.revoked_at.is_none() {
            diesel::update(api_tokens::table.find(id))
                .set(api_tokens::revoked_at.eq(now))
                .execute(conn)?;
        }
        Ok((before, load(conn, project_id, id)?))
    })
    .await?;
    describe_resource(&request, Some(row.0.id), row.0.name.clone());
    let after = wire(row);
    describe_changes(&request, &before, &after, &["revoked_at"]);
    Ok(HttpResponse::Ok().json(after))
}
