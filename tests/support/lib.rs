//! Support for Auditlog's tests: fresh databases on both backends, the real server binary as a
//! process, and a headless Chromium driven over WebDriver.
//!
//! The API crate's integration tests use [`TestDatabase`]; the end-to-end tests in `e2e/` use
//! all of it.

pub mod browser;
pub mod database;
pub mod process;

pub use database::{postgres_admin_url, Backend, TestDatabase};
pub use process::{binary, workspace_root, ServerProcess};
