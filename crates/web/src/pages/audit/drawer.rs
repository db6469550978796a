//! The entry drawer: every field of one entry, its JSON, a permalink, and the views around it
//! (the same actor five minutes either side, the same request).
//!
//! Its state is the URL's `entry=<id>` (beside the view's own keys, which it leaves alone), so
//! a shared link or a reload opens the same entry over the same view. The entry is read by its
//! id, so the drawer also opens for an entry that is not on the page.

use auditlog_shared::wire::AuditEntry;
use auditlog_shared::{AuditQuery, CustomRange, DateRange, RequestId, OPEN_ENTRY_KEY};
use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::time::Zone;
use crate::api;

/// The page address of a view with an entry open.
pub fn with_entry(project: i64, view: &str, entry: i64) -> String {
    let separator = if view.is_empty() { "" } else { "&" };
    format!("/projects/{project}/security/audit-logs?{view}{separator}{OPEN_ENTRY_KEY}={entry}")
}

/// The view of `[at - before, at + after)`, filtered by `edit`.
fn around(at: DateTime<Utc>, span: Duration, edit: impl FnOnce(&mut AuditQuery)) -> AuditQuery {
    let mut query = AuditQuery::default();
    if let Ok(range) = CustomRange::new(Some(at - span), Some(at + span)) {
        query.range = DateRange::Custom(range);
    }
    edit(&mut query);
    query
}

#[component]
pub fn EntryDrawer(
    project: Signal<i64>,
    /// The open entry's id.
    entry_id: Signal<Option<i64>>,
    /// The view under the drawer, as its query string (closing returns to it).
    view: Signal<String>,
) -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    let entry = LocalResource::new(move || {
        let id = entry_id.get();
        let url =
            id.map(|id| format!("/api/v1/projects/{}/audit-logs/entries/{id}", project.get()));
        async move {
            match url {
                None => None,
                Some(url) => Some((id, api::get::<AuditEntry>(&url).await)),
            }
        }
    });
    let current = move || {
        entry
            .get()
            .flatten()
            .filter(|(id, _)| *id == entry_id.get())
            .map(|(_, answer)| answer)
    };
    let close = {
        let navigate = navigate.clone();
        move || {
            let view = view.get_untracked();
            navigate(
                &format!(
                    "/projects/{}/security/audit-logs?{view}",
                    project.get_untracked()
                ),
                Default::default(),
            );
        }
    };
    let close_on_escape = close.clone();
    let close_button = close.clone();
    let copied = RwSignal::new(None::<&'static str>);
    // Each entry starts without the last one's "copied" note, and with the focus in the drawer
    // (so Escape closes it and a screen reader reads it).
    let panel = NodeRef::<leptos::html::Aside>::new();
    Effect::new(move |_| {
        entry_id.track();
        copied.set(None);
        if let Some(panel) = panel.get() {
            let _ = panel.focus();
        }
    });

    view! {
        <Show when=move || entry_id.get().is_some()>
            <div class="drawer-backdrop" on:click={
                let close = close.clone();
                move |_| close()
            }></div>
            <aside
                node_ref=panel
                class="drawer"
                role="dialog"
                aria-modal="true"
                aria-labelledby="drawer-title"
                data-test="entry-drawer"
                tabindex="-1"
                on:keydown={
                    let close = close_on_escape.clone();
                    move |ev: leptos::ev::KeyboardEvent| {
                        if ev.key() == "Escape" {
                            close();
                        }
                    }
                }
            >
                <div class="drawer-head">
                    <h2 id="drawer-title">
                        {move || match current() {
                            Some(Ok(entry)) => entry.action_label.clone(),
                            Some(Err(_)) => "Entry not found".to_string(),
                            None => "Loading entry…".to_string(),
                        }}
                    </h2>
                    <button class="link" data-test="drawer-close" aria-label="Close the entry"
                        on:click={
                            let close = close_button.clone();
                            move |_| close()
                        }>"Close ×"</button>
                </div>
                {move || match current() {
                    None => view! { <div class="skeleton drawer-skeleton" aria-busy="true"></div> }.into_any(),
                    Some(Err(error)) => view! {
                        <p class="error" role="alert" data-test="drawer-error">{error.message}</p>
                    }.into_any(),
                    Some(Ok(entry)) => view! { <EntryDetails entry project=project.get() copied/> }.into_any(),
                }}
            </aside>
        </Show>
    }
}

