//! Security → Audit logs: filters, volume chart, table, pagination and export.
//!
//! The URL is the state: the page reads `AuditQuery::parse(location.search)` and every change
//! navigates to the new canonical query string, so back/forward, reload and a pasted link all
//! restore the same view.

mod bar;
mod chart;
mod drawer;
mod export;
mod filters;
mod integrity;
mod live;
mod shortcuts;
mod table;
mod time;

use auditlog_shared::wire::{AuditPage, Facets, Histogram, ProjectSettings, Role};
use auditlog_shared::{AuditQuery, Dimension, FacetRequest, PageSize};
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

    /// Opens a page address of the audit log as it is (an entry of the view, say).
    pub fn open(&self, path: &str) {
        (self.navigate)(path);
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
    time::Zone::provide();
    let project = use_project_id();
    let location = use_location();
    let navigate = use_navigate();
    let navigator = ViewNavigator {
        navigate: std::sync::Arc::new(move |path: &str| navigate(path, Default::default())),
        project,
    };
    // The page's query string is the view and, when an entry is open, `entry=<id>`.
    let split = Memo::new(move |_| auditlog_shared::split_open_entry(&location.search.get()));
    let open_entry = Signal::derive(move || split.get().0);
    let parsed = Memo::new(move |_| split.with(|(_, view)| AuditQuery::parse(view)));
    let query = Memo::new(move |_| parsed.get().unwrap_or_default());
    // The view without its page: what the chart, the facets and the export depend on.
    let view_string = Memo::new(move |_| {
        let mut view = query.get();
        view.cursor = None;
        view.page_size = PageSize::default();
        view.to_query_string()
    });
    let base = move || format!("/api/v1/projects/{}/audit-logs", project.get());
    let valid = Memo::new(move |_| parsed.with(Result::is_ok));

    // Each answer is kept with the address it answers, and shown only while that is still the
    // address the URL names: a view that is loading shows its loading state, never the rows,
    // chart or counts of the view before.
    let page_url = Memo::new(move |_| format!("{}?{}", base(), query.get().to_query_string()));
    let histogram_url = Memo::new(move |_| format!("{}/histogram?{}", base(), view_string.get()));
    let facets_url = Memo::new(move |_| format!("{}/facets?{}", base(), view_string.get()));
    let page = LocalResource::new(move || {
        let url = page_url.get();
        let valid = valid.get();
        async move {
            if !valid {
                return None;
            }
            let answer = api::get::<AuditPage>(&url).await;
            Some((url, answer))
        }
    });
    let histogram = LocalResource::new(move || {
        let url = histogram_url.get();
        let valid = valid.get();
        async move {
            if !valid {
                return None;
            }
            let answer = api::get::<Histogram>(&url).await;
            Some((url, answer))
        }
    });
    // The page's own facets only name the view's filter values (its chips and empty state), so
    // they ask for just the filtered dimensions, one value each: each is counted without its own
    // filter, which for the navigation default (Method excludes GET) is the unfiltered window that
    // rollups answer. The pickers ask for their dimension's values themselves.
    let facets = LocalResource::new(move || {
        let url = facets_url.get();
        let valid = valid.get();
        let current = query.get();
        let filtered: Vec<Dimension> = Dimension::ALL
            .into_iter()
            .filter(|&d| {
                let (include, exclude) = current.filter_strings(d);
                !include.is_empty() || !exclude.is_empty()
            })
            .collect();
        async move {
            if !valid {
                return None;
            }
            let separator = if url.ends_with('?') { "" } else { "&" };
            let mut named = Facets {
                dimensions: Vec::new(),
            };
            for dimension in filtered {
                let request = FacetRequest {
                    dimension: Some(dimension),
                    contains: None,
                    limit: 1,
                };
                let one = format!("{url}{separator}{}", request.to_query_string());
                match api::get::<Facets>(&one).await {
                    Ok(answer) => {
                        filters::remember_labels(&answer);
                        named.dimensions.extend(answer.dimensions)
                    }
                    Err(error) => return Some((url, Err(error))),
                }
            }
            Some((url, Ok(named)))
        }
    });
    let current_page = Signal::derive(move || {
        page.get()
            .flatten()
            .filter(|(url, _)| *url == page_url.get())
            .map(|(_, answer)| answer)
    });
    let current_histogram = Signal::derive(move || {
        histogram
            .get()
            .flatten()
            .filter(|(url, _)| *url == histogram_url.get())
            .map(|(_, answer)| answer)
    });
    let current_facets = Signal::derive(move || {
        facets
            .get()
            .flatten()
            .filter(|(url, _)| *url == facets_url.get())
            .and_then(|(_, answer)| answer.ok())
    });
    let settings = LocalResource::new(move || {
        let url = format!("/api/v1/projects/{}/settings", project.get());
        async move { api::get::<ProjectSettings>(&url).await }
    });
    let export_enabled = Signal::derive(move || {
        settings
            .get()
            .and_then(Result::ok)
            .is_some_and(|s| s.audit_export_enabled)
    });

    let navigator_for_error = navigator.clone();
    let invalid_view = move || {
        let navigator = navigator_for_error.clone();
        let message = parsed
            .get()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        view! {
            <div class="card error-card" role="alert" data-test="audit-query-error">
                <p>"This link holds an invalid view: " {message}</p>
                <button on:click=move |_| navigator.go(&AuditQuery::default())>
                    "Show the default view"
                </button>
            </div>
        }
    };
    let shown_query = Signal::derive(move || query.get().to_query_string());

    let live = RwSignal::new(false);
    let newest = Signal::derive(move || {
        current_page.with(|page| match page {
            Some(Ok(page)) => page
                .entries
                .first()
                .map(|entry| (entry.timestamp.timestamp_micros(), entry.id)),
            _ => None,
        })
    });
    let arrived = live::watch(project, query, newest, live);
    let show_arrived = Callback::new(move |_| {
        page.refetch();
        histogram.refetch();
        facets.refetch();
    });
    view! {
        <div class="page-head">
            <h1>"Audit logs"</h1>
            <Show when=move || valid.get()>
                <div class="page-actions">
                    <crate::saved_views::SaveViewForm project=project.into() view_string=view_string.into()/>
                    <live::LiveSwitch live/>
                    <shortcuts::Shortcuts/>
                    <export::ExportButton enabled=export_enabled view_string=view_string.into() project=project.into()/>
                </div>
            </Show>
        </div>
        <live::ArrivedBanner arrived show=show_arrived/>
        <integrity::IntegrityBadge project=project.into()/>
        // An invalid link shows why and nothing else: no filters, chart or rows of another view.
        <Show when=move || valid.get() fallback=invalid_view>
            <filters::FilterBar
                query=query.into()
                view_string=view_string.into()
                facets=current_facets
                project=project.into()
                navigator=navigator.clone()
            />
            <chart::VolumeChart
                histogram=current_histogram
                view_string=view_string.into()
                query=query.into()
                navigator=navigator.clone()
            />
            <table::EntriesTable
                page=current_page
                shown_query=shown_query
                total=Signal::derive(move || current_histogram.get().and_then(Result::ok).map(|h| h.total))
                query=query.into()
                facets=current_facets
                navigator=navigator.clone()
                project=project.into()
            />
            <drawer::EntryDrawer project=project.into() entry_id=open_entry view=shown_query/>
        </Show>
    }
}
