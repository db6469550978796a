//! Settings: the project, the caller's role, and the audit log export switch (admin-only).

use auditlog_shared::wire::{ProjectSettings, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{has_role, project_api, role_label};
use crate::api;
use crate::session::use_session;
use crate::shell::use_project_id;

/// Where the export switch stands with the server.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SaveState {
    Unchanged,
    Saving,
    Saved,
    Failed(String),
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let session = use_session();
    let project = use_project_id();
    let summary = Signal::derive(move || session.project(project.get()));
    let is_admin = Signal::derive(move || has_role(session.role(project.get()), Role::Admin));

    let settings = LocalResource::new(move || {
        let url = project_api(project.get(), "settings");
        async move { api::get::<ProjectSettings>(&url).await }
    });

    view! {
        <div class="page-head">
            <h1>"Settings"</h1>
        </div>
        <section class="card" data-test="project-summary">
            <h2>"Project"</h2>
            {move || match summary.get() {
                Some(project) => view! {
                    <dl class="platform-facts">
                        <dt>"Name"</dt>
                        <dd data-test="project-name">{project.name}</dd>
                        <dt>"Slug"</dt>
                        <dd><code>{project.slug}</code></dd>
                        <dt>"Your role"</dt>
                        <dd data-test="my-role">{role_label(project.role)}</dd>
                    </dl>
                }
                .into_any(),
                None => view! { <p class="muted">"Loading the project…"</p> }.into_any(),
            }}
        </section>
        <section class="card" data-test="export-setting">
            <h2>"Audit log export"</h2>
            <p class="muted small">
                "When export is on, admins can download audit logs as CSV or NDJSON from Security → Audit logs, "
                "up to 10,000 rows per export. Every export is itself recorded in the audit log."
            </p>
            {move || match settings.get() {
                None => view! { <p class="muted" aria-busy="true">"Loading settings…"</p> }.into_any(),
                Some(Err(error)) => view! {
                    <p class="error" role="alert" data-test="load-error">
                        {format!("The settings could not be loaded: {}", error.message)}
                    </p>
                }
                .into_any(),
                Some(Ok(loaded)) => view! {
                    <ExportSwitch
                        initial=loaded.audit_export_enabled
                        project=project.get()
                        can_edit=is_admin.get()
                    />
                }
                .into_any(),
            }}
        </section>
    }
}

/// The export checkbox: it saves on change and shows whether the server took the change.
#[component]
fn ExportSwitch(initial: bool, project: i64, can_edit: bool) -> impl IntoView {
    let enabled = RwSignal::new(initial);
    let state = RwSignal::new(SaveState::Unchanged);
    let url = project_api(project, "settings");

    let toggle = move |ev: leptos::ev::Event| {
        let wanted = event_target_checked(&ev);
        let previous = enabled.get_untracked();
        // The checkbox shows the new value at once and returns to the old one if refused.
        enabled.set(wanted);
        state.set(SaveState::Saving);
        let url = url.clone();
        spawn_local(async move {
            let body = ProjectSettings {
                audit_export_enabled: wanted,
            };
            match api::patch::<ProjectSettings, _>(&url, &body).await {
                Ok(saved) => {
                    enabled.set(saved.audit_export_enabled);
                    state.set(SaveState::Saved);
                }
                Err(e) => {
                    enabled.set(previous);
                    state.set(SaveState::Failed(e.message));
                }
            }
        });
    };

    view! {
        <label class="checkbox switch">
            <input
                type="checkbox"
                data-test="export-enabled"
                prop:checked=enabled
                disabled=move || !can_edit || state.get() == SaveState::Saving
                on:change=toggle
            />
            "Allow audit log export"
        </label>
        {move || match state.get() {
            SaveState::Unchanged => ().into_any(),
            SaveState::Saving => view! { <p class="muted small" data-test="export-saving">"Saving…"</p> }.into_any(),
            SaveState::Saved => view! {
                <p class="platform-saved small" role="status" data-test="export-saved">
                    {if enabled.get_untracked() { "Saved: export is enabled." } else { "Saved: export is disabled." }}
                </p>
            }
            .into_any(),
            SaveState::Failed(message) => view! {
                <p class="error small" role="alert" data-test="form-error">{message}</p>
            }
            .into_any(),
        }}
        {(!can_edit).then(|| view! { <p class="muted small">"Only project admins can change this setting."</p> })}
    }
}
