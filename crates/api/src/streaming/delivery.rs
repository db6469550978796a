//! The deliverer: one task per active destination, each a loop of "take the lease, read what
//! follows the cursor, send what the filter keeps, move the cursor".
//!
//! Invariants:
//! * The cursor moves only after a 2xx answer for everything up to it (or when nothing up to it
//!   passes the filter), and only by the lease holder: at least once, in chain order.
//! * A destination is delivered by one server at a time: the lease (`lease_owner`,
//!   `lease_until`, see `lease.rs`) is taken or renewed with one conditional `UPDATE` before
//!   every step, and every write of the cursor requires it.
//! * Database work runs on the blocking pool; a slow destination only holds its own task.

use std::collections::HashMap;
use std::time::Duration;

use auditlog_shared::wire::{AuditEntry, StreamMessage};
use diesel::prelude::*;

use crate::db::schema::stream_destinations;
use crate::db::DbConnection;
use crate::streaming::cursor::{blocking, scan, target, Scan, LINGER, POLL};
use crate::streaming::destination::DestinationRow;
use crate::streaming::lease::{held_for_a_while, micros, record_failure, take_lease, LEASE};
use crate::streaming::send::{self, Target};
use crate::streaming::{Answer, Deliverer};

/// The most entries sent in one delivery.
pub const MAX_BATCH: i64 = 500;
/// A background task: a destination's deliveries, or an alert's counting and notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Task {
    Destination(i64),
    Alert(i64),
}

/// What a destination's task does next.
enum Step {
    /// The destination is gone or paused: the task ends (the supervisor starts a new one on
    /// resume).
    Stop,
    /// Another server holds the lease, or a failure's pause is not over.
    Wait(Duration),
    /// Nothing after the cursor.
    CaughtUp,
    /// Nothing up to `through` passes the filter: only the cursor moves. `more` says whether
    /// entries after `through` were already seen.
    Advance { through: i64, more: bool },
    /// Send these, then move the cursor to `through`.
    Deliver {
        target: Result<Target, String>,
        messages: Vec<StreamMessage>,
        through: i64,
        more: bool,
    },
}

