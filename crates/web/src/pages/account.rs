//! The account's own pages: accepting an invitation (`/invitations/:secret`, reached from the
//! link an admin handed over) and the account page (`/account`: change the password, sign out
//! everywhere). Nobody but the account's owner ever chooses its password.

use auditlog_shared::wire::{AcceptInvitation, ChangePassword, InvitationDetails, SessionInfo};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api;
use crate::form::{Action, FormError, TextField};
use crate::session::use_session;

/// The first page of a signed-in user with these projects.
fn landing_page(info: &SessionInfo) -> String {
    info.projects.first().map_or_else(
        || "/".to_string(),
        |p| format!("/projects/{}/applications", p.id),
    )
}

/// `/invitations/:secret`: what the link invites to, and the form that joins.
#[component]
pub fn InvitationPage() -> impl IntoView {
    let params = use_params_map();
    let secret = Memo::new(move |_| params.get().get("secret").unwrap_or_default());
    let details = LocalResource::new(move || {
        let url = format!(
            "/api/v1/invitations/{}",
            js_sys::encode_uri_component(&secret.get())
        );
        async move { api::get::<InvitationDetails>(&url).await }
    });
    view! {
        <div class="sign-in">
            <div class="card sign-in-card" data-test="invitation">
                {move || match details.get() {
                    None => view! { <p class="muted" aria-busy="true">"Opening the invitation…"</p> }.into_any(),
                    Some(Err(error)) => {
                        let message = match error.status {
                            404 => "This invitation link is not valid. Ask the project's admin for a new one.".to_string(),
                            410 => format!("{} Ask the project's admin for a new one.", error.message),
                            _ => error.message,
                        };
                        view! {
                            <h1>"Invitation"</h1>
                            <p class="error" role="alert" data-test="invitation-error">{message}</p>
                            <p class="small"><a href="/sign-in">"Sign in"</a></p>
                        }
                        .into_any()
                    }
                    Some(Ok(details)) => view! { <AcceptForm details secret=secret.get()/> }.into_any(),
                }}
            </div>
        </div>
    }
}

#[component]
fn AcceptForm(details: InvitationDetails, secret: String) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let action = Action::new();
    let existing = details.account_exists;

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !existing && password.get_untracked() != confirm.get_untracked() {
            return action.refuse("The two passwords differ.");
        }
        let body = AcceptInvitation {
            password: password.get_untracked(),
            display_name: (!existing).then(|| display_name.get_untracked().trim().to_string()),
        };
        let url = format!(
            "/api/v1/invitations/{}/accept",
            js_sys::encode_uri_component(&secret)
        );
        let navigate = navigate.clone();
        action.run(
            async move { api::post::<SessionInfo, _>(&url, &body).await },
            move |info| {
                api::set_csrf_token(Some(info.csrf_token.clone()));
                let landing = landing_page(&info);
                session.info.set(Some(Some(info)));
                navigate(&landing, Default::default());
            },
        );
    };

    let role = details.role.as_str();
    view! {
        <form on:submit=submit data-test="accept-invitation">
            <h1>{format!("Join {}", details.project_name)}</h1>
            <p>
                {details.invited_by.clone()}
                " invites "
                <strong>{details.email.clone()}</strong>
                {format!(" as {role}.")}
            </p>
            {(!existing)
                .then(|| {
                    view! {
                        <TextField
                            label="Your name"
                            test="accept-name"
                            value=display_name
                            name="name"
                            autocomplete="name"
                            required=true
                        />
                    }
                })}
            <TextField
                label=if existing { "Your password" } else { "Choose a password" }
                test="accept-password"
                value=password
                kind="password"
                name="password"
                autocomplete=if existing { "current-password" } else { "new-password" }
                required=true
            />
            {(!existing)
                .then(|| {
                    view! {
                        <TextField
                            label="Repeat the password"
                            test="accept-confirm"
                            value=confirm
                            kind="password"
                            name="confirm"
                            autocomplete="new-password"
                            required=true
                        />
                    }
                })}
            <p class="muted small">
                {if existing {
                    "You already have an account with this email: join with its password."
                } else {
                    "At least 10 characters. Only you know it: nobody else can set it."
                }}
            </p>
            <FormError error=action.error/>
            <button class="primary" type="submit" data-test="accept-submit" disabled=action.busy>
                {move || if action.busy.get() { "Joining…" } else { "Join the project" }}
            </button>
        </form>
    }
}

