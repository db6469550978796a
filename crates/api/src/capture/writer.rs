//! Durable, cheap capture: group commit of audit entries and of the changes they record.
//!
//! Requests hand their entry to one writer thread through a bounded queue and wait for the commit
//! before their response is sent. The writer takes everything queued, appends it to the hash
//! chains and commits it in one transaction: one disk flush for many requests.
//!
//! State-changing requests make their changes in that same transaction. The writer owns one
//! connection, the [`WriteConnection`]; a request takes it in turn (see
//! `capture::transaction::RequestTransaction`), does its work in a savepoint of the open transaction, queues
//! its entry and gives the connection back. A request that fails, or is dropped before it queued
//! its entry, leaves its savepoint to be rolled back by whoever takes the connection next. The
//! writer commits the open transaction with every queued entry, so many requests' changes and
//! entries share one flush.
//!
//! Invariants:
//! * A request reserves its queue slot *before* its handler runs. When the queue is full it is
//!   answered 503 without running, so an action is never carried out without room to record it.
//! * Every change in the open transaction belongs to a request whose entry is queued (it queued
//!   it before giving the connection back) or to a savepoint that is rolled back before the
//!   commit: the writer holds the connection while it drains the queue and commits, so a change
//!   and its entry commit together or not at all.
//! * An entry queued with changes names the transaction they are in, and is stored only by that
//!   transaction's commit: if the transaction is lost first (a request could not settle it, a
//!   commit failed), the request fails instead of being recorded as done.
//! * Every waiter hears the outcome of the transaction that carried its entry.
//! * Entries are appended by `entry::store::append_in_transaction` (chain heads locked in
//!   ascending project order, heads checked against the anchor and signed); the signer's anchor
//!   learns the new heads only after the commit.
//! * On SQLite, the trigram search index's segments are merged by the writer, on its own
//!   connection, in steps of their own between its commits (`entry::store::merge_search_index`):
//!   when its queue is empty, and under steady load at least every [`MERGE_WHEN_BUSY`]. No
//!   commit of entries ever carries a merge, and no other connection commits for it.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection as _, TransactionManager as _};
use diesel::prelude::*;
use tokio::sync::{mpsc, oneshot};

use crate::db::schema::audit_entries;
use crate::db::{DatabaseTarget, DbConnection, DbPool};
use crate::entry::checkpoint::ChainSigner;
use crate::entry::store::{append_in_transaction, remember_heads, SignedHeadRow};
use crate::entry::NewAuditEntry;

/// The most entries one transaction commits when it carries no request's changes (a
/// transaction that does takes everything queued: its changes must not commit without them).
pub const MAX_BATCH: usize = 1_000;

/// Under steady load (the queue never empties), the least often the writer takes a step of
/// merging SQLite's search index after a commit.
pub const MERGE_WHEN_BUSY: Duration = Duration::from_millis(200);

/// The entry could not be stored; the request must not report success.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the audit entry could not be stored")]
pub struct WriteFailed;

/// Entries that are stored together or not at all (one request's entry, or an ingested batch).
struct Pending {
    entries: Vec<NewAuditEntry>,
    /// For entries that record changes made in the writer's open transaction: that
    /// transaction's number. They commit with it or not at all — never in another transaction.
    with_changes: Option<u64>,
    done: oneshot::Sender<Result<(), WriteFailed>>,
}

/// Announces every committed batch (its value counts them), so that deliveries to stream
/// destinations start as soon as there is something new.
pub type CommitSignal = Arc<tokio::sync::watch::Sender<u64>>;

/// A [`CommitSignal`] nobody listens to yet.
pub fn commit_signal() -> CommitSignal {
    Arc::new(tokio::sync::watch::channel(0).0)
}

