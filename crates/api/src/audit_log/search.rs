//! Search planning: how a view with a search term finds its entries fast.
//!
//! Search matches a case-insensitive substring of `search_text`. Two plans give
//! the same entries:
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

use crate::audit_query::ValidatedQuery;
use crate::db::DbConnection;

/// The most entries the index's candidates may number for it to drive the query.
pub const MAX_INDEX_CANDIDATES: i64 = 50_000;
/// The trigrams of a term the index query uses: the rarest few narrow best, and every extra
/// one costs a posting list to read.
const TRIGRAMS_USED: usize = 3;

/// Decides the plan of a view with a search term: sets `validated.search_index` when the
/// trigram index should drive (SQLite only; PostgreSQL's planner decides for itself).
///
/// Each trigram of the term is counted in the index, reading at most
/// [`MAX_INDEX_CANDIDATES`] + 1 entries of it (a bounded read: an exact count of a common
/// trigram would read millions). When the rarest is held by at most [`MAX_INDEX_CANDIDATES`]
/// entries, the index drives with the [`TRIGRAMS_USED`] rarest. Terms shorter than three
/// characters or not plain ASCII are scanned: the index folds case its own way, and a term it
/// spells differently must never look absent.
pub fn plan(conn: &mut DbConnection, validated: &mut ValidatedQuery) -> QueryResult<()> {
    validated.search_index = None;
    let (DbConnection::Sqlite(sqlite), Some(term)) = (&mut *conn, &validated.query.search) else {
        return Ok(());
    };
    if !term.as_str().is_ascii() {
        return Ok(());
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
        return Ok(());
    };
    if *fewest <= MAX_INDEX_CANDIDATES {
        validated.search_index = Some(fts_expression(
            counted.iter().take(TRIGRAMS_USED).map(|(_, t)| t.as_str()),
        ));
    }
    Ok(())
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
