//! A view: a validated query made ready to read against one project. Every read of the audit
//! log — a page, a count, the histogram, the facets, an export, a stream's filter — takes a
//! [`View`], planned once per request by [`View::plan`]: what its search term also stands for,
//! whether the trigram index drives the search, and the ingested actions its action
//! namespaces name. The validated query itself is never changed after validation.

use std::ops::Deref;

use diesel::QueryResult;

use crate::audit_log::search::{self, SearchAlso};
use crate::audit_query::ValidatedQuery;
use crate::db::DbConnection;

/// A validated query with its plan for one project.
#[derive(Clone, Debug)]
pub struct View {
    validated: ValidatedQuery,
    /// The trigram index query that drives the search, when [`search::plan`] chose it; `None`
    /// reads the window (or lets PostgreSQL's planner choose).
    pub search_index: Option<String>,
    /// What the search term matches besides the entries' search text (action labels, actor
    /// names).
    pub search_also: SearchAlso,
    /// The ingested actions (`ext.…`) in the window that the query's action namespaces may
    /// stand for.
    pub ingested_actions: Vec<String>,
}

impl View {
    /// Plans a validated query for a project: its search, and the ingested actions its action
    /// namespaces may stand for.
    pub fn plan(
        conn: &mut DbConnection,
        project_id: i64,
        validated: ValidatedQuery,
    ) -> QueryResult<View> {
        let search = search::plan(conn, project_id, &validated.query)?;
        let ingested_actions = super::ingested_actions(conn, project_id, &validated)?;
        Ok(View {
            validated,
            search_index: search.index,
            search_also: search.also,
            ingested_actions,
        })
    }

    /// A view whose search and namespaces were resolved by the caller (a stream's filter over
    /// the candidates it read); it never uses the trigram index.
    pub fn resolved(
        validated: ValidatedQuery,
        search_also: SearchAlso,
        ingested_actions: Vec<String>,
    ) -> View {
        View {
            validated,
            search_index: None,
            search_also,
            ingested_actions,
        }
    }

    /// The same view over another window (microseconds), with the same plan.
    pub fn with_window(&self, from: i64, to: i64) -> View {
        View {
            validated: self.validated.with_window(from, to),
            ..self.clone()
        }
    }

    pub fn validated(&self) -> &ValidatedQuery {
        &self.validated
    }
}

/// A view reads as its validated query: `view.query`, `view.window`.
impl Deref for View {
    type Target = ValidatedQuery;

    fn deref(&self) -> &ValidatedQuery {
        &self.validated
    }
}
