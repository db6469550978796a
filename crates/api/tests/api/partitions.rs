//! PostgreSQL's time partitions of the audit log: entries land in their UTC day's partition,
//! entries beyond the days made ahead are moved into theirs when it is made, retention drops
//! whole days, and a database written before partitioning is converted in place with every
//! entry kept and its chain still verifying.

use auditlog_api::db::partitions::{self, day_name, day_start, Partition, DAY_MICROS};
use auditlog_api::db::DbConnection;
use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::helpers::{Backend, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::tampering::some_activity;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

#[derive(QueryableByName, Debug)]
struct Placed {
    #[diesel(sql_type = Text)]
    partition: String,
    #[diesel(sql_type = BigInt)]
    ts: i64,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Where each of the project's entries is stored, oldest first.
fn placement(conn: &mut DbConnection, project: i64) -> Vec<Placed> {
    diesel::sql_query(format!(
        "SELECT tableoid::regclass::text AS partition, ts, id FROM audit_entries \
         WHERE project_id = {project} ORDER BY chain_seq"
    ))
    .load(conn)
    .unwrap()
}

fn partition_names(conn: &mut DbConnection) -> Vec<String> {
    partitions::list(conn)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

async fn entries_live_in_their_days_partition_and_retention_drops_whole_days() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 3, "today").await;
    let mut conn = app.pool.get().unwrap();

    // Every day from the retention horizon's through three days ahead is made before the first
    // request. (A new database's history partition holds nothing from within retention, so the
    // first retention run has already dropped it.)
    let now = chrono::Utc::now().timestamp_micros();
    let today = day_start(now);
    let first_day = day_start(now - Duration::days(30).num_microseconds().unwrap());
    let listed = partitions::list(&mut conn).unwrap();
    let mut day = first_day;
    while day <= today + 3 * DAY_MICROS {
        let name = day_name(day);
        let partition = listed.iter().find(|p| p.name == name);
        assert!(partition.is_some(), "{name} is missing: {listed:?}");
        assert_eq!(partition.unwrap().to, Some(day + DAY_MICROS));
        day += DAY_MICROS;
    }
    assert!(listed.last().unwrap().is_default);
    assert!(listed
        .iter()
        .all(|p| p.is_default || p.to.unwrap() <= today + 4 * DAY_MICROS));
    let placed = placement(&mut conn, project);
    assert!(placed.len() >= 4, "{placed:?}");
    for entry in &placed {
        assert_eq!(entry.partition, day_name(day_start(entry.ts)), "{entry:?}");
    }

    // Ten days on, past the days made ahead: entries wait in the default partition until their
    // day's partition is made, then move there.
    app.advance_clock(Duration::days(10));
    let admin = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    some_activity(&admin, project, 2, "later").await;
    let later = placement(&mut conn, project);
    let waiting: Vec<_> = later
        .iter()
        .filter(|p| p.partition == "audit_entries_default")
        .collect();
    assert!(waiting.len() >= 3, "{later:?}");
    let shifted_now = chrono::Utc::now() + Duration::days(10);
    let made = partitions::ensure_daily(
        &mut conn,
        shifted_now,
        auditlog_api::db::retention_horizon(shifted_now),
    )
    .unwrap();
    assert!(made >= 7, "made {made}");
    for entry in placement(&mut conn, project) {
        assert_eq!(entry.partition, day_name(day_start(entry.ts)), "{entry:?}");
    }
    assert!(admin.verify(project).await.ok);

    // Retention 32 days from now: today's partition goes whole, with its entries; the later
    // entries stay, and the chain still verifies (retention is not tampering).
    let before_purge = placement(&mut conn, project);
    let purge_at = (chrono::Utc::now() + Duration::days(32)).timestamp_micros();
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        entries: i64,
    }
    let expiring: Count = diesel::sql_query(format!(
        "SELECT COUNT(*) AS entries FROM audit_entries WHERE ts < {}",
        purge_at - Duration::days(30).num_microseconds().unwrap()
    ))
    .get_result(&mut conn)
    .unwrap();
    assert!(expiring.entries as usize >= placed.len());
    let deleted =
        auditlog_api::audit_log::retention::purge_expired(&mut conn, purge_at, &app.chain_signer)
            .unwrap();
    assert_eq!(deleted as i64, expiring.entries);
    let names = partition_names(&mut conn);
    assert!(!names.contains(&day_name(today)), "{names:?}");
    assert!(!names.contains(&"audit_entries_history".to_string()));
    let remaining = placement(&mut conn, project);
    assert_eq!(remaining.len(), before_purge.len() - placed.len());
    assert!(remaining.iter().all(|p| p.ts > today + 5 * DAY_MICROS));
    // (Retention run that far ahead also ended the session.)
    let admin = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
}

async fn a_database_written_before_partitioning_is_converted_in_place() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let mut conn = PgConnection::establish(&app.database_url).unwrap();
    // Back to the single table the entries were written into before partitioning.
    conn.revert_last_migration(MIGRATIONS).unwrap();
    #[derive(QueryableByName)]
    struct Kind {
        #[diesel(sql_type = Text)]
        kind: String,
    }
    let kind = |conn: &mut PgConnection| -> String {
        diesel::sql_query(
            "SELECT relkind::text AS kind FROM pg_class WHERE relname = 'audit_entries'",
        )
        .get_result::<Kind>(conn)
        .unwrap()
        .kind
    };
    assert_eq!(kind(&mut conn), "r");
    some_activity(&admin, project, 4, "before").await;
    let mut pooled = app.pool.get().unwrap();
    let before = placement(&mut pooled, project);
    assert!(before.iter().all(|p| p.partition == "audit_entries"));

    // The upgrade, as a server starting on this database runs it.
    conn.run_pending_migrations(MIGRATIONS).unwrap();
    let now = chrono::Utc::now();
    partitions::ensure_daily(&mut pooled, now, auditlog_api::db::retention_horizon(now)).unwrap();
    assert_eq!(kind(&mut conn), "p");
    let after = placement(&mut pooled, project);
    assert_eq!(after.len(), before.len(), "no entry is lost");
    for (old, new) in before.iter().zip(&after) {
        assert_eq!((old.id, old.ts), (new.id, new.ts));
        assert_eq!(new.partition, "audit_entries_history");
    }
    let history: Vec<Partition> = partitions::list(&mut pooled)
        .unwrap()
        .into_iter()
        .filter(|p| p.name == "audit_entries_history")
        .collect();
    assert_eq!(
        history[0].to,
        Some(day_start(before.last().unwrap().ts) + DAY_MICROS)
    );

    // Recording goes on in the same chain, with new ids, in the days after the history.
    drop(pooled);
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
    some_activity(&admin, project, 2, "after").await;
    let mut pooled = app.pool.get().unwrap();
    let newest = placement(&mut pooled, project);
    let max_old_id = before.iter().map(|p| p.id).max().unwrap();
    for entry in &newest[after.len()..] {
        assert!(entry.id > max_old_id, "{entry:?}");
        let expected = if entry.ts < history[0].to.unwrap() {
            "audit_entries_history".to_string()
        } else {
            day_name(day_start(entry.ts))
        };
        assert_eq!(entry.partition, expected);
    }
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
}

#[tokio::test]
async fn postgres_entries_live_in_their_days_partition_and_retention_drops_whole_days() {
    entries_live_in_their_days_partition_and_retention_drops_whole_days().await;
}

#[tokio::test]
async fn postgres_a_database_written_before_partitioning_is_converted_in_place() {
    a_database_written_before_partitioning_is_converted_in_place().await;
}
