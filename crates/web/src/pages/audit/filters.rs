//! The filter bar: date range, search, active filter chips, and the value pickers.

use auditlog_shared::wire::{FacetValue, Facets};
use auditlog_shared::{
    AuditQuery, CustomRange, DateRange, Dimension, FacetRequest, Preset, SearchText,
};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::time::{Zone, ZoneSwitch};
use super::ViewNavigator;
use crate::api;

/// Values a picker lists at once; typing narrows them on the server.
const PICKER_LIMIT: u32 = 50;
/// The namespace of the audit log's own actions, which "Hide audit-log reads" excludes.
const AUDIT_LOG_NAMESPACE: &str = "audit_log.*";

/// One active filter value: which dimension, whether it excludes, and the value as the query
/// string spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chip {
    pub dimension: Dimension,
    pub exclude: bool,
    pub value: String,
}

impl Chip {
    /// "Method excludes GET", with the value's readable name when the facets know it.
    pub fn describe(&self, facets: Option<&Facets>) -> String {
        let verb = if self.exclude { "excludes" } else { "is" };
        format!(
            "{} {verb} {}",
            self.dimension.label(),
            label_of(facets, self.dimension, &self.value)
        )
    }
}

/// The active filters of a query, in canonical order.
pub fn chips(query: &AuditQuery) -> Vec<Chip> {
    Dimension::ALL
        .into_iter()
        .flat_map(|dimension| {
            let (include, exclude) = query.filter_strings(dimension);
            include
                .into_iter()
                .map(move |value| (dimension, false, value))
                .chain(
                    exclude
                        .into_iter()
                        .map(move |value| (dimension, true, value)),
                )
        })
        .map(|(dimension, exclude, value)| Chip {
            dimension,
            exclude,
            value,
        })
        .collect()
}

thread_local! {
    /// Names of values seen in the facets this page loaded (the view's, the picker's), so that a
    /// chip added from the picker is named at once, before the new view's facets arrive.
    static SEEN_LABELS: std::cell::RefCell<std::collections::HashMap<(Dimension, String), String>> =
        Default::default();
}

/// Remembers the names a facets answer gives (see [`label_of`]).
pub fn remember_labels(facets: &Facets) {
    SEEN_LABELS.with(|seen| {
        let mut seen = seen.borrow_mut();
        for dimension in &facets.dimensions {
            let Some(key) = Dimension::from_key(&dimension.key) else {
                continue;
            };
            for value in dimension.values.iter().chain(&dimension.selected) {
                if value.label != value.value {
                    seen.insert((key, value.value.clone()), value.label.clone());
                }
            }
        }
    });
}

/// The readable label of a value: from the facets' listed values, or from the values the view
/// filters on (which the facets always name), or else as an earlier answer named it.
pub fn label_of(facets: Option<&Facets>, dimension: Dimension, value: &str) -> String {
    facets
        .and_then(|f| f.dimensions.iter().find(|d| d.key == dimension.key()))
        .and_then(|d| {
            d.values
                .iter()
                .chain(&d.selected)
                .find(|v| v.value == value)
        })
        .map(|v| v.label.clone())
        .or_else(|| {
            SEEN_LABELS.with(|seen| seen.borrow().get(&(dimension, value.to_string())).cloned())
        })
        .unwrap_or_else(|| value.to_string())
}

/// Adds or removes a value in a query through its canonical string, so that the shared parser
/// stays the only place that knows how values are spelled.
pub fn with_value(
    query: &AuditQuery,
    dimension: Dimension,
    exclude: bool,
    value: &str,
    add: bool,
) -> Option<AuditQuery> {
    let key = dimension.key();
    let full_key = if exclude {
        format!("{key}.not")
    } else {
        key.to_string()
    };
    let mut text = query.to_query_string();
    let pair = format!(
        "{full_key}={}",
        auditlog_shared::encode_query_component(value)
    );
    if add {
        if !text.is_empty() {
            text.push('&');
        }
        text.push_str(&pair);
        AuditQuery::parse(&text).ok()
    } else {
        let kept: Vec<&str> = text.split('&').filter(|p| *p != pair).collect();
        AuditQuery::parse(&kept.join("&")).ok()
    }
}

