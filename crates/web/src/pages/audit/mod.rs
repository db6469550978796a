//! Security → Audit logs: filters, volume chart, table, pagination and export.
//!
//! The URL is the state: the page reads `AuditQuery::parse(location.search)` and every change
//! navigates to the new canonical query string, so back/forward, reload and a pasted link all
//! restore the same view.

mod chart;
mod export;
mod filters;
mod integrity;
mod table;

use auditlog_shared::wire::{AuditPage, Facets, Histogram, ProjectSettings, Role};
use auditlog_shared::{AuditQuery, PageSize};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};

use crate::api;
use crate::session::use_session;
use crate::shell::use_project_id;

/// Navigates to a view of the audit log; a changed view starts again at its first page.
#[derive(Clone)]
pub struct ViewNavigator {
    navigate: std::sync::Arc<dyn Fn(&str) + Send + Sync>,
    project: Memo<i64>,
}

impl ViewNavigator {
    pub fn go(&self, query: &AuditQuery) {
        let path = format!(
            "/projects/{}/security/audit-logs?{}",
            self.project.get_untracked(),
            query.to_query_string()
        );
        (self.navigate)(&path);
    }

    /// Applies a change to the current view's filters and returns to the first page.
    pub fn change(&self, current: &AuditQuery, edit: impl FnOnce(&mut AuditQuery)) {
        let mut query = current.clone();
        edit(&mut query);
        query.cursor = None;
        self.go(&query);
    }
}

#[component]
pub fn AuditLogsPage() -> impl IntoView {
    let session = use_session();
    let project = use_project_id();
    let role = move || session.role(project.get());
    view! {
        {move || match (session.info.get(), role()) {
            (None, _) => view! { <p class="muted">"Loading…"</p> }.into_any(),
            (_, Some(Role::Admin)) => view! { <AuditLogs/> }.into_any(),
            _ => view! { <AdminsOnly/> }.into_any(),
        }}
    }
}

#[component]
fn AdminsOnly() -> impl IntoView {
    view! {
        <div class="card notice" data-test="admins-only">
            <h1>"Only project admins can view audit logs"</h1>
            <p class="muted">
                "Ask a project admin to update your role, or have an admin export the entries you need."
            </p>
        </div>
    }
}

#[component]
fn AuditLogs() -> impl IntoView {
    let project = use_project_id();
    let location = use_location();
    let navigate = use_navigate();
    let navigator = ViewNavigator {
        navigate: std::sync::Arc::new(move |path: &str| navigate(path, Default::default())),
        project,
    };
    let parsed = Memo::new(move |_| AuditQuery::parse(&location.search.get()));
    let query = Memo::new(move |_| parsed.get().unwrap_or_default());
    // The view without its page: what the chart, the facets and the export depend on.
    let view_string = Memo::new(move |_| {
        let mut view = query.get();
        view.cursor = None;
        view.page_size = PageSize::default();
        view.to_query_string()
    });
    let base = move || format!("/api/v1/projects/{}/audit-logs", project.get());

    let page = LocalResource::new(move || {
        let url = format!("{}?{}", base(), query.get().to_query_string());
        let valid = parsed.get().is_ok();
        async move {
            if !valid {
                return None;
            }
            Some(api::get::<AuditPage>(&url).await)
        }
    });
    let histogram = LocalResource::new(move || {
        let url = format!("{}/histogram?{}", base(), view_string.get());
        async move { api::get::<Histogram>(&url).await }
    });
    let facets = LocalResource::new(move || {
        let url = format!("{}/facets?{}", base(), view_string.get());
        async move { api::get::<Facets>(&url).await }
    });
    let settings = LocalResource::new(move || {
        let url = format!("/api/v1/projects/{}/settings", project.get());
        async move { api::get::<ProjectSettings>(&url).await }
    });
    let facets_signal = Signal::derive(move || facets.get().and_then(Result::ok));
    let export_enabled = Signal::derive(move || {
        settings
            .get()
            .and_then(Result::ok)
            .is_some_and(|s| s.audit_export_enabled)
    });

    let navigator_for_error = navigator.clone();
    view! {
        <div class="page-head">
            <h1>"Audit logs"</h1>
            <export::ExportButton enabled=export_enabled view_string=view_string.into() project=project.into()/>
        </div>
        <integrity::IntegrityBadge project=project.into()/>
        {move || {
            parsed
                .get()
                .err()
                .map(|error| {
                    let navigator = navigator_for_error.clone();
                    view! {
                        <div class="card error-card" role="alert" data-test="audit-query-error">
                            <p>"This link holds an invalid view: " {error.to_string()}</p>
                            <button on:click=move |_| navigator.go(&AuditQuery::default())>
                                "Show the default view"
                            </button>
                        </div>
                    }
                })
        }}
        <filters::FilterBar query=query.into() facets=facets_signal navigator=navigator.clone()/>
        <chart::VolumeChart
            histogram=Signal::derive(move || histogram.get())
            query=query.into()
            navigator=navigator.clone()
        />
        <table::EntriesTable
            page=Signal::derive(move || page.get().flatten())
            total=Signal::derive(move || histogram.get().and_then(Result::ok).map(|h| h.total))
            query=query.into()
            facets=facets_signal
            navigator=navigator
        />
    }
}
