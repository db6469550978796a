//! Rollups: entry counts per project, hour (`audit_rollups`) or UTC day
//! (`audit_rollups_daily`) and dimension value, so that the histogram and the facets of a month
//! of a busy project are sums over a few thousand rows instead of scans over millions of entries.
//!
//! Invariants:
//! * The counts are written in the same transaction as the entries they count
//!   ([`record`], called by the capture writer for every stored entry), so they are exact for
//!   every whole hour. The retention job deletes the rows of hours wholly past the horizon.
//! * A rollup answers only what it can answer exactly: a view with no filter and no search,
//!   with filters on one dimension only (which is the dimension summed), or with filters on
//!   method and action together (summed from the `method_action_class` triples: the navigation
//!   default excludes GET and the audit log's own actions). Everything else reads the entries.
//! * The histogram splits its bars by status class wherever rollups can: views on method,
//!   action or both (the triples) and on status (the codes); a view filtered on another
//!   dimension is counted from its rollup unsplit, and views read from the entries are split as
//!   they are counted.
//! * Only whole hours come from rollups (whole days from the daily table, the other whole hours
//!   from the hourly one). The partial hours at either end of a window are counted from the
//!   entries ([`Split`]), so both paths give the same numbers to the entry.
//! * Rollups are derived data: the hash chain covers the entries, not these counts.

use std::collections::HashMap;

use auditlog_shared::AuditQuery;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::audit_log::view::View;
use crate::audit_log::{filter_values, Dimension};
use crate::db::DbConnection;
pub use crate::entry::rollup::{
    bucket_of, day_of, Granularity, RollupDimension, BUCKET_MICROS, DAY_MICROS,
};

/// How rollups answer a view's counts over its whole window: which counts are summed, and the
/// window's split. `None` when they cannot (see [`plan`]) or the window holds no whole hour.
pub fn window_plan(validated: &View) -> Option<(RollupView, Split)> {
    let filtered = plan(&validated.query, None)?;
    let split = Split::new(
        validated.window.from.timestamp_micros(),
        validated.window.to.timestamp_micros(),
    )?;
    Some((filtered, split))
}

/// Which rollup counts answer a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollupView {
    /// Nothing is filtered: any one dimension's counts sum to all entries.
    All,
    /// One dimension is filtered: its counts, filtered.
    One(Dimension),
    /// Method and action are filtered, nothing else: the `method_action_class` triples, filtered
    /// on both.
    MethodAndAction,
}

/// What a view needs from rollups (see [`RollupView`]). `None` when rollups cannot answer it
/// (search, a request id, or filters on several dimensions other than method and action).
/// `skip`'s filter is left out, as facets do for the dimension they count.
pub fn plan(query: &AuditQuery, skip: Option<Dimension>) -> Option<RollupView> {
    if query.search.is_some() || query.request_id.is_some() {
        return None;
    }
    let filtered: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|&d| Some(d) != skip && !filter_is_empty(query, d))
        .collect();
    match filtered.as_slice() {
        [] => Some(RollupView::All),
        [only] => Some(RollupView::One(*only)),
        [Dimension::Method, Dimension::Action] => Some(RollupView::MethodAndAction),
        _ => None,
    }
}

pub(crate) fn filter_is_empty(query: &AuditQuery, dimension: Dimension) -> bool {
    match dimension {
        Dimension::Actor => query.actor.is_empty(),
        Dimension::Method => query.method.is_empty(),
        Dimension::Source => query.source.is_empty(),
        Dimension::Action => query.action.is_empty(),
        Dimension::Status => query.status.is_empty(),
        Dimension::ResourceType => query.resource_type.is_empty(),
        Dimension::Application => query.application.is_empty(),
        Dimension::Cluster => query.cluster.is_empty(),
    }
}

/// A window `[from, to)` split into whole days and whole hours, which rollups answer, and the
/// partial hours at its edges, which the entries answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// `[first whole hour, end of the last whole hour)`.
    pub hours: (i64, i64),
    /// The whole UTC days within `hours`, if any.
    pub days: Option<(i64, i64)>,
    /// The parts of the window outside `hours` (zero, one or two ranges).
    pub edges: Vec<(i64, i64)>,
}

impl Split {
    /// `None` when the window holds no whole hour.
    pub fn new(from: i64, to: i64) -> Option<Split> {
        let first = bucket_of(from + BUCKET_MICROS - 1);
        let end = bucket_of(to);
        if first >= end {
            return None;
        }
        let edges = [(from, first), (end, to)]
            .into_iter()
            .filter(|(a, b)| a < b)
            .collect();
        let (first_day, end_day) = (day_of(first + DAY_MICROS - 1), day_of(end));
        Some(Split {
            hours: (first, end),
            days: (first_day < end_day).then_some((first_day, end_day)),
            edges,
        })
    }

