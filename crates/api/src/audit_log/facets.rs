//! Facets: for each filter dimension, its values with their counts, each dimension counted with
//! every filter applied but its own (so a picker shows what clicking a value would give).
//!
//! A [`FacetRequest`] narrows the answer to one dimension, to the values whose value or label
//! contains a text (so a picker finds a rare value however many frequent ones there are), and
//! sets how many values are listed. Every dimension also lists the values the view itself
//! filters on, named, so chips never show a bare id.

use std::collections::HashMap;

use auditlog_shared::wire::{FacetDimension, FacetValue, Facets};
use auditlog_shared::{in_namespace, namespaces_of, FacetRequest};
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::audit_log::columns::ColumnStore;
use crate::audit_log::rollup::{self, RollupDimension};
use crate::audit_log::view::View;
use crate::audit_log::{apply_filters, CountedFrom, DbBackend, Dimension};
use crate::catalog;
use crate::db::schema::audit_entries;
use crate::db::schema::audit_entries::dsl;
use crate::db::DbConnection;

/// The most values of a `contains` request whose name is no longer in the project's own tables
/// (deleted applications and clusters, removed members, deleted tokens) that are named from their
/// newest entry, one lookup each, to match the text; beyond them such values are matched by
/// value only. Values that still exist are matched by their current name in one read.
pub const MAX_RECORDED_NAME_LOOKUPS: usize = 200;

/// The view's facets, and where their counts came from (the in-memory columns when any
/// dimension needs the entries and they can answer).
pub fn facets(
    conn: &mut DbConnection,
    columns: &ColumnStore,
    project_id: i64,
    validated: &View,
    request: &FacetRequest,
) -> QueryResult<(Facets, CountedFrom)> {
    let from = validated.window.from.timestamp_micros();
    let to = validated.window.to.timestamp_micros();
    // Every listed dimension from the in-memory columns, in one pass, when they can answer.
    let listed: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|&d| request.lists(d))
        .collect();
    let mut column_counts = columns.with_current(conn, project_id, validated, |copy| {
        copy.facet_counts(validated, &listed)
    })?;
    // Otherwise from rollups where they can answer, and the entries for the rest.
    let split = rollup::Split::new(from, to).filter(|_| column_counts.is_none());

    // Dimensions whose view (every filter but their own) is unfiltered come from rollups over
    // the window's whole hours, plus the entries of its partial hours.
    let from_rollups: Vec<Dimension> = match &split {
        Some(_) => Dimension::ALL
            .into_iter()
            .filter(|&d| {
                request.lists(d)
                    && rollup::plan(&validated.query, Some(d)) == Some(rollup::RollupView::All)
            })
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

    // Method under an action filter, and action under a method filter, come from the
    // `method_action_class` triples whose other half passes (the navigation default filters both),
    // plus the entries of the window's partial hours.
    let counterpart = |dimension: Dimension| match dimension {
        Dimension::Method => Some(Dimension::Action),
        Dimension::Action => Some(Dimension::Method),
        _ => None,
    };
    let paired: Vec<Dimension> = match &split {
        Some(_) => [Dimension::Method, Dimension::Action]
            .into_iter()
            .filter(|&d| {
                request.lists(d)
                    && counterpart(d).is_some_and(|other| {
                        rollup::plan(&validated.query, Some(d))
                            == Some(rollup::RollupView::One(other))
                    })
            })
            .collect(),
        None => Vec::new(),
    };
    let pairs = match &split {
        Some(split) if !paired.is_empty() => rollup::pair_counts(conn, project_id, split)?,
        _ => Vec::new(),
    };

    let from_entries: Vec<Dimension> = listed
        .iter()
        .copied()
        .filter(|d| !from_rollups.contains(d) && !paired.contains(d))
        .collect();
    let counted_from = match (&column_counts, from_entries.is_empty()) {
        (Some(_), _) => CountedFrom::Columns,
        (None, true) => CountedFrom::Rollups,
        (None, false) => CountedFrom::Entries,
    };

    // Dimensions read from the entries without a filter of their own all count the same
    // entries (those passing every filter): one scan serves them all.
    let shared: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|&d| {
            column_counts.is_none()
                && request.lists(d)
                && !from_rollups.contains(&d)
                && rollup::filter_is_empty(&validated.query, d)
        })
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
    for dimension in Dimension::ALL.into_iter().filter(|&d| request.lists(d)) {
        let counts: HashMap<String, i64> = if from_rollups.contains(&dimension) {
            let mut counts = rolled_up
                .get(&RollupDimension::from(dimension))
                .cloned()
                .unwrap_or_default();
            for (value, count) in edge_counts.remove(&dimension).unwrap_or_default() {
                *counts.entry(value).or_default() += count;
            }
            counts
        } else if let (true, Some(split), Some(other)) =
            (paired.contains(&dimension), &split, counterpart(dimension))
        {
            let (include, exclude) = crate::audit_log::filter_values(validated, other);
            let mut counts: HashMap<String, i64> = HashMap::new();
            for ((method, action), entries) in &pairs {
                let (mine, theirs) = if dimension == Dimension::Method {
                    (method, action)
                } else {
                    (action, method)
                };
                if rollup::passes(theirs, &include, &exclude) {
                    *counts.entry(mine.clone()).or_default() += entries;
                }
            }
            for &(edge_from, edge_to) in &split.edges {
                let edge = validated.with_window(edge_from, edge_to);
                for (value, count) in entry_counts(conn, project_id, &edge, dimension)? {
                    *counts.entry(value).or_default() += count;
                }
            }
            counts
        } else if let Some(counted) = &mut column_counts {
            counted.remove(&dimension).unwrap_or_default()
        } else if shared.len() > 1 && shared.contains(&dimension) {
            shared_counts.remove(&dimension).unwrap_or_default()
        } else {
            entry_counts(conn, project_id, validated, dimension)?
                .into_iter()
                .collect()
        };
        let values = facet_values(dimension, counts);
        // Names from the in-memory columns when they can answer (one lookup per value
        // otherwise).
        let names = if is_named(dimension) {
            let (include, exclude) = validated.query.filter_strings(dimension);
            let mut wanted: Vec<String> = values.iter().map(|(value, _)| value.clone()).collect();
            wanted.extend(include);
            wanted.extend(exclude);
            columns.with_current(conn, project_id, validated, |copy| {
                copy.newest_names(validated, dimension, &wanted)
            })?
        } else {
            None
        };
        dimensions.push(summarize(
            conn,
            project_id,
            validated,
            request,
            dimension,
            values,
            names.as_ref(),
        )?);
    }
    Ok((Facets { dimensions }, counted_from))
}

