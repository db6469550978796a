//! The server binary on both backends.

use auditlog_shared::wire::Health;
use auditlog_tests::{binary, Backend, TestDatabase};

use crate::RunningServer;

fn serves_health_and_deep_links(backend: Backend) {
    let static_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        static_dir.path().join("index.html"),
        "<!doctype html><p>app</p>",
    )
    .unwrap();
    let running = RunningServer::start(backend, static_dir.path().to_path_buf());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let health: Health = reqwest::get(format!("{}/healthz", running.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health.database, backend.engine());
        let ready = reqwest::get(format!("{}/readyz", running.url()))
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        let deep = reqwest::get(format!(
            "{}/projects/1/security/audit-logs?method.not=GET",
            running.url()
        ))
        .await
        .unwrap();
        assert_eq!(deep.status(), 200);
        assert_eq!(deep.text().await.unwrap(), "<!doctype html><p>app</p>");
    });
}

fn migrate_is_idempotent(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, dir.path());
    for _ in 0..2 {
        let output = std::process::Command::new(binary("auditlog-server"))
            .args(["--database-url", database.url(), "migrate"])
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(backend.engine()), "{stdout}");
    }
}

#[test]
fn a_bad_database_url_is_a_clear_startup_error() {
    let output = std::process::Command::new(binary("auditlog-server"))
        .args(["--database-url", "mysql://nobody@localhost/x", "migrate"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
}

mod sqlite {
    use super::*;

    #[test]
    fn serves_health_and_deep_links() {
        super::serves_health_and_deep_links(Backend::Sqlite)
    }

    #[test]
    fn migrate_is_idempotent() {
        super::migrate_is_idempotent(Backend::Sqlite)
    }
}

mod postgres {
    use super::*;

    #[test]
    fn serves_health_and_deep_links() {
        super::serves_health_and_deep_links(Backend::Postgres)
    }

    #[test]
    fn migrate_is_idempotent() {
        super::migrate_is_idempotent(Backend::Postgres)
    }
}
