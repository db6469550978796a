//! The typed query bar against a project: names in a bar text become the ids the query model
//! filters on, and a view's ids become names when it is written back as bar text.
//!
//! Only the project's own members, API tokens (revoked ones included), applications and
//! clusters are names here: a name resolves to exactly one of them, by an exact match first
//! (ignoring case; a member's email counts as a name) and then by a unique substring, or the
//! term is an error that says what it matched. Ids (`user:7`, `token:3`, `12`) are taken as
//! they are, so entries of deleted resources stay reachable.

use std::collections::HashMap;

use auditlog_shared::bar::{is_id, to_bar, BarError, ParsedBar};
use auditlog_shared::{AuditQuery, Dimension};
use diesel::prelude::*;

use crate::db::DbConnection;

/// Reads a bar text against a project: the view it describes, and the bar text written back
/// (names for ids where a name reads back as the same id). The outer error is the database's;
/// the inner one names the token that cannot be read.
pub fn read(
    conn: &mut DbConnection,
    project_id: i64,
    text: &str,
) -> QueryResult<Result<(AuditQuery, String), BarError>> {
    let parsed = match ParsedBar::parse(text) {
        Ok(parsed) => parsed,
        Err(error) => return Ok(Err(error)),
    };
    let named = Candidates::load(conn, project_id)?;
    let query = match parsed.to_query(|dimension, value| named.resolve(dimension, value)) {
        Ok(query) => query,
        Err(error) => return Ok(Err(error)),
    };
    let written = to_bar(&query, |dimension, value| named.name_of(dimension, value));
    Ok(Ok((query, written)))
}

/// The names a bar may use in one project: `(query-string value, names)` per dimension.
struct Candidates {
    by_dimension: HashMap<Dimension, Vec<(String, Vec<String>)>>,
}

impl Candidates {
    fn load(conn: &mut DbConnection, project_id: i64) -> QueryResult<Candidates> {
        use crate::db::schema::{api_tokens, applications, clusters, memberships, users};
        let members: Vec<(i64, String, String)> = users::table
            .inner_join(memberships::table.on(memberships::user_id.eq(users::id)))
            .filter(memberships::project_id.eq(project_id))
            .select((users::id, users::display_name, users::email))
            .load(conn)?;
        let tokens: Vec<(i64, String)> = api_tokens::table
            .filter(api_tokens::project_id.eq(project_id))
            .select((api_tokens::id, api_tokens::name))
            .load(conn)?;
        let apps: Vec<(i64, String)> = applications::table
            .filter(applications::project_id.eq(project_id))
            .select((applications::id, applications::name))
            .load(conn)?;
        let cluster_rows: Vec<(i64, String)> = clusters::table
            .filter(clusters::project_id.eq(project_id))
            .select((clusters::id, clusters::name))
            .load(conn)?;
        let mut actors: Vec<(String, Vec<String>)> = members
            .into_iter()
            .map(|(id, name, email)| (format!("user:{id}"), vec![name, email]))
            .collect();
        actors.extend(
            tokens
                .into_iter()
                .map(|(id, name)| (format!("token:{id}"), vec![name])),
        );
        let plain = |rows: Vec<(i64, String)>| -> Vec<(String, Vec<String>)> {
            rows.into_iter()
                .map(|(id, name)| (id.to_string(), vec![name]))
                .collect()
        };
        Ok(Candidates {
            by_dimension: HashMap::from([
                (Dimension::Actor, actors),
                (Dimension::Application, plain(apps)),
                (Dimension::Cluster, plain(cluster_rows)),
            ]),
        })
    }

    /// The query-string value a term's value stands for.
    fn resolve(&self, dimension: Dimension, value: &str) -> Result<String, String> {
        if is_id(dimension, value) {
            return Ok(value.to_string());
        }
        let what = dimension.label().to_lowercase();
        let candidates = self
            .by_dimension
            .get(&dimension)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let needle = value.to_lowercase();
        let exact: Vec<&(String, Vec<String>)> = candidates
            .iter()
            .filter(|(_, names)| names.iter().any(|n| n.to_lowercase() == needle))
            .collect();
        let matching: Vec<&(String, Vec<String>)> = if exact.is_empty() {
            candidates
                .iter()
                .filter(|(_, names)| names.iter().any(|n| n.to_lowercase().contains(&needle)))
                .collect()
        } else {
            exact
        };
        match matching.as_slice() {
            [(value, _)] => Ok(value.clone()),
            [] => Err(format!(
                "no {what} of this project is named “{value}” (an id such as {} works for deleted ones)",
                if dimension == Dimension::Actor { "user:7" } else { "12" }
            )),
            several => {
                let names: Vec<&str> = several
                    .iter()
                    .take(3)
                    .map(|(_, names)| names[0].as_str())
                    .collect();
                Err(format!(
                    "“{value}” matches {} {what}s ({}{}): type more of the name, or its id",
                    several.len(),
                    names.join(", "),
                    if several.len() > 3 { ", …" } else { "" }
                ))
            }
        }
    }

    /// A value's name, when that name reads back as the same value.
    fn name_of(&self, dimension: Dimension, value: &str) -> Option<String> {
        let (_, names) = self
            .by_dimension
            .get(&dimension)?
            .iter()
            .find(|(candidate, _)| candidate == value)?;
        let name = names.first()?;
        (self.resolve(dimension, name).as_deref() == Ok(value)).then(|| name.clone())
    }
}