/// `/account`: the signed-in user's password and sessions.
#[component]
pub fn AccountPage() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    Effect::new({
        let navigate = navigate.clone();
        move |_| {
            if let Some(None) = session.info.get() {
                navigate("/sign-in?next=/account", Default::default());
            }
        }
    });
    let current = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let notice = RwSignal::new(None::<String>);
    let action = Action::new();

    let change = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if new_password.get_untracked() != confirm.get_untracked() {
            return action.refuse("The two new passwords differ.");
        }
        let body = ChangePassword {
            current_password: current.get_untracked(),
            new_password: new_password.get_untracked(),
        };
        notice.set(None);
        action.run(
            async move { api::post::<SessionInfo, _>("/api/v1/session/password", &body).await },
            move |info| {
                api::set_csrf_token(Some(info.csrf_token.clone()));
                session.info.set(Some(Some(info)));
                for field in [current, new_password, confirm] {
                    field.set(String::new());
                }
                notice.set(Some(
                    "Password changed. Every other session has been signed out.".into(),
                ));
            },
        );
    };
    let sign_out_everywhere = move |_| {
        let navigate = navigate.clone();
        action.run(
            async move { api::delete("/api/v1/sessions").await },
            move |()| {
                api::set_csrf_token(None);
                session.info.set(Some(None));
                navigate("/sign-in", Default::default());
            },
        );
    };
    let back = move || {
        session
            .info
            .get()
            .flatten()
            .map_or_else(|| "/".to_string(), |info| landing_page(&info))
    };

    view! {
        <div class="sign-in">
            <div class="card sign-in-card" data-test="account">
                <h1>"Your account"</h1>
                {move || {
                    session
                        .info
                        .get()
                        .flatten()
                        .map(|info| {
                            view! {
                                <p>
                                    <strong>{info.user.display_name}</strong>
                                    " · "
                                    <span class="muted">{info.user.email}</span>
                                </p>
                            }
                        })
                }}
                <form on:submit=change data-test="change-password">
                    <h2>"Change password"</h2>
                    <PasswordField label="Current password" test="current-password" autocomplete="current-password" value=current/>
                    <PasswordField label="New password" test="new-password" autocomplete="new-password" value=new_password/>
                    <PasswordField label="Repeat the new password" test="confirm-password" autocomplete="new-password" value=confirm/>
                    <FormError error=action.error/>
                    {move || {
                        notice
                            .get()
                            .map(|n| view! { <p class="notice" role="status" data-test="account-notice">{n}</p> })
                    }}
                    <button class="primary" type="submit" data-test="change-password-submit" disabled=action.busy>
                        "Change password"
                    </button>
                </form>
                <h2>"Sessions"</h2>
                <p class="muted small">
                    "Signs you out on every browser and device, this one included. API tokens are not affected."
                </p>
                <button type="button" data-test="sign-out-everywhere" disabled=action.busy on:click=sign_out_everywhere>
                    "Sign out everywhere"
                </button>
                <p class="small"><a href=back>"Back to your project"</a></p>
            </div>
        </div>
    }
}

/// A labelled password input bound to a signal.
#[component]
fn PasswordField(
    label: &'static str,
    /// Its `data-test` name.
    test: &'static str,
    /// `current-password` or `new-password`, for password managers.
    autocomplete: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! { <TextField label test value kind="password" autocomplete required=true/> }
}
