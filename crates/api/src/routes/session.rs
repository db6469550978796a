//! `/api/v1/session` and `/api/v1/sessions`: signing in and out of the dashboard (cookie
//! sessions), changing one's password and signing out everywhere.
//!
//! Invariants:
//! * Sign-ins are throttled per account and per client address (`auth::throttle`); a throttled
//!   attempt is answered 429 before any password is hashed.
//! * Password hashing runs under `AppState::password_hashing` and never holds a pooled
//!   connection, so a sign-in flood cannot starve the pool.
//! * Account events (sign-in, failed sign-in, sign-out, password change, sign-out everywhere)
//!   are recorded in every project of the account, with the client's address and user agent.
//! * Changing the password or signing out everywhere ends every session of the account.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{
    ChangePassword, ProjectSummary, Role, SessionInfo, SignIn, UserSummary,
};
use auditlog_shared::Source;
use diesel::prelude::*;

use crate::auth::{
    self, password, throttle, tokens, Actor, AuthFailure, Credentials, Identity, SESSION_COOKIE,
};
use crate::capture;
use crate::catalog::{self, RouteSpec};
use crate::db::schema::{memberships, projects, sessions, users};
use crate::db::stored::Stored;
use crate::db::DbConnection;
use crate::entry::draft::EntryDraft;
use crate::entry::NewAuditEntry;
use crate::error::ApiError;
use crate::routes::with_conn;
use crate::state::AppState;

/// How long a dashboard session lasts.
const SESSION_DAYS: i64 = 7;
/// The longest password accepted: hashing is costly, and no one types more.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// `POST /api/v1/session`: checks email and password, starts a session, sets the cookie.
pub async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: crate::routes::JsonObject<SignIn>,
) -> Result<HttpResponse, ApiError> {
    let SignIn { email, password } = body.into_inner();
    let email = email.trim().to_lowercase();
    let now = state.clock.now_micros();
    let facts = RequestFacts::of(&request, &state);
    if let Err(throttled) = state.sign_in_throttle.check(&email, facts.ip, now) {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many failed sign-ins; try again in {} seconds",
                throttled.retry_after_secs
            ),
            retry_after_secs: throttled.retry_after_secs,
        });
    }

    let lookup_email = email.clone();
    let account = with_conn(&state, move |conn| {
        let user = users::table
            .filter(users::email.eq(&lookup_email))
            .select((users::id, users::display_name, users::password_hash))
            .first::<(i64, String, String)>(conn)
            .optional()?;
        let Some((id, display_name, hash)) = user else {
            return Ok(None);
        };
        let projects = member_projects(conn, id)?;
        let actor = Actor::User {
            id,
            display_name,
            email: lookup_email,
        };
        Ok(Some((actor, hash, projects)))
    })
    .await?;

    let verified = match &account {
        Some((_, hash, _)) => verify_password_bounded(&state, &password, hash).await?,
        None => {
            waste_verification_time_bounded(&state, &password).await?;
            false
        }
    };
    let account = match account {
        Some(account) if verified => account,
        failed => {
            let failures = state.sign_in_throttle.record_failure(&email, facts.ip, now);
            if let Some((actor, _, projects)) = &failed {
                record_sign_in_failure(&state, &facts, actor, projects, failures).await?;
            }
            return Err(ApiError::Unauthorized("wrong email or password".into()));
        }
    };
    let (actor, _, projects) = account;
    state.sign_in_throttle.record_success(&email);
    let (cookie, csrf_token) = start_session(&state, actor.id()).await?;
    record_account_event(
        &state,
        &catalog::SIGNED_IN,
        &facts,
        &actor,
        &projects,
        200,
        actor.name().to_string(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&state, cookie))
        .json(session_info(actor, csrf_token, projects)))
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

/// `DELETE /api/v1/session`: ends this session (the cookie stops working) and clears the cookie.
pub async fn sign_out(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let identity = changing_session_identity(&state, &request).await?;
    let now = state.clock.now_micros();
    let claims = request
        .cookie(SESSION_COOKIE)
        .and_then(|cookie| tokens::read_session(state.secret_key.expose(), cookie.value()))
        .ok_or_else(|| ApiError::Unauthorized("sign in first".into()))?;
    let user_id = identity.actor.id();
    let projects = with_conn(&state, move |conn| {
        diesel::update(sessions::table.find(&claims.sid))
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?;
        member_projects(conn, user_id)
    })
    .await?;
    let facts = RequestFacts::of(&request, &state);
    let name = identity.actor.name().to_string();
    record_account_event(
        &state,
        &catalog::SIGNED_OUT,
        &facts,
        &identity.actor,
        &projects,
        204,
        name,
    )
    .await?;
    Ok(HttpResponse::NoContent().cookie(removal_cookie()).finish())
}

