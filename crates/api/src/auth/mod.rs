//! Who is calling: browser sessions (cookie), API tokens (bearer), and their project roles.
//!
//! Invariants:
//! * A bearer token wins over a cookie; a request with neither is anonymous.
//! * A value with a bad signature identifies nobody. A value with a good signature whose session
//!   ended or whose token was revoked or expired identifies its actor, but is refused (401); the
//!   capture middleware records such attempts.
//! * Cookie-authenticated writes must echo the session's CSRF token in `X-CSRF-Token`.

pub mod accounts;
pub mod password;
pub mod throttle;
pub mod tokens;

use actix_web::http::header;
use actix_web::HttpRequest;
use auditlog_shared::wire::Role;
use auditlog_shared::Source;
use diesel::prelude::*;

use crate::db::schema::{api_tokens, memberships, projects, sessions, users};
use crate::db::stored::Stored;
use crate::db::DbConnection;
use crate::entry::draft::{ActorKind, DraftActor};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "auditlog_session";
/// The header that carries the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The User-Agent prefix of the project's CLI.
pub const CLI_USER_AGENT_PREFIX: &str = "auditlog-cli/";

/// Who made a request, with the readable names stored in audit entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    User {
        id: i64,
        display_name: String,
        email: String,
    },
    Token {
        id: i64,
        name: String,
        project_id: i64,
        /// The name of the token's project, read with the token (a request to its own project
        /// then needs no second lookup).
        project_name: String,
        role: Role,
        can_ingest: bool,
    },
}

impl Actor {
    /// The actor as an entry records it.
    pub fn draft(&self) -> DraftActor {
        DraftActor {
            kind: match self {
                Actor::User { .. } => ActorKind::User,
                Actor::Token { .. } => ActorKind::Token,
            },
            id: Some(self.id()),
            name: self.name().into(),
            email: self.email().map(str::to_string),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User { .. } => "user",
            Actor::Token { .. } => "token",
        }
    }

    pub fn id(&self) -> i64 {
        match self {
            Actor::User { id, .. } | Actor::Token { id, .. } => *id,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Actor::User { display_name, .. } => display_name,
            Actor::Token { name, .. } => name,
        }
    }

