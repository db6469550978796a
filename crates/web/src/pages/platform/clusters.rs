//! Clusters: the list, the create form and delete (writes are admin-only).

use auditlog_shared::wire::{Cluster, CreateCluster, Role};
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
pub fn ClustersPage() -> impl IntoView {
    let session = use_session();
    let project = use_project_id();
    let is_admin = Signal::derive(move || has_role(session.role(project.get()), Role::Admin));
    let version = RwSignal::new(0_u32);
    let notice = RwSignal::new(None::<String>);

    let clusters = project_list::<Cluster>(project.into(), "clusters", version);
    let table = move || {
        let (project, is_admin) = (project.get(), is_admin.get());
        ListTable {
            noun: "clusters",
            empty: "No clusters yet. Applications can run without one.",
            test: "clusters",
            class: "",
            headings: headings(&["Name", "Region", "Created"], is_admin),
        }
        .render(clusters.get(), |cluster| {
            view! { <ClusterRow cluster project is_admin version notice/> }.into_any()
        })
    };

    view! {
        <PageHead title="Clusters" notice>
            "Everyone in the project sees its clusters; admins create and delete them."
        </PageHead>
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
    let change = RowChange::new(notice, version);
    let delete = change.delete(
        project_api(project, &format!("clusters/{}", cluster.id)),
        format!("Deleted cluster {}.", cluster.name),
    );
    view! {
        <tr data-test="cluster-row" data-cluster-name=cluster.name.clone()>
            <td class="strong">{cluster.name.clone()}</td>
            <td>{cluster.region.clone()}</td>
            <td class="nowrap">{local_time(cluster.created_at)}</td>
            {is_admin
                .then(|| {
                    view! {
                        <RowActions change>
                            <ConfirmButton label="Delete" test="delete" change on_confirm=delete/>
                        </RowActions>
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
    let action = Action::new();

    let submit = move || {
        let url = project_api(project.get_untracked(), "clusters");
        let body = CreateCluster {
            name: name.get_untracked().trim().to_string(),
            region: region.get_untracked().trim().to_string(),
        };
        action.run(
            async move { api::post::<Cluster, _>(&url, &body).await },
            move |cluster| {
                name.set(String::new());
                region.set(String::new());
                notice.set(Some(format!("Created cluster {}.", cluster.name)));
                refetch(version);
            },
        );
    };

    view! {
        <PlatformForm
            title="New cluster"
            test="create-cluster"
            action
            submit="Create cluster"
            submitting="Creating…"
            on_submit=submit
        >
            <div class="fields">
                <TextField label="Name" test="cluster-name" value=name placeholder="production" required=true/>
                <TextField label="Region" test="cluster-region" value=region placeholder="eu-west-1" required=true/>
            </div>
        </PlatformForm>
    }
}