/// The handle requests use to reach the writer's lanes.
///
/// A lane is a queue, a writer thread and its connection. SQLite has one (it has one writer at
/// a time anyway); PostgreSQL several, so that requests work and batches commit in parallel
/// (PostgreSQL flushes concurrent commits together). A request is bound to one lane by its
/// reservation, and its changes and its entry go through that lane.
#[derive(Clone)]
pub struct AuditWriter {
    lanes: Arc<[Lane]>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

struct Lane {
    sender: mpsc::Sender<Pending>,
    connection: Arc<tokio::sync::Mutex<WriteConnection>>,
}

/// A reserved place in one lane's queue.
pub struct Reservation {
    permit: mpsc::OwnedPermit<Pending>,
    lane: usize,
}

/// The writer's connection and the transaction open on it. Whoever holds it (a request doing
/// its work, or the writer committing) has this lane's write side to itself. It is opened like
/// the pool's connections but is not one of them.
pub struct WriteConnection {
    pool: DbPool,
    target: DatabaseTarget,
    conn: Option<DbConnection>,
    /// Whether a transaction is open (requests joined it; the writer commits it).
    open: bool,
    /// The number of the open transaction (or of the next one): it changes whenever one ends,
    /// committed or lost, so entries queued with changes can tell whether theirs still stands.
    transaction: u64,
    savepoint: Savepoint,
}

/// The savepoint of the last request that took the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Savepoint {
    None,
    /// Its request is working in it — or, seen by the next holder, gave up on it (failed, or was
    /// dropped before queueing its entry): rolled back.
    Open,
    /// Its request queued its entry: its changes stay, released into the transaction.
    Kept,
}

impl AuditWriter {
    /// Starts `lanes` writer threads (at least one). They stop once every handle is dropped and
    /// their queues are drained. `capacity` is shared out between the lanes.
    pub fn start(
        pool: DbPool,
        target: DatabaseTarget,
        capacity: usize,
        lanes: usize,
        signer: Arc<ChainSigner>,
        committed: CommitSignal,
    ) -> AuditWriter {
        let count = lanes.max(1);
        let lanes = (0..count)
            .map(|index| {
                let (sender, receiver) = mpsc::channel((capacity / count).max(1));
                let connection = Arc::new(tokio::sync::Mutex::new(WriteConnection {
                    pool: pool.clone(),
                    target: target.clone(),
                    conn: None,
                    open: false,
                    transaction: 0,
                    savepoint: Savepoint::None,
                }));
                let writer_connection = connection.clone();
                let signer = signer.clone();
                let committed = committed.clone();
                std::thread::Builder::new()
                    .name(format!("audit-writer-{index}"))
                    .spawn(move || run(&writer_connection, receiver, &signer, &committed))
                    .expect("the audit writer thread starts");
                Lane { sender, connection }
            })
            .collect();
        AuditWriter {
            lanes,
            next: Default::default(),
        }
    }

    /// A place in a queue, or `None` when every lane's is full (the server is overloaded).
    ///
    /// Entries of requests that change nothing go to the first lane, where they batch best (each
    /// batch costs a chain lock, a signature and the rollups' upserts); requests that change
    /// state take the other lanes in turn, so that their work runs in parallel.
    pub fn try_reserve(&self, changes_state: bool) -> Option<Reservation> {
        let first = match self.lanes.len() {
            1 => 0,
            _ if !changes_state => 0,
            lanes => 1 + self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % (lanes - 1),
        };
        (0..self.lanes.len())
            .map(|offset| (first + offset) % self.lanes.len())
            .find_map(|lane| {
                let permit = self.lanes[lane].sender.clone().try_reserve_owned().ok()?;
                Some(Reservation { permit, lane })
            })
    }

    /// A place in a queue for entries that record no changes, waiting up to `patience` for one.
    pub async fn reserve(&self, patience: Duration) -> Option<Reservation> {
        if let Some(reservation) = self.try_reserve(false) {
            return Some(reservation);
        }
        let lane = 0;
        let permit =
            tokio::time::timeout(patience, self.lanes[lane].sender.clone().reserve_owned())
                .await
                .ok()?
                .ok()?;
        Some(Reservation { permit, lane })
    }

    /// Places taken in each lane's queue.
    pub fn queue_depths(&self) -> Vec<usize> {
        self.lanes
            .iter()
            .map(|lane| lane.sender.max_capacity() - lane.sender.capacity())
            .collect()
    }

