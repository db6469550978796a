//! Alerts (on the Streaming page, admin-only): each alert's condition, destination, health and
//! firings, pause/resume and delete, and the form that adds one — from a preset ("API token
//! created", "5 failed sign-ins for one account in 10 minutes", …) or written by hand.

use auditlog_shared::wire::{
    alert_presets, AlertChange, AlertCondition, AlertFiring, AlertGroupBy, AlertRule,
    CreateAlertRule, StreamDestination, StreamStatus, UpdateAlertRule,
};
use leptos::prelude::*;

use super::{
    filter_problem, headings, local_time, project_api, project_list, refetch, status_cell,
    status_label, ConfirmButton, ListTable, RowActions, RowChange,
};
use crate::api;
use crate::form::{Action, PlatformForm, TextField};

/// The alerts of the project and the form that adds one. `version` is the Streaming page's
/// refresh counter: alerts are fetched again with the destinations.
#[component]
pub fn AlertsSection(
    project: Signal<i64>,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
    destinations: Signal<Vec<StreamDestination>>,
) -> impl IntoView {
    let alerts = project_list::<AlertRule>(project, "alerts", version);
    let table = move || {
        let project = project.get();
        ListTable {
            noun: "alerts",
            empty:
                "No alerts yet. Pick a preset below to be told when something sensitive happens.",
            test: "alerts",
            class: "alerts-table",
            headings: headings(&["Alert", "When", "Notifies", "Status", "Fired"], true),
        }
        .render(alerts.get(), |alert| {
            view! { <AlertRow alert project version notice/> }.into_any()
        })
    };
    view! {
        <h2 class="section-title" id="alerts">"Alerts"</h2>
        <p class="muted small">
            "An alert counts the entries its filter matches and sends each firing to a destination "
            "("<code>"\"type\":\"auditlog.alert\""</code>", with a link to the entries). A threshold "
            "fires once per window, not once per entry."
        </p>
        <section class="card">{table}</section>
        <CreateAlertForm project version notice destinations/>
    }
}

#[component]
fn AlertRow(
    alert: AlertRule,
    project: i64,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let change = RowChange::new(notice, version);
    let busy = change.action.busy;
    let firings = RwSignal::new(None::<Vec<AlertFiring>>);
    let item = project_api(project, &format!("alerts/{}", alert.id));
    let name = alert.name.clone();

    let toggle = {
        let (url, name, paused) = (item.clone(), name.clone(), alert.paused);
        move |_| {
            let body = UpdateAlertRule {
                paused: Some(!paused),
                ..Default::default()
            };
            let url = url.clone();
            change.run(
                async move { api::patch::<AlertRule, _>(&url, &body).await },
                if paused {
                    format!("Resumed {name}: it counts what was written meanwhile.")
                } else {
                    format!("Paused {name}: it counts nothing until resumed.")
                },
            );
        }
    };
    let delete = change.delete(item.clone(), format!("Deleted the alert {name}."));
    let show_firings = {
        let url = format!("{item}/firings");
        move |_| {
            if firings.get_untracked().is_some() {
                firings.set(None);
                return;
            }
            let url = url.clone();
            change.action.run(
                async move { api::get::<Vec<AlertFiring>>(&url).await },
                move |list| firings.set(Some(list)),
            );
        }
    };

    let status = status_label(alert.status);
    let filter = if alert.filter.is_empty() {
        view! { <span class="muted">"every entry"</span> }.into_any()
    } else {
        view! { <code class="wrap">{alert.filter.clone()}</code> }.into_any()
    };
    let changed = alert.changed.as_ref().map(|change| {
        let text = match &change.to {
            Some(to) => format!("and {} changed to “{to}”", change.field),
            None => format!("and {} changed", change.field),
        };
        view! {
            <br/>
            <span class="small">{text}</span>
        }
    });
    let fired = match alert.last_fired_at {
        Some(at) => format!("{} · last {}", alert.fired_count, local_time(at)),
        None => format!("{} · never", alert.fired_count),
    };
    let pending = (alert.pending_notifications > 0).then(|| {
        view! {
            <br/>
            <span class="small muted" data-test="alert-pending">
                {format!("{} waiting to be sent", alert.pending_notifications)}
            </span>
        }
    });
    let last_error = match (alert.last_error.clone(), alert.last_error_at) {
        (Some(message), Some(at)) if alert.status != StreamStatus::Active => Some((message, at)),
        _ => None,
    };

    view! {
        <tr data-test="alert-row" data-alert-name=alert.name.clone() data-status=status>
            <td>
                <span class="strong">{alert.name.clone()}</span>
                <br/>
                {filter}
                {changed}
            </td>
            <td data-test="alert-condition">{alert.condition_text.clone()}</td>
            <td>{alert.destination_name.clone()}</td>
            <td>{status_cell(alert.status, "alert-status", "alert-error", last_error)}</td>
            <td data-test="alert-fired">{fired} {pending}</td>
            <RowActions change>
                <button type="button" data-test="alert-firings" disabled=busy on:click=show_firings>
                    {move || if firings.get().is_some() { "Hide firings" } else { "Firings" }}
                </button>
                <button type="button" data-test="alert-toggle" disabled=busy on:click=toggle>
                    {if alert.paused { "Resume" } else { "Pause" }}
                </button>
                <ConfirmButton label="Delete" test="alert-delete" change on_confirm=delete/>
                {move || firings.get().map(|list| view! { <FiringList firings=list/> })}
            </RowActions>
        </tr>
    }
}

