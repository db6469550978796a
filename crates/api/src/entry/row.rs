//! The audit entry as it is stored: one row of `audit_entries`.

use diesel::prelude::*;

use crate::db::schema::audit_entries;
use auditlog_shared::chain::HashedFields;

/// An entry ready to be chained and stored. The writer fills the chain fields.
#[derive(Clone, Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = audit_entries, treat_none_as_default_value = false)]
pub struct NewAuditEntry {
    pub project_id: i64,
    pub ts: i64,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub actor_email: Option<String>,
    pub source: String,
    pub method: String,
    pub path: String,
    pub route: String,
    pub action: String,
    pub status_code: i32,
    pub resource_type: String,
    pub resource_id: Option<i64>,
    pub resource_name: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub duration_us: i64,
    /// Derived fields (see [`crate::entry::derived::with_derived_fields`]); not covered by the hash.
    pub actor_key: String,
    pub resource_key: String,
    pub search_text: String,
    pub chain_seq: i64,
    pub prev_hash: String,
    pub entry_hash: String,
    /// For an ingested event: the token that sent it (covered by the hash when present).
    pub ingested_by_token_id: Option<i64>,
    /// What a state-changing request changed (`auditlog_shared::chain::changes_text`; covered
    /// by the hash when present).
    pub changes: Option<String>,
}

impl NewAuditEntry {
    /// The fields its hash covers.
    pub fn hashed_fields(&self) -> HashedFields<'_> {
        HashedFields {
            project_id: self.project_id,
            chain_seq: self.chain_seq,
            ts: self.ts,
            actor_kind: &self.actor_kind,
            actor_id: self.actor_id,
            actor_name: &self.actor_name,
            actor_email: self.actor_email.as_deref(),
            source: &self.source,
            method: &self.method,
            path: &self.path,
            route: &self.route,
            action: &self.action,
            status_code: self.status_code,
            resource_type: &self.resource_type,
            resource_id: self.resource_id,
            resource_name: &self.resource_name,
            client_ip: self.client_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            request_id: &self.request_id,
            duration_us: self.duration_us,
            ingested_by_token_id: self.ingested_by_token_id,
            changes: self.changes.as_deref().map(std::borrow::Cow::Borrowed),
        }
    }
}

/// A stored entry as verification reads it: its id and the fields it was written with.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_entries)]
pub struct ChainedEntry {
    pub id: i64,
    #[diesel(embed)]
    pub fields: NewAuditEntry,
}
