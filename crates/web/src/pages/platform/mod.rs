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

use auditlog_shared::wire::{Role, StreamStatus};
use auditlog_shared::AuditQuery;
use chrono::{DateTime, Local, Utc};
use leptos::prelude::*;
use serde::de::DeserializeOwned;

use crate::api::{self, ApiError};
use crate::form::{Action, FormError};

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

/// A project's list (such as `clusters`), fetched again whenever `version` is bumped.
fn project_list<T: DeserializeOwned + 'static>(
    project: Signal<i64>,
    path: &'static str,
    version: RwSignal<u32>,
) -> LocalResource<Result<Vec<T>, ApiError>> {
    LocalResource::new(move || {
        let url = project_api(project.get(), path);
        version.track();
        async move { api::get::<Vec<T>>(&url).await }
    })
}

/// What a list page's table shows around its rows.
struct ListTable {
    /// The list's name in messages, such as "clusters".
    noun: &'static str,
    /// What an empty list says.
    empty: &'static str,
    /// The table's `data-test` name and classes beside `platform-table`.
    test: &'static str,
    class: &'static str,
    /// The column headings.
    headings: Vec<&'static str>,
}

impl ListTable {
    /// Renders a loaded list in one of its four states: loading, failed, empty or a table of
    /// `row`s.
    fn render<T>(
        self,
        loaded: Option<Result<Vec<T>, ApiError>>,
        row: impl FnMut(T) -> AnyView,
    ) -> AnyView {
        let ListTable {
            noun,
            empty,
            test,
            class,
            headings,
        } = self;
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
            Some(Ok(items)) => view! {
                <div class="table-scroll">
                    <table class=format!("platform-table {class}") data-test=test>
                        <thead>
                            <tr>
                                {headings
                                    .into_iter()
                                    .map(|heading| view! { <th>{heading}</th> })
                                    .collect_view()}
                            </tr>
                        </thead>
                        <tbody>{items.into_iter().map(row).collect_view()}</tbody>
                    </table>
                </div>
            }
            .into_any(),
        }
    }
}

/// What a row's buttons share while one of its changes runs: the row's [`Action`], and the
/// page's notice and list version.
#[derive(Clone, Copy)]
struct RowChange {
    /// The row's buttons are disabled while a change runs; a refusal is shown in the row.
    action: Action,
    /// What the last change did, shown above the list.
    notice: RwSignal<Option<String>>,
    /// The list's version: bumped after a change so that it is fetched again.
    version: RwSignal<u32>,
}

impl RowChange {
    fn new(notice: RwSignal<Option<String>>, version: RwSignal<u32>) -> RowChange {
        RowChange {
            action: Action::new(),
            notice,
            version,
        }
    }

    /// Runs `change`: on success the page says `done` and fetches the list again; on failure
    /// the row says why.
    fn run<T: 'static>(
        self,
        change: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
        done: String,
    ) {
        self.action.run(change, move |_| self.announce(done));
    }

    /// Says what a change did and fetches the list again.
    fn announce(self, done: String) {
        self.notice.set(Some(done));
        refetch(self.version);
    }

    /// What a [`ConfirmButton`] runs to delete `url` (a row's resource), saying `done` after.
    fn delete(self, url: String, done: String) -> Callback<()> {
        Callback::new(move |()| {
            let url = url.clone();
            self.run(async move { api::delete(&url).await }, done.clone());
        })
    }
}

/// A table's column headings, with "Actions" last when the caller may act on its rows.
fn headings(columns: &[&'static str], with_actions: bool) -> Vec<&'static str> {
    let mut headings = columns.to_vec();
    if with_actions {
        headings.push("Actions");
    }
    headings
}

/// A labelled role picker bound to `role`.
#[component]
fn RoleField(
    /// The picker's `data-test` name.
    test: &'static str,
    role: RwSignal<Role>,
) -> impl IntoView {
    view! {
        <label>
            "Role"
            <select
                data-test=test
                on:change=move |ev| {
                    if let Some(picked) = Role::parse(&event_target_value(&ev)) {
                        role.set(picked);
                    }
                }
            >
                {role_options(move || role.get())}
            </select>
        </label>
    }
}

/// A secret the server shows once (a new token, a webhook's signing secret) with how it is
/// used, until "I have copied it".
#[component]
fn SecretBox(
    /// Its heading.
    title: String,
    /// What the secret is, as in "Copy this secret now".
    what: &'static str,
    secret: String,
    /// The `data-test` names of the box and of the secret.
    test: &'static str,
    secret_test: &'static str,
    /// Runs on "I have copied it".
    #[prop(into)]
    dismiss: Callback<()>,
    /// How the secret is used.
    children: Children,
) -> impl IntoView {
    view! {
        <div class="card secret-box" role="status" data-test=test>
            <h2>{title}</h2>
            <p>
                <strong>{format!("Copy {what} now. It will not be shown again.")}</strong>
            </p>
            <code class="secret" data-test=secret_test>{secret}</code>
            <p class="muted small">{children()}</p>
            <button type="button" data-test="dismiss-secret" on:click=move |_| dismiss.run(())>
                "I have copied it"
            </button>
        </div>
    }
}

/// The health of a stream destination or an alert, as its badge says it.
fn status_label(status: StreamStatus) -> &'static str {
    match status {
        StreamStatus::Active => "active",
        StreamStatus::Paused => "paused",
        StreamStatus::Retrying => "retrying",
        StreamStatus::Failing => "failing",
    }
}

/// A health badge (of a stream destination or an alert), with the last error under it when
/// that error is why it is not active.
fn status_cell(
    status: StreamStatus,
    test: &'static str,
    error_test: &'static str,
    last_error: Option<(String, DateTime<Utc>)>,
) -> impl IntoView {
    let status = status_label(status);
    let last_error = last_error.map(|(message, at)| {
        view! {
            <p class="error small" data-test=error_test>
                {message}
                " "
                <span class="muted">{format!("({})", local_time(at))}</span>
            </p>
        }
    });
    view! {
        <span class=format!("badge stream-{status}") data-test=test>
            {status}
        </span>
        {last_error}
    }
}

/// Why the audit filter typed into a form cannot be used, read by the shared query model as it
/// is typed.
fn filter_problem(filter: RwSignal<String>) -> Memo<Option<String>> {
    Memo::new(move |_| {
        AuditQuery::parse_filter(&filter.get())
            .err()
            .map(|error| error.to_string())
    })
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
    /// The `data-test` name of the button (the same in both steps).
    test: &'static str,
    /// The row's change: the button is disabled while one runs.
    change: RowChange,
    /// Runs on the second click.
    #[prop(into)]
    on_confirm: Callback<()>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let confirm_label = format!("Confirm {}", label.to_lowercase());
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
            disabled=change.action.busy
            on:click=click
        >
            {move || if confirming.get() { confirm_label.clone() } else { label.to_string() }}
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

/// A row's actions cell: its controls, then why the row's last change was refused.
#[component]
fn RowActions(change: RowChange, children: Children) -> impl IntoView {
    view! {
        <td class="row-actions">
            {children()}
            <FormError error=change.action.error/>
        </td>
    }
}

/// A list page's heading, what the page is for, and the notice of its last change.
#[component]
fn PageHead(
    title: &'static str,
    notice: RwSignal<Option<String>>,
    /// What the page is for and who may change it.
    children: Children,
) -> impl IntoView {
    view! {
        <div class="page-head">
            <h1>{title}</h1>
        </div>
        <p class="muted small">{children()}</p>
        <ChangeNotice notice/>
    }
}
