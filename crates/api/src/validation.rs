//! The rules of human-given text the server stores: names and email addresses. Every handler,
//! the operator's bootstrap and ingestion check text through these.

use crate::error::ApiError;

/// Checks a human-given name: at most 100 characters as sent (the limit the API document
/// states), something besides whitespace, no control or invisible characters; stored trimmed.
pub fn valid_name(field: &str, value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || value.chars().count() > 100 || trimmed.chars().any(hides_text) {
        return Err(ApiError::BadRequest {
            detail: format!(
                "`{field}` must be 1 to 100 characters without control or invisible characters"
            ),
        });
    }
    Ok(trimmed.to_string())
}

/// [`valid_name`] for a field a change may leave out (`None` keeps what is stored).
pub fn valid_optional_name(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    value.map(|value| valid_name(field, value)).transpose()
}

/// Control characters, and the invisible formatting ones that make a name look like another
/// (zero-width spaces and joiners, bidirectional overrides and isolates, the byte order mark,
/// the soft hyphen).
pub fn hides_text(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}')
}

/// Checks and normalizes (trims, lowercases) an email address: `wire::EMAIL_PATTERN`, at most
/// 254 characters as sent.
pub fn valid_email(email: &str) -> Result<String, ApiError> {
    let plausible = email.chars().count() <= 254;
    let email = email.trim().to_lowercase();
    let plausible = plausible
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plausible {
        return Err(ApiError::BadRequest {
            detail: "`email` must be an email address".into(),
        });
    }
    Ok(email)
}
