//! `auditlog query check`: the canonical form of a query string and the window it covers.

use anyhow::Context as _;
use auditlog_shared::wire::ResolvedQuery;
use auditlog_shared::AuditQuery;

use super::{open_anonymous_client, GlobalOptions};
use crate::arguments::QueryCommand;
use crate::output::print_json;

/// Runs one of the `auditlog query` commands.
pub async fn run_query_command(
    options: &GlobalOptions,
    command: QueryCommand,
) -> anyhow::Result<()> {
    match command {
        QueryCommand::Check { query, offline } => check_query(options, &query, offline).await,
    }
}

/// Parses a query string locally, then, unless `offline`, asks the server how it reads it.
async fn check_query(options: &GlobalOptions, query: &str, offline: bool) -> anyhow::Result<()> {
    let parsed = AuditQuery::parse(query).context("invalid query")?;
    let canonical = parsed.to_query_string();
    if offline {
        println!("{canonical}");
        return Ok(());
    }
    let client = open_anonymous_client(options)?;
    let answer = client
        .get_json::<ResolvedQuery>(&format!("/api/v1/query/resolve?{canonical}"))
        .await?;
    if options.json {
        return print_json(&answer.raw);
    }
    let resolved = answer.value;
    println!("canonical: {}", resolved.canonical);
    println!("from:      {}", resolved.from.to_rfc3339());
    println!("to:        {}", resolved.to.to_rfc3339());
    if resolved.clamped_to_retention {
        println!("note:      the start was moved to the 30-day retention horizon");
    }
    Ok(())
}
