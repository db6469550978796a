//! The `auditlog` binary against a real server.

use std::process::Command;

use auditlog_tests::{binary, Backend};

use crate::RunningServer;

fn auditlog(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(binary("auditlog"))
        .arg("--url")
        .arg(url)
        .args(args)
        .output()
        .expect("auditlog runs")
}

#[test]
fn status_and_query_check_talk_to_the_server() {
    let static_dir = tempfile::tempdir().unwrap();
    let running = RunningServer::start(Backend::Sqlite, static_dir.path().to_path_buf());

    let status = auditlog(running.url(), &["status"]);
    assert!(status.status.success(), "{status:?}");
    assert!(String::from_utf8_lossy(&status.stdout).contains("database sqlite, ready"));

    let check = auditlog(
        running.url(),
        &[
            "--json",
            "query",
            "check",
            "?q=deploy&method.not=get&range=24h",
        ],
    );
    assert!(check.status.success(), "{check:?}");
    let resolved: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(resolved["canonical"], "range=24h&method.not=GET&q=deploy");

    // The server's verdict on a query only it can judge (past retention) reaches the user.
    let old = auditlog(
        running.url(),
        &["query", "check", "to=2001-01-01T00:00:00Z"],
    );
    assert!(!old.status.success());
    assert!(String::from_utf8_lossy(&old.stderr).contains("retention"));
}

#[test]
fn malformed_queries_are_refused_before_any_request() {
    // Nothing listens on this address: the error must come from local parsing.
    let output = auditlog("http://127.0.0.1:9", &["query", "check", "status=7xx"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value `7xx` for `status`"),
        "{stderr}"
    );
}
