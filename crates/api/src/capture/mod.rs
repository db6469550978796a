//! Capture: what handlers and the gate use to turn a request into its audit entry — the names
//! of what a request touched, what it changed, the client's address and agent, the resource
//! names as they are now — and the writer that stores entries ([`writer`]) with the transaction a
//! state-changing request shares with its entry ([`transaction`]). The middleware that runs every
//! project request through this is `crate::gate`.

pub mod access;
pub mod redaction;
pub mod transaction;
pub mod writer;

use actix_web::http::header;
use actix_web::{HttpMessage as _, HttpRequest};
use auditlog_shared::wire::FieldChange;
use auditlog_shared::ResourceType;
use diesel::prelude::*;

use crate::capture::writer::AuditWriter;
use crate::db::schema;
use crate::db::DbConnection;
use crate::entry::NewAuditEntry;
use crate::error::ApiError;

/// What a handler says about the resource it touched, for the audit entry.
#[derive(Clone, Debug)]
pub struct AuditedResource {
    pub id: Option<i64>,
    pub name: String,
}

/// Entries a handler adds to its request's own (the events an ingest request carries): stored
/// with the request's entry, just before it in the chain, if the request succeeds, and never
/// otherwise.
#[derive(Clone, Debug)]
pub(crate) struct CarriedEntries(pub(crate) Vec<NewAuditEntry>);

/// Adds entries to be stored with the request's own entry (see [`CarriedEntries`]).
pub fn carry_entries(request: &HttpRequest, entries: Vec<NewAuditEntry>) {
    request.extensions_mut().insert(CarriedEntries(entries));
}

/// What a state-changing request changed, for its entry (see [`describe_changes`]).
#[derive(Clone, Debug)]
pub(crate) struct EntryChanges(pub(crate) Vec<FieldChange>);

/// The longest value a change records, in characters; longer ones are cut with "…".
const MAX_CHANGE_VALUE_CHARS: usize = 200;

/// Records what a request changed: each of `fields` whose value in the resource's API form
/// differs between `before` and `after`. Fields whose name says they hold a secret (secrets,
/// passwords, tokens' hashes) are never recorded, whatever a caller passes; the API forms carry
/// none anyway. Stored with the entry, and covered by its hash, only if the request succeeds.
pub fn describe_changes(
    request: &HttpRequest,
    before: &impl serde::Serialize,
    after: &impl serde::Serialize,
    fields: &[&str],
) {
    let (Ok(before), Ok(after)) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return;
    };
    let shown = |value: Option<&serde_json::Value>| -> Option<String> {
        let text = match value? {
            serde_json::Value::Null => return None,
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        Some(if text.chars().count() > MAX_CHANGE_VALUE_CHARS {
            text.chars()
                .take(MAX_CHANGE_VALUE_CHARS)
                .chain(['…'])
                .collect()
        } else {
            text
        })
    };
    let changes: Vec<FieldChange> = fields
        .iter()
        .filter(|field| {
            let lower = field.to_ascii_lowercase();
            !["secret", "password", "hash"]
                .iter()
                .any(|word| lower.contains(word))
        })
        // A missing field and a null one are the same absence.
        .filter(|field| {
            let present_before = before.get(**field).filter(|v| !v.is_null());
            let present_after = after.get(**field).filter(|v| !v.is_null());
            present_before != present_after
        })
        .map(|field| FieldChange {
            field: field.to_string(),
            before: shown(before.get(*field)),
            after: shown(after.get(*field)),
        })
        .collect();
    if !changes.is_empty() {
        request.extensions_mut().insert(EntryChanges(changes));
    }
}

/// Names the resource a request touched (call it with the name *before* deleting the resource).
pub fn describe_resource(request: &HttpRequest, id: Option<i64>, name: impl Into<String>) {
    request.extensions_mut().insert(AuditedResource {
        id,
        name: name.into(),
    });
}

/// Reads a path id in its one canonical spelling: decimal digits without sign or leading zero,
/// at most `i64::MAX`. Rust's own `parse` would also take `+7` and `007`, which would let one
/// resource be named several ways (and the router leaves `%2B` encoded).
pub fn canonical_id(segment: &str) -> Option<i64> {
    let canonical = !segment.is_empty()
        && segment.len() <= 19
        && segment.bytes().all(|b| b.is_ascii_digit())
        && !segment.starts_with('0');
    canonical.then(|| segment.parse().ok()).flatten()
}

