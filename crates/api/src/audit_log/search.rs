//! Search planning: how a view with a search term finds its entries fast.
//!
//! Search matches a case-insensitive substring of `search_text` (PRODUCT.md Q3). Two plans give
//! the same entries:
//! * **Scan**: read the view's entries (newest first for a page) and keep those whose text holds
//!   the term. Cheap when the term is common: a page fills after a few hundred entries.
//! * **Index**: look the term's trigrams up in a trigram index, then read only those entries.
//!   Cheap when the term is rare, where a scan would read the whole window.
//!
//! On PostgreSQL a `pg_trgm` GIN index serves `LIKE` directly and the planner chooses, from its
//! statistics. On SQLite the FTS5 table `audit_search` (tokenizer `trigram`, no positions)
//! is the index, and this module chooses: the index drives when it holds at most
//! [`MAX_INDEX_CANDIDATES`] entries with every trigram of the term.
//!
//! Invariant: the index only ever narrows the candidates. The `LIKE` on `search_text` always
//! decides, so both plans return exactly the same entries.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::audit_query::ValidatedQuery;
use crate::db::DbConnection;

/// The most candidates the index may give for it to drive the query.
pub const MAX_INDEX_CANDIDATES: i64 = 50_000;

/// Decides the plan of a view with a search term: sets `validated.search_index` when the
/// trigram index should drive (SQLite only; PostgreSQL's planner decides for itself).
pub fn plan(conn: &mut DbConnection, validated: &mut ValidatedQuery) -> QueryResult<()> {
    validated.search_index = None;
    let (DbConnection::Sqlite(sqlite), Some(term)) = (&mut *conn, &validated.query.search) else {
        return Ok(());
    };
    let Some(expression) = fts_expression(term.as_str()) else {
        return Ok(());
    };
    let candidates: i64 = diesel::select(
        sql::<BigInt>(
            "(SELECT COUNT(*) FROM (SELECT rowid FROM audit_search WHERE audit_search MATCH ",
        )
        .bind::<Text, _>(&expression)
        .sql(" LIMIT ")
        .bind::<BigInt, _>(MAX_INDEX_CANDIDATES + 1)
        .sql("))"),
    )
    .get_result(sqlite)?;
    if candidates <= MAX_INDEX_CANDIDATES {
        validated.search_index = Some(expression);
    }
    Ok(())
}

/// The FTS5 query matching every text that holds all trigrams of `term` (lowercased, each
/// trigram quoted), or `None` when the term is shorter than three characters.
pub fn fts_expression(term: &str) -> Option<String> {
    let chars: Vec<char> = term.to_lowercase().chars().collect();
    if chars.len() < 3 {
        return None;
    }
    let mut trigrams: Vec<String> = chars
        .windows(3)
        .map(|w| {
            let trigram: String = w.iter().collect();
            format!("\"{}\"", trigram.replace('"', "\"\""))
        })
        .collect();
    trigrams.sort();
    trigrams.dedup();
    Some(trigrams.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_become_the_conjunction_of_their_quoted_trigrams() {
        assert_eq!(fts_expression("ab"), None);
        assert_eq!(fts_expression("Abc"), Some("\"abc\"".into()));
        assert_eq!(
            fts_expression("aaaa"),
            Some("\"aaa\"".into()),
            "repeated trigrams are listed once"
        );
        assert_eq!(
            fts_expression("a\"bc"),
            Some("\"\"\"bc\" AND \"a\"\"b\"".into())
        );
    }
}
