//! Facets: for each filter dimension, its values with their counts, each dimension counted with
//! every filter applied but its own (so a picker shows what clicking a value would give).

use auditlog_shared::wire::{FacetDimension, FacetValue, Facets};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

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
    let mut dimensions = Vec::new();
    for dimension in Dimension::ALL {
        macro_rules! grouped {
            ($group:expr, $select:expr) => {
                apply_filters!(
                    audit_entries::table
                        .group_by($group)
                        .select($select)
                        .into_boxed::<DbBackend>(),
                    project_id,
                    validated,
                    Some(dimension)
                )
            };
        }
        // (value, label, count)
        let values: Vec<(String, String, i64)> = match dimension {
            Dimension::Actor => grouped!(
                dsl::actor_key,
                (dsl::actor_key, max(dsl::actor_name), count_star())
            )
            .load::<(String, Option<String>, i64)>(conn)?
            .into_iter()
            .map(|(key, name, count)| (key.clone(), name.unwrap_or(key), count))
            .collect(),
            Dimension::Method => {
                plain(grouped!(dsl::method, (dsl::method, count_star())).load(conn)?)
            }
            Dimension::Source => {
                plain(grouped!(dsl::source, (dsl::source, count_star())).load(conn)?)
            }
            Dimension::ResourceType => {
                plain(grouped!(dsl::resource_type, (dsl::resource_type, count_star())).load(conn)?)
            }
            Dimension::Action => grouped!(dsl::action, (dsl::action, count_star()))
                .load::<(String, i64)>(conn)?
                .into_iter()
                .map(|(action, count)| {
                    let label = catalog::label(&action)
                        .map(str::to_string)
                        .unwrap_or_else(|| action.clone());
                    (action, label, count)
                })
                .collect(),
            Dimension::Status => grouped!(dsl::status_code, (dsl::status_code, count_star()))
                .load::<(i32, i64)>(conn)?
                .into_iter()
                .map(|(code, count)| (code.to_string(), code.to_string(), count))
                .collect(),
            Dimension::Application | Dimension::Cluster => {
                let kind = if dimension == Dimension::Application {
                    "application"
                } else {
                    "cluster"
                };
                grouped!(
                    dsl::resource_key,
                    (dsl::resource_key, max(dsl::resource_name), count_star())
                )
                .filter(dsl::resource_type.eq(kind))
                .filter(dsl::resource_id.is_not_null())
                .load::<(String, Option<String>, i64)>(conn)?
                .into_iter()
                .filter_map(|(key, name, count)| {
                    let id = key.split_once(':')?.1.to_string();
                    Some((id.clone(), name.unwrap_or(id), count))
                })
                .collect()
            }
        };
        dimensions.push(summarize(dimension.key(), values));
    }
    Ok(Facets { dimensions })
}

fn plain(values: Vec<(String, i64)>) -> Vec<(String, String, i64)> {
    values
        .into_iter()
        .map(|(value, count)| (value.clone(), value, count))
        .collect()
}

fn summarize(key: &str, mut values: Vec<(String, String, i64)>) -> FacetDimension {
    values.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let rest = values.split_off(values.len().min(TOP_VALUES));
    FacetDimension {
        key: key.to_string(),
        values: values
            .into_iter()
            .map(|(value, label, count)| FacetValue {
                value,
                label,
                count: count as u64,
            })
            .collect(),
        other_values: rest.len() as u64,
        other_count: rest.iter().map(|v| v.2 as u64).sum(),
    }
}
