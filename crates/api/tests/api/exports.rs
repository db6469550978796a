//! Signed export manifests: every completed export can be fetched by its id and states exactly
//! what was sent, signed with a key the server publishes; only the project's admins read it.

use auditlog_shared::chain::{entry_hash, HashedFields};
use auditlog_shared::wire::{AuditEntry, ChainKey, ExportManifest, Role};
use ed25519_dalek::{Signature, VerifyingKey};
use reqwest::Method;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::helpers::{problem, Backend, Caller, TestApp};

/// Whether a signature (hex) by `key_id` verifies with one of the published keys.
fn signed_by(keys: &[ChainKey], key_id: &str, message: &str, signature: &str) -> bool {
    let Some(key) = keys.iter().find(|key| key.key_id == key_id) else {
        return false;
    };
    let public: [u8; 32] = hex::decode(&key.public_key).unwrap().try_into().unwrap();
    let Ok(bytes) = hex::decode(signature) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(bytes) else {
        return false;
    };
    VerifyingKey::from_bytes(&public)
        .unwrap()
        .verify_strict(message.as_bytes(), &Signature::from_bytes(&bytes))
        .is_ok()
}

/// Downloads an export and its manifest: `(body, manifest)`.
async fn export_with_manifest(admin: &Caller, path: &str) -> (Vec<u8>, ExportManifest) {
    let response = admin.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let export_id = response.headers()["x-audit-export-id"]
        .to_str()
        .unwrap()
        .to_string();
    let link = response.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains(&format!("/audit-logs/exports/{export_id}/manifest"))
            && link.ends_with("rel=\"describedby\""),
        "{link}"
    );
    let body = response.bytes().await.unwrap().to_vec();
    let manifest_path = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let manifest = admin.get(&manifest_path).await;
    assert_eq!(manifest.status(), 200, "{manifest_path}");
    (body, manifest.json().await.unwrap())
}

