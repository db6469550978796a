//! Time partitions of `audit_entries` on PostgreSQL: one partition per UTC day of `ts`.
//!
//! The table is partitioned by range on `ts` (migration `000016_time_partitions`):
//! * `audit_entries_history` holds everything before the first daily partition (on a database
//!   migrated in place, the entries written before partitioning; its rows expire one by one);
//! * `audit_entries_dYYYYMMDD` holds one UTC day, made [`DAYS_AHEAD`] days ahead by
//!   [`ensure_daily`], at start and by the retention job, so that writes always land in a day's
//!   partition;
//! * `audit_entries_default` catches what no partition covers (a clock far ahead); the rows of a
//!   day move from it into the day's partition when that is made.
//!
//! Retention drops a day's partition once the whole day is past the retention horizon
//! ([`drop_expired`]): one catalog change instead of deleting and vacuuming its rows. Until then
//! an expired entry of the newest expired day stays stored but is never returned (every query
//! clamps its window to the horizon).
//!
//! Invariants:
//! * Every change of the partition set runs in a transaction holding the advisory lock
//!   [`PARTITION_LOCK_KEY`], so several servers never make or drop the same day twice.
//! * Catalog changes wait for their table locks at most [`LOCK_TIMEOUT`]: a long read (an export)
//!   delays maintenance to the next run instead of queueing every request behind it.
//! * A partition is found by its bounds in the catalog, never by its name alone.
//!
//! SQLite keeps one table; these functions do nothing there.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::PgConnection;

use super::DbConnection;

/// The partitioned table.
pub const TABLE: &str = "audit_entries";
/// Microseconds in a day: the width of a partition.
pub const DAY_MICROS: i64 = 86_400_000_000;
/// How many days after today get their partition in advance.
pub const DAYS_AHEAD: i64 = 3;
/// How long a catalog change waits for a table lock before it gives up until the next run.
pub const LOCK_TIMEOUT: &str = "500ms";
/// An arbitrary, fixed key for the advisory lock that serializes partition changes.
const PARTITION_LOCK_KEY: i64 = 0x4155_4449_5450_4152; // "AUDITPAR"

/// One partition of `audit_entries` as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    /// The first `ts` it holds; `None` for the lowest (`MINVALUE`) and for the default partition.
    pub from: Option<i64>,
    /// The first `ts` past it; `None` for the default partition.
    pub to: Option<i64>,
    pub is_default: bool,
}

/// What [`drop_expired`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    pub partitions: Vec<String>,
    pub entries: u64,
}

/// The partitions of `audit_entries`, lowest first (the default partition last). Empty on
/// SQLite.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<Partition>> {
    match conn {
        DbConnection::Postgres(conn) => list_postgres(conn),
        DbConnection::Sqlite(_) => Ok(Vec::new()),
    }
}

/// Makes the daily partitions from the oldest day still within retention (or the end of the
/// history partition, if later) to [`DAYS_AHEAD`] days after `now`. Returns how many were
/// made. Does nothing on SQLite, or when another server is changing the partitions right now.
pub fn ensure_daily(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
) -> QueryResult<usize> {
    let DbConnection::Postgres(conn) = conn else {
        return Ok(0);
    };
    let first_day = day_start(horizon.timestamp_micros());
    let last_day = day_start(now.timestamp_micros()) + DAYS_AHEAD * DAY_MICROS;
    conn.transaction(|conn| {
        if !lock(conn)? {
            return Ok(0); // Another server is changing the partitions; it makes these too.
        }
        let partitions = list_postgres(conn)?;
        let mut made = 0;
        let mut day = first_day;
        while day <= last_day {
            if !covered(&partitions, day) {
                make_day(conn, day)?;
                made += 1;
            }
            day += DAY_MICROS;
        }
        Ok(made)
    })
}

/// Drops every partition whose days all lie before `horizon` (microseconds), counting the
/// entries it held. Returns what was dropped; on SQLite, nothing. When another server is
/// changing the partitions right now, drops nothing this time.
pub fn drop_expired(conn: &mut DbConnection, horizon: i64) -> QueryResult<Dropped> {
    let DbConnection::Postgres(conn) = conn else {
        return Ok(Dropped::default());
    };
    conn.transaction(|conn| {
        if !lock(conn)? {
            return Ok(Dropped::default());
        }
        let expired: Vec<Partition> = list_postgres(conn)?
            .into_iter()
            .filter(|p| !p.is_default && p.to.is_some_and(|to| to <= horizon))
            .collect();
        // Counted before the first drop: a drop locks the whole table until the commit.
        let mut dropped = Dropped::default();
        for partition in &expired {
            #[derive(QueryableByName)]
            struct Count {
                #[diesel(sql_type = BigInt)]
                entries: i64,
            }
            let count: Count = diesel::sql_query(format!(
                "SELECT COUNT(*) AS entries FROM {}",
                quoted(&partition.name)
            ))
            .get_result(conn)?;
            dropped.entries += count.entries as u64;
        }
        for partition in expired {
            diesel::sql_query(format!("DROP TABLE {}", quoted(&partition.name))).execute(conn)?;
            dropped.partitions.push(partition.name);
        }
        Ok(dropped)
    })
}

/// The lowest `ts` of the daily partitions (the end of the history partition), if the table is
/// partitioned: below it, expired rows are deleted one by one; from it on, by day.
pub fn daily_from(partitions: &[Partition]) -> Option<i64> {
    partitions
        .iter()
        .filter(|p| !p.is_default)
        .filter_map(|p| p.from)
        .min()
}

