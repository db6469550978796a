//! The test harness: `TestApp::spawn(backend)` starts a server on its own fresh database.

use std::path::PathBuf;

use auditlog_api::configuration::Settings;
use auditlog_api::startup::Application;
use diesel::prelude::*;
use diesel::PgConnection;

/// The PostgreSQL server the tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("AUDITLOG_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

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

        let database = match backend {
            Backend::Sqlite => TestDatabase::Sqlite,
            Backend::Postgres => TestDatabase::create_postgres(),
        };
        let database_url = match &database {
            TestDatabase::Sqlite => format!("sqlite://{}", dir.path().join("audit.db").display()),
            TestDatabase::Postgres { url, .. } => url.clone(),
        };

        let mut settings = Settings::from_defaults();
        settings.bind = "127.0.0.1:0".into();
        settings.database_url = database_url;
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

/// A database made for one test.
enum TestDatabase {
    /// Lives in the test's temporary directory.
    Sqlite,
    /// Created on the PostgreSQL server and dropped at the end of the test.
    Postgres { name: String, url: String },
}

impl TestDatabase {
    fn create_postgres() -> TestDatabase {
        let admin_url = postgres_admin_url();
        let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|error| {
            panic!(
                "PostgreSQL is required for these tests and is unreachable at {admin_url}: {error}. \
                 Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
            )
        });
        let name = format!("auditlog_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("the test database is created");
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .expect("the admin URL names a database");
        TestDatabase::Postgres {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { name, .. } = self {
            if let Ok(mut admin) = PgConnection::establish(&postgres_admin_url()) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// Reads a problem document, checking its media type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status of {}", response.url());
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
