//! The app's pages.

use auditlog_shared::AuditQuery;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::api;

/// The landing page: what this server is and whether it is healthy.
#[component]
pub fn Home() -> impl IntoView {
    let health = LocalResource::new(api::health);
    view! {
        <h1>"Auditlog"</h1>
        <section class="card">
            <h2>"Server status"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Checking the server…"</p> }>
                {move || {
                    health
                        .get()
                        .map(|result| match result {
                            Ok(health) => {
                                view! {
                                    <p data-test="health">
                                        <span class="status-ok">{health.status}</span>
                                        " · version "
                                        {health.version}
                                        " · database "
                                        <code>{health.database}</code>
                                    </p>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <p class="error" role="alert" data-test="health-error">
                                        {error}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

/// Security → Audit logs. The view is read from the URL with the shared query model.
#[component]
pub fn AuditLogs() -> impl IntoView {
    let location = use_location();
    let query = move || AuditQuery::parse(&location.search.get());
    view! {
        <h1>"Audit logs"</h1>
        <section class="card">
            {move || match query() {
                Ok(query) => {
                    let canonical = query.to_query_string();
                    let shown = if canonical.is_empty() {
                        "the default view (last 7 days)".to_string()
                    } else {
                        canonical
                    };
                    view! {
                        <p data-test="audit-query">"Showing " <code>{shown}</code></p>
                    }
                        .into_any()
                }
                Err(error) => {
                    view! {
                        <p class="error" role="alert" data-test="audit-query-error">
                            "This link holds an invalid view: "
                            {error.to_string()}
                        </p>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <h1>"Page not found"</h1>
        <p class="muted">"Nothing lives at this address. " <a href="/">"Go to the start page"</a></p>
    }
}
