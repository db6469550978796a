//! Applications: the list with their deploys, the create form, and per-row deploy and delete.

use std::collections::HashMap;

use auditlog_shared::wire::{Application, Cluster, CreateApplication, DeployApplication, Role};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::{
    has_role, headings, local_time, project_api, project_list, refetch, ConfirmButton, ListTable,
    PageHead, RowActions, RowChange,
};
use crate::api;
use crate::form::{Action, PlatformForm, TextField};
use crate::session::use_session;
use crate::shell::use_project_id;

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let session = use_session();
    let project = use_project_id();
    let can_write = Signal::derive(move || has_role(session.role(project.get()), Role::Developer));
    let version = RwSignal::new(0_u32);
    let notice = RwSignal::new(None::<String>);

    let applications = project_list::<Application>(project.into(), "applications", version);
    // Clusters give the cluster column its names and the create form its choices.
    let clusters = LocalResource::new(move || {
        let url = project_api(project.get(), "clusters");
        async move { api::get::<Vec<Cluster>>(&url).await }
    });
    let cluster_list =
        Signal::derive(move || clusters.get().and_then(Result::ok).unwrap_or_default());

    let table = move || {
        let names: HashMap<i64, String> = cluster_list
            .get()
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let (project, can_write) = (project.get(), can_write.get());
        ListTable {
            noun: "applications",
            empty: "No applications yet. Create one to deploy it.",
            test: "applications",
            class: "",
            headings: headings(
                &["Name", "Image", "Cluster", "Deploys", "Last deployed"],
                can_write,
            ),
        }
        .render(applications.get(), |app| {
            let cluster = app
                .cluster_id
                .map(|id| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}")));
            view! { <ApplicationRow app cluster project can_write version notice/> }.into_any()
        })
    };

    view! {
        <PageHead title="Applications" notice>
            "Everyone in the project sees its applications; developers and admins create, deploy and delete them."
        </PageHead>
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
    let change = RowChange::new(notice, version);
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
            change.action.run(
                async move { api::post::<Application, _>(&url, &body).await },
                move |app| {
                    new_image.set(String::new());
                    change.announce(format!(
                        "Deployed {} with {} (deploy #{}).",
                        app.name, app.image, app.deploy_count
                    ));
                },
            );
        }
    };
    let delete = change.delete(url, format!("Deleted {}.", app.name));
    let busy = change.action.busy;

    let last_deployed = match app.last_deployed_at {
        Some(at) => view! { <span>{local_time(at)}</span> }.into_any(),
        None => view! { <span class="muted">"Never"</span> }.into_any(),
    };
    let cluster = match cluster {
        Some(name) => view! { <span>{name}</span> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let current_image = app.image.clone();
    let actions = can_write.then(|| {
        view! {
            <RowActions change>
                <form class="inline-form" on:submit=deploy>
                    <input
                        type="text"
                        class="image-input"
                        data-test="deploy-image"
                        aria-label="Image to deploy"
                        placeholder=current_image
                        title="Leave empty to redeploy the current image"
                        prop:value=new_image
                        on:input=move |ev| new_image.set(event_target_value(&ev))
                    />
                    <button type="submit" data-test="deploy" disabled=busy>
                        "Deploy"
                    </button>
                </form>
                <ConfirmButton label="Delete" test="delete" change on_confirm=delete/>
            </RowActions>
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
    let action = Action::new();

    let submit = move || {
        let url = project_api(project.get_untracked(), "applications");
        let body = CreateApplication {
            name: name.get_untracked().trim().to_string(),
            image: image.get_untracked().trim().to_string(),
            cluster_id: cluster.get_untracked().parse().ok(),
        };
        action.run(
            async move { api::post::<Application, _>(&url, &body).await },
            move |app| {
                name.set(String::new());
                image.set(String::new());
                cluster.set(String::new());
                notice.set(Some(format!("Created {}.", app.name)));
                refetch(version);
            },
        );
    };

    view! {
        <PlatformForm
            title="New application"
            test="create-app"
            action
            submit="Create application"
            submitting="Creating…"
            on_submit=submit
        >
            <div class="fields">
                <TextField label="Name" test="app-name" value=name placeholder="web" required=true/>
                <TextField
                    label="Image"
                    test="app-image"
                    value=image
                    placeholder="registry.example.com/web:1.0"
                    required=true
                />
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
        </PlatformForm>
    }
}
