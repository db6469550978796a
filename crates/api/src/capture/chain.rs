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
pub use auditlog_shared::chain::{entry_hash, hash_matches, HashedFields, GENESIS_HASH};

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
    /// does not cover) still match them. `scratch` is reused from entry to entry.
    fn intact(&self, scratch: &mut Scratch) -> bool {
        use std::fmt::Write as _;
        let entry = &self.fields;
        if !hash_matches(
            &entry.entry_hash,
            &entry.prev_hash,
            &entry.hashed_fields(),
            &mut scratch.bytes,
        ) {
            return false;
        }
        let mut key_matches = |stored: &str, kind: &str, id: Option<i64>| {
            scratch.text.clear();
            match id {
                Some(id) => write!(scratch.text, "{kind}:{id}"),
                None => write!(scratch.text, "{kind}:"),
            }
            .expect("writing to a string succeeds");
            debug_assert_eq!(scratch.text, crate::capture::entity_key(kind, id));
            stored == scratch.text
        };
        key_matches(&entry.actor_key, &entry.actor_kind, entry.actor_id)
            && key_matches(&entry.resource_key, &entry.resource_type, entry.resource_id)
            && entry.search_text == crate::capture::entry_search_text(entry)
    }
}

/// Buffers the check of one entry reuses for the next.
#[derive(Default)]
struct Scratch {
    bytes: Vec<u8>,
    text: String,
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
/// Reading and checking overlap: one or two threads read the next chunks (two with
/// `second_reader`, a second connection) while another hashes the last, so memory holds at most
/// a few chunks. `progress` is called after each checked chunk.
pub fn verify(
    conn: &mut DbConnection,
    second_reader: Option<&mut DbConnection>,
    project_id: i64,
    from: i64,
    to: i64,
    progress: &mut (dyn FnMut(VerifyProgress) + Send),
) -> QueryResult<VerifyReport> {
    verify_in_chunks(
        conn,
        second_reader,
        (project_id, from, to),
        VERIFY_CHUNK,
        progress,
    )
}

/// [`verify`] reading `chunk` chain positions at a time (tests use small chunks to exercise
/// many of them).
pub fn verify_in_chunks(
    conn: &mut DbConnection,
    second_reader: Option<&mut DbConnection>,
    (project_id, from, to): (i64, i64, i64),
    chunk: i64,
    progress: &mut (dyn FnMut(VerifyProgress) + Send),
) -> QueryResult<VerifyReport> {
    assert!(chunk > 0, "a chunk holds at least one entry");
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

    // The walk: the readers (this thread, and a second one on `second_reader`) read chunks of
    // the stretch, taking turns; one more thread checks them in chain order. Checked chunks go
    // back to their reader to be freed where they were allocated (freeing another thread's
    // allocations costs the allocator dearly).
    let mut readers: Vec<&mut DbConnection> = vec![conn];
    readers.extend(second_reader);
    let reader_count = readers.len();
    let chunk_count = (last_seq - first_seq) / chunk + 1;
    let mut to_checker = Vec::new();
    let mut from_readers = Vec::new();
    let mut to_readers = Vec::new();
    let mut returned = Vec::new();
    for _ in 0..reader_count {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<ChainedEntry>>(1);
        to_checker.push(sender);
        from_readers.push(receiver);
        let (sender, receiver) = std::sync::mpsc::channel::<Vec<ChainedEntry>>();
        to_readers.push(sender);
        returned.push(receiver);
    }
    let walk = std::thread::scope(|scope| -> QueryResult<Walk> {
        let checker = scope.spawn(move || {
            let mut walk = Walk {
                next_seq: first_seq,
                expected_prev,
                last_hash: String::new(),
                checked: 0,
                broken: None,
                scratch: Scratch::default(),
            };
            for chunk_index in 0..chunk_count {
                let reader = (chunk_index % reader_count as i64) as usize;
                let Ok(chunk) = from_readers[reader].recv() else {
                    break; // A reader failed; its error is the verdict.
                };
                let intact = walk.check(&chunk);
                let _ = to_readers[reader].send(chunk);
                if !intact {
                    break;
                }
                progress(VerifyProgress {
                    checked: walk.checked,
                    through_seq: walk.next_seq - 1,
                });
            }
            walk
        });
        let stretch = Stretch {
            chunk,
            project_id,
            first_seq,
            last_seq,
            chunk_count,
            reader_count,
        };
        let mut lanes = readers
            .into_iter()
            .zip(to_checker)
            .zip(returned)
            .enumerate()
            .map(|(index, ((conn, sender), returned))| (index, conn, sender, returned));
        let (_, first_conn, first_sender, first_returned) = lanes.next().expect("one reader");
        let others: Vec<_> = lanes
            .map(|(index, conn, sender, returned)| {
                scope.spawn(move || stretch.read(index, conn, sender, returned))
            })
            .collect();
        let mut result = stretch.read(0, first_conn, first_sender, first_returned);
        for other in others {
            let outcome = other.join().expect("a chain reader does not panic");
            result = result.and(outcome);
        }
        let walk = checker.join().expect("the chain checker does not panic");
        result.map(|()| walk)
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

/// The stretch of the chain a verification reads, in chunks.
#[derive(Clone, Copy)]
struct Stretch {
    /// Chain positions per chunk.
    chunk: i64,
    project_id: i64,
    first_seq: i64,
    last_seq: i64,
    chunk_count: i64,
    reader_count: usize,
}

impl Stretch {
    /// Reads the chunks of reader `reader` (every `reader_count`th, from its index) and sends
    /// them to the checker; drops the chunks the checker sends back.
    fn read(
        self,
        reader: usize,
        conn: &mut DbConnection,
        to_checker: std::sync::mpsc::SyncSender<Vec<ChainedEntry>>,
        returned: std::sync::mpsc::Receiver<Vec<ChainedEntry>>,
    ) -> QueryResult<()> {
        let mut chunk_index = reader as i64;
        while chunk_index < self.chunk_count {
            returned.try_iter().for_each(drop);
            let start = self.first_seq + chunk_index * self.chunk;
            let chunk: Vec<ChainedEntry> = audit_entries::table
                .filter(audit_entries::project_id.eq(self.project_id))
                .filter(audit_entries::chain_seq.ge(start))
                .filter(audit_entries::chain_seq.lt(start + self.chunk))
                .filter(audit_entries::chain_seq.le(self.last_seq))
                .order(audit_entries::chain_seq.asc())
                .select(ChainedEntry::as_select())
                .load(conn)?;
            if to_checker.send(chunk).is_err() {
                break; // The checker found a break and stopped.
            }
            chunk_index += self.reader_count as i64;
        }
        Ok(())
    }
}

/// The state of the walk through a stretch of the chain.
struct Walk {
    next_seq: i64,
    expected_prev: Option<String>,
    last_hash: String,
    checked: u64,
    /// The first broken link: its position, the entry's id when the row exists, and why.
    broken: Option<(i64, Option<i64>, &'static str)>,
    scratch: Scratch,
}

impl Walk {
    /// Checks the next chunk; false once a link is broken.
    fn check(&mut self, chunk: &[ChainedEntry]) -> bool {
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
            if !stored.intact(&mut self.scratch) {
                self.broken = Some((
                    entry.chain_seq,
                    Some(stored.id),
                    "the entry was altered after it was recorded",
                ));
                return false;
            }
            self.checked += 1;
            self.next_seq += 1;
            match &mut self.expected_prev {
                Some(prev) => prev.clone_from(&entry.entry_hash),
                None => self.expected_prev = Some(entry.entry_hash.clone()),
            }
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