/// An alert's newest firings, each with a link to the entries that fired it.
#[component]
fn FiringList(firings: Vec<AlertFiring>) -> impl IntoView {
    if firings.is_empty() {
        return view! { <p class="muted small" data-test="firings-empty">"It has not fired."</p> }
            .into_any();
    }
    view! {
        <ul class="firings small" data-test="firings">
            {firings
                .into_iter()
                .map(|firing| {
                    let matches = match firing.match_count {
                        1 => "1 entry".to_string(),
                        n => format!("{n} entries"),
                    };
                    let group = firing
                        .group_label
                        .clone()
                        .or(firing.group.clone())
                        .map(|group| format!(" · {group}"));
                    let sent = if firing.notified_at.is_some() { "sent" } else { "waiting" };
                    view! {
                        <li data-test="firing">
                            {local_time(firing.fired_at)}
                            " · "
                            {matches}
                            {group}
                            " · "
                            {sent}
                            " · "
                            <a href=firing.view_url.clone() data-test="firing-view">
                                "View entries"
                            </a>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// How an alert's condition is written in the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConditionKind {
    Any,
    Threshold,
}

#[component]
fn CreateAlertForm(
    project: Signal<i64>,
    version: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
    destinations: Signal<Vec<StreamDestination>>,
) -> impl IntoView {
    let presets = alert_presets();
    let name = RwSignal::new(String::new());
    let filter = RwSignal::new(String::new());
    let changed_field = RwSignal::new(String::new());
    let changed_to = RwSignal::new(String::new());
    let kind = RwSignal::new(ConditionKind::Any);
    let count = RwSignal::new("5".to_string());
    let minutes = RwSignal::new("10".to_string());
    let group_by = RwSignal::new(None::<AlertGroupBy>);
    let destination = RwSignal::new(None::<i64>);
    let action = Action::new();
    let filter_error = filter_problem(filter);

    let apply_preset = {
        let presets = presets.clone();
        move |key: String| {
            let Some(preset) = presets.iter().find(|preset| preset.key == key) else {
                return;
            };
            name.set(preset.name.to_string());
            filter.set(preset.filter.to_string());
            let (field, to) = preset.changed.unwrap_or(("", ""));
            changed_field.set(field.to_string());
            changed_to.set(to.to_string());
            match &preset.condition {
                AlertCondition::Any => kind.set(ConditionKind::Any),
                AlertCondition::Threshold {
                    count: preset_count,
                    window_seconds,
                    group_by: preset_group,
                } => {
                    kind.set(ConditionKind::Threshold);
                    count.set(preset_count.to_string());
                    minutes.set((window_seconds / 60).max(1).to_string());
                    group_by.set(*preset_group);
                }
            }
        }
    };

    let submit = move || {
        if let Some(message) = filter_error.get_untracked() {
            return action.refuse(format!("The filter cannot be used: {message}"));
        }
        let Some(destination_id) = destination
            .get_untracked()
            .or_else(|| destinations.get_untracked().first().map(|d| d.id))
        else {
            return action.refuse("Add a destination first: alerts are sent to one.");
        };
        let condition = match kind.get_untracked() {
            ConditionKind::Any => AlertCondition::Any,
            ConditionKind::Threshold => {
                let (Ok(count), Ok(minutes)) = (
                    count.get_untracked().trim().parse::<u32>(),
                    minutes.get_untracked().trim().parse::<u32>(),
                ) else {
                    return action.refuse("The count and the minutes must be whole numbers.");
                };
                AlertCondition::Threshold {
                    count,
                    window_seconds: minutes.saturating_mul(60),
                    group_by: group_by.get_untracked(),
                }
            }
        };
        if let Some(problem) = condition.problem() {
            return action.refuse(format!("The condition cannot be used: {problem}"));
        }
        let field = changed_field.get_untracked().trim().to_string();
        let to = changed_to.get_untracked().trim().to_string();
        let body = CreateAlertRule {
            name: name.get_untracked().trim().to_string(),
            filter: filter.get_untracked().trim().to_string(),
            changed: (!field.is_empty()).then(|| AlertChange {
                field,
                to: (!to.is_empty()).then_some(to),
            }),
            condition,
            destination_id,
        };
        let endpoint = project_api(project.get_untracked(), "alerts");
        action.run(
            async move { api::post::<AlertRule, _>(&endpoint, &body).await },
            move |alert| {
                name.set(String::new());
                notice.set(Some(format!(
                    "The alert {} counts entries from now on.",
                    alert.name
                )));
                refetch(version);
            },
        );
    };

    view! {
        <PlatformForm title="New alert" test="create-alert" action submit="Create alert" on_submit=submit>
            <div class="fields">
                <label class="wide">
                    "Start from"
                    <select
                        data-test="alert-preset"
                        on:change=move |ev| apply_preset(event_target_value(&ev))
                    >
                        <option value="">"A blank alert"</option>
                        {presets
                            .iter()
                            .map(|preset| view! { <option value=preset.key>{preset.name}</option> })
                            .collect_view()}
                    </select>
                </label>
                <TextField
                    label="Name"
                    test="alert-name"
                    value=name
                    placeholder="Production deploys"
                    required=true
                />
                <label>
                    "Send to"
                    <select
                        data-test="alert-destination"
                        on:change=move |ev| destination.set(event_target_value(&ev).parse().ok())
                    >
                        {move || {
                            destinations
                                .get()
                                .into_iter()
                                .map(|option| {
                                    let id = option.id;
                                    view! {
                                        <option
                                            value=id.to_string()
                                            prop:selected=move || destination.get() == Some(id)
                                        >
                                            {option.name}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
                <TextField
                    label="Filter (an audit query, without a time range)"
                    test="alert-filter"
                    value=filter
                    wide=true
                    placeholder="every entry"
                    invalid=filter_error
                    invalid_test="alert-filter-error"
                />
                <TextField
                    label="Only when this field changed"
                    test="alert-changed-field"
                    value=changed_field
                    placeholder="role"
                />
                <TextField
                    label="…to this value"
                    test="alert-changed-to"
                    value=changed_to
                    placeholder="any value"
                />
                <label>
                    "Fire on"
                    <select
                        data-test="alert-kind"
                        on:change=move |ev| {
                            kind.set(if event_target_value(&ev) == "threshold" {
                                ConditionKind::Threshold
                            } else {
                                ConditionKind::Any
                            })
                        }
                    >
                        <option value="any" prop:selected=move || kind.get() == ConditionKind::Any>
                            "Every matching entry"
                        </option>
                        <option
                            value="threshold"
                            prop:selected=move || kind.get() == ConditionKind::Threshold
                        >
                            "A number of matches within a window"
                        </option>
                    </select>
                </label>
                <Show when=move || kind.get() == ConditionKind::Threshold>
                    <TextField label="Matches" test="alert-count" value=count kind="number" min="2"/>
                    <TextField
                        label="Within (minutes)"
                        test="alert-minutes"
                        value=minutes
                        kind="number"
                        min="1"
                    />
                    <label>
                        "Counted per"
                        <select
                            data-test="alert-group-by"
                            on:change=move |ev| group_by.set(AlertGroupBy::parse(&event_target_value(&ev)))
                        >
                            <option value="" prop:selected=move || group_by.get().is_none()>
                                "project (all together)"
                            </option>
                            {AlertGroupBy::ALL
                                .into_iter()
                                .map(|option| {
                                    view! {
                                        <option
                                            value=option.as_str()
                                            prop:selected=move || group_by.get() == Some(option)
                                        >
                                            {option.label()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                </Show>
            </div>
        </PlatformForm>
    }
}
