//! Creating accounts.

use diesel::prelude::*;

use crate::auth::password;
use crate::db::schema::users;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::validation::{valid_email, valid_name};

/// Creates an account (email, display name, password): the operator's bootstrap
/// (`create-admin`) and the demo's. People joining through the API choose their own password
/// when they accept an invitation.
pub fn create_user(
    conn: &mut DbConnection,
    email: &str,
    display_name: &str,
    password_text: &str,
    now: i64,
) -> Result<i64, ApiError> {
    let email = valid_email(email)?;
    let display_name = valid_name("display_name", display_name)?;
    if password_text.chars().count() < password::MIN_PASSWORD_CHARS {
        return Err(ApiError::BadRequest {
            detail: format!(
                "`password` must have at least {} characters",
                password::MIN_PASSWORD_CHARS
            ),
        });
    }
    let hash = password::hash_password(password_text)?;
    Ok(diesel::insert_into(users::table)
        .values((
            users::email.eq(&email),
            users::display_name.eq(&display_name),
            users::password_hash.eq(&hash),
            users::created_at.eq(now),
        ))
        .returning(users::id)
        .get_result(conn)?)
}
