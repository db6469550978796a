//! The query model and the wire types of Auditlog.
//!
//! This crate is shared by the server (`auditlog-api`), the web app (`auditlog-web`, compiled to
//! WebAssembly) and the CLI (`auditlog-cli`). It must therefore stay free of any server or database
//! dependency and build for `wasm32-unknown-unknown` as well as for native targets.
//!
//! The heart of it is [`AuditQuery`]: the typed form of every filter, the search text, the date
//! range and the page of an audit log view, with exactly one canonical query-string form
//! ([`AuditQuery::to_query_string`] and [`AuditQuery::parse`]). The browser URL, the REST API and
//! the CLI's `--query` all use that one form, so a shared link and an API call mean the same thing.

pub mod bar;
pub mod chain;
mod cursor;
mod dimension;
mod facets;
mod query;
mod urlencoding;
pub mod wire;

pub use cursor::{Cursor, CursorDirection};
pub use dimension::Dimension;
pub use facets::{FacetRequest, DEFAULT_FACET_LIMIT, MAX_FACET_CONTAINS_CHARS, MAX_FACET_LIMIT};

/// Percent-encodes one key or value the way the canonical query string does (a space as `+`),
/// for clients that assemble query strings from parts before [`AuditQuery::parse`] reads them.
pub fn encode_query_component(text: &str) -> String {
    urlencoding::encode(text)
}

/// Decodes one key or value of a query string (`+` as a space); `None` for a broken escape or
/// bytes that are not UTF-8.
pub fn decode_query_component(text: &str) -> Option<String> {
    urlencoding::decode(text).ok()
}
pub use query::{
    in_namespace, is_query_key, namespaces_of, split_open_entry, ActionKey, ActionMatch, ActorRef,
    AuditQuery, CustomRange, DateRange, EntityId, Filter, Method, PageSize, Preset, QueryError,
    RequestId, ResolvedRange, ResourceType, SearchText, Source, StatusMatch, DEFAULT_PAGE_SIZE,
    MAX_FILTER_VALUES, MAX_PAGE_SIZE, MAX_QUERY_STRING_BYTES, MAX_REQUEST_ID_CHARS,
    MAX_SEARCH_CHARS, OPEN_ENTRY_KEY, RETENTION_DAYS,
};
