//! What the deliverer and the alert tasks share: the scan of a project's entries after a
//! cursor through a stored filter, the target a destination's messages go to, and the pace of
//! their loops.

use std::time::Duration;

use auditlog_shared::wire::StreamKind;
use auditlog_shared::{ActionMatch, AuditQuery, ResolvedRange};
use diesel::prelude::*;

use crate::audit_log::search::resolve_search_also;
use crate::audit_log::search::SearchAlso;
use crate::audit_log::view::View;
use crate::audit_log::{DbBackend, EntryRow};
use crate::audit_query::ValidatedQuery;
use crate::catalog;
use crate::db::schema::audit_entries;
use crate::db::{DbConnection, DbPool};
use crate::streaming::destination::DestinationRow;
use crate::streaming::send::Target;

/// How often a caught-up task looks for entries no commit of this server announced (written by
/// another server on the same PostgreSQL), and how often the supervisor looks for new or
/// resumed destinations.
pub const POLL: Duration = Duration::from_secs(1);
/// Chain positions examined per step.
pub const SCAN: i64 = 5_000;
/// How long a task that has sent everything there was waits before it looks again: new entries
/// gather into one delivery (and one cursor write) instead of one per commit.
pub const LINGER: Duration = Duration::from_millis(500);

/// Runs database work on the blocking pool with a pooled connection.
pub async fn blocking<T: Send + 'static>(
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
pub struct Scan {
    /// At most the asked number, all with `chain_seq <= through`.
    pub rows: Vec<EntryRow>,
    /// The chain position through which every entry was examined.
    pub through: i64,
    /// Whether entries after `through` were already seen.
    pub more: bool,
}

/// Reads the entries of a project after `cursor_seq` that pass `filter` (at most `max_rows`,
/// examining at most [`SCAN`] chain positions); `None` when nothing follows the cursor.
pub fn scan(
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
) -> anyhow::Result<View> {
    let query = AuditQuery::parse_filter(filter)
        .map_err(|error| anyhow::anyhow!("a stored filter cannot be read ({filter}): {error}"))?;
    let search_also = match &query.search {
        Some(term) => resolve_search_also(conn, project_id, &term.as_str().to_lowercase())?,
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
    let validated = ValidatedQuery {
        query,
        window: ResolvedRange {
            from: chrono::DateTime::UNIX_EPOCH,
            to: chrono::DateTime::<chrono::Utc>::MAX_UTC,
        },
        clamped_to_retention: false,
    };
    Ok(View::resolved(validated, search_also, ingested_actions))
}
