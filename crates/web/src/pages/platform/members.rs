//! Members: the list with each member's role, role changes, removal and the add form. Everyone
//! sees the members; only admins change them.

use auditlog_shared::wire::{AddMember, CreatedInvitation, Invitation, Member, Role, UpdateMember};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::{
    has_role, headings, local_time, project_api, project_list, refetch, role_label, role_options,
    ConfirmButton, ListTable, PageHead, RoleField, RowActions, RowChange,
};
use crate::api;
use crate::form::{Action, PlatformForm, TextField};
use crate::session::use_session;
use crate::shell::use_project_id;

#[component]
pub fn MembersPage() -> impl IntoView {
    let session = use_session();
    let project = use_project_id();
    let is_admin = Signal::derive(move || has_role(session.role(project.get()), Role::Admin));
    let me = Signal::derive(move || session.info.get().flatten().map(|info| info.user.id));
    let version = RwSignal::new(0_u32);
    let notice = RwSignal::new(None::<String>);

    let members = project_list::<Member>(project.into(), "members", version);
    let table = move || {
        let (project, is_admin, me) = (project.get(), is_admin.get(), me.get());
        ListTable {
            noun: "members",
            empty: "This project has no members.",
            test: "members",
            class: "",
            headings: headings(&["Name", "Email", "Role"], is_admin),
        }
        .render(members.get(), |member| {
            let is_me = me == Some(member.user_id);
            view! { <MemberRow member project is_admin is_me version notice/> }.into_any()
        })
    };

    view! {
        <PageHead title="Members" notice>
            "Viewers read the project; developers also create, deploy and delete applications; "
            "admins also manage clusters, tokens, members and settings, and read the audit logs."
        </PageHead>
        <section class="card">{table}</section>
        <Show
            when=move || is_admin.get()
            fallback=|| view! { <p class="muted small">"Only project admins can add, change or remove members."</p> }
        >
            <AddMemberForm project=project.into() version notice/>
            <PendingInvitations project=project.into() version notice/>
        </Show>
    }
}

/// The invitations nobody has accepted yet, each revocable: its link stops working at once.
#[component]
fn PendingInvitations(
    project: Signal<i64>,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let invitations = project_list::<Invitation>(project, "invitations", version);
    let table = move || {
        let project = project.get();
        ListTable {
            noun: "invitations",
            empty: "No invitation is waiting to be accepted.",
            test: "invitations",
            class: "",
            headings: headings(&["Email", "Role", "Invited by", "Expires"], true),
        }
        .render(invitations.get(), |invitation| {
            view! { <InvitationRow invitation project version notice/> }.into_any()
        })
    };
    view! {
        <section class="card">
            <h2>"Pending invitations"</h2>
            {table}
        </section>
    }
}

#[component]
fn InvitationRow(
    invitation: Invitation,
    project: i64,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let change = RowChange::new(notice, version);
    let revoke = change.delete(
        project_api(project, &format!("invitations/{}", invitation.id)),
        format!("Revoked the invitation of {}.", invitation.email),
    );
    view! {
        <tr data-test="invitation-row" data-invitation-email=invitation.email.clone()>
            <td class="strong">{invitation.email.clone()}</td>
            <td>{role_label(invitation.role)}</td>
            <td>{invitation.invited_by.clone()}</td>
            <td class="nowrap">{local_time(invitation.expires_at)}</td>
            <RowActions change>
                <ConfirmButton label="Revoke" test="revoke-invitation" change on_confirm=revoke/>
            </RowActions>
        </tr>
    }
}

#[component]
fn MemberRow(
    member: Member,
    project: i64,
    is_admin: bool,
    /// Whether this member is the signed-in user.
    is_me: bool,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let role = RwSignal::new(member.role);
    let change = RowChange::new(notice, version);
    let busy = change.action.busy;
    let url = project_api(project, &format!("members/{}", member.user_id));

    let change_role = {
        let url = url.clone();
        move |ev: leptos::ev::Event| {
            let Some(picked) = Role::parse(&event_target_value(&ev)) else {
                return;
            };
            let previous = role.get_untracked();
            if picked == previous {
                return;
            }
            // The select shows the new role at once and returns to the old one if refused.
            role.set(picked);
            let url = url.clone();
            change.action.run_or_undo(
                async move { api::patch::<Member, _>(&url, &UpdateMember { role: picked }).await },
                move |updated| {
                    role.set(updated.role);
                    // The navigation and the pages follow the user's own role.
                    if is_me {
                        session.reload();
                    }
                    change.announce(format!(
                        "{} is now {}.",
                        updated.display_name,
                        role_label(updated.role).to_lowercase()
                    ));
                },
                move || role.set(previous),
            );
        }
    };
    let remove = {
        let name = member.display_name.clone();
        move |()| {
            let (url, name, navigate) = (url.clone(), name.clone(), navigate.clone());
            change
                .action
                .run(async move { api::delete(&url).await }, move |()| {
                    if is_me {
                        // Having left the project, the user goes back to the start page.
                        session.reload();
                        navigate("/", Default::default());
                    } else {
                        change.announce(format!("Removed {name} from the project."));
                    }
                });
        }
    };

    let remove_label = if is_me { "Leave" } else { "Remove" };
    let role_cell = if is_admin {
        view! {
            <select
                data-test="member-role"
                aria-label=format!("Role of {}", member.display_name)
                disabled=busy
                on:change=change_role
            >
                {role_options(move || role.get())}
            </select>
        }
        .into_any()
    } else {
        view! { <span data-test="member-role">{role_label(member.role)}</span> }.into_any()
    };

    view! {
        <tr data-test="member-row" data-member-email=member.email.clone()>
            <td class="strong">
                {member.display_name.clone()}
                {is_me.then(|| view! { " " <span class="badge">"you"</span> })}
            </td>
            <td>{member.email.clone()}</td>
            <td>{role_cell}</td>
            {is_admin
                .then(|| {
                    view! {
                        <RowActions change>
                            <ConfirmButton label=remove_label test="remove" change on_confirm=remove/>
                        </RowActions>
                    }
                })}
        </tr>
    }
}

#[component]
fn AddMemberForm(
    project: Signal<i64>,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let action = Action::new();

    let submit = move || {
        let url = project_api(project.get_untracked(), "members");
        let body = AddMember {
            email: email.get_untracked().trim().to_string(),
            role: role.get_untracked(),
        };
        action.run(
            async move { api::post::<CreatedInvitation, _>(&url, &body).await },
            move |created| {
                email.set(String::new());
                let link = if created.accept_url.starts_with('/') {
                    let origin = web_sys::window()
                        .and_then(|w| w.location().origin().ok())
                        .unwrap_or_default();
                    format!("{origin}{}", created.accept_url)
                } else {
                    created.accept_url.clone()
                };
                notice.set(Some(format!(
                    "Invited {} as {}. Send them this link (it works once, for 7 days; it is not shown again): {link}",
                    created.invitation.email,
                    role_label(created.invitation.role).to_lowercase()
                )));
                refetch(version);
            },
        );
    };

    view! {
        <PlatformForm
            title="Invite a member"
            test="invite-member"
            action
            submit="Invite"
            submitting="Inviting…"
            on_submit=submit
        >
            <div class="fields">
                <TextField
                    label="Email"
                    test="invite-email"
                    value=email
                    kind="email"
                    required=true
                    autocomplete="off"
                />
                <RoleField test="invite-role" role/>
            </div>
            <p class="muted small">
                "The invitee opens the link and joins with their own password: a new account, "
                "or the one they already have."
            </p>
        </PlatformForm>
    }
}