    /// The whole hours outside the whole days, each range with its table: what the counts of
    /// the whole window read.
    pub fn rollup_ranges(&self) -> Vec<(Granularity, (i64, i64))> {
        match self.days {
            None => vec![(Granularity::Hour, self.hours)],
            Some((first_day, end_day)) => [
                (Granularity::Hour, (self.hours.0, first_day)),
                (Granularity::Day, (first_day, end_day)),
                (Granularity::Hour, (end_day, self.hours.1)),
            ]
            .into_iter()
            .filter(|(_, (a, b))| a < b)
            .collect(),
        }
    }
}

/// Counts per `width`-wide bucket (a multiple of the granularity, in microseconds) of a
/// project's entries in the whole buckets `range` of one rollup table, filtered as `view` and
/// the query say.
pub fn bucket_counts(
    conn: &mut DbConnection,
    granularity: Granularity,
    project_id: i64,
    validated: &View,
    view: RollupView,
    range: (i64, i64),
    width: i64,
) -> QueryResult<HashMap<i64, i64>> {
    debug_assert_eq!(width % granularity.micros(), 0);
    let (dimension, include, exclude) = match view {
        // Any one dimension's counts sum to all entries; `source` has the fewest values.
        RollupView::All => (RollupDimension::Source, Vec::new(), Vec::new()),
        RollupView::One(filtered) => {
            let (include, exclude) = filter_values(validated, filtered);
            (RollupDimension::from(filtered), include, exclude)
        }
        RollupView::MethodAndAction => {
            let classes = bucket_class_counts(
                conn,
                granularity,
                project_id,
                validated,
                RollupView::MethodAndAction,
                range,
                width,
            )?
            .unwrap_or_default();
            return Ok(bucket_totals(&classes));
        }
    };
    // The width is an integer literal: PostgreSQL refuses a GROUP BY on a bound parameter.
    let bucket = format!("((bucket / {width}) * {width})");
    macro_rules! sums {
        ($table:ident) => {{
            use crate::db::schema::$table::dsl;
            let mut select = dsl::$table
                .filter(dsl::project_id.eq(project_id))
                .filter(dsl::dimension.eq(dimension.as_str()))
                .filter(dsl::bucket.ge(range.0))
                .filter(dsl::bucket.lt(range.1))
                .group_by(sql::<BigInt>(&bucket))
                .select((
                    sql::<BigInt>(&bucket),
                    sql::<BigInt>("CAST(SUM(entries) AS BIGINT)"),
                ))
                .into_boxed::<crate::audit_log::DbBackend>();
            if !include.is_empty() {
                select = select.filter(dsl::value.eq_any(include));
            }
            if !exclude.is_empty() {
                select = select.filter(dsl::value.ne_all(exclude));
            }
            select.load::<(i64, i64)>(conn)?
        }};
    }
    let rows = match granularity {
        Granularity::Hour => sums!(audit_rollups),
        Granularity::Day => sums!(audit_rollups_daily),
    };
    Ok(rows.into_iter().collect())
}

/// Entries per status class (1xx … 5xx, at index 0 … 4).
pub type ClassCounts = [i64; 5];

