//! Coordinated tampering by someone who can write the database but does not hold the signing
//! key: each of the five ways to defeat an unkeyed hash chain, performed directly on the
//! database, must be reported by verification.

use auditlog_api::entry::chain;
use auditlog_api::entry::row::ChainedEntry;
use auditlog_shared::wire::{ChainKey, VerifyReport};
use diesel::prelude::*;
use ed25519_dalek::Verifier as _;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, Caller, TestApp};

/// `count` clusters created, named `<prefix>-<n>`: as many audited writes.
pub(crate) async fn some_activity(admin: &Caller, project: i64, count: usize, prefix: &str) {
    for i in 0..count {
        let response = admin
            .send(
                Method::POST,
                &format!("/api/v1/projects/{project}/clusters"),
                Some(json!({"name": format!("{prefix}-{i}"), "region": "eu-west-1"})),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
}

fn reason(report: &VerifyReport) -> String {
    assert!(!report.ok, "the tampering went unnoticed: {report:?}");
    report
        .broken
        .as_ref()
        .expect("a broken link")
        .reason
        .clone()
}

pub(crate) fn lift_append_only_guard(app: &TestApp, conn: &mut auditlog_api::db::DbConnection) {
    let statements: &[&str] = match app.backend {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_entries_append_only",
            "DROP TRIGGER audit_checkpoints_no_delete",
        ],
        Backend::Postgres => &[
            "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
            "ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only",
        ],
    };
    for statement in statements {
        diesel::sql_query(*statement).execute(conn).unwrap();
    }
}

/// The stored head row: (chain_seq, entry_hash, signed_at, key_id, signature).
fn head_row(app: &TestApp, project: i64) -> (i64, String, i64, String, String) {
    use auditlog_api::db::schema::audit_chain_heads::dsl::*;
    let mut conn = app.pool.get().unwrap();
    audit_chain_heads
        .find(project)
        .select((chain_seq, entry_hash, signed_at, key_id, signature))
        .first(&mut conn)
        .unwrap()
}

fn set_head(app: &TestApp, project: i64, head: &(i64, String, i64, String, String)) {
    use auditlog_api::db::schema::audit_chain_heads::dsl::*;
    let mut conn = app.pool.get().unwrap();
    diesel::update(audit_chain_heads.find(project))
        .set((
            chain_seq.eq(head.0),
            entry_hash.eq(&head.1),
            signed_at.eq(head.2),
            key_id.eq(&head.3),
            signature.eq(&head.4),
        ))
        .execute(&mut conn)
        .unwrap();
}

/// Appends a forged entry with a valid hash after the newest one and moves the head to it, as a
/// careful forger would (otherwise the server's next entry collides with the forged one and is
/// refused); the head's signature no longer fits. Returns the forged entry.
fn forge_an_append(app: &TestApp, project: i64) -> auditlog_api::entry::NewAuditEntry {
    forge_an_append_with(app, project, |forged| {
        forged.action = "cluster.delete".into()
    })
}

/// [`forge_an_append`] of a copy of the newest entry changed by `alter`.
fn forge_an_append_with(
    app: &TestApp,
    project: i64,
    alter: impl FnOnce(&mut auditlog_api::entry::NewAuditEntry),
) -> auditlog_api::entry::NewAuditEntry {
    use auditlog_api::db::schema::audit_entries;
    let mut conn = app.pool.get().unwrap();
    let newest: ChainedEntry = audit_entries::table
        .filter(audit_entries::project_id.eq(project))
        .order(audit_entries::chain_seq.desc())
        .select(ChainedEntry::as_select())
        .first(&mut conn)
        .unwrap();
    let mut forged = newest.fields.clone();
    forged.chain_seq += 1;
    forged.prev_hash = newest.fields.entry_hash.clone();
    forged.request_id = "forged-request".into();
    alter(&mut forged);
    forged.entry_hash = chain::entry_hash(&forged.prev_hash, &forged.hashed_fields());
    diesel::insert_into(audit_entries::table)
        .values(&forged)
        .execute(&mut conn)
        .unwrap();
    drop(conn);
    let mut head = head_row(app, project);
    head.0 = forged.chain_seq;
    head.1 = forged.entry_hash.clone();
    set_head(app, project, &head);
    forged
}

/// Rewrites the chain from `from_seq` on as an attacker would: every hash recomputed, every
/// link consistent, the head moved to the new last hash (its signature cannot be redone).
fn recompute_from(app: &TestApp, project: i64, from_seq: i64) {
    use auditlog_api::db::schema::audit_entries;
    let mut conn = app.pool.get().unwrap();
    let stored: Vec<ChainedEntry> = audit_entries::table
        .filter(audit_entries::project_id.eq(project))
        .order(audit_entries::chain_seq.asc())
        .select(ChainedEntry::as_select())
        .load(&mut conn)
        .unwrap();
    let mut prev = String::new();
    for entry in stored {
        let fields = entry.fields;
        if fields.chain_seq < from_seq {
            prev = fields.entry_hash.clone();
            continue;
        }
        let mut rewritten = fields.clone();
        rewritten.prev_hash = prev.clone();
        rewritten.entry_hash = chain::entry_hash(&rewritten.prev_hash, &rewritten.hashed_fields());
        diesel::update(audit_entries::table.find(entry.id))
            .set((
                audit_entries::prev_hash.eq(&rewritten.prev_hash),
                audit_entries::entry_hash.eq(&rewritten.entry_hash),
            ))
            .execute(&mut conn)
            .unwrap();
        prev = rewritten.entry_hash;
    }
    drop(conn);
    let mut head = head_row(app, project);
    head.1 = prev;
    set_head(app, project, &head);
}

async fn an_intact_chain_verifies_with_a_signed_head_anyone_can_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 5, "c").await;
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
    let head = report.signed_head.expect("a signed head");
    assert_eq!(head.project_id, project);

    // Offline: the published key verifies the documented statement.
    let keys: Vec<ChainKey> = app
        .get("/api/v1/audit-log-keys")
        .await
        .json()
        .await
        .unwrap();
    let key = keys
        .iter()
        .find(|k| k.key_id == head.key_id && k.current)
        .expect("the signing key is published");
    let public: [u8; 32] = hex::decode(&key.public_key).unwrap().try_into().unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    let statement = format!(
        r#"{{"kind":"auditlog.head.v1","project_id":{},"chain_seq":{},"entry_hash":"{}","signed_at":{}}}"#,
        head.project_id, head.chain_seq, head.entry_hash, head.signed_at
    );
    let signature: [u8; 64] = hex::decode(&head.signature).unwrap().try_into().unwrap();
    public
        .verify(
            statement.as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&signature),
        )
        .expect("the head's signature verifies offline");
}

