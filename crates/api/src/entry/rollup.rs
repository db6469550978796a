//! Writing the rollups: entry counts per project, hour (`audit_rollups`) or UTC day
//! (`audit_rollups_daily`) and dimension value, added in the same transaction as the entries they
//! count ([`record`], called by every append), so they are exact for every whole hour. The
//! retention job deletes the rows of hours wholly past the horizon ([`purge_before`]). How reads
//! use them is `audit_log/rollup.rs`.

use std::collections::BTreeMap;

use auditlog_shared::Dimension;
use diesel::prelude::*;

use crate::db::schema::audit_rollups;
use crate::db::DbConnection;
use crate::entry::NewAuditEntry;

/// The width of an hourly rollup bucket, in microseconds.
pub const BUCKET_MICROS: i64 = 3_600_000_000;
/// The width of a daily rollup bucket, in microseconds.
pub const DAY_MICROS: i64 = 24 * BUCKET_MICROS;

/// Which rollup table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// `audit_rollups`.
    Hour,
    /// `audit_rollups_daily`.
    Day,
}

impl Granularity {
    pub fn micros(self) -> i64 {
        match self {
            Granularity::Hour => BUCKET_MICROS,
            Granularity::Day => DAY_MICROS,
        }
    }
}

/// The dimensions rollups count, as stored in `audit_rollups.dimension`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RollupDimension {
    Actor,
    Method,
    Source,
    Action,
    Status,
    ResourceType,
    /// `resource_key`: serves the application and cluster filters and facets.
    Resource,
    /// `"<method> <action> <status class digit>"`: serves views filtered on method and action
    /// together, and splits every view on method and action by status class.
    MethodActionClass,
}

impl RollupDimension {
    pub const ALL: [RollupDimension; 8] = [
        RollupDimension::Actor,
        RollupDimension::Method,
        RollupDimension::Source,
        RollupDimension::Action,
        RollupDimension::Status,
        RollupDimension::ResourceType,
        RollupDimension::Resource,
        RollupDimension::MethodActionClass,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RollupDimension::Actor => "actor",
            RollupDimension::Method => "method",
            RollupDimension::Source => "source",
            RollupDimension::Action => "action",
            RollupDimension::Status => "status",
            RollupDimension::ResourceType => "resource_type",
            RollupDimension::Resource => "resource",
            RollupDimension::MethodActionClass => "method_action_class",
        }
    }

    /// The entry's value in this dimension, as stored in `audit_rollups.value`.
    pub fn value_of(self, entry: &NewAuditEntry) -> String {
        match self {
            RollupDimension::Actor => entry.actor_key.clone(),
            RollupDimension::Method => entry.method.clone(),
            RollupDimension::Source => entry.source.clone(),
            RollupDimension::Action => entry.action.clone(),
            RollupDimension::Status => entry.status_code.to_string(),
            RollupDimension::ResourceType => entry.resource_type.clone(),
            RollupDimension::Resource => entry.resource_key.clone(),
            RollupDimension::MethodActionClass => format!(
                "{} {} {}",
                entry.method,
                entry.action,
                entry.status_code / 100
            ),
        }
    }
}

impl From<Dimension> for RollupDimension {
    fn from(dimension: Dimension) -> RollupDimension {
        match dimension {
            Dimension::Actor => RollupDimension::Actor,
            Dimension::Method => RollupDimension::Method,
            Dimension::Source => RollupDimension::Source,
            Dimension::Action => RollupDimension::Action,
            Dimension::Status => RollupDimension::Status,
            Dimension::ResourceType => RollupDimension::ResourceType,
            Dimension::Application | Dimension::Cluster => RollupDimension::Resource,
        }
    }
}

/// The hour a timestamp (microseconds) falls in.
pub fn bucket_of(ts: i64) -> i64 {
    ts.div_euclid(BUCKET_MICROS) * BUCKET_MICROS
}

/// The UTC day a timestamp (microseconds) falls in.
pub fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_MICROS) * DAY_MICROS
}

/// One counter increment: `(project, dimension, bucket, value)` and how many entries it adds.
type Increment = ((i64, RollupDimension, i64, String), i64);

