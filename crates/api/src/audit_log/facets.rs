//! Facets: for each filter dimension, its values with their counts, each dimension counted with
//! every filter applied but its own (so a picker shows what clicking a value would give).

use std::collections::HashMap;

use auditlog_shared::wire::{FacetDimension, FacetValue, Facets};
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::audit_log::rollup::{self, RollupDimension};
use crate::audit_log::{apply_filters, DbBackend, Dimension};
use crate::audit_query::ValidatedQuery;
use crate::capture::catalog;
use crate::db::schema::audit_entries;
use crate::db::schema::audit_entries::dsl;
use crate::db::DbConnection;

/// Values listed per dimension; the rest are summed up.
pub const TOP_VALUES: usize = 25;

pub fn facets(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &ValidatedQuery,
) -> QueryResult<Facets> {
    let from = validated.window.from.timestamp_micros();
    let to = validated.window.to.timestamp_micros();
    let split = rollup::Split::new(from, to);

    // Dimensions whose view (every filter but their own) is unfiltered come from rollups over
    // the window's whole hours, plus the entries of its partial hours.
    let from_rollups: Vec<Dimension> = match &split {
        Some(_) => Dimension::ALL
            .into_iter()
            .filter(|&d| rollup::plan(&validated.query, Some(d)) == Some(None))
            .collect(),
        None => Vec::new(),
    };
    let rolled_up = match &split {
        Some(split) if !from_rollups.is_empty() => {
            let mut wanted: Vec<RollupDimension> = from_rollups
                .iter()
                .map(|&d| RollupDimension::from(d))
                .collect();
            wanted.sort();
            wanted.dedup();
            rollup::value_counts(conn, project_id, &wanted, split)?
        }
        _ => HashMap::new(),
    };

    // Dimensions read from the entries without a filter of their own all count the same
    // entries (those passing every filter): one scan serves them all.
    let shared: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|&d| !from_rollups.contains(&d) && rollup::filter_is_empty(&validated.query, d))
        .collect();
    let mut shared_counts = if shared.len() > 1 {
        combined_counts(conn, project_id, validated, None)?
    } else {
        HashMap::new()
    };

    // The partial hours at the window's edges, counted unfiltered as the view of every
    // dimension served by rollups is, in one grouped scan per edge. (Either the view has no
    // filter at all, or rollups serve only the one filtered dimension, whose filter is skipped.)
    let mut edge_counts: HashMap<Dimension, HashMap<String, i64>> = HashMap::new();
    if let (Some(&first), Some(split)) = (from_rollups.first(), &split) {
        for &(edge_from, edge_to) in &split.edges {
            let edge = validated.with_window(edge_from, edge_to);
            for (dimension, values) in combined_counts(conn, project_id, &edge, Some(first))? {
                let merged = edge_counts.entry(dimension).or_default();
                for (value, count) in values {
                    *merged.entry(value).or_default() += count;
                }
            }
        }
    }

    let mut dimensions = Vec::new();
    for dimension in Dimension::ALL {
        let counts: HashMap<String, i64> = if from_rollups.contains(&dimension) {
            let mut counts = rolled_up
                .get(&RollupDimension::from(dimension))
                .cloned()
                .unwrap_or_default();
            for (value, count) in edge_counts.remove(&dimension).unwrap_or_default() {
                *counts.entry(value).or_default() += count;
            }
            counts
        } else if shared.len() > 1 && shared.contains(&dimension) {
            shared_counts.remove(&dimension).unwrap_or_default()
        } else {
            entry_counts(conn, project_id, validated, dimension)?
                .into_iter()
                .collect()
        };
        let values = facet_values(dimension, counts);
        dimensions.push(summarize(conn, project_id, validated, dimension, values)?);
    }
    Ok(Facets { dimensions })
}

/// Counts per stored value of a dimension (`actor_key`, `resource_key`, a status code …),
/// read from the entries, with every filter of the view but the dimension's own.
fn entry_counts(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &ValidatedQuery,
    dimension: Dimension,
) -> QueryResult<Vec<(String, i64)>> {
    macro_rules! grouped {
        ($group:expr) => {
            apply_filters!(
                audit_entries::table
                    .group_by($group)
                    .select(($group, count_star()))
                    .into_boxed::<DbBackend>(),
                project_id,
                validated,
                Some(dimension)
            )
        };
    }
    Ok(match dimension {
        Dimension::Actor => grouped!(dsl::actor_key).load(conn)?,
        Dimension::Method => grouped!(dsl::method).load(conn)?,
        Dimension::Source => grouped!(dsl::source).load(conn)?,
        Dimension::ResourceType => grouped!(dsl::resource_type).load(conn)?,
        Dimension::Action => grouped!(dsl::action).load(conn)?,
        Dimension::Status => grouped!(dsl::status_code)
            .load::<(i32, i64)>(conn)?
            .into_iter()
            .map(|(code, count)| (code.to_string(), count))
            .collect(),
        Dimension::Application | Dimension::Cluster => {
            let prefix = if dimension == Dimension::Application {
                "application:%"
            } else {
                "cluster:%"
            };
            grouped!(dsl::resource_key)
                .filter(dsl::resource_key.like(prefix))
                .load(conn)?
        }
    })
}