/// `DELETE /api/v1/sessions`: ends every session of the signed-in account, on every device.
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let identity = changing_session_identity(&state, &request).await?;
    let (user_id, now) = (identity.actor.id(), state.clock.now_micros());
    let projects = with_conn(&state, move |conn| {
        end_all_sessions(conn, user_id, now)?;
        member_projects(conn, user_id)
    })
    .await?;
    let facts = RequestFacts::of(&request, &state);
    let name = identity.actor.name().to_string();
    record_account_event(
        &state,
        &catalog::SIGNED_OUT_EVERYWHERE,
        &facts,
        &identity.actor,
        &projects,
        204,
        name,
    )
    .await?;
    Ok(HttpResponse::NoContent().cookie(removal_cookie()).finish())
}

/// `POST /api/v1/session/password`: changes the signed-in user's own password, given the
/// current one. Every session of the account ends; the caller gets a fresh one.
pub async fn change_password(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: crate::routes::JsonObject<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let identity = changing_session_identity(&state, &request).await?;
    let ChangePassword {
        current_password,
        new_password,
    } = body.into_inner();
    check_new_password("new_password", &new_password)?;
    let now = state.clock.now_micros();
    let facts = RequestFacts::of(&request, &state);
    let email = identity.actor.email().unwrap_or_default().to_string();
    // A stolen session must not become a way to guess the password without limits.
    if let Err(throttled) = state.sign_in_throttle.check(&email, facts.ip, now) {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many wrong passwords; try again in {} seconds",
                throttled.retry_after_secs
            ),
            retry_after_secs: throttled.retry_after_secs,
        });
    }
    let user_id = identity.actor.id();
    let hash = with_conn(&state, move |conn| {
        Ok(users::table
            .find(user_id)
            .select(users::password_hash)
            .first::<String>(conn)?)
    })
    .await?;
    if !verify_password_bounded(&state, &current_password, &hash).await? {
        state.sign_in_throttle.record_failure(&email, facts.ip, now);
        return Err(ApiError::InvalidField {
            param: "current_password".into(),
            detail: "this is not your current password".into(),
        });
    }
    let new_hash = hash_password_bounded(&state, &new_password).await?;
    let projects = with_conn(&state, move |conn| {
        crate::db::write_transaction(conn, |conn| {
            diesel::update(users::table.find(user_id))
                .set(users::password_hash.eq(&new_hash))
                .execute(conn)?;
            end_all_sessions(conn, user_id, now)?;
            Ok::<_, ApiError>(())
        })?;
        member_projects(conn, user_id)
    })
    .await?;
    let (cookie, csrf_token) = start_session(&state, user_id).await?;
    record_account_event(
        &state,
        &catalog::PASSWORD_CHANGED,
        &facts,
        &identity.actor,
        &projects,
        200,
        identity.actor.name().to_string(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&state, cookie))
        .json(session_info(identity.actor, csrf_token, projects)))
}

/// What an account event's entry says about the request that caused it.
#[derive(Clone, Debug)]
pub struct RequestFacts {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub method: actix_web::http::Method,
    /// The path as stored: the template for routes whose path holds a secret.
    pub path: String,
}

impl RequestFacts {
    pub fn of(request: &HttpRequest, state: &AppState) -> RequestFacts {
        RequestFacts {
            ip: capture::client_ip(request, &state.trusted_proxies),
            user_agent: capture::user_agent(request),
            request_id: capture::request_id(request),
            method: request.method().clone(),
            path: capture::redaction::stored_path(request.path(), request.query_string(), false),
        }
    }
}

/// The entry of an account event in one project, as a draft (a caller may name more before
/// [`EntryDraft::into_entry`]).
pub fn account_entry(
    route: &RouteSpec,
    facts: &RequestFacts,
    actor: &Actor,
    project_id: i64,
    now: i64,
    status: u16,
    resource_name: String,
) -> EntryDraft {
    EntryDraft {
        project_id,
        ts: now,
        actor: actor.draft(),
        source: Source::Dashboard,
        method: facts.method.clone(),
        path: facts.path.clone(),
        route: route.template.into(),
        action: route.action.into(),
        status,
        resource_type: route.resource_type,
        resource_id: Some(actor.id()),
        resource_name,
        client_ip: facts.ip,
        user_agent: facts.user_agent.clone(),
        request_id: facts.request_id.clone(),
        duration_us: 0,
        ingested_by_token_id: None,
        changes: None,
    }
}