    pub fn email(&self) -> Option<&str> {
        match self {
            Actor::User { email, .. } => Some(email),
            Actor::Token { .. } => None,
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Identity {
    pub actor: Actor,
    pub source: Source,
    /// The CSRF token of a cookie session; `None` for bearer tokens.
    pub csrf_token: Option<String>,
}

/// Why a request is not authenticated.
#[derive(Debug)]
pub enum AuthFailure {
    /// No credentials, or credentials that identify nobody (bad signature, unknown row).
    Anonymous(&'static str),
    /// Authentic credentials that no longer work; the actor is known and the attempt recorded.
    Refused { actor: Actor, reason: &'static str },
}

/// What a request presents to prove who it is, taken out of the request so that it can travel to
/// a blocking database thread.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The `Authorization` header, when present (empty when it is not valid text).
    authorization: Option<String>,
    session_cookie: Option<String>,
    csrf_header: Option<String>,
    pub user_agent: String,
    /// GET, HEAD or OPTIONS: no CSRF check.
    safe_method: bool,
}

impl Credentials {
    pub fn from_request(request: &HttpRequest) -> Credentials {
        let text = |name| {
            request
                .headers()
                .get(name)
                .map(|v: &header::HeaderValue| v.to_str().unwrap_or_default().to_string())
        };
        Credentials {
            authorization: text(header::AUTHORIZATION),
            session_cookie: request
                .cookie(SESSION_COOKIE)
                .map(|c| c.value().to_string()),
            csrf_header: text(header::HeaderName::from_static(CSRF_HEADER)),
            user_agent: text(header::USER_AGENT).unwrap_or_default(),
            safe_method: matches!(
                *request.method(),
                actix_web::http::Method::GET
                    | actix_web::http::Method::HEAD
                    | actix_web::http::Method::OPTIONS
            ),
        }
    }

    /// The source a token request comes from: the CLI by its User-Agent, else the API.
    pub fn token_source(&self) -> Source {
        if self.user_agent.starts_with(CLI_USER_AGENT_PREFIX) {
            Source::Cli
        } else {
            Source::Api
        }
    }
}

/// Checks the caller's credentials against the database at `now_micros`.
pub fn authenticate(
    conn: &mut DbConnection,
    credentials: &Credentials,
    secret_key: &str,
    now_micros: i64,
) -> Result<Result<Identity, AuthFailure>, diesel::result::Error> {
    if let Some(authorization) = &credentials.authorization {
        let bearer = authorization.strip_prefix("Bearer ").map(str::trim);
        let Some(claims) = bearer.and_then(|value| tokens::read_api_token(secret_key, value))
        else {
            return Ok(Err(AuthFailure::Anonymous("the bearer token is not valid")));
        };
        let row = api_tokens::table
            .inner_join(projects::table.on(projects::id.eq(api_tokens::project_id)))
            .filter(api_tokens::id.eq(claims.tid))
            .filter(api_tokens::project_id.eq(claims.pid))
            .select((
                projects::name,
                api_tokens::name,
                api_tokens::role,
                api_tokens::can_ingest,
                api_tokens::expires_at,
                api_tokens::revoked_at,
                api_tokens::last_used_at,
            ))
            .first::<(
                String,
                String,
                Stored<Role>,
                bool,
                Option<i64>,
                Option<i64>,
                Option<i64>,
            )>(conn)
            .optional()?;
        let Some((project_name, name, role, can_ingest, expires_at, revoked_at, last_used_at)) =
            row
        else {
            return Ok(Err(AuthFailure::Anonymous("the bearer token is not valid")));
        };
        let actor = Actor::Token {
            id: claims.tid,
            name,
            project_id: claims.pid,
            project_name,
            role: role.0,
            can_ingest,
        };
        if revoked_at.is_some() {
            return Ok(Err(AuthFailure::Refused {
                actor,
                reason: "the API token was revoked",
            }));
        }
        if expires_at.is_some_and(|at| at <= now_micros) {
            return Ok(Err(AuthFailure::Refused {
                actor,
                reason: "the API token has expired",
            }));
        }
        // "Last used" is kept to the minute: one write per token a minute, not one per request.
        if last_used_at.is_none_or(|at| at < now_micros - 60_000_000) {
            diesel::update(api_tokens::table.find(claims.tid))
                .set(api_tokens::last_used_at.eq(now_micros))
                .execute(conn)?;
        }
        return Ok(Ok(Identity {
            actor,
            source: credentials.token_source(),
            csrf_token: None,
        }));
    }

    let Some(cookie) = &credentials.session_cookie else {
        return Ok(Err(AuthFailure::Anonymous("sign in, or send an API token")));
    };
    let Some(claims) = tokens::read_session(secret_key, cookie) else {
        return Ok(Err(AuthFailure::Anonymous(
            "the session cookie is not valid",
        )));
    };
    let row = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(&claims.sid))
        .filter(users::id.eq(claims.sub))
        .select((
            sessions::csrf_token,
            sessions::expires_at,
            sessions::revoked_at,
            users::display_name,
            users::email,
        ))
        .first::<(String, i64, Option<i64>, String, String)>(conn)
        .optional()?;
    let Some((csrf_token, expires_at, revoked_at, display_name, email)) = row else {
        return Ok(Err(AuthFailure::Anonymous(
            "the session has ended; sign in again",
        )));
    };
    let actor = Actor::User {
        id: claims.sub,
        display_name,
        email,
    };
    if revoked_at.is_some() || expires_at <= now_micros {
        return Ok(Err(AuthFailure::Refused {
            actor,
            reason: "the session has ended; sign in again",
        }));
    }
    Ok(Ok(Identity {
        actor,
        source: Source::Dashboard,
        csrf_token: Some(csrf_token),
    }))
}

/// Whether a cookie-authenticated request passes the CSRF check (reads always do).
pub fn csrf_ok(identity: &Identity, credentials: &Credentials) -> bool {
    let Some(expected) = &identity.csrf_token else {
        return true;
    };
    credentials.safe_method
        || credentials
            .csrf_header
            .as_deref()
            .is_some_and(|sent| constant_time_eq(sent.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The project's name and the caller's role in it; `None` when the project does not exist or the
/// caller is not a member of it.
pub fn project_role(
    conn: &mut DbConnection,
    project_id: i64,
    actor: &Actor,
) -> QueryResult<Option<(String, Option<Role>)>> {
    match actor {
        // A token's own project was read with the token; any other is not its project.
        Actor::Token {
            project_id: token_project,
            project_name,
            role,
            ..
        } if *token_project == project_id => Ok(Some((project_name.clone(), Some(*role)))),
        Actor::Token { .. } => Ok(projects::table
            .find(project_id)
            .select(projects::name)
            .first::<String>(conn)
            .optional()?
            .map(|name| (name, None))),
        // The project and the membership in one round trip.
        Actor::User { id, .. } => Ok(projects::table
            .left_join(
                memberships::table.on(memberships::project_id
                    .eq(projects::id)
                    .and(memberships::user_id.eq(*id))),
            )
            .filter(projects::id.eq(project_id))
            .select((projects::name, memberships::role.nullable()))
            .first::<(String, Option<Stored<Role>>)>(conn)
            .optional()?
            .map(|(name, role)| (name, role.map(|role| role.0)))),
    }
}
