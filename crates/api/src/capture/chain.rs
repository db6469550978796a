//! The per-project hash chain over audit entries and its verification.
//!
//! Each entry stores its position in its project's chain (`chain_seq`, from 1), the hash of the
//! entry before it (`prev_hash`; the first entry links to [`GENESIS_HASH`]) and its own hash
//! (`auditlog_shared::chain` defines it, for the server and its clients alike). Altering any
//! recorded field breaks that entry's hash; deleting an entry leaves a gap in `chain_seq` and a
//! `prev_hash` that no longer matches; deleting the newest entries leaves the chain short of the
//! head kept in `audit_chain_heads`.

use auditlog_shared::wire::{BrokenLink, VerifyReport};
use diesel::prelude::*;

use crate::capture::writer::NewAuditEntry;
use crate::db::schema::{audit_chain_heads, audit_entries};
use crate::db::DbConnection;

// The hashing rules live in the shared crate, so that clients recompute an entry's hash exactly
// as the server does.
pub use auditlog_shared::chain::{entry_hash, HashedFields, GENESIS_HASH};

/// A stored entry as verification reads it: its id and the fields it was written with.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_entries)]
pub struct ChainedEntry {
    pub id: i64,
    #[diesel(embed)]
    pub fields: NewAuditEntry,
}

impl ChainedEntry {
    /// Whether the stored hash still covers the fields and the derived columns (which the hash
    /// does not cover) still match them.
    fn intact(&self) -> bool {
        let entry = &self.fields;
        let derived = crate::capture::with_derived_fields(entry.clone());
        entry_hash(&entry.prev_hash, &entry.hashed_fields()) == entry.entry_hash
            && derived.actor_key == entry.actor_key
            && derived.resource_key == entry.resource_key
            && derived.search_text == entry.search_text
    }
}

const VERIFY_CHUNK: i64 = 2_000;

/// Verifies the stretch of a project's chain that covers `[from, to)` (microseconds).
///
/// The stretch runs from the lowest `chain_seq` with a timestamp in the window to the highest.
/// Its first entry is checked against the entry before it when that entry exists; when it does
/// not and no older entry exists either, the retention job removed it and the stretch starts at
/// the oldest retained entry. When the stretch reaches the newest stored entry, it must also reach
/// the chain head.
pub fn verify(
    conn: &mut DbConnection,
    project_id: i64,
    from: i64,
    to: i64,
) -> QueryResult<VerifyReport> {
    let in_window = audit_entries::table
        .filter(audit_entries::project_id.eq(project_id))
        .filter(audit_entries::ts.ge(from))
        .filter(audit_entries::ts.lt(to));
    let first_seq: Option<i64> = in_window
        .select(diesel::dsl::min(audit_entries::chain_seq))
        .first(conn)?;
    let last_seq: Option<i64> = in_window
        .select(diesel::dsl::max(audit_entries::chain_seq))
        .first(conn)?;
    let (Some(first_seq), Some(last_seq)) = (first_seq, last_seq) else {
        return Ok(VerifyReport {
            ok: true,
            checked: 0,
            first_seq: None,
            last_seq: None,
            broken: None,
            signed_head: None,
        });
    };

    let mut report = VerifyReport {
        ok: true,
        checked: 0,
        first_seq: Some(first_seq),
        last_seq: Some(last_seq),
        broken: None,
        signed_head: None,
    };
    let project_entries = audit_entries::table.filter(audit_entries::project_id.eq(project_id));

    // The link into the stretch.
    let mut expected_prev: Option<String> = if first_seq == 1 {
        Some(GENESIS_HASH.to_string())
    } else {
        let before: Option<String> = project_entries
            .filter(audit_entries::chain_seq.eq(first_seq - 1))
            .select(audit_entries::entry_hash)
            .first(conn)
            .optional()?;
        if before.is_none() {
            let older_exists: i64 = project_entries
                .filter(audit_entries::chain_seq.lt(first_seq))
                .count()
                .get_result(conn)?;
            if older_exists > 0 {
                return Ok(broken(report, first_seq - 1, None, "this entry is missing"));
            }
        }
        before
    };

    let mut next_seq = first_seq;
    let mut last_hash = String::new();
    while next_seq <= last_seq {
        let chunk: Vec<ChainedEntry> = project_entries
            .filter(audit_entries::chain_seq.ge(next_seq))
            .filter(audit_entries::chain_seq.le(last_seq))
            .order(audit_entries::chain_seq.asc())
            .limit(VERIFY_CHUNK)
            .select(ChainedEntry::as_select())
            .load(conn)?;
        if chunk.is_empty() {
            return Ok(broken(report, next_seq, None, "this entry is missing"));
        }
        for stored in chunk {
            let entry = &stored.fields;
            if entry.chain_seq != next_seq {
                return Ok(broken(report, next_seq, None, "this entry is missing"));
            }
            if let Some(prev) = &expected_prev {
                if &entry.prev_hash != prev {
                    return Ok(broken(
                        report,
                        entry.chain_seq,
                        Some(stored.id),
                        "the entry does not link to the entry before it",
                    ));
                }
            }
            if !stored.intact() {
                return Ok(broken(
                    report,
                    entry.chain_seq,
                    Some(stored.id),
                    "the entry was altered after it was recorded",
                ));
            }
            report.checked += 1;
            next_seq += 1;
            expected_prev = Some(entry.entry_hash.clone());
            last_hash = entry.entry_hash.clone();
        }
    }

    // A stretch that ends at the newest stored entry must end at the chain head.
    let newer_exists: i64 = project_entries
        .filter(audit_entries::chain_seq.gt(last_seq))
        .count()
        .get_result(conn)?;
    if newer_exists == 0 {
        let head: Option<(i64, String)> = audit_chain_heads::table
            .find(project_id)
            .select((audit_chain_heads::chain_seq, audit_chain_heads::entry_hash))
            .first(conn)
            .optional()?;
        if let Some((head_seq, head_hash)) = head {
            if head_seq > last_seq {
                return Ok(broken(report, last_seq + 1, None, "this entry is missing"));
            }
            if head_seq == last_seq && head_hash != last_hash {
                return Ok(broken(
                    report,
                    last_seq,
                    None,
                    "the newest entry does not match the chain head",
                ));
            }
        }
    }
    Ok(report)
}

fn broken(
    mut report: VerifyReport,
    chain_seq: i64,
    entry_id: Option<i64>,
    reason: &str,
) -> VerifyReport {
    report.ok = false;
    report.broken = Some(BrokenLink {
        chain_seq,
        entry_id,
        reason: reason.to_string(),
    });
    report
}
