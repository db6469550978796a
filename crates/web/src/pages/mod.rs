//! The app's pages.

pub mod account;
pub mod audit;
pub mod platform;

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api;
use crate::session::use_session;

/// `/`: the first project of a signed-in user, else the sign-in page.
#[component]
pub fn Home() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    Effect::new(move |_| match session.info.get() {
        Some(Some(info)) => {
            if let Some(project) = info.projects.first() {
                navigate(
                    &format!("/projects/{}/applications", project.id),
                    Default::default(),
                );
            }
        }
        Some(None) => navigate("/sign-in", Default::default()),
        None => {}
    });
    view! {
        <div class="centered">
            <h1>"Auditlog"</h1>
            <p class="muted">"Every request to your project, recorded and searchable."</p>
            <ServerStatus/>
            {move || {
                matches!(session.info.get(), Some(Some(ref info)) if info.projects.is_empty())
                    .then(|| view! { <p>"You are not a member of any project yet."</p> })
            }}
        </div>
    }
}

/// The server's health in one line, shown where no one is signed in yet.
#[component]
pub fn ServerStatus() -> impl IntoView {
    let health = LocalResource::new(api::health);
    view! {
        <Suspense fallback=|| view! { <p class="muted small">"Checking the server…"</p> }>
            {move || {
                health
                    .get()
                    .map(|result| match result {
                        Ok(health) => {
                            view! {
                                <p class="muted small" data-test="health">
                                    "Server "
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
                                <p class="error small" role="alert" data-test="health-error">
                                    {error.message}
                                </p>
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <div class="centered">
            <h1>"Page not found"</h1>
            <p class="muted">"Nothing lives at this address. " <a href="/">"Go to the start page"</a></p>
        </div>
    }
}
