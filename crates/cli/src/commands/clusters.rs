//! `auditlog clusters`: the project's clusters.

use auditlog_shared::wire::{Cluster, CreateCluster};

use super::ProjectSession;
use crate::arguments::ClusterCommand;
use crate::output::{format_instant, Table};

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
    let empty = format!("No clusters in project #{}.", session.project_id);
    session.print_list("/clusters", &empty, cluster_table).await
}

async fn create_cluster(session: &ProjectSession, request: &CreateCluster) -> anyhow::Result<()> {
    if let Some(cluster) = session.post::<_, Cluster>("/clusters", request).await? {
        println!(
            "Created cluster {} (#{}) in region {}.",
            cluster.name, cluster.id, cluster.region
        );
    }
    Ok(())
}

async fn delete_cluster(session: &ProjectSession, id: i64) -> anyhow::Result<()> {
    let done = format!("Deleted cluster #{id}.");
    session.delete(&format!("/clusters/{id}"), &done).await
}
