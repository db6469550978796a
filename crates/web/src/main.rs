//! The Auditlog web app, rendered in the browser (Leptos CSR).
//!
//! Invariant: the audit log view's state lives in the URL, in the shared crate's canonical
//! query-string form; this crate never encodes a query of its own.

mod api;
mod pages;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    view! {
        <Router>
            <header class="topbar">
                <a href="/">"Auditlog"</a>
            </header>
            <main>
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    <Route path=path!("/") view=pages::Home/>
                    <Route
                        path=path!("/projects/:project/security/audit-logs")
                        view=pages::AuditLogs
                    />
                </Routes>
            </main>
        </Router>
    }
}
