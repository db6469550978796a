//! End-to-end tests: the real `auditlog-server` and `auditlog` binaries, and the built web app in
//! a real headless Chromium.
//!
//! They need `cargo build --workspace --bins` and, for the browser tests, `trunk build` (the
//! README's test command does both first).

mod browser;
mod cli;
mod server;

use std::path::PathBuf;

use auditlog_tests::{workspace_root, Backend, ServerProcess, TestDatabase};

/// A server process on its own fresh database, serving `static_dir`.
pub struct RunningServer {
    pub server: ServerProcess,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

impl RunningServer {
    pub fn start(backend: Backend, static_dir: PathBuf) -> RunningServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = TestDatabase::create(backend, dir.path());
        let server = ServerProcess::start(database.url(), &dir.path().join("data"), &static_dir);
        RunningServer {
            server,
            _database: database,
            _dir: dir,
        }
    }

    pub fn url(&self) -> &str {
        self.server.url()
    }
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
