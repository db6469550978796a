//! Alerts: a filter (and optionally a recorded change) counted against a condition over a
//! project's entries in chain order; each firing is sent to a stream destination.
//!
//! Invariants:
//! * An alert's cursor, its counting state (`window_state`) and the firings they produce are
//!   written in one transaction, by the lease holder, and only if the cursor is still where the
//!   evaluation started: an entry is counted once, so a condition fires exactly once per window,
//!   across restarts, crashes and several servers.
//! * Firings are decided by the entries alone (their order and timestamps), never by when the
//!   evaluation runs: a late or restarted evaluation fires the same firings.
//! * Notifications are sent at least once, in firing order; a firing's `event_id`
//!   (`<project>:alert:<firing id>`) lets receivers de-duplicate. A paused destination holds
//!   them back; a failing one backs off like an entry delivery. Neither stops the counting.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use auditlog_shared::wire::{
    AlertChange, AlertCondition, AlertFiring, AlertGroupBy, AlertNotification, AlertRule,
    AuditEntry, FieldChange, StreamMessage, StreamStatus,
};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit_log::EntryRow;
use crate::clock::from_micros;
use crate::db::schema::{alert_firings, alert_rules, audit_entries, stream_destinations};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::streaming::cursor::{self, blocking, scan, Scan, POLL};
use crate::streaming::destination::{DestinationRow, FAILING_AFTER};
use crate::streaming::lease::{held_for_a_while, micros, record_failure, take_lease, LEASE};
use crate::streaming::send::{self, Target};
use crate::streaming::Deliverer;

/// The most alerts one project may have.
pub const MAX_ALERTS: i64 = 50;
/// The most entry ids a firing keeps (and entries a notification carries).
pub const MAX_FIRING_ENTRIES: usize = 20;
/// The most groups a threshold keeps counting at once; beyond it, the groups whose latest match
/// is oldest are forgotten.
pub const MAX_GROUPS: usize = 10_000;
/// The most matches a threshold keeps across its groups (its stored state stays under about
/// 2 MB); beyond it, too, the groups whose latest match is oldest are forgotten.
pub const MAX_KEPT_MATCHES: usize = 50_000;
/// How far out of order entries' timestamps may be in chain order (an entry is chained when its
/// request ends, stamped when it began); state is kept this much longer than its window, so
/// counting in pieces fires exactly as counting at once.
const DISORDER_MICROS: i64 = 3_600 * 1_000_000;
/// The most firings sent in one notification.
const MAX_NOTIFICATIONS: i64 = 50;

