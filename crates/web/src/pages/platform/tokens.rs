//! API tokens (admin-only): the list, the create form that shows a new secret once, and revoke.

use auditlog_shared::wire::{ApiToken, CreateToken, CreatedToken, Role};
use chrono::Utc;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{
    has_role, list_view, local_time, project_api, refetch, role_label, role_options, ChangeNotice,
    ConfirmButton, FormError,
};
use crate::api;
use crate::session::use_session;
use crate::shell::use_project_id;

/// The longest lifetime the server accepts, in days.
const MAX_EXPIRY_DAYS: u32 = 3650;

#[component]
pub fn TokensPage() -> impl IntoView {
    let session = use_session();
    let project = use_project_id();
    let is_admin = Signal::derive(move || has_role(session.role(project.get()), Role::Admin));
    let version = RwSignal::new(0_u32);
    let notice = RwSignal::new(None::<String>);
    // The token just created, whose secret is shown until dismissed and never again.
    let created = RwSignal::new(None::<CreatedToken>);

    // The server answers non-admins with a 403 problem, whose message the error state shows.
    let tokens = LocalResource::new(move || {
        let url = project_api(project.get(), "tokens");
        version.track();
        async move { api::get::<Vec<ApiToken>>(&url).await }
    });

    let table = move || {
        list_view(
            tokens.get(),
            "API tokens",
            "No API tokens yet. Create one for a script or a service.",
            |tokens| {
                let project = project.get();
                view! {
                    <table class="platform-table" data-test="tokens">
                        <thead>
                            <tr>
                                <th>"Name"</th>
                                <th>"Role"</th>
                                <th>"Ingest"</th>
                                <th>"Created by"</th>
                                <th>"Created"</th>
                                <th>"Expires"</th>
                                <th>"Status"</th>
                                <th>"Actions"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {tokens
                                .into_iter()
                                .map(|token| view! { <TokenRow token project version notice/> })
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
            <h1>"API tokens"</h1>
        </div>
        <p class="muted small">
            "A token acts in this project with its role; its requests appear in the audit log under its name. "
            "Only project admins manage tokens."
        </p>
        <ChangeNotice notice/>
        {move || created.get().map(|created_token| view! { <SecretBox created_token created/> })}
        <section class="card">{table}</section>
        <Show when=move || is_admin.get()>
            <CreateTokenForm project=project.into() version created notice/>
        </Show>
    }
}

/// The new token's secret, shown once, with the way to copy and use it.
#[component]
fn SecretBox(
    created_token: CreatedToken,
    created: RwSignal<Option<CreatedToken>>,
) -> impl IntoView {
    view! {
        <div class="card secret-box" role="status" data-test="token-created">
            <h2>{format!("Token “{}” created", created_token.token.name)}</h2>
            <p>
                <strong>"Copy this secret now. It will not be shown again."</strong>
            </p>
            <code class="secret" data-test="token-secret">{created_token.secret}</code>
            <p class="muted small">
                "Click the secret to select all of it, then copy it (Ctrl+C or ⌘C). Send it as "
                <code>"Authorization: Bearer <secret>"</code>
                "."
            </p>
            <button type="button" data-test="dismiss-secret" on:click=move |_| created.set(None)>
                "I have copied it"
            </button>
        </div>
    }
}

#[component]
fn TokenRow(
    token: ApiToken,
    project: i64,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let revoked = token.revoked_at.is_some();
    let revoke = {
        let url = project_api(project, &format!("tokens/{}", token.id));
        let name = token.name.clone();
        move |()| {
            let (url, name) = (url.clone(), name.clone());
            busy.set(true);
            error.set(None);
            spawn_local(async move {
                match api::delete(&url).await {
                    Ok(()) => {
                        notice.set(Some(format!("Revoked {name}; it no longer works.")));
                        refetch(version);
                    }
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };

    let expires = match token.expires_at {
        None => view! { <span class="muted">"Never"</span> }.into_any(),
        Some(at) if at <= Utc::now() => view! {
            <span>{local_time(at)}</span>
            " "
            <span class="badge">"expired"</span>
        }
        .into_any(),
        Some(at) => view! { <span>{local_time(at)}</span> }.into_any(),
    };
    let status = match (token.revoked_at, token.last_used_at) {
        (Some(at), _) => view! {
            <span class="badge revoked">"revoked"</span>
            " "
            <span class="small">{local_time(at)}</span>
        }
        .into_any(),
        (None, Some(at)) => {
            view! { <span class="small">{format!("Last used {}", local_time(at))}</span> }
                .into_any()
        }
        (None, None) => view! { <span class="muted small">"Never used"</span> }.into_any(),
    };

    view! {
        <tr
            class:revoked=revoked
            data-test="token-row"
            data-token-name=token.name.clone()
            data-revoked=revoked.to_string()
        >
            <td class="strong">{token.name.clone()}</td>
            <td>{role_label(token.role)}</td>
            <td>
                {if token.can_ingest {
                    view! { <span class="badge">"ingest"</span> }.into_any()
                } else {
                    view! { <span class="muted">"—"</span> }.into_any()
                }}
            </td>
            <td data-test="token-created-by">
                {token
                    .created_by
                    .clone()
                    .unwrap_or_else(|| "a removed member".to_string())}
            </td>
            <td class="nowrap">{local_time(token.created_at)}</td>
            <td class="nowrap">{expires}</td>
            <td class="nowrap">{status}</td>
            <td class="row-actions">
                {(!revoked)
                    .then(|| {
                        view! {
                            <ConfirmButton
                                label="Revoke"
                                confirm_label="Confirm revoke"
                                test="revoke"
                                busy=busy
                                on_confirm=revoke
                            />
                        }
                    })}
                <FormError error/>
            </td>
        </tr>
    }
}

#[component]
fn CreateTokenForm(
    project: Signal<i64>,
    version: RwSignal<u32>,
    created: RwSignal<Option<CreatedToken>>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let can_ingest = RwSignal::new(false);
    let expires_in_days = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let days = expires_in_days.get_untracked();
        let days = days.trim();
        let expiry = if days.is_empty() {
            None
        } else {
            match days.parse::<u32>() {
                Ok(days) => Some(days),
                Err(_) => {
                    error.set(Some(format!(
                        "Expires in days must be a whole number from 1 to {MAX_EXPIRY_DAYS}, or empty for never."
                    )));
                    return;
                }
            }
        };
        let url = project_api(project.get_untracked(), "tokens");
        let body = CreateToken {
            name: name.get_untracked().trim().to_string(),
            role: role.get_untracked(),
            can_ingest: can_ingest.get_untracked(),
            expires_in_days: expiry,
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<CreatedToken, _>(&url, &body).await {
                Ok(token) => {
                    name.set(String::new());
                    role.set(Role::Viewer);
                    can_ingest.set(false);
                    expires_in_days.set(String::new());
                    notice.set(None);
                    created.set(Some(token));
                    refetch(version);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="card platform-form" data-test="create-token" on:submit=submit>
            <h2>"New API token"</h2>
            <div class="fields">
                <label>
                    "Name"
                    <input
                        type="text"
                        data-test="token-name"
                        required
                        placeholder="deploy script"
                        prop:value=name
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Role"
                    <select
                        data-test="token-role"
                        on:change=move |ev| {
                            if let Some(picked) = Role::parse(&event_target_value(&ev)) {
                                role.set(picked);
                            }
                        }
                    >
                        {role_options(move || role.get())}
                    </select>
                </label>
                <label>
                    "Expires in days"
                    <input
                        type="number"
                        data-test="token-expires"
                        min="1"
                        max=MAX_EXPIRY_DAYS.to_string()
                        placeholder="never"
                        prop:value=expires_in_days
                        on:input=move |ev| expires_in_days.set(event_target_value(&ev))
                    />
                </label>
                <label class="checkbox">
                    <input
                        type="checkbox"
                        data-test="token-ingest"
                        prop:checked=can_ingest
                        on:change=move |ev| can_ingest.set(event_target_checked(&ev))
                    />
                    "May post events to the ingest endpoint"
                </label>
            </div>
            <FormError error/>
            <button class="primary" type="submit" disabled=busy>
                {move || if busy.get() { "Creating…" } else { "Create token" }}
            </button>
        </form>
    }
}
