//! Tamper evidence and ingest.

use auditlog_shared::wire::{Role, VerifyLine, VerifyReport};
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{problem, Backend, Caller, TestApp};

async fn some_activity(admin: &Caller, project: i64, count: usize) {
    for i in 0..count {
        let response = admin
            .send(
                Method::POST,
                &format!("/api/v1/projects/{project}/clusters"),
                Some(json!({"name": format!("cluster-{i}"), "region": "eu-west-1"})),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
}

/// Verifies the window both ways — one JSON answer, and streamed as NDJSON with progress — and
/// returns the JSON answer after checking that the stream ends with the same verdict.
async fn verify(admin: &Caller, project: i64, query: &str) -> VerifyReport {
    let path = format!("/api/v1/projects/{project}/audit-logs/verify?{query}");
    let response = admin.get(&path).await;
    assert_eq!(response.status(), 200);
    let report: VerifyReport = response.json().await.unwrap();

    let streamed = admin
        .send_with(
            Method::GET,
            &path,
            None,
            &[("accept", "application/x-ndjson")],
        )
        .await;
    assert_eq!(streamed.status(), 200);
    assert_eq!(
        streamed.headers()["content-type"],
        "application/x-ndjson",
        "{path}"
    );
    let text = streamed.text().await.unwrap();
    let lines: Vec<VerifyLine> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a verification line"))
        .collect();
    let (last, progress) = lines.split_last().expect("at least the report");
    let VerifyLine::Report(streamed_report) = last else {
        panic!("the stream does not end with the report: {text}");
    };
    // The first verification's own entry may lie between the two: compare the verdicts.
    assert_eq!(streamed_report.ok, report.ok, "{text}");
    assert_eq!(streamed_report.broken, report.broken, "{text}");
    assert_eq!(streamed_report.first_seq, report.first_seq, "{text}");
    if report.checked > 0 && report.ok {
        let Some(VerifyLine::Progress(first)) = progress.first() else {
            panic!("no progress before the report: {text}");
        };
        assert!(
            first.checked > 0 && first.through_seq >= first.checked as i64,
            "{text}"
        );
    }
    report
}

/// Lifts the append-only trigger, as someone with database access could.
fn lift_append_only_guard(app: &TestApp, conn: &mut auditlog_api::db::DbConnection) {
    let statement = match app.backend {
        Backend::Sqlite => "DROP TRIGGER audit_entries_append_only",
        Backend::Postgres => "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
    };
    diesel::sql_query(statement).execute(conn).unwrap();
}

async fn an_intact_chain_verifies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 12).await;
    let report = verify(&admin, project, "range=24h").await;
    assert!(report.ok, "{report:?}");
    assert!(report.checked >= 12);
    assert_eq!(report.first_seq, Some(1));
    let entries = app.entries(project);
    let seqs: Vec<i64> = entries.iter().map(|e| e.chain_seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    // Verification takes a date range only.
    problem(
        admin
            .get(&format!(
                "/api/v1/projects/{project}/audit-logs/verify?method=GET"
            ))
            .await,
        400,
    )
    .await;
}

async fn an_altered_entry_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 10).await;
    let victim = app.entries(project)[4].clone();
    {
        let mut conn = app.pool.get().unwrap();
        lift_append_only_guard(&app, &mut conn);
        diesel::sql_query(format!(
            "UPDATE audit_entries SET status_code = 200, actor_name = 'Someone Else' WHERE id = {}",
            victim.id
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let report = verify(&admin, project, "range=24h").await;
    assert!(!report.ok);
    let broken = report.broken.unwrap();
    assert_eq!(broken.chain_seq, victim.chain_seq);
    assert_eq!(broken.entry_id, Some(victim.id));
    assert!(broken.reason.contains("altered"), "{}", broken.reason);
}

async fn a_deleted_entry_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 10).await;
    let entries = app.entries(project);
    let middle = entries[3].clone();
    {
        let mut conn = app.pool.get().unwrap();
        diesel::sql_query(format!(
            "DELETE FROM audit_entries WHERE id = {}",
            middle.id
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let report = verify(&admin, project, "range=24h").await;
    let broken = report.broken.expect("the gap is found");
    assert_eq!(broken.chain_seq, middle.chain_seq);
    assert_eq!(broken.entry_id, None);
    assert!(broken.reason.contains("missing"));

    // Deleting the newest entries is found too: the chain falls short of its head.
    let fresh = TestApp::spawn(backend).await;
    let (project, admin) = fresh.project_with_admin("Acme").await;
    some_activity(&admin, project, 5).await;
    let newest_before = fresh.entries(project).last().unwrap().clone();
    {
        let mut conn = fresh.pool.get().unwrap();
        diesel::sql_query(format!(
            "DELETE FROM audit_entries WHERE project_id = {project} AND chain_seq >= {}",
            newest_before.chain_seq
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let report = verify(&admin, project, "range=24h").await;
    assert!(!report.ok, "{report:?}");
    assert!(report.broken.unwrap().reason.contains("missing"));
}

async fn ingest_validates_then_stores_atomically(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let ingest = app
        .create_token(&admin, project, "billing-service", Role::Viewer, true)
        .await;
    let plain = app
        .create_token(&admin, project, "no-ingest", Role::Admin, false)
        .await;
    let event = |method: &str| {
        json!({
            "actor": {"kind": "user", "name": "Grace External", "email": "grace@example.com"},
            "method": method, "path": "/billing/invoices/9", "action": "ext.invoice.refund",
            "status": 200, "resource": {"type": "integration", "id": 9, "name": "billing"},
            "duration_ms": 12.5
        })
    };
    let path = format!("/api/v1/projects/{project}/ingest");
    let before = app.entries(project).len();

    let refused = app
        .token_caller(&plain.secret)
        .send(
            Method::POST,
            &path,
            Some(json!({"events": [event("POST")]})),
        )
        .await;
    problem(refused, 403).await;

    let bad = app
        .token_caller(&ingest.secret)
        .send(
            Method::POST,
            &path,
            Some(json!({"events": [event("POST"), event("FETCH"), event("PUT")]})),
        )
        .await;
    let body = problem(bad, 400).await;
    assert_eq!(body["invalid_params"][0]["name"], "events[1].method");
    let stored_after_bad: Vec<_> = app
        .entries(project)
        .into_iter()
        .filter(|e| e.action == "ext.invoice.refund")
        .collect();
    assert!(stored_after_bad.is_empty(), "a bad batch stores nothing");

    let good = app
        .token_caller(&ingest.secret)
        .send(
            Method::POST,
            &path,
            Some(json!({"events": [event("POST"), event("DELETE")]})),
        )
        .await;
    assert_eq!(good.status(), 200);
    let receipt: Value = good.json().await.unwrap();
    assert_eq!(receipt["accepted"], 2);
    let ingested: Vec<_> = app
        .entries(project)
        .into_iter()
        .filter(|e| e.action == "ext.invoice.refund")
        .collect();
    assert_eq!(ingested.len(), 2);
    assert_eq!(ingested[0].actor_name, "Grace External");
    assert_eq!(ingested[1].method, "DELETE");
    // Refused, rejected and accepted ingest requests are themselves recorded, then the events.
    assert_eq!(app.entries(project).len(), before + 3 + 2);
    assert!(verify(&admin, project, "range=1h").await.ok);

    // Ingested entries are marked as such: their own source, a fixed route, no actor id, and
    // the sending token, all covered by the chain.
    for entry in &ingested {
        assert_eq!(
            (entry.source.as_str(), entry.route.as_str(), entry.actor_id),
            ("ingest", "(ingested)", None),
            "{entry:?}"
        );
    }
    let listed: Value = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?range=1h&source=ingest"
        ))
        .await
        .json()
        .await
        .unwrap();
    let listed = listed["entries"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "the source filter finds them: {listed:?}");
    assert!(listed
        .iter()
        .all(|e| e["ingested_by_token_id"] == ingest.token.id && e["source"] == "ingest"));
    // Namespaces reach ingested actions, which are whatever the sender named (`ext.…`):
    // `ext.*` and `ext.invoice.*` find both events, a sibling namespace none, and excluding
    // `ext.*` keeps everything else.
    for (view, expected) in [
        ("action=ext.*", 2),
        ("action=ext.invoice.*", 2),
        ("action=ext.invoice_v2.*", 0),
        ("action=ext.*&action.not=ext.invoice.*", 0),
    ] {
        let base = format!("/api/v1/projects/{project}/audit-logs");
        let page: Value = admin
            .get(&format!("{base}?range=1h&{view}"))
            .await
            .json()
            .await
            .unwrap();
        let found = page["entries"].as_array().unwrap();
        assert_eq!(found.len(), expected, "{view}: {found:?}");
        assert!(found.iter().all(|e| e["action"] == "ext.invoice.refund"));
        let histogram: Value = admin
            .get(&format!("{base}/histogram?range=1h&{view}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(histogram["total"], expected, "histogram of {view}");
    }
    let rest: Value = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?range=1h&action.not=ext.*&limit=200"
        ))
        .await
        .json()
        .await
        .unwrap();
    let rest = rest["entries"].as_array().unwrap();
    assert!(!rest.is_empty());
    assert!(rest.iter().all(|e| e["action"] != "ext.invoice.refund"));
    {
        let mut conn = app.pool.get().unwrap();
        let forged = diesel::sql_query(format!(
            "UPDATE audit_entries SET ingested_by_token_id = {} WHERE id = {}",
            plain.token.id, ingested[0].id
        ))
        .execute(&mut conn);
        assert!(forged.is_err(), "entries are append-only");
    }

    // Forged fields: an actor id that would pass for one of this server's users, an action of
    // this server's own catalogue or the session namespace, an unknown field.
    let forgeries = [
        (
            "events[0].actor",
            json!({"kind": "user", "id": 1, "name": "Ada", "email": "ada@example.com"}),
            None,
        ),
        ("events[0].action", json!(null), Some("application.delete")),
        ("events[0].action", json!(null), Some("session.sign_in")),
        ("events[0].action", json!(null), Some("ext.")),
        ("events[0].action", json!(null), Some("user.change_role")),
    ];
    for (field, actor, action) in forgeries {
        let mut forged = event("POST");
        if !actor.is_null() {
            forged["actor"] = actor;
        }
        if let Some(action) = action {
            forged["action"] = json!(action);
        }
        let response = app
            .token_caller(&ingest.secret)
            .send(Method::POST, &path, Some(json!({"events": [forged]})))
            .await;
        let body = problem(response, 400).await;
        let text = body.to_string();
        assert!(
            text.contains(field) || text.contains("unknown field `id`"),
            "{field}: {body}"
        );
    }
    // A secret in a reported path is not stored either.
    let mut leaky = event("POST");
    leaky["path"] = json!(
        "/billing/callback?token=hunter2&sig=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    );
    leaky["action"] = json!("ext.billing.callback");
    let response = app
        .token_caller(&ingest.secret)
        .send(Method::POST, &path, Some(json!({"events": [leaky]})))
        .await;
    assert_eq!(response.status(), 200);
    let stored = app
        .entries(project)
        .into_iter()
        .find(|e| e.action == "ext.billing.callback")
        .expect("the event is stored");
    assert_eq!(
        stored.path,
        "/billing/callback?token=[REDACTED]&sig=[REDACTED]"
    );

    let mut extra = event("POST");
    extra["route"] = json!("/api/v1/projects/{project_id}/members/{id}");
    let response = app
        .token_caller(&ingest.secret)
        .send(Method::POST, &path, Some(json!({"events": [extra]})))
        .await;
    let body = problem(response, 400).await;
    assert!(body.to_string().contains("unknown field `route`"), "{body}");
    assert_eq!(
        app.entries(project)
            .iter()
            .filter(|e| e.source == "ingest")
            .count(),
        3,
        "no forged event was stored"
    );
}

/// One chain position, for clients that remember a head: only the project's admins read it.
async fn a_chain_position_is_read_by_its_admins_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 3).await;
    let stored = app.entries(project)[1].clone();
    let path = |seq: &str| format!("/api/v1/projects/{project}/audit-logs/chain/{seq}");
    let link: Value = admin
        .get(&path(&stored.chain_seq.to_string()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(link["chain_seq"], stored.chain_seq);
    assert_eq!(link["entry_id"], stored.id);
    let hashes: (String, String) = {
        use auditlog_api::db::schema::audit_entries;
        let mut conn = app.pool.get().unwrap();
        audit_entries::table
            .find(stored.id)
            .select((audit_entries::prev_hash, audit_entries::entry_hash))
            .first(&mut conn)
            .unwrap()
    };
    assert_eq!(
        (
            link["prev_hash"].as_str().unwrap(),
            link["entry_hash"].as_str().unwrap()
        ),
        (hashes.0.as_str(), hashes.1.as_str())
    );
    problem(admin.get(&path("999999")).await, 404).await;
    for bad in ["01", "-1", "x", "1.0"] {
        problem(admin.get(&path(bad)).await, 400).await;
    }
    let developer = app
        .create_token(&admin, project, "dev", Role::Developer, false)
        .await;
    problem(
        app.token_caller(&developer.secret).get(&path("1")).await,
        403,
    )
    .await;
    problem(app.anonymous().get(&path("1")).await, 401).await;
}

crate::on_both_backends!(
    a_chain_position_is_read_by_its_admins_only,
    an_intact_chain_verifies,
    an_altered_entry_is_found,
    a_deleted_entry_is_found,
    ingest_validates_then_stores_atomically,
);
