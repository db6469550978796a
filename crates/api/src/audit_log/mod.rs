//! Reading the audit log: one filter builder shared by the list, the
//! histogram, the facets and the export, so that they always agree on what a query matches.
//!
//! Invariants:
//! * Every read is scoped to one project and to the validated window `[from, to)`, which
//!   [`ValidatedQuery`] has already clamped to retention.
//! * Enumerated dimensions filter with `=` (one value), `IN` and `NOT IN` on the values
//!   [`filter_values`] gives, which the rollups use too; status classes are code ranges. Actors,
//!   applications and clusters use the derived `actor_key` / `resource_key` columns (`user:12`,
//!   `application:7`), so an exclude never drops entries with a missing id.
//! * Search lowercases the text in Rust and matches the lowercased `search_text` column with a
//!   `LIKE` whose `%`, `_` and `\` are escaped: the same answer on SQLite and PostgreSQL. The
//!   actions and actors the term also names ([`search::SearchAlso`]) are ORed in by key.
//! * Order is `(ts, id)` descending everywhere; pages are keyset pages.

pub mod bar;
pub mod columns;
pub mod export;
pub mod facets;
pub mod histogram;
pub mod retention;
pub mod rollup;
pub mod search;
pub mod view;

use actix_web::web::Bytes;
use auditlog_shared::wire::{AuditEntry, AuditPage, EntryActor, EntryResource};
use auditlog_shared::{ActionMatch, Cursor, CursorDirection, ResourceType, Source, StatusMatch};
use diesel::prelude::*;

use crate::audit_log::view::View;
use crate::audit_query::ValidatedQuery;
use crate::catalog;
use crate::clock::from_micros;
use crate::db::schema::audit_entries;
use crate::db::stored::Stored;
use crate::db::DbConnection;

/// The backend type of [`DbConnection`] (SQLite or PostgreSQL, chosen at run time).
pub type DbBackend = <DbConnection as diesel::Connection>::Backend;
/// A filtered, boxed query over audit entries.
pub type BoxedEntries<'a> = audit_entries::BoxedQuery<'a, DbBackend>;

/// The filter dimensions (the shared crate's list, which facets and filters iterate).
pub use auditlog_shared::Dimension;

/// Applies a query's project, window, filters and search to any boxed query over
/// `audit_entries` (plain, or grouped for counting) — all filters but `skip`'s, which facets
/// leave out for the dimension they count.
macro_rules! apply_filters {
    ($boxed:expr, $project_id:expr, $validated:expr, $skip:expr) => {{
        use $crate::audit_log::Dimension;
        use $crate::db::schema::audit_entries::dsl;
        let validated: &$crate::audit_log::view::View = $validated;
        let skip: Option<Dimension> = $skip;
        let from = validated.window.from.timestamp_micros();
        let to = validated.window.to.timestamp_micros();
        let boxed = match &validated.search_index {
            // The trigram index drives (see `search`): the unary `+` keeps SQLite from using
            // the project and time indexes, so it reads the index's candidates by rowid.
            Some(expression) => $boxed.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("+audit_entries.project_id = ")
                    .bind::<diesel::sql_types::BigInt, _>($project_id)
                    .sql(" AND +audit_entries.ts >= ")
                    .bind::<diesel::sql_types::BigInt, _>(from)
                    .sql(" AND +audit_entries.ts < ")
                    .bind::<diesel::sql_types::BigInt, _>(to)
                    .sql(" AND audit_entries.id IN (SELECT rowid FROM audit_search WHERE audit_search MATCH ")
                    .bind::<diesel::sql_types::Text, _>(expression.clone())
                    .sql(")"),
            ),
            None => $boxed
                .filter(dsl::project_id.eq($project_id))
                .filter(dsl::ts.ge(from))
                .filter(dsl::ts.lt(to)),
        };
        $crate::audit_log::apply_dimension_filters!(boxed, validated, skip)
    }};
}
pub(crate) use apply_filters;