#[component]
fn EntryDetails(
    entry: AuditEntry,
    project: i64,
    copied: RwSignal<Option<&'static str>>,
) -> impl IntoView {
    let json = serde_json::to_string_pretty(&entry).unwrap_or_default();
    let at = entry.timestamp;
    let link = |query: AuditQuery, open: Option<i64>| {
        let view = query.to_query_string();
        match open {
            Some(id) => with_entry(project, &view, id),
            None => format!("/projects/{project}/security/audit-logs?{view}"),
        }
    };
    let permalink = link(around(at, Duration::minutes(5), |_| {}), Some(entry.id));
    let actor = match (entry.actor.kind.as_str(), entry.actor.id) {
        ("user" | "token", Some(id)) => Some(format!("{}:{id}", entry.actor.kind)),
        _ => None,
    };
    let same_actor = actor.and_then(|actor| {
        let text = format!("actor={actor}");
        let parsed = AuditQuery::parse(&text).ok()?;
        Some(link(
            around(at, Duration::minutes(5), |q| q.actor = parsed.actor),
            None,
        ))
    });
    let same_request = RequestId::new(&entry.request_id).ok().map(|request_id| {
        link(
            around(at, Duration::hours(1), |q| q.request_id = Some(request_id)),
            None,
        )
    });
    let copy = move |text: String, what: &'static str| {
        spawn_local(async move {
            let done = match web_sys::window().map(|w| w.navigator().clipboard()) {
                Some(clipboard) => wasm_bindgen_futures_promise(clipboard.write_text(&text)).await,
                None => false,
            };
            copied.set(Some(if done {
                what
            } else {
                "Copying is not allowed here: select the text instead"
            }));
        });
    };
    let copy_json = {
        let json = json.clone();
        move |_| copy(json.clone(), "JSON copied")
    };
    let absolute_permalink = {
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        format!("{origin}{permalink}")
    };
    let copy_link = {
        let absolute = absolute_permalink.clone();
        move |_| copy(absolute.clone(), "Link copied")
    };
    let zone = Zone::current().get_untracked();
    let fields: Vec<(&'static str, String)> = vec![
        (
            "Time",
            format!(
                "{} {}",
                zone.format(at, "%Y-%m-%d %H:%M:%S%.6f"),
                zone.name(at)
            ),
        ),
        (
            "Time (RFC 3339)",
            at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        ),
        (
            "Actor",
            match &entry.actor.email {
                Some(email) => format!("{} <{email}>", entry.actor.name),
                None => entry.actor.name.clone(),
            },
        ),
        (
            "Actor id",
            match entry.actor.id {
                Some(id) => format!("{} {id}", entry.actor.kind),
                None => entry.actor.kind.clone(),
            },
        ),
        ("Origin", entry.source.as_str().to_string()),
        ("Request", format!("{} {}", entry.method, entry.path)),
        ("Route", entry.route.clone()),
        (
            "Action",
            format!("{} ({})", entry.action_label, entry.action),
        ),
        ("Status", entry.status.to_string()),
        (
            "Resource",
            format!(
                "{} {}",
                entry.resource.kind.as_str().replace('_', " "),
                entry.resource.name
            ),
        ),
        (
            "Resource id",
            entry
                .resource
                .id
                .map(|id| id.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "Client IP",
            entry.client_ip.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "User agent",
            entry.user_agent.clone().unwrap_or_else(|| "—".into()),
        ),
        ("Request id", entry.request_id.clone()),
        ("Duration", format!("{:.1} ms", entry.duration_ms)),
        (
            "Ingested by",
            entry
                .ingested_by_token_id
                .map(|id| format!("API token {id}"))
                .unwrap_or_else(|| "—".into()),
        ),
        ("Chain position", format!("#{}", entry.chain_seq)),
        ("Entry hash", entry.entry_hash.clone()),
        ("Previous hash", entry.prev_hash.clone()),
    ];
    // What the request changed, field by field, before → after.
    let changes = (!entry.changes.is_empty()).then(|| {
        let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "—".into());
        view! {
            <section class="drawer-changes" data-test="entry-changes">
                <h3>"What changed"</h3>
                <ul>
                    {entry.changes.iter().map(|change| view! {
                        <li data-field=change.field.clone()>
                            <span class="change-field">{change.field.replace('_', " ")}</span>" "
                            <del>{shown(&change.before)}</del>" → "<ins>{shown(&change.after)}</ins>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        }
    });
    view! {
        {changes}
        <dl class="drawer-fields" data-test="entry-fields">
            {fields.into_iter().map(|(name, value)| view! {
                <dt>{name}</dt>
                <dd data-field=name>{value}</dd>
            }).collect_view()}
        </dl>
        <div class="drawer-links">
            <a href=permalink.clone() data-test="entry-permalink">"Permalink"</a>
            <button type="button" on:click=copy_link data-test="copy-link">"Copy link"</button>
            <button type="button" on:click=copy_json data-test="copy-json">"Copy as JSON"</button>
            {same_actor.map(|href| view! { <a href=href data-test="same-actor">"Same actor ±5 min"</a> })}
            {same_request.map(|href| view! { <a href=href data-test="same-request">"Same request id"</a> })}
        </div>
        {move || copied.get().map(|message| view! { <p class="muted small" role="status" data-test="copied">{message}</p> })}
        <details class="drawer-json">
            <summary>"JSON"</summary>
            <pre data-test="entry-json">{json}</pre>
        </details>
    }
}

/// Waits for a promise; whether it resolved.
async fn wasm_bindgen_futures_promise(promise: js_sys::Promise) -> bool {
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}
