//! What of a request's path and query string is stored in the audit log. Stored paths are kept
//! for as long as the entry and are covered by the hash chain, so nothing secret may reach them.
//!
//! Invariants:
//! - Query values are kept only for documented keys: the audit query language's keys, and only
//!   on audit-log routes. Every other value is stored as `[REDACTED]` (the key stays, so an
//!   investigator sees that something was passed).
//! - A query part without `=` is a value without a documented key: redacted (unless it is a bare
//!   documented key on an audit-log route).
//! - JWT-shaped values and long high-entropy values (three kinds of characters, long hex, or
//!   many distinct characters) are redacted anywhere in the path or query, documented key or
//!   not, except a cursor the server issued — whether written plainly or percent-encoded.
//! - Percent-encoded unreserved characters (letters, digits, `-._~`) are stored decoded, as the
//!   router reads them: `/applications/%31` is stored as `/applications/1`, so a search for the
//!   path finds it.
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
    let mut stored = redact_secret_looking_parts(&decode_unreserved(path));
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
        let bare_documented_key = documents_audit_query
            && decode_query_component(pair).is_some_and(|key| is_query_key(&key));
        return if bare_documented_key || pair.is_empty() {
            pair.to_string()
        } else {
            REDACTED.to_string()
        };
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
    looks_secret_as_written(run)
        || (run.contains('%')
            && percent_decode(run).is_some_and(|decoded| {
                decoded
                    .split(|c: char| !(c.is_ascii_alphanumeric() || "-_.~+".contains(c)))
                    .any(looks_secret_as_written)
            }))
}

fn looks_secret_as_written(run: &str) -> bool {
    if run.starts_with("eyJ") && run.matches('.').count() >= 2 {
        return true;
    }
    if run.len() >= 24 && run.bytes().all(|b| b.is_ascii_hexdigit()) {
        return true;
    }
    let has = |test: fn(&u8) -> bool| run.as_bytes().iter().any(test);
    if run.len() >= 24
        && has(u8::is_ascii_lowercase)
        && has(u8::is_ascii_uppercase)
        && has(u8::is_ascii_digit)
    {
        return true;
    }
    // Many distinct characters, digits among letters: generated, not written (API keys such as
    // `ghp_…` or `sk-live-…`). Words joined by hyphens repeat their letters and stay.
    let distinct = run
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .collect::<std::collections::BTreeSet<u8>>()
        .len();
    run.len() >= 24 && has(u8::is_ascii_digit) && has(u8::is_ascii_alphabetic) && distinct >= 20
}

/// Percent-decodes text; `None` when an escape is broken or the bytes are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Decodes percent-encoded unreserved characters (`%61` to `a`, `%31` to `1`), leaving every
/// other escape as it is.
fn decode_unreserved(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(byte) = path
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .filter(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b))
            {
                out.push(char::from(byte));
                i += 3;
                continue;
            }
        }
        let c = path[i..].chars().next().expect("inside the string");
        out.push(c);
        i += c.len_utf8();
    }
    out
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
    fn disguised_secrets_are_redacted_too() {
        // A bare value, or one whose `=` is percent-encoded.
        assert_eq!(
            stored_path("/apps", "hunter2-password", false),
            "/apps?[REDACTED]"
        );
        assert_eq!(
            stored_path("/apps", "pw%3Dhunter2", false),
            "/apps?[REDACTED]"
        );
        assert_eq!(stored_path("/a", "range=7d&q", true), "/a?range=7d&q");
        // Percent-encoded tokens, and generated keys of two kinds of characters.
        let encoded: String = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        assert_eq!(
            stored_path(&format!("/x/{encoded}"), &format!("q={encoded}"), true),
            "/x/[REDACTED]?q=[REDACTED]"
        );
        for key in [
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "sk-live-4f9a8b7c6d5e3f2a1b0c9d8e",
            "0123456789abcdef01234567890abc",
        ] {
            assert_eq!(
                stored_path(&format!("/x/{key}"), "", false),
                "/x/[REDACTED]",
                "{key}"
            );
        }
    }

    #[test]
    fn encoded_unreserved_characters_are_stored_as_the_router_reads_them() {
        assert_eq!(
            stored_path("/api/v1/projects/%31/applications/%31", "", false),
            "/api/v1/projects/1/applications/1"
        );
        assert_eq!(stored_path("/a%2Fb/%7e", "", false), "/a%2Fb/~");
    }

    #[test]
    fn long_paths_are_cut_and_marked() {
        let long = format!("/a/{}", "é".repeat(3000));
        let stored = stored_path(&long, "", false);
        assert!(stored.len() <= MAX_STORED_PATH_BYTES);
        assert!(stored.ends_with(TRUNCATED));
    }
}