/// Applies a query's filters and search (all but `skip`'s) — not its project or window — to a
/// boxed query over `audit_entries`.
macro_rules! apply_dimension_filters {
    ($boxed:expr, $validated:expr, $skip:expr) => {{
        use $crate::audit_log::Dimension;
        use $crate::db::schema::audit_entries::dsl;
        let validated: &$crate::audit_log::view::View = $validated;
        let skip: Option<Dimension> = $skip;
        let query = &validated.query;
        let mut boxed = $boxed;
        macro_rules! include_exclude {
            ($dimension:expr, $column:expr) => {
                if skip != Some($dimension) {
                    let (mut include, exclude) =
                        $crate::audit_log::filter_values(validated, $dimension);
                    // One value is an equality: PostgreSQL reads `= ANY(array)` unordered
                    // and sorts, where `=` walks the index in time order and stops at a page.
                    if include.len() == 1 {
                        boxed = boxed.filter($column.eq(include.remove(0)));
                    } else if !include.is_empty() {
                        boxed = boxed.filter($column.eq_any(include));
                    }
                    if !exclude.is_empty() {
                        boxed = boxed.filter($column.ne_all(exclude));
                    }
                }
            };
        }
        include_exclude!(Dimension::Actor, dsl::actor_key);
        include_exclude!(Dimension::Method, dsl::method);
        include_exclude!(Dimension::Source, dsl::source);
        include_exclude!(Dimension::Action, dsl::action);
        // Status is an integer column: codes and class ranges (see `status_predicate`).
        if skip != Some(Dimension::Status) {
            if let Some(predicate) = $crate::audit_log::status_predicate(&query.status.include) {
                boxed = boxed.filter(predicate);
            }
            if let Some(predicate) = $crate::audit_log::status_predicate(&query.status.exclude) {
                boxed = boxed.filter(diesel::dsl::not(predicate));
            }
        }
        include_exclude!(Dimension::ResourceType, dsl::resource_type);
        include_exclude!(Dimension::Application, dsl::resource_key);
        include_exclude!(Dimension::Cluster, dsl::resource_key);
        if let Some(request_id) = &query.request_id {
            boxed = boxed.filter(dsl::request_id.eq(request_id.as_str().to_string()));
        }
        if let Some(search) = &query.search {
            boxed = boxed.filter($crate::audit_log::search_predicate(
                search.as_str(),
                &validated.search_also,
            ));
        }
        boxed
    }};
}
pub(crate) use apply_dimension_filters;

/// The ingested actions (`ext.…`) of the window's hours, when an action namespace of the query
/// may name some. The server's own actions are the catalog's; ingested ones are whatever
/// clients sent, and the hourly rollups, which count every entry, list them.
fn ingested_actions(
    conn: &mut DbConnection,
    project_id: i64,
    validated: &ValidatedQuery,
) -> QueryResult<Vec<String>> {
    use crate::db::schema::audit_rollups::dsl;
    let action = &validated.query.action;
    let ingested_namespace = action.include.iter().chain(&action.exclude).any(|a| {
        matches!(a, ActionMatch::Namespace(namespace)
            if format!("{}.", namespace.as_str()).starts_with(catalog::INGESTED_ACTION_PREFIX))
    });
    if !ingested_namespace {
        return Ok(Vec::new());
    }
    dsl::audit_rollups
        .filter(dsl::project_id.eq(project_id))
        .filter(dsl::dimension.eq(rollup::RollupDimension::Action.as_str()))
        .filter(dsl::bucket.ge(rollup::bucket_of(validated.window.from.timestamp_micros())))
        .filter(dsl::bucket.lt(validated.window.to.timestamp_micros()))
        .filter(dsl::value.like(format!("{}%", catalog::INGESTED_ACTION_PREFIX)))
        .select(dsl::value)
        .distinct()
        .load(conn)
}

/// What a search matches: the term in the search text, or one of the actions and actors it
/// also stands for (see [`search::SearchAlso`]).
pub fn search_predicate(term: &str, also: &search::SearchAlso) -> EntryPredicate {
    use audit_entries::dsl;
    let text = dsl::search_text.like(like_pattern(term)).escape('\\');
    match (also.actions.is_empty(), also.actor_keys.is_empty()) {
        (true, true) => Box::new(text),
        (false, true) => Box::new(text.or(dsl::action.eq_any(also.actions.clone()))),
        (true, false) => Box::new(text.or(dsl::actor_key.eq_any(also.actor_keys.clone()))),
        (false, false) => Box::new(
            text.or(dsl::action.eq_any(also.actions.clone()))
                .or(dsl::actor_key.eq_any(also.actor_keys.clone())),
        ),
    }
}

