//! Retention (PRODUCT.md Q8): entries older than 30 days are deleted by a background job, in
//! small batches so that writers are never blocked for long. Every query also clamps its window
//! (see `audit_query`), so an expired entry is never returned even before the job runs.

use std::time::Duration;

use diesel::prelude::*;

use crate::audit_query::retention_horizon;
use crate::clock::Clock;
use crate::db::schema::{audit_entries, sessions};
use crate::db::{DbConnection, DbPool};

/// Entries deleted per statement.
pub const BATCH: i64 = 5_000;
/// How often the job looks for expired entries.
pub const INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Deletes every entry older than the retention horizon at `now_micros`, batch by batch, and
/// ended sessions. Returns the number of entries deleted.
pub fn purge_expired(conn: &mut DbConnection, now_micros: i64) -> QueryResult<u64> {
    let horizon = retention_horizon(crate::clock::from_micros(now_micros)).timestamp_micros();
    let mut deleted = 0u64;
    loop {
        let expired: Vec<i64> = audit_entries::table
            .filter(audit_entries::ts.lt(horizon))
            .order(audit_entries::ts.asc())
            .select(audit_entries::id)
            .limit(BATCH)
            .load(conn)?;
        if expired.is_empty() {
            break;
        }
        deleted += diesel::delete(audit_entries::table.filter(audit_entries::id.eq_any(&expired)))
            .execute(conn)? as u64;
        // Let queued writers in between batches.
        std::thread::sleep(Duration::from_millis(10));
    }
    crate::audit_log::rollup::purge_before(conn, horizon)?;
    diesel::delete(sessions::table.filter(sessions::expires_at.lt(now_micros))).execute(conn)?;
    Ok(deleted)
}

/// Runs [`purge_expired`] now and then every [`INTERVAL`], on its own thread, for the life of
/// the process.
pub fn start(pool: DbPool, clock: Clock) {
    std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || loop {
            match pool.get() {
                Ok(mut conn) => match purge_expired(&mut conn, clock.now_micros()) {
                    Ok(0) => {}
                    Ok(deleted) => {
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
