//! `auditlog`: the Auditlog command-line client.
//!
//! Every request carries the User-Agent `auditlog-cli/<version>`, which the server records as the
//! `cli` source. `auditlog login` stores a server URL, an API token and a project; the project
//! commands (`apps`, `clusters`, `members`, `tokens`, `logs`, `streams`, `alerts`) use them;
//! `auditlog alerts presets` lists the ready-made alerts without them.
//!
//! Exit codes: 0 on success, 1 on an error (and when `auditlog streams test` could not deliver
//! its message), 2 on a command-line mistake, and 3 when `auditlog logs verify` finds the hash
//! chain broken.

mod arguments;
mod client;
mod commands;
mod config;
mod output;

use std::process::ExitCode;

use clap::Parser as _;

use crate::arguments::CommandLine;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let command_line = CommandLine::parse();
    match commands::run(command_line).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
