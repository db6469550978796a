//! Invitations: how anyone joins a project. An admin invites an email with a role and gets a
//! single-use link (shown once); the invitee opens it and joins — with a new account whose
//! password they choose, or with the account they already have, proving it with its password.
//!
//! Invariants:
//! * Nobody sets another person's password, and inviting an existing account reveals nothing
//!   about it (not even its display name) to the inviter.
//! * Only the SHA-256 of an invitation's secret is stored: reading the database does not give
//!   anyone a way in.
//! * An invitation is used at most once: accepting claims it with a conditional update, in the
//!   same transaction that adds the membership and appends the audit entry of the acceptance.
//! * Secrets never reach the audit log: the stored path of an acceptance is its template.

use actix_web::{web, HttpRequest, HttpResponse};
use auditlog_shared::wire::{
    AcceptInvitation, AddMember, CreatedInvitation, Invitation, InvitationDetails, Role,
};
use diesel::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::auth::{tokens, Actor};
use crate::capture::access::{PathId, ProjectAccess};
use crate::capture::describe_resource;
use crate::capture::transaction::RequestTransaction;
use crate::catalog;
use crate::clock::from_micros;
use crate::db::schema::{invitations, memberships, projects, users};
use crate::db::stored::Stored;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::routes::session::{self, RequestFacts};
use crate::routes::{with_conn, with_project_conn, ProjectRoutes};
use crate::state::AppState;
use crate::validation::valid_email;
use crate::validation::valid_name;

/// How long an invitation can be accepted.
pub const INVITATION_DAYS: i64 = 7;

pub fn configure(routes: &mut ProjectRoutes) {
    use auditlog_shared::wire::{AddMember, CreatedInvitation, Invitation};

    routes
        .add("user.add", create)
        .takes::<AddMember>()
        .answers::<CreatedInvitation>()
        .add("user.invitation.list", list)
        .answers::<Vec<Invitation>>()
        .add("user.invitation.revoke", revoke);
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = invitations)]
struct InvitationRow {
    id: i64,
    project_id: i64,
    email: String,
    role: Stored<Role>,
    invited_by_name: String,
    created_at: i64,
    expires_at: i64,
    accepted_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<InvitationRow> for Invitation {
    fn from(row: InvitationRow) -> Invitation {
        Invitation {
            id: row.id,
            email: row.email,
            role: row.role.0,
            invited_by: row.invited_by_name,
            created_at: from_micros(row.created_at),
            expires_at: from_micros(row.expires_at),
        }
    }
}

impl InvitationRow {
    /// Why the invitation can no longer be accepted, if it cannot.
    fn ended(&self, now: i64) -> Option<&'static str> {
        if self.accepted_at.is_some() {
            Some("this invitation has already been used")
        } else if self.revoked_at.is_some() {
            Some("this invitation was revoked; ask the project's admin for a new one")
        } else if self.expires_at <= now {
            Some("this invitation has expired; ask the project's admin for a new one")
        } else {
            None
        }
    }
}

/// The stored form of a secret.
fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether a path segment can be an invitation secret (64 lowercase hex digits), checked before
/// anything is looked up.
fn plausible_secret(secret: &str) -> bool {
    secret.len() == 64
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `POST …/members`: invites an email to the project with a role.
async fn create(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    body: crate::routes::JsonObject<AddMember>,
) -> Result<HttpResponse, ApiError> {
    let AddMember { email, role } = body.into_inner();
    let email = valid_email(&email)?;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let inviter_name = match &access.identity.actor {
        Actor::User { display_name, .. } => display_name.clone(),
        Actor::Token { name, .. } => format!("API token {name}"),
    };
    let actor = access.identity.actor.clone();
    let secret = tokens::random_hex(32)?;
    let hash = secret_hash(&secret);
    let row = with_project_conn(&state, &access, move |conn| {
        // The member answerable for the invitation: removing or demoting them revokes it.
        let inviter_id = super::tokens::responsible_member(conn, &actor)?;
        let already_member = memberships::table
            .inner_join(users::table)
            .filter(memberships::project_id.eq(project_id))
            .filter(users::email.eq(&email))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if already_member {
            return Err(ApiError::Conflict(
                "this email already belongs to a member of the project".into(),
            ));
        }
        // A new invitation replaces any pending one for the same email.
        diesel::update(
            invitations::table
                .filter(invitations::project_id.eq(project_id))
                .filter(invitations::email.eq(&email))
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null()),
        )
        .set(invitations::revoked_at.eq(now))
        .execute(conn)?;
        let id: i64 = diesel::insert_into(invitations::table)
            .values((
                invitations::project_id.eq(project_id),
                invitations::email.eq(&email),
                invitations::role.eq(role.as_str()),
                invitations::secret_hash.eq(&hash),
                invitations::invited_by_user_id.eq(inviter_id),
                invitations::invited_by_name.eq(&inviter_name),
                invitations::created_at.eq(now),
                invitations::expires_at.eq(now + INVITATION_DAYS * 86_400_000_000),
            ))
            .returning(invitations::id)
            .get_result(conn)?;
        load(conn, project_id, id)
    })
    .await?;
    describe_resource(&request, Some(row.id), row.email.clone());
    let accept_url = format!(
        "{}/invitations/{secret}",
        state.public_url.as_deref().unwrap_or("")
    );
    Ok(HttpResponse::Created().json(CreatedInvitation {
        invitation: row.into(),
        secret,
        accept_url,
    }))
}

