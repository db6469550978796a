//! Durable, cheap capture: group commit of audit entries.
//!
//! Requests hand their entry to one writer thread through a bounded queue and wait for the commit
//! before their response is sent. The writer takes everything queued (up to [`MAX_BATCH`]),
//! appends it to the hash chains and commits it in one transaction: one disk flush for many
//! requests.
//!
//! Invariants:
//! * A request reserves its queue slot *before* its handler runs. When the queue is full it is
//!   answered 503 without running, so an action is never carried out without room to record it.
//! * Chain heads are locked in ascending project order, so writers in several processes sharing
//!   one PostgreSQL database never deadlock and never fork a chain.
//! * Every waiter hears the outcome of the transaction that carried its entry.
//! * Every append signs the project's new head in the same transaction (`checkpoint.rs`), and
//!   the signer's anchor learns the head only after the commit.
//! * No head is signed over a chain the server cannot vouch for without that being recorded:
//!   before extending a chain the writer checks it against the anchor, and a head it did not
//!   sign itself against the trusted keys (`check_against_anchor`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::{mpsc, oneshot};

use crate::audit_log::signing::NewCheckpoint;
use crate::capture::chain::{self, HashedFields, GENESIS_HASH};
use crate::capture::checkpoint::{self, ChainSigner};
use crate::db::schema::{audit_chain_heads, audit_checkpoints, audit_entries};
use crate::db::{DbConnection, DbPool};

/// The most entries one transaction commits.
pub const MAX_BATCH: usize = 1_000;

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
    /// Derived fields (see [`crate::capture::with_derived_fields`]); not covered by the hash.
    pub actor_key: String,
    pub resource_key: String,
    pub search_text: String,
    pub chain_seq: i64,
    pub prev_hash: String,
    pub entry_hash: String,
    /// For an ingested event: the token that sent it (covered by the hash when present).
    pub ingested_by_token_id: Option<i64>,
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
        }
    }
}

/// The entry could not be stored; the request must not report success.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the audit entry could not be stored")]
pub struct WriteFailed;

/// Entries that are stored together or not at all (one request's entry, or an ingested batch).
struct Pending {
    entries: Vec<NewAuditEntry>,
    done: oneshot::Sender<Result<(), WriteFailed>>,
}

/// The handle requests use to reach the writer thread.
#[derive(Clone)]
pub struct AuditWriter {
    sender: mpsc::Sender<Pending>,
}

/// A reserved place in the writer's queue.
pub struct Reservation(mpsc::OwnedPermit<Pending>);

impl AuditWriter {
    /// Starts the writer thread. It stops once every handle is dropped and the queue is drained.
    pub fn start(pool: DbPool, capacity: usize, signer: Arc<ChainSigner>) -> AuditWriter {
        let (sender, receiver) = mpsc::channel(capacity);
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || run(pool, receiver, &signer))
            .expect("the audit writer thread starts");
        AuditWriter { sender }
    }

    /// A place in the queue, or `None` when it is full (the server is overloaded).
    pub fn try_reserve(&self) -> Option<Reservation> {
        self.sender
            .clone()
            .try_reserve_owned()
            .ok()
            .map(Reservation)
    }

    /// A place in the queue, waiting up to `patience` for one.
    pub async fn reserve(&self, patience: Duration) -> Option<Reservation> {
        tokio::time::timeout(patience, self.sender.clone().reserve_owned())
            .await
            .ok()?
            .ok()
            .map(Reservation)
    }
}

impl Reservation {
    /// Queues the entries and waits until they are committed, all in one transaction.
    pub async fn commit(self, entries: Vec<NewAuditEntry>) -> Result<(), WriteFailed> {
        let (done, outcome) = oneshot::channel();
        self.0.send(Pending { entries, done });
        outcome.await.unwrap_or(Err(WriteFailed))
    }
}

