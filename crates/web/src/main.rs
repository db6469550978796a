//! The Auditlog web app, rendered in the browser (Leptos CSR).
//!
//! Invariant: the audit log view's state lives in the URL, in the shared crate's canonical
//! query-string form; this crate never encodes a query of its own.

mod api;
mod form;
mod pages;
mod saved_views;
mod session;
mod shell;

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    session::Session::provide();
    view! {
        <Router>
            <Routes fallback=|| view! { <pages::NotFound/> }>
                <Route path=path!("/sign-in") view=session::SignInPage/>
                <Route path=path!("/") view=pages::Home/>
                <Route path=path!("/invitations/:secret") view=pages::account::InvitationPage/>
                <Route path=path!("/account") view=pages::account::AccountPage/>
                <ParentRoute path=path!("/projects/:project") view=shell::Shell>
                    <Route path=path!("") view=pages::platform::ApplicationsPage/>
                    <Route path=path!("applications") view=pages::platform::ApplicationsPage/>
                    <Route path=path!("clusters") view=pages::platform::ClustersPage/>
                    <Route path=path!("tokens") view=pages::platform::TokensPage/>
                    <Route path=path!("members") view=pages::platform::MembersPage/>
                    <Route path=path!("settings") view=pages::platform::SettingsPage/>
                    <Route path=path!("streaming") view=pages::platform::StreamsPage/>
                    <Route path=path!("security/audit-logs") view=pages::audit::AuditLogsPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
