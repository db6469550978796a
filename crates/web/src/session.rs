//! The signed-in user: loaded once, shared through context, refreshed after sign-in.

use auditlog_shared::wire::{ProjectSummary, Role, SessionInfo, SignIn};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api;
use crate::form::{Action, FormError, TextField};

/// The session as the app knows it.
#[derive(Clone, Copy)]
pub struct Session {
    /// `None` until the first answer; then `Some(None)` when signed out.
    pub info: RwSignal<Option<Option<SessionInfo>>>,
}

impl Session {
    pub fn provide() -> Session {
        let session = Session {
            info: RwSignal::new(None),
        };
        provide_context(session);
        session.reload();
        session
    }

    pub fn reload(self) {
        spawn_local(async move {
            let info = api::get::<SessionInfo>("/api/v1/session").await.ok();
            api::set_csrf_token(info.as_ref().map(|i| i.csrf_token.clone()));
            self.info.set(Some(info));
        });
    }

    /// The caller's role in a project, when a member.
    pub fn role(self, project: i64) -> Option<Role> {
        self.project(project).map(|p| p.role)
    }

    pub fn project(self, project: i64) -> Option<ProjectSummary> {
        self.info
            .get()
            .flatten()
            .and_then(|info| info.projects.into_iter().find(|p| p.id == project))
    }
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// The sign-in page; returns to `?next=` afterwards.
#[component]
pub fn SignInPage() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let navigate = use_navigate();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = Action::new();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let navigate = navigate.clone();
        let next = safe_next(query.get_untracked().get("next"));
        let body = SignIn {
            email: email.get_untracked(),
            password: password.get_untracked(),
        };
        action.run(
            async move { api::post::<SessionInfo, _>("/api/v1/session", &body).await },
            move |info| {
                api::set_csrf_token(Some(info.csrf_token.clone()));
                session.info.set(Some(Some(info)));
                navigate(&next, Default::default());
            },
        );
    };

    view! {
        <div class="sign-in">
            <form class="card sign-in-card" on:submit=submit>
                <h1>"Sign in to Auditlog"</h1>
                <TextField
                    label="Email"
                    test="sign-in-email"
                    value=email
                    kind="email"
                    name="email"
                    autocomplete="username"
                    required=true
                />
                <TextField
                    label="Password"
                    test="sign-in-password"
                    value=password
                    kind="password"
                    name="password"
                    autocomplete="current-password"
                    required=true
                />
                <FormError error=action.error/>
                <button class="primary" type="submit" disabled=action.busy>
                    {move || if action.busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <crate::pages::ServerStatus/>
            </form>
        </div>
    }
}

/// Where to go after signing in: a page of this app, never another site (`//evil.test`,
/// `https://…`) and never the sign-in page itself.
fn safe_next(next: Option<String>) -> String {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.starts_with("/\\")
                && !next.starts_with("/sign-in") =>
        {
            next
        }
        _ => "/".into(),
    }
}