/// (1) Delete the newest entries and roll the head back — even to an old, validly signed one.
async fn a_rolled_back_chain_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 5, "early").await;
    let old_head = head_row(&app, project);
    some_activity(&admin, project, 5, "late").await;
    {
        let mut conn = app.pool.get().unwrap();
        diesel::sql_query(format!(
            "DELETE FROM audit_entries WHERE project_id = {project} AND chain_seq > {}",
            old_head.0
        ))
        .execute(&mut conn)
        .unwrap();
    }
    set_head(&app, project, &old_head);
    let report = admin.verify(project).await;
    assert!(reason(&report).contains("rolled back"), "{report:?}");
    assert_eq!(report.broken.unwrap().chain_seq, old_head.0 + 1);

    // The server goes on recording requests on top of the rolled-back chain; once the chain is
    // longer than it was, the evidence is still reported.
    some_activity(&admin, project, 12, "after").await;
    assert!(app.entries(project).len() as i64 > old_head.0 + 5 + 1);
    let report = admin.verify(project).await;
    assert!(
        reason(&report).contains("the chain was rolled back: this server signed #"),
        "{report:?}"
    );
}

/// (2) Delete the oldest entries, which are younger than retention's horizon.
async fn removed_oldest_entries_are_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 6, "c").await;
    {
        let mut conn = app.pool.get().unwrap();
        diesel::sql_query(format!(
            "DELETE FROM audit_entries WHERE project_id = {project} AND chain_seq <= 3"
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let report = admin.verify(project).await;
    assert!(
        reason(&report).contains("entries #1 to #3 are missing"),
        "{report:?}"
    );
}

/// (3) Alter an entry and recompute every later hash and the head.
async fn a_recomputed_chain_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 8, "c").await;
    let victim = app.entries(project)[4].clone();
    {
        let mut conn = app.pool.get().unwrap();
        lift_append_only_guard(&app, &mut conn);
        diesel::sql_query(format!(
            "UPDATE audit_entries SET actor_name = 'Someone Else', status_code = 403 WHERE id = {}",
            victim.id
        ))
        .execute(&mut conn)
        .unwrap();
    }
    recompute_from(&app, project, victim.chain_seq);
    let report = admin.verify(project).await;
    let found = reason(&report);
    assert!(
        found.contains("not signed by this server") || found.contains("rewritten"),
        "{report:?}"
    );
    // The server then signs new heads on top of the rewritten chain: the evidence stays.
    some_activity(&admin, project, 4, "after").await;
    let report = admin.verify(project).await;
    assert!(
        reason(&report).contains("the chain was rewritten: this server signed #"),
        "{report:?}"
    );
}

