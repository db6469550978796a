//! The API against its own OpenAPI document: schemathesis (installed from PyPI by
//! `scripts/setup.sh` into `.tools/schemathesis`) generates requests for every operation from
//! `GET /api/v1/openapi.json` and checks each answer — no 5xx, only documented status codes,
//! media types and headers, bodies that match their schemas, 405 with `Allow` for undeclared
//! methods, authentication where it is declared — plus stateful sequences (create, then read,
//! change and delete what was created).
//!
//! Every check runs, including that every request the schemas allow is accepted and every one
//! they forbid is refused: the schemas carry the server's rules (name, email, image and header
//! patterns, lengths, ranges, enums). The exceptions — rules no schema can state, such as a
//! cursor the server must have issued — are listed with their reasons in `schemathesis.toml`.

use std::path::PathBuf;
use std::process::Command;

use auditlog_shared::wire::Role;

use crate::helpers::{Backend, TestApp};

/// Operations left out: they would revoke the run's own token, remove its admin, or end the
/// session it does not use — each stops the rest of the run from being authenticated.
const LEFT_OUT: [&str; 6] = [
    "api_token.revoke",
    "user.remove",
    "user.change_role",
    "delete_session",
    "delete_sessions",
    "post_session_password",
];

fn schemathesis() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/schemathesis/bin/st")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_openapi_document_says() {
    let st = schemathesis();
    assert!(
        st.exists(),
        "schemathesis is not installed at {}: run scripts/setup.sh",
        st.display()
    );
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let token = app
        .create_token(&admin, project, "contract", Role::Admin, true)
        .await;
    let mut command = Command::new(&st);
    command
        .arg("--config-file")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", app.address))
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", token.secret))
        // A fixed seed keeps the suite repeatable; another one explores other requests.
        .args(["--max-examples", "4", "--workers", "1", "--seed"])
        .arg(std::env::var("AUDITLOG_CONTRACT_SEED").unwrap_or_else(|_| "7".into()))
        .env("NO_COLOR", "1");
    for operation in LEFT_OUT {
        command.args(["--exclude-operation-id", operation]);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the API disagrees with its document:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every operation of the document but those left out was tried.
    let count = |label: &str| -> Vec<usize> {
        report
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{report}"))
            .split('/')
            .map(|n| n.trim().parse().unwrap())
            .collect()
    };
    let selected = count("Selected:");
    assert_eq!(selected[0], selected[1] - LEFT_OUT.len(), "{report}");
    assert_eq!(count("Tested:"), [selected[0]], "{report}");
}
