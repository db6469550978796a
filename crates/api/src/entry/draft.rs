//! What a producer of an entry knows, typed: the capture middleware, account events, ingested
//! events and the synthetic generator all fill an [`EntryDraft`], and [`EntryDraft::into_entry`]
//! makes the row — the one place where stored values are cut to their limits and the derived
//! columns are filled. The chain fields are left for the append to set.

use std::net::IpAddr;

use actix_web::http::Method;
use auditlog_shared::{ResourceType, Source};

use crate::entry::derived::with_derived_fields;
use crate::entry::row::NewAuditEntry;

/// The most characters of a User-Agent kept.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Who acted, as the entry records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftActor {
    pub kind: ActorKind,
    /// `None` for the actor of an ingested event, which names someone outside this server.
    pub id: Option<i64>,
    pub name: String,
    pub email: Option<String>,
}

/// The kinds of actor an entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Token,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
        }
    }

    /// `user` or `token`.
    pub fn parse(text: &str) -> Option<ActorKind> {
        match text {
            "user" => Some(ActorKind::User),
            "token" => Some(ActorKind::Token),
            _ => None,
        }
    }
}

/// An entry as its producer knows it.
#[derive(Clone, Debug)]
pub struct EntryDraft {
    pub project_id: i64,
    /// When the request was received, in microseconds.
    pub ts: i64,
    pub actor: DraftActor,
    pub source: Source,
    pub method: Method,
    /// The path as stored (see `capture::redaction`).
    pub path: String,
    /// The route template, or `(ingested)`.
    pub route: String,
    pub action: String,
    pub status: u16,
    pub resource_type: ResourceType,
    pub resource_id: Option<i64>,
    pub resource_name: String,
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub duration_us: i64,
    /// For an ingested event: the token that sent it.
    pub ingested_by_token_id: Option<i64>,
    /// What a state-changing request changed (`auditlog_shared::chain::changes_text`).
    pub changes: Option<String>,
}

impl EntryDraft {
    /// The row to append: values cut to their limits, derived columns filled, chain fields
    /// empty.
    pub fn into_entry(self) -> NewAuditEntry {
        with_derived_fields(NewAuditEntry {
            project_id: self.project_id,
            ts: self.ts,
            actor_kind: self.actor.kind.as_str().into(),
            actor_id: self.actor.id,
            actor_name: self.actor.name,
            actor_email: self.actor.email,
            source: self.source.as_str().into(),
            method: self.method.as_str().into(),
            path: self.path,
            route: self.route,
            action: self.action,
            status_code: i32::from(self.status),
            resource_type: self.resource_type.as_str().into(),
            resource_id: self.resource_id,
            resource_name: self.resource_name,
            client_ip: self.client_ip.map(|ip| ip.to_string()),
            user_agent: self
                .user_agent
                .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
            request_id: self.request_id,
            duration_us: self.duration_us,
            actor_key: String::new(),
            resource_key: String::new(),
            search_text: String::new(),
            chain_seq: 0,
            prev_hash: String::new(),
            entry_hash: String::new(),
            ingested_by_token_id: self.ingested_by_token_id,
            changes: self.changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_becomes_a_row_with_its_limits_and_derived_columns() {
        let entry = EntryDraft {
            project_id: 7,
            ts: 1,
            actor: DraftActor {
                kind: ActorKind::Token,
                id: Some(3),
                name: "CI".into(),
                email: None,
            },
            source: Source::Api,
            method: Method::POST,
            path: "/api/v1/projects/7/applications".into(),
            route: "/api/v1/projects/{project_id}/applications".into(),
            action: "application.create".into(),
            status: 201,
            resource_type: ResourceType::Application,
            resource_id: Some(9),
            resource_name: "Web".into(),
            client_ip: Some("2001:db8::1".parse().unwrap()),
            user_agent: Some("é".repeat(600)),
            request_id: "r".into(),
            duration_us: 5,
            ingested_by_token_id: None,
            changes: None,
        }
        .into_entry();
        assert_eq!(
            entry.user_agent.unwrap().chars().count(),
            MAX_USER_AGENT_CHARS
        );
        assert_eq!(entry.actor_key, "token:3");
        assert_eq!(entry.resource_key, "application:9");
        assert_eq!(entry.method, "POST");
        assert_eq!(entry.source, "api");
        assert_eq!(entry.client_ip.as_deref(), Some("2001:db8::1"));
        assert!(entry.search_text.contains("ci"), "{}", entry.search_text);
        assert_eq!(entry.chain_seq, 0);
    }
}
