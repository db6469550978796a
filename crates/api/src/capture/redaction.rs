//! What of a request's path and query string is stored in the audit log. Stored paths are kept
//! for as long as the entry and are covered by the hash chain, so nothing secret may reach them.
//!
//! Invariants:
//! - Query values are kept only for documented keys: the audit query language's keys, and only
//!   on audit-log routes. Every other value is stored as `[REDACTED]` (the key stays, so an
//!   investigator sees that something was passed).
//! - JWT-shaped values and long high-entropy values (three kinds of characters, or long hex) are
//!   redacted anywhere in the path or query, documented key or not, except a cursor the server
//!   issued.
//! - The stored path is at most [`MAX_STORED_PATH_BYTES`], cut at a character boundary and marked.

use auditlog_shared::{decode_query_component, is_query_key, Cursor};

/// The longest stored path, query string included.
pub const MAX_STORED_PATH_BYTES: usize = 2048;
/// What a removed value is stored as.
pub const REDACTED: &str = "[REDACTED]";
/// What ends a path cut at [`MAX_STORED_PATH_BYTES`].
pub const TRUNCATED: &str = "…[truncated]";

/// The path and query string as stored. `documents_audit_query` says whether the route takes
/// the audit query language (list, histogram, facets, verify, export).
pub fn stored_path(path: &str, query: &str, documents_audit_query: bool) -> String {
    let mut stored = redact_secret_looking_parts(path);
    if !query.is_empty() {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| stored_pair(pair, documents_audit_query))
            .collect();
        stored.push('?');
        stored.push_str(&pairs.join("&"));
    }
    truncate(stored)
}

fn stored_pair(pair: &str, documents_audit_query: bool) -> String {
    let Some((raw_key, raw_value)) = pair.split_once('=') else {
        return redact_secret_looking_parts(pair);
    };
    let key = decode_query_component(raw_key).unwrap_or_default();
    let shown_key = redact_secret_looking_parts(raw_key);
    if !(documents_audit_query && is_query_key(&key)) {
        return format!("{shown_key}={REDACTED}");
    }
    let issued_cursor = key == "cursor"
        && decode_query_component(raw_value)
            .and_then(|value| Cursor::decode(&value))
            .is_some();
    if issued_cursor {
        format!("{shown_key}={raw_value}")
    } else {
        format!("{shown_key}={}", redact_secret_looking_parts(raw_value))
    }
}

/// Replaces every JWT-shaped or high-entropy run of token characters with [`REDACTED`].
fn redact_secret_looking_parts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if looks_secret(run) {
            out.push_str(REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '%') {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A JWT (`eyJ…` with two dots), or at least 24 characters mixing lower case, upper case and
/// digits, or at least 32 hexadecimal digits. Words, dates, ids and UUIDs do not qualify.
fn looks_secret(run: &str) -> bool {
    if run.starts_with("eyJ") && run.matches('.').count() >= 2 {
        return true;
    }
    if run.len() >= 32 && run.bytes().all(|b| b.is_ascii_hexdigit()) {
        return true;
    }
    let has = |test: fn(&u8) -> bool| run.as_bytes().iter().any(test);
    run.len() >= 24
        && has(u8::is_ascii_lowercase)
        && has(u8::is_ascii_uppercase)
        && has(u8::is_ascii_digit)
}

fn truncate(mut stored: String) -> String {
    if stored.len() <= MAX_STORED_PATH_BYTES {
        return stored;
    }
    let mut cut = MAX_STORED_PATH_BYTES - TRUNCATED.len();
    while !stored.is_char_boundary(cut) {
        cut -= 1;
    }
    stored.truncate(cut);
    stored.push_str(TRUNCATED);
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dGhpc2lzYXNpZ25hdHVyZQ";

    #[test]
    fn only_documented_keys_keep_their_values_on_audit_log_routes() {
        assert_eq!(
            stored_path(
                "/a",
                "range=7d&method.not=GET&pwd=hunter2&api_token=abc",
                true
            ),
            "/a?range=7d&method.not=GET&pwd=[REDACTED]&api_token=[REDACTED]"
        );
        // Elsewhere no key is documented: every value goes.
        assert_eq!(
            stored_path("/apps", "range=7d&name=web", false),
            "/apps?range=[REDACTED]&name=[REDACTED]"
        );
        // A percent-encoded key is read as the server reads it.
        assert_eq!(stored_path("/a", "%71=web", true), "/a?%71=web");
        assert_eq!(stored_path("/a", "", true), "/a");
    }

    #[test]
    fn secret_looking_values_are_redacted_anywhere() {
        assert_eq!(
            stored_path("/a", &format!("q={JWT}&next=/x?token={JWT}"), true),
            "/a?q=[REDACTED]&next=[REDACTED]"
        );
        assert_eq!(
            stored_path(&format!("/api/v1/reset/{JWT}"), "", false),
            "/api/v1/reset/[REDACTED]"
        );
        let hex = "a1".repeat(32);
        assert_eq!(
            stored_path(&format!("/api/v1/x/{hex}"), "", false),
            "/api/v1/x/[REDACTED]"
        );
        assert_eq!(
            stored_path("/a", "q=Abcdefghijklmnop1234567890", true),
            "/a?q=[REDACTED]"
        );
        // Words, dates, ids and UUIDs stay.
        let kept = "q=environment-group-2024-production&from=2026-11-27T09:30:00Z";
        assert_eq!(stored_path("/a", kept, true), format!("/a?{kept}"));
        let uuid = "/api/v1/x/0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(stored_path(uuid, "", false), uuid);
    }

    #[test]
    fn long_paths_are_cut_and_marked() {
        let long = format!("/a/{}", "é".repeat(3000));
        let stored = stored_path(&long, "", false);
        assert!(stored.len() <= MAX_STORED_PATH_BYTES);
        assert!(stored.ends_with(TRUNCATED));
    }
}