/// The start of the UTC day holding `micros`.
pub fn day_start(micros: i64) -> i64 {
    micros.div_euclid(DAY_MICROS) * DAY_MICROS
}

/// The name of the partition of the day starting at `day` (`audit_entries_d20261207`).
pub fn day_name(day: i64) -> String {
    let date = DateTime::from_timestamp_micros(day)
        .unwrap_or_default()
        .format("%Y%m%d");
    format!("{TABLE}_d{date}")
}

fn covered(partitions: &[Partition], day: i64) -> bool {
    partitions.iter().any(|p| {
        !p.is_default && p.from.is_none_or(|from| from <= day) && p.to.is_some_and(|to| day < to)
    })
}

/// Makes the partition of the day starting at `day`, moving in the day's rows that landed in the
/// default partition. Runs in the caller's transaction, which holds the partition lock.
fn make_day(conn: &mut PgConnection, day: i64) -> QueryResult<()> {
    let name = quoted(&day_name(day));
    let end = day + DAY_MICROS;
    // Made standalone and attached: attaching locks the parent less than creating a partition
    // in place, so reads and writes go on meanwhile. The check lets the attach skip scanning
    // the new table.
    diesel::sql_query(format!(
        "CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    ))
    .execute(conn)?;
    diesel::sql_query(format!(
        "ALTER TABLE {name} ADD CONSTRAINT {bound} CHECK (ts >= {day} AND ts < {end})",
        bound = quoted(&format!("{}_bound", day_name(day)))
    ))
    .execute(conn)?;
    diesel::sql_query(format!(
        "WITH moved AS (DELETE FROM {TABLE}_default WHERE ts >= {day} AND ts < {end} RETURNING *) \
         INSERT INTO {name} SELECT * FROM moved"
    ))
    .execute(conn)?;
    diesel::sql_query(format!(
        "ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ({day}) TO ({end})"
    ))
    .execute(conn)?;
    Ok(())
}

/// Takes the partition lock for the current transaction, if it is free, and bounds its waits
/// for table locks.
fn lock(conn: &mut PgConnection) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    diesel::sql_query(format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")).execute(conn)?;
    let locked: Locked = diesel::sql_query(format!(
        "SELECT pg_try_advisory_xact_lock({PARTITION_LOCK_KEY}) AS locked"
    ))
    .get_result(conn)?;
    Ok(locked.locked)
}

fn list_postgres(conn: &mut PgConnection) -> QueryResult<Vec<Partition>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        bound: String,
    }
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT c.relname::text AS name, COALESCE(pg_get_expr(c.relpartbound, c.oid), '') AS bound \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = to_regclass('{TABLE}')"
    ))
    .load(conn)?;
    let mut partitions: Vec<Partition> = rows
        .into_iter()
        .map(|row| parse_bound(row.name, &row.bound))
        .collect();
    partitions.sort_by_key(|p| (p.is_default, p.from.unwrap_or(i64::MIN)));
    Ok(partitions)
}

/// Reads `FOR VALUES FROM ('1764979200000000') TO ('1765065600000000')`, `FROM (MINVALUE)` or
/// `DEFAULT` as the catalog prints a range partition's bounds. A bound the catalog could not
/// print (a partition another server is changing while this one lists) reads as covering
/// nothing: it is neither dropped nor built around.
fn parse_bound(name: String, bound: &str) -> Partition {
    if bound.trim() == "DEFAULT" {
        return Partition {
            name,
            from: None,
            to: None,
            is_default: true,
        };
    }
    let value = |keyword: &str| -> Option<i64> {
        let rest = &bound[bound.find(keyword)? + keyword.len()..];
        let inside = rest.trim_start().strip_prefix('(')?;
        let inside = &inside[..inside.find(')')?];
        inside.trim().trim_matches('\'').parse().ok()
    };
    Partition {
        name,
        from: value("FROM"),
        to: value(" TO"),
        is_default: false,
    }
}

/// A table name as an SQL identifier. Names here are made by this module, never by a client.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_bounds_are_read() {
        let day = parse_bound(
            "audit_entries_d20261207".into(),
            "FOR VALUES FROM ('1765065600000000') TO ('1765152000000000')",
        );
        assert_eq!(day.from, Some(1_765_065_600_000_000));
        assert_eq!(day.to, Some(1_765_152_000_000_000));
        assert!(!day.is_default);
        let history = parse_bound(
            "audit_entries_history".into(),
            "FOR VALUES FROM (MINVALUE) TO ('1765065600000000')",
        );
        assert_eq!(history.from, None);
        assert_eq!(history.to, Some(1_765_065_600_000_000));
        let default = parse_bound("audit_entries_default".into(), "DEFAULT");
        assert!(default.is_default);
    }

    #[test]
    fn days_are_named_and_covered() {
        let day = 1_765_065_600_000_000; // 2025-12-07
        assert_eq!(day_start(day + 5), day);
        assert_eq!(day_name(day), "audit_entries_d20251207");
        let partitions = vec![
            Partition {
                name: "h".into(),
                from: None,
                to: Some(day),
                is_default: false,
            },
            Partition {
                name: "d".into(),
                from: Some(day),
                to: Some(day + DAY_MICROS),
                is_default: false,
            },
        ];
        assert!(covered(&partitions, day - DAY_MICROS));
        assert!(covered(&partitions, day));
        assert!(!covered(&partitions, day + DAY_MICROS));
        assert_eq!(daily_from(&partitions), Some(day));
    }
}
