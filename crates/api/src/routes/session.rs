//! `/api/v1/session`: signing in and out of the dashboard (cookie sessions).

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{ProjectSummary, Role, SessionInfo, SignIn, UserSummary};
use auditlog_shared::Source;
use diesel::prelude::*;

use crate::auth::{
    self, password, tokens, Actor, AuthFailure, Credentials, Identity, SESSION_COOKIE,
};
use crate::capture::{self, catalog, writer::NewAuditEntry};
use crate::db::schema::{memberships, projects, sessions, users};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::routes::with_conn;
use crate::startup::AppState;

/// How long a dashboard session lasts.
const SESSION_DAYS: i64 = 7;

/// `POST /api/v1/session`: checks email and password, starts a session, sets the cookie.
/// A failed attempt on an existing account is recorded in each of its projects (C7).
pub async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<SignIn>,
) -> Result<HttpResponse, ApiError> {
    let SignIn { email, password } = body.into_inner();
    let email = email.trim().to_lowercase();
    let now = state.clock.now_micros();
    let secret_key = state.secret_key.clone();
    let outcome = with_conn(&state, move |conn| {
        let user = users::table
            .filter(users::email.eq(&email))
            .select((users::id, users::display_name, users::password_hash))
            .first::<(i64, String, String)>(conn)
            .optional()?;
        let Some((user_id, display_name, hash)) = user else {
            password::waste_verification_time(&password);
            return Ok(SignInOutcome::UnknownEmail);
        };
        let actor = Actor::User {
            id: user_id,
            display_name,
            email,
        };
        let projects = member_projects(conn, user_id)?;
        if !password::verify_password(&password, &hash) {
            return Ok(SignInOutcome::WrongPassword { actor, projects });
        }
        let session_id = tokens::random_hex(32)?;
        let csrf_token = tokens::random_hex(16)?;
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(&session_id),
                sessions::user_id.eq(user_id),
                sessions::csrf_token.eq(&csrf_token),
                sessions::created_at.eq(now),
                sessions::expires_at.eq(now + SESSION_DAYS * 86_400_000_000),
            ))
            .execute(conn)?;
        let cookie = tokens::sign_session(secret_key.expose(), &session_id, user_id)?;
        Ok(SignInOutcome::SignedIn {
            cookie,
            info: session_info(actor, csrf_token, projects),
        })
    })
    .await?;

    match outcome {
        SignInOutcome::UnknownEmail => Err(wrong_credentials()),
        SignInOutcome::WrongPassword { actor, projects } => {
            let entries = projects
                .iter()
                .map(|project| sign_in_entry(&request, &actor, project.id, now, 401))
                .collect::<Vec<_>>();
            if !entries.is_empty() {
                capture::commit_entries(&state, entries).await?;
            }
            Err(wrong_credentials())
        }
        SignInOutcome::SignedIn { cookie, info } => {
            let secure = request.connection_info().scheme() == "https";
            let cookie = Cookie::build(SESSION_COOKIE, cookie)
                .path("/")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Strict)
                .max_age(CookieDuration::days(SESSION_DAYS))
                .finish();
            Ok(HttpResponse::Ok().cookie(cookie).json(info))
        }
    }
}