/// The view filtered on one more value (click-to-filter): included, or excluded. A value in
/// the opposite list moves over; a value already there leaves the view as it is.
pub fn filtered_on(
    query: &AuditQuery,
    dimension: Dimension,
    exclude: bool,
    value: &str,
) -> Option<AuditQuery> {
    let (include, excluded) = query.filter_strings(dimension);
    let (same, opposite) = if exclude {
        (excluded, include)
    } else {
        (include, excluded)
    };
    if same.iter().any(|v| v == value) {
        return Some(query.clone());
    }
    let mut base = if opposite.iter().any(|v| v == value) {
        with_value(query, dimension, !exclude, value, false)?
    } else {
        query.clone()
    };
    // Included values are alternatives: a code inside an included class (503 under 5xx) would
    // not narrow the view, so it replaces the class.
    if dimension == Dimension::Status && !exclude {
        let class = value.get(..1).map(|digit| format!("{digit}xx"));
        if let Some(class) = class.filter(|class| same.contains(class)) {
            base = with_value(&base, dimension, false, &class, false)?;
        }
    }
    with_value(&base, dimension, exclude, value, true)
}

#[component]
pub fn FilterBar(
    query: Signal<AuditQuery>,
    /// The view without its page, as the facets requests send it.
    view_string: Signal<String>,
    facets: Signal<Option<Facets>>,
    project: Signal<i64>,
    navigator: ViewNavigator,
) -> impl IntoView {
    let search = RwSignal::new(String::new());
    // Keep the box in step with the URL (back/forward, reload, clear).
    Effect::new(move |_| {
        search.set(
            query
                .get()
                .search
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        );
    });
    let pending = StoredValue::new(None::<TimeoutHandle>);
    let search_navigator = navigator.clone();
    let on_search = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        search.set(text.clone());
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        let navigator = search_navigator.clone();
        let handle = set_timeout_with_handle(
            move || {
                let current = query.get_untracked();
                let trimmed = text.trim();
                navigator.change(&current, |q| {
                    q.search = (!trimmed.is_empty())
                        .then(|| SearchText::new(trimmed).ok())
                        .flatten();
                });
            },
            std::time::Duration::from_millis(350),
        )
        .ok();
        pending.set_value(handle);
    };

    let preset_navigator = navigator.clone();
    let presets = Preset::ALL.map(|preset| {
        let navigator = preset_navigator.clone();
        let active = move || query.get().range == DateRange::Last(preset);
        view! {
            <button
                class="segment"
                class:active=active
                data-test=format!("range-{}", preset.as_str())
                on:click=move |_| navigator.change(&query.get_untracked(), |q| q.range = DateRange::Last(preset))
            >
                {preset.label()}
            </button>
        }
    });

    let zone = Zone::current();
    let custom_from = RwSignal::new(String::new());
    let custom_to = RwSignal::new(String::new());
    Effect::new(move |_| {
        let resolved = query.get().range.resolve(Utc::now());
        let zone = zone.get();
        custom_from.set(input_text(zone, resolved.from));
        custom_to.set(input_text(zone, resolved.to));
    });
    let range_error = RwSignal::new(None::<String>);
    let custom_navigator = navigator.clone();
    let apply_custom = move |_| {
        let zone = zone.get_untracked();
        let from = zone.parse_input(&custom_from.get_untracked());
        let to = zone.parse_input(&custom_to.get_untracked());
        match CustomRange::new(from, to) {
            Ok(range) => {
                range_error.set(None);
                custom_navigator.change(&query.get_untracked(), |q| {
                    q.range = DateRange::Custom(range)
                });
            }
            Err(error) => range_error.set(Some(error.to_string())),
        }
    };

    let chip_navigator = navigator.clone();
    let active_chips = move || {
        let current = query.get();
        let facets = facets.get();
        chips(&current)
            .into_iter()
            .map(|chip| {
                let navigator = chip_navigator.clone();
                let current = current.clone();
                let description = chip.describe(facets.as_ref());
                let remove = chip.clone();
                view! {
                    <span class="chip" class:exclude=chip.exclude data-test="chip">
                        <span>{description.clone()}</span>
                        <button
                            class="chip-remove"
                            aria-label=format!("Remove filter {description}")
                            on:click=move |_| {
                                if let Some(next) = with_value(&current, remove.dimension, remove.exclude, &remove.value, false) {
                                    navigator.change(&next, |_| {});
                                }
                            }
                        >
                            "×"
                        </button>
                    </span>
                }
            })
            .collect_view()
    };
    // A request id narrows the view like a filter, so it shows as one and can be removed.
    let request_navigator = navigator.clone();
    let request_chip = move || {
        let current = query.get();
        current.request_id.clone().map(|request_id| {
            let navigator = request_navigator.clone();
            let description = format!("Request id is {}", request_id.as_str());
            view! {
                <span class="chip" data-test="chip">
                    <span>{description.clone()}</span>
                    <button
                        class="chip-remove"
                        aria-label=format!("Remove filter {description}")
                        on:click=move |_| navigator.change(&current, |q| q.request_id = None)
                    >
                        "×"
                    </button>
                </span>
            }
        })
    };
    // The audit log's own requests (the investigator's reads, exports, verifications) are
    // captured like any other; one switch hides them all as an exclude of their namespace.
    let own_reads_hidden = move || {
        query
            .get()
            .filter_strings(Dimension::Action)
            .1
            .iter()
            .any(|value| value == AUDIT_LOG_NAMESPACE)
    };
    let reads_navigator = navigator.clone();
    let toggle_own_reads = move |_| {
        let current = query.get_untracked();
        let hidden = current
            .filter_strings(Dimension::Action)
            .1
            .iter()
            .any(|value| value == AUDIT_LOG_NAMESPACE);
        if let Some(next) = with_value(
            &current,
            Dimension::Action,
            true,
            AUDIT_LOG_NAMESPACE,
            !hidden,
        ) {
            reads_navigator.change(&next, |_| {});
        }
    };
    let clear_navigator = navigator.clone();
    let clear_all = move |_| {
        let range = query.get_untracked().range;
        clear_navigator.go(&AuditQuery {
            range,
            ..AuditQuery::default()
        });
    };

    // A relative view ("last 24 hours") means another window tomorrow: this link pins the window
    // it shows now.
    let absolute_link = RwSignal::new(None::<String>);
    let pin = move |_| {
        let mut pinned = query.get_untracked();
        let resolved = pinned.range.resolve(Utc::now());
        if let Ok(range) = CustomRange::new(Some(resolved.from), Some(resolved.to)) {
            pinned.range = DateRange::Custom(range);
        }
        pinned.cursor = None;
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        let link = format!(
            "{origin}/projects/{}/security/audit-logs?{}",
            project.get_untracked(),
            pinned.to_query_string()
        );
        if let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) {
            let _ = clipboard.write_text(&link);
        }
        absolute_link.set(Some(link));
    };
    Effect::new(move |_| {
        query.track();
        absolute_link.set(None);
    });

    view! {
        <section class="card filter-bar">
            <super::bar::QueryBar query=query view_string=view_string facets=facets project=project
                navigator=navigator.clone()/>
            <div class="filter-row">
                <div class="segments" role="group" aria-label="Date range">{presets}</div>
                <ZoneSwitch/>
                <Show when=move || matches!(query.get().range, DateRange::Last(_))>
                    <button class="link" on:click=pin data-test="copy-absolute-link"
                        title="Copy a link to exactly the window shown now">
                        "Copy link with absolute time"
                    </button>
                </Show>
                <div class="custom-range">
                    <input type="datetime-local" step="1" aria-label="From" prop:value=custom_from
                        on:input=move |ev| custom_from.set(event_target_value(&ev))/>
                    <span class="muted">"→"</span>
                    <input type="datetime-local" step="1" aria-label="To" prop:value=custom_to
                        on:input=move |ev| custom_to.set(event_target_value(&ev))/>
                    <button on:click=apply_custom data-test="apply-custom-range">"Apply"</button>
                </div>
                <input
                    class="search"
                    type="search"
                    placeholder="Search actions, people, paths, tokens, applications, clusters"
                    aria-label="Search"
                    data-test="search"
                    prop:value=search
                    on:input=on_search
                />
            </div>
            {move || range_error.get().map(|e| view! { <p class="error small">{e}</p> })}
            {move || absolute_link.get().map(|link| view! {
                <p class="small">
                    "Copied: " <a href=link.clone() data-test="absolute-link">{link.clone()}</a>
                </p>
            })}
            <div class="filter-row chips">
                <label class="switch" title="Hide the audit log's own requests: reading, exporting and verifying it (audit_log.*)">
                    <input type="checkbox" data-test="hide-own-reads" prop:checked=own_reads_hidden
                        on:change=toggle_own_reads/>
                    "Hide audit-log reads"
                </label>
                {active_chips}
                {request_chip}
                <AddFilter query=query view_string=view_string project=project navigator=navigator.clone()/>
                <Show when=move || query.get().has_filters()>
                    <button class="link" on:click=clear_all.clone() data-test="clear-all">"Clear all"</button>
                </Show>
            </div>
        </section>
    }
}

