//! Stream destinations as stored, what an admin may set on them, and how they look on the wire.
//!
//! Invariants:
//! * A stored filter is the canonical form of a filter the shared parser accepts
//!   ([`AuditQuery::parse_filter`]): no window, no page.
//! * A stored URL passed the server's [`NetworkPolicy`] when it was set; it is checked again at
//!   every delivery (the policy may have been tightened since).
//! * `secret` (a webhook's signing secret, or Splunk's HEC token) and the custom headers' values
//!   never leave the server after creation: the wire type carries header names only.
//! * `cursor_seq` only moves forward, and only by the server holding the lease.

use std::collections::BTreeMap;

use auditlog_shared::wire::{StreamDestination, StreamKind, StreamStatus};
use auditlog_shared::AuditQuery;
use diesel::prelude::*;

use crate::clock::from_micros;
use crate::db::schema::{audit_chain_heads, audit_entries, stream_destinations};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::streaming::network::NetworkPolicy;

/// The most destinations one project may have.
pub const MAX_DESTINATIONS: i64 = 20;
/// The most custom headers of one destination.
pub const MAX_HEADERS: usize = 10;
/// Consecutive failed attempts after which a destination shows as failing.
pub const FAILING_AFTER: i32 = 5;
/// The path of Splunk's event endpoint, added to a collector URL given without a path.
pub const SPLUNK_EVENT_PATH: &str = "/services/collector/event";
/// The path of Datadog's logs intake, added to an intake URL given without a path.
pub const DATADOG_LOGS_PATH: &str = "/api/v2/logs";