fn load(conn: &mut DbConnection, project_id: i64, id: i64) -> Result<InvitationRow, ApiError> {
    Ok(invitations::table
        .filter(invitations::id.eq(id))
        .filter(invitations::project_id.eq(project_id))
        .select(InvitationRow::as_select())
        .first(conn)?)
}

/// `GET …/invitations`: the project's pending invitations, newest first.
async fn list(state: web::Data<AppState>, access: ProjectAccess) -> Result<HttpResponse, ApiError> {
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let rows = with_project_conn(&state, &access, move |conn| {
        Ok(invitations::table
            .filter(invitations::project_id.eq(project_id))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(now))
            .order((invitations::created_at.desc(), invitations::id.desc()))
            .select(InvitationRow::as_select())
            .load(conn)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(Invitation::from).collect::<Vec<_>>()))
}

/// `DELETE …/invitations/{id}`: the link stops working at once; revoking twice changes nothing.
async fn revoke(
    state: web::Data<AppState>,
    access: ProjectAccess,
    request: HttpRequest,
    path_id: PathId,
) -> Result<HttpResponse, ApiError> {
    let PathId(id) = path_id;
    let (project_id, now) = (access.project_id, state.clock.now_micros());
    let email = with_project_conn(&state, &access, move |conn| {
        let row = load(conn, project_id, id)?;
        if row.accepted_at.is_some() {
            return Err(ApiError::Conflict(
                "this invitation was already accepted; remove the member instead".into(),
            ));
        }
        if row.revoked_at.is_none() {
            diesel::update(invitations::table.find(id))
                .set(invitations::revoked_at.eq(now))
                .execute(conn)?;
        }
        Ok(row.email)
    })
    .await?;
    describe_resource(&request, Some(id), email);
    Ok(HttpResponse::NoContent().finish())
}

/// Finds the invitation of a secret that can still be accepted.
fn open_invitation(
    conn: &mut DbConnection,
    secret: &str,
    now: i64,
) -> Result<(InvitationRow, String), ApiError> {
    if !plausible_secret(secret) {
        return Err(ApiError::NotFound);
    }
    let (row, project_name) = invitations::table
        .inner_join(projects::table)
        .filter(invitations::secret_hash.eq(secret_hash(secret)))
        .select((InvitationRow::as_select(), projects::name))
        .first::<(InvitationRow, String)>(conn)?;
    if let Some(reason) = row.ended(now) {
        return Err(ApiError::Gone(reason.into()));
    }
    Ok((row, project_name))
}