/// Picks a dimension, include or exclude, and a value. The values come from the server as the
/// admin types: the facets of this view for the chosen dimension whose value or name contains
/// the text, so a rare value is found however many frequent ones there are.
#[component]
fn AddFilter(
    query: Signal<AuditQuery>,
    view_string: Signal<String>,
    project: Signal<i64>,
    navigator: ViewNavigator,
) -> impl IntoView {
    let dimension = RwSignal::new(Dimension::Action);
    let exclude = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    // The text the listed values were asked for (typing is debounced).
    let searched = RwSignal::new(String::new());
    let open = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let facets_url = move |contains: &str| {
        let request = FacetRequest {
            dimension: Some(dimension.get()),
            contains: (!contains.trim().is_empty()).then(|| contains.trim().to_lowercase()),
            limit: PICKER_LIMIT,
        };
        let view = view_string.get();
        let separator = if view.is_empty() { "" } else { "&" };
        format!(
            "/api/v1/projects/{}/audit-logs/facets?{view}{separator}{}",
            project.get(),
            request.to_query_string()
        )
    };
    // The listed values belong to the text they were asked for: while another text's values
    // load, the list says so instead of showing the older ones.
    let options_url = Memo::new(move |_| facets_url(&searched.get()));
    let options = LocalResource::new(move || {
        let url = options_url.get();
        let wanted = open.get();
        async move {
            if !wanted {
                return None;
            }
            let answer = api::get::<Facets>(&url).await;
            if let Ok(facets) = &answer {
                remember_labels(facets);
            }
            Some((url, answer))
        }
    });
    let listed = move || -> Option<Result<(Vec<FacetValue>, u64), String>> {
        let current = options
            .get()
            .flatten()
            .filter(|(url, _)| *url == options_url.get())
            .map(|(_, answer)| answer);
        current.map(|answer| {
            answer
                .map(|facets| {
                    let dimension = facets.dimensions.into_iter().next();
                    dimension
                        .map(|d| (d.values, d.other_values))
                        .unwrap_or_default()
                })
                .map_err(|e| e.message)
        })
    };

    let pending = StoredValue::new(None::<TimeoutHandle>);
    let on_input = move |ev: leptos::ev::Event| {
        let typed = event_target_value(&ev);
        text.set(typed.clone());
        error.set(None);
        open.set(true);
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        let handle = set_timeout_with_handle(
            move || searched.set(typed),
            std::time::Duration::from_millis(200),
        )
        .ok();
        pending.set_value(handle);
    };

    let apply_navigator = navigator.clone();
    let apply = move |value: String| match filtered_on(
        &query.get_untracked(),
        dimension.get_untracked(),
        exclude.get_untracked(),
        &value,
    ) {
        Some(next) => {
            error.set(None);
            text.set(String::new());
            searched.set(String::new());
            open.set(false);
            apply_navigator.change(&next, |_| {});
        }
        None => error.set(Some(format!("“{value}” cannot be added to this view"))),
    };

    // Adds what was typed: the value whose label or value it is exactly, else the only value
    // that contains it, else the text itself when it is a valid value. Asks the server afresh,
    // so a quick Enter does not act on the values of an older text.
    let add_typed = {
        let apply = apply.clone();
        move || {
            let typed = text.get_untracked().trim().to_string();
            let chosen_dimension = dimension.get_untracked();
            if typed.is_empty() {
                error.set(Some(format!(
                    "Type or pick a value of {}",
                    chosen_dimension.label().to_lowercase()
                )));
                return;
            }
            let url = facets_url(&typed);
            let apply = apply.clone();
            busy.set(true);
            spawn_local(async move {
                let found = api::get::<Facets>(&url).await;
                busy.set(false);
                if let Ok(facets) = &found {
                    remember_labels(facets);
                }
                let values = match found {
                    Ok(facets) => facets
                        .dimensions
                        .into_iter()
                        .next()
                        .map(|d| d.values)
                        .unwrap_or_default(),
                    Err(e) => {
                        error.set(Some(e.message));
                        return;
                    }
                };
                let exact = values.iter().find(|v| {
                    v.label.eq_ignore_ascii_case(&typed) || v.value.eq_ignore_ascii_case(&typed)
                });
                let chosen = match (exact, values.as_slice()) {
                    (Some(exact), _) => Some(exact.value.clone()),
                    (None, [only]) => Some(only.value.clone()),
                    _ => None,
                };
                match chosen {
                    Some(value) => apply(value),
                    None if filtered_on(
                        &query.get_untracked(),
                        chosen_dimension,
                        exclude.get_untracked(),
                        &typed,
                    )
                    .is_some() =>
                    {
                        apply(typed)
                    }
                    None if values.is_empty() => error.set(Some(format!(
                        "No {} matches “{typed}” in this view",
                        chosen_dimension.label().to_lowercase()
                    ))),
                    None => {
                        searched.set(typed.clone());
                        open.set(true);
                        error.set(Some(format!(
                            "“{typed}” matches {} values: pick one from the list",
                            values.len()
                        )));
                    }
                }
            });
        }
    };
    let add_on_enter = add_typed.clone();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" => {
            ev.prevent_default();
            add_on_enter();
        }
        "Escape" => open.set(false),
        _ => {}
    };

    let option_list = move || {
        if !open.get() {
            return None;
        }
        let apply = apply.clone();
        Some(match listed() {
            None => view! { <div class="picker-list muted small" data-test="filter-options-loading">"Loading values…"</div> }.into_any(),
            Some(Err(message)) => view! { <div class="picker-list error small">{message}</div> }.into_any(),
            Some(Ok((values, more))) if values.is_empty() => view! {
                <div class="picker-list muted small" data-test="filter-options-empty">
                    {if searched.get().trim().is_empty() {
                        "No values in this view".to_string()
                    } else {
                        format!("No value contains “{}”", searched.get().trim())
                    }}
                    {(more > 0).then(|| format!(" ({more} more)"))}
                </div>
            }.into_any(),
            Some(Ok((values, more))) => {
                let items = values
                    .into_iter()
                    .map(|v| {
                        let apply = apply.clone();
                        let value = v.value.clone();
                        view! {
                            <li role="option">
                                <button
                                    type="button"
                                    class="picker-option"
                                    data-test="filter-option"
                                    data-value=v.value.clone()
                                    // Keeps the focus in the text box, so the list stays open.
                                    on:mousedown=|ev| ev.prevent_default()
                                    on:click=move |_| apply(value.clone())
                                >
                                    <span>{v.label.clone()}</span>
                                    <span class="muted small">{v.count.to_string()}</span>
                                </button>
                            </li>
                        }
                    })
                    .collect_view();
                view! {
                    <ul class="picker-list" role="listbox" id="filter-options" data-test="filter-options">
                        {items}
                        {(more > 0).then(|| view! {
                            <li class="muted small picker-more">{format!("{more} more — type to narrow")}</li>
                        })}
                    </ul>
                }.into_any()
            }
        })
    };

    view! {
        <span class="add-filter">
            <select aria-label="Filter dimension" data-test="filter-dimension"
                on:change=move |ev| {
                    if let Some(chosen) = Dimension::from_key(&event_target_value(&ev)) {
                        dimension.set(chosen);
                        error.set(None);
                    }
                }>
                {Dimension::ALL.map(|d| view! {
                    <option value=d.key() selected=move || dimension.get() == d>{d.label()}</option>
                })}
            </select>
            <select aria-label="Include or exclude" data-test="filter-mode"
                on:change=move |ev| exclude.set(event_target_value(&ev) == "exclude")>
                <option value="include">"is"</option>
                <option value="exclude">"excludes"</option>
            </select>
            <span class="picker">
                <input
                    placeholder="type to find a value"
                    aria-label="Filter value"
                    data-test="filter-value"
                    role="combobox"
                    aria-autocomplete="list"
                    aria-controls="filter-options"
                    aria-expanded=move || open.get().to_string()
                    prop:value=text
                    on:input=on_input
                    on:focus=move |_| open.set(true)
                    on:blur=move |_| open.set(false)
                    on:keydown=on_keydown
                />
                {option_list}
            </span>
            <button on:click=move |_| add_typed() disabled=busy data-test="add-filter">"Add filter"</button>
            {move || error.get().map(|e| view! { <span class="error small" role="alert" data-test="filter-error">{e}</span> })}
        </span>
    }
}

/// An instant as a `datetime-local` value in the zone times are shown in.
fn input_text(zone: Zone, instant: DateTime<Utc>) -> String {
    zone.format(instant, "%Y-%m-%dT%H:%M:%S")
}
