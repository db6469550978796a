//! Operator tasks run from the command line: making the first admin and their project.

use auditlog_shared::wire::Role;
use diesel::prelude::*;

use crate::auth::accounts::create_user;
use crate::db::schema::{memberships, project_settings, projects, users};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::validation::valid_name;

/// What `create_admin` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSetup {
    pub user_id: i64,
    pub project_id: i64,
    pub created_user: bool,
}

/// Creates a project and makes the user its admin, creating the account when the email is new.
/// For an existing account the password is left as it is.
pub fn create_admin(
    conn: &mut DbConnection,
    email: &str,
    display_name: &str,
    password: &str,
    project_name: &str,
    now: i64,
) -> Result<AdminSetup, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let email_normalized = email.trim().to_lowercase();
        let existing = users::table
            .filter(users::email.eq(&email_normalized))
            .select(users::id)
            .first::<i64>(conn)
            .optional()?;
        let (user_id, created_user) = match existing {
            Some(id) => (id, false),
            None => (create_user(conn, email, display_name, password, now)?, true),
        };
        let project_id = create_project(conn, project_name, now)?;
        diesel::insert_into(memberships::table)
            .values((
                memberships::project_id.eq(project_id),
                memberships::user_id.eq(user_id),
                memberships::role.eq(Role::Admin.as_str()),
                memberships::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(AdminSetup {
            user_id,
            project_id,
            created_user,
        })
    })
}

/// Creates a project with its settings row; the slug is derived from the name and made unique.
pub fn create_project(conn: &mut DbConnection, name: &str, now: i64) -> Result<i64, ApiError> {
    let name = valid_name("project", name)?;
    let base: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let base = if base.is_empty() {
        "project".to_string()
    } else {
        base
    };
    let mut slug = base.clone();
    let mut suffix = 1;
    while projects::table
        .filter(projects::slug.eq(&slug))
        .count()
        .get_result::<i64>(conn)?
        > 0
    {
        suffix += 1;
        slug = format!("{base}-{suffix}");
    }
    let project_id: i64 = diesel::insert_into(projects::table)
        .values((
            projects::name.eq(&name),
            projects::slug.eq(&slug),
            projects::created_at.eq(now),
        ))
        .returning(projects::id)
        .get_result(conn)?;
    diesel::insert_into(project_settings::table)
        .values((
            project_settings::project_id.eq(project_id),
            project_settings::audit_export_enabled.eq(false),
            project_settings::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(project_id)
}