/// Counts per stored value of a dimension (`actor_key`, `resource_key`, a status code …),
/// read from the entries, with every filter of the view but the dimension's own.
fn entry_counts(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &View,
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
    validated: &View,
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
    validated: &View,
    request: &FacetRequest,
    dimension: Dimension,
    mut values: Vec<(String, i64)>,
    names: Option<&RecordedNames>,
) -> QueryResult<FacetDimension> {
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let limit = request.limit as usize;
    let named = is_named(dimension);
    let selected = selected_values(conn, project_id, validated, dimension, &values, names)?;

    let live = match (&request.contains, named) {
        (Some(needle), true) => live_names(conn, project_id, dimension, &values, needle)?,
        _ => LiveNames::default(),
    };

    // Every namespace of the counted actions (`ext.billing` and `ext` of
    // `ext.billing.invoice_sent`) and how many entries it holds.
    let mut namespace_counts: Vec<(String, u64)> = Vec::new();
    if dimension == Dimension::Action && request.contains.is_some() {
        let mut sums: std::collections::BTreeMap<String, u64> = Default::default();
        for (value, count) in &values {
            for namespace in namespaces_of(value) {
                *sums.entry(namespace.to_string()).or_default() += *count as u64;
            }
        }
        namespace_counts.extend(sums);
    }

    let mut listed = Vec::new();
    let (mut other_values, mut other_count) = (0u64, 0u64);
    let mut recorded_lookups = 0;
    for (value, count) in values {
        let matched_label = if request.contains.is_none() {
            if listed.len() >= limit {
                None
            } else {
                Some(label(
                    conn, project_id, validated, dimension, &value, names,
                )?)
            }
        } else if request.matches(&value, "") {
            Some(cheap_label(dimension, &value))
        } else if !named {
            let label = cheap_label(dimension, &value);
            request.matches(&value, &label).then_some(label)
        } else if live.matching.contains(&value) {
            Some(value.clone())
        } else if !live.existing.contains(&value) && recorded_lookups < MAX_RECORDED_NAME_LOOKUPS {
            recorded_lookups += 1;
            let label = label(conn, project_id, validated, dimension, &value, names)?;
            request.matches(&value, &label).then_some(label)
        } else {
            None
        };
        match matched_label {
            Some(label) if listed.len() < limit => {
                // A value matched by itself is named once it is listed.
                let label = if named && label == value {
                    self::label(conn, project_id, validated, dimension, &value, names)?
                } else {
                    label
                };
                listed.push(FacetValue {
                    value,
                    label,
                    count: count as u64,
                })
            }
            Some(_) => {
                other_values += 1;
                other_count += count as u64;
            }
            None if request.contains.is_none() => {
                other_values += 1;
                other_count += count as u64;
            }
            None => {}
        }
    }
    // Searched actions include the namespaces of the window's and the catalog's actions
    // (`audit_log.*`, counting all of its actions), then the catalog's actions, so an action
    // that did not happen in the window can still be picked (it shows 0).
    if dimension == Dimension::Action && request.contains.is_some() {
        let mut namespaces: std::collections::BTreeMap<String, u64> = Default::default();
        for route in catalog::all_routes().chain(catalog::RECORDED_EVENTS) {
            for namespace in namespaces_of(route.action) {
                namespaces.entry(namespace.to_string()).or_default();
            }
        }
        for (value, count) in &namespace_counts {
            *namespaces.entry(value.clone()).or_default() += count;
        }
        for (namespace, count) in namespaces {
            let value = format!("{namespace}.*");
            let label = action_label(&value);
            if listed.len() < limit && request.matches(&value, &label) {
                listed.push(FacetValue {
                    value,
                    label,
                    count,
                });
            }
        }
        for route in catalog::all_routes()
            .chain([&catalog::UNMATCHED])
            .chain(catalog::RECORDED_EVENTS)
        {
            if listed.len() >= limit {
                break;
            }
            let absent = !listed.iter().any(|v| v.value == route.action);
            if absent && request.matches(route.action, route.label) {
                listed.push(FacetValue {
                    value: route.action.to_string(),
                    label: route.label.to_string(),
                    count: 0,
                });
            }
        }
    }
    Ok(FacetDimension {
        key: dimension.key().to_string(),
        values: listed,
        other_values,
        other_count,
        selected,
    })
}