/// Counts per `width`-wide bucket and status class, in the whole buckets `range` of one rollup
/// table, for the views rollups can split by status class: unfiltered or filtered on status
/// (from the status codes), filtered on method, action or both (from the `method_action_class`
/// triples). `None` for a view filtered on another dimension, whose rollup knows no status.
pub fn bucket_class_counts(
    conn: &mut DbConnection,
    granularity: Granularity,
    project_id: i64,
    validated: &View,
    view: RollupView,
    range: (i64, i64),
    width: i64,
) -> QueryResult<Option<HashMap<i64, ClassCounts>>> {
    let bucket = format!("((bucket / {width}) * {width})");
    let (dimension, methods, actions, statuses) = match view {
        // Unfiltered: the status codes, the fewest rows that split by class.
        RollupView::All => (
            RollupDimension::Status,
            (Vec::new(), Vec::new()),
            (Vec::new(), Vec::new()),
            (Vec::new(), Vec::new()),
        ),
        RollupView::One(Dimension::Method)
        | RollupView::One(Dimension::Action)
        | RollupView::MethodAndAction => (
            RollupDimension::MethodActionClass,
            filter_values(validated, Dimension::Method),
            filter_values(validated, Dimension::Action),
            (Vec::new(), Vec::new()),
        ),
        RollupView::One(Dimension::Status) => (
            RollupDimension::Status,
            (Vec::new(), Vec::new()),
            (Vec::new(), Vec::new()),
            filter_values(validated, Dimension::Status),
        ),
        RollupView::One(_) => return Ok(None),
    };
    let (methods_in, methods_out) = methods;
    let (actions_in, actions_out) = actions;
    let (statuses_in, statuses_out) = statuses;
    macro_rules! rows {
        ($table:ident) => {{
            use crate::db::schema::$table::dsl;
            let mut select = dsl::$table
                .filter(dsl::project_id.eq(project_id))
                .filter(dsl::dimension.eq(dimension.as_str()))
                .filter(dsl::bucket.ge(range.0))
                .filter(dsl::bucket.lt(range.1))
                // One literal for both keys: diesel checks a grouped select column by column.
                .group_by(sql::<BigInt>(&format!("{bucket}, value")))
                .select((
                    sql::<BigInt>(&bucket),
                    sql::<diesel::sql_types::Text>("value"),
                    sql::<BigInt>("CAST(SUM(entries) AS BIGINT)"),
                ))
                .into_boxed::<crate::audit_log::DbBackend>();
            // A triple's method is filtered before grouping (a method is one uppercase word, no
            // pattern character); its action, from a list, after.
            for method in &methods_out {
                select = select.filter(dsl::value.not_like(format!("{method} %")));
            }
            if !methods_in.is_empty() {
                let mut any: Box<
                    dyn BoxableExpression<
                        crate::db::schema::$table::table,
                        crate::audit_log::DbBackend,
                        SqlType = diesel::sql_types::Bool,
                    >,
                > = Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0"));
                for method in &methods_in {
                    any = Box::new(any.or(dsl::value.like(format!("{method} %"))));
                }
                select = select.filter(any);
            }
            if !statuses_in.is_empty() {
                select = select.filter(dsl::value.eq_any(statuses_in.clone()));
            }
            if !statuses_out.is_empty() {
                select = select.filter(dsl::value.ne_all(statuses_out.clone()));
            }
            select.load::<(i64, String, i64)>(conn)?
        }};
    }
    let rows = match granularity {
        Granularity::Hour => rows!(audit_rollups),
        Granularity::Day => rows!(audit_rollups_daily),
    };
    let mut counts: HashMap<i64, ClassCounts> = HashMap::new();
    for (bucket, value, entries) in rows {
        let class = match dimension {
            RollupDimension::Status => value.parse::<i64>().ok().map(|code| code / 100),
            _ => {
                let Some((method, action, class)) = split_triple(&value) else {
                    continue;
                };
                if !(passes(method, &methods_in, &methods_out)
                    && passes(action, &actions_in, &actions_out))
                {
                    continue;
                }
                Some(class)
            }
        };
        if let Some(index) = class
            .and_then(|c| usize::try_from(c - 1).ok())
            .filter(|i| *i < 5)
        {
            counts.entry(bucket).or_default()[index] += entries;
        }
    }
    Ok(Some(counts))
}

/// The entries per bucket of counts split by status class.
pub fn bucket_totals(classes: &HashMap<i64, ClassCounts>) -> HashMap<i64, i64> {
    classes
        .iter()
        .map(|(bucket, split)| (*bucket, split.iter().sum()))
        .collect()
}

/// A `method_action_class` value split: `"POST application.deploy 2"` → method, action, class.
fn split_triple(value: &str) -> Option<(&str, &str, i64)> {
    let mut parts = value.splitn(3, ' ');
    let method = parts.next()?;
    let action = parts.next()?;
    let class = parts.next()?.parse().ok()?;
    Some((method, action, class))
}

/// Whether a stored value passes include and exclude lists (as [`filter_values`] gives them).
pub(crate) fn passes(value: &str, include: &[String], exclude: &[String]) -> bool {
    (include.is_empty() || include.iter().any(|v| v == value))
        && !exclude.iter().any(|v| v == value)
}

/// The method and action of the `method_action_class` triples of a split's whole hours and days
/// (`"POST application.deploy 2"`) with their entries, for facets of method under an action
/// filter and of action under a method filter. A pair may come once per status class.
pub fn pair_counts(
    conn: &mut DbConnection,
    project_id: i64,
    split: &Split,
) -> QueryResult<Vec<((String, String), i64)>> {
    let counts = value_counts(
        conn,
        project_id,
        &[RollupDimension::MethodActionClass],
        split,
    )?;
    Ok(counts
        .into_values()
        .flatten()
        .filter_map(|(triple, entries)| {
            let (method, action, _) = split_triple(&triple)?;
            Some(((method.to_string(), action.to_string()), entries))
        })
        .collect())
}