/// `(actor_key, method, source, action, status_code, resource_type, resource_key, count)`.
type CombinedRow = (String, String, String, String, i32, String, String, i64);

/// Counts per value of every dimension over the entries passing the view's filters (all but
/// `skip`'s), in one scan.
fn combined_counts(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &ValidatedQuery,
    skip: Option<Dimension>,
) -> QueryResult<HashMap<Dimension, HashMap<String, i64>>> {
    let columns = (
        dsl::actor_key,
        dsl::method,
        dsl::source,
        dsl::action,
        dsl::status_code,
        dsl::resource_type,
        dsl::resource_key,
    );
    let rows: Vec<CombinedRow> = apply_filters!(
        audit_entries::table
            .group_by(columns)
            .select((
                dsl::actor_key,
                dsl::method,
                dsl::source,
                dsl::action,
                dsl::status_code,
                dsl::resource_type,
                dsl::resource_key,
                count_star(),
            ))
            .into_boxed::<DbBackend>(),
        project_id,
        validated,
        skip
    )
    .load(conn)?;
    let mut counts: HashMap<Dimension, HashMap<String, i64>> = HashMap::new();
    let mut add = |dimension: Dimension, value: &str, count: i64| {
        let values = counts.entry(dimension).or_default();
        match values.get_mut(value) {
            Some(total) => *total += count,
            None => {
                values.insert(value.to_string(), count);
            }
        }
    };
    for (actor, method, source, action, status, resource_type, resource, count) in &rows {
        add(Dimension::Actor, actor, *count);
        add(Dimension::Method, method, *count);
        add(Dimension::Source, source, *count);
        add(Dimension::Action, action, *count);
        add(Dimension::Status, &status.to_string(), *count);
        add(Dimension::ResourceType, resource_type, *count);
        if resource.starts_with("application:") {
            add(Dimension::Application, resource, *count);
        } else if resource.starts_with("cluster:") {
            add(Dimension::Cluster, resource, *count);
        }
    }
    Ok(counts)
}

/// The values a facet lists, as `(value, count)`: application and cluster facets list ids
/// (resources with a known id only), the others their stored values.
fn facet_values(dimension: Dimension, counts: HashMap<String, i64>) -> Vec<(String, i64)> {
    let prefix = match dimension {
        Dimension::Application => "application:",
        Dimension::Cluster => "cluster:",
        _ => return counts.into_iter().collect(),
    };
    counts
        .into_iter()
        .filter_map(|(key, count)| {
            let id = key.strip_prefix(prefix)?;
            (!id.is_empty()).then(|| (id.to_string(), count))
        })
        .collect()
}

fn summarize(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &ValidatedQuery,
    dimension: Dimension,
    mut values: Vec<(String, i64)>,
) -> QueryResult<FacetDimension> {
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest = values.split_off(values.len().min(TOP_VALUES));
    let mut listed = Vec::with_capacity(values.len());
    for (value, count) in values {
        let label = label(conn, project_id, validated, dimension, &value)?;
        listed.push(FacetValue {
            value,
            label,
            count: count as u64,
        });
    }
    Ok(FacetDimension {
        key: dimension.key().to_string(),
        values: listed,
        other_values: rest.len() as u64,
        other_count: rest.iter().map(|v| v.1 as u64).sum(),
    })
}

/// What a value is shown as: an action's label, or for actors, applications and clusters the
/// name on the newest entry of the window that names them (names change; entries keep the name
/// they were recorded with).
fn label(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &ValidatedQuery,
    dimension: Dimension,
    value: &str,
) -> QueryResult<String> {
    let newest = audit_entries::table
        .filter(dsl::project_id.eq(project_id))
        .filter(dsl::ts.ge(validated.window.from.timestamp_micros()))
        .filter(dsl::ts.lt(validated.window.to.timestamp_micros()))
        .order((dsl::ts.desc(), dsl::id.desc()))
        .into_boxed::<DbBackend>();
    let name: Option<String> = match dimension {
        Dimension::Action => return Ok(catalog::label(value).unwrap_or(value).to_string()),
        Dimension::Actor => newest
            .filter(dsl::actor_key.eq(value.to_string()))
            .select(dsl::actor_name)
            .first(conn)
            .optional()?,
        Dimension::Application | Dimension::Cluster => {
            let kind = if dimension == Dimension::Application {
                "application"
            } else {
                "cluster"
            };
            newest
                .filter(dsl::resource_key.eq(format!("{kind}:{value}")))
                .select(dsl::resource_name)
                .first(conn)
                .optional()?
        }
        _ => None,
    };
    Ok(name.unwrap_or_else(|| value.to_string()))
}