/// A stored destination.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = stream_destinations)]
pub struct DestinationRow {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub filter: String,
    pub secret: String,
    pub headers: String,
    pub paused: bool,
    pub cursor_seq: i64,
    pub delivered_entries: i64,
    pub last_delivery_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub consecutive_failures: i32,
    pub next_attempt_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub created_by_name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl DestinationRow {
    /// The stored kind; a value this server does not know is an error, never a default.
    pub fn kind(&self) -> anyhow::Result<StreamKind> {
        StreamKind::parse(&self.kind).ok_or_else(|| {
            anyhow::anyhow!(
                "stream destination {} has an unknown kind `{}`",
                self.id,
                self.kind
            )
        })
    }

    /// The custom headers; stored text that is not a JSON object of strings is an error.
    pub fn headers(&self) -> anyhow::Result<BTreeMap<String, String>> {
        serde_json::from_str(&self.headers).map_err(|error| {
            anyhow::anyhow!(
                "stream destination {} has unreadable headers: {error}",
                self.id
            )
        })
    }

    /// The destination as clients see it, with its lag behind the project's chain head.
    pub fn to_wire(&self, lag: Lag) -> anyhow::Result<StreamDestination> {
        let status = if self.paused {
            StreamStatus::Paused
        } else if self.consecutive_failures >= FAILING_AFTER {
            StreamStatus::Failing
        } else if self.consecutive_failures > 0 {
            StreamStatus::Retrying
        } else {
            StreamStatus::Active
        };
        Ok(StreamDestination {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind()?,
            url: self.url.clone(),
            filter: self.filter.clone(),
            header_names: self.headers()?.into_keys().collect(),
            paused: self.paused,
            status,
            delivered_through_seq: self.cursor_seq,
            lag_entries: lag.entries,
            lag_seconds: lag.seconds,
            delivered_entries: self.delivered_entries,
            last_delivery_at: self.last_delivery_at.map(from_micros),
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at.map(from_micros),
            consecutive_failures: u32::try_from(self.consecutive_failures).unwrap_or(0),
            next_attempt_at: self.next_attempt_at.map(from_micros),
            created_by: self.created_by_name.clone(),
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

/// How far a destination is behind its project's chain head.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Lag {
    /// Entries written after the destination's cursor.
    pub entries: i64,
    /// How long ago the oldest of them was written (0 when there is none).
    pub seconds: f64,
}

/// A project's newest chain position (0 before its first entry).
pub fn head_seq(conn: &mut DbConnection, project_id: i64) -> QueryResult<i64> {
    Ok(audit_chain_heads::table
        .find(project_id)
        .select(audit_chain_heads::chain_seq)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0))
}

/// The lag of a destination whose cursor is `cursor_seq`, at `now_micros`.
pub fn lag(
    conn: &mut DbConnection,
    project_id: i64,
    cursor_seq: i64,
    now_micros: i64,
) -> QueryResult<Lag> {
    let head = head_seq(conn, project_id)?;
    if head <= cursor_seq {
        return Ok(Lag::default());
    }
    let oldest: Option<i64> = audit_entries::table
        .filter(audit_entries::project_id.eq(project_id))
        .filter(audit_entries::chain_seq.gt(cursor_seq))
        .order(audit_entries::chain_seq.asc())
        .select(audit_entries::ts)
        .first(conn)
        .optional()?;
    Ok(Lag {
        entries: head - cursor_seq,
        seconds: oldest.map_or(0.0, |ts| (now_micros - ts).max(0) as f64 / 1_000_000.0),
    })
}

/// One destination of a project.
pub fn load(conn: &mut DbConnection, project_id: i64, id: i64) -> Result<DestinationRow, ApiError> {
    Ok(stream_destinations::table
        .filter(stream_destinations::id.eq(id))
        .filter(stream_destinations::project_id.eq(project_id))
        .select(DestinationRow::as_select())
        .first(conn)?)
}

/// A filter as it is stored: parsed by the shared model (an error names the key), then written
/// canonically.
pub fn canonical_filter(text: &str) -> Result<String, ApiError> {
    let query = AuditQuery::parse_filter(text).map_err(|error| ApiError::InvalidField {
        param: "filter".into(),
        detail: error.to_string(),
    })?;
    Ok(query.to_query_string())
}

/// The URL deliveries go to: checked against the policy; for Splunk, the event endpoint when
/// the collector's base URL was given.
pub fn delivery_url(
    policy: NetworkPolicy,
    kind: StreamKind,
    text: &str,
) -> Result<reqwest::Url, ApiError> {
    let invalid = |detail| ApiError::InvalidField {
        param: "url".into(),
        detail,
    };
    if kind == StreamKind::Syslog {
        return crate::streaming::syslog::check_url(policy, text).map_err(invalid);
    }
    let mut url = policy.check_url(text).map_err(invalid)?;
    if matches!(url.path(), "" | "/") {
        match kind {
            StreamKind::SplunkHec => url.set_path(SPLUNK_EVENT_PATH),
            StreamKind::Datadog => url.set_path(DATADOG_LOGS_PATH),
            _ => {}
        }
    }
    Ok(url)
}

/// Headers the server sets itself, or that would change how a request is read.
const RESERVED_HEADERS: [&str; 12] = [
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "dd-api-key",
    "host",
    "keep-alive",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Checks custom headers: at most [`MAX_HEADERS`], token names (not ones the server sets, nor
/// `Auditlog-…`), visible values of at most 1,000 characters. Names are kept lowercase.
pub fn check_headers(
    headers: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let invalid = |detail: String| ApiError::InvalidField {
        param: "headers".into(),
        detail,
    };
    if headers.len() > MAX_HEADERS {
        return Err(invalid(format!(
            "a destination sends at most {MAX_HEADERS} custom headers"
        )));
    }
    let mut checked = BTreeMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        // `wire::HEADER_NAME_PATTERN`: an HTTP token.
        if reqwest::header::HeaderName::from_bytes(lower.as_bytes()).is_err() || lower.len() > 100 {
            return Err(invalid(format!("`{name}` is not a valid header name")));
        }
        if RESERVED_HEADERS.contains(&lower.as_str())
            || lower.starts_with("auditlog-")
            || lower.starts_with("proxy-")
        {
            return Err(invalid(format!(
                "`{name}` is set by the server and cannot be a custom header"
            )));
        }
        // `wire::HEADER_VALUE_PATTERN`.
        if value.len() > 1_000
            || value.is_empty()
            || !value.bytes().all(|b| (b' '..=b'~').contains(&b))
        {
            return Err(invalid(format!(
                "the value of `{name}` must be 1 to 1,000 printable ASCII characters"
            )));
        }
        if checked.insert(lower, value.clone()).is_some() {
            return Err(invalid(format!("`{name}` is given twice")));
        }
    }
    Ok(checked)
}

/// Checks Splunk's HEC token (a GUID in practice): 1 to 200 visible ASCII characters.
pub fn check_token(token: &str) -> Result<String, ApiError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 200 || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::InvalidField {
            param: "token".into(),
            detail: "a token is 1 to 200 visible ASCII characters".into(),
        });
    }
    Ok(token.to_string())
}

/// A new webhook signing secret: 32 random bytes, hex, after `whsec_`.
pub fn new_signing_secret() -> Result<String, ApiError> {
    let random = crate::auth::tokens::random_hex(32).map_err(ApiError::internal)?;
    Ok(format!("whsec_{random}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_headers_cannot_replace_what_the_server_sets() {
        let headers = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let kept = check_headers(&headers(&[("X-Team", "security")])).unwrap();
        assert_eq!(kept, headers(&[("x-team", "security")]));
        for refused in [
            headers(&[("Authorization", "Bearer x")]),
            headers(&[("Auditlog-Signature", "t=1,v1=00")]),
            headers(&[("Host", "evil.example")]),
            headers(&[("X-Bad Name", "v")]),
            headers(&[("X-Split", "a\r\nInjected: yes")]),
            headers(&[("X-Empty", "")]),
        ] {
            assert!(check_headers(&refused).is_err(), "{refused:?}");
        }
        let too_many: BTreeMap<String, String> = (0..11)
            .map(|i| (format!("x-h{i}"), "v".to_string()))
            .collect();
        assert!(check_headers(&too_many).is_err());
    }

    #[test]
    fn splunk_urls_get_the_event_endpoint_when_given_without_a_path() {
        let policy = NetworkPolicy {
            allow_private: true,
        };
        let url = delivery_url(
            policy,
            StreamKind::SplunkHec,
            "https://splunk.example.com:8088",
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://splunk.example.com:8088/services/collector/event"
        );
        let url = delivery_url(
            policy,
            StreamKind::SplunkHec,
            "https://splunk.example.com/custom",
        )
        .unwrap();
        assert_eq!(url.path(), "/custom");
        let url = delivery_url(policy, StreamKind::Webhook, "https://hooks.example.com").unwrap();
        assert_eq!(url.path(), "/");
    }
}