/// The entries of a split's whole hours and days (no partial hour), filtered as `view` says.
pub fn total(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &View,
    view: RollupView,
    split: &Split,
) -> QueryResult<i64> {
    let mut total = 0;
    for (granularity, range) in split.rollup_ranges() {
        total += bucket_counts(
            conn,
            granularity,
            project_id,
            validated,
            view,
            range,
            granularity.micros(),
        )?
        .values()
        .sum::<i64>();
    }
    Ok(total)
}

/// Counts per value of each dimension in `dimensions` over a split's whole hours and days,
/// unfiltered.
pub fn value_counts(
    conn: &mut DbConnection,
    project_id: i64,
    dimensions: &[RollupDimension],
    split: &Split,
) -> QueryResult<HashMap<RollupDimension, HashMap<String, i64>>> {
    let names: Vec<&str> = dimensions.iter().map(|d| d.as_str()).collect();
    let mut counts: HashMap<RollupDimension, HashMap<String, i64>> = HashMap::new();
    for (granularity, range) in split.rollup_ranges() {
        macro_rules! sums {
            ($table:ident) => {{
                use crate::db::schema::$table::dsl;
                dsl::$table
                    .filter(dsl::project_id.eq(project_id))
                    .filter(dsl::dimension.eq_any(&names))
                    .filter(dsl::bucket.ge(range.0))
                    .filter(dsl::bucket.lt(range.1))
                    .group_by((dsl::dimension, dsl::value))
                    .select((
                        dsl::dimension,
                        dsl::value,
                        sql::<BigInt>("CAST(SUM(entries) AS BIGINT)"),
                    ))
                    .load::<(String, String, i64)>(conn)?
            }};
        }
        let rows = match granularity {
            Granularity::Hour => sums!(audit_rollups),
            Granularity::Day => sums!(audit_rollups_daily),
        };
        for (name, value, count) in rows {
            if let Some(dimension) = dimensions.iter().find(|d| d.as_str() == name) {
                *counts
                    .entry(*dimension)
                    .or_default()
                    .entry(value)
                    .or_default() += count;
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = BUCKET_MICROS;

    #[test]
    fn windows_split_into_whole_hours_and_partial_edges() {
        let split = Split::new(10 * HOUR + 5, 13 * HOUR + 7).unwrap();
        assert_eq!(split.hours, (11 * HOUR, 13 * HOUR));
        assert_eq!(
            split.edges,
            vec![(10 * HOUR + 5, 11 * HOUR), (13 * HOUR, 13 * HOUR + 7)]
        );
        assert_eq!(split.days, None);
        assert_eq!(
            split.rollup_ranges(),
            vec![(Granularity::Hour, split.hours)]
        );
        let aligned = Split::new(10 * HOUR, 12 * HOUR).unwrap();
        assert_eq!(aligned.edges, vec![]);
        assert_eq!(Split::new(10 * HOUR + 1, 11 * HOUR + 2), None);
    }

    #[test]
    fn whole_days_come_from_the_daily_table() {
        let day = DAY_MICROS;
        let split = Split::new(day + 5 * HOUR + 7, 4 * day + 2 * HOUR + 9).unwrap();
        assert_eq!(split.hours, (day + 6 * HOUR, 4 * day + 2 * HOUR));
        assert_eq!(split.days, Some((2 * day, 4 * day)));
        assert_eq!(
            split.rollup_ranges(),
            vec![
                (Granularity::Hour, (day + 6 * HOUR, 2 * day)),
                (Granularity::Day, (2 * day, 4 * day)),
                (Granularity::Hour, (4 * day, 4 * day + 2 * HOUR)),
            ]
        );
    }

    #[test]
    fn views_with_search_or_two_filtered_dimensions_read_the_entries() {
        let parse = |raw: &str| AuditQuery::parse(raw).unwrap();
        assert_eq!(plan(&parse(""), None), Some(RollupView::All));
        assert_eq!(
            plan(&parse("method.not=GET"), None),
            Some(RollupView::One(Dimension::Method))
        );
        assert_eq!(plan(&parse("method=GET&status=5xx"), None), None);
        assert_eq!(
            plan(&parse("method=GET&status=5xx"), Some(Dimension::Status)),
            Some(RollupView::One(Dimension::Method))
        );
        assert_eq!(
            plan(&parse("method.not=GET&action.not=audit_log.*"), None),
            Some(RollupView::MethodAndAction)
        );
        assert_eq!(
            plan(
                &parse("method.not=GET&action.not=audit_log.*&source=cli"),
                None
            ),
            None
        );
        assert_eq!(plan(&parse("q=deploy"), None), None);
        assert_eq!(plan(&parse("application=1&cluster=2"), None), None);
    }
}
