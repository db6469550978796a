//! Saved views in the navigation: the project's named audit log views (shared by its admins),
//! listed under Audit logs, and the form that saves the current view.

use auditlog_shared::wire::{CreateSavedView, SavedView};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::api;

/// Bumped whenever a view is saved or deleted, so every list of them reloads.
#[derive(Clone, Copy)]
pub struct SavedViewsChanged(pub RwSignal<u32>);

impl SavedViewsChanged {
    pub fn provide() -> SavedViewsChanged {
        let changed = SavedViewsChanged(RwSignal::new(0));
        provide_context(changed);
        changed
    }

    pub fn bump(self) {
        self.0.update(|n| *n += 1);
    }
}

fn changed() -> SavedViewsChanged {
    use_context::<SavedViewsChanged>().unwrap_or_else(SavedViewsChanged::provide)
}

/// The project's saved views as navigation links; each can be deleted (a second click confirms).
#[component]
pub fn SavedViewLinks(project: Memo<i64>) -> impl IntoView {
    let changed = changed();
    let views = LocalResource::new(move || {
        changed.0.track();
        let url = format!("/api/v1/projects/{}/saved-views", project.get());
        async move { api::get::<Vec<SavedView>>(&url).await.ok() }
    });
    let confirming = RwSignal::new(None::<i64>);
    view! {
        {move || {
            views.get().flatten().map(|views| {
                views.into_iter().map(|view| {
                    let id = view.id;
                    let href = format!("/projects/{}/security/audit-logs?{}", project.get(), view.query);
                    let name = view.name.clone();
                    let label = format!("Delete the saved view {name}");
                    let delete = move |_| {
                        if confirming.get_untracked() != Some(id) {
                            confirming.set(Some(id));
                            return;
                        }
                        confirming.set(None);
                        let url = format!("/api/v1/projects/{}/saved-views/{id}", project.get_untracked());
                        spawn_local(async move {
                            if api::delete(&url).await.is_ok() {
                                changed.bump();
                            }
                        });
                    };
                    view! {
                        <div class="saved-view">
                            <A href=href attr:data-test="saved-view" attr:title=view.query.clone()>{name.clone()}</A>
                            <button class="link saved-view-delete" data-test="delete-saved-view"
                                aria-label=label
                                on:click=delete>
                                {move || if confirming.get() == Some(id) { "Delete?" } else { "×" }}
                            </button>
                        </div>
                    }
                }).collect_view()
            })
        }}
    }
}

/// "Save view": names the current view for the project's admins.
#[component]
pub fn SaveViewForm(project: Signal<i64>, view_string: Signal<String>) -> impl IntoView {
    let changed = changed();
    let open = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = CreateSavedView {
            name: name.get_untracked(),
            query: view_string.get_untracked(),
        };
        let url = format!("/api/v1/projects/{}/saved-views", project.get_untracked());
        spawn_local(async move {
            match api::post::<SavedView, _>(&url, &body).await {
                Ok(saved) => {
                    outcome.set(Some(Ok(format!("Saved as “{}”", saved.name))));
                    name.set(String::new());
                    open.set(false);
                    changed.bump();
                }
                Err(error) => outcome.set(Some(Err(error.message))),
            }
        });
    };
    view! {
        <div class="save-view">
            <Show
                when=move || open.get()
                fallback=move || view! {
                    <button data-test="save-view" on:click=move |_| { outcome.set(None); open.set(true); }>"Save view"</button>
                }
            >
                <form class="save-view-form" on:submit=submit>
                    <input
                        data-test="save-view-name"
                        aria-label="Name of the saved view"
                        placeholder="Name, e.g. Failed deploys"
                        maxlength="100"
                        required
                        prop:value=name
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                    <button class="primary" type="submit" data-test="save-view-submit">"Save"</button>
                    <button type="button" class="link" on:click=move |_| open.set(false)>"Cancel"</button>
                </form>
            </Show>
            {move || outcome.get().map(|outcome| match outcome {
                Ok(message) => view! { <span class="platform-saved small" role="status" data-test="save-view-done">{message}</span> }.into_any(),
                Err(message) => view! { <span class="error small" role="alert" data-test="save-view-error">{message}</span> }.into_any(),
            })}
        </div>
    }
}
