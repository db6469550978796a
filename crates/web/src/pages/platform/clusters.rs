//! Clusters: the list, the create form and delete (writes are admin-only).

use auditlog_shared::wire::{Cluster, CreateCluster, Role};
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
pub fn ClustersPage() -> impl IntoView {
    let session = use_session();
    let project = use_project_id();
    let is_admin = Signal::derive(move || has_role(session.role(project.get()), Role::Admin));
    let version = RwSignal::new(0_u32);
    let notice = RwSignal::new(None::<String>);

    let clusters = LocalResource::new(move || {
        let url = project_api(project.get(), "clusters");
        version.track();
        async move { api::get::<Vec<Cluster>>(&url).await }
    });

    let table = move || {
        list_view(
            clusters.get(),
            "clusters",
            "No clusters yet. Applications can run without one.",
            |clusters| {
                let (project, is_admin) = (project.get(), is_admin.get());
                view! {
                    <table class="platform-table" data-test="clusters">
                        <thead>
                            <tr>
                                <th>"Name"</th>
                                <th>"Region"</th>
                                <th>"Created"</th>
                                {is_admin.then(|| view! { <th>"Actions"</th> })}
                            </tr>
                        </thead>
                        <tbody>
                            {clusters
                                .into_iter()
                                .map(|cluster| {
                                    view! { <ClusterRow cluster project is_admin version notice/> }
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
            <h1>"Clusters"</h1>
        </div>
        <p class="muted small">"Everyone in the project sees its clusters; admins create and delete them."</p>
        <ChangeNotice notice/>
        <section class="card">{table}</section>
        <Show
            when=move || is_admin.get()
            fallback=|| view! { <p class="muted small">"Only project admins can add or delete clusters."</p> }
        >
            <CreateClusterForm project=project.into() version notice/>
        </Show>
    }
}

#[component]
fn ClusterRow(
    cluster: Cluster,
    project: i64,
    is_admin: bool,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let delete = {
        let url = project_api(project, &format!("clusters/{}", cluster.id));
        let name = cluster.name.clone();
        move |()| {
            let (url, name) = (url.clone(), name.clone());
            busy.set(true);
            error.set(None);
            spawn_local(async move {
                match api::delete(&url).await {
                    Ok(()) => {
                        notice.set(Some(format!("Deleted cluster {name}.")));
                        refetch(version);
                    }
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };
    view! {
        <tr data-test="cluster-row" data-cluster-name=cluster.name.clone()>
            <td class="strong">{cluster.name.clone()}</td>
            <td>{cluster.region.clone()}</td>
            <td class="nowrap">{local_time(cluster.created_at)}</td>
            {is_admin
                .then(|| {
                    view! {
                        <td class="row-actions">
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
                })}
        </tr>
    }
}

#[component]
fn CreateClusterForm(
    project: Signal<i64>,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let region = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let url = project_api(project.get_untracked(), "clusters");
        let body = CreateCluster {
            name: name.get_untracked().trim().to_string(),
            region: region.get_untracked().trim().to_string(),
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<Cluster, _>(&url, &body).await {
                Ok(cluster) => {
                    name.set(String::new());
                    region.set(String::new());
                    notice.set(Some(format!("Created cluster {}.", cluster.name)));
                    refetch(version);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="card platform-form" data-test="create-cluster" on:submit=submit>
            <h2>"New cluster"</h2>
            <div class="fields">
                <label>
                    "Name"
                    <input
                        type="text"
                        data-test="cluster-name"
                        required
                        placeholder="production"
                        prop:value=name
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Region"
                    <input
                        type="text"
                        data-test="cluster-region"
                        required
                        placeholder="eu-west-1"
                        prop:value=region
                        on:input=move |ev| region.set(event_target_value(&ev))
                    />
                </label>
            </div>
            <FormError error/>
            <button class="primary" type="submit" disabled=busy>
                {move || if busy.get() { "Creating…" } else { "Create cluster" }}
            </button>
        </form>
    }
}
