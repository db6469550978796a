//! `auditlog members`: the project's members, and invitations. Nobody sets another person's
//! password: inviting prints a link the invitee opens to join with a password of their own.

use auditlog_shared::wire::{AddMember, CreatedInvitation, Invitation, Member};

use super::tokens::wire_role;
use super::ProjectSession;
use crate::arguments::MemberCommand;
use crate::output::{format_instant, print_json, Table};

/// Runs one of the `auditlog members` commands.
pub async fn run_member_command(
    session: &ProjectSession,
    command: MemberCommand,
) -> anyhow::Result<()> {
    match command {
        MemberCommand::List => list_members(session).await,
        MemberCommand::Invite { email, role } => {
            let request = AddMember {
                email,
                role: wire_role(role),
            };
            invite(session, &request).await
        }
        MemberCommand::Invitations => list_invitations(session).await,
        MemberCommand::RevokeInvitation { id } => revoke_invitation(session, id).await,
    }
}

/// The table `auditlog members list` prints.
pub fn member_table(members: &[Member]) -> Table {
    let mut table = Table::new(&["ID", "NAME", "EMAIL", "ROLE"]);
    for member in members {
        table.add_row(vec![
            member.user_id.to_string(),
            member.display_name.clone(),
            member.email.clone(),
            member.role.as_str().to_string(),
        ]);
    }
    table
}

/// The table `auditlog members invitations` prints.
pub fn invitation_table(invitations: &[Invitation]) -> Table {
    let mut table = Table::new(&["ID", "EMAIL", "ROLE", "INVITED BY", "EXPIRES"]);
    for invitation in invitations {
        table.add_row(vec![
            invitation.id.to_string(),
            invitation.email.clone(),
            invitation.role.as_str().to_string(),
            invitation.invited_by.clone(),
            format_instant(invitation.expires_at),
        ]);
    }
    table
}

async fn list_members(session: &ProjectSession) -> anyhow::Result<()> {
    let empty = format!("No members in project #{}.", session.project_id);
    session.print_list("/members", &empty, member_table).await
}

async fn invite(session: &ProjectSession, request: &AddMember) -> anyhow::Result<()> {
    let Some(created) = session
        .post::<_, CreatedInvitation>("/members", request)
        .await?
    else {
        return Ok(());
    };
    let link = if created.accept_url.starts_with('/') {
        format!("{}{}", session.client.base_url(), created.accept_url)
    } else {
        created.accept_url.clone()
    };
    println!(
        "Invited {} as {} (invitation #{}, expires {}).",
        created.invitation.email,
        created.invitation.role.as_str(),
        created.invitation.id,
        format_instant(created.invitation.expires_at)
    );
    println!();
    println!("    {link}");
    println!();
    println!("Send them this link: it works once and will not be shown again.");
    Ok(())
}

async fn list_invitations(session: &ProjectSession) -> anyhow::Result<()> {
    let empty = format!("No pending invitations in project #{}.", session.project_id);
    session
        .print_list("/invitations", &empty, invitation_table)
        .await
}

async fn revoke_invitation(session: &ProjectSession, id: i64) -> anyhow::Result<()> {
    session
        .client
        .delete_without_answer(&session.project_path(&format!("/invitations/{id}")))
        .await?;
    if session.json {
        return print_json(&serde_json::json!({ "revoked": id }));
    }
    println!("Revoked invitation #{id}: its link no longer works.");
    Ok(())
}
