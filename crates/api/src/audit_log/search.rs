//! Search planning: what a search term matches, and how a view with one finds its entries fast.
//!
//! A search term matches an entry when, case-insensitively, it is a substring of the entry's
//! `search_text` (path, actor email, token name, application or cluster name), **or** of the
//! label of the entry's action ("Deploy application"), **or** of the current name of the
//! member who made it: the table shows labels and names, so search finds what it shows. The
//! last two are resolved before any entry is read, into the action keys and actor keys they
//! stand for ([`SearchAlso`]), which the entry filter ORs with the text match.
//!
//! Two plans give the same entries:
//! * **Scan**: read the view's entries (newest first for a page) and keep those whose text holds
//!   the term. Cheap when the term is common: a page fills after a few hundred entries.
//! * **Index**: look the term's trigrams up in a trigram index, then read only those entries.
//!   Cheap when the term is rare, where a scan would read the whole window.
//!
//! On PostgreSQL a `pg_trgm` GIN index serves `LIKE` directly and the planner chooses, from its
//! statistics. On SQLite the FTS5 table `audit_search` (tokenizer `trigram`, no positions)
//! is the index, and this module chooses (see [`plan`]).
//!
//! Invariant: the index only ever narrows the candidates. The `LIKE` on `search_text` always
//! decides, so both plans return exactly the same entries.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use auditlog_shared::AuditQuery;

use crate::catalog;
use crate::db::DbConnection;

/// The action keys and actor keys a search term stands for besides the search text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchAlso {
    /// The actions whose label holds the term (`application.deploy` for "deploy app").
    pub actions: Vec<String>,
    /// The project's current members whose name holds the term (`user:7` for "dana").
    pub actor_keys: Vec<String>,
}

impl SearchAlso {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.actor_keys.is_empty()
    }
}

/// Resolves a lowercased term against the catalog's action labels and the names of the
/// project's current members. A former member is still found by the email recorded on
/// their entries, not by a name the project no longer has.
pub fn resolve_search_also(
    conn: &mut DbConnection,
    project_id: i64,
    needle: &str,
) -> QueryResult<SearchAlso> {
    use crate::db::schema::{memberships, users};
    let mut actions: Vec<String> = catalog::all_routes()
        .chain([&catalog::UNMATCHED])
        .chain(catalog::RECORDED_EVENTS)
        .filter(|route| route.label.to_lowercase().contains(needle))
        .map(|route| route.action.to_string())
        .collect();
    actions.sort();
    actions.dedup();
    let members: Vec<(i64, String)> = users::table
        .inner_join(memberships::table.on(memberships::user_id.eq(users::id)))
        .filter(memberships::project_id.eq(project_id))
        .select((users::id, users::display_name))
        .load(conn)?;
    let actor_keys = members
        .into_iter()
        .filter(|(_, name)| name.to_lowercase().contains(needle))
        .map(|(id, _)| format!("user:{id}"))
        .collect();
    Ok(SearchAlso {
        actions,
        actor_keys,
    })
}

/// The most entries the index's candidates may number for it to drive the query.
pub const MAX_INDEX_CANDIDATES: i64 = 50_000;
/// The trigrams of a term the index query uses: the rarest few narrow best, and every extra
/// one costs a posting list to read.
const TRIGRAMS_USED: usize = 3;

/// Decides the plan of a view with a search term: resolves what else the term matches
/// ([`SearchAlso`]) and gives the trigram index query when the index should drive (SQLite only; PostgreSQL's planner decides for itself, and combines its trigram index
/// with the action and actor indexes).
///
/// The trigram index only knows the search text, so it never drives when the term also stands
/// for actions or members: such a view reads its window.
///
/// Each trigram of the term is counted in the index, reading at most
/// [`MAX_INDEX_CANDIDATES`] + 1 entries of it (a bounded read: an exact count of a common
/// trigram would read millions). When the rarest is held by at most [`MAX_INDEX_CANDIDATES`]
/// entries, the index drives with the [`TRIGRAMS_USED`] rarest. Terms shorter than three
/// characters or not plain ASCII are scanned: the index folds case its own way, and a term it
/// spells differently must never look absent.
pub fn plan(
    conn: &mut DbConnection,
    project_id: i64,
    query: &AuditQuery,
) -> QueryResult<SearchPlan> {
    let mut plan = SearchPlan::default();
    let Some(term) = &query.search else {
        return Ok(plan);
    };
    plan.also = resolve_search_also(conn, project_id, &term.as_str().to_lowercase())?;
    let DbConnection::Sqlite(sqlite) = &mut *conn else {
        return Ok(plan);
    };
    if !term.as_str().is_ascii() || !plan.also.is_empty() {
        return Ok(plan);
    }
    let mut counted = Vec::new();
    for trigram in trigrams(term.as_str()) {
        let holders: i64 = diesel::select(
            sql::<BigInt>(
                "(SELECT COUNT(*) FROM (SELECT rowid FROM audit_search WHERE audit_search MATCH ",
            )
            .bind::<Text, _>(fts_expression([trigram.as_str()]))
            .sql(" LIMIT ")
            .bind::<BigInt, _>(MAX_INDEX_CANDIDATES + 1)
            .sql("))"),
        )
        .get_result(sqlite)?;
        counted.push((holders, trigram));
    }
    counted.sort();
    let Some((fewest, _)) = counted.first() else {
        return Ok(plan);
    };
    if *fewest <= MAX_INDEX_CANDIDATES {
        plan.index = Some(fts_expression(
            counted.iter().take(TRIGRAMS_USED).map(|(_, t)| t.as_str()),
        ));
    }
    Ok(plan)
}

/// How a view's search is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchPlan {
    /// The trigram index query that drives the search; `None` reads the window (or lets
    /// PostgreSQL's planner choose).
    pub index: Option<String>,
    /// What the term matches besides the entries' search text (action labels, actor names).
    pub also: SearchAlso,
}

/// The distinct trigrams of a lowercased term (none when it is shorter than three characters).
pub fn trigrams(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.to_lowercase().chars().collect();
    let mut trigrams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    trigrams.sort();
    trigrams.dedup();
    trigrams
}

/// The FTS5 query matching every text that holds all of `trigrams` (each quoted).
pub fn fts_expression<'a>(trigrams: impl IntoIterator<Item = &'a str>) -> String {
    trigrams
        .into_iter()
        .map(|trigram| format!("\"{}\"", trigram.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_become_their_distinct_lowercased_trigrams() {
        assert!(trigrams("ab").is_empty());
        assert_eq!(trigrams("Abcd"), vec!["abc", "bcd"]);
        assert_eq!(
            trigrams("aaaa"),
            vec!["aaa"],
            "repeated trigrams are listed once"
        );
    }

    #[test]
    fn index_queries_quote_every_trigram() {
        assert_eq!(fts_expression(["abc"]), "\"abc\"");
        assert_eq!(
            fts_expression(["a\"b", "\"bc"]),
            "\"a\"\"b\" AND \"\"\"bc\""
        );
    }
}
