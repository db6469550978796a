//! Appending entries to the store: each project's chain head is locked, the entries are linked
//! to it and inserted, the rollups count them and the new head is signed — all in the caller's
//! open transaction, so they commit together or not at all.
//!
//! Invariants:
//! * Chain heads are locked in ascending project order, so writers in several processes sharing
//!   one PostgreSQL database never deadlock and never fork a chain.
//! * Every append signs the project's new head in the same transaction (`checkpoint.rs`); the
//!   signer's anchor learns the head only after the commit ([`remember_heads`]).
//! * No head is signed over a chain the server cannot vouch for without that being recorded:
//!   before extending a chain the head is checked against the anchor, and a head this server did
//!   not sign itself against the trusted keys (`check_against_anchor`).
//!
//! SQLite's trigram index (`audit_search`, kept by triggers on `audit_entries`) gains a small
//! segment with every commit. FTS5 would merge segments inside whichever commit filled a level,
//! holding up every request waiting on that commit; its automatic merging is off (a migration)
//! and the audit writer calls [`merge_search_index`] between its commits instead.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;

use crate::db::schema::{audit_chain_heads, audit_checkpoints, audit_entries};
use crate::db::DbConnection;
use crate::entry::chain::{ChainHead, GENESIS_HASH};
use crate::entry::checkpoint::{self, ChainSigner};
use crate::entry::row::NewAuditEntry;
use crate::entry::signing::NewCheckpoint;

/// A project's head as an append left it, signed; the signer learns it once committed.
#[derive(Clone, Debug)]
pub struct SignedHeadRow {
    pub project_id: i64,
    pub chain_seq: i64,
    pub entry_hash: String,
    pub signed_at: i64,
}

/// The most pages one step of [`merge_search_index`] writes: a step holds SQLite's write lock
/// for a few milliseconds.
pub const SEARCH_MERGE_PAGES: u32 = 128;

/// One step of merging the SQLite trigram index, in a transaction of its own (call it with none
/// open): levels holding several segments are merged, up to [`SEARCH_MERGE_PAGES`] pages.
/// Returns whether there was anything to merge — call it again until there is not. Does nothing
/// on PostgreSQL, whose index needs no such care.
pub fn merge_search_index(conn: &mut DbConnection) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Changes {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        changes: i64,
    }
    fn total_changes(conn: &mut DbConnection) -> QueryResult<i64> {
        diesel::sql_query("SELECT total_changes() AS changes")
            .get_result::<Changes>(conn)
            .map(|row| row.changes)
    }

    if !matches!(conn, DbConnection::Sqlite(_)) {
        return Ok(false);
    }
    crate::db::write_transaction(conn, |conn| {
        let before = total_changes(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO audit_search (audit_search, rank) VALUES ('merge', {SEARCH_MERGE_PAGES})"
        ))
        .execute(conn)?;
        // FTS5 counts two changes or more when the step merged something.
        Ok(total_changes(conn)? - before >= 2)
    })
}

/// Tells the signer's anchor the heads of a committed transaction.
pub fn remember_heads(signer: &ChainSigner, heads: &[SignedHeadRow]) {
    for head in heads {
        signer.remember_head(
            head.project_id,
            head.chain_seq,
            &head.entry_hash,
            head.signed_at,
        );
    }
}

