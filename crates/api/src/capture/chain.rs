//! The per-project hash chain over audit entries and its verification.
//!
//! Each entry stores its position in its project's chain (`chain_seq`, from 1), the hash of the
//! entry before it (`prev_hash`; the first entry links to [`GENESIS_HASH`]) and its own hash
//! (`auditlog_shared::chain` defines it, for the server and its clients alike). Altering any
//! recorded field breaks that entry's hash; deleting an entry leaves a gap in `chain_seq` and a
//! `prev_hash` that no longer matches; deleting the newest entries leaves the chain short of the
//! head kept in `audit_chain_heads`.

use auditlog_shared::wire::{BrokenLink, VerifyProgress, VerifyReport};
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
        use crate::capture::{entity_key, search_text};
        let entry = &self.fields;
        entry_hash(&entry.prev_hash, &entry.hashed_fields()) == entry.entry_hash
            && entry.actor_key == entity_key(&entry.actor_kind, entry.actor_id)
            && entry.resource_key == entity_key(&entry.resource_type, entry.resource_id)
            && entry.search_text
                == search_text(
                    &entry.path,
                    entry.actor_email.as_deref(),
                    &entry.actor_kind,
                    &entry.actor_name,
                    &entry.resource_type,
                    &entry.resource_name,
                )
    }
}

/// Entries read per database round trip.
const VERIFY_CHUNK: i64 = 5_000;

/// Verifies the stretch of a project's chain that covers `[from, to)` (microseconds).
///
/// The stretch runs from the lowest `chain_seq` with a timestamp in the window to the highest.
/// Its first entry is checked against the entry before it when that entry exists; when it does
/// not and no older entry exists either, the retention job removed it and the stretch starts at
/// the oldest retained entry. When the stretch reaches the newest stored entry, it must also reach
/// the chain head.
///
/// Reading and checking overlap: one thread reads the next chunk while another hashes the last,
/// so memory holds at most a few chunks. `progress` is called after each checked chunk.
pub fn verify(
    conn: &mut DbConnection,
    project_id: i64,
    from: i64,
    to: i64,
    progress: &mut (dyn FnMut(VerifyProgress) + Send),
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
    let expected_prev: Option<String> = if first_seq == 1 {
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

    // The walk: this thread reads chunks in chain order, a second one checks them.
    let (chunks, checker_input) = std::sync::mpsc::sync_channel::<Vec<ChainedEntry>>(2);
    let walk = std::thread::scope(|scope| -> QueryResult<Walk> {
        let checker = scope.spawn(move || {
            let mut walk = Walk {
                next_seq: first_seq,
                expected_prev,
                last_hash: String::new(),
                checked: 0,
                broken: None,
            };
            for chunk in checker_input {
                if !walk.check(chunk) {
                    break;
                }
                progress(VerifyProgress {
                    checked: walk.checked,
                    through_seq: walk.next_seq - 1,
                });
            }
            walk
        });
        let mut next_seq = first_seq;
        while next_seq <= last_seq {
            let chunk: Vec<ChainedEntry> = project_entries
                .filter(audit_entries::chain_seq.ge(next_seq))
                .filter(audit_entries::chain_seq.le(last_seq))
                .order(audit_entries::chain_seq.asc())
                .limit(VERIFY_CHUNK)
                .select(ChainedEntry::as_select())
                .load(conn)?;
            let Some(last) = chunk.last() else {
                break;
            };
            next_seq = last.fields.chain_seq + 1;
            if chunks.send(chunk).is_err() {
                break; // The checker found a break and stopped.
            }
        }
        drop(chunks);
        Ok(checker.join().expect("the chain checker does not panic"))
    })?;
    report.checked = walk.checked;
    if let Some((chain_seq, entry_id, reason)) = walk.broken {
        return Ok(broken(report, chain_seq, entry_id, reason));
    }
    if walk.next_seq <= last_seq {
        // The stretch ended early: its next entry is gone.
        return Ok(broken(report, walk.next_seq, None, "this entry is missing"));
    }
    let last_hash = walk.last_hash;

    // A stretch that ends at the newest stored entry must end at the chain head. The head is
    // read before the newer entries are counted: entries commit together with the head they
    // move, so an append committing in between (the verification's own entry, say) can only
    // add newer entries, never leave a head ahead of entries that were not yet visible.
    let head: Option<(i64, String)> = audit_chain_heads::table
        .find(project_id)
        .select((audit_chain_heads::chain_seq, audit_chain_heads::entry_hash))
        .first(conn)
        .optional()?;
    let newer_exists: i64 = project_entries
        .filter(audit_entries::chain_seq.gt(last_seq))
        .count()
        .get_result(conn)?;
    if let (0, Some((head_seq, head_hash))) = (newer_exists, head) {
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
    Ok(report)
}

/// The state of the walk through a stretch of the chain.
struct Walk {
    next_seq: i64,
    expected_prev: Option<String>,
    last_hash: String,
    checked: u64,
    /// The first broken link: its position, the entry's id when the row exists, and why.
    broken: Option<(i64, Option<i64>, &'static str)>,
}

impl Walk {
    /// Checks the next chunk; false once a link is broken.
    fn check(&mut self, chunk: Vec<ChainedEntry>) -> bool {
        for stored in chunk {
            let entry = &stored.fields;
            if entry.chain_seq != self.next_seq {
                self.broken = Some((self.next_seq, None, "this entry is missing"));
                return false;
            }
            if let Some(prev) = &self.expected_prev {
                if &entry.prev_hash != prev {
                    self.broken = Some((
                        entry.chain_seq,
                        Some(stored.id),
                        "the entry does not link to the entry before it",
                    ));
                    return false;
                }
            }
            if !stored.intact() {
                self.broken = Some((
                    entry.chain_seq,
                    Some(stored.id),
                    "the entry was altered after it was recorded",
                ));
                return false;
            }
            self.checked += 1;
            self.next_seq += 1;
            self.expected_prev = Some(entry.entry_hash.clone());
            self.last_hash.clone_from(&entry.entry_hash);
        }
        true
    }
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