/// (4) Append a forged entry with a valid hash and move the head to it.
async fn a_forged_append_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 4, "c").await;
    forge_an_append(&app, project);
    let report = admin.verify(project).await;
    assert!(
        reason(&report).contains("not signed by this server"),
        "{report:?}"
    );
}

/// (4) again, then the server appends on top: it must not sign the forged entry into its chain.
/// Verification keeps reporting the forgery however many entries follow it.
async fn a_forged_append_stays_found_after_the_server_appends_on_top(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 4, "c").await;
    let forged = forge_an_append(&app, project);
    // The server goes on recording requests on top of the forged entry.
    some_activity(&admin, project, 3, "after").await;
    let report = admin.verify(project).await;
    let reason = reason(&report);
    assert!(reason.contains("not signed by a trusted key"), "{report:?}");
    assert_eq!(report.broken.as_ref().unwrap().chain_seq, forged.chain_seq);
    // The head the server signs afterwards does not vouch for the forgery either: a server
    // without this one's memory (a fresh data directory) reports it too.
    let mut conn = app.pool.get().unwrap();
    let walk = chain::verify(&mut conn, None, project, 0, i64::MAX, &mut |_| {}).unwrap();
    assert!(walk.ok, "every link of the forged chain holds: {walk:?}");
    let report =
        auditlog_api::entry::signing::check(&mut conn, project, &app.chain_signer, walk).unwrap();
    assert!(
        self::reason(&report).contains("not signed by a trusted key"),
        "a server without the anchor vouches for the forged entry: {report:?}"
    );
    assert_eq!(report.broken.as_ref().unwrap().chain_seq, forged.chain_seq);
}

/// A second entry stored at a position the chain already holds, hashed and linked like the
/// first: PostgreSQL's partitioned table cannot refuse it with a unique index, SQLite's index
/// can be dropped by whoever writes the file. Verification names the position.
async fn a_second_entry_at_a_chain_position_is_found(backend: Backend) {
    use auditlog_api::db::schema::audit_entries;
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 4, "c").await;
    let mut conn = app.pool.get().unwrap();
    lift_append_only_guard(&app, &mut conn);
    if app.backend == Backend::Sqlite {
        diesel::sql_query("DROP INDEX audit_entries_project_chain")
            .execute(&mut conn)
            .unwrap();
    }
    let original: ChainedEntry = audit_entries::table
        .filter(audit_entries::project_id.eq(project))
        .filter(audit_entries::chain_seq.eq(3))
        .select(ChainedEntry::as_select())
        .first(&mut conn)
        .unwrap();
    let mut twin = original.fields.clone();
    twin.action = "cluster.delete".into();
    twin.request_id = "forged-request".into();
    twin.entry_hash = chain::entry_hash(&twin.prev_hash, &twin.hashed_fields());
    diesel::insert_into(audit_entries::table)
        .values(&twin)
        .execute(&mut conn)
        .unwrap();
    drop(conn);
    let report = admin.verify(project).await;
    assert!(
        reason(&report).contains("two entries hold this position"),
        "{report:?}"
    );
    assert_eq!(report.broken.as_ref().unwrap().chain_seq, 3);
}

/// (5) Delete a project's entries, its head and its checkpoints.
async fn a_deleted_chain_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 3, "c").await;
    {
        let mut conn = app.pool.get().unwrap();
        lift_append_only_guard(&app, &mut conn);
        for table in ["audit_entries", "audit_chain_heads", "audit_checkpoints"] {
            diesel::sql_query(format!("DELETE FROM {table} WHERE project_id = {project}"))
                .execute(&mut conn)
                .unwrap();
        }
    }
    let report = admin.verify(project).await;
    assert!(reason(&report).contains("chain is gone"), "{report:?}");
}

