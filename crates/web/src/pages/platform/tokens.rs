//! API tokens (admin-only): the list, the create form that shows a new secret once, and revoke.

use auditlog_shared::wire::{ApiToken, CreateToken, CreatedToken, Role};
use chrono::Utc;
use leptos::prelude::*;

use super::{
    has_role, headings, local_time, project_api, project_list, refetch, role_label, ConfirmButton,
    ListTable, PageHead, RoleField, RowActions, RowChange, SecretBox,
};
use crate::api;
use crate::form::{Action, Checkbox, PlatformForm, TextField};
use crate::session::use_session;
use crate::shell::use_project_id;

/// The longest lifetime the server accepts, in days.
const MAX_EXPIRY_DAYS: &str = "3650";

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
    let tokens = project_list::<ApiToken>(project.into(), "tokens", version);
    let table = move || {
        let project = project.get();
        ListTable {
            noun: "API tokens",
            empty: "No API tokens yet. Create one for a script or a service.",
            test: "tokens",
            class: "",
            headings: headings(
                &[
                    "Name",
                    "Role",
                    "Ingest",
                    "Created by",
                    "Created",
                    "Expires",
                    "Status",
                ],
                true,
            ),
        }
        .render(tokens.get(), |token| {
            view! { <TokenRow token project version notice/> }.into_any()
        })
    };

    view! {
        <PageHead title="API tokens" notice>
            "A token acts in this project with its role; its requests appear in the audit log under its name. "
            "Only project admins manage tokens."
        </PageHead>
        {move || {
            created
                .get()
                .map(|created_token| {
                    view! {
                        <SecretBox
                            title=format!("Token “{}” created", created_token.token.name)
                            what="this secret"
                            secret=created_token.secret
                            test="token-created"
                            secret_test="token-secret"
                            dismiss=move || created.set(None)
                        >
                            "Click the secret to select all of it, then copy it (Ctrl+C or ⌘C). Send it as "
                            <code>"Authorization: Bearer <secret>"</code>
                            "."
                        </SecretBox>
                    }
                })
        }}
        <section class="card">{table}</section>
        <Show when=move || is_admin.get()>
            <CreateTokenForm project=project.into() version created notice/>
        </Show>
    }
}

#[component]
fn TokenRow(
    token: ApiToken,
    project: i64,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let change = RowChange::new(notice, version);
    let revoked = token.revoked_at.is_some();
    let revoke = change.delete(
        project_api(project, &format!("tokens/{}", token.id)),
        format!("Revoked {}; it no longer works.", token.name),
    );

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
            <RowActions change>
                {(!revoked)
                    .then(|| {
                        view! { <ConfirmButton label="Revoke" test="revoke" change on_confirm=revoke/> }
                    })}
            </RowActions>
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
    let action = Action::new();

    let submit = move || {
        let days = expires_in_days.get_untracked();
        let days = days.trim();
        let expiry = if days.is_empty() {
            None
        } else {
            match days.parse::<u32>() {
                Ok(days) => Some(days),
                Err(_) => {
                    return action.refuse(format!(
                        "Expires in days must be a whole number from 1 to {MAX_EXPIRY_DAYS}, or empty for never."
                    ));
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
        action.run(
            async move { api::post::<CreatedToken, _>(&url, &body).await },
            move |token| {
                name.set(String::new());
                role.set(Role::Viewer);
                can_ingest.set(false);
                expires_in_days.set(String::new());
                notice.set(None);
                created.set(Some(token));
                refetch(version);
            },
        );
    };

    view! {
        <PlatformForm
            title="New API token"
            test="create-token"
            action
            submit="Create token"
            submitting="Creating…"
            on_submit=submit
        >
            <div class="fields">
                <TextField label="Name" test="token-name" value=name placeholder="deploy script" required=true/>
                <RoleField test="token-role" role/>
                <TextField
                    label="Expires in days"
                    test="token-expires"
                    value=expires_in_days
                    kind="number"
                    min="1"
                    max=MAX_EXPIRY_DAYS
                    placeholder="never"
                />
                <Checkbox
                    label="May post events to the ingest endpoint"
                    test="token-ingest"
                    value=can_ingest
                />
            </div>
        </PlatformForm>
    }
}
