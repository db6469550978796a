//! The SQLite trigram index is merged by the audit writer between its commits, never inside an
//! audit entry's commit — and its extra commits never make another write fail.

use auditlog_api::entry::store::merge_search_index;
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
async fn sqlite_merges_its_search_index_between_commits() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // FTS5 merges nothing inside a commit.
    let automerge = diesel::sql_query("SELECT v FROM audit_search_config WHERE k = 'automerge'")
        .get_result::<Setting>(&mut *app.pool.get().unwrap())
        .unwrap();
    assert_eq!(automerge.v, "0");

    // Audited requests one after the other: a commit, and a segment, each — fewer than FTS5's
    // emergency merge waits for (16 on a level), so only the writer's merging folds them.
    let (project, admin) = app.project_with_admin("Acme").await;
    let pause = || std::thread::sleep(std::time::Duration::from_millis(100));
    pause();
    let before = leaf_pages(&app);
    for _ in 0..COMMITS {
        let answer = admin
            .get(&format!("/api/v1/projects/{project}/applications"))
            .await;
        assert_eq!(answer.status(), 200);
    }
    let mut merged = leaf_pages(&app);
    for _ in 0..50 {
        if merged <= before + 4 {
            break;
        }
        pause();
        merged = leaf_pages(&app);
    }
    assert!(
        merged <= before + 4,
        "{COMMITS} commits left {} leaf pages beyond the {before} before them",
        merged - before
    );

    // A merge step has nothing to do on PostgreSQL.
    let postgres = TestApp::spawn(Backend::Postgres).await;
    assert!(!merge_search_index(&mut postgres.pool.get().unwrap()).unwrap());
}

/// The operator's bootstrap reads, then writes, in one transaction; right after audited
/// requests the writer is still committing (its merge steps), and the bootstrap must wait for
/// it rather than fail with "database is locked".
#[tokio::test]
async fn writes_outside_the_writer_wait_for_its_merging() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    for round in 0..40 {
        let answer = admin
            .get(&format!("/api/v1/projects/{project}/applications"))
            .await;
        assert_eq!(answer.status(), 200);
        let mut conn = app.pool.get().unwrap();
        auditlog_api::admin::create_admin(
            &mut conn,
            &format!("operator{round}@example.com"),
            "Olga Operator",
            "a long enough password",
            &format!("Project {round}"),
            chrono::Utc::now().timestamp_micros(),
        )
        .unwrap_or_else(|error| panic!("round {round}: the bootstrap failed: {error}"));
    }
}
