//! The entries table with its loading, empty and error states, and pagination.

use auditlog_shared::wire::{AuditEntry, AuditPage, Facets};
use auditlog_shared::{AuditQuery, Source};
use leptos::prelude::*;

use super::drawer::with_entry;
use super::filters::{chips, filtered_on};
use super::time::Zone;
use super::ViewNavigator;
use crate::api::ApiError;
use auditlog_shared::Dimension;

/// The columns an admin may hide or show (the time always shows): class suffix, heading, and
/// whether it shows until the admin chooses.
const COLUMNS: [(&str, &str, bool); 8] = [
    ("actor", "Actor", true),
    ("method", "Method", true),
    ("status", "Status", true),
    ("resource", "Resource", true),
    ("action", "Action", true),
    ("source", "Source", false),
    ("ip", "Client IP", false),
    ("duration", "Duration", false),
];
const LAYOUT_KEY: &str = "auditlog.table-layout";

/// How the table is laid out: which columns show and whether rows are compact. The admin's
/// choice, remembered in this browser (a preference, not part of the view or its URL).
#[derive(Clone, Debug, PartialEq, Eq)]
struct TableLayout {
    compact: bool,
    shown: Vec<&'static str>,
}

impl TableLayout {
    fn load() -> TableLayout {
        let stored = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|storage| storage.get_item(LAYOUT_KEY).ok().flatten());
        match stored.as_deref().and_then(|text| text.split_once(';')) {
            Some((density, columns)) => TableLayout {
                compact: density == "compact",
                shown: COLUMNS
                    .iter()
                    .map(|(key, _, _)| *key)
                    .filter(|key| columns.split(',').any(|c| c == *key))
                    .collect(),
            },
            None => TableLayout {
                compact: false,
                shown: COLUMNS
                    .iter()
                    .filter(|(_, _, default)| *default)
                    .map(|(key, _, _)| *key)
                    .collect(),
            },
        }
    }

    fn save(&self) {
        let text = format!(
            "{};{}",
            if self.compact {
                "compact"
            } else {
                "comfortable"
            },
            self.shown.join(",")
        );
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = storage.set_item(LAYOUT_KEY, &text);
        }
    }

    /// The table's classes: `compact`, and `hide-<column>` for every hidden column.
    fn classes(&self) -> String {
        let mut classes = String::from("entries");
        if self.compact {
            classes.push_str(" compact");
        }
        for (key, _, _) in COLUMNS {
            if !self.shown.contains(&key) {
                classes.push_str(" hide-");
                classes.push_str(key);
            }
        }
        classes
    }
}

/// The Columns menu: a checkbox per column and the density.
#[component]
fn LayoutMenu(layout: RwSignal<TableLayout>) -> impl IntoView {
    let change = move |edit: &dyn Fn(&mut TableLayout)| {
        layout.update(|layout| {
            edit(layout);
            layout.save();
        });
    };
    view! {
        <details class="table-options" data-test="table-options">
            <summary>"Columns"</summary>
            <fieldset>
                <legend class="small muted">"Show"</legend>
                {COLUMNS.map(|(key, heading, _)| view! {
                    <label class="small">
                        <input type="checkbox" data-test=format!("column-{key}")
                            prop:checked=move || layout.with(|l| l.shown.contains(&key))
                            on:change=move |_| change(&|l: &mut TableLayout| {
                                if l.shown.contains(&key) {
                                    l.shown.retain(|k| *k != key);
                                } else {
                                    l.shown.push(key);
                                }
                            })/>
                        {heading}
                    </label>
                })}
            </fieldset>
            <label class="small">
                <input type="checkbox" data-test="compact-rows"
                    prop:checked=move || layout.with(|l| l.compact)
                    on:change=move |_| change(&|l: &mut TableLayout| l.compact = !l.compact)/>
                "Compact rows"
            </label>
        </details>
    }
}

