//! `bench-seed`: the generated history keeps every invariant the server relies on, and the same
//! seed gives the same history on either backend.

use auditlog_api::db::schema::{audit_chain_heads, audit_entries, projects};
use auditlog_api::entry::chain;
use auditlog_api::seed::synthetic::{self, SeedOptions};
use diesel::prelude::*;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

const PASSWORD: &str = "synthetic password";

fn options(end: i64) -> SeedOptions {
    SeedOptions {
        entries: 6_000,
        projects: 4,
        days: 3,
        end,
        seed: 42,
        password: PASSWORD.into(),
    }
}

/// The chain heads of every project: `(project, last sequence number, last hash)`.
fn heads(app: &TestApp) -> Vec<(i64, i64, String)> {
    let mut conn = app.pool.get().unwrap();
    audit_chain_heads::table
        .order(audit_chain_heads::project_id)
        .select((
            audit_chain_heads::project_id,
            audit_chain_heads::chain_seq,
            audit_chain_heads::entry_hash,
        ))
        .load(&mut conn)
        .unwrap()
}

async fn generated_history_verifies_and_counts_right(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let end = chrono::Utc::now().timestamp_micros();
    let summary = {
        let mut conn = app.pool.get().unwrap();
        synthetic::seed(&mut conn, &options(end), &app.chain_signer).unwrap()
    };
    assert_eq!(summary.entries, 6_000);
    assert_eq!(
        summary.largest_project_entries, 2_100,
        "35 % of the entries"
    );
    // Taken now: the reads below are audited too, and extend the chains.
    let seeded_heads = heads(&app);

    let admin = app.sign_in(synthetic::ADMIN_EMAIL, PASSWORD).await;
    let project_ids: Vec<i64> = {
        let mut conn = app.pool.get().unwrap();
        projects::table
            .order(projects::id)
            .select(projects::id)
            .load(&mut conn)
            .unwrap()
    };
    assert_eq!(project_ids.len(), 4);
    let mut counted = 0;
    for project in project_ids {
        let stored: i64 = {
            let mut conn = app.pool.get().unwrap();
            audit_entries::table
                .filter(audit_entries::project_id.eq(project))
                .count()
                .get_result(&mut conn)
                .unwrap()
        };
        // Every chain is intact from its first entry to its head.
        let report: Value = admin
            .get(&format!(
                "/api/v1/projects/{project}/audit-logs/verify?range=30d"
            ))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(report["ok"], true, "project {project}: {report}");
        assert_eq!(report["checked"], stored, "project {project}");
        // Counts from the rollups equal counts of the entries (a search every entry matches
        // makes the histogram read the entries).
        let window = format!(
            "from={}&to={}",
            chrono::DateTime::from_timestamp_micros(end - 4 * 86_400_000_000)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            chrono::DateTime::from_timestamp_micros(end)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        )
        .replace('+', "%2B");
        let histogram = |query: String| {
            let admin = &admin;
            async move {
                admin
                    .get(&format!(
                        "/api/v1/projects/{project}/audit-logs/histogram?{query}"
                    ))
                    .await
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        };
        let rolled = histogram(window.clone()).await;
        let scanned = histogram(format!("{window}&q=%2Fapi%2F")).await;
        // The window ends where the seeded history does; the sign-in above came later.
        let seeded: i64 = {
            let mut conn = app.pool.get().unwrap();
            audit_entries::table
                .filter(audit_entries::project_id.eq(project))
                .filter(audit_entries::ts.le(end))
                .count()
                .get_result(&mut conn)
                .unwrap()
        };
        assert_eq!(rolled["total"], seeded, "project {project}");
        assert_eq!(rolled["buckets"], scanned["buckets"], "project {project}");
        counted += seeded;
    }
    assert_eq!(counted, 6_000);

    // The same seed and end give the same rows, hash for hash, on the other backend too.
    let other = TestApp::spawn(match backend {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    })
    .await;
    {
        let mut conn = other.pool.get().unwrap();
        synthetic::seed(&mut conn, &options(end), &other.chain_signer).unwrap();
    }
    assert_eq!(seeded_heads, heads(&other));
    assert_eq!(seeded_heads.len(), 4);
    // The walk reports its progress after every chunk it checked.
    let mut conn = app.pool.get().unwrap();
    let mut progress = Vec::new();
    let report =
        chain::verify(&mut conn, None, 1, 0, i64::MAX, &mut |at| progress.push(at)).unwrap();
    assert!(report.ok, "{report:?}");
    assert!(!progress.is_empty());
    let last = progress.last().unwrap();
    assert_eq!(last.checked, report.checked);
    assert_eq!(Some(last.through_seq), report.last_seq);
    assert!(progress
        .windows(2)
        .all(|pair| pair[0].checked < pair[1].checked));
    // Two readers taking turns, chunk by chunk, find what one finds, intact or not.
    let mut second = app.pool.get().unwrap();
    let chunked = |conn: &mut auditlog_api::db::DbConnection,
                   second: &mut auditlog_api::db::DbConnection| {
        let mut chunks = 0;
        let report = chain::verify_in_chunks(conn, Some(second), (1, 0, i64::MAX), 97, &mut |_| {
            chunks += 1
        })
        .unwrap();
        (report, chunks)
    };
    let (both, chunks) = chunked(&mut conn, &mut second);
    assert_eq!(both, report);
    assert!(chunks > 4, "{chunks} chunks");
    let statement = match backend {
        Backend::Sqlite => "DROP TRIGGER audit_entries_append_only",
        Backend::Postgres => "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
    };
    diesel::sql_query(statement).execute(&mut conn).unwrap();
    for victim in [report.last_seq.unwrap(), report.last_seq.unwrap() / 2 + 1] {
        diesel::sql_query(format!(
            "UPDATE audit_entries SET resource_name = 'forged' WHERE project_id = 1 AND chain_seq = {victim}"
        ))
        .execute(&mut conn)
        .unwrap();
        let one = chain::verify(&mut conn, None, 1, 0, i64::MAX, &mut |_| {}).unwrap();
        let (two, _) = chunked(&mut conn, &mut second);
        assert_eq!(one.broken.as_ref().map(|b| b.chain_seq), Some(victim));
        assert_eq!(one, two);
    }
}

async fn seeding_refuses_a_database_in_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.project_with_admin("Existing").await;
    let mut conn = app.pool.get().unwrap();
    let refused = synthetic::seed(
        &mut conn,
        &options(chrono::Utc::now().timestamp_micros()),
        &app.chain_signer,
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("empty database"),
        "{refused:#}"
    );
}

crate::on_both_backends!(
    generated_history_verifies_and_counts_right,
    seeding_refuses_a_database_in_use,
);