/// The project's entries in the query's window that pass its filters and search (all filters
/// but `skip`'s).
pub fn filtered(
    project_id: i64,
    validated: &View,
    skip: Option<Dimension>,
) -> BoxedEntries<'static> {
    apply_filters!(
        audit_entries::table.into_boxed::<DbBackend>(),
        project_id,
        validated,
        skip
    )
}

/// A boxed condition on `audit_entries`.
pub type EntryPredicate = Box<
    dyn diesel::BoxableExpression<
        audit_entries::table,
        DbBackend,
        SqlType = diesel::sql_types::Bool,
    >,
>;

/// Whether an entry's status is one of `matches`: `=` for a code, a range for a class (an index
/// range the planner can estimate, where a hundred listed codes would not be). `None` for no
/// matches.
pub(crate) fn status_predicate(
    matches: &std::collections::BTreeSet<StatusMatch>,
) -> Option<EntryPredicate> {
    use audit_entries::dsl::status_code;
    matches
        .iter()
        .map(|status| -> EntryPredicate {
            match *status {
                StatusMatch::Code(code) => Box::new(status_code.eq(i32::from(code))),
                StatusMatch::Class(class) => {
                    let first = i32::from(class) * 100;
                    Box::new(status_code.ge(first).and(status_code.le(first + 99)))
                }
            }
        })
        .reduce(|either, or| Box::new(either.or(or)))
}

/// Where a count came from, for the `Server-Timing` header of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountedFrom {
    /// The hourly and daily rollups (plus the entries of the window's partial hours).
    Rollups,
    /// The in-memory columns (`columns`).
    Columns,
    /// The entries, read from the database.
    Entries,
}

impl CountedFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            CountedFrom::Rollups => "rollups",
            CountedFrom::Columns => "columns",
            CountedFrom::Entries => "entries",
        }
    }
}

/// How many entries the view matches in its whole window: from the in-memory columns when they
/// can answer, else from rollups where they can, else by counting entries.
pub fn count(
    conn: &mut DbConnection,
    columns: &columns::ColumnStore,
    project_id: i64,
    validated: &View,
) -> QueryResult<i64> {
    if let Some(total) =
        columns.with_current(conn, project_id, validated, |copy| copy.count(validated))?
    {
        return Ok(total);
    }
    let Some((filtered_dimension, split)) = rollup::window_plan(validated) else {
        return filtered(project_id, validated, None)
            .count()
            .get_result(conn);
    };
    let mut total = rollup::total(conn, project_id, validated, filtered_dimension, &split)?;
    for (edge_from, edge_to) in split.edges {
        let edge = validated.with_window(edge_from, edge_to);
        total += filtered(project_id, &edge, None)
            .count()
            .get_result::<i64>(conn)?;
    }
    Ok(total)
}

/// A dimension's include and exclude lists as the values stored for it: `actor_key`, method,
/// source, action, status codes (as text), resource type, or `resource_key` (`application:7`).
/// The entries' filters and the rollups' filters both read them from here.
pub(crate) fn filter_values(validated: &View, dimension: Dimension) -> (Vec<String>, Vec<String>) {
    let query = &validated.query;
    fn strings<T: Ord>(
        filter: &auditlog_shared::Filter<T>,
        to_values: impl Fn(&T) -> Vec<String>,
    ) -> (Vec<String>, Vec<String>) {
        let mut include: Vec<String> = filter.include.iter().flat_map(&to_values).collect();
        // An include that stands for no value (a namespace without actions) matches nothing,
        // never everything: the empty string is no stored value of any dimension.
        if include.is_empty() && !filter.include.is_empty() {
            include.push(String::new());
        }
        (
            include,
            filter.exclude.iter().flat_map(&to_values).collect(),
        )
    }
    match dimension {
        Dimension::Actor => strings(&query.actor, |a| vec![a.to_string()]),
        Dimension::Method => strings(&query.method, |m| vec![m.as_str().to_string()]),
        Dimension::Source => strings(&query.source, |s| vec![s.as_str().to_string()]),
        Dimension::Action => strings(&query.action, |action| match action {
            ActionMatch::Key(key) => vec![key.as_str().to_string()],
            ActionMatch::Namespace(_) => catalog::all_routes()
                .chain([&catalog::UNMATCHED])
                .chain(catalog::RECORDED_EVENTS)
                .map(|route| route.action)
                .chain(validated.ingested_actions.iter().map(String::as_str))
                .filter(|value| action.matches(value))
                .map(str::to_string)
                .collect(),
        }),
        Dimension::Status => strings(&query.status, |s| {
            status_codes(s).iter().map(i32::to_string).collect()
        }),
        Dimension::ResourceType => strings(&query.resource_type, |t| vec![t.as_str().to_string()]),
        Dimension::Application => {
            strings(&query.application, |id| vec![format!("application:{id}")])
        }
        Dimension::Cluster => strings(&query.cluster, |id| vec![format!("cluster:{id}")]),
    }
}

