//! Read replicas: audit-log reads go to a PostgreSQL streaming standby while capture and every
//! write go to the primary; a standby that is behind shows a consistent, older log (never an
//! entry without its chain head), and a standby that is down leaves reads to the primary.
//!
//! The test makes its own primary and standby (initdb, pg_basebackup -R) in temporary
//! directories, on 127.0.0.1 ports of their own, as the `postgres` system user when it runs as
//! root.

use std::time::Duration;

use auditlog_api::configuration::Settings;
use auditlog_api::startup::Application;
use auditlog_tests::postgres_cluster::Cluster;
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{Caller, ADMIN_EMAIL, ADMIN_PASSWORD};

const PATIENCE: Duration = Duration::from_secs(20);

/// Application names of the `application.create` entries the API lists.
async fn created_applications(admin: &Caller, project: i64) -> Vec<String> {
    let response = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?range=1h&action=application.create"
        ))
        .await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    let mut names: Vec<String> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

async fn wait_for_applications(admin: &Caller, project: i64, expected: &[&str]) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let names = created_applications(admin, project).await;
        if names == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log never listed {expected:?}: it lists {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_reads_go_to_a_streaming_replica_and_fall_back_to_the_primary() {
    let primary = Cluster::primary();
    let standby = Cluster::standby_of(&primary);
    diesel::sql_query("CREATE DATABASE auditlog")
        .execute(&mut primary.connect("postgres"))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::from_defaults();
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = primary.url("auditlog");
    settings.read_database_urls = vec![standby.url("auditlog")];
    settings.data_dir = dir.path().join("data");
    settings.static_dir = dir.path().join("static");
    std::fs::create_dir_all(&settings.static_dir).unwrap();
    settings.db_pool_size = 4;
    let app = Application::build(&settings).expect("a server with a read replica");
    let address = app.url();
    tokio::spawn(app.run_until_stopped());

    let project = {
        let mut conn = auditlog_api::db::establish(&auditlog_api::db::DatabaseTarget::Postgres(
            primary.url("auditlog"),
        ))
        .unwrap();
        auditlog_api::admin::create_admin(
            &mut conn,
            ADMIN_EMAIL,
            "Ada Admin",
            ADMIN_PASSWORD,
            "Acme",
            chrono::Utc::now().timestamp_micros(),
        )
        .unwrap()
        .project_id
    };
    let client = reqwest::Client::new();
    let signed_in = client
        .post(format!("{address}/api/v1/session"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let session: Value = signed_in.json().await.unwrap();
    let admin = Caller {
        client,
        address,
        cookie: Some(cookie),
        csrf: Some(session["csrf_token"].as_str().unwrap().to_string()),
        bearer: None,
        user_agent: "Mozilla/5.0 (test browser)".into(),
    };

    // Written to the primary, read once the standby replayed it.
    admin.create_application(project, "web", "img:1").await;
    wait_for_applications(&admin, project, &["web"]).await;

    // The standby stops replaying: the primary has the next entry, the log read from the
    // standby does not. Verification reads the primary (the head this server signed last is
    // newer than the standby's, which would read as a rollback), and finds it whole.
    let mut standby_conn = standby.connect("auditlog");
    diesel::sql_query("SELECT pg_wal_replay_pause()")
        .execute(&mut standby_conn)
        .unwrap();
    admin.create_application(project, "worker", "img:1").await;
    let on_primary: i64 = {
        use auditlog_api::db::schema::audit_entries;
        let mut conn = auditlog_api::db::establish(&auditlog_api::db::DatabaseTarget::Postgres(
            primary.url("auditlog"),
        ))
        .unwrap();
        audit_entries::table
            .filter(audit_entries::action.eq("application.create"))
            .count()
            .get_result(&mut conn)
            .unwrap()
    };
    assert_eq!(on_primary, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(created_applications(&admin, project).await, ["web"]);
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(
        report.last_seq,
        report.signed_head.as_ref().map(|head| head.chain_seq)
    );
    let histogram: Value = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs/histogram?range=1h&action=application.create"
        ))
        .await
        .json()
        .await
        .unwrap();
    let counted: i64 = histogram["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket["count"].as_i64().unwrap())
        .sum();
    assert_eq!(
        counted, 1,
        "the chart counts what the standby has: {histogram}"
    );

    // Replaying again, it catches up.
    diesel::sql_query("SELECT pg_wal_replay_resume()")
        .execute(&mut standby_conn)
        .unwrap();
    wait_for_applications(&admin, project, &["web", "worker"]).await;

    // The standby goes down: reads fall back to the primary.
    drop(standby_conn);
    standby.stop();
    admin.create_application(project, "billing", "img:1").await;
    wait_for_applications(&admin, project, &["billing", "web", "worker"]).await;
    assert!(admin.verify(project).await.ok);
}

#[test]
fn read_replicas_follow_a_postgresql_primary_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::from_defaults();
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = format!("sqlite://{}/auditlog.db", dir.path().display());
    settings.data_dir = dir.path().join("data");
    settings.read_database_urls = vec!["postgres://postgres@127.0.0.1/replica".into()];
    let error = Application::build(&settings).err().expect("refused");
    assert!(
        format!("{error:#}").contains("PostgreSQL primary"),
        "{error:#}"
    );

    let error =
        auditlog_api::db::connect_read_replica("sqlite://replica.db", 2).expect_err("refused");
    assert!(error.to_string().contains("postgres://"), "{error}");
}
