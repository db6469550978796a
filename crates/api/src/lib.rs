//! The Auditlog server as a library: the `auditlog-server` binary is a thin `main` over it, and
//! the integration tests build the same [`startup::Application`] on port 0.

pub mod admin;
pub mod audit_log;
pub mod audit_query;
pub mod auth;
pub mod capture;
pub mod catalog;
pub mod clock;
pub mod configuration;
pub mod db;
pub mod entry;
pub mod error;
pub mod gate;
pub mod metrics;
pub mod routes;
pub mod security_headers;
pub mod seed;
pub mod startup;
pub mod state;
pub mod streaming;
pub mod telemetry;
pub mod validation;
