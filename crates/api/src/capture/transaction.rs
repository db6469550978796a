//! The transaction of a state-changing request: its changes and its audit entry commit together
//! or not at all, in the writer's group commit (see `writer.rs`).
//!
//! A request takes the writer's connection when its handler first touches the database, works in
//! a savepoint of the writer's open transaction, and gives the connection back only once its
//! entry is queued (it succeeded) or its savepoint is left to be rolled back (it failed, or it
//! was dropped half-way: a client that went away). Requests therefore take turns on the write
//! side — as SQLite's one writer requires anyway — while the disk flush is shared.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use tokio::sync::OwnedMutexGuard;

use crate::capture::writer::{AuditWriter, Reservation, WriteConnection};
use crate::db::DbConnection;
use crate::entry::NewAuditEntry;
use crate::error::ApiError;

/// How long a state-changing request waits for its turn on the write side before it is
/// answered 503.
pub const WRITE_PATIENCE: Duration = Duration::from_secs(2);

/// The open transaction of a state-changing request. Clones share it.
#[derive(Clone)]
pub struct RequestTransaction(Arc<Mutex<Turn>>);

/// A request's turn on the writer's connection.
struct Turn {
    writer: AuditWriter,
    /// The writer lane of the request's reservation: its changes and its entry go through it.
    lane: usize,
    /// Held from the handler's first database work until the request is finished.
    connection: Option<OwnedMutexGuard<WriteConnection>>,
    /// Whether its savepoint was started (and may hold changes).
    joined: bool,
    finished: bool,
}

impl RequestTransaction {
    /// A transaction that takes the write side of the lane of `reservation` (the request's
    /// place in the writer's queue) on its first [`Self::run`].
    pub fn new(writer: &AuditWriter, reservation: &Reservation) -> RequestTransaction {
        RequestTransaction(Arc::new(Mutex::new(Turn {
            writer: writer.clone(),
            lane: reservation.lane(),
            connection: None,
            joined: false,
            finished: false,
        })))
    }

    /// Runs work in the request's savepoint, waiting for the write side first if this is the
    /// request's first work (503 past [`WRITE_PATIENCE`]).
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (held, writer, joined) = {
            let mut turn = self.lock();
            if turn.finished {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "the request transaction has ended"
                )));
            }
            (
                turn.connection.take(),
                (turn.writer.clone(), turn.lane),
                turn.joined,
            )
        };
        let connection = match held {
            Some(connection) => connection,
            None if joined => {
                // A concurrent `run` of the same request holds it; requests run their work
                // one step after another, so this does not happen.
                return Err(ApiError::internal(anyhow::anyhow!(
                    "the request transaction is busy"
                )));
            }
            None => {
                let asked = std::time::Instant::now();
                let metrics = crate::metrics::metrics();
                let taken = writer.0.take_connection(writer.1, WRITE_PATIENCE).await;
                metrics
                    .write_wait_seconds
                    .observe(asked.elapsed().as_secs_f64());
                taken.ok_or_else(|| {
                    metrics.shed.with_label_values(&["write_wait"]).inc();
                    ApiError::Overloaded
                })?
            }
        };
        // Marked before the work runs: if this future is dropped meanwhile, the savepoint it
        // may have started is still rolled back and the writer woken.
        self.lock().joined = true;
        let (connection, outcome) = web::block(move || {
            let mut connection = connection;
            // The request's own savepoint: started on its first work (whatever the previous
            // holder left is settled first), still open on later work.
            let conn = if joined {
                connection.conn().ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!("the request's savepoint has ended"))
                })
            } else {
                connection
                    .enter_savepoint()
                    .map_err(|error| ApiError::Unavailable(anyhow::Error::new(error)))
            };
            let outcome = conn.and_then(work);
            (connection, outcome)
        })
        .await
        .map_err(ApiError::internal)?;
        self.lock().connection = Some(connection);
        outcome
    }

    /// Queues the request's entries (its own last) with its changes and waits for their commit.
    /// A request that changed nothing queues its entries like any other.
    pub async fn finish(
        &self,
        entries: Vec<NewAuditEntry>,
        reservation: Reservation,
    ) -> anyhow::Result<()> {
        let outcome = {
            let mut turn = self.lock();
            // Its entry must go through the lane its changes are in.
            assert_eq!(turn.lane, reservation.lane(), "one lane per request");
            turn.finished = true;
            match turn.connection.take() {
                Some(mut connection) => {
                    let transaction = connection.keep_savepoint();
                    // Queued before the connection is given back: the writer, which commits
                    // only while holding it, finds the entry with the changes.
                    let outcome = reservation.queue(entries, Some(transaction));
                    drop(connection);
                    outcome
                }
                None => reservation.queue(entries, None),
            }
        };
        outcome
            .await
            .unwrap_or(Err(crate::capture::writer::WriteFailed))
            .map_err(anyhow::Error::new)
    }

    /// Gives up the request's changes: the savepoint is rolled back by the next holder of the
    /// write side (the writer, woken by the failure's own entry, at the latest).
    pub fn abandon(&self) {
        let mut turn = self.lock();
        turn.finished = true;
        turn.connection = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Turn> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // Dropped half-way (its client went away): nothing else will queue an entry that makes
        // the writer close the transaction this request's savepoint is in.
        if self.joined && !self.finished {
            self.connection = None;
            self.writer.wake(self.lane);
        }
    }
}

impl std::fmt::Debug for RequestTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestTransaction")
    }
}
