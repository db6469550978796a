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

use auditlog_shared::wire::{AuditEntry, StreamKind, StreamMessage};
use auditlog_shared::{ActionMatch, AuditQuery, ResolvedRange};
use diesel::prelude::*;

use crate::audit_log::search::SearchAlso;
use crate::audit_log::{DbBackend, EntryRow};
use crate::audit_query::ValidatedQuery;
use crate::capture::catalog;
use crate::clock::Clock;
use crate::db::schema::{audit_entries, stream_destinations};
use crate::db::{DbConnection, DbPool};
use crate::streaming::destination::DestinationRow;
use crate::streaming::lease::{held_for_a_while, micros, record_failure, take_lease, LEASE};
use crate::streaming::send::{self, Answer, Target};
use crate::streaming::Streaming;

/// How often a caught-up task looks for entries no commit of this server announced (written by
/// another server on the same PostgreSQL), and how often the supervisor looks for new or
/// resumed destinations.
pub const POLL: Duration = Duration::from_secs(1);
/// Chain positions examined per step.
pub const SCAN: i64 = 5_000;
/// The most entries sent in one delivery.
pub const MAX_BATCH: i64 = 500;
/// How long a task that has sent everything there was waits before it looks again: new entries
/// gather into one delivery (and one cursor write) instead of one per commit.
pub const LINGER: Duration = Duration::from_millis(500);

/// Runs the deliveries of every destination of the database.
#[derive(Clone)]
pub struct Deliverer {
    pub streaming: Streaming,
    pub pool: DbPool,
    pub clock: Clock,
}

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

/// Runs database work on the blocking pool with a pooled connection.
pub(super) async fn blocking<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConnection) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
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

/// Where a destination's deliveries go; an error (a URL the policy now refuses, a stored value
/// that cannot be read) is recorded as the attempt's failure.
pub fn target(
    row: &DestinationRow,
    policy: crate::streaming::network::NetworkPolicy,
) -> Result<Target, String> {
    let kind = row.kind().map_err(|error| error.to_string())?;
    let url = match kind {
        StreamKind::Syslog => crate::streaming::syslog::check_url(policy, &row.url)?,
        _ => policy.check_url(&row.url)?,
    };
    Ok(Target {
        destination_id: Some(row.id),
        kind,
        url,
        secret: row.secret.clone(),
        headers: row.headers().map_err(|error| error.to_string())?,
        policy,
    })
}

/// What follows a cursor: the entries that pass a filter, in chain order.
pub(super) struct Scan {
    /// At most the asked number, all with `chain_seq <= through`.
    pub rows: Vec<EntryRow>,
    /// The chain position through which every entry was examined.
    pub through: i64,
    /// Whether entries after `through` were already seen.
    pub more: bool,
}

/// Reads the entries of a project after `cursor_seq` that pass `filter` (at most `max_rows`,
/// examining at most [`SCAN`] chain positions); `None` when nothing follows the cursor.
pub(super) fn scan(
    conn: &mut DbConnection,
    project_id: i64,
    cursor_seq: i64,
    filter: &str,
    max_rows: i64,
) -> anyhow::Result<Option<Scan>> {
    let candidates: Vec<(i64, i64)> = audit_entries::table
        .filter(audit_entries::project_id.eq(project_id))
        .filter(audit_entries::chain_seq.gt(cursor_seq))
        .order(audit_entries::chain_seq.asc())
        .select((audit_entries::id, audit_entries::chain_seq))
        .limit(SCAN)
        .load(conn)?;
    let Some(&(_, scanned_through)) = candidates.last() else {
        return Ok(None);
    };
    let ids: Vec<i64> = candidates.iter().map(|(id, _)| *id).collect();
    let validated = filter_query(conn, project_id, filter, &ids)?;
    // Candidates by id: the filters narrow a few thousand known rows, whatever the indexes. The
    // chain range repeats what the ids imply, so that no plan walks the chain from its start.
    let rows: Vec<EntryRow> = crate::audit_log::apply_dimension_filters!(
        audit_entries::table
            .filter(audit_entries::project_id.eq(project_id))
            .filter(audit_entries::chain_seq.gt(cursor_seq))
            .filter(audit_entries::chain_seq.le(scanned_through))
            .filter(audit_entries::id.eq_any(ids))
            .into_boxed::<DbBackend>(),
        &validated,
        None
    )
    .order(audit_entries::chain_seq.asc())
    .limit(max_rows)
    .select(EntryRow::as_select())
    .load(conn)?;
    let (through, more) = match rows.last() {
        Some(last) if rows.len() as i64 == max_rows => (last.chain_seq, true),
        _ => (scanned_through, candidates.len() as i64 == SCAN),
    };
    Ok(Some(Scan {
        rows,
        through,
        more,
    }))
}

/// A stored filter as a query the entry filters take: no window (every kept entry is in it),
/// and the search's and namespaces' values resolved for these candidates.
fn filter_query(
    conn: &mut DbConnection,
    project_id: i64,
    filter: &str,
    candidate_ids: &[i64],
) -> anyhow::Result<ValidatedQuery> {
    let query = AuditQuery::parse_filter(filter)
        .map_err(|error| anyhow::anyhow!("a stored filter cannot be read ({filter}): {error}"))?;
    let search_also = match &query.search {
        Some(term) => SearchAlso::resolve(conn, project_id, &term.as_str().to_lowercase())?,
        None => SearchAlso::default(),
    };
    let namespaces = query
        .action
        .include
        .iter()
        .chain(&query.action.exclude)
        .any(|action| matches!(action, ActionMatch::Namespace(_)));
    let ingested_actions = if namespaces {
        audit_entries::table
            .filter(audit_entries::id.eq_any(candidate_ids))
            .filter(audit_entries::action.like(format!("{}%", catalog::INGESTED_ACTION_PREFIX)))
            .select(audit_entries::action)
            .distinct()
            .load(conn)?
    } else {
        Vec::new()
    };
    Ok(ValidatedQuery {
        query,
        window: ResolvedRange {
            from: chrono::DateTime::UNIX_EPOCH,
            to: chrono::DateTime::<chrono::Utc>::MAX_UTC,
        },
        clamped_to_retention: false,
        search_index: None,
        search_also,
        ingested_actions,
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
