//! Members: the list with each member's role, role changes, removal and the add form. Everyone
//! sees the members; only admins change them.

use auditlog_shared::wire::{AddMember, Member, Role, UpdateMember};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use super::{
    has_role, list_view, project_api, refetch, role_label, role_options, ChangeNotice,
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
        </Show>
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
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let optional = |text: String| {
            let text = text.trim().to_string();
            (!text.is_empty()).then_some(text)
        };
        let url = project_api(project.get_untracked(), "members");
        let body = AddMember {
            email: email.get_untracked().trim().to_string(),
            role: role.get_untracked(),
            display_name: optional(display_name.get_untracked()),
            // A password is taken as typed: its spaces are part of it.
            password: Some(password.get_untracked()).filter(|p| !p.is_empty()),
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<Member, _>(&url, &body).await {
                Ok(member) => {
                    email.set(String::new());
                    display_name.set(String::new());
                    password.set(String::new());
                    notice.set(Some(format!(
                        "Added {} as {}.",
                        member.display_name,
                        role_label(member.role).to_lowercase()
                    )));
                    refetch(version);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="card platform-form" data-test="add-member" on:submit=submit>
            <h2>"Add a member"</h2>
            <div class="fields">
                <label>
                    "Email"
                    <input
                        type="email"
                        data-test="member-email"
                        required
                        autocomplete="off"
                        prop:value=email
                        on:input=move |ev| email.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Role"
                    <select
                        data-test="member-new-role"
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
                "Someone who already has an account is added as they are. For a new email, an account is "
                "created: give it a display name and a password of at least 10 characters."
            </p>
            <div class="fields">
                <label>
                    "Display name (new accounts)"
                    <input
                        type="text"
                        data-test="member-display-name"
                        autocomplete="off"
                        prop:value=display_name
                        on:input=move |ev| display_name.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Password (new accounts)"
                    <input
                        type="password"
                        data-test="member-password"
                        autocomplete="new-password"
                        prop:value=password
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                </label>
            </div>
            <FormError error/>
            <button class="primary" type="submit" disabled=busy>
                {move || if busy.get() { "Adding…" } else { "Add member" }}
            </button>
        </form>
    }
}