/// Which values of a named dimension still exist in the project's tables, and which of those
/// have a current name (or a member's email) that contains the text.
#[derive(Default)]
struct LiveNames {
    existing: std::collections::HashSet<String>,
    matching: std::collections::HashSet<String>,
}

/// Ids read per query when looking names up.
const NAME_CHUNK: usize = 1_000;

fn live_names(
    conn: &mut DbConnection,
    project_id: i64,
    dimension: Dimension,
    values: &[(String, i64)],
    needle: &str,
) -> QueryResult<LiveNames> {
    use crate::db::schema::{api_tokens, applications, clusters, memberships, users};
    let ids_of = |prefix: &str| -> Vec<i64> {
        values
            .iter()
            .filter_map(|(value, _)| value.strip_prefix(prefix)?.parse().ok())
            .collect()
    };
    // (value, names to match)
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    match dimension {
        Dimension::Actor => {
            for chunk in ids_of("user:").chunks(NAME_CHUNK) {
                // Current members only: a former member's later name or address is not this
                // project's to search (their recorded name still is).
                let found: Vec<(i64, String, String)> = users::table
                    .filter(users::id.eq_any(chunk))
                    .filter(
                        users::id.eq_any(
                            memberships::table
                                .filter(memberships::project_id.eq(project_id))
                                .select(memberships::user_id),
                        ),
                    )
                    .select((users::id, users::display_name, users::email))
                    .load(conn)?;
                rows.extend(
                    found
                        .into_iter()
                        .map(|(id, name, email)| (format!("user:{id}"), vec![name, email])),
                );
            }
            for chunk in ids_of("token:").chunks(NAME_CHUNK) {
                let found: Vec<(i64, String)> = api_tokens::table
                    .filter(api_tokens::project_id.eq(project_id))
                    .filter(api_tokens::id.eq_any(chunk))
                    .select((api_tokens::id, api_tokens::name))
                    .load(conn)?;
                rows.extend(
                    found
                        .into_iter()
                        .map(|(id, name)| (format!("token:{id}"), vec![name])),
                );
            }
        }
        Dimension::Application => {
            for chunk in ids_of("").chunks(NAME_CHUNK) {
                let found: Vec<(i64, String)> = applications::table
                    .filter(applications::project_id.eq(project_id))
                    .filter(applications::id.eq_any(chunk))
                    .select((applications::id, applications::name))
                    .load(conn)?;
                rows.extend(
                    found
                        .into_iter()
                        .map(|(id, name)| (id.to_string(), vec![name])),
                );
            }
        }
        Dimension::Cluster => {
            for chunk in ids_of("").chunks(NAME_CHUNK) {
                let found: Vec<(i64, String)> = clusters::table
                    .filter(clusters::project_id.eq(project_id))
                    .filter(clusters::id.eq_any(chunk))
                    .select((clusters::id, clusters::name))
                    .load(conn)?;
                rows.extend(
                    found
                        .into_iter()
                        .map(|(id, name)| (id.to_string(), vec![name])),
                );
            }
        }
        _ => {}
    }
    let mut live = LiveNames::default();
    for (value, names) in rows {
        if names
            .iter()
            .any(|name| name.to_lowercase().contains(needle))
        {
            live.matching.insert(value.clone());
        }
        live.existing.insert(value);
    }
    Ok(live)
}