/// Appends entries inside the caller's open transaction; they are stored when it commits.
/// Returns the projects' new heads, for [`remember_heads`] after the commit.
pub fn append_in_transaction(
    conn: &mut DbConnection,
    entries: &mut [NewAuditEntry],
    signer: &ChainSigner,
) -> QueryResult<Vec<SignedHeadRow>> {
    let projects: BTreeSet<i64> = entries.iter().map(|e| e.project_id).collect();
    // Each project's position before the append, and its head as the entries move it.
    let mut heads = BTreeMap::new();
    for project_id in projects {
        let locked = lock_head(conn, project_id)?;
        check_against_anchor(conn, signer, project_id, &locked)?;
        let head = ChainHead::at(locked.chain_seq, locked.entry_hash);
        heads.insert(project_id, (locked.chain_seq, head));
    }
    for entry in entries.iter_mut() {
        let (_, head) = heads
            .get_mut(&entry.project_id)
            .expect("every project was locked");
        head.link(entry);
    }
    insert_entries(conn, entries)?;
    crate::entry::rollup::record(conn, entries)?;
    let mut signed = Vec::with_capacity(heads.len());
    for (project_id, (before, head)) in heads {
        let ChainHead {
            chain_seq: seq,
            entry_hash: hash,
            newest_ts: signed_at,
        } = head;
        let (key_id, signature) = signer.sign_appended_head(project_id, seq, &hash, signed_at);
        diesel::update(audit_chain_heads::table.find(project_id))
            .set((
                audit_chain_heads::chain_seq.eq(seq),
                audit_chain_heads::entry_hash.eq(&hash),
                audit_chain_heads::signed_at.eq(signed_at),
                audit_chain_heads::key_id.eq(&key_id),
                audit_chain_heads::signature.eq(&signature),
            ))
            .execute(conn)?;
        // A signed checkpoint row whenever the chain passes a multiple of CHECKPOINT_EVERY.
        if before / checkpoint::CHECKPOINT_EVERY != seq / checkpoint::CHECKPOINT_EVERY {
            // The head's own signature: a head checkpoint states the same.
            diesel::insert_into(audit_checkpoints::table)
                .values(&NewCheckpoint {
                    project_id,
                    kind: "head",
                    chain_seq: seq,
                    entry_hash: &hash,
                    signed_at,
                    key_id: &key_id,
                    signature: &signature,
                })
                .execute(conn)?;
        }
        signed.push(SignedHeadRow {
            project_id,
            chain_seq: seq,
            entry_hash: hash,
            signed_at,
        });
    }
    Ok(signed)
}

/// Before extending a project's chain, checks that it may vouch for it:
///
/// - the chain still holds the newest head this server signed (its anchor): a head behind it,
///   or another entry at its position, means the database was rolled back or rewritten;
/// - a head this server did not sign itself (another server's, or one from before this process
///   had an anchor) carries a valid signature of a trusted key: otherwise entries were appended
///   or the head was moved outside the server, and signing the next head would vouch for them.
///
/// A finding is recorded in the anchor for good (and an untrusted head also in a signed
/// `conflict` checkpoint, so that every server reports it) — the append goes on, so no request
/// is lost, but verification reports it from then on, however far the chain grows. In the
/// steady state of one server the head is its anchor and no signature is checked.
fn check_against_anchor(
    conn: &mut DbConnection,
    signer: &ChainSigner,
    project_id: i64,
    head: &LockedHead,
) -> QueryResult<()> {
    let anchor = signer.anchor(project_id);
    if anchor.as_ref().is_some_and(|a| a.conflict.is_some()) {
        return Ok(());
    }
    let anchor = anchor.filter(|anchor| anchor.chain_seq > 0);
    if let Some(anchor) = &anchor {
        if head.chain_seq == anchor.chain_seq && head.entry_hash == anchor.entry_hash {
            return Ok(());
        }
        let intact = match head.chain_seq.cmp(&anchor.chain_seq) {
            std::cmp::Ordering::Less | std::cmp::Ordering::Equal => false,
            // Others appended since (another server, or someone else): the signed entry must
            // still be there, unless retention removed it.
            std::cmp::Ordering::Greater => {
                let stored: Option<String> = audit_entries::table
                    .filter(audit_entries::project_id.eq(project_id))
                    .filter(audit_entries::chain_seq.eq(anchor.chain_seq))
                    .select(audit_entries::entry_hash)
                    .first(conn)
                    .optional()?;
                match stored {
                    Some(stored) => stored == anchor.entry_hash,
                    None => crate::entry::signing::removed_by_retention(
                        conn,
                        signer,
                        project_id,
                        anchor.chain_seq,
                    )?,
                }
            }
        };
        if !intact {
            signer.record_conflict(
                project_id,
                checkpoint::AnchorConflict {
                    chain_seq: anchor.chain_seq,
                    entry_hash: anchor.entry_hash.clone(),
                    signed_at: anchor.signed_at,
                    found_head_seq: head.chain_seq,
                    found_at: chrono::Utc::now().timestamp_micros(),
                    unsigned_head: false,
                },
            );
            return Ok(());
        }
    }
    if head.chain_seq == 0 {
        return Ok(()); // A new chain: nothing in it to vouch for.
    }
    let message =
        checkpoint::head_message(project_id, head.chain_seq, &head.entry_hash, head.signed_at);
    if signer.verifies(&message, &head.key_id, &head.signature) {
        return Ok(());
    }
    // Nothing this server signed covers the entries after its anchor (or, without one, the
    // head found): that is where the untrusted stretch starts.
    let untrusted_from = anchor.as_ref().map_or(head.chain_seq, |a| a.chain_seq + 1);
    let found_at = chrono::Utc::now().timestamp_micros();
    crate::entry::signing::record_checkpoint(
        conn,
        signer,
        "conflict",
        project_id,
        (untrusted_from, &head.entry_hash),
        found_at,
    )?;
    signer.record_conflict(
        project_id,
        checkpoint::AnchorConflict {
            chain_seq: untrusted_from - 1,
            entry_hash: anchor.map(|a| a.entry_hash).unwrap_or_default(),
            signed_at: found_at,
            found_head_seq: head.chain_seq,
            found_at,
            unsigned_head: true,
        },
    );
    Ok(())
}

