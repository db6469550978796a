//! HTTP handlers, one file per area, each with its own parameter and response types.

pub mod health;
pub mod query;
pub mod spa;
