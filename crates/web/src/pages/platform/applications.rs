//! Applications: the list with their deploys, the create form, and per-row deploy and delete.

use std::collections::HashMap;

use auditlog_shared::wire::{Application, Cluster, CreateApplication, DeployApplication, Role};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{
    has_role, list_view, local_time, project_api, refetch, ChangeNotice, ConfirmButton, FormError,
};
use crate::api;
use crate::session::use_session;
use crate::shell::use_project_id;

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let session = use_session();
    let project = use_project_id();
    let can_write = Signal::derive(move || has_role(session.role(project.get()), Role::Developer));
    let version = RwSignal::new(0_u32);
    let notice = RwSignal::new(None::<String>);

    let applications = LocalResource::new(move || {
        let url = project_api(project.get(), "applications");
        version.track();
        async move { api::get::<Vec<Application>>(&url).await }
    });
    // Clusters give the cluster column its names and the create form its choices.
    let clusters = LocalResource::new(move || {
        let url = project_api(project.get(), "clusters");
        async move { api::get::<Vec<Cluster>>(&url).await }
    });
    let cluster_list =
        Signal::derive(move || clusters.get().and_then(Result::ok).unwrap_or_default());

    let table = move || {
        list_view(
            applications.get(),
            "applications",
            "No applications yet. Create one to deploy it.",
            |apps| {
                let names: HashMap<i64, String> = cluster_list
                    .get()
                    .into_iter()
                    .map(|c| (c.id, c.name))
                    .collect();
                let (project, can_write) = (project.get(), can_write.get());
                view! {
                    <table class="platform-table" data-test="applications">
                        <thead>
                            <tr>
                                <th>"Name"</th>
                                <th>"Image"</th>
                                <th>"Cluster"</th>
                                <th class="numeric">"Deploys"</th>
                                <th>"Last deployed"</th>
                                {can_write.then(|| view! { <th>"Actions"</th> })}
                            </tr>
                        </thead>
                        <tbody>
                            {apps
                                .into_iter()
                                .map(|app| {
                                    let cluster = app.cluster_id.map(|id| {
                                        names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
                                    });
                                    view! {
                                        <ApplicationRow
                                            app
                                            cluster
                                            project
                                            can_write
                                            version
                                            notice
                                        />
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            },
        )
    };

    view! {
        <div class="page-head">
            <h1>"Applications"</h1>
        </div>
        <p class="muted small">
            "Everyone in the project sees its applications; developers and admins create, deploy and delete them."
        </p>
        <ChangeNotice notice/>
        <section class="card">{table}</section>
        <Show
            when=move || can_write.get()
            fallback=|| view! {
                <p class="muted small">"Your role can view applications but not change them."</p>
            }
        >
            <CreateApplicationForm project=project.into() clusters=cluster_list version notice/>
        </Show>
    }
}

#[component]
fn ApplicationRow(
    app: Application,
    /// The name of the application's cluster, when it runs on one.
    cluster: Option<String>,
    project: i64,
    can_write: bool,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let new_image = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let url = project_api(project, &format!("applications/{}", app.id));

    let deploy = {
        let url = format!("{url}/deploy");
        move |ev: SubmitEvent| {
            ev.prevent_default();
            let image = new_image.get_untracked().trim().to_string();
            // An empty image field redeploys the current image.
            let body = DeployApplication {
                image: (!image.is_empty()).then_some(image),
            };
            let url = url.clone();
            busy.set(true);
            error.set(None);
            spawn_local(async move {
                match api::post::<Application, _>(&url, &body).await {
                    Ok(app) => {
                        new_image.set(String::new());
                        notice.set(Some(format!(
                            "Deployed {} with {} (deploy #{}).",
                            app.name, app.image, app.deploy_count
                        )));
                        refetch(version);
                    }
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };
    let delete = {
        let name = app.name.clone();
        move |()| {
            let (url, name) = (url.clone(), name.clone());
            busy.set(true);
            error.set(None);
            spawn_local(async move {
                match api::delete(&url).await {
                    Ok(()) => {
                        notice.set(Some(format!("Deleted {name}.")));
                        refetch(version);
                    }
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };

    let last_deployed = match app.last_deployed_at {
        Some(at) => view! { <span>{local_time(at)}</span> }.into_any(),
        None => view! { <span class="muted">"Never"</span> }.into_any(),
    };
    let cluster = match cluster {
        Some(name) => view! { <span>{name}</span> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let actions = can_write.then(|| {
        view! {
            <td class="row-actions">
                <form class="inline-form" on:submit=deploy>
                    <input
                        type="text"
                        class="image-input"
                        data-test="deploy-image"
                        aria-label="Image to deploy"
                        placeholder=app.image.clone()
                        title="Leave empty to redeploy the current image"
                        prop:value=new_image
                        on:input=move |ev| new_image.set(event_target_value(&ev))
                    />
                    <button type="submit" data-test="deploy" disabled=busy>
                        "Deploy"
                    </button>
                </form>
                <ConfirmButton
                    label="Delete"
                    confirm_label="Confirm delete"
                    test="delete"
                    busy=busy
                    on_confirm=delete
                />
                <FormError error/>
            </td>
        }
    });

    view! {
        <tr data-test="app-row" data-app-name=app.name.clone()>
            <td class="strong">{app.name.clone()}</td>
            <td>
                <code>{app.image.clone()}</code>
            </td>
            <td>{cluster}</td>
            <td class="numeric" data-test="deploy-count">{app.deploy_count}</td>
            <td class="nowrap">{last_deployed}</td>
            {actions}
        </tr>
    }
}

#[component]
fn CreateApplicationForm(
    project: Signal<i64>,
    clusters: Signal<Vec<Cluster>>,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    // The chosen cluster's id, or empty for none.
    let cluster = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let url = project_api(project.get_untracked(), "applications");
        let body = CreateApplication {
            name: name.get_untracked().trim().to_string(),
            image: image.get_untracked().trim().to_string(),
            cluster_id: cluster.get_untracked().parse().ok(),
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<Application, _>(&url, &body).await {
                Ok(app) => {
                    name.set(String::new());
                    image.set(String::new());
                    cluster.set(String::new());
                    notice.set(Some(format!("Created {}.", app.name)));
                    refetch(version);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="card platform-form" data-test="create-app" on:submit=submit>
            <h2>"New application"</h2>
            <div class="fields">
                <label>
                    "Name"
                    <input
                        type="text"
                        data-test="app-name"
                        required
                        placeholder="web"
                        prop:value=name
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Image"
                    <input
                        type="text"
                        data-test="app-image"
                        required
                        placeholder="registry.example.com/web:1.0"
                        prop:value=image
                        on:input=move |ev| image.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Cluster"
                    <select data-test="app-cluster" on:change=move |ev| cluster.set(event_target_value(&ev))>
                        <option value="" prop:selected=move || cluster.get().is_empty()>
                            "No cluster"
                        </option>
                        {move || {
                            clusters
                                .get()
                                .into_iter()
                                .map(|c| {
                                    let id = c.id.to_string();
                                    let selected = {
                                        let id = id.clone();
                                        move || cluster.get() == id
                                    };
                                    view! {
                                        <option value=id prop:selected=selected>
                                            {format!("{} ({})", c.name, c.region)}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
            </div>
            <FormError error/>
            <button class="primary" type="submit" disabled=busy>
                {move || if busy.get() { "Creating…" } else { "Create application" }}
            </button>
        </form>
    }
}
