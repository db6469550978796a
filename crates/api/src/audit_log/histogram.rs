//! The volume chart: entries per time bucket over the query's window.

use auditlog_shared::wire::{Histogram, HistogramBucket};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};

use std::collections::HashMap;

use crate::audit_log::columns::ColumnStore;
use crate::audit_log::view::View;
use crate::audit_log::{apply_filters, rollup, CountedFrom, DbBackend};
use crate::clock::from_micros;
use crate::db::schema::audit_entries;
use crate::db::DbConnection;

/// Bucket widths in seconds, from the finest: each a natural boundary (minutes, hours, a day).
const WIDTHS: [i64; 19] = [
    1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400,
    172_800, 604_800,
];
/// The most buckets a chart gets.
pub const MAX_BUCKETS: i64 = 150;

/// The finest natural width that covers `[from, to)` (microseconds) in at most [`MAX_BUCKETS`].
pub fn bucket_seconds(from: i64, to: i64) -> i64 {
    let span = (to - from).max(1);
    WIDTHS
        .iter()
        .copied()
        .find(|width| {
            let micros = width * 1_000_000;
            let first = from.div_euclid(micros);
            let last = (to - 1).div_euclid(micros);
            last - first < MAX_BUCKETS && span > 0
        })
        .unwrap_or(604_800)
}

/// The view's chart, and where its counts came from.
pub fn histogram(
    conn: &mut DbConnection,
    columns: &ColumnStore,
    project_id: i64,
    validated: &View,
) -> QueryResult<(Histogram, CountedFrom)> {
    let from = validated.window.from.timestamp_micros();
    let to = validated.window.to.timestamp_micros();
    let seconds = bucket_seconds(from, to);
    let width = seconds * 1_000_000;
    // From the in-memory columns when they can answer; else from rollups when they can (per
    // bucket, split by status class when the counts can tell classes apart, the totals then
    // deriving from the split, else the totals alone); else from the entries.
    let from_columns = columns.with_current(conn, project_id, validated, |copy| {
        copy.bucket_class_counts(validated, width)
    })?;
    let rollup_plan = rollup::window_plan(validated)
        .filter(|_| width % rollup::BUCKET_MICROS == 0 && from_columns.is_none());
    let mut counted_from = CountedFrom::Rollups;
    let counted = match (from_columns, rollup_plan) {
        (Some(classes), _) => {
            counted_from = CountedFrom::Columns;
            Counted::Split(classes)
        }
        (None, Some((view, split))) => {
            let mut counted = match rollup::bucket_class_counts(
                conn,
                rollup::Granularity::Hour,
                project_id,
                validated,
                view,
                split.hours,
                width,
            )? {
                Some(classes) => Counted::Split(classes),
                None => Counted::Totals(rollup::bucket_counts(
                    conn,
                    rollup::Granularity::Hour,
                    project_id,
                    validated,
                    view,
                    split.hours,
                    width,
                )?),
            };
            for (edge_from, edge_to) in split.edges {
                let edge = validated.with_window(edge_from, edge_to);
                for (bucket, classes) in entry_class_counts(conn, project_id, &edge, width)? {
                    counted.add(bucket, classes);
                }
            }
            counted
        }
        (None, None) => {
            counted_from = CountedFrom::Entries;
            Counted::Split(entry_class_counts(conn, project_id, validated, width)?)
        }
    };
    let (counts, classes) = match counted {
        Counted::Split(classes) => (rollup::bucket_totals(&classes), Some(classes)),
        Counted::Totals(counts) => (counts, None),
    };

    let first = from.div_euclid(width) * width;
    let mut buckets = Vec::new();
    let mut start = first;
    while start < to {
        buckets.push(HistogramBucket {
            start: from_micros(start),
            count: counts.get(&start).copied().unwrap_or(0) as u64,
            by_status_class: classes.as_ref().map(|classes| {
                classes
                    .get(&start)
                    .copied()
                    .unwrap_or_default()
                    .map(|count| count as u64)
            }),
        });
        start += width;
    }
    let histogram = Histogram {
        from: validated.window.from,
        to: validated.window.to,
        bucket_seconds: seconds,
        total: buckets.iter().map(|b| b.count).sum(),
        buckets,
    };
    Ok((histogram, counted_from))
}

/// A histogram's counts per bucket: split by status class, or totals only.
enum Counted {
    Split(HashMap<i64, rollup::ClassCounts>),
    Totals(HashMap<i64, i64>),
}

impl Counted {
    /// Adds a bucket's entries, split by class.
    fn add(&mut self, bucket: i64, classes: rollup::ClassCounts) {
        match self {
            Counted::Split(split) => {
                let into = split.entry(bucket).or_default();
                for (total, more) in into.iter_mut().zip(classes) {
                    *total += more;
                }
            }
            Counted::Totals(totals) => {
                *totals.entry(bucket).or_default() += classes.iter().sum::<i64>();
            }
        }
    }
}

/// Counts per `width`-wide bucket (microseconds) and status class, read from the entries
/// themselves.
fn entry_class_counts(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &View,
    width: i64,
) -> QueryResult<HashMap<i64, rollup::ClassCounts>> {
    // The width is an integer literal, not a bound parameter: PostgreSQL would otherwise refuse
    // the GROUP BY expression as different from the selected one. One literal groups by both
    // keys: diesel checks a grouped select column by column.
    let bucket = format!("((ts / {width}) * {width})");
    let grouped = audit_entries::table
        .group_by(sql::<BigInt>(&format!("{bucket}, status_code / 100")))
        .select((
            sql::<BigInt>(&bucket),
            sql::<Integer>("status_code / 100"),
            sql::<BigInt>("COUNT(*)"),
        ))
        .into_boxed::<DbBackend>();
    let rows: Vec<(i64, i32, i64)> =
        apply_filters!(grouped, project_id, validated, None).load(conn)?;
    let mut counts: HashMap<i64, rollup::ClassCounts> = HashMap::new();
    for (bucket, class, entries) in rows {
        if let Some(index) = usize::try_from(class - 1).ok().filter(|i| *i < 5) {
            counts.entry(bucket).or_default()[index] += entries;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn presets_get_between_60_and_150_natural_buckets() {
        let now = 1_764_244_800_123_456; // an arbitrary instant
        for (span, expected) in [
            (HOUR, 30),
            (24 * HOUR, 600),
            (7 * 24 * HOUR, 7_200),
            (30 * 24 * HOUR, 21_600),
        ] {
            let seconds = bucket_seconds(now - span, now);
            assert_eq!(seconds, expected, "span of {} hours", span / HOUR);
            let buckets = (now - 1).div_euclid(seconds * 1_000_000)
                - (now - span).div_euclid(seconds * 1_000_000)
                + 1;
            assert!((60..=150).contains(&buckets), "{buckets} buckets");
        }
    }
}
