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

use crate::db::schema::{audit_chain_heads, audit_entries};
use crate::db::DbConnection;
use crate::entry::chain_chunks::{self, ChunkSummary, Scratch};
use crate::entry::NewAuditEntry;

// The hashing rules live in the shared crate, so that clients recompute an entry's hash exactly
// as the server does.
pub use auditlog_shared::chain::{entry_hash, hash_matches, HashedFields, GENESIS_HASH};

/// A project's chain head while entries are appended to it: [`ChainHead::link`] gives an entry
/// its position and hashes, and moves the head to it. The writer and the synthetic generator
/// link every entry through it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub chain_seq: i64,
    pub entry_hash: String,
    /// The newest timestamp linked so far (0 before any): the time a head signature states.
    pub newest_ts: i64,
}

impl ChainHead {
    /// The head of an empty chain.
    pub fn genesis() -> ChainHead {
        ChainHead::at(0, GENESIS_HASH.to_string())
    }

    /// The head at a stored position.
    pub fn at(chain_seq: i64, entry_hash: String) -> ChainHead {
        ChainHead {
            chain_seq,
            entry_hash,
            newest_ts: 0,
        }
    }

    /// Links `entry` after the head and makes it the head.
    pub fn link(&mut self, entry: &mut NewAuditEntry) {
        entry.chain_seq = self.chain_seq + 1;
        entry.prev_hash = std::mem::take(&mut self.entry_hash);
        entry.entry_hash = entry_hash(&entry.prev_hash, &entry.hashed_fields());
        self.chain_seq = entry.chain_seq;
        self.entry_hash = entry.entry_hash.clone();
        self.newest_ts = self.newest_ts.max(entry.ts);
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
/// One or two threads (two with `second_reader`, a second connection) read the chunks in turn
/// and check each where they read it, entry by entry; another takes the chunks' summaries in
/// chain order and checks the links between them. Memory holds no entries beyond the row being
/// checked. `progress` is called after each checked chunk.
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

    // The walk: the readers (this thread, and a second one on `second_reader`) read and check
    // chunks of the stretch, taking turns; one more thread takes their summaries in chain order
    // and checks what links each chunk to the one before it.
    let mut readers: Vec<&mut DbConnection> = vec![conn];
    readers.extend(second_reader);
    let reader_count = readers.len();
    let chunk_count = (last_seq - first_seq) / chunk + 1;
    let mut to_walk = Vec::new();
    let mut from_readers = Vec::new();
    for _ in 0..reader_count {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<ChunkSummary>(4);
        to_walk.push(sender);
        from_readers.push(receiver);
    }
    let walk = std::thread::scope(|scope| -> QueryResult<Walk> {
        let walker = scope.spawn(move || {
            let mut walk = Walk {
                next_seq: first_seq,
                expected_prev,
                last_hash: String::new(),
                checked: 0,
                broken: None,
            };
            for chunk_index in 0..chunk_count {
                let reader = (chunk_index % reader_count as i64) as usize;
                let Ok(summary) = from_readers[reader].recv() else {
                    break; // A reader failed; its error is the verdict.
                };
                if !walk.absorb(summary) {
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
        let mut lanes = readers.into_iter().zip(to_walk).enumerate();
        let (_, (first_conn, first_sender)) = lanes.next().expect("one reader");
        let others: Vec<_> = lanes
            .map(|(index, (conn, sender))| scope.spawn(move || stretch.read(index, conn, sender)))
            .collect();
        let mut result = stretch.read(0, first_conn, first_sender);
        for other in others {
            let outcome = other.join().expect("a chain reader does not panic");
            result = result.and(outcome);
        }
        let walk = walker.join().expect("the chain walk does not panic");
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
    /// Reads and checks the chunks of reader `reader` (every `reader_count`th, from its index)
    /// and sends their summaries to the walk.
    fn read(
        self,
        reader: usize,
        conn: &mut DbConnection,
        to_walk: std::sync::mpsc::SyncSender<ChunkSummary>,
    ) -> QueryResult<()> {
        let mut scratch = Scratch::default();
        let mut chunk_index = reader as i64;
        while chunk_index < self.chunk_count {
            let start = self.first_seq + chunk_index * self.chunk;
            let end = (start + self.chunk).min(self.last_seq + 1);
            let summary = chain_chunks::check(conn, self.project_id, (start, end), &mut scratch)?;
            if to_walk.send(summary).is_err() {
                break; // The walk found a break and stopped.
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
}

impl Walk {
    /// Takes the summary of the next chunk: its first entry must follow the walk so far (the
    /// chunk's reader checked the rest). False once a link is broken.
    fn absorb(&mut self, chunk: ChunkSummary) -> bool {
        let Some((first_seq, first_id, first_prev)) = chunk.first else {
            return true; // No entry in the chunk's positions: the next chunk's first is missing.
        };
        if first_seq != self.next_seq {
            self.broken = Some((self.next_seq, None, "this entry is missing"));
            return false;
        }
        if self
            .expected_prev
            .as_ref()
            .is_some_and(|prev| *prev != first_prev)
        {
            self.broken = Some((
                first_seq,
                Some(first_id),
                "the entry does not link to the entry before it",
            ));
            return false;
        }
        self.checked += chunk.checked;
        if let Some(broken) = chunk.broken {
            self.broken = Some(broken);
            return false;
        }
        let Some((last_seq, last_hash)) = chunk.last else {
            return true;
        };
        self.next_seq = last_seq + 1;
        self.expected_prev = Some(last_hash.clone());
        self.last_hash = last_hash;
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