/// `GET /api/v1/session`: who is signed in, with their projects and CSRF token.
pub async fn current(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let identity = session_identity(&state, &request).await?;
    let info = with_conn(&state, move |conn| {
        let Actor::User { id, .. } = &identity.actor else {
            return Err(ApiError::Unauthorized("sign in first".into()));
        };
        let projects = member_projects(conn, *id)?;
        Ok(session_info(
            identity.actor.clone(),
            identity.csrf_token.clone().unwrap_or_default(),
            projects,
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(info))
}

/// `DELETE /api/v1/session`: ends the session (the cookie stops working) and clears the cookie.
pub async fn sign_out(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let identity = session_identity(&state, &request).await?;
    if !auth::csrf_ok(&identity, &Credentials::from_request(&request)) {
        return Err(ApiError::Forbidden(
            "missing or wrong X-CSRF-Token header".into(),
        ));
    }
    let now = state.clock.now_micros();
    let claims = request
        .cookie(SESSION_COOKIE)
        .and_then(|cookie| tokens::read_session(state.secret_key.expose(), cookie.value()))
        .ok_or_else(|| ApiError::Unauthorized("sign in first".into()))?;
    with_conn(&state, move |conn| {
        diesel::update(sessions::table.find(&claims.sid))
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?;
        Ok(())
    })
    .await?;
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    Ok(HttpResponse::NoContent().cookie(removal).finish())
}

enum SignInOutcome {
    UnknownEmail,
    WrongPassword {
        actor: Actor,
        projects: Vec<ProjectSummary>,
    },
    SignedIn {
        cookie: String,
        info: SessionInfo,
    },
}

fn wrong_credentials() -> ApiError {
    ApiError::Unauthorized("wrong email or password".into())
}

async fn session_identity(
    state: &web::Data<AppState>,
    request: &HttpRequest,
) -> Result<Identity, ApiError> {
    let now = state.clock.now_micros();
    let key = state.secret_key.clone();
    let credentials = Credentials::from_request(request);
    let result = with_conn(state, move |conn| {
        Ok(auth::authenticate(conn, &credentials, key.expose(), now)?)
    })
    .await?;
    match result {
        Ok(identity) if identity.source == Source::Dashboard => Ok(identity),
        Ok(_) => Err(ApiError::Unauthorized(
            "this endpoint is for dashboard sessions".into(),
        )),
        Err(AuthFailure::Anonymous(reason) | AuthFailure::Refused { reason, .. }) => {
            Err(ApiError::Unauthorized(reason.into()))
        }
    }
}

/// The projects a user belongs to, with their role in each.
pub fn member_projects(
    conn: &mut DbConnection,
    user_id: i64,
) -> Result<Vec<ProjectSummary>, ApiError> {
    let rows = memberships::table
        .inner_join(projects::table)
        .filter(memberships::user_id.eq(user_id))
        .order(projects::id.asc())
        .select((
            projects::id,
            projects::name,
            projects::slug,
            memberships::role,
        ))
        .load::<(i64, String, String, String)>(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, slug, role)| ProjectSummary {
            id,
            name,
            slug,
            role: Role::parse(&role).unwrap_or(Role::Viewer),
        })
        .collect())
}

fn session_info(actor: Actor, csrf_token: String, projects: Vec<ProjectSummary>) -> SessionInfo {
    SessionInfo {
        user: UserSummary {
            id: actor.id(),
            email: actor.email().unwrap_or_default().to_string(),
            display_name: actor.name().to_string(),
        },
        csrf_token,
        projects,
    }
}

fn sign_in_entry(
    request: &HttpRequest,
    actor: &Actor,
    project_id: i64,
    now: i64,
    status: i32,
) -> NewAuditEntry {
    let route = &catalog::SIGN_IN_FAILED;
    NewAuditEntry {
        project_id,
        ts: now,
        actor_kind: actor.kind().into(),
        actor_id: Some(actor.id()),
        actor_name: actor.name().into(),
        actor_email: actor.email().map(str::to_string),
        source: Source::Dashboard.as_str().into(),
        method: "POST".into(),
        path: request.path().into(),
        route: route.template.into(),
        action: route.action.into(),
        status_code: status,
        resource_type: route.resource_type.as_str().into(),
        resource_id: Some(actor.id()),
        resource_name: actor.name().into(),
        client_ip: request.peer_addr().map(|addr| addr.ip().to_string()),
        user_agent: request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        request_id: capture::request_id(request),
        duration_us: 0,
        actor_key: String::new(),
        resource_key: String::new(),
        search_text: String::new(),
        chain_seq: 0,
        prev_hash: String::new(),
        entry_hash: String::new(),
    }
}