/// The status codes a status match stands for: one code, or the hundred of a class.
pub(crate) fn status_codes(status: &StatusMatch) -> Vec<i32> {
    match *status {
        StatusMatch::Code(code) => vec![i32::from(code)],
        StatusMatch::Class(class) => {
            let first = i32::from(class) * 100;
            (first..first + 100).collect()
        }
    }
}

/// A `LIKE` pattern matching `text` literally anywhere, case-insensitively (the column is
/// lowercased at write time).
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A stored entry as the list and the export read it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_entries)]
pub struct EntryRow {
    pub id: i64,
    pub ts: i64,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub actor_email: Option<String>,
    pub source: Stored<Source>,
    pub method: String,
    pub path: String,
    pub route: String,
    pub action: String,
    pub status_code: i32,
    pub resource_type: Stored<ResourceType>,
    pub resource_id: Option<i64>,
    pub resource_name: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub duration_us: i64,
    pub ingested_by_token_id: Option<i64>,
    pub changes: Option<String>,
    pub chain_seq: i64,
    pub prev_hash: String,
    pub entry_hash: String,
}

impl From<EntryRow> for AuditEntry {
    fn from(row: EntryRow) -> AuditEntry {
        AuditEntry {
            id: row.id,
            timestamp: from_micros(row.ts),
            actor: EntryActor {
                kind: row.actor_kind,
                id: row.actor_id,
                name: row.actor_name,
                email: row.actor_email,
            },
            source: row.source.0,
            method: row.method,
            path: row.path,
            route: row.route,
            action_label: catalog::label(&row.action)
                .map(str::to_string)
                .unwrap_or_else(|| row.action.clone()),
            action: row.action,
            status: u16::try_from(row.status_code).unwrap_or(0),
            resource: EntryResource {
                kind: row.resource_type.0,
                id: row.resource_id,
                name: row.resource_name,
            },
            client_ip: row.client_ip,
            user_agent: row.user_agent,
            request_id: row.request_id,
            duration_ms: row.duration_us as f64 / 1000.0,
            ingested_by_token_id: row.ingested_by_token_id,
            // A stored text that is not a change list reads as none; its hash then fails.
            changes: row
                .changes
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default(),
            chain_seq: row.chain_seq,
            prev_hash: row.prev_hash,
            entry_hash: row.entry_hash,
        }
    }
}

/// Entries past a cursor at `(t, i)` in the direction of `operator` (`<` older, `>` newer).
///
/// `ts <= t` (or `>=`) repeats what the `OR` implies, as a bound an index range can start at.
/// When the trigram index drives, the unary `+` keeps the time index out of the plan.
pub(crate) fn after_cursor(validated: &View, operator: &str, t: i64, i: i64) -> EntryPredicate {
    use diesel::sql_types::BigInt;
    let plus = if validated.search_index.is_some() {
        "+"
    } else {
        ""
    };
    Box::new(
        diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "({plus}audit_entries.ts {operator}= "
        ))
        .bind::<BigInt, _>(t)
        .sql(&format!(" AND ({plus}audit_entries.ts {operator} "))
        .bind::<BigInt, _>(t)
        .sql(&format!(" OR ({plus}audit_entries.ts = "))
        .bind::<BigInt, _>(t)
        .sql(&format!(" AND {plus}audit_entries.id {operator} "))
        .bind::<BigInt, _>(i)
        .sql(")))"),
    )
}