/// A checkpoint written into the database by someone without the key is not trusted, and
/// retention's own removals stay legitimate.
async fn forged_checkpoints_are_refused_and_retention_is_not_tampering(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    some_activity(&admin, project, 4, "c").await;
    {
        let mut conn = app.pool.get().unwrap();
        // A retention checkpoint that would excuse deleting the first entries.
        diesel::sql_query(format!(
            "INSERT INTO audit_checkpoints (project_id, kind, chain_seq, entry_hash, signed_at, key_id, signature) \
             VALUES ({project}, 'retention', 2, 'x', 0, '{}', '{}')",
            app.chain_signer.key_id(),
            "00".repeat(64)
        ))
        .execute(&mut conn)
        .unwrap();
        diesel::sql_query(format!(
            "DELETE FROM audit_entries WHERE project_id = {project} AND chain_seq <= 2"
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let report = admin.verify(project).await;
    assert!(
        reason(&report).contains("not signed by a trusted key"),
        "{report:?}"
    );

    // Retention, run by the server's key, removes the oldest entries without a finding.
    let fresh = TestApp::spawn(backend).await;
    let (project, admin) = fresh.project_with_admin("Acme").await;
    some_activity(&admin, project, 3, "old").await;
    fresh.advance_clock(chrono::Duration::days(40));
    let admin = fresh
        .sign_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    some_activity(&admin, project, 2, "new").await;
    let mut conn = fresh.pool.get().unwrap();
    let now = chrono::Utc::now().timestamp_micros()
        + chrono::Duration::days(40).num_microseconds().unwrap();
    let deleted =
        auditlog_api::audit_log::retention::purge_expired(&mut conn, now, &fresh.chain_signer)
            .unwrap();
    drop(conn);
    assert!(deleted >= 3, "{deleted}");
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
}

/// A value written into the database that the server does not know — a role no member can
/// have, an entry's source that does not exist — is an error where it is read (a 500, the cause
/// in the log), never read as some default: a member whose stored role was raised to `owner`
/// was shown, and let in, as a viewer; a forged entry's made-up source was shown as `api`.
async fn an_unknown_stored_value_is_an_error_not_a_default(backend: Backend) {
    use auditlog_api::db::schema::memberships;
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let (bob_id, bob) = app
        .add_member(
            &admin,
            project,
            "bob@example.com",
            "Bob",
            "bob's long password",
            auditlog_shared::wire::Role::Developer,
        )
        .await;
    let members = format!("/api/v1/projects/{project}/members");
    assert_eq!(admin.get(&members).await.status(), 200);
    // The schema's checks refuse such values: the attacker lifts them first.
    lift_checks(&app);
    diesel::update(
        memberships::table
            .filter(memberships::project_id.eq(project))
            .filter(memberships::user_id.eq(bob_id)),
    )
    .set(memberships::role.eq("owner"))
    .execute(&mut app.pool.get().unwrap())
    .unwrap();
    let listed = admin.get(&members).await;
    assert_eq!(
        listed.status(),
        500,
        "the members list with an unknown role"
    );
    let body = listed.text().await.unwrap();
    assert!(!body.contains("owner"), "a 500 is opaque: {body}");
    let own = bob
        .get(&format!("/api/v1/projects/{project}/applications"))
        .await;
    assert!(own.status().is_server_error(), "{}", own.status());

    let entries = format!("/api/v1/projects/{project}/audit-logs?range=24h");
    assert_eq!(admin.get(&entries).await.status(), 200);
    forge_an_append_with(&app, project, |forged| forged.source = "satellite".into());
    let listed = admin.get(&entries).await;
    assert_eq!(listed.status(), 500, "a page holding an unknown source");
}

/// Lifts the checks that keep roles and sources to known values: dropped on PostgreSQL, ignored
/// by every pooled SQLite connection.
fn lift_checks(app: &TestApp) {
    use auditlog_api::db::DbConnection;
    let connections: Vec<_> = (0..app.pool.max_size())
        .map(|_| app.pool.get().unwrap())
        .collect();
    for mut conn in connections {
        let statements: &[&str] = match &mut *conn {
            DbConnection::Postgres(_) => &[
                "ALTER TABLE memberships DROP CONSTRAINT IF EXISTS memberships_role_check",
                "ALTER TABLE audit_entries DROP CONSTRAINT IF EXISTS audit_entries_source_check",
            ],
            DbConnection::Sqlite(_) => &["PRAGMA ignore_check_constraints = ON"],
        };
        for statement in statements {
            diesel::sql_query(*statement).execute(&mut conn).unwrap();
        }
    }
}

crate::on_both_backends!(
    an_unknown_stored_value_is_an_error_not_a_default,
    an_intact_chain_verifies_with_a_signed_head_anyone_can_check,
    a_rolled_back_chain_is_found,
    removed_oldest_entries_are_found,
    a_recomputed_chain_is_found,
    a_forged_append_is_found,
    a_forged_append_stays_found_after_the_server_appends_on_top,
    a_deleted_chain_is_found,
    a_second_entry_at_a_chain_position_is_found,
    forged_checkpoints_are_refused_and_retention_is_not_tampering,
);
