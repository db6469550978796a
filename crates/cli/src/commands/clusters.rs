//! `auditlog clusters`: the project's clusters.

use auditlog_shared::wire::{Cluster, CreateCluster};

use super::ProjectSession;
use crate::arguments::ClusterCommand;
use crate::output::{format_instant, print_json, Table};

/// Runs one of the `auditlog clusters` commands.
pub async fn run_cluster_command(
    session: &ProjectSession,
    command: ClusterCommand,
) -> anyhow::Result<()> {
    match command {
        ClusterCommand::List => list_clusters(session).await,
        ClusterCommand::Create { name, region } => {
            create_cluster(session, &CreateCluster { name, region }).await
        }
        ClusterCommand::Delete { id } => delete_cluster(session, id).await,
    }
}

/// The table `auditlog clusters list` prints.
pub fn cluster_table(clusters: &[Cluster]) -> Table {
    let mut table = Table::new(&["ID", "NAME", "REGION", "CREATED"]);
    for cluster in clusters {
        table.add_row(vec![
            cluster.id.to_string(),
            cluster.name.clone(),
            cluster.region.clone(),
            format_instant(cluster.created_at),
        ]);
    }
    table
}

async fn list_clusters(session: &ProjectSession) -> anyhow::Result<()> {
    let answer = session
        .client
        .get_json::<Vec<Cluster>>(&session.project_path("/clusters"))
        .await?;
    if session.json {
        return print_json(&answer.raw);
    }
    if answer.value.is_empty() {
        println!("No clusters in project #{}.", session.project_id);
        return Ok(());
    }
    print!("{}", cluster_table(&answer.value).render());
    Ok(())
}

async fn create_cluster(session: &ProjectSession, request: &CreateCluster) -> anyhow::Result<()> {
    let answer = session
        .client
        .post_json::<_, Cluster>(&session.project_path("/clusters"), request)
        .await?;
    if session.json {
        return print_json(&answer.raw);
    }
    let cluster = answer.value;
    println!(
        "Created cluster {} (#{}) in region {}.",
        cluster.name, cluster.id, cluster.region
    );
    Ok(())
}

async fn delete_cluster(session: &ProjectSession, id: i64) -> anyhow::Result<()> {
    session
        .client
        .delete_without_answer(&session.project_path(&format!("/clusters/{id}")))
        .await?;
    if !session.json {
        println!("Deleted cluster #{id}.");
    }
    Ok(())
}
