//! `auditlog tokens`: the project's API tokens.

use auditlog_shared::wire::{ApiToken, CreateToken, CreatedToken, Role};

use super::ProjectSession;
use crate::arguments::{RoleArgument, TokenCommand};
use crate::output::{format_instant, format_optional_instant, print_json, Table};

/// Runs one of the `auditlog tokens` commands.
pub async fn run_token_command(
    session: &ProjectSession,
    command: TokenCommand,
) -> anyhow::Result<()> {
    match command {
        TokenCommand::List => list_tokens(session).await,
        TokenCommand::Create {
            name,
            role,
            ingest,
            expires_in_days,
        } => {
            let request = CreateToken {
                name,
                role: wire_role(role),
                can_ingest: ingest,
                expires_in_days,
            };
            create_token(session, &request).await
        }
        TokenCommand::Revoke { id } => revoke_token(session, id).await,
    }
}

/// The table `auditlog tokens list` prints.
pub fn token_table(tokens: &[ApiToken]) -> Table {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "ROLE",
        "INGEST",
        "CREATED BY",
        "EXPIRES",
        "REVOKED",
    ]);
    for token in tokens {
        table.add_row(vec![
            token.id.to_string(),
            token.name.clone(),
            token.role.as_str().to_string(),
            yes_or_no(token.can_ingest).to_string(),
            token
                .created_by
                .clone()
                .unwrap_or_else(|| "(removed)".to_string()),
            format_optional_instant(token.expires_at, "never"),
            format_optional_instant(token.revoked_at, "-"),
        ]);
    }
    table
}

/// The wire role for a role given on the command line.
pub fn wire_role(role: RoleArgument) -> Role {
    match role {
        RoleArgument::Viewer => Role::Viewer,
        RoleArgument::Developer => Role::Developer,
        RoleArgument::Admin => Role::Admin,
    }
}

async fn list_tokens(session: &ProjectSession) -> anyhow::Result<()> {
    let empty = format!("No API tokens in project #{}.", session.project_id);
    session.print_list("/tokens", &empty, token_table).await
}

async fn create_token(session: &ProjectSession, request: &CreateToken) -> anyhow::Result<()> {
    let Some(created) = session.post::<_, CreatedToken>("/tokens", request).await? else {
        return Ok(());
    };
    let token = &created.token;
    println!(
        "Created token {} (#{}, role {}, ingest {}, expires {}).",
        token.name,
        token.id,
        token.role.as_str(),
        yes_or_no(token.can_ingest),
        format_optional_instant(token.expires_at, "never")
    );
    println!();
    println!("    {}", created.secret);
    println!();
    println!("This is the token's secret. Store it now: it will not be shown again.");
    Ok(())
}

async fn revoke_token(session: &ProjectSession, id: i64) -> anyhow::Result<()> {
    let answer = session
        .client
        .delete_json::<ApiToken>(&session.project_path(&format!("/tokens/{id}")))
        .await?;
    if session.json {
        return print_json(&answer.raw);
    }
    let token = answer.value;
    match token.revoked_at {
        Some(revoked_at) => println!(
            "Revoked token {} (#{}) at {}.",
            token.name,
            token.id,
            format_instant(revoked_at)
        ),
        None => println!("Revoked token {} (#{}).", token.name, token.id),
    }
    Ok(())
}

fn yes_or_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
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
    fn the_token_table_shows_ingest_expiry_and_revocation() {
        let created = instant("2026-11-01T08:00:00Z");
        let tokens = [
            ApiToken {
                id: 3,
                name: "deploy-bot".to_string(),
                role: Role::Developer,
                can_ingest: false,
                created_by: Some("Ada Admin".to_string()),
                created_at: created,
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            },
            ApiToken {
                id: 14,
                name: "collector".to_string(),
                role: Role::Viewer,
                can_ingest: true,
                created_by: None,
                created_at: created,
                expires_at: Some(instant("2026-12-01T08:00:00Z")),
                revoked_at: Some(instant("2026-11-20T10:00:00Z")),
                last_used_at: None,
            },
        ];
        assert_eq!(
            token_table(&tokens).render(),
            "ID  NAME        ROLE       INGEST  CREATED BY  EXPIRES                  REVOKED\n\
             3   deploy-bot  developer  no      Ada Admin   never                    -\n\
             14  collector   viewer     yes     (removed)   2026-12-01 08:00:00 UTC  2026-11-20 10:00:00 UTC\n"
        );
    }

    #[test]
    fn command_line_roles_map_to_wire_roles() {
        assert_eq!(wire_role(RoleArgument::Viewer), Role::Viewer);
        assert_eq!(wire_role(RoleArgument::Developer), Role::Developer);
        assert_eq!(wire_role(RoleArgument::Admin), Role::Admin);
    }
}