    /// A lane's connection, once every request before this one gave it back (`None` after
    /// `patience`).
    pub(crate) async fn take_connection(
        &self,
        lane: usize,
        patience: Duration,
    ) -> Option<tokio::sync::OwnedMutexGuard<WriteConnection>> {
        tokio::time::timeout(patience, self.lanes[lane].connection.clone().lock_owned())
            .await
            .ok()
    }

    /// Wakes a lane's writer so that it closes the open transaction (a request gave up without
    /// queueing an entry). A full queue wakes it anyway.
    pub(crate) fn wake(&self, lane: usize) {
        let (done, _) = oneshot::channel();
        let _ = self.lanes[lane].sender.try_send(Pending {
            entries: Vec::new(),
            with_changes: None,
            done,
        });
    }
}

impl Reservation {
    /// The lane whose queue this place is in.
    pub fn lane(&self) -> usize {
        self.lane
    }

    /// Queues the entries and waits until they are committed, all in one transaction.
    pub async fn commit(self, entries: Vec<NewAuditEntry>) -> Result<(), WriteFailed> {
        self.queue(entries, None).await.unwrap_or(Err(WriteFailed))
    }

    /// Queues entries; the receiver hears the outcome of their transaction.
    pub(crate) fn queue(
        self,
        entries: Vec<NewAuditEntry>,
        with_changes: Option<u64>,
    ) -> oneshot::Receiver<Result<(), WriteFailed>> {
        let (done, outcome) = oneshot::channel();
        self.permit.send(Pending {
            entries,
            with_changes,
            done,
        });
        outcome
    }
}

impl WriteConnection {
    /// Starts a request's savepoint, first opening the transaction if none is open (SQLite:
    /// `BEGIN IMMEDIATE`, so the write lock is taken up front and a later upgrade can never fail
    /// as busy) and settling the previous request's savepoint.
    pub(crate) fn enter_savepoint(&mut self) -> QueryResult<&mut DbConnection> {
        self.settle()?;
        let conn = self.conn.as_mut().expect("settle connects");
        match conn {
            DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction(c)?,
            DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
        }
        self.savepoint = Savepoint::Open;
        Ok(conn)
    }

    /// The connection, inside the savepoint [`Self::enter_savepoint`] started.
    pub(crate) fn conn(&mut self) -> Option<&mut DbConnection> {
        match self.savepoint {
            Savepoint::Open => self.conn.as_mut(),
            _ => None,
        }
    }

    /// Marks the savepoint's changes as kept: its request is about to queue its entry. Returns
    /// the number of the transaction they are in, to queue the entry with — or, when the
    /// request has no savepoint left to keep, a number no transaction has, so that its entry is
    /// refused rather than stored without its changes.
    pub(crate) fn keep_savepoint(&mut self) -> u64 {
        if self.savepoint == Savepoint::Open && self.open {
            self.savepoint = Savepoint::Kept;
            return self.transaction;
        }
        u64::MAX
    }

    /// Leaves the connection in an open transaction with no savepoint: connects if needed, begins
    /// a transaction if none is open, releases a kept savepoint and rolls back one left open.
    fn settle(&mut self) -> QueryResult<()> {
        self.connect()?;
        let outcome = self.settle_on_connection();
        if outcome.is_err() {
            self.discard();
        }
        outcome
    }

    /// Opens the connection if it is not (the last one failed, or none was opened yet).
    fn connect(&mut self) -> QueryResult<()> {
        if self.conn.is_none() {
            let conn = crate::db::establish(&self.target).map_err(|error| {
                diesel::result::Error::QueryBuilderError(
                    format!("no database connection for the writer: {error}").into(),
                )
            })?;
            self.conn = Some(conn);
            self.open = false;
            self.savepoint = Savepoint::None;
        }
        Ok(())
    }

