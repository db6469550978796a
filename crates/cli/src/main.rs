//! `auditlog`: the Auditlog command-line client.
//!
//! Every request carries the User-Agent `auditlog-cli/<version>`, which the server records as the
//! `cli` source.

use std::process::ExitCode;

use anyhow::Context as _;
use auditlog_shared::wire::{Health, Problem, ResolvedQuery};
use auditlog_shared::AuditQuery;
use clap::{Parser, Subcommand};

/// The User-Agent the server recognises as the CLI.
const USER_AGENT: &str = concat!("auditlog-cli/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Parser)]
#[command(name = "auditlog", version, about = "The Auditlog command-line client")]
struct Cli {
    /// The server's base URL.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that the server is up and its database reachable.
    Status,
    /// Work with audit log queries (the query string of the dashboard's URL).
    Query {
        #[command(subcommand)]
        command: QueryCommand,
    },
}

#[derive(Debug, Subcommand)]
enum QueryCommand {
    /// Check a query string and print its canonical form and the window it covers.
    Check {
        /// A query string, with or without the leading `?`, e.g. 'range=24h&method.not=GET'.
        query: String,
        /// Only check locally, without asking the server.
        #[arg(long)]
        offline: bool,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .build()
        .context("cannot build the HTTP client")?;
    let base = cli.url.trim_end_matches('/').to_string();
    match cli.command {
        Command::Status => {
            let health: Health = get_json(&client, &format!("{base}/healthz")).await?;
            let _: serde_json::Value = get_json(&client, &format!("{base}/readyz")).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&health)?);
            } else {
                println!(
                    "{base}: {} (version {}, database {}, ready)",
                    health.status, health.version, health.database
                );
            }
        }
        Command::Query {
            command: QueryCommand::Check { query, offline },
        } => {
            let parsed = AuditQuery::parse(&query).context("invalid query")?;
            let canonical = parsed.to_query_string();
            if offline {
                println!("{canonical}");
                return Ok(());
            }
            let resolved: ResolvedQuery =
                get_json(&client, &format!("{base}/api/v1/query/resolve?{canonical}")).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&resolved)?);
            } else {
                println!("canonical: {}", resolved.canonical);
                println!("from:      {}", resolved.from.to_rfc3339());
                println!("to:        {}", resolved.to.to_rfc3339());
                if resolved.clamped_to_retention {
                    println!("note:      the start was moved to the 30-day retention horizon");
                }
            }
        }
    }
    Ok(())
}

/// GETs a JSON document; an error response becomes an error carrying the problem's detail.
async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> anyhow::Result<T> {
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if status.is_success() {
        return response
            .json()
            .await
            .with_context(|| format!("unexpected answer from {url}"));
    }
    match response.json::<Problem>().await {
        Ok(problem) => anyhow::bail!(
            "{} ({}): {}",
            problem.title,
            status.as_u16(),
            problem.detail.unwrap_or_default()
        ),
        Err(_) => anyhow::bail!("{url} answered {status}"),
    }
}