/// A stored alert.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = alert_rules)]
pub struct AlertRow {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub filter: String,
    pub changed_field: Option<String>,
    pub changed_to: Option<String>,
    pub condition: String,
    pub destination_id: i64,
    pub paused: bool,
    pub cursor_seq: i64,
    pub window_state: String,
    pub fired_count: i64,
    pub last_fired_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub consecutive_failures: i32,
    pub next_attempt_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub created_by_name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AlertRow {
    /// The stored condition; text this server cannot read is an error, never a default.
    pub fn condition(&self) -> anyhow::Result<AlertCondition> {
        serde_json::from_str(&self.condition).map_err(|error| {
            anyhow::anyhow!("alert {} has an unreadable condition: {error}", self.id)
        })
    }

    pub fn changed(&self) -> Option<AlertChange> {
        self.changed_field.as_ref().map(|field| AlertChange {
            field: field.clone(),
            to: self.changed_to.clone(),
        })
    }

    /// The alert as clients see it.
    pub fn to_wire(
        &self,
        destination_name: String,
        pending_notifications: i64,
    ) -> anyhow::Result<AlertRule> {
        let condition = self.condition()?;
        Ok(AlertRule {
            id: self.id,
            name: self.name.clone(),
            filter: self.filter.clone(),
            changed: self.changed(),
            condition_text: condition.describe(),
            condition,
            destination_id: self.destination_id,
            destination_name,
            paused: self.paused,
            status: if self.paused {
                StreamStatus::Paused
            } else if self.consecutive_failures >= FAILING_AFTER {
                StreamStatus::Failing
            } else if self.consecutive_failures > 0 {
                StreamStatus::Retrying
            } else {
                StreamStatus::Active
            },
            evaluated_through_seq: self.cursor_seq,
            fired_count: self.fired_count,
            last_fired_at: self.last_fired_at.map(from_micros),
            pending_notifications,
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at.map(from_micros),
            created_by: self.created_by_name.clone(),
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

/// A stored firing.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = alert_firings)]
pub struct FiringRow {
    pub id: i64,
    pub alert_id: i64,
    pub project_id: i64,
    pub fired_at: i64,
    pub group_key: Option<String>,
    pub group_label: Option<String>,
    pub match_count: i64,
    pub first_entry_at: i64,
    pub last_entry_at: i64,
    pub entry_ids: String,
    pub notified_at: Option<i64>,
}

impl FiringRow {
    pub fn entry_ids(&self) -> Vec<i64> {
        serde_json::from_str(&self.entry_ids).unwrap_or_default()
    }

    /// The firing as clients see it; `public_url` makes the view's link absolute.
    pub fn to_wire(&self, filter: &str, public_url: Option<&str>) -> AlertFiring {
        AlertFiring {
            id: self.id,
            alert_id: self.alert_id,
            fired_at: from_micros(self.fired_at),
            group: self.group_key.clone(),
            group_label: self.group_label.clone(),
            match_count: self.match_count,
            first_entry_at: from_micros(self.first_entry_at),
            last_entry_at: from_micros(self.last_entry_at),
            entry_ids: self.entry_ids(),
            view_url: view_url(
                public_url,
                self.project_id,
                filter,
                self.first_entry_at,
                self.last_entry_at,
            ),
            notified_at: self.notified_at.map(from_micros),
        }
    }
}

/// The dashboard's audit-log view of `filter` from `first` through `last` (microseconds):
/// absolute with the server's public URL, a path without it.
pub fn view_url(
    public_url: Option<&str>,
    project_id: i64,
    filter: &str,
    first: i64,
    last: i64,
) -> String {
    let instant =
        |micros: i64| from_micros(micros).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // Whole seconds around the entries: `from` rounds down, `to` (exclusive) rounds up.
    let from = instant(first.div_euclid(1_000_000) * 1_000_000);
    let to = instant((last.div_euclid(1_000_000) + 1) * 1_000_000);
    let mut query = format!("from={from}&to={to}");
    if !filter.is_empty() {
        query = format!("{query}&{filter}");
    }
    format!(
        "{}/projects/{project_id}/security/audit-logs?{query}",
        public_url.unwrap_or("")
    )
}

/// A matching entry, as the condition counts it.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    pub id: i64,
    pub ts: i64,
    pub group: Option<String>,
    /// How people read the group (see [`AlertFiring::group_label`]).
    pub label: Option<String>,
}

/// A firing decided, not yet stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewFiring {
    pub group: Option<String>,
    pub label: Option<String>,
    pub match_count: i64,
    pub first_entry_at: i64,
    pub last_entry_at: i64,
    pub entry_ids: Vec<i64>,
}

/// The counting state of a threshold: each group's recent matches (oldest first), and until
/// when a group that fired is quiet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowState {
    #[serde(default)]
    groups: BTreeMap<String, GroupState>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct GroupState {
    /// `(timestamp, entry id)` of the matches within the window, oldest first.
    #[serde(default)]
    matches: VecDeque<(i64, i64)>,
    /// A group that fired ignores matches before this instant.
    #[serde(default)]
    quiet_until: Option<i64>,
}

impl WindowState {
    pub fn parse(text: &str) -> anyhow::Result<WindowState> {
        if text.is_empty() {
            return Ok(WindowState::default());
        }
        Ok(serde_json::from_str(text)?)
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("plain data serializes")
    }

    /// Counts `matches` (in chain order) against the condition and returns what fires.
    ///
    /// * `any`: every match fires.
    /// * `threshold`: a match joins its group's window (matches older than the window are
    ///   dropped); when the group holds `count` matches it fires with them, forgets them, and
    ///   ignores further matches until `window_seconds` after the match that fired it.
    pub fn count(&mut self, condition: &AlertCondition, matches: &[Match]) -> Vec<NewFiring> {
        let (count, window) = match condition {
            AlertCondition::Any => {
                return matches
                    .iter()
                    .map(|found| NewFiring {
                        group: found.group.clone(),
                        label: found.label.clone(),
                        match_count: 1,
                        first_entry_at: found.ts,
                        last_entry_at: found.ts,
                        entry_ids: vec![found.id],
                    })
                    .collect()
            }
            AlertCondition::Threshold {
                count,
                window_seconds,
                ..
            } => (*count as usize, i64::from(*window_seconds) * 1_000_000),
        };
        let mut fired = Vec::new();
        let mut latest = i64::MIN;
        for found in matches {
            latest = latest.max(found.ts);
            let key = found.group.clone().unwrap_or_default();
            let group = self.groups.entry(key).or_default();
            if group.quiet_until.is_some_and(|until| found.ts < until) {
                continue;
            }
            group.quiet_until = None;
            group.matches.retain(|(ts, _)| *ts > found.ts - window);
            group.matches.push_back((found.ts, found.id));
            if group.matches.len() >= count {
                let first = group
                    .matches
                    .iter()
                    .map(|(ts, _)| *ts)
                    .min()
                    .unwrap_or(found.ts);
                // Entries are chained when their requests end: the one that fired is not always
                // the latest stamped.
                let last = group
                    .matches
                    .iter()
                    .map(|(ts, _)| *ts)
                    .max()
                    .unwrap_or(found.ts);
                fired.push(NewFiring {
                    group: found.group.clone(),
                    label: found.label.clone(),
                    match_count: group.matches.len() as i64,
                    first_entry_at: first,
                    last_entry_at: last,
                    entry_ids: group
                        .matches
                        .iter()
                        .map(|(_, id)| *id)
                        .take(MAX_FIRING_ENTRIES)
                        .collect(),
                });
                group.matches.clear();
                group.quiet_until = Some(found.ts + window);
            }
        }
        if latest != i64::MIN {
            self.forget_old(latest, window);
        }
        fired
    }

    /// Drops what can no longer matter at `latest`: matches out of the window, groups with none
    /// left that are not quiet, and beyond [`MAX_GROUPS`] or [`MAX_KEPT_MATCHES`] the groups
    /// with the fewest matches, oldest first (with
    /// [`DISORDER_MICROS`] to spare for entries chained out of timestamp order).
    fn forget_old(&mut self, latest: i64, window: i64) {
        let horizon = latest.saturating_sub(DISORDER_MICROS);
        self.groups.retain(|_, group| {
            group.matches.retain(|(ts, _)| *ts > horizon - window);
            !group.matches.is_empty() || group.quiet_until.is_some_and(|until| until > horizon)
        });
        let kept = |groups: &BTreeMap<String, GroupState>| -> usize {
            groups.values().map(|group| group.matches.len()).sum()
        };
        if self.groups.len() > MAX_GROUPS || kept(&self.groups) > MAX_KEPT_MATCHES {
            let newest = |group: &GroupState| {
                group
                    .matches
                    .back()
                    .map(|(ts, _)| *ts)
                    .into_iter()
                    .chain(group.quiet_until)
                    .max()
                    .unwrap_or(i64::MIN)
            };
            // The groups closest to firing are kept: flooding the alert with many groups of one
            // match each (addresses, say) evicts those, not a group that is counting up.
            let mut ages: Vec<(usize, i64, String)> = self
                .groups
                .iter()
                .map(|(key, group)| (group.matches.len(), newest(group), key.clone()))
                .collect();
            ages.sort();
            let mut total = kept(&self.groups);
            for (_, _, key) in ages {
                if self.groups.len() <= MAX_GROUPS && total <= MAX_KEPT_MATCHES {
                    break;
                }
                if let Some(group) = self.groups.remove(&key) {
                    total -= group.matches.len();
                }
            }
        }
    }
}

/// The value a threshold groups an entry by, and how people read it: `None` for an entry
/// without one (no client address), which the grouped condition does not count. An actor or
/// resource without an id (an ingested event's external user) is told apart by its recorded
/// email or name, never lumped with every other one of its kind.
fn group_of(row: &EntryRow, group_by: AlertGroupBy) -> Option<(String, String)> {
    let keyed = |kind: &str, id: Option<i64>, name: &str| match id {
        Some(id) => format!("{kind}:{id}"),
        None => format!("{kind}:{}", name.to_lowercase()),
    };
    match group_by {
        AlertGroupBy::Actor => Some((
            keyed(
                &row.actor_kind,
                row.actor_id,
                row.actor_email.as_deref().unwrap_or(&row.actor_name),
            ),
            row.actor_name.clone(),
        )),
        AlertGroupBy::Resource => Some((
            keyed(
                row.resource_type.0.as_str(),
                row.resource_id,
                &row.resource_name,
            ),
            row.resource_name.clone(),
        )),
        AlertGroupBy::ClientIp => row
            .client_ip
            .clone()
            .filter(|address| !address.is_empty())
            .map(|address| (address.clone(), address)),
    }
}

/// Whether an entry has the recorded change an alert asks for.
fn has_change(row: &EntryRow, changed: &AlertChange) -> bool {
    let Some(text) = &row.changes else {
        return false;
    };
    serde_json::from_str::<Vec<FieldChange>>(text).is_ok_and(|changes| changed.matches(&changes))
}

/// Loads an alert of the project (404 for another project's, or none).
pub fn load(conn: &mut DbConnection, project_id: i64, id: i64) -> Result<AlertRow, ApiError> {
    Ok(alert_rules::table
        .filter(alert_rules::id.eq(id))
        .filter(alert_rules::project_id.eq(project_id))
        .select(AlertRow::as_select())
        .first(conn)?)
}

/// How many of an alert's firings wait for their notification.
pub fn pending_notifications(conn: &mut DbConnection, alert_id: i64) -> QueryResult<i64> {
    alert_firings::table
        .filter(alert_firings::alert_id.eq(alert_id))
        .filter(alert_firings::notified_at.is_null())
        .count()
        .get_result(conn)
}

/// What an alert's task does next.
enum Step {
    Stop,
    Wait(Duration),
    CaughtUp,
    /// Entries were counted (and firings stored); `more` says whether more wait.
    Counted {
        more: bool,
    },
    /// Send these notifications, then mark `firing_ids` notified.
    Notify {
        target: Result<Target, String>,
        messages: Vec<StreamMessage>,
        firing_ids: Vec<i64>,
    },
}

/// Runs one alert's counting and notifications until it is deleted or paused.
pub async fn run_alert(deliverer: Deliverer, id: i64) {
    let mut commits = deliverer.streaming.committed.subscribe();
    loop {
        commits.borrow_and_update();
        let owner = deliverer.streaming.server_id.clone();
        let now = deliverer.clock.now_micros();
        let policy = deliverer.streaming.policy;
        let public_url = deliverer.streaming.public_url.clone();
        let step = blocking(&deliverer.pool, move |conn| {
            next_step(conn, id, &owner, now, policy, public_url.as_deref())
        })
        .await;
        let step = match step {
            Ok(step) => step,
            Err(error) => {
                tracing::warn!(alert = id, cause_chain = %format!("{error:#}"), "an alert step failed");
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        match step {
            Step::Stop => return,
            Step::Wait(pause) => tokio::time::sleep(pause).await,
            Step::CaughtUp => {
                tokio::select! {
                    _ = commits.changed() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
            Step::Counted { more } => {
                if !more {
                    tokio::time::sleep(cursor::LINGER).await;
                }
            }
            Step::Notify {
                target,
                messages,
                firing_ids,
            } => {
                let error = match target {
                    Ok(target) => send::send(
                        &deliverer.streaming.client,
                        &target,
                        &messages,
                        deliverer.clock.now(),
                    )
                    .await
                    .error(),
                    Err(error) => Some(error),
                };
                if let Some(error) = &error {
                    tracing::warn!(alert = id, %error, "an alert notification failed");
                }
                let outcome = if error.is_some() {
                    "failed"
                } else {
                    "delivered"
                };
                crate::metrics::metrics()
                    .alert_notifications
                    .with_label_values(&[outcome])
                    .inc();
                let owner = deliverer.streaming.server_id.clone();
                let now = deliverer.clock.now_micros();
                let retry_max = deliverer.streaming.retry_max;
                if let Err(error) = blocking(&deliverer.pool, move |conn| {
                    record_notification(conn, id, &owner, now, &firing_ids, error, retry_max)
                })
                .await
                {
                    tracing::warn!(alert = id, cause_chain = %format!("{error:#}"), "an alert notification could not be recorded");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }
}

/// The ids of the alerts that are not paused.
pub fn active_alerts(conn: &mut DbConnection) -> anyhow::Result<Vec<i64>> {
    Ok(alert_rules::table
        .filter(alert_rules::paused.eq(false))
        .select(alert_rules::id)
        .load(conn)?)
}

/// Takes or renews the lease, then sends waiting notifications or counts the next entries.
fn next_step(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    now: i64,
    policy: crate::streaming::network::NetworkPolicy,
    public_url: Option<&str>,
) -> anyhow::Result<Step> {
    use alert_rules::dsl;
    let load = |conn: &mut DbConnection| -> QueryResult<Option<AlertRow>> {
        dsl::alert_rules
            .find(id)
            .select(AlertRow::as_select())
            .first(conn)
            .optional()
    };
    let Some(mut row) = load(conn)?.filter(|row| !row.paused) else {
        return Ok(Step::Stop);
    };
    if !held_for_a_while(row.lease_owner.as_deref(), row.lease_until, owner, now) {
        if !take_lease!(conn, alert_rules, id, owner, now)? {
            return Ok(Step::Wait(POLL));
        }
        match load(conn)?.filter(|row| !row.paused) {
            Some(taken) => row = taken,
            None => return Ok(Step::Stop),
        }
    }

    // Waiting notifications go first, unless their destination is paused or backing off.
    let destination: DestinationRow = stream_destinations::table
        .find(row.destination_id)
        .select(DestinationRow::as_select())
        .first(conn)?;
    let notify_due = !destination.paused && row.next_attempt_at.is_none_or(|next| next <= now);
    if notify_due {
        let pending: Vec<FiringRow> = alert_firings::table
            .filter(alert_firings::alert_id.eq(id))
            .filter(alert_firings::notified_at.is_null())
            .order(alert_firings::id.asc())
            .limit(MAX_NOTIFICATIONS)
            .select(FiringRow::as_select())
            .load(conn)?;
        if !pending.is_empty() {
            let condition = row.condition()?.describe();
            let mut messages = Vec::with_capacity(pending.len());
            for firing in &pending {
                let ids = firing.entry_ids();
                // Entries past retention are gone; the firing is sent with those still kept.
                let entries: Vec<EntryRow> = audit_entries::table
                    .filter(audit_entries::project_id.eq(row.project_id))
                    .filter(audit_entries::id.eq_any(&ids))
                    .order(audit_entries::chain_seq.asc())
                    .select(EntryRow::as_select())
                    .load(conn)?;
                messages.push(StreamMessage::Alert(Box::new(AlertNotification {
                    event_id: format!("{}:alert:{}", row.project_id, firing.id),
                    project_id: row.project_id,
                    alert_id: row.id,
                    alert_name: row.name.clone(),
                    condition: condition.clone(),
                    firing: firing.to_wire(&row.filter, public_url),
                    entries: entries.into_iter().map(AuditEntry::from).collect(),
                })));
            }
            return Ok(Step::Notify {
                target: cursor::target(&destination, policy),
                messages,
                firing_ids: pending.iter().map(|firing| firing.id).collect(),
            });
        }
    }

    let Some(Scan {
        rows,
        through,
        more,
    }) = scan(
        conn,
        row.project_id,
        row.cursor_seq,
        &row.filter,
        cursor::SCAN,
    )?
    else {
        return Ok(Step::CaughtUp);
    };
    let condition = row.condition()?;
    let group_by = match &condition {
        AlertCondition::Threshold { group_by, .. } => *group_by,
        AlertCondition::Any => None,
    };
    let changed = row.changed();
    let matches: Vec<Match> = rows
        .iter()
        .filter(|entry| {
            changed
                .as_ref()
                .is_none_or(|changed| has_change(entry, changed))
        })
        .filter_map(|entry| {
            let (group, label) = match group_by {
                Some(group_by) => {
                    let (group, label) = group_of(entry, group_by)?;
                    (Some(group), Some(label))
                }
                None => (None, None),
            };
            Some(Match {
                id: entry.id,
                ts: entry.ts,
                group,
                label,
            })
        })
        .collect();
    let mut state = WindowState::parse(&row.window_state)?;
    let fired = state.count(&condition, &matches);
    // The state (up to a couple of megabytes) is written again only when it changed.
    let state_text = state.to_text();
    let new_state = (state_text != row.window_state).then_some(state_text);
    let (cursor, project_id) = (row.cursor_seq, row.project_id);
    crate::db::write_transaction(conn, |conn| -> anyhow::Result<()> {
        let moved = diesel::update(
            dsl::alert_rules
                .filter(dsl::id.eq(id))
                .filter(dsl::lease_owner.eq(owner))
                .filter(dsl::cursor_seq.eq(cursor)),
        )
        .set((
            dsl::cursor_seq.eq(through),
            dsl::fired_count.eq(dsl::fired_count + fired.len() as i64),
            dsl::lease_until.eq(now + micros(LEASE)),
        ))
        .execute(conn)?;
        if moved == 0 {
            anyhow::bail!("alert {id}: the lease was lost or the cursor moved");
        }
        if let Some(state) = &new_state {
            diesel::update(dsl::alert_rules.find(id))
                .set(dsl::window_state.eq(state))
                .execute(conn)?;
        }
        if !fired.is_empty() {
            diesel::update(dsl::alert_rules.find(id))
                .set(dsl::last_fired_at.eq(Some(now)))
                .execute(conn)?;
        }
        for firing in &fired {
            diesel::insert_into(alert_firings::table)
                .values((
                    alert_firings::alert_id.eq(id),
                    alert_firings::project_id.eq(project_id),
                    alert_firings::fired_at.eq(now),
                    alert_firings::group_key.eq(&firing.group),
                    alert_firings::group_label.eq(&firing.label),
                    alert_firings::match_count.eq(firing.match_count),
                    alert_firings::first_entry_at.eq(firing.first_entry_at),
                    alert_firings::last_entry_at.eq(firing.last_entry_at),
                    alert_firings::entry_ids.eq(serde_json::to_string(&firing.entry_ids)?),
                ))
                .execute(conn)?;
        }
        Ok(())
    })?;
    if !fired.is_empty() {
        crate::metrics::metrics()
            .alert_firings
            .inc_by(fired.len() as u64);
    }
    Ok(Step::Counted { more })
}

/// Records a notification attempt: on success its firings are notified and failures forgotten;
/// on failure the error is kept and the next attempt waits (as entry deliveries do).
fn record_notification(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    now: i64,
    firing_ids: &[i64],
    error: Option<String>,
    retry_max: Duration,
) -> anyhow::Result<()> {
    use alert_rules::dsl;
    let mine = dsl::alert_rules
        .filter(dsl::id.eq(id))
        .filter(dsl::lease_owner.eq(owner));
    match error {
        None => {
            diesel::update(
                alert_firings::table
                    .filter(alert_firings::alert_id.eq(id))
                    .filter(alert_firings::id.eq_any(firing_ids)),
            )
            .set(alert_firings::notified_at.eq(Some(now)))
            .execute(conn)?;
            diesel::update(mine)
                .set((
                    dsl::consecutive_failures.eq(0),
                    dsl::next_attempt_at.eq(None::<i64>),
                ))
                .execute(conn)?;
        }
        Some(error) => {
            record_failure!(conn, alert_rules, id, owner, now, error, retry_max)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn found(id: i64, seconds: i64, group: &str) -> Match {
        Match {
            id,
            ts: seconds * SECOND,
            group: Some(group.to_string()),
            label: Some(format!("the {group}")),
        }
    }

    fn threshold(count: u32, window_seconds: u32) -> AlertCondition {
        AlertCondition::Threshold {
            count,
            window_seconds,
            group_by: Some(AlertGroupBy::Actor),
        }
    }

    #[test]
    fn a_burst_fires_once_per_window_and_each_group_counts_alone() {
        let mut state = WindowState::default();
        // Twelve failures of user:1 within a minute, three of user:2.
        let mut matches: Vec<Match> = (1..=12).map(|n| found(n, n, "user:1")).collect();
        matches.extend((13..=15).map(|n| found(n, n, "user:2")));
        let fired = state.count(&threshold(5, 600), &matches);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].group.as_deref(), Some("user:1"));
        assert_eq!(fired[0].entry_ids, vec![1, 2, 3, 4, 5]);
        assert_eq!(fired[0].first_entry_at, SECOND);
        assert_eq!(fired[0].last_entry_at, 5 * SECOND);

        // Still within ten minutes of the firing: quiet.
        let fired = state.count(&threshold(5, 600), &[found(16, 500, "user:1")]);
        assert!(fired.is_empty());
        // After the window, counting starts over.
        let later: Vec<Match> = (0..5).map(|n| found(20 + n, 700 + n, "user:1")).collect();
        let fired = state.count(&threshold(5, 600), &later);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].entry_ids, vec![20, 21, 22, 23, 24]);
    }

    #[test]
    fn matches_further_apart_than_the_window_never_fire() {
        let mut state = WindowState::default();
        let spread: Vec<Match> = (0..40).map(|n| found(n, n * 200, "user:1")).collect();
        assert!(state.count(&threshold(5, 600), &spread).is_empty());
        // Only the matches within the window are kept.
        assert!(state.groups["user:1"].matches.len() <= 3, "{state:?}");
    }

    #[test]
    fn counting_in_pieces_fires_as_counting_at_once() {
        let matches: Vec<Match> = (0..40)
            .map(|n| {
                found(
                    n,
                    n * 37 % 1_000 + n * 100,
                    if n % 3 == 0 { "a" } else { "b" },
                )
            })
            .collect();
        let mut whole = WindowState::default();
        let at_once = whole.count(&threshold(3, 300), &matches);
        let mut pieces = WindowState::default();
        let mut in_pieces = Vec::new();
        for chunk in matches.chunks(7) {
            // The state survives a round trip through its stored text between pieces.
            pieces = WindowState::parse(&pieces.to_text()).unwrap();
            in_pieces.extend(pieces.count(&threshold(3, 300), chunk));
        }
        assert_eq!(at_once, in_pieces);
        assert!(!at_once.is_empty());
    }

    #[test]
    fn any_match_fires_for_every_entry() {
        let mut state = WindowState::default();
        let fired = state.count(
            &AlertCondition::Any,
            &[found(1, 1, "x"), found(2, 1, "x"), found(3, 2, "y")],
        );
        assert_eq!(fired.len(), 3);
        assert_eq!(state, WindowState::default());
    }

    #[test]
    fn groups_beyond_the_limit_forget_the_oldest() {
        let mut state = WindowState::default();
        let many: Vec<Match> = (0..(MAX_GROUPS as i64 + 10))
            .map(|n| Match {
                id: n,
                ts: n,
                group: Some(format!("ip:{n}")),
                label: None,
            })
            .collect();
        state.count(&threshold(2, 3_600), &many);
        assert_eq!(state.groups.len(), MAX_GROUPS);
        assert!(!state.groups.contains_key("ip:0"));
        assert!(state.groups.contains_key(&format!("ip:{}", MAX_GROUPS + 9)));
    }

    #[test]
    fn the_kept_matches_stay_bounded() {
        let mut state = WindowState::default();
        // 200 groups, each 999 matches short of a threshold of 1,000 within a day.
        let many: Vec<Match> = (0..200 * 999)
            .map(|n| Match {
                id: n,
                ts: n,
                group: Some(format!("actor:{}", n % 200)),
                label: None,
            })
            .collect();
        assert!(state.count(&threshold(1_000, 86_400), &many).is_empty());
        let kept: usize = state.groups.values().map(|g| g.matches.len()).sum();
        assert!(kept <= MAX_KEPT_MATCHES, "{kept}");
        assert!(!state.groups.is_empty());
    }

    #[test]
    fn a_flood_of_new_groups_does_not_evict_a_group_counting_up() {
        let mut state = WindowState::default();
        // An attacker's four failures from one address, then sign-ins from many addresses.
        let mut matches: Vec<Match> = (0..4).map(|n| found(n, n, "10.0.0.66")).collect();
        matches.extend((0..(MAX_GROUPS as i64 + 100)).map(|n| Match {
            id: 100 + n,
            ts: 10 + n / 1_000,
            group: Some(format!("spray:{n}")),
            label: None,
        }));
        assert!(state.count(&threshold(5, 3_600), &matches).is_empty());
        assert_eq!(state.groups.len(), MAX_GROUPS);
        // The fifth failure still fires.
        let fired = state.count(&threshold(5, 3_600), &[found(9_999_999, 30, "10.0.0.66")]);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].match_count, 5);
    }

    #[test]
    fn a_firing_spans_its_entries_in_whatever_order_they_were_chained() {
        let mut state = WindowState::default();
        let matches = [found(1, 10, "a"), found(2, 30, "a"), found(3, 20, "a")];
        let fired = state.count(&threshold(3, 600), &matches);
        assert_eq!(fired[0].first_entry_at, 10 * SECOND);
        assert_eq!(fired[0].last_entry_at, 30 * SECOND);
    }

    #[test]
    fn view_links_cover_the_firing_in_whole_seconds() {
        let link = view_url(
            Some("https://audit.example.com"),
            7,
            "action=session.sign_in_failed",
            1_700_000_000 * SECOND + 250_000,
            1_700_000_009 * SECOND + 10,
        );
        assert_eq!(
            link,
            "https://audit.example.com/projects/7/security/audit-logs?from=2023-11-14T22:13:20Z&to=2023-11-14T22:13:30Z&action=session.sign_in_failed"
        );
        let query = link.split_once('?').unwrap().1;
        assert!(auditlog_shared::AuditQuery::parse(query).is_ok());
        assert!(view_url(None, 7, "", 0, 0).starts_with("/projects/7/security/audit-logs?from="));
    }
}
