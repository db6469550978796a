//! How an audit entry's hash is computed: one definition for the server that writes and verifies
//! the chain and for every client that checks an export offline.
//!
//! Each entry of a project's chain stores its position (`chain_seq`, from 1), the hash of the
//! entry before it (`prev_hash`; the first entry links to [`GENESIS_HASH`]) and its own hash:
//! `SHA-256(prev_hash || "\n" || canonical JSON of HashedFields)`, lowercase hex. The canonical
//! JSON is `serde_json`'s compact form of [`HashedFields`], keys in declaration order.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::wire::AuditEntry;

/// The `prev_hash` of a project's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields an entry's hash covers, in their canonical order. The entry's `id` (assigned by
/// the database) and the columns derived from these fields are not covered.
#[derive(Debug, Serialize)]
pub struct HashedFields<'a> {
    pub project_id: i64,
    pub chain_seq: i64,
    /// Microseconds since the Unix epoch.
    pub ts: i64,
    pub actor_kind: &'a str,
    pub actor_id: Option<i64>,
    pub actor_name: &'a str,
    pub actor_email: Option<&'a str>,
    pub source: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub route: &'a str,
    pub action: &'a str,
    pub status_code: i32,
    pub resource_type: &'a str,
    pub resource_id: Option<i64>,
    pub resource_name: &'a str,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: &'a str,
    pub duration_us: i64,
    /// Only ingested events carry it, so the hashes of all other entries (and of every entry
    /// written before it existed) are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingested_by_token_id: Option<i64>,
}

impl<'a> HashedFields<'a> {
    /// The hashed fields of an entry as clients receive it (a list page or an NDJSON export),
    /// of the project `project_id`.
    pub fn of_entry(project_id: i64, entry: &'a AuditEntry) -> HashedFields<'a> {
        HashedFields {
            project_id,
            chain_seq: entry.chain_seq,
            ts: entry.timestamp.timestamp_micros(),
            actor_kind: &entry.actor.kind,
            actor_id: entry.actor.id,
            actor_name: &entry.actor.name,
            actor_email: entry.actor.email.as_deref(),
            source: entry.source.as_str(),
            method: &entry.method,
            path: &entry.path,
            route: &entry.route,
            action: &entry.action,
            status_code: i32::from(entry.status),
            resource_type: entry.resource.kind.as_str(),
            resource_id: entry.resource.id,
            resource_name: &entry.resource.name,
            client_ip: entry.client_ip.as_deref(),
            user_agent: entry.user_agent.as_deref(),
            request_id: &entry.request_id,
            // The wire carries milliseconds with microsecond precision; rounding recovers the
            // stored microseconds exactly for any realistic duration.
            duration_us: (entry.duration_ms * 1000.0).round() as i64,
            ingested_by_token_id: entry.ingested_by_token_id,
        }
    }
}

/// The hash of an entry given the hash of the one before it.
pub fn entry_hash(prev_hash: &str, fields: &HashedFields<'_>) -> String {
    let canonical = serde_json::to_vec(fields).expect("plain data serializes");
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(&canonical);
    hex::encode(hasher.finalize())
}