/// `GET /api/v1/invitations/{secret}`: what the link invites to. Only the secret's holder sees
/// it.
pub async fn details(
    state: web::Data<AppState>,
    secret: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let secret = secret.into_inner();
    let now = state.clock.now_micros();
    let details = with_conn(&state, move |conn| {
        let (row, project_name) = open_invitation(conn, &secret, now)?;
        let account_exists = users::table
            .filter(users::email.eq(&row.email))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        Ok(InvitationDetails {
            project_name,
            email: row.email,
            role: row.role.0,
            invited_by: row.invited_by_name,
            expires_at: from_micros(row.expires_at),
            account_exists,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(details))
}

/// `POST /api/v1/invitations/{secret}/accept`: joins the project and signs in.
pub async fn accept(
    state: web::Data<AppState>,
    request: HttpRequest,
    secret: web::Path<String>,
    body: crate::routes::JsonObject<AcceptInvitation>,
) -> Result<HttpResponse, ApiError> {
    let secret = secret.into_inner();
    let AcceptInvitation {
        password,
        display_name,
    } = body.into_inner();
    let now = state.clock.now_micros();
    let mut facts = RequestFacts::of(&request, &state);
    facts.path = catalog::INVITATION_ACCEPTED.template.to_string();
    let facts_for_sign_in = facts.clone();

    let lookup_secret = secret.clone();
    let (invitation, account) = with_conn(&state, move |conn| {
        let (row, _) = open_invitation(conn, &lookup_secret, now)?;
        let account = users::table
            .filter(users::email.eq(&row.email))
            .select((users::id, users::display_name, users::password_hash))
            .first::<(i64, String, String)>(conn)
            .optional()?;
        let account = match account {
            Some((id, name, hash)) => {
                let projects = session::member_projects(conn, id)?;
                Some((id, name, hash, projects))
            }
            None => None,
        };
        Ok((row, account))
    })
    .await?;

    // Who joins: the existing account, proven by its password, or a new one.
    let mut signed_in_elsewhere = None;
    let joining = match account {
        Some((user_id, name, hash, projects)) => {
            if let Err(throttled) = state
                .sign_in_throttle
                .check(&invitation.email, facts.ip, now)
            {
                return Err(ApiError::TooManyRequests {
                    detail: format!(
                        "too many wrong passwords; try again in {} seconds",
                        throttled.retry_after_secs
                    ),
                    retry_after_secs: throttled.retry_after_secs,
                });
            }
            let existing = Actor::User {
                id: user_id,
                display_name: name.clone(),
                email: invitation.email.clone(),
            };
            if !session::verify_password_bounded(&state, &password, &hash).await? {
                // A wrong password here is a failed sign-in of the account, recorded where its
                // owner looks: in the projects it belongs to.
                let failures =
                    state
                        .sign_in_throttle
                        .record_failure(&invitation.email, facts.ip, now);
                session::record_sign_in_failure(&state, &facts, &existing, &projects, failures)
                    .await?;
                return Err(ApiError::InvalidField {
                    param: "password".into(),
                    detail: "an account with this email exists; enter its password".into(),
                });
            }
            signed_in_elsewhere = Some((existing, projects));
            Joining::Existing { user_id, name }
        }
        None => {
            let Some(name) = display_name else {
                return Err(ApiError::InvalidField {
                    param: "display_name".into(),
                    detail: "a new account needs a display name".into(),
                });
            };
            let name = valid_name("display_name", &name)?;
            session::check_new_password("password", &password)?;
            let hash = session::hash_password_bounded(&state, &password).await?;
            Joining::New { name, hash }
        }
    };

    let accepted_email = invitation.email.clone();
    let reservation = state
        .writer
        .reserve(crate::capture::transaction::WRITE_PATIENCE)
        .await
        .ok_or(ApiError::Overloaded)?;
    let transaction = RequestTransaction::new(&state.writer, &reservation);
    let invitation_project = invitation.project_id;
    let (user_id, actor) = transaction
        .run(move |conn| {
            let (user_id, name) = match joining {
                Joining::Existing { user_id, name } => (user_id, name),
                Joining::New { name, hash } => {
                    let id = diesel::insert_into(users::table)
                        .values((
                            users::email.eq(&invitation.email),
                            users::display_name.eq(&name),
                            users::password_hash.eq(&hash),
                            users::created_at.eq(now),
                        ))
                        .returning(users::id)
                        .get_result::<i64>(conn)
                        .map_err(|error| match ApiError::from(error) {
                            ApiError::Conflict(_) => ApiError::Conflict(
                                "an account with this email was just created; open the link again"
                                    .into(),
                            ),
                            other => other,
                        })?;
                    (id, name)
                }
            };
            let claimed = diesel::update(
                invitations::table
                    .filter(invitations::id.eq(invitation.id))
                    .filter(invitations::accepted_at.is_null())
                    .filter(invitations::revoked_at.is_null())
                    .filter(invitations::expires_at.gt(now)),
            )
            .set((
                invitations::accepted_at.eq(now),
                invitations::accepted_by_user_id.eq(user_id),
            ))
            .execute(conn)?;
            if claimed != 1 {
                return Err(ApiError::Gone(
                    "this invitation has already been used".into(),
                ));
            }
            diesel::insert_into(memberships::table)
                .values((
                    memberships::project_id.eq(invitation.project_id),
                    memberships::user_id.eq(user_id),
                    memberships::role.eq(invitation.role.0.as_str()),
                    memberships::created_at.eq(now),
                ))
                .execute(conn)
                .map_err(|error| match ApiError::from(error) {
                    ApiError::Conflict(_) => {
                        ApiError::Conflict("you are already a member of this project".into())
                    }
                    other => other,
                })?;
            let actor = Actor::User {
                id: user_id,
                display_name: name,
                email: invitation.email.clone(),
            };
            Ok((user_id, actor))
        })
        .await?;
    let entry = session::account_entry(
        &catalog::INVITATION_ACCEPTED,
        &facts,
        &actor,
        invitation_project,
        now,
        200,
        actor.name().to_string(),
    )
    .into_entry();
    transaction
        .finish(vec![entry], reservation)
        .await
        .map_err(ApiError::NotCarriedOut)?;

    // Joining with an existing account's password signs that account in: its other projects
    // record the sign-in like any other.
    if let Some((existing, projects)) = signed_in_elsewhere {
        state.sign_in_throttle.record_success(&accepted_email);
        session::record_account_event(
            &state,
            &catalog::SIGNED_IN,
            &facts_for_sign_in,
            &existing,
            &projects,
            200,
            existing.name().to_string(),
        )
        .await?;
    }
    let (cookie, csrf_token) = session::start_session(&state, user_id).await?;
    let projects = with_conn(&state, move |conn| session::member_projects(conn, user_id)).await?;
    Ok(HttpResponse::Ok()
        .cookie(session::session_cookie(&state, cookie))
        .json(session::session_info(actor, csrf_token, projects)))
}

enum Joining {
    Existing { user_id: i64, name: String },
    New { name: String, hash: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_secrets_of_the_right_length_are_looked_up() {
        assert!(plausible_secret(&"a1".repeat(32)));
        assert!(!plausible_secret(&"A1".repeat(32)));
        assert!(!plausible_secret(&"a1".repeat(31)));
        assert!(!plausible_secret("../../etc/passwd"));
        assert_ne!(secret_hash("x"), "x");
    }
}
