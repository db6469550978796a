//! Checking a chunk of a project's chain where it is read: every entry's hash, its derived
//! columns and its links to the entry before it within the chunk. What links chunks together
//! (the first entry's position and `prev_hash`) is left to the walk in `chain.rs`, which takes
//! the chunks' summaries in chain order.
//!
//! Verifying a long chain is bound by reading rows, so the readers check what they read — no
//! row is copied or handed to another thread — and on SQLite each row's values are borrowed
//! straight from SQLite's row, with no allocation or conversion layer per value (loading
//! entries as structs cost a dozen allocations per row). PostgreSQL rows are loaded as entries.
//!
//! Invariant: both ways check the same columns the same way — every entry becomes a
//! [`StoredLink`] — and the tests verify the same chains on both backends.

use auditlog_shared::chain::{hash_matches, HashedFields};
use diesel::connection::LoadConnection as _;
use diesel::prelude::*;
use diesel::row::{Field as _, Row as _};

use crate::db::schema::audit_entries;
use crate::db::DbConnection;
use crate::entry::row::ChainedEntry;

/// One entry as verification checks it, borrowed from the row it was read from.
pub struct StoredLink<'a> {
    pub id: i64,
    pub fields: HashedFields<'a>,
    pub prev_hash: &'a str,
    pub entry_hash: &'a str,
    pub actor_key: &'a str,
    pub resource_key: &'a str,
    pub search_text: &'a str,
}

/// What checking one chunk found.
#[derive(Debug, Default)]
pub struct ChunkSummary {
    /// The chunk's first entry: `(chain_seq, id, prev_hash)`; `None` for an empty chunk.
    pub first: Option<(i64, i64, String)>,
    /// The last entry that passed: `(chain_seq, entry_hash)`.
    pub last: Option<(i64, String)>,
    /// Entries that passed, before the first broken one.
    pub checked: u64,
    /// The first broken entry, after the first entry's position and link (which only the walk
    /// can check): its position, its id when the row exists, and why.
    pub broken: Option<(i64, Option<i64>, &'static str)>,
}

/// Reads and checks the project's entries at chain positions `[from_seq, to_seq)`.
pub fn check(
    conn: &mut DbConnection,
    project_id: i64,
    (from_seq, to_seq): (i64, i64),
    scratch: &mut Scratch,
) -> QueryResult<ChunkSummary> {
    let stretch = audit_entries::table
        .filter(audit_entries::project_id.eq(project_id))
        .filter(audit_entries::chain_seq.ge(from_seq))
        .filter(audit_entries::chain_seq.lt(to_seq))
        .order(audit_entries::chain_seq.asc());
    let mut checker = ChunkChecker {
        summary: ChunkSummary::default(),
        scratch,
    };
    match conn {
        DbConnection::Sqlite(conn) => {
            // The numbers, then the texts in the order of the `TEXT_…` indexes below.
            let columns = (
                (
                    audit_entries::id,
                    audit_entries::project_id,
                    audit_entries::chain_seq,
                    audit_entries::ts,
                    audit_entries::actor_id,
                    audit_entries::status_code,
                    audit_entries::resource_id,
                    audit_entries::duration_us,
                    audit_entries::ingested_by_token_id,
                ),
                (
                    audit_entries::actor_kind,
                    audit_entries::actor_name,
                    audit_entries::actor_email,
                    audit_entries::source,
                    audit_entries::method,
                    audit_entries::path,
                    audit_entries::route,
                    audit_entries::action,
                    audit_entries::resource_type,
                    audit_entries::resource_name,
                    audit_entries::client_ip,
                    audit_entries::user_agent,
                    audit_entries::request_id,
                    audit_entries::actor_key,
                    audit_entries::resource_key,
                    audit_entries::search_text,
                    audit_entries::prev_hash,
                    audit_entries::entry_hash,
                    audit_entries::changes,
                ),
            );
            for row in conn.load(stretch.select(columns))? {
                let row = row?;
                let fields: [_; NUMBERS + TEXTS] = std::array::from_fn(|index| row.get(index));
                let mut values: [_; NUMBERS + TEXTS] = std::array::from_fn(|index| {
                    fields[index].as_ref().and_then(|field| field.value())
                });
                let (numbers, texts) = values.split_at_mut(NUMBERS);
                let numbers: [Option<i64>; NUMBERS] = std::array::from_fn(|index| {
                    numbers[index].as_mut().map(|value| value.read_long())
                });
                let mut text = [None; TEXTS];
                for (text, value) in text.iter_mut().zip(texts.iter_mut()) {
                    *text = value.as_mut().map(|value| value.read_text());
                }
                if !checker.accept(&link_of_row(&numbers, &text)) {
                    break;
                }
            }
        }
        DbConnection::Postgres(_) => {
            let entries: Vec<ChainedEntry> =
                stretch.select(ChainedEntry::as_select()).load(conn)?;
            for stored in &entries {
                let entry = &stored.fields;
                let link = StoredLink {
                    id: stored.id,
                    fields: entry.hashed_fields(),
                    prev_hash: &entry.prev_hash,
                    entry_hash: &entry.entry_hash,
                    actor_key: &entry.actor_key,
                    resource_key: &entry.resource_key,
                    search_text: &entry.search_text,
                };
                if !checker.accept(&link) {
                    break;
                }
            }
        }
    }
    Ok(checker.summary)
}

/// Buffers the check of one entry reuses for the next.
#[derive(Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    text: String,
}

/// Checks the entries of a chunk one by one, in chain order.
struct ChunkChecker<'s> {
    summary: ChunkSummary,
    scratch: &'s mut Scratch,
}