pub(crate) fn non_canonical_id(parameter: &str) -> String {
    format!(
        "invalid path parameter `{parameter}`: expected a positive decimal number without sign or leading zeros"
    )
}

/// The client's address: the peer's, unless the peer is a trusted proxy, in which case the
/// `X-Forwarded-For` hops are walked from the right (the ones trusted proxies appended) to the
/// first address that is not itself a trusted proxy. A client can write anything into the
/// header, so only what trusted proxies appended is believed; from any other peer the header is
/// ignored.
pub fn client_ip(
    request: &HttpRequest,
    trusted_proxies: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let peer = request.peer_addr()?.ip();
    let trusted = |ip: &std::net::IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops = request
        .headers()
        .get_all(header::HeaderName::from_static("x-forwarded-for"))
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<std::net::IpAddr>() else {
            break;
        };
        client = ip;
        if !trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// The request's User-Agent (an entry keeps its first
/// [`crate::entry::draft::MAX_USER_AGENT_CHARS`] characters).
pub fn user_agent(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The request's id from the tracing span, or a fresh one.
pub(crate) fn request_id(request: &HttpRequest) -> String {
    request
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub(crate) fn collection_name(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::Application => "applications",
        ResourceType::Cluster => "clusters",
        ResourceType::Datastore => "datastores",
        ResourceType::EnvironmentGroup => "environment groups",
        ResourceType::Project => "project",
        ResourceType::CloudAccount => "cloud accounts",
        ResourceType::ApiToken => "API tokens",
        ResourceType::Integration => "integrations",
        ResourceType::User => "members",
        ResourceType::Invitation => "invitations",
        ResourceType::SavedView => "saved views",
        ResourceType::StreamDestination => "stream destinations",
        ResourceType::Alert => "alerts",
    }
}

/// The readable name of a resource of the project, as it is now.
pub fn resource_name(
    conn: &mut DbConnection,
    resource_type: ResourceType,
    project_id: i64,
    id: i64,
) -> QueryResult<Option<String>> {
    use schema::*;
    macro_rules! name_in {
        ($table:ident) => {
            $table::table
                .filter($table::id.eq(id))
                .filter($table::project_id.eq(project_id))
                .select($table::name)
                .first::<String>(conn)
                .optional()
        };
    }
    match resource_type {
        ResourceType::Application => name_in!(applications),
        ResourceType::Cluster => name_in!(clusters),
        ResourceType::Datastore => name_in!(datastores),
        ResourceType::EnvironmentGroup => name_in!(environment_groups),
        ResourceType::CloudAccount => name_in!(cloud_accounts),
        ResourceType::Integration => name_in!(integrations),
        ResourceType::ApiToken => name_in!(api_tokens),
        ResourceType::SavedView => name_in!(saved_views),
        ResourceType::StreamDestination => name_in!(stream_destinations),
        ResourceType::Alert => name_in!(alert_rules),
        ResourceType::Project => projects::table
            .find(id)
            .select(projects::name)
            .first::<String>(conn)
            .optional(),
        // Only a member of this project is named: an id of someone else's account must not copy
        // that person's name into this project's log.
        ResourceType::User => memberships::table
            .inner_join(users::table)
            .filter(memberships::project_id.eq(project_id))
            .filter(memberships::user_id.eq(id))
            .select(users::display_name)
            .first::<String>(conn)
            .optional(),
        ResourceType::Invitation => invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::project_id.eq(project_id))
            .select(invitations::email)
            .first::<String>(conn)
            .optional(),
    }
}

/// Sends entries built outside the middleware (failed sign-ins, verification findings; rows
/// made by `EntryDraft::into_entry`) through the writer and waits for their commit, all
/// together or none.
pub async fn commit_entries(
    writer: &AuditWriter,
    entries: Vec<NewAuditEntry>,
) -> Result<(), ApiError> {
    let reservation = writer
        .reserve(std::time::Duration::from_secs(5))
        .await
        .ok_or(ApiError::Overloaded)?;
    reservation
        .commit(entries)
        .await
        .map_err(|error| ApiError::Unavailable(anyhow::Error::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_ids_are_read() {
        assert_eq!(canonical_id("105"), Some(105));
        assert_eq!(canonical_id("9223372036854775807"), Some(i64::MAX));
        for spelling in [
            "",
            "0",
            "0105",
            "+105",
            "%2B105",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "0x10",
            "9223372036854775808",
            "٣",
        ] {
            assert_eq!(canonical_id(spelling), None, "{spelling:?}");
        }
    }
}
