//! The audit entry: what one is ([`row::NewAuditEntry`]), the fields derived from it, how it is
//! linked into its project's hash chain, signed, checked and stored. Everything that writes
//! entries — the capture middleware's writer, ingestion, the demo and synthetic generators —
//! stores them through [`store::append_in_transaction`]; everything that checks them uses
//! [`chain`] and [`signing`].
//!
//! This module sits below both the capture side and the reading side (`audit_log`): it uses
//! only the database layer, the catalog of actions and the query model.

pub mod chain;
pub mod chain_chunks;
pub mod checkpoint;
pub mod derived;
pub mod draft;
pub mod rollup;
pub mod row;
pub mod signing;
pub mod store;

pub use row::NewAuditEntry;