impl ChunkChecker<'_> {
    /// Checks the next entry; false once one is broken.
    fn accept(&mut self, stored: &StoredLink<'_>) -> bool {
        let seq = stored.fields.chain_seq;
        let summary = &mut self.summary;
        match &mut summary.last {
            None if summary.first.is_none() => {
                summary.first = Some((seq, stored.id, stored.prev_hash.to_string()));
            }
            None => return false, // The first entry broke.
            Some((last_seq, last_hash)) => {
                if seq == *last_seq {
                    // Nothing but a direct write to the database stores a second entry at a
                    // position (PostgreSQL's partitioned table has no unique index on it).
                    summary.broken = Some((
                        seq,
                        Some(stored.id),
                        "two entries hold this position in the chain",
                    ));
                    return false;
                }
                if seq != *last_seq + 1 {
                    summary.broken = Some((*last_seq + 1, None, "this entry is missing"));
                    return false;
                }
                if stored.prev_hash != last_hash {
                    summary.broken = Some((
                        seq,
                        Some(stored.id),
                        "the entry does not link to the entry before it",
                    ));
                    return false;
                }
            }
        }
        if !stored.intact(self.scratch) {
            summary.broken = Some((
                seq,
                Some(stored.id),
                "the entry was altered after it was recorded",
            ));
            return false;
        }
        summary.checked += 1;
        match &mut summary.last {
            Some((last_seq, last_hash)) => {
                *last_seq = seq;
                last_hash.clear();
                last_hash.push_str(stored.entry_hash);
            }
            None => summary.last = Some((seq, stored.entry_hash.to_string())),
        }
        true
    }
}

impl StoredLink<'_> {
    /// Whether the stored hash still covers the fields and the derived columns (which the hash
    /// does not cover) still match them. `scratch` is reused from entry to entry.
    fn intact(&self, scratch: &mut Scratch) -> bool {
        let fields = &self.fields;
        if !hash_matches(self.entry_hash, self.prev_hash, fields, &mut scratch.bytes) {
            return false;
        }
        let mut key_matches = |stored: &str, kind: &str, id: Option<i64>| {
            scratch.text.clear();
            scratch.text.push_str(kind);
            scratch.text.push(':');
            if let Some(id) = id {
                scratch.text.push_str(itoa::Buffer::new().format(id));
            }
            debug_assert_eq!(scratch.text, crate::entry::derived::entity_key(kind, id));
            stored == scratch.text
        };
        key_matches(self.actor_key, fields.actor_kind, fields.actor_id)
            && key_matches(self.resource_key, fields.resource_type, fields.resource_id)
            && crate::entry::derived::search_text_matches(self.search_text, fields)
    }
}

/// The number columns come first in a row, then the text columns.
const NUMBERS: usize = 9;
const TEXTS: usize = 19;

const TEXT_ACTOR_KIND: usize = 0;
const TEXT_ACTOR_NAME: usize = 1;
const TEXT_ACTOR_EMAIL: usize = 2;
const TEXT_SOURCE: usize = 3;
const TEXT_METHOD: usize = 4;
const TEXT_PATH: usize = 5;
const TEXT_ROUTE: usize = 6;
const TEXT_ACTION: usize = 7;
const TEXT_RESOURCE_TYPE: usize = 8;
const TEXT_RESOURCE_NAME: usize = 9;
const TEXT_CLIENT_IP: usize = 10;
const TEXT_USER_AGENT: usize = 11;
const TEXT_REQUEST_ID: usize = 12;
const TEXT_ACTOR_KEY: usize = 13;
const TEXT_RESOURCE_KEY: usize = 14;
const TEXT_SEARCH_TEXT: usize = 15;
const TEXT_PREV_HASH: usize = 16;
const TEXT_ENTRY_HASH: usize = 17;
const TEXT_CHANGES: usize = 18;

/// The entry of a row read on SQLite. NOT NULL columns read as 0 or "" if a database
/// writer nulled them (SQLite does not enforce types): the hash then fails, as it should.
fn link_of_row<'a>(
    numbers: &[Option<i64>; NUMBERS],
    texts: &[Option<&'a str>; TEXTS],
) -> StoredLink<'a> {
    let required = |column: usize| texts[column].unwrap_or_default();
    StoredLink {
        id: numbers[0].unwrap_or_default(),
        fields: HashedFields {
            project_id: numbers[1].unwrap_or_default(),
            chain_seq: numbers[2].unwrap_or_default(),
            ts: numbers[3].unwrap_or_default(),
            actor_kind: required(TEXT_ACTOR_KIND),
            actor_id: numbers[4],
            actor_name: required(TEXT_ACTOR_NAME),
            actor_email: texts[TEXT_ACTOR_EMAIL],
            source: required(TEXT_SOURCE),
            method: required(TEXT_METHOD),
            path: required(TEXT_PATH),
            route: required(TEXT_ROUTE),
            action: required(TEXT_ACTION),
            status_code: numbers[5].unwrap_or_default() as i32,
            resource_type: required(TEXT_RESOURCE_TYPE),
            resource_id: numbers[6],
            resource_name: required(TEXT_RESOURCE_NAME),
            client_ip: texts[TEXT_CLIENT_IP],
            user_agent: texts[TEXT_USER_AGENT],
            request_id: required(TEXT_REQUEST_ID),
            duration_us: numbers[7].unwrap_or_default(),
            ingested_by_token_id: numbers[8],
            changes: texts[TEXT_CHANGES].map(std::borrow::Cow::Borrowed),
        },
        prev_hash: required(TEXT_PREV_HASH),
        entry_hash: required(TEXT_ENTRY_HASH),
        actor_key: required(TEXT_ACTOR_KEY),
        resource_key: required(TEXT_RESOURCE_KEY),
        search_text: required(TEXT_SEARCH_TEXT),
    }
}