/// The values the view's own filters name for a dimension (included, then excluded), with
/// their labels and their counts in the dimension's view.
fn selected_values(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &View,
    dimension: Dimension,
    counted: &[(String, i64)],
    names: Option<&RecordedNames>,
) -> QueryResult<Vec<FacetValue>> {
    let (include, exclude) = validated.query.filter_strings(dimension);
    let mut selected = Vec::with_capacity(include.len() + exclude.len());
    for value in include.into_iter().chain(exclude) {
        // A status class counts the codes it stands for, an action namespace its actions.
        let class = (dimension == Dimension::Status)
            .then(|| value.strip_suffix("xx"))
            .flatten();
        let namespace = (dimension == Dimension::Action)
            .then(|| value.strip_suffix(".*"))
            .flatten();
        let count: i64 = counted
            .iter()
            .filter(|(counted, _)| match (class, namespace) {
                (Some(class), _) => counted.len() == 3 && counted.starts_with(class),
                (_, Some(namespace)) => in_namespace(counted, namespace),
                _ => *counted == value,
            })
            .map(|(_, count)| count)
            .sum();
        let label = label(conn, project_id, validated, dimension, &value, names)?;
        selected.push(FacetValue {
            value,
            label,
            count: count as u64,
        });
    }
    Ok(selected)
}

/// A label that needs no lookup: an action's, or the value itself.
fn cheap_label(dimension: Dimension, value: &str) -> String {
    match dimension {
        Dimension::Action => action_label(value),
        _ => value.to_string(),
    }
}

/// An action's label, or a namespace's (`audit_log.*`: "Any audit_log action").
fn action_label(value: &str) -> String {
    match value.strip_suffix(".*") {
        Some(namespace) => format!("Any {namespace} action"),
        None => catalog::label(value).unwrap_or(value).to_string(),
    }
}

/// Whether a dimension's values are ids shown by name (actors, applications, clusters).
fn is_named(dimension: Dimension) -> bool {
    matches!(
        dimension,
        Dimension::Actor | Dimension::Application | Dimension::Cluster
    )
}

/// Per value, the name on its newest entry in the window (`None`: no entry there), as the
/// in-memory columns read it.
type RecordedNames = HashMap<String, Option<String>>;

/// What a value is shown as: an action's label, or for actors, applications and clusters the
/// name on the newest entry of the window that names them (names change; entries keep the name
/// they were recorded with), from `names` when they hold the value.
fn label(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &View,
    dimension: Dimension,
    value: &str,
    names: Option<&RecordedNames>,
) -> QueryResult<String> {
    if let Some(recorded) = names.and_then(|names| names.get(value)) {
        return Ok(recorded.clone().unwrap_or_else(|| value.to_string()));
    }
    let newest = audit_entries::table
        .filter(dsl::project_id.eq(project_id))
        .filter(dsl::ts.ge(validated.window.from.timestamp_micros()))
        .filter(dsl::ts.lt(validated.window.to.timestamp_micros()))
        .order((dsl::ts.desc(), dsl::id.desc()))
        .into_boxed::<DbBackend>();
    let name: Option<String> = match dimension {
        Dimension::Action => return Ok(action_label(value)),
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