/// One entry of a project by its id, unless it is older than `horizon` (past retention).
pub fn entry(
    conn: &mut DbConnection,
    project_id: i64,
    entry_id: i64,
    horizon: chrono::DateTime<chrono::Utc>,
) -> QueryResult<Option<AuditEntry>> {
    use audit_entries::dsl;
    let row: Option<EntryRow> = audit_entries::table
        .filter(dsl::project_id.eq(project_id))
        .filter(dsl::id.eq(entry_id))
        .filter(dsl::ts.ge(horizon.timestamp_micros()))
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(AuditEntry::from))
}

/// One page of entries, newest first, with the queries of the neighbouring pages.
pub fn list(conn: &mut DbConnection, project_id: i64, validated: &View) -> QueryResult<AuditPage> {
    use audit_entries::dsl::{id, ts};
    let limit = i64::from(validated.query.page_size.get());
    let cursor = validated.query.cursor;

    let mut rows: Vec<EntryRow> = match cursor {
        None => filtered(project_id, validated, None)
            .order((ts.desc(), id.desc()))
            .limit(limit + 1)
            .select(EntryRow::as_select())
            .load(conn)?,
        Some(Cursor {
            direction: CursorDirection::Older,
            timestamp_micros: t,
            id: i,
        }) => filtered(project_id, validated, None)
            .filter(after_cursor(validated, "<", t, i))
            .order((ts.desc(), id.desc()))
            .limit(limit + 1)
            .select(EntryRow::as_select())
            .load(conn)?,
        Some(Cursor {
            direction: CursorDirection::Newer,
            timestamp_micros: t,
            id: i,
        }) => filtered(project_id, validated, None)
            .filter(after_cursor(validated, ">", t, i))
            .order((ts.asc(), id.asc()))
            .limit(limit + 1)
            .select(EntryRow::as_select())
            .load(conn)?,
    };
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let reading_newer = matches!(cursor, Some(c) if c.direction == CursorDirection::Newer);
    if reading_newer {
        rows.reverse();
    }

    let position = |direction, row: Option<&EntryRow>, fallback: Option<Cursor>| {
        row.map(|row| Cursor {
            direction,
            timestamp_micros: row.ts,
            id: row.id,
        })
        .or(fallback.map(|c| Cursor { direction, ..c }))
    };
    let (older, newer) = match cursor {
        None => (
            more.then(|| position(CursorDirection::Older, rows.last(), None))
                .flatten(),
            None,
        ),
        Some(c) if !reading_newer => (
            more.then(|| position(CursorDirection::Older, rows.last(), None))
                .flatten(),
            position(CursorDirection::Newer, rows.first(), Some(c)),
        ),
        Some(c) => (
            position(CursorDirection::Older, rows.last(), Some(c)),
            more.then(|| position(CursorDirection::Newer, rows.first(), None))
                .flatten(),
        ),
    };
    let page_query = |cursor: Cursor| {
        let mut query = validated.query.clone();
        query.cursor = Some(cursor);
        query.to_query_string()
    };

    Ok(AuditPage {
        entries: rows.into_iter().map(AuditEntry::from).collect(),
        from: validated.window.from,
        to: validated.window.to,
        next: older.map(page_query),
        previous: newer.map(page_query),
    })
}

/// A response body fed, chunk by chunk, by a thread that reads the database (exports and
/// streamed verifications).
pub struct ChunkStream(pub(crate) tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for ChunkStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards_and_lowercase() {
        assert_eq!(like_pattern("100%_A\\b"), "%100\\%\\_a\\\\b%");
        assert_eq!(like_pattern("ÉCOLE"), "%école%");
    }

    #[test]
    fn status_classes_expand_to_their_hundred_codes() {
        let codes = status_codes(&StatusMatch::Class(5));
        assert_eq!(codes.len(), 100);
        assert_eq!((codes[0], codes[99]), (500, 599));
        assert_eq!(status_codes(&StatusMatch::Code(404)), vec![404]);
    }
}