async fn a_completed_export_has_a_signed_manifest_of_exactly_what_was_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    admin
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{project}/settings"),
            Some(json!({"audit_export_enabled": true})),
        )
        .await;
    for name in ["web", "api", "worker"] {
        let created = admin
            .send(
                Method::POST,
                &format!("/api/v1/projects/{project}/applications"),
                Some(json!({"name": name, "image": format!("registry/{name}:1")})),
            )
            .await;
        assert_eq!(created.status(), 201);
    }
    let keys: Vec<ChainKey> = app
        .anonymous()
        .get("/api/v1/audit-log-keys")
        .await
        .json()
        .await
        .unwrap();

    // NDJSON, unfiltered: every row rehashes, neighbours link, the newest is the signed head.
    let (body, manifest) = export_with_manifest(
        &admin,
        &format!("/api/v1/projects/{project}/audit-logs/export.ndjson?range=1h"),
    )
    .await;
    assert!(
        signed_by(
            &keys,
            &manifest.key_id,
            &manifest.statement(),
            &manifest.signature
        ),
        "{manifest:?}"
    );
    assert_eq!(manifest.kind, "auditlog.export.v1");
    assert_eq!(
        (
            manifest.project_id,
            manifest.query.as_str(),
            manifest.format.as_str()
        ),
        (project, "range=1h", "ndjson")
    );
    assert_eq!(manifest.bytes, body.len() as u64);
    assert_eq!(manifest.sha256, hex::encode(Sha256::digest(&body)));
    let rows: Vec<AuditEntry> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        (manifest.rows, manifest.matched, manifest.truncated),
        (rows.len() as u64, rows.len() as u64, false)
    );
    let seqs: Vec<i64> = rows.iter().map(|row| row.chain_seq).collect();
    assert_eq!(manifest.first_seq, seqs.iter().min().copied());
    assert_eq!(manifest.last_seq, seqs.iter().max().copied());
    for row in &rows {
        assert_eq!(
            entry_hash(&row.prev_hash, &HashedFields::of_entry(project, row)),
            row.entry_hash,
            "{row:?}"
        );
    }
    for pair in rows.windows(2) {
        assert_eq!(pair[0].chain_seq, pair[1].chain_seq + 1);
        assert_eq!(pair[0].prev_hash, pair[1].entry_hash);
    }
    let head = manifest.head.clone().expect("a signed head");
    assert!(signed_by(
        &keys,
        &head.key_id,
        &head.statement(),
        &head.signature
    ));
    // The head is the newest entry exported, or newer: the export's own entry may be in it.
    assert!(head.chain_seq >= rows[0].chain_seq, "{head:?}");
    if head.chain_seq == rows[0].chain_seq {
        assert_eq!(head.entry_hash, rows[0].entry_hash);
    }

    // A forged manifest does not verify: one changed field breaks the signature.
    let mut forged = manifest.clone();
    forged.rows += 1;
    assert!(!signed_by(
        &keys,
        &forged.key_id,
        &forged.statement(),
        &forged.signature
    ));

    // CSV, filtered: the header row is not a row; the chain columns close every row.
    let (body, csv_manifest) = export_with_manifest(
        &admin,
        &format!(
            "/api/v1/projects/{project}/audit-logs/export.csv?action=application.create&range=1h"
        ),
    )
    .await;
    assert_eq!(csv_manifest.format, "csv");
    assert_eq!(csv_manifest.query, "range=1h&action=application.create");
    assert_eq!(csv_manifest.rows, 3);
    assert_eq!(csv_manifest.sha256, hex::encode(Sha256::digest(&body)));
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(",chain_seq,prev_hash,entry_hash"),
        "{text}"
    );
    assert_ne!(csv_manifest.export_id, manifest.export_id);

    // Only this project's admins read a manifest; a bad id is refused, an unknown one is absent.
    let manifest_path = format!(
        "/api/v1/projects/{project}/audit-logs/exports/{}/manifest",
        manifest.export_id
    );
    let developer = app
        .create_token(&admin, project, "dev", Role::Developer, false)
        .await;
    problem(
        app.token_caller(&developer.secret)
            .get(&manifest_path)
            .await,
        403,
    )
    .await;
    problem(app.anonymous().get(&manifest_path).await, 401).await;
    // Ada is an admin of a second project too: the id names an export of the first only.
    let (other_project, _) = app.project_with_admin("Other").await;
    let foreign = format!(
        "/api/v1/projects/{other_project}/audit-logs/exports/{}/manifest",
        manifest.export_id
    );
    problem(admin.get(&foreign).await, 404).await;
    // An admin of another project only cannot tell this project exists.
    let outsider = app.outsider_admin("Olga's").await;
    problem(outsider.get(&manifest_path).await, 404).await;
    let shouted = manifest.export_id.to_uppercase();
    let unhyphenated = manifest.export_id.replace('-', "");
    for bad in [
        "xyz",
        "..%2F..%2Fetc",
        &shouted,
        &unhyphenated,
        &"a".repeat(36),
    ] {
        let path = format!("/api/v1/projects/{project}/audit-logs/exports/{bad}/manifest");
        problem(admin.get(&path).await, 400).await;
    }
    let unknown = format!(
        "/api/v1/projects/{project}/audit-logs/exports/{}/manifest",
        uuid::Uuid::new_v4()
    );
    problem(admin.get(&unknown).await, 404).await;

    // Identities that held admin rights and lost them: a revoked admin token, and a removed
    // admin member's live session. The same goes for the chain position clients check.
    let chain_path = format!("/api/v1/projects/{project}/audit-logs/chain/1");
    let token = app
        .create_token(&admin, project, "soon revoked", Role::Admin, false)
        .await;
    let token_caller = app.token_caller(&token.secret);
    assert_eq!(token_caller.get(&manifest_path).await.status(), 200);
    assert_eq!(token_caller.get(&chain_path).await.status(), 200);
    app.revoke_token(&admin, project, token.token.id).await;
    problem(token_caller.get(&manifest_path).await, 401).await;
    problem(token_caller.get(&chain_path).await, 401).await;
    let (member_id, member) = app
        .add_member(
            &admin,
            project,
            "mallory@example.com",
            "Mallory",
            "mallory's long password",
            Role::Admin,
        )
        .await;
    assert_eq!(member.get(&manifest_path).await.status(), 200);
    let removed = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/members/{member_id}"),
            None,
        )
        .await;
    assert!(removed.status().is_success(), "{}", removed.status());
    // The removed member's session no longer authenticates anywhere in the project.
    problem(member.get(&manifest_path).await, 401).await;
    problem(member.get(&chain_path).await, 401).await;
}

crate::on_both_backends!(a_completed_export_has_a_signed_manifest_of_exactly_what_was_sent,);