#[component]
pub fn EntriesTable(
    /// The page of the view the URL names; `None` while it loads.
    page: Signal<Option<Result<AuditPage, ApiError>>>,
    /// The view's query string, which the section names once it shows that view.
    shown_query: Signal<String>,
    /// Entries matching the view in its whole window (the histogram counts them).
    total: Signal<Option<u64>>,
    query: Signal<AuditQuery>,
    facets: Signal<Option<Facets>>,
    navigator: ViewNavigator,
    project: Signal<i64>,
) -> impl IntoView {
    let layout = RwSignal::new(TableLayout::load());
    let pager = navigator.clone();
    let row_navigator = navigator.clone();
    let go = move |target: Option<String>| {
        if let Some(Ok(next)) = target.map(|t| AuditQuery::parse(&t)) {
            pager.go(&next);
        }
    };
    view! {
        <section
            class="card table-card"
            data-test="table-card"
            aria-busy=move || page.with(Option::is_none).to_string()
            data-view=move || page.with(Option::is_some).then(|| shown_query.get())
        >
            {move || match page.get() {
                None => view! { <Skeleton/> }.into_any(),
                Some(Err(error)) => view! {
                    <p class="error" role="alert" data-test="table-error">{format!("The entries could not be loaded: {}", error.message)}</p>
                }.into_any(),
                Some(Ok(page)) if page.entries.is_empty() => view! {
                    <EmptyState query=query.get() facets=facets.get()/>
                }.into_any(),
                Some(Ok(page)) => {
                    let go_previous = go.clone();
                    let go_next = go.clone();
                    let (previous, next) = (page.previous.clone(), page.next.clone());
                    let shown = page.entries.len();
                    view! {
                        <LayoutMenu layout/>
                        <table class=move || layout.with(TableLayout::classes) data-test="entries">
                            <thead>
                                <tr>
                                    <th data-test="time-heading">{move || format!("Time ({})", Zone::current().get().name(chrono::Utc::now()))}</th>
                                    {COLUMNS.map(|(key, heading, _)| view! {
                                        <th class=format!("cell-{key}") data-test=format!("heading-{key}")>{heading}</th>
                                    })}
                                </tr>
                            </thead>
                            <tbody>{page.entries.into_iter().map(|entry| {
                                let navigator = row_navigator.clone();
                                view! { <Row entry query=query.get_untracked() navigator project=project.get_untracked()/> }
                            }).collect_view()}</tbody>
                        </table>
                        <div class="pager">
                            <span class="muted small" data-test="total">
                                {move || match total.get() {
                                    Some(total) => format!("{shown} shown · {total} matching entr{}", if total == 1 { "y" } else { "ies" }),
                                    None => format!("{shown} shown"),
                                }}
                            </span>
                            <button data-test="previous-page" disabled=previous.is_none()
                                on:click=move |_| go_previous(previous.clone())>"← Newer"</button>
                            <button data-test="next-page" disabled=next.is_none()
                                on:click=move |_| go_next(next.clone())>"Older →"</button>
                        </div>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// A cell value that filters the view on click: included, or excluded with Alt (⌥) or Shift.
#[component]
fn CellFilter(
    dimension: Dimension,
    value: String,
    /// What the filter is called in its tooltip, such as "Method DELETE".
    described: String,
    query: AuditQuery,
    navigator: ViewNavigator,
    children: Children,
) -> impl IntoView {
    let title = format!("Show only {described} (Alt-click: hide {described})");
    view! {
        <button
            type="button"
            class="cell-filter"
            data-test="cell-filter"
            data-dimension=dimension.key()
            data-value=value.clone()
            title=title
            on:click=move |ev: leptos::ev::MouseEvent| {
                // The row opens the entry; the cell only filters.
                ev.stop_propagation();
                let exclude = ev.alt_key() || ev.shift_key();
                if let Some(next) = filtered_on(&query, dimension, exclude, &value) {
                    navigator.change(&next, |_| {});
                }
            }
        >
            {children()}
        </button>
    }
}

#[component]
fn Row(
    entry: AuditEntry,
    query: AuditQuery,
    navigator: ViewNavigator,
    project: i64,
) -> impl IntoView {
    let zone = Zone::current();
    let at = entry.timestamp;
    let when = move || zone.get().format(at, "%Y-%m-%d %H:%M:%S");
    let full = move || zone.get().format(at, "%Y-%m-%d %H:%M:%S%.6f %:z");
    let status_class = format!("status s{}xx", entry.status / 100);
    let method_class = format!("method m-{}", entry.method.to_lowercase());
    let is_cli = entry.source == Source::Cli;
    let ingested_by = (entry.source == Source::Ingest).then(|| {
        format!(
            "Reported by an external service through API token #{}; not a request to this server",
            entry.ingested_by_token_id.unwrap_or_default()
        )
    });
    let is_token = entry.actor.kind == "token";
    let actor_title = entry.actor.email.clone().unwrap_or_else(|| {
        format!(
            "{} {}",
            entry.actor.kind,
            entry.actor.id.map(|i| i.to_string()).unwrap_or_default()
        )
    });
    let actor_value = match (entry.actor.kind.as_str(), entry.actor.id) {
        ("user" | "token", Some(id)) => Some(format!("{}:{id}", entry.actor.kind)),
        _ => None,
    };
    let resource_filter = match (entry.resource.kind, entry.resource.id) {
        (auditlog_shared::ResourceType::Application, Some(id)) => {
            (Dimension::Application, id.to_string())
        }
        (auditlog_shared::ResourceType::Cluster, Some(id)) => (Dimension::Cluster, id.to_string()),
        (kind, _) => (Dimension::ResourceType, kind.as_str().to_string()),
    };
    let opener = navigator.clone();
    let open_href = with_entry(project, &query.to_query_string(), entry.id);
    let open = {
        let href = open_href.clone();
        move || opener.open(&href)
    };
    let open_on_enter = open.clone();
    let cell = {
        let query = query.clone();
        let navigator = navigator.clone();
        move |dimension: Dimension, value: String, described: String, inner: AnyView| {
            view! {
                <CellFilter dimension value described query=query.clone() navigator=navigator.clone()>
                    {inner}
                </CellFilter>
            }
        }
    };
    let actor_name = entry.actor.name.clone();
    let actor_view = view! { <span class="actor">{actor_name.clone()}</span> }.into_any();
    let actor_cell = match actor_value {
        Some(value) => cell(
            Dimension::Actor,
            value,
            format!("actor {actor_name}"),
            actor_view,
        )
        .into_any(),
        None => actor_view,
    };
    let method = entry.method.clone();
    let method_cell = cell(
        Dimension::Method,
        method.clone(),
        format!("method {method}"),
        view! { <span class=method_class>{method.clone()}</span> }.into_any(),
    );
    let status_cell = cell(
        Dimension::Status,
        entry.status.to_string(),
        format!("status {}", entry.status),
        view! { <span class=status_class>{entry.status}</span> }.into_any(),
    );
    let resource_kind = entry.resource.kind.as_str().replace('_', " ");
    let resource_name = entry.resource.name.clone();
    let resource_cell = cell(
        resource_filter.0,
        resource_filter.1,
        format!("{resource_kind} {resource_name}"),
        view! {
            <span class="muted small">{resource_kind.clone()}</span>
            " "
            <span>{resource_name.clone()}</span>
        }
        .into_any(),
    );
    let action_label = entry.action_label.clone();
    let action_cell = cell(
        Dimension::Action,
        entry.action.clone(),
        format!("“{action_label}”"),
        view! { <span>{action_label.clone()}</span> }.into_any(),
    );
    view! {
        <tr tabindex="0" data-test="entry" data-entry-id=entry.id.to_string() data-method=entry.method.clone()
            class="entry-row"
            on:click=move |_| open()
            on:keydown=move |ev| {
                use wasm_bindgen::JsCast;
                let key = ev.key();
                if key == "Enter" && ev.target() == ev.current_target() {
                    ev.prevent_default();
                    open_on_enter();
                    return;
                }
                let Some(row) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) else { return };
                let sibling = match key.as_str() {
                    "ArrowDown" | "j" => row.next_element_sibling(),
                    "ArrowUp" | "k" => row.previous_element_sibling(),
                    _ => None,
                };
                if let Some(next) = sibling.and_then(|s| s.dyn_into::<web_sys::HtmlElement>().ok()) {
                    ev.prevent_default();
                    let _ = next.focus();
                }
            }>
            <td class="nowrap cell-time" data-label="Time" title=full>
                <a href=open_href data-test="open-entry" on:click=|ev: leptos::ev::MouseEvent| {
                    // The row's own click opens it (in this tab); a modified click keeps the
                    // browser's meaning (a new tab).
                    if !(ev.ctrl_key() || ev.meta_key() || ev.shift_key()) {
                        ev.prevent_default();
                    } else {
                        ev.stop_propagation();
                    }
                }>{when}</a>
            </td>
            <td class="cell-actor" data-label="Actor" title=actor_title>
                {actor_cell}
                {is_token.then(|| view! { <span class="badge token" title="API token">"token"</span> })}
                {is_cli.then(|| view! { <span class="badge cli" data-test="cli-badge">"CLI"</span> })}
                {ingested_by.map(|title| view! { <span class="badge ingested" data-test="ingested-badge" title=title>"ingested"</span> })}
            </td>
            <td class="cell-method" data-label="Method">{method_cell}</td>
            <td class="cell-status" data-label="Status">{status_cell}</td>
            <td class="cell-resource" data-label="Resource">{resource_cell}</td>
            <td class="cell-action" data-label="Action" title=entry.path.clone()>{action_cell}</td>
            <td class="cell-source cell-extra" data-label="Source">{entry.source.as_str()}</td>
            <td class="cell-ip cell-extra nowrap" data-label="Client IP" data-test="cell-ip">
                {entry.client_ip.clone().unwrap_or_default()}
            </td>
            <td class="cell-duration cell-extra nowrap" data-label="Duration">
                {format!("{:.1} ms", entry.duration_ms)}
            </td>
        </tr>
    }
}

#[component]
fn Skeleton() -> impl IntoView {
    view! {
        <div class="skeleton-rows" aria-busy="true" aria-label="Loading entries">
            {(0..8).map(|_| view! { <div class="skeleton row-skeleton"></div> }).collect_view()}
        </div>
    }
}

#[component]
fn EmptyState(query: AuditQuery, facets: Option<Facets>) -> impl IntoView {
    let active: Vec<String> = chips(&query)
        .into_iter()
        .map(|chip| chip.describe(facets.as_ref()))
        .chain(
            query
                .request_id
                .as_ref()
                .map(|id| format!("request id {}", id.as_str())),
        )
        .chain(
            query
                .search
                .as_ref()
                .map(|s| format!("search “{}”", s.as_str())),
        )
        .collect();
    let both = !query.application.include.is_empty() && !query.cluster.include.is_empty();
    view! {
        <div class="empty" data-test="empty-state">
            <h2>"No entries match this view"</h2>
            {if active.is_empty() {
                view! { <p class="muted">"Nothing was recorded in this date range."</p> }.into_any()
            } else {
                view! { <p class="muted">"Active filters: " {active.join(" · ")}</p> }.into_any()
            }}
            {both.then(|| view! {
                <p data-test="application-cluster-hint">
                    "Each entry is tied to a single resource, so including both an application and a cluster matches nothing. "
                    "Clear one of them, or use an exclude filter instead."
                </p>
            })}
        </div>
    }
}
