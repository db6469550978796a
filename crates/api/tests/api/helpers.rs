//! The test harness: `TestApp::spawn(backend)` starts a server on its own fresh database.

use std::path::PathBuf;

use auditlog_api::configuration::Settings;
use auditlog_api::startup::Application;
pub use auditlog_tests::{Backend, TestDatabase};

/// A running server and everything it owns; dropping it drops the database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub static_dir: PathBuf,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let static_dir = dir.path().join("dist");
        std::fs::create_dir_all(&static_dir).unwrap();
        std::fs::write(
            static_dir.join("index.html"),
            "<!doctype html><title>Auditlog test app</title>",
        )
        .unwrap();
        std::fs::write(static_dir.join("app.js"), "console.log('app')").unwrap();

        let database = TestDatabase::create(backend, dir.path());

        let mut settings = Settings::from_defaults();
        settings.bind = "127.0.0.1:0".into();
        settings.database_url = database.url().to_string();
        settings.data_dir = dir.path().join("data");
        settings.static_dir = static_dir.clone();
        settings.workers = Some(2);
        settings.db_pool_size = 4;

        let application = Application::build(&settings).expect("the server builds");
        let address = application.url();
        tokio::spawn(application.run_until_stopped());

        TestApp {
            address,
            client: reqwest::Client::new(),
            static_dir,
            _database: database,
            _dir: dir,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the request is answered")
    }
}

/// Reads a problem document, checking its media type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.expect("a JSON problem document");
    assert_eq!(body["status"], status);
    body
}

/// Declares each listed `async fn(Backend)` as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )+
        }
    };
}