    fn settle_on_connection(&mut self) -> QueryResult<()> {
        let conn = self.conn.as_mut().expect("connected");
        if !self.open {
            match conn {
                DbConnection::Sqlite(c) => {
                    AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
                }
                DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
            }
            self.open = true;
            self.savepoint = Savepoint::None;
            return Ok(());
        }
        match self.savepoint {
            Savepoint::None => {}
            Savepoint::Kept => match conn {
                DbConnection::Sqlite(c) => AnsiTransactionManager::commit_transaction(c)?,
                DbConnection::Postgres(c) => AnsiTransactionManager::commit_transaction(c)?,
            },
            Savepoint::Open => {
                match conn {
                    DbConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c)?,
                    DbConnection::Postgres(c) => AnsiTransactionManager::rollback_transaction(c)?,
                }
                // `ROLLBACK TO` keeps the savepoint itself; release it so that savepoints do not
                // pile up in a long transaction.
                conn.batch_execute("RELEASE SAVEPOINT diesel_savepoint_1")?;
            }
        }
        self.savepoint = Savepoint::None;
        Ok(())
    }

    /// Appends the entries and commits the open transaction (or a new one).
    fn commit(
        &mut self,
        entries: &mut [NewAuditEntry],
        signer: &ChainSigner,
    ) -> QueryResult<Vec<SignedHeadRow>> {
        self.settle()?;
        let conn = self.conn.as_mut().expect("connected");
        let outcome = append_in_transaction(conn, entries, signer).and_then(|heads| {
            match conn {
                DbConnection::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
                DbConnection::Postgres(c) => AnsiTransactionManager::commit_transaction(c),
            }
            .map(|()| heads)
        });
        match outcome {
            Ok(heads) => {
                self.open = false;
                self.transaction += 1;
                Ok(heads)
            }
            Err(error) => {
                self.discard();
                Err(error)
            }
        }
    }

    /// Takes one step of merging SQLite's search index, unless requests' changes are in the open
    /// transaction (their entries are queued: their batch comes first, and its commit makes the
    /// merging due again). Returns whether more steps may be needed; a failure is logged and ends
    /// the merging until the next commit.
    fn merge_search_index(&mut self) -> bool {
        if self.open {
            return false;
        }
        let merged = self.connect().and_then(|()| {
            crate::entry::store::merge_search_index(self.conn.as_mut().expect("connected"))
        });
        match merged {
            Ok(more) => more,
            Err(error) => {
                tracing::warn!(%error, "merging the search index failed; it is tried again after the next commit");
                false
            }
        }
    }

    /// Rolls back whatever is open and forgets the connection (it may be broken). Changes kept
    /// in the transaction are lost with it: their entries' requests fail.
    fn discard(&mut self) {
        if self.open {
            self.transaction += 1;
        }
        if let Some(mut conn) = self.conn.take() {
            if self.open {
                let _ = match &mut conn {
                    DbConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
                    DbConnection::Postgres(c) => AnsiTransactionManager::rollback_transaction(c),
                };
            }
        }
        self.open = false;
        self.savepoint = Savepoint::None;
    }
}

