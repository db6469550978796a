//! `auditlog status`: whether the server is up and its database reachable.

use auditlog_shared::wire::Health;

use super::{open_anonymous_client, GlobalOptions};
use crate::output::print_json;

/// Asks `/healthz` and `/readyz` and prints the server's version and database.
pub async fn show_status(options: &GlobalOptions) -> anyhow::Result<()> {
    let client = open_anonymous_client(options)?;
    let health = client.get_json::<Health>("/healthz").await?;
    client.get_json::<serde_json::Value>("/readyz").await?;
    if options.json {
        return print_json(&health.raw);
    }
    let health = health.value;
    println!(
        "{}: {} (version {}, database {}, ready)",
        client.base_url(),
        health.status,
        health.version,
        health.database
    );
    Ok(())
}
