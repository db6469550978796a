//! `auditlog login` and `auditlog logout`: storing and forgetting the sign-in.

use auditlog_shared::wire::ProjectSummary;

use super::GlobalOptions;
use crate::arguments::LoginArguments;
use crate::client::ApiClient;
use crate::config::{
    config_file_path, default_config_directory, delete_config, load_config, save_config,
    StoredConfig,
};
use crate::output::print_json;

/// Checks the token against the server by listing its projects, then stores the server URL, the
/// token and the chosen project.
pub async fn log_in(options: &GlobalOptions, arguments: &LoginArguments) -> anyhow::Result<()> {
    let directory = default_config_directory()?;
    // Signing in again may leave out --url: the stored server is then used. A stored file that
    // cannot be read is about to be replaced, so it does not stop the sign-in.
    let stored_url = load_config(&directory)
        .ok()
        .flatten()
        .map(|config| config.url);
    let Some(url) = options.url.clone().or(stored_url) else {
        anyhow::bail!("`auditlog login` needs the server's URL: pass --url or set AUDITLOG_URL");
    };
    let token = arguments.token.trim();
    if token.is_empty() {
        anyhow::bail!("the token is empty: pass the secret shown when the token was created");
    }

    let client = ApiClient::new(&url, Some(token))?;
    let answer = client
        .get_json::<Vec<ProjectSummary>>("/api/v1/projects")
        .await?;
    let project = choose_project(&answer.value, options.project)?;

    let config = StoredConfig {
        url: client.base_url().to_string(),
        token: token.to_string(),
        project_id: project.id,
    };
    save_config(&directory, &config)?;

    if options.json {
        let chosen = serde_json::to_value(project)?;
        return print_json(&chosen);
    }
    println!(
        "Signed in to {} as a token of project {} (#{}, role {})",
        config.url,
        project.name,
        project.id,
        project.role.as_str()
    );
    Ok(())
}

/// Deletes the stored sign-in.
pub fn log_out() -> anyhow::Result<()> {
    let directory = default_config_directory()?;
    let path = config_file_path(&directory);
    if delete_config(&directory)? {
        println!("Signed out: deleted {}", path.display());
    } else {
        println!("Not signed in: {} does not exist", path.display());
    }
    Ok(())
}

/// Picks the project to store: the one `--project` names, which the token must see, or else the
/// token's only project.
pub fn choose_project(
    projects: &[ProjectSummary],
    requested: Option<i64>,
) -> anyhow::Result<&ProjectSummary> {
    if let Some(requested) = requested {
        return projects
            .iter()
            .find(|project| project.id == requested)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the token has no access to project #{requested}; it can see {}",
                    describe_projects(projects)
                )
            });
    }
    match projects {
        [only] => Ok(only),
        [] => anyhow::bail!("the token has no access to any project"),
        _ => anyhow::bail!(
            "the token can see several projects ({}); choose one with --project <ID>",
            describe_projects(projects)
        ),
    }
}

/// Lists projects as `#1 shop, #2 billing`, or `no project` when there are none.
fn describe_projects(projects: &[ProjectSummary]) -> String {
    if projects.is_empty() {
        return "no project".to_string();
    }
    projects
        .iter()
        .map(|project| format!("#{} {}", project.id, project.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use auditlog_shared::wire::Role;

    fn project(id: i64, name: &str) -> ProjectSummary {
        ProjectSummary {
            id,
            name: name.to_string(),
            slug: name.to_string(),
            role: Role::Admin,
        }
    }

    #[test]
    fn a_token_with_one_project_needs_no_choice() {
        let projects = [project(4, "shop")];
        assert_eq!(choose_project(&projects, None).expect("chosen").id, 4);
        assert_eq!(choose_project(&projects, Some(4)).expect("chosen").id, 4);
    }

    #[test]
    fn a_requested_project_must_be_visible() {
        let projects = [project(4, "shop")];
        let error = choose_project(&projects, Some(5)).expect_err("not visible");
        assert_eq!(
            error.to_string(),
            "the token has no access to project #5; it can see #4 shop"
        );
    }

    #[test]
    fn several_projects_need_a_choice() {
        let projects = [project(4, "shop"), project(9, "billing")];
        let error = choose_project(&projects, None).expect_err("ambiguous");
        assert!(error.to_string().contains("--project"), "{error}");
        assert_eq!(
            choose_project(&projects, Some(9)).expect("chosen").name,
            "billing"
        );
        assert!(choose_project(&[], None).is_err());
    }
}
