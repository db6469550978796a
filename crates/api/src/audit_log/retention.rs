//! Retention: entries older than 30 days are removed by a background job. On SQLite they are
//! deleted in small batches so that writers are never blocked for long. On PostgreSQL each UTC
//! day is a partition (see `db::partitions`), dropped whole once the day is past the horizon;
//! the entries of the day the horizon falls in stay stored until then. Every query clamps its
//! window (see `audit_query`), so an expired entry is never returned, whether or not the job
//! has run.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;

use crate::clock::Clock;
use crate::db::retention_horizon;
use crate::db::schema::{alert_firings, audit_entries, audit_export_manifests, sessions};
use crate::db::{DbConnection, DbPool};
use crate::entry::checkpoint::ChainSigner;

/// Entries deleted per statement.
pub const BATCH: i64 = 5_000;
/// How often the job looks for expired entries.
pub const INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Removes every entry older than the retention horizon at `now_micros`
/// ([`remove_expired_entries`]), their rollup counts, the manifests of exports made before it,
/// the alert firings of entries before it, and ended sessions. Returns the number of entries
/// removed.
///
/// Before anything is deleted, each affected project gets a signed retention checkpoint naming
/// the newest entry about to go: verification then knows the chain may start after it, and that
/// any entry missing later than it was not removed by retention. (A crash between the two
/// leaves entries the checkpoint already covers, which is harmless.)
pub fn purge_expired(
    conn: &mut DbConnection,
    now_micros: i64,
    signer: &ChainSigner,
) -> QueryResult<u64> {
    let horizon = retention_horizon(crate::clock::from_micros(now_micros)).timestamp_micros();
    let newest_expired: Vec<(i64, Option<i64>)> = audit_entries::table
        .filter(audit_entries::ts.lt(horizon))
        .group_by(audit_entries::project_id)
        .select((
            audit_entries::project_id,
            diesel::dsl::max(audit_entries::chain_seq),
        ))
        .load(conn)?;
    for (project_id, seq) in newest_expired {
        let Some(seq) = seq else { continue };
        let hash: String = audit_entries::table
            .filter(audit_entries::project_id.eq(project_id))
            .filter(audit_entries::chain_seq.eq(seq))
            .select(audit_entries::entry_hash)
            .first(conn)?;
        crate::entry::signing::record_retention(conn, signer, project_id, seq, &hash, now_micros)?;
    }
    let deleted = remove_expired_entries(conn, horizon)?;
    crate::entry::rollup::purge_before(conn, horizon)?;
    // An export's manifest is kept as long as the entries it describes could be.
    diesel::delete(
        audit_export_manifests::table.filter(audit_export_manifests::created_at.lt(horizon)),
    )
    .execute(conn)?;
    diesel::delete(sessions::table.filter(sessions::expires_at.lt(now_micros))).execute(conn)?;
    // Alert firings name actors and addresses: they go with the entries that fired them, once
    // their notification was sent (one still waiting is kept until it is).
    diesel::delete(
        alert_firings::table
            .filter(alert_firings::last_entry_at.lt(horizon))
            .filter(alert_firings::notified_at.is_not_null()),
    )
    .execute(conn)?;
    Ok(deleted)
}

/// Removes the entries older than `horizon` (microseconds): on PostgreSQL whole days past it go
/// with their partition, and rows below the daily partitions (the history partition) are
/// deleted like SQLite's, in batches. Returns how many entries were removed. Callers record the
/// retention checkpoint first ([`purge_expired`] does).
pub fn remove_expired_entries(conn: &mut DbConnection, horizon: i64) -> QueryResult<u64> {
    let dropped = crate::db::partitions::drop_expired(conn, horizon)?;
    let mut deleted = dropped.entries;
    let delete_before = crate::db::partitions::daily_from(&crate::db::partitions::list(conn)?)
        .map_or(horizon, |from| from.min(horizon));
    loop {
        let expired: Vec<i64> = audit_entries::table
            .filter(audit_entries::ts.lt(delete_before))
            .order(audit_entries::ts.asc())
            .select(audit_entries::id)
            .limit(BATCH)
            .load(conn)?;
        if expired.is_empty() {
            break;
        }
        deleted += diesel::delete(
            audit_entries::table
                .filter(audit_entries::ts.lt(delete_before))
                .filter(audit_entries::id.eq_any(&expired)),
        )
        .execute(conn)? as u64;
        // Let queued writers in between batches.
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(deleted)
}

/// Makes the coming days' partitions, then purges what expired.
fn maintain(conn: &mut DbConnection, clock: &Clock, signer: &ChainSigner) -> QueryResult<u64> {
    let now = clock.now();
    crate::db::partitions::ensure_daily(conn, now, retention_horizon(now))?;
    purge_expired(conn, now.timestamp_micros(), signer)
}

/// Runs [`maintain`] now and then every [`INTERVAL`], on its own thread, for the life of
/// the process.
pub fn start(pool: DbPool, clock: Clock, signer: Arc<ChainSigner>) {
    std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || loop {
            match pool.get() {
                Ok(mut conn) => match maintain(&mut conn, &clock, &signer) {
                    Ok(0) => {}
                    Ok(deleted) => {
                        crate::metrics::metrics().retention_deleted.inc_by(deleted);
                        tracing::info!(deleted, "retention removed expired audit entries")
                    }
                    Err(error) => tracing::error!(%error, "retention job failed"),
                },
                Err(error) => tracing::error!(%error, "retention job has no database connection"),
            }
            std::thread::sleep(INTERVAL);
        })
        .expect("the retention thread starts");
}
