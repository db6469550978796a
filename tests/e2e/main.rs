//! End-to-end tests: the real `auditlog-server` and `auditlog` binaries, and the built web app in
//! a real headless Chromium.
//!
//! They need `cargo build --workspace --bins` and, for the browser tests, `trunk build` (the
//! README's test command does both first).

mod browser;
mod cli;
mod cli_alerts;
mod cli_logs;
mod cli_streams;
mod durability;
mod server;
mod streaming;

use std::path::PathBuf;

use auditlog_tests::{
    create_admin, workspace_root, AdminAccount, Backend, ServerProcess, TestDatabase,
};

/// A server process on its own fresh database, serving `static_dir`.
pub struct RunningServer {
    pub server: ServerProcess,
    database: TestDatabase,
    dir: tempfile::TempDir,
}

impl RunningServer {
    pub fn start(backend: Backend, static_dir: PathBuf) -> RunningServer {
        RunningServer::start_with_admin(backend, static_dir, None).0
    }

    /// Starts a server whose database already holds `admin` and their project (made with
    /// `auditlog-server create-admin`); returns the project's id too.
    pub fn with_admin(
        backend: Backend,
        static_dir: PathBuf,
        admin: &AdminAccount,
    ) -> (RunningServer, i64) {
        let (running, project_id) =
            RunningServer::start_with_admin(backend, static_dir, Some(admin));
        (running, project_id.expect("the admin was created"))
    }

    fn start_with_admin(
        backend: Backend,
        static_dir: PathBuf,
        admin: Option<&AdminAccount>,
    ) -> (RunningServer, Option<i64>) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = TestDatabase::create(backend, dir.path());
        let data_dir = dir.path().join("data");
        let project_id = admin.map(|admin| create_admin(database.url(), &data_dir, admin));
        let server = ServerProcess::start(database.url(), &data_dir, &static_dir);
        let running = RunningServer {
            server,
            database,
            dir,
        };
        (running, project_id)
    }

    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The server's data directory (its secret key, its chain anchor).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The URL of the server's database, to read what it stored.
    pub fn database_url(&self) -> &str {
        self.database.url()
    }
}

/// A multi-threaded runtime for the async parts of a test (HTTP clients, concurrent load).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The web app built by Trunk (`AUDITLOG_DIST`, or `dist/` at the workspace root).
pub fn built_web_app() -> PathBuf {
    let dist = std::env::var_os("AUDITLOG_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("dist"));
    assert!(
        dist.join("index.html").is_file(),
        "the web app is not built at {}: run `trunk build --release` first",
        dist.display()
    );
    dist
}
