//! `auditlog apps`: the project's applications.

use auditlog_shared::wire::{Application, CreateApplication, DeployApplication};

use super::ProjectSession;
use crate::arguments::ApplicationCommand;
use crate::output::{format_optional_instant, Table};

/// Runs one of the `auditlog apps` commands.
pub async fn run_application_command(
    session: &ProjectSession,
    command: ApplicationCommand,
) -> anyhow::Result<()> {
    match command {
        ApplicationCommand::List => list_applications(session).await,
        ApplicationCommand::Create {
            name,
            image,
            cluster,
        } => {
            let request = CreateApplication {
                name,
                image,
                cluster_id: cluster,
            };
            create_application(session, &request).await
        }
        ApplicationCommand::Deploy { id, image } => {
            deploy_application(session, id, &DeployApplication { image }).await
        }
        ApplicationCommand::Delete { id } => delete_application(session, id).await,
    }
}

/// The table `auditlog apps list` prints.
pub fn application_table(applications: &[Application]) -> Table {
    let mut table = Table::new(&["ID", "NAME", "IMAGE", "CLUSTER", "DEPLOYS", "LAST DEPLOYED"]);
    for application in applications {
        table.add_row(vec![
            application.id.to_string(),
            application.name.clone(),
            application.image.clone(),
            application
                .cluster_id
                .map_or_else(|| "-".to_string(), |id| id.to_string()),
            application.deploy_count.to_string(),
            format_optional_instant(application.last_deployed_at, "never"),
        ]);
    }
    table
}

async fn list_applications(session: &ProjectSession) -> anyhow::Result<()> {
    let empty = format!("No applications in project #{}.", session.project_id);
    session
        .print_list("/applications", &empty, application_table)
        .await
}

async fn create_application(
    session: &ProjectSession,
    request: &CreateApplication,
) -> anyhow::Result<()> {
    if let Some(application) = session
        .post::<_, Application>("/applications", request)
        .await?
    {
        let placement = application
            .cluster_id
            .map_or_else(String::new, |id| format!(" on cluster #{id}"));
        println!(
            "Created application {} (#{}) with image {}{placement}.",
            application.name, application.id, application.image
        );
    }
    Ok(())
}

async fn deploy_application(
    session: &ProjectSession,
    id: i64,
    request: &DeployApplication,
) -> anyhow::Result<()> {
    let path = format!("/applications/{id}/deploy");
    if let Some(application) = session.post::<_, Application>(&path, request).await? {
        println!(
            "Deployed application {} (#{}) with image {} (deploy {}).",
            application.name, application.id, application.image, application.deploy_count
        );
    }
    Ok(())
}

async fn delete_application(session: &ProjectSession, id: i64) -> anyhow::Result<()> {
    let done = format!("Deleted application #{id}.");
    session.delete(&format!("/applications/{id}"), &done).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn instant(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_application_table_shows_missing_values_plainly() {
        let created = instant("2026-11-01T08:00:00Z");
        let applications = [
            Application {
                id: 1,
                name: "shop".to_string(),
                image: "shop:1.4.2".to_string(),
                cluster_id: Some(3),
                deploy_count: 12,
                last_deployed_at: Some(instant("2026-11-27T09:30:00Z")),
                created_at: created,
                updated_at: created,
            },
            Application {
                id: 2,
                name: "billing".to_string(),
                image: "billing:0.1".to_string(),
                cluster_id: None,
                deploy_count: 0,
                last_deployed_at: None,
                created_at: created,
                updated_at: created,
            },
        ];
        assert_eq!(
            application_table(&applications).render(),
            "ID  NAME     IMAGE        CLUSTER  DEPLOYS  LAST DEPLOYED\n\
             1   shop     shop:1.4.2   3        12       2026-11-27 09:30:00 UTC\n\
             2   billing  billing:0.1  -        0        never\n"
        );
    }
}
