//! The platform pages: applications, clusters, API tokens, members, settings and streaming.
//!
//! Each page loads its list with a `LocalResource` whose source reads a version counter; every
//! successful write bumps the counter, so the list is fetched again and shows what the server now
//! holds. The controls follow the caller's role, and a write the server refuses shows the
//! server's own message next to the control that sent it.

mod alerts;
mod applications;
mod clusters;
mod members;
mod settings;
mod streams;
mod tokens;

pub use applications::ApplicationsPage;
pub use clusters::ClustersPage;
pub use members::MembersPage;
pub use settings::SettingsPage;
pub use streams::StreamsPage;
pub use tokens::TokensPage;

use auditlog_shared::wire::Role;
use chrono::{DateTime, Local, Utc};
use leptos::prelude::*;

use crate::api::ApiError;

/// The URL of a project-scoped API endpoint, such as `applications/7/deploy`.
fn project_api(project: i64, path: &str) -> String {
    format!("/api/v1/projects/{project}/{path}")
}

/// An instant in the browser's time zone, to the minute.
fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Whether a caller with `role` may do what `needed` allows.
fn has_role(role: Option<Role>, needed: Role) -> bool {
    role.is_some_and(|role| role >= needed)
}

/// A role as people read it.
fn role_label(role: Role) -> &'static str {
    match role {
        Role::Viewer => "Viewer",
        Role::Developer => "Developer",
        Role::Admin => "Admin",
    }
}

/// The `<option>`s of a role picker; `current` decides which one is selected.
///
/// Selection is set through the `selected` property rather than the attribute: once a user has
/// picked an option, browsers ignore later changes to the attribute.
fn role_options(current: impl Fn() -> Role + Copy + Send + Sync + 'static) -> impl IntoView {
    [Role::Viewer, Role::Developer, Role::Admin]
        .into_iter()
        .map(|role| {
            view! {
                <option value=role.as_str() prop:selected=move || current() == role>
                    {role_label(role)}
                </option>
            }
        })
        .collect_view()
}

/// Bumps a list's version counter so that its resource fetches the list again.
fn refetch(version: RwSignal<u32>) {
    version.update(|v| *v = v.wrapping_add(1));
}

/// Renders a loaded list in one of its four states: loading, failed, empty or filled.
fn list_view<T>(
    loaded: Option<Result<Vec<T>, ApiError>>,
    noun: &'static str,
    empty: &'static str,
    rows: impl FnOnce(Vec<T>) -> AnyView,
) -> AnyView {
    match loaded {
        None => view! {
            <p class="muted" aria-busy="true" data-test="loading">{format!("Loading {noun}…")}</p>
        }
        .into_any(),
        Some(Err(error)) => view! {
            <p class="error" role="alert" data-test="load-error">
                {format!("The {noun} could not be loaded: {}", error.message)}
            </p>
        }
        .into_any(),
        Some(Ok(items)) if items.is_empty() => {
            view! { <p class="muted" data-test="empty">{empty}</p> }.into_any()
        }
        Some(Ok(items)) => rows(items),
    }
}

/// What a row's buttons share while one of its changes runs.
#[derive(Clone, Copy)]
struct RowChange {
    /// The row's buttons are disabled meanwhile.
    busy: RwSignal<bool>,
    /// Why the last change failed, shown in the row.
    error: RwSignal<Option<String>>,
    /// What the last change did, shown above the list.
    notice: RwSignal<Option<String>>,
    /// The list's version: bumped after a change so that it is fetched again.
    version: RwSignal<u32>,
}

impl RowChange {
    /// Runs `change`: on success the page says `done` and fetches the list again; on failure
    /// the row says why.
    fn run<T: 'static>(
        self,
        change: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
        done: String,
    ) {
        self.busy.set(true);
        self.error.set(None);
        leptos::task::spawn_local(async move {
            match change.await {
                Ok(_) => {
                    self.notice.set(Some(done));
                    refetch(self.version);
                }
                Err(e) => self.error.set(Some(e.message)),
            }
            self.busy.set(false);
        });
    }
}

/// The message of a failed write, when there is one.
#[component]
fn FormError(error: RwSignal<Option<String>>) -> impl IntoView {
    move || {
        error
            .get()
            .map(|message| view! { <p class="error small" role="alert" data-test="form-error">{message}</p> })
    }
}

/// What the last successful change did, such as "Deployed web.", until the next change.
#[component]
fn ChangeNotice(notice: RwSignal<Option<String>>) -> impl IntoView {
    move || {
        notice.get().map(|message| {
            view! {
                <p class="platform-notice small" role="status" data-test="notice">
                    {message}
                    <button type="button" class="link" on:click=move |_| notice.set(None)>
                        "Dismiss"
                    </button>
                </p>
            }
        })
    }
}

/// A button that asks for a second click before it acts: "Delete" turns into "Confirm delete",
/// with a Cancel button next to it.
#[component]
fn ConfirmButton(
    /// The button's label before the first click, such as "Delete".
    label: &'static str,
    /// Its label while waiting for the second click, such as "Confirm delete".
    confirm_label: &'static str,
    /// The `data-test` name of the button (the same in both steps).
    test: &'static str,
    /// True while the action runs.
    #[prop(into)]
    busy: Signal<bool>,
    /// Runs on the second click.
    #[prop(into)]
    on_confirm: Callback<()>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let click = move |_| {
        if confirming.get_untracked() {
            confirming.set(false);
            on_confirm.run(());
        } else {
            confirming.set(true);
        }
    };
    view! {
        <button
            type="button"
            class:danger=confirming
            data-test=test
            disabled=busy
            on:click=click
        >
            {move || if confirming.get() { confirm_label } else { label }}
        </button>
        <Show when=move || confirming.get()>
            <button
                type="button"
                class="link"
                data-test="cancel"
                on:click=move |_| confirming.set(false)
            >
                "Cancel"
            </button>
        </Show>
    }
}
