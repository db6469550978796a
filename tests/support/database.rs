//! A fresh database per test: a SQLite file in a temporary directory, or a uniquely named
//! PostgreSQL database on the local server, dropped when the test ends.

use std::path::Path;

use diesel::prelude::*;
use diesel::PgConnection;

/// The PostgreSQL server tests create their databases on (`AUDITLOG_TEST_POSTGRES_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("AUDITLOG_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine name the server reports.
    pub fn engine(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database made for one test. A test that needs PostgreSQL fails when it is unreachable: it
/// never skips.
pub struct TestDatabase {
    url: String,
    postgres_name: Option<String>,
}

impl TestDatabase {
    /// Creates an empty database; a SQLite file goes into `dir`.
    pub fn create(backend: Backend, dir: &Path) -> TestDatabase {
        match backend {
            Backend::Sqlite => TestDatabase {
                url: format!("sqlite://{}", dir.join("auditlog.db").display()),
                postgres_name: None,
            },
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|error| {
                    panic!(
                        "PostgreSQL is required by this test and is unreachable at {admin_url}: \
                         {error}. Start it with: pg_ctlcluster --skip-systemctl-redirect \
                         $(ls /etc/postgresql) main start"
                    )
                });
                let name = format!("auditlog_test_{}", uuid::Uuid::new_v4().simple());
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("the test database is created");
                let (base, _) = admin_url
                    .rsplit_once('/')
                    .expect("the admin URL names a database");
                TestDatabase {
                    url: format!("{base}/{name}"),
                    postgres_name: Some(name),
                }
            }
        }
    }

    /// The URL to hand the server.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(name) = &self.postgres_name {
            if let Ok(mut admin) = PgConnection::establish(&postgres_admin_url()) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}
