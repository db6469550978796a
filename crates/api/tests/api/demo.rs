//! The demo history: a month of activity made through the real API, on both
//! backends, that shows everything the audit log is for.

use std::collections::BTreeSet;

use auditlog_api::configuration::Settings;
use auditlog_api::db::schema::{api_tokens, audit_entries, project_settings, users};
use auditlog_api::db::{self, DatabaseTarget};
use auditlog_api::entry::chain;
use auditlog_api::seed::demo::{self, DemoOptions, DemoSummary};
use auditlog_shared::{ResourceType, Source};
use chrono::{Datelike as _, Timelike as _, Utc, Weekday};
use diesel::prelude::*;

use crate::helpers::{Backend, TestDatabase};

/// The fields the assertions read, oldest first.
#[derive(Debug, Queryable)]
struct Row {
    ts: i64,
    actor_kind: String,
    actor_id: Option<i64>,
    actor_name: String,
    source: String,
    method: String,
    action: String,
    status_code: i32,
    resource_type: String,
}

fn settings_for(database: &TestDatabase, dir: &std::path::Path) -> Settings {
    let mut settings = Settings::from_defaults();
    settings.database_url = database.url().to_string();
    settings.data_dir = dir.join("data");
    settings.static_dir = dir.join("dist");
    settings.workers = Some(2);
    settings.db_pool_size = 4;
    settings
}

async fn the_demo_fills_a_month_of_history_through_the_real_api(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, dir.path());
    let settings = settings_for(&database, dir.path());
    // A quieter month than the real demo, to keep the test short; the story is the same.
    let options = DemoOptions {
        days: 30,
        activity: 0.3,
        admin_password: None,
    };
    let summary: DemoSummary = demo::seed(&settings, &options)
        .await
        .expect("the demo history is seeded");
    assert_eq!(summary.admin_email, "admin@demo.auditlog.dev");
    assert!(summary.admin_password.len() >= 10);

    let pool = db::connect_and_migrate(&DatabaseTarget::parse(database.url()).unwrap(), 2)
        .expect("a pool on the demo database");
    let mut conn = pool.get().unwrap();
    let rows: Vec<Row> = audit_entries::table
        .filter(audit_entries::project_id.eq(summary.project_id))
        .order((audit_entries::ts.asc(), audit_entries::id.asc()))
        .select((
            audit_entries::ts,
            audit_entries::actor_kind,
            audit_entries::actor_id,
            audit_entries::actor_name,
            audit_entries::source,
            audit_entries::method,
            audit_entries::action,
            audit_entries::status_code,
            audit_entries::resource_type,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len() as i64, summary.entries);
    assert!(
        rows.len() > 1_000,
        "a living history, not {} entries",
        rows.len()
    );

    // A month, ending now.
    let (first, last) = (rows[0].ts, rows[rows.len() - 1].ts);
    let now = Utc::now().timestamp_micros();
    assert!(
        last - first >= 25 * 86_400_000_000,
        "the history spans {} days",
        (last - first) / 86_400_000_000
    );
    assert!(last <= now, "no entry is in the future");
    assert!(
        now - last < 86_400_000_000,
        "the history reaches the present"
    );
    assert_eq!(summary.first_entry_at.unwrap().timestamp_micros(), first);
    assert_eq!(summary.last_entry_at.unwrap().timestamp_micros(), last);

    // Every source and every resource type.
    let sources: BTreeSet<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    for source in Source::ALL {
        assert!(sources.contains(source.as_str()), "no {source:?} entries");
    }
    let types: BTreeSet<&str> = rows.iter().map(|r| r.resource_type.as_str()).collect();
    for resource_type in ResourceType::ALL {
        assert!(
            types.contains(resource_type.as_str()),
            "no {resource_type:?} entries"
        );
    }

    // Reads outnumber writes; refusals, misses and failed sign-ins are there.
    let reads = rows.iter().filter(|r| r.method == "GET").count() as f64;
    let share = reads / rows.len() as f64;
    assert!(
        (0.55..0.9).contains(&share),
        "reads are {share:.2} of entries"
    );
    let with_status = |code: i32| rows.iter().filter(|r| r.status_code == code).count();
    assert!(with_status(403) > 0, "a denied request");
    assert!(with_status(404) > 0, "a request for something missing");
    assert!(
        rows.iter()
            .any(|r| r.status_code == 401 && r.action == "session.sign_in_failed"),
        "a failed sign-in"
    );
    assert!(
        rows.iter()
            .any(|r| r.action == "application.deploy" && r.status_code == 200),
        "deployments"
    );

    // Busy working hours, quiet nights.
    let per_hour = |hours: std::ops::Range<u32>| {
        let count = rows
            .iter()
            .filter(|r| {
                let at = chrono::DateTime::from_timestamp_micros(r.ts).unwrap();
                !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) && hours.contains(&at.hour())
            })
            .count();
        count as f64 / hours.len() as f64
    };
    let (day, night) = (per_hour(9..17), per_hour(0..6));
    assert!(
        day > 2.0 * night,
        "{day:.0} entries per day hour, {night:.0} per night hour"
    );

    // Actors that are gone are still named as they were.
    let existing_users: BTreeSet<i64> = users::table
        .select(users::id)
        .load::<i64>(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    let deleted_user = rows.iter().find(|r| {
        r.actor_kind == "user"
            && r.action != "sso.sign_in"
            && r.actor_id.is_some_and(|id| !existing_users.contains(&id))
    });
    let deleted_user = deleted_user.expect("an entry by a deleted user");
    assert!(!deleted_user.actor_name.is_empty());
    let revoked_tokens: BTreeSet<i64> = api_tokens::table
        .filter(api_tokens::revoked_at.is_not_null())
        .select(api_tokens::id)
        .load::<i64>(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    let by_revoked_token: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.actor_kind == "token" && r.actor_id.is_some_and(|id| revoked_tokens.contains(&id))
        })
        .collect();
    assert!(
        by_revoked_token.iter().any(|r| r.status_code == 200),
        "a revoked token's earlier work"
    );
    assert!(
        by_revoked_token.iter().any(|r| r.status_code == 401),
        "a revoked or expired token, refused"
    );

    // The audit export was switched on.
    let export: bool = project_settings::table
        .find(summary.project_id)
        .select(project_settings::audit_export_enabled)
        .first(&mut conn)
        .unwrap();
    assert!(export);

    // The hash chain over the 30-day range verifies.
    let report = chain::verify(
        &mut conn,
        None,
        summary.project_id,
        now - 30 * 86_400_000_000,
        now + 1,
        &mut |_| {},
    )
    .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checked, rows.len() as u64);

    // A second run refuses, and changes nothing.
    let error = demo::seed(&settings, &options)
        .await
        .expect_err("the demo refuses a database that has a project");
    assert!(
        error.to_string().contains("already has 1 project"),
        "{error:#}"
    );
    let after: i64 = audit_entries::table.count().get_result(&mut conn).unwrap();
    assert_eq!(after, summary.entries);
}

crate::on_both_backends!(the_demo_fills_a_month_of_history_through_the_real_api);
