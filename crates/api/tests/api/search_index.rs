//! The SQLite trigram index is merged between requests, never inside an audit entry's commit.

use auditlog_api::audit_log::search::{merge_step, MERGE_EVERY};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::helpers::{Backend, TestApp};

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    v: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The index's leaf pages: each small segment a commit adds has its own.
fn leaf_pages(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM audit_search_idx")
        .get_result::<Count>(&mut *conn)
        .unwrap()
        .n
}

/// Commits made one after the other.
const COMMITS: usize = 12;

#[tokio::test]
async fn sqlite_merges_its_search_index_between_requests() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // FTS5 merges nothing inside a commit any more.
    let automerge = diesel::sql_query("SELECT v FROM audit_search_config WHERE k = 'automerge'")
        .get_result::<Setting>(&mut *app.pool.get().unwrap())
        .unwrap();
    assert_eq!(automerge.v, "0");

    // Audited requests one after the other: a commit, and a segment, each — fewer than FTS5's
    // emergency merge waits for (16 on a level), so only the server's merging folds them.
    let (project, admin) = app.project_with_admin("Acme").await;
    let pause = || std::thread::sleep(MERGE_EVERY * 3);
    pause();
    let before = leaf_pages(&app);
    for _ in 0..COMMITS {
        let answer = admin
            .get(&format!("/api/v1/projects/{project}/applications"))
            .await;
        assert_eq!(answer.status(), 200);
    }
    let written = leaf_pages(&app);
    // The server's own merging folds them together soon after.
    let mut merged = written;
    for _ in 0..50 {
        pause();
        merged = leaf_pages(&app);
        if merged <= before + 4 {
            break;
        }
    }
    assert!(
        merged <= before + 4,
        "{COMMITS} commits left {} leaf pages beyond the {before} before them ({written} right after)",
        merged - before
    );

    // A merge step has nothing to do on PostgreSQL.
    let postgres = TestApp::spawn(Backend::Postgres).await;
    merge_step(&mut postgres.pool.get().unwrap()).unwrap();
}
