//! Streaming (admin-only): where the project's audit log is pushed — webhooks and Splunk — with
//! each destination's health (status, lag, last delivery, last error), "send test event",
//! pause/resume and delete, and the form that adds one (its signing secret is shown once); then
//! the project's alerts (see [`super::alerts`]).
//!
//! The list is fetched again every few seconds while the page is open, so lag and errors stay
//! current.

use std::collections::BTreeMap;

use auditlog_shared::wire::{
    CreateStreamDestination, CreatedStreamDestination, StreamDestination, StreamKind, StreamStatus,
    StreamTestResult, UpdateStreamDestination,
};
use auditlog_shared::AuditQuery;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::alerts::AlertsSection;
use super::{
    list_view, local_time, project_api, refetch, ChangeNotice, ConfirmButton, FormError, RowChange,
};
use crate::api;
use crate::shell::use_project_id;

/// How often the list is fetched again while the page is open.
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

#[component]
pub fn StreamsPage() -> impl IntoView {
    let project = use_project_id();
    let version = RwSignal::new(0_u32);
    let notice = RwSignal::new(None::<String>);
    // The webhook just created, whose signing secret is shown until dismissed and never again.
    let created = RwSignal::new(None::<CreatedStreamDestination>);

    let destinations = LocalResource::new(move || {
        let url = project_api(project.get(), "streams");
        version.track();
        async move { api::get::<Vec<StreamDestination>>(&url).await }
    });
    // The destinations alerts can be sent to.
    let destination_options =
        Signal::derive(move || destinations.get().and_then(Result::ok).unwrap_or_default());
    if let Ok(handle) = set_interval_with_handle(move || refetch(version), REFRESH_EVERY) {
        on_cleanup(move || handle.clear());
    }

    let table = move || {
        list_view(
            destinations.get(),
            "stream destinations",
            "Nothing is streamed yet. Add a webhook or a Splunk collector below.",
            |destinations| {
                let project = project.get();
                view! {
                    <div class="table-scroll">
                        <table class="platform-table streams-table" data-test="streams">
                            <thead>
                                <tr>
                                    <th>"Destination"</th>
                                    <th>"Filter"</th>
                                    <th>"Status"</th>
                                    <th>"Lag"</th>
                                    <th>"Delivered"</th>
                                    <th>"Actions"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {destinations
                                    .into_iter()
                                    .map(|destination| {
                                        view! { <StreamRow destination project version notice/> }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            },
        )
    };

    view! {
        <div class="page-head">
            <h1>"Streaming"</h1>
        </div>
        <p class="muted small">
            "Every audit entry that passes a destination's filter is pushed to it at least once, in order, "
            "with a stable "<code>"event_id"</code>" to de-duplicate by. A destination that fails is retried "
            "with growing pauses; nothing is lost while it is down or paused."
        </p>
        <ChangeNotice notice/>
        {move || created.get().map(|destination| view! { <SigningSecret destination created/> })}
        <section class="card">{table}</section>
        <CreateStreamForm project=project.into() version created notice/>
        <AlertsSection project=project.into() version notice destinations=destination_options/>
    }
}

/// A new webhook's signing secret, shown once, with how receivers check it.
#[component]
fn SigningSecret(
    destination: CreatedStreamDestination,
    created: RwSignal<Option<CreatedStreamDestination>>,
) -> impl IntoView {
    let secret = destination.signing_secret.clone().unwrap_or_default();
    view! {
        <div class="card secret-box" role="status" data-test="stream-created">
            <h2>{format!("Streaming to “{}”", destination.destination.name)}</h2>
            <p>
                <strong>"Copy the signing secret now. It will not be shown again."</strong>
            </p>
            <code class="secret" data-test="stream-secret">{secret}</code>
            <p class="muted small">
                "Each delivery carries "<code>"Auditlog-Signature: t=<unix time>,v1=<hex>"</code>
                ": the HMAC-SHA256 of "<code>"<t>.<body>"</code>" keyed with this secret."
            </p>
            <button type="button" data-test="dismiss-secret" on:click=move |_| created.set(None)>
                "I have copied it"
            </button>
        </div>
    }
}

fn status_label(status: StreamStatus) -> &'static str {
    match status {
        StreamStatus::Active => "active",
        StreamStatus::Paused => "paused",
        StreamStatus::Retrying => "retrying",
        StreamStatus::Failing => "failing",
    }
}

/// "caught up", or how many entries and how long it is behind.
fn lag_text(destination: &StreamDestination) -> String {
    if destination.lag_entries == 0 {
        return "caught up".into();
    }
    let seconds = destination.lag_seconds.round() as i64;
    let behind = match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3_600),
    };
    let entries = match destination.lag_entries {
        1 => "1 entry".to_string(),
        n => format!("{n} entries"),
    };
    format!("{entries} · {behind} behind")
}

#[component]
fn StreamRow(
    destination: StreamDestination,
    project: i64,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let tested = RwSignal::new(None::<StreamTestResult>);
    let item = project_api(project, &format!("streams/{}", destination.id));
    let name = destination.name.clone();

    let send_test = {
        let url = format!("{item}/test");
        move |_| {
            let url = url.clone();
            busy.set(true);
            error.set(None);
            spawn_local(async move {
                match api::post::<StreamTestResult, _>(&url, &()).await {
                    Ok(result) => tested.set(Some(result)),
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };
    let change = RowChange {
        busy,
        error,
        notice,
        version,
    };
    let toggle = {
        let (url, name, paused) = (item.clone(), name.clone(), destination.paused);
        move |_| {
            let body = UpdateStreamDestination {
                paused: Some(!paused),
                ..Default::default()
            };
            let url = url.clone();
            change.run(
                async move { api::patch::<StreamDestination, _>(&url, &body).await },
                if paused {
                    format!("Resumed {name}: what waited is being delivered.")
                } else {
                    format!("Paused {name}: entries wait until it is resumed.")
                },
            );
        }
    };
    let delete = {
        let (url, name) = (item.clone(), name.clone());
        move |()| {
            let url = url.clone();
            change.run(
                async move { api::delete(&url).await },
                format!("Deleted {name}; nothing more is sent to it."),
            );
        }
    };

    let status = status_label(destination.status);
    let filter = if destination.filter.is_empty() {
        view! { <span class="muted">"every entry"</span> }.into_any()
    } else {
        view! { <code>{destination.filter.clone()}</code> }.into_any()
    };
    let delivered = match destination.last_delivery_at {
        Some(at) => format!(
            "{} · last {}",
            destination.delivered_entries,
            local_time(at)
        ),
        None => format!("{} · none yet", destination.delivered_entries),
    };
    // The last error matters while it is the reason the destination is behind.
    let last_error = match (&destination.last_error, destination.last_error_at) {
        (Some(message), Some(at)) if destination.consecutive_failures > 0 => Some(view! {
            <p class="error small" data-test="stream-error">
                {message.clone()}
                " "
                <span class="muted">{format!("({})", local_time(at))}</span>
            </p>
        }),
        _ => None,
    };

    view! {
        <tr
            data-test="stream-row"
            data-stream-name=destination.name.clone()
            data-status=status
        >
            <td>
                <span class="strong">{destination.name.clone()}</span>
                <br/>
                <span class="muted small">{destination.kind.label()}</span>
                <br/>
                <code class="small wrap">{destination.url.clone()}</code>
            </td>
            <td>{filter}</td>
            <td>
                <span class=format!("badge stream-{status}") data-test="stream-status">
                    {status}
                </span>
                {last_error}
            </td>
            <td data-test="stream-lag">{lag_text(&destination)}</td>
            <td data-test="stream-delivered">{delivered}</td>
            <td class="row-actions">
                <button type="button" data-test="stream-test" disabled=busy on:click=send_test>
                    "Send test event"
                </button>
                <button type="button" data-test="stream-toggle" disabled=busy on:click=toggle>
                    {if destination.paused { "Resume" } else { "Pause" }}
                </button>
                <ConfirmButton
                    label="Delete"
                    confirm_label="Confirm delete"
                    test="stream-delete"
                    busy=busy
                    on_confirm=delete
                />
                {move || {
                    tested
                        .get()
                        .map(|result| {
                            let text = if result.delivered {
                                format!("Test event delivered ({} ms).", result.duration_ms.round())
                            } else {
                                format!(
                                    "Test event not delivered: {}",
                                    result.error.unwrap_or_default(),
                                )
                            };
                            view! {
                                <p class="small" role="status" data-test="stream-test-result">
                                    {text}
                                </p>
                            }
                        })
                }}
                <FormError error/>
            </td>
        </tr>
    }
}

/// Reads "Name: value" lines into headers; the first line that is not one is the error.
fn parse_headers(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut headers = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("“{line}” is not a header: write one “Name: value” per line"))?;
        headers.insert(name.trim().to_string(), value.trim().to_string());
    }
    Ok(headers)
}

#[component]
fn CreateStreamForm(
    project: Signal<i64>,
    version: RwSignal<u32>,
    created: RwSignal<Option<CreatedStreamDestination>>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(StreamKind::Webhook);
    let url = RwSignal::new(String::new());
    let filter = RwSignal::new("method.not=GET".to_string());
    let token = RwSignal::new(String::new());
    let headers = RwSignal::new(String::new());
    let backfill = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // The filter is read by the shared query model as it is typed.
    let filter_error = Memo::new(move |_| {
        AuditQuery::parse_filter(&filter.get())
            .err()
            .map(|error| error.to_string())
    });

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if let Some(message) = filter_error.get_untracked() {
            error.set(Some(format!("The filter cannot be used: {message}")));
            return;
        }
        let header_text = if kind.get_untracked() == StreamKind::Syslog {
            String::new()
        } else {
            headers.get_untracked()
        };
        let parsed_headers = match parse_headers(&header_text) {
            Ok(parsed) => parsed,
            Err(message) => {
                error.set(Some(message));
                return;
            }
        };
        let kind_now = kind.get_untracked();
        let body = CreateStreamDestination {
            name: name.get_untracked().trim().to_string(),
            kind: kind_now,
            url: url.get_untracked().trim().to_string(),
            filter: filter.get_untracked().trim().to_string(),
            headers: parsed_headers,
            token: kind_now.takes_token().then(|| token.get_untracked()),
            backfill: backfill.get_untracked(),
        };
        let endpoint = project_api(project.get_untracked(), "streams");
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<CreatedStreamDestination, _>(&endpoint, &body).await {
                Ok(destination) => {
                    name.set(String::new());
                    url.set(String::new());
                    token.set(String::new());
                    headers.set(String::new());
                    backfill.set(false);
                    if destination.signing_secret.is_some() {
                        notice.set(None);
                        created.set(Some(destination));
                    } else {
                        notice.set(Some(format!(
                            "Streaming to {} started.",
                            destination.destination.name
                        )));
                    }
                    refetch(version);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="card platform-form" data-test="create-stream" on:submit=submit>
            <h2>"New destination"</h2>
            <p class="muted small">
                "The server first sends a verification: a webhook answers it with the "
                <code>"challenge"</code>" it carries; Splunk must accept a test event."
            </p>
            <div class="fields">
                <label>
                    "Name"
                    <input
                        type="text"
                        data-test="stream-name"
                        required
                        placeholder="Security SIEM"
                        prop:value=name
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Kind"
                    <select
                        data-test="stream-kind"
                        on:change=move |ev| {
                            if let Some(picked) = StreamKind::parse(&event_target_value(&ev)) {
                                kind.set(picked);
                            }
                        }
                    >
                        {StreamKind::ALL
                            .into_iter()
                            .map(|option| {
                                view! {
                                    <option
                                        value=option.as_str()
                                        prop:selected=move || kind.get() == option
                                    >
                                        {option.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label class="wide">
                    "URL"
                    <input
                        type="url"
                        data-test="stream-url"
                        required
                        placeholder=move || {
                            if kind.get() == StreamKind::Syslog {
                                "syslog+tls://logs.example.com:6514"
                            } else {
                                "https://siem.example.com/auditlog"
                            }
                        }
                        prop:value=url
                        on:input=move |ev| url.set(event_target_value(&ev))
                    />
                </label>
                <label class="wide">
                    "Filter (an audit query, without a time range)"
                    <input
                        type="text"
                        data-test="stream-filter"
                        placeholder="every entry"
                        aria-invalid=move || filter_error.get().is_some().to_string()
                        prop:value=filter
                        on:input=move |ev| filter.set(event_target_value(&ev))
                    />
                    {move || {
                        filter_error
                            .get()
                            .map(|message| {
                                view! {
                                    <span class="error small" data-test="stream-filter-error">
                                        {message}
                                    </span>
                                }
                            })
                    }}
                </label>
                <Show when=move || kind.get().takes_token()>
                    <label>
                        {move || {
                            if kind.get() == StreamKind::Datadog { "API key" } else { "HEC token" }
                        }}
                        <input
                            type="password"
                            data-test="stream-token"
                            autocomplete="off"
                            prop:value=token
                            on:input=move |ev| token.set(event_target_value(&ev))
                        />
                    </label>
                </Show>
                <Show when=move || kind.get() != StreamKind::Syslog>
                    <label class="wide">
                        "Custom headers (one “Name: value” per line)"
                        <textarea
                            data-test="stream-headers"
                            rows="2"
                            prop:value=headers
                            on:input=move |ev| headers.set(event_target_value(&ev))
                        ></textarea>
                    </label>
                </Show>
                <label class="checkbox">
                    <input
                        type="checkbox"
                        data-test="stream-backfill"
                        prop:checked=backfill
                        on:change=move |ev| backfill.set(event_target_checked(&ev))
                    />
                    "Also send the entries already kept (oldest first)"
                </label>
            </div>
            <FormError error/>
            <button class="primary" type="submit" disabled=busy>
                {move || if busy.get() { "Verifying…" } else { "Start streaming" }}
            </button>
        </form>
    }
}
