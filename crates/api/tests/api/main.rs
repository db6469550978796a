//! Integration tests: the real server, built with `Application::build` on port 0, against a fresh
//! SQLite file and a fresh PostgreSQL database. Every test function runs on both backends.

mod helpers;

mod accounts;
mod alerts;
mod audit_logs;
mod authorization;
mod capture;
mod chain;
mod changes;
mod contract;
mod demo;
mod errors;
mod exports;
mod headers;
mod health;
mod metrics;
mod openapi;
mod partitions;
mod query_resolve;
mod replicas;
mod saved_views;
mod search_index;
mod spa;
mod streams;
mod synthetic;
mod tampering;