/// A project's chain head as [`lock_head`] found it.
#[derive(Queryable)]
struct LockedHead {
    chain_seq: i64,
    entry_hash: String,
    signed_at: i64,
    key_id: String,
    signature: String,
}

#[derive(Insertable)]
#[diesel(table_name = audit_chain_heads)]
struct NewHead<'a> {
    project_id: i64,
    chain_seq: i64,
    entry_hash: &'a str,
}

/// Creates the project's chain head if needed and locks it for this transaction. On SQLite the
/// write transaction already excludes every other writer.
fn lock_head(conn: &mut DbConnection, project_id: i64) -> QueryResult<LockedHead> {
    let genesis = NewHead {
        project_id,
        chain_seq: 0,
        entry_hash: GENESIS_HASH,
    };
    let head = audit_chain_heads::table.find(project_id).select((
        audit_chain_heads::chain_seq,
        audit_chain_heads::entry_hash,
        audit_chain_heads::signed_at,
        audit_chain_heads::key_id,
        audit_chain_heads::signature,
    ));
    match conn {
        DbConnection::Postgres(conn) => {
            diesel::insert_into(audit_chain_heads::table)
                .values(&genesis)
                .on_conflict_do_nothing()
                .execute(conn)?;
            head.for_update().first(conn)
        }
        DbConnection::Sqlite(conn) => {
            diesel::insert_into(audit_chain_heads::table)
                .values(&genesis)
                .on_conflict_do_nothing()
                .execute(conn)?;
            head.first(conn)
        }
    }
}

/// Multi-row inserts, in chunks that stay under both engines' bind-parameter limits.
fn insert_entries(conn: &mut DbConnection, entries: &[NewAuditEntry]) -> QueryResult<()> {
    const ROWS_PER_STATEMENT: usize = 500; // 25 columns × 500 < 32,766 (SQLite) and 65,535 (PostgreSQL)
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        match conn {
            DbConnection::Postgres(conn) => {
                diesel::insert_into(audit_entries::table)
                    .values(chunk)
                    .execute(conn)?;
            }
            DbConnection::Sqlite(conn) => {
                diesel::insert_into(audit_entries::table)
                    .values(chunk)
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}