/// Records a wrong password for an account (at sign-in, or when accepting an invitation with an
/// existing account) in each of its projects, naming the running count; beyond the account's
/// limit, failures are coalesced (see [`throttle::is_recorded_failure`]).
pub async fn record_sign_in_failure(
    state: &web::Data<AppState>,
    facts: &RequestFacts,
    actor: &Actor,
    projects: &[ProjectSummary],
    failures: u32,
) -> Result<(), ApiError> {
    if !throttle::is_recorded_failure(failures) {
        return Ok(());
    }
    let name = format!(
        "{} ({failures} failed {} in {} minutes)",
        actor.name(),
        if failures == 1 { "attempt" } else { "attempts" },
        throttle::WINDOW_MICROS / 60_000_000
    );
    record_account_event(
        state,
        &catalog::SIGN_IN_FAILED,
        facts,
        actor,
        projects,
        401,
        name,
    )
    .await
}

/// Records an account event in each of the account's projects (nothing when it has none).
pub async fn record_account_event(
    state: &web::Data<AppState>,
    route: &RouteSpec,
    facts: &RequestFacts,
    actor: &Actor,
    projects: &[ProjectSummary],
    status: u16,
    resource_name: String,
) -> Result<(), ApiError> {
    let now = state.clock.now_micros();
    let entries: Vec<NewAuditEntry> = projects
        .iter()
        .map(|project| {
            account_entry(
                route,
                facts,
                actor,
                project.id,
                now,
                status,
                resource_name.clone(),
            )
            .into_entry()
        })
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    capture::commit_entries(&state.writer, entries).await
}

/// Starts a session for the user: the signed cookie value and the session's CSRF token.
pub async fn start_session(
    state: &web::Data<AppState>,
    user_id: i64,
) -> Result<(String, String), ApiError> {
    let now = state.clock.now_micros();
    let secret_key = state.secret_key.clone();
    with_conn(state, move |conn| {
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
        Ok((cookie, csrf_token))
    })
    .await
}

/// Ends every open session of a user.
pub fn end_all_sessions(conn: &mut DbConnection, user_id: i64, now: i64) -> Result<(), ApiError> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// The session cookie: HTTP-only, same-site strict, `Secure` when the public URL is https.
pub fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::days(SESSION_DAYS))
        .finish()
}

fn removal_cookie() -> Cookie<'static> {
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    removal
}

/// Checks a password someone is choosing for themselves.
pub fn check_new_password(field: &str, text: &str) -> Result<(), ApiError> {
    let chars = text.chars().count();
    if !(password::MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(ApiError::InvalidField {
            param: field.into(),
            detail: format!(
                "a password must have {} to {MAX_PASSWORD_CHARS} characters",
                password::MIN_PASSWORD_CHARS
            ),
        });
    }
    Ok(())
}

/// Verifies a password off the async workers, under the hashing semaphore, holding no
/// connection. Over-long input never matches and is not hashed.
pub async fn verify_password_bounded(
    state: &AppState,
    text: &str,
    hash: &str,
) -> Result<bool, ApiError> {
    if text.chars().count() > MAX_PASSWORD_CHARS {
        return Ok(false);
    }
    let _permit = state
        .password_hashing
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let (text, hash) = (text.to_string(), hash.to_string());
    Ok(web::block(move || password::verify_password(&text, &hash)).await?)
}

/// Hashes a new password off the async workers, under the hashing semaphore.
pub async fn hash_password_bounded(state: &AppState, text: &str) -> Result<String, ApiError> {
    let _permit = state
        .password_hashing
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let text = text.to_string();
    Ok(web::block(move || password::hash_password(&text)).await??)
}

async fn waste_verification_time_bounded(state: &AppState, text: &str) -> Result<(), ApiError> {
    let _permit = state
        .password_hashing
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let text: String = text.chars().take(MAX_PASSWORD_CHARS).collect();
    web::block(move || password::waste_verification_time(&text)).await?;
    Ok(())
}

/// The signed-in dashboard user of a request.
pub async fn session_identity(
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

/// The signed-in dashboard user of a state-changing request, which must carry the CSRF token.
async fn changing_session_identity(
    state: &web::Data<AppState>,
    request: &HttpRequest,
) -> Result<Identity, ApiError> {
    let identity = session_identity(state, request).await?;
    if !auth::csrf_ok(&identity, &Credentials::from_request(request)) {
        return Err(ApiError::Forbidden(
            "missing or wrong X-CSRF-Token header".into(),
        ));
    }
    Ok(identity)
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
        .load::<(i64, String, String, Stored<Role>)>(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, slug, role)| ProjectSummary {
            id,
            name,
            slug,
            role: role.0,
        })
        .collect())
}

pub fn session_info(
    actor: Actor,
    csrf_token: String,
    projects: Vec<ProjectSummary>,
) -> SessionInfo {
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