fn run(
    connection: &tokio::sync::Mutex<WriteConnection>,
    mut receiver: mpsc::Receiver<Pending>,
    signer: &ChainSigner,
    commit_signal: &CommitSignal,
) {
    // Whether SQLite's search index may hold segments to merge, and when a step last ran.
    let mut merge_due = false;
    let mut last_merge = std::time::Instant::now();
    loop {
        let first = if merge_due {
            match receiver.try_recv() {
                Ok(pending) => pending,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Idle: merge a step, then look at the queue again.
                    merge_due = connection.blocking_lock().merge_search_index();
                    last_merge = std::time::Instant::now();
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        } else {
            match receiver.blocking_recv() {
                Some(pending) => pending,
                None => break,
            }
        };
        // Holding the connection, no request can be between its changes and its entry: every
        // change in the open transaction has its entry queued by now.
        let mut connection = connection.blocking_lock();
        let mut queued = first.entries.len();
        let mut batch = vec![first];
        while queued < MAX_BATCH || connection.open {
            match receiver.try_recv() {
                Ok(pending) => {
                    queued += pending.entries.len();
                    batch.push(pending);
                }
                Err(_) => break,
            }
        }
        // Entries whose changes were in a transaction that has since been lost (a request could
        // not settle it, or a commit failed) are not stored: their requests fail.
        let (lost, kept): (Vec<_>, Vec<_>) = batch.into_iter().partition(|p| {
            p.with_changes
                .is_some_and(|number| !connection.open || number != connection.transaction)
        });
        batch = kept;
        if !lost.is_empty() {
            tracing::error!(
                requests = lost.len(),
                "a transaction of changes was lost before its commit; its requests fail"
            );
        }
        for pending in lost {
            let _ = pending.done.send(Err(WriteFailed));
        }
        let mut entries: Vec<NewAuditEntry> = batch
            .iter()
            .flat_map(|p| p.entries.iter().cloned())
            .collect();
        let started = std::time::Instant::now();
        let backend = connection.target.engine();
        let _span = tracing::info_span!(
            "writer_batch",
            requests = batch.len(),
            entries = entries.len(),
            backend
        )
        .entered();
        let committed = connection.commit(&mut entries, signer);
        let outcome = match committed {
            Ok(heads) => Ok(heads),
            Err(error) if batch.iter().any(|p| p.with_changes.is_some()) => {
                tracing::error!(cause_chain = %format!("{error:#}"), entries = entries.len(), "a transaction of changes and their entries failed");
                // The changes are gone: their requests fail. The other entries record requests
                // that changed nothing; they are stored on their own.
                let (with_changes, rest): (Vec<_>, Vec<_>) =
                    batch.into_iter().partition(|p| p.with_changes.is_some());
                for pending in with_changes {
                    let _ = pending.done.send(Err(WriteFailed));
                }
                batch = rest;
                entries = batch
                    .iter()
                    .flat_map(|p| p.entries.iter().cloned())
                    .collect();
                commit_with_retries(&mut connection, &mut entries, signer, 1)
            }
            Err(error) => {
                tracing::warn!(%error, attempt = 1, "audit batch failed; retrying");
                commit_with_retries(&mut connection, &mut entries, signer, 1)
            }
        };
        let outcome = outcome.map(|heads| remember_heads(signer, &heads));
        let metrics = crate::metrics::metrics();
        match &outcome {
            Ok(()) => {
                metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                metrics.batch_entries.observe(entries.len() as f64);
                metrics
                    .entries_written
                    .with_label_values(&[backend])
                    .inc_by(entries.len() as u64);
                if !entries.is_empty() {
                    commit_signal.send_modify(|batches| *batches = batches.wrapping_add(1));
                }
            }
            Err(_) => metrics.failed_batches.inc(),
        }
        if let Err(error) = &outcome {
            tracing::error!(cause_chain = %format!("{error:#}"), entries = entries.len(), "audit batch failed");
        }
        for pending in batch {
            let _ = pending
                .done
                .send(outcome.as_ref().map(|_| ()).map_err(|_| WriteFailed));
        }
        // The waiters have their answers; a merge step now delays only the next batch. Under
        // steady load it still runs now and then, so segments never pile up.
        merge_due |= outcome.is_ok()
            && !entries.is_empty()
            && matches!(connection.target, DatabaseTarget::Sqlite(_));
        if merge_due && last_merge.elapsed() >= MERGE_WHEN_BUSY {
            merge_due = connection.merge_search_index();
            last_merge = std::time::Instant::now();
        }
    }
}

/// Stores entries that record no changes, retrying a failed transaction (after `failed` failed
/// attempts) up to five attempts in all.
fn commit_with_retries(
    connection: &mut WriteConnection,
    entries: &mut [NewAuditEntry],
    signer: &ChainSigner,
    mut failed: u64,
) -> anyhow::Result<Vec<SignedHeadRow>> {
    loop {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // A commit whose answer was lost may have happened: never store a batch twice.
        if batch_is_stored(&connection.pool, entries) {
            return Ok(Vec::new());
        }
        std::thread::sleep(Duration::from_millis(20 * failed));
        match connection.commit(entries, signer) {
            Ok(heads) => return Ok(heads),
            Err(error) => {
                failed += 1;
                if failed >= 5 {
                    return Err(error.into());
                }
                tracing::warn!(%error, attempt = failed, "audit batch failed; retrying");
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