fn run(pool: DbPool, mut receiver: mpsc::Receiver<Pending>, signer: &ChainSigner) {
    while let Some(first) = receiver.blocking_recv() {
        let mut queued = first.entries.len();
        let mut batch = vec![first];
        while queued < MAX_BATCH {
            match receiver.try_recv() {
                Ok(pending) => {
                    queued += pending.entries.len();
                    batch.push(pending);
                }
                Err(_) => break,
            }
        }
        let mut entries: Vec<NewAuditEntry> = batch
            .iter()
            .flat_map(|p| p.entries.iter().cloned())
            .collect();
        let outcome = commit_with_retries(&pool, &mut entries, signer);
        if let Err(error) = &outcome {
            tracing::error!(cause_chain = %format!("{error:#}"), entries = entries.len(), "audit batch failed");
        }
        for pending in batch {
            let _ = pending
                .done
                .send(outcome.as_ref().map(|_| ()).map_err(|_| WriteFailed));
        }
    }
}

fn commit_with_retries(
    pool: &DbPool,
    entries: &mut [NewAuditEntry],
    signer: &ChainSigner,
) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| append(&mut conn, entries, signer).map_err(anyhow::Error::from));
        match result {
            Ok(heads) => {
                remember_heads(signer, &heads);
                return Ok(());
            }
            Err(error) if attempt >= 5 => return Err(error),
            // A commit whose answer was lost may have happened: never store a batch twice.
            Err(_) if batch_is_stored(pool, entries) => return Ok(()),
            Err(error) => {
                tracing::warn!(%error, attempt, "audit batch failed; retrying");
                std::thread::sleep(Duration::from_millis(20 * attempt));
            }
        }
    }
}

/// Whether the batch's first entry (by its request id) is already stored.
fn batch_is_stored(pool: &DbPool, entries: &[NewAuditEntry]) -> bool {
    let Some(first) = entries.first() else {
        return true;
    };
    pool.get()
        .ok()
        .and_then(|mut conn| {
            audit_entries::table
                .filter(audit_entries::project_id.eq(first.project_id))
                .filter(audit_entries::request_id.eq(&first.request_id))
                .filter(audit_entries::ts.eq(first.ts))
                .count()
                .get_result::<i64>(&mut conn)
                .ok()
        })
        .is_some_and(|count| count > 0)
}

/// A project's head as an append left it, signed; the signer learns it once committed.
#[derive(Clone, Debug)]
pub struct SignedHeadRow {
    pub project_id: i64,
    pub chain_seq: i64,
    pub entry_hash: String,
    pub signed_at: i64,
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

/// Appends entries to their projects' chains and stores them, in one transaction.
pub fn append(
    conn: &mut DbConnection,
    entries: &mut [NewAuditEntry],
    signer: &ChainSigner,
) -> QueryResult<Vec<SignedHeadRow>> {
    conn.transaction(|conn| append_in_transaction(conn, entries, signer))
}

/// Appends entries inside the caller's open transaction; they are stored when it commits.
/// Returns the projects' new heads, for [`remember_heads`] after the commit.
pub fn append_in_transaction(
    conn: &mut DbConnection,
    entries: &mut [NewAuditEntry],
    signer: &ChainSigner,
) -> QueryResult<Vec<SignedHeadRow>> {
    let projects: BTreeSet<i64> = entries.iter().map(|e| e.project_id).collect();
    let mut heads = BTreeMap::new();
    for project_id in projects {
        let locked = lock_head(conn, project_id)?;
        check_against_anchor(conn, signer, project_id, &locked)?;
        // (seq before, seq now, hash now, newest ts)
        heads.insert(
            project_id,
            (locked.chain_seq, locked.chain_seq, locked.entry_hash, 0_i64),
        );
    }
    for entry in entries.iter_mut() {
        let head = heads
            .get_mut(&entry.project_id)
            .expect("every project was locked");
        entry.chain_seq = head.1 + 1;
        entry.prev_hash = head.2.clone();
        entry.entry_hash = chain::entry_hash(&entry.prev_hash, &entry.hashed_fields());
        head.1 = entry.chain_seq;
        head.2 = entry.entry_hash.clone();
        head.3 = head.3.max(entry.ts);
    }
    insert_entries(conn, entries)?;
    crate::audit_log::rollup::record(conn, entries)?;
    let mut signed = Vec::with_capacity(heads.len());
    for (project_id, (before, seq, hash, signed_at)) in heads {
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
                    None => crate::audit_log::signing::removed_by_retention(
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
    crate::audit_log::signing::record_checkpoint(
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