/// The increments a set of entries makes at a granularity, summed, in key order (the order rows
/// are locked in).
fn increments<'a>(
    entries: impl IntoIterator<Item = &'a NewAuditEntry>,
    granularity: Granularity,
) -> Vec<Increment> {
    let mut counts: BTreeMap<(i64, RollupDimension, i64, String), i64> = BTreeMap::new();
    for entry in entries {
        let bucket = entry.ts.div_euclid(granularity.micros()) * granularity.micros();
        for dimension in RollupDimension::ALL {
            *counts
                .entry((
                    entry.project_id,
                    dimension,
                    bucket,
                    dimension.value_of(entry),
                ))
                .or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// Adds the entries to the hourly and daily counts, inside the caller's transaction.
pub fn record(conn: &mut DbConnection, entries: &[NewAuditEntry]) -> QueryResult<()> {
    add(
        conn,
        Granularity::Hour,
        &increments(entries, Granularity::Hour),
    )?;
    add(
        conn,
        Granularity::Day,
        &increments(entries, Granularity::Day),
    )
}

/// Adds increments to the counts of one table, creating the rows that do not exist yet.
fn add(
    conn: &mut DbConnection,
    granularity: Granularity,
    increments: &[Increment],
) -> QueryResult<()> {
    use diesel::upsert::excluded;
    macro_rules! upsert {
        ($table:ident) => {{
            use crate::db::schema::$table::dsl;
            // 5 columns × 2,000 rows stays under both engines' bind-parameter limits.
            for chunk in increments.chunks(2_000) {
                let rows: Vec<_> = chunk
                    .iter()
                    .map(|((project_id, dimension, bucket, value), entries)| {
                        (
                            dsl::project_id.eq(*project_id),
                            dsl::dimension.eq(dimension.as_str()),
                            dsl::bucket.eq(*bucket),
                            dsl::value.eq(value.as_str()),
                            dsl::entries.eq(*entries),
                        )
                    })
                    .collect();
                let key = (dsl::project_id, dsl::dimension, dsl::bucket, dsl::value);
                match &mut *conn {
                    DbConnection::Postgres(conn) => {
                        diesel::insert_into(dsl::$table)
                            .values(&rows)
                            .on_conflict(key)
                            .do_update()
                            .set(dsl::entries.eq(dsl::entries + excluded(dsl::entries)))
                            .execute(conn)?;
                    }
                    // Diesel has no multi-row upsert for SQLite; one cached statement per row is
                    // cheap inside the open transaction.
                    DbConnection::Sqlite(conn) => {
                        for row in &rows {
                            diesel::insert_into(dsl::$table)
                                .values(row.clone())
                                .on_conflict(key)
                                .do_update()
                                .set(dsl::entries.eq(dsl::entries + excluded(dsl::entries)))
                                .execute(conn)?;
                        }
                    }
                }
            }
        }};
    }
    match granularity {
        Granularity::Hour => upsert!(audit_rollups),
        Granularity::Day => upsert!(audit_rollups_daily),
    }
    Ok(())
}

/// Deletes the counts of hours and days that end at or before `horizon` (microseconds).
///
/// Deletes go project by project and dimension by dimension, each a range of the primary key
/// (a plain `bucket <=` condition would scan both tables whole), one transaction per project.
pub fn purge_before(conn: &mut DbConnection, horizon: i64) -> QueryResult<usize> {
    use crate::db::schema::{audit_chain_heads, audit_rollups_daily};
    let projects: Vec<i64> = audit_chain_heads::table
        .select(audit_chain_heads::project_id)
        .load(conn)?;
    let mut deleted = 0;
    for project_id in projects {
        deleted += crate::db::write_transaction(conn, |conn| {
            let mut deleted = 0;
            for dimension in RollupDimension::ALL {
                deleted += diesel::delete(
                    audit_rollups::table
                        .filter(audit_rollups::project_id.eq(project_id))
                        .filter(audit_rollups::dimension.eq(dimension.as_str()))
                        .filter(audit_rollups::bucket.le(horizon - BUCKET_MICROS)),
                )
                .execute(conn)?;
                deleted += diesel::delete(
                    audit_rollups_daily::table
                        .filter(audit_rollups_daily::project_id.eq(project_id))
                        .filter(audit_rollups_daily::dimension.eq(dimension.as_str()))
                        .filter(audit_rollups_daily::bucket.le(horizon - DAY_MICROS)),
                )
                .execute(conn)?;
            }
            QueryResult::Ok(deleted)
        })?;
    }
    Ok(deleted)
}
