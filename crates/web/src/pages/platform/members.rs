//! Members: the list with each member's role, role changes, removal and the add form. Everyone
//! sees the members; only admins change them.

use auditlog_shared::wire::{AddMember, CreatedInvitation, Invitation, Member, Role, UpdateMember};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use super::{
    has_role, list_view, local_time, project_api, refetch, role_label, role_options, ChangeNotice,
    ConfirmButton, FormError,
};
use crate::api;
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

    let members = LocalResource::new(move || {
        let url = project_api(project.get(), "members");
        version.track();
        async move { api::get::<Vec<Member>>(&url).await }
    });

    let table = move || {
        list_view(
            members.get(),
            "members",
            "This project has no members.",
            |members| {
                let (project, is_admin, me) = (project.get(), is_admin.get(), me.get());
                view! {
                <table class="platform-table" data-test="members">
                    <thead>
                        <tr>
                            <th>"Name"</th>
                            <th>"Email"</th>
                            <th>"Role"</th>
                            {is_admin.then(|| view! { <th>"Actions"</th> })}
                        </tr>
                    </thead>
                    <tbody>
                        {members
                            .into_iter()
                            .map(|member| {
                                let is_me = me == Some(member.user_id);
                                view! { <MemberRow member project is_admin is_me version notice/> }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
            },
        )
    };

    view! {
        <div class="page-head">
            <h1>"Members"</h1>
        </div>
        <p class="muted small">
            "Viewers read the project; developers also create, deploy and delete applications; "
            "admins also manage clusters, tokens, members and settings, and read the audit logs."
        </p>
        <ChangeNotice notice/>
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
    let invitations = LocalResource::new(move || {
        let url = project_api(project.get(), "invitations");
        version.track();
        async move { api::get::<Vec<Invitation>>(&url).await }
    });
    let table = move || {
        list_view(
            invitations.get(),
            "invitations",
            "No invitation is waiting to be accepted.",
            |invitations| {
                let project = project.get();
                view! {
                    <table class="platform-table" data-test="invitations">
                        <thead>
                            <tr>
                                <th>"Email"</th>
                                <th>"Role"</th>
                                <th>"Invited by"</th>
                                <th>"Expires"</th>
                                <th>"Actions"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {invitations
                                .into_iter()
                                .map(|invitation| {
                                    view! { <InvitationRow invitation project version notice/> }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            },
        )
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
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let url = project_api(project, &format!("invitations/{}", invitation.id));
    let email = invitation.email.clone();
    let revoke = move |()| {
        let (url, email) = (url.clone(), email.clone());
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::delete(&url).await {
                Ok(()) => {
                    notice.set(Some(format!("Revoked the invitation of {email}.")));
                    refetch(version);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <tr data-test="invitation-row" data-invitation-email=invitation.email.clone()>
            <td class="strong">{invitation.email.clone()}</td>
            <td>{role_label(invitation.role)}</td>
            <td>{invitation.invited_by.clone()}</td>
            <td class="nowrap">{local_time(invitation.expires_at)}</td>
            <td class="row-actions">
                <ConfirmButton
                    label="Revoke"
                    confirm_label="Confirm revoke"
                    test="revoke-invitation"
                    busy=busy
                    on_confirm=revoke
                />
                <FormError error/>
            </td>
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
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
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
            busy.set(true);
            error.set(None);
            let url = url.clone();
            spawn_local(async move {
                match api::patch::<Member, _>(&url, &UpdateMember { role: picked }).await {
                    Ok(updated) => {
                        role.set(updated.role);
                        notice.set(Some(format!(
                            "{} is now {}.",
                            updated.display_name,
                            role_label(updated.role).to_lowercase()
                        )));
                        // The navigation and the pages follow the user's own role.
                        if is_me {
                            session.reload();
                        }
                        refetch(version);
                    }
                    Err(e) => {
                        role.set(previous);
                        error.set(Some(e.message));
                    }
                }
                busy.set(false);
            });
        }
    };
    let remove = {
        let name = member.display_name.clone();
        move |()| {
            let (url, name, navigate) = (url.clone(), name.clone(), navigate.clone());
            busy.set(true);
            error.set(None);
            spawn_local(async move {
                match api::delete(&url).await {
                    Ok(()) if is_me => {
                        // Having left the project, the user goes back to the start page.
                        session.reload();
                        navigate("/", Default::default());
                    }
                    Ok(()) => {
                        notice.set(Some(format!("Removed {name} from the project.")));
                        refetch(version);
                    }
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };

    let (remove_label, confirm_label) = if is_me {
        ("Leave", "Confirm leave")
    } else {
        ("Remove", "Confirm remove")
    };
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
                        <td class="row-actions">
                            <ConfirmButton
                                label=remove_label
                                confirm_label=confirm_label
                                test="remove"
                                busy=busy
                                on_confirm=remove
                            />
                            <FormError error/>
                        </td>
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
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let url = project_api(project.get_untracked(), "members");
        let body = AddMember {
            email: email.get_untracked().trim().to_string(),
            role: role.get_untracked(),
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<CreatedInvitation, _>(&url, &body).await {
                Ok(created) => {
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
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="card platform-form" data-test="invite-member" on:submit=submit>
            <h2>"Invite a member"</h2>
            <div class="fields">
                <label>
                    "Email"
                    <input
                        type="email"
                        data-test="invite-email"
                        required
                        autocomplete="off"
                        prop:value=email
                        on:input=move |ev| email.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Role"
                    <select
                        data-test="invite-role"
                        on:change=move |ev| {
                            if let Some(picked) = Role::parse(&event_target_value(&ev)) {
                                role.set(picked);
                            }
                        }
                    >
                        {role_options(move || role.get())}
                    </select>
                </label>
            </div>
            <p class="muted small">
                "The invitee opens the link and joins with their own password: a new account, "
                "or the one they already have."
            </p>
            <FormError error/>
            <button class="primary" type="submit" disabled=busy>
                {move || if busy.get() { "Inviting…" } else { "Invite" }}
            </button>
        </form>
    }
}
