//! `auditlog-bench`: benchmarks of the Auditlog server. They measure and report; they judge
//! nothing (the tests do that).
//!
//! `auditlog-bench capture` measures what recording every request costs: the
//! throughput of audited requests and the latency the capture adds, on SQLite and PostgreSQL.
//! `auditlog-bench web` measures the web app's budgets in headless Chromium.
//! `auditlog-bench keepalive` compares kept-alive and fresh connections.
//! See `BENCHMARKS.md` at the workspace root for the numbers and how to read them.

mod capture;
mod keepalive;
mod replica;
mod report;
mod retention;
mod scale;
mod signing;
mod stream;
mod verify;
mod web;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Benchmarks of the Auditlog server.
#[derive(Debug, Parser)]
#[command(name = "auditlog-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Throughput of audited requests and the latency the capture adds, on both backends.
    Capture(capture::CaptureArgs),
    /// The web app's budgets: .wasm size, first rows after navigation, filter re-render time.
    Web(web::WebArgs),
    /// The query API and the capture on a large generated history (1 M, 10 M entries).
    Scale(scale::ScaleArgs),
    /// Audit-log requests through a kept-alive connection versus a fresh one, as a browser
    /// sends them.
    Keepalive(keepalive::KeepAliveArgs),
    /// Verification of the busiest project's 30 days on a large generated history.
    Verify(verify::VerifyArgs),
    /// What one chain-head signature costs the writer.
    Signing(signing::SigningArgs),
    /// Audit-log reads from a PostgreSQL streaming standby while the primary's server captures.
    Replica(replica::ReplicaArgs),
    /// PostgreSQL retention of a day's entries: a dropped partition against deleted rows.
    Retention(retention::RetentionArgs),
    /// Delivery to stream destinations: backlog rate, latency, and the cost to capture.
    Stream(stream::StreamArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command {
        Command::Capture(args) => runtime.block_on(capture::run(args)),
        Command::Web(args) => runtime.block_on(web::run(args)),
        Command::Scale(args) => runtime.block_on(scale::run(args)),
        Command::Keepalive(args) => runtime.block_on(keepalive::run(args)),
        Command::Verify(args) => runtime.block_on(verify::run(args)),
        Command::Signing(args) => signing::run(args),
        Command::Stream(args) => runtime.block_on(stream::run(args)),
        Command::Retention(args) => runtime.block_on(retention::run(args)),
        Command::Replica(args) => runtime.block_on(replica::run(args)),
    };
    // The servers' threads are stopped; do not wait for idle blocking threads.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
