//! The signed-in layout: sidebar with the project switcher and navigation, and the page.

use auditlog_shared::wire::Role;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::{use_location, use_navigate, use_params_map};

use crate::api;
use crate::session::use_session;

/// The current project's id, from the URL.
pub fn use_project_id() -> Memo<i64> {
    let params = use_params_map();
    Memo::new(move |_| {
        params
            .get()
            .get("project")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    })
}

#[component]
pub fn Shell() -> impl IntoView {
    crate::saved_views::SavedViewsChanged::provide();
    let session = use_session();
    let project = use_project_id();
    let location = use_location();
    let navigate = use_navigate();

    // Signed out: go to the sign-in page and come back here afterwards. The location is read
    // without tracking it: the effect follows the session only, so the navigation it makes
    // cannot run it again (which would nest `next=/sign-in?next=…` without end).
    Effect::new({
        let navigate = navigate.clone();
        move |_| {
            if let Some(None) = session.info.get() {
                let path = location.pathname.get_untracked();
                if path.starts_with("/sign-in") {
                    return;
                }
                let search = location.search.get_untracked();
                let here = if search.is_empty() {
                    path
                } else {
                    format!("{path}?{}", search.trim_start_matches('?'))
                };
                let next = js_sys::encode_uri_component(&here);
                navigate(&format!("/sign-in?next={next}"), Default::default());
            }
        }
    });

    let switch_project = {
        let navigate = navigate.clone();
        move |ev: leptos::ev::Event| {
            let id = event_target_value(&ev);
            navigate(&format!("/projects/{id}/applications"), Default::default());
        }
    };
    let sign_out = move |_| {
        spawn_local(async move {
            let _ = api::delete("/api/v1/session").await;
            api::set_csrf_token(None);
            session.info.set(Some(None));
        });
    };
    // On a phone the navigation folds into a menu button; following a link folds it again.
    let menu_open = RwSignal::new(false);
    let link = move |page: &str| format!("/projects/{}/{page}", project.get());
    let is_admin = move || session.role(project.get()) == Some(Role::Admin);

    view! {
        <div class="layout">
            <aside class="sidebar" class:menu-open=move || menu_open.get()>
                <a class="brand" href="/">"Auditlog"</a>
                <button
                    class="menu-toggle"
                    type="button"
                    data-test="nav-toggle"
                    aria-controls="navigation"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| menu_open.update(|open| *open = !*open)
                >
                    {move || if menu_open.get() { "Close menu" } else { "Menu" }}
                </button>
                <label class="switcher">
                    <span class="muted small">"Project"</span>
                    <select data-test="project-switcher" on:change=switch_project>
                        {move || {
                            session
                                .info
                                .get()
                                .flatten()
                                .map(|info| {
                                    info.projects
                                        .into_iter()
                                        .map(|p| {
                                            let selected = p.id == project.get();
                                            view! {
                                                <option value=p.id.to_string() selected=selected>
                                                    {p.name}
                                                </option>
                                            }
                                        })
                                        .collect_view()
                                })
                        }}
                    </select>
                </label>
                <nav id="navigation" aria-label="Project" on:click=move |_| menu_open.set(false)>
                    <div class="nav-group">"Platform"</div>
                    <A href=move || link("applications")>"Applications"</A>
                    <A href=move || link("clusters")>"Clusters"</A>
                    <A href=move || link("members")>"Members"</A>
                    <Show when=is_admin>
                        <A href=move || link("tokens")>"API tokens"</A>
                    </Show>
                    <A href=move || link("settings")>"Settings"</A>
                    <Show when=is_admin>
                        <div class="nav-group">"Security"</div>
                        // Opening audit logs from the navigation hides reads.
                        <A href=move || {
                            format!(
                                "/projects/{}/security/audit-logs?{}",
                                project.get(),
                                auditlog_shared::AuditQuery::navigation_default().to_query_string(),
                            )
                        }>
                            <span data-test="nav-audit-logs">"Audit logs"</span>
                        </A>
                        <div class="saved-views" role="group" aria-label="Saved views">
                            <crate::saved_views::SavedViewLinks project/>
                        </div>
                        <A href=move || link("streaming")>
                            <span data-test="nav-streaming">"Streaming"</span>
                        </A>
                    </Show>
                </nav>
                <div class="whoami">
                    {move || {
                        session
                            .info
                            .get()
                            .flatten()
                            .map(|info| {
                                view! {
                                    <div class="small">{info.user.display_name}</div>
                                    <div class="muted small">{info.user.email}</div>
                                }
                            })
                    }}
                    <a class="small" href="/account" data-test="account-link">"Account"</a>
                    " · "
                    <button class="link" on:click=sign_out>"Sign out"</button>
                </div>
            </aside>
            <main class="content">
                <Outlet/>
            </main>
        </div>
    }
}
