//! Support for Auditlog's tests: fresh databases on both backends, the real server binary as a
//! process, and a headless Chromium driven over WebDriver.
//!
//! The API crate's integration tests use [`TestDatabase`]; the end-to-end tests in `e2e/` use
//! all of it: [`api`] signs in and creates tokens over HTTP, [`storage`] reads back what a server
//! stored.

pub mod api;
pub mod browser;
pub mod database;
pub mod postgres_cluster;
pub mod process;
pub mod receiver;
pub mod storage;
pub mod syslog;

pub use api::{sign_in, DashboardSession};
pub use database::{postgres_admin_url, Backend, TestDatabase};
pub use process::{
    binary, create_admin, random_secret_key, workspace_root, AdminAccount, CliProcess,
    ServerProcess, STREAMING_FLAGS,
};
pub use storage::{chain_defect, StoredDatabase, StoredEntry, GENESIS_HASH};
