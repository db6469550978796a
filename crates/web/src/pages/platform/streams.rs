//! Streaming (admin-only): where the project's audit log is pushed — webhooks and Splunk — with
//! each destination's health (status, lag, last delivery, last error), "send test event",
//! pause/resume and delete, and the form that adds one (its signing secret is shown once); then
//! the project's alerts (see [`super::alerts`]).
//!
//! The list is fetched again every few seconds while the page is open, so lag and errors stay
//! current.

use std::collections::BTreeMap;

use auditlog_shared::wire::{
    CreateStreamDestination, CreatedStreamDestination, StreamDestination, StreamKind,
    StreamTestResult, UpdateStreamDestination,
};
use leptos::prelude::*;

use super::alerts::AlertsSection;
use super::{
    filter_problem, headings, local_time, project_api, project_list, refetch, status_cell,
    status_label, ConfirmButton, ListTable, PageHead, RowActions, RowChange, SecretBox,
};
use crate::api;
use crate::form::{Action, Checkbox, PlatformForm, TextField};
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

    let destinations = project_list::<StreamDestination>(project.into(), "streams", version);
    // The destinations alerts can be sent to.
    let destination_options =
        Signal::derive(move || destinations.get().and_then(Result::ok).unwrap_or_default());
    if let Ok(handle) = set_interval_with_handle(move || refetch(version), REFRESH_EVERY) {
        on_cleanup(move || handle.clear());
    }

    let table = move || {
        let project = project.get();
        ListTable {
            noun: "stream destinations",
            empty: "Nothing is streamed yet. Add a webhook or a Splunk collector below.",
            test: "streams",
            class: "streams-table",
            headings: headings(
                &["Destination", "Filter", "Status", "Lag", "Delivered"],
                true,
            ),
        }
        .render(destinations.get(), |destination| {
            view! { <StreamRow destination project version notice/> }.into_any()
        })
    };

    view! {
        <PageHead title="Streaming" notice>
            "Every audit entry that passes a destination's filter is pushed to it at least once, in order, "
            "with a stable "<code>"event_id"</code>" to de-duplicate by. A destination that fails is retried "
            "with growing pauses; nothing is lost while it is down or paused."
        </PageHead>
        {move || {
            created
                .get()
                .map(|destination| {
                    view! {
                        <SecretBox
                            title=format!("Streaming to “{}”", destination.destination.name)
                            what="the signing secret"
                            secret=destination.signing_secret.unwrap_or_default()
                            test="stream-created"
                            secret_test="stream-secret"
                            dismiss=move || created.set(None)
                        >
                            "Each delivery carries "<code>"Auditlog-Signature: t=<unix time>,v1=<hex>"</code>
                            ": the HMAC-SHA256 of "<code>"<t>.<body>"</code>" keyed with this secret."
                        </SecretBox>
                    }
                })
        }}
        <section class="card">{table}</section>
        <CreateStreamForm project=project.into() version created notice/>
        <AlertsSection project=project.into() version notice destinations=destination_options/>
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
    let change = RowChange::new(notice, version);
    let busy = change.action.busy;
    let tested = RwSignal::new(None::<StreamTestResult>);
    let item = project_api(project, &format!("streams/{}", destination.id));
    let name = destination.name.clone();

    let send_test = {
        let url = format!("{item}/test");
        move |_| {
            let url = url.clone();
            change.action.run(
                async move { api::post::<StreamTestResult, _>(&url, &()).await },
                move |result| tested.set(Some(result)),
            );
        }
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
    let delete = change.delete(item, format!("Deleted {name}; nothing more is sent to it."));

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
    let last_error = match (destination.last_error.clone(), destination.last_error_at) {
        (Some(message), Some(at)) if destination.consecutive_failures > 0 => Some((message, at)),
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
            <td>{status_cell(destination.status, "stream-status", "stream-error", last_error)}</td>
            <td data-test="stream-lag">{lag_text(&destination)}</td>
            <td data-test="stream-delivered">{delivered}</td>
            <RowActions change>
                <button type="button" data-test="stream-test" disabled=busy on:click=send_test>
                    "Send test event"
                </button>
                <button type="button" data-test="stream-toggle" disabled=busy on:click=toggle>
                    {if destination.paused { "Resume" } else { "Pause" }}
                </button>
                <ConfirmButton label="Delete" test="stream-delete" change on_confirm=delete/>
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
            </RowActions>
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
    let action = Action::new();
    let filter_error = filter_problem(filter);

    let submit = move || {
        if let Some(message) = filter_error.get_untracked() {
            return action.refuse(format!("The filter cannot be used: {message}"));
        }
        let header_text = if kind.get_untracked() == StreamKind::Syslog {
            String::new()
        } else {
            headers.get_untracked()
        };
        let parsed_headers = match parse_headers(&header_text) {
            Ok(parsed) => parsed,
            Err(message) => return action.refuse(message),
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
        action.run(
            async move { api::post::<CreatedStreamDestination, _>(&endpoint, &body).await },
            move |destination| {
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
            },
        );
    };

    view! {
        <PlatformForm
            title="New destination"
            test="create-stream"
            action
            submit="Start streaming"
            submitting="Verifying…"
            on_submit=submit
        >
            <p class="muted small">
                "The server first sends a verification: a webhook answers it with the "
                <code>"challenge"</code>" it carries; Splunk must accept a test event."
            </p>
            <div class="fields">
                <TextField label="Name" test="stream-name" value=name placeholder="Security SIEM" required=true/>
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
                <TextField
                    label="URL"
                    test="stream-url"
                    value=url
                    kind="url"
                    required=true
                    wide=true
                    placeholder=move || {
                        if kind.get() == StreamKind::Syslog {
                            "syslog+tls://logs.example.com:6514"
                        } else {
                            "https://siem.example.com/auditlog"
                        }
                    }
                />
                <TextField
                    label="Filter (an audit query, without a time range)"
                    test="stream-filter"
                    value=filter
                    wide=true
                    placeholder="every entry"
                    invalid=filter_error
                    invalid_test="stream-filter-error"
                />
                <Show when=move || kind.get().takes_token()>
                    <TextField
                        label=move || {
                            if kind.get() == StreamKind::Datadog { "API key" } else { "HEC token" }
                        }
                        test="stream-token"
                        value=token
                        kind="password"
                        autocomplete="off"
                    />
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
                <Checkbox
                    label="Also send the entries already kept (oldest first)"
                    test="stream-backfill"
                    value=backfill
                />
            </div>
        </PlatformForm>
    }
}