impl Deliverer {
    /// Supervises the tasks until dropped: starts one for each destination and alert that is
    /// active and has none (new, resumed, or whose task ended). Dropping it ends every task.
    pub async fn run(self) {
        let mut tasks = tokio::task::JoinSet::new();
        let mut running: HashMap<Task, tokio::task::AbortHandle> = HashMap::new();
        loop {
            while tasks.try_join_next().is_some() {}
            running.retain(|_, task| !task.is_finished());
            let active = blocking(&self.pool, |conn| {
                let destinations = active_destinations(conn)?;
                let alerts = crate::streaming::alerts::active_alerts(conn)?;
                Ok(destinations
                    .into_iter()
                    .map(Task::Destination)
                    .chain(alerts.into_iter().map(Task::Alert))
                    .collect::<Vec<_>>())
            })
            .await;
            match active {
                Ok(active) => {
                    for task in active {
                        if let std::collections::hash_map::Entry::Vacant(slot) = running.entry(task)
                        {
                            slot.insert(match task {
                                Task::Destination(id) => tasks.spawn(self.clone().deliver_to(id)),
                                Task::Alert(id) => tasks
                                    .spawn(crate::streaming::alerts::run_alert(self.clone(), id)),
                            });
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(cause_chain = %format!("{error:#}"), "stream destinations and alerts could not be listed")
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Delivers one destination until it is deleted or paused.
    async fn deliver_to(self, id: i64) {
        let mut commits = self.streaming.committed.subscribe();
        loop {
            commits.borrow_and_update();
            let (owner, now) = (self.streaming.server_id.clone(), self.clock.now_micros());
            let policy = self.streaming.policy;
            let step = blocking(&self.pool, move |conn| {
                next_step(conn, id, &owner, now, policy)
            })
            .await;
            let step = match step {
                Ok(step) => step,
                Err(error) => {
                    tracing::warn!(destination = id, cause_chain = %format!("{error:#}"), "a stream delivery step failed");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let more;
            let outcome = match step {
                Step::Stop => return,
                Step::Wait(pause) => {
                    tokio::time::sleep(pause).await;
                    continue;
                }
                Step::CaughtUp => {
                    tokio::select! {
                        _ = commits.changed() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                    continue;
                }
                Step::Advance {
                    through,
                    more: seen_more,
                } => {
                    more = seen_more;
                    Outcome {
                        through,
                        delivered: 0,
                        error: None,
                    }
                }
                Step::Deliver {
                    target,
                    messages,
                    through,
                    more: seen_more,
                } => {
                    more = seen_more;
                    let error = match target {
                        Ok(target) => {
                            let answer: Answer = send::send(
                                &self.streaming.client,
                                &target,
                                &messages,
                                self.clock.now(),
                            )
                            .await;
                            answer.error()
                        }
                        Err(error) => Some(error),
                    };
                    if let Some(error) = &error {
                        tracing::warn!(destination = id, %error, "a stream delivery failed");
                    }
                    let metrics = crate::metrics::metrics();
                    match &error {
                        None => {
                            metrics
                                .stream_deliveries
                                .with_label_values(&["delivered"])
                                .inc();
                            metrics.stream_entries.inc_by(messages.len() as u64);
                        }
                        Some(_) => metrics
                            .stream_deliveries
                            .with_label_values(&["failed"])
                            .inc(),
                    }
                    Outcome {
                        through,
                        delivered: messages.len() as i64,
                        error,
                    }
                }
            };
            let owner = self.streaming.server_id.clone();
            let (now, retry_max) = (self.clock.now_micros(), self.streaming.retry_max);
            let failed = outcome.error.is_some();
            if let Err(error) = blocking(&self.pool, move |conn| {
                record(conn, id, &owner, now, &outcome, retry_max)
            })
            .await
            {
                tracing::warn!(destination = id, cause_chain = %format!("{error:#}"), "a stream delivery could not be recorded");
                tokio::time::sleep(POLL).await;
            } else if !more && !failed {
                tokio::time::sleep(LINGER).await;
            }
        }
    }
}

/// What an attempt achieved.
struct Outcome {
    through: i64,
    delivered: i64,
    error: Option<String>,
}

fn active_destinations(conn: &mut DbConnection) -> anyhow::Result<Vec<i64>> {
    Ok(stream_destinations::table
        .filter(stream_destinations::paused.eq(false))
        .select(stream_destinations::id)
        .load(conn)?)
}

/// Takes or renews the lease, then finds what to do.
fn next_step(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    now: i64,
    policy: crate::streaming::network::NetworkPolicy,
) -> anyhow::Result<Step> {
    use stream_destinations::dsl;
    let load = |conn: &mut DbConnection| -> QueryResult<Option<DestinationRow>> {
        dsl::stream_destinations
            .find(id)
            .select(DestinationRow::as_select())
            .first(conn)
            .optional()
    };
    let Some(mut row) = load(conn)?.filter(|row| !row.paused) else {
        return Ok(Step::Stop);
    };
    if !held_for_a_while(row.lease_owner.as_deref(), row.lease_until, owner, now) {
        if !take_lease!(conn, stream_destinations, id, owner, now)? {
            return Ok(Step::Wait(POLL));
        }
        match load(conn)?.filter(|row| !row.paused) {
            Some(taken) => row = taken,
            None => return Ok(Step::Stop),
        }
    }
    if let Some(next) = row.next_attempt_at.filter(|next| *next > now) {
        let pause = Duration::from_micros((next - now) as u64);
        return Ok(Step::Wait(pause.min(LEASE / 3)));
    }

    let Some(Scan {
        rows,
        through,
        more,
    }) = scan(conn, row.project_id, row.cursor_seq, &row.filter, MAX_BATCH)?
    else {
        return Ok(Step::CaughtUp);
    };
    if rows.is_empty() {
        return Ok(Step::Advance { through, more });
    }
    let project_id = row.project_id;
    let messages = rows
        .into_iter()
        .map(|entry| StreamMessage::Entry {
            event_id: format!("{project_id}:{}", entry.id),
            project_id,
            entry: Box::new(AuditEntry::from(entry)),
        })
        .collect();
    Ok(Step::Deliver {
        target: target(&row, policy),
        messages,
        through,
        more,
    })
}

/// Records an attempt: on success the cursor moves and the failures are forgotten; on failure
/// the error is kept and the next attempt waits (doubling from one second, with jitter, up to
/// `retry_max`). Nothing is written unless this server still holds the lease.
fn record(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    now: i64,
    outcome: &Outcome,
    retry_max: Duration,
) -> anyhow::Result<()> {
    use stream_destinations::dsl;
    let mine = dsl::stream_destinations
        .filter(dsl::id.eq(id))
        .filter(dsl::lease_owner.eq(owner));
    let lease_until = now + micros(LEASE);
    match &outcome.error {
        None if outcome.delivered == 0 => {
            diesel::update(mine.filter(dsl::cursor_seq.lt(outcome.through)))
                .set((
                    dsl::cursor_seq.eq(outcome.through),
                    dsl::lease_until.eq(lease_until),
                ))
                .execute(conn)?;
        }
        None => {
            diesel::update(mine.filter(dsl::cursor_seq.lt(outcome.through)))
                .set((
                    dsl::cursor_seq.eq(outcome.through),
                    dsl::delivered_entries.eq(dsl::delivered_entries + outcome.delivered),
                    dsl::last_delivery_at.eq(Some(now)),
                    dsl::consecutive_failures.eq(0),
                    dsl::next_attempt_at.eq(None::<i64>),
                    dsl::lease_until.eq(lease_until),
                ))
                .execute(conn)?;
        }
        Some(error) => {
            record_failure!(conn, stream_destinations, id, owner, now, error, retry_max)?;
        }
    }
    Ok(())
}
