//! The filter bar: date range, search, active filter chips, and the value pickers.

use auditlog_shared::wire::Facets;
use auditlog_shared::{AuditQuery, CustomRange, DateRange, Preset, SearchText};
use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};
use leptos::prelude::*;

use super::ViewNavigator;

/// The dimensions a user can filter on, with their labels.
pub const DIMENSIONS: [(&str, &str); 8] = [
    ("actor", "Actor"),
    ("method", "Method"),
    ("source", "Source"),
    ("action", "Action"),
    ("status", "Status code"),
    ("resource_type", "Resource type"),
    ("application", "Application"),
    ("cluster", "Cluster"),
];

/// One active filter value: which dimension, whether it excludes, the value and how to show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chip {
    pub key: &'static str,
    pub exclude: bool,
    pub value: String,
}

/// The active filters of a query, read back from its canonical form (filter values are plain
/// tokens such as `user:12`, `DELETE`, `5xx` or ids, which the canonical form leaves as they are).
pub fn chips(query: &AuditQuery) -> Vec<Chip> {
    query
        .to_query_string()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(key, value)| {
            let (dimension, exclude) = match key.strip_suffix(".not") {
                Some(dimension) => (dimension, true),
                None => (key, false),
            };
            let key = DIMENSIONS.iter().find(|(k, _)| *k == dimension)?.0;
            Some(Chip {
                key,
                exclude,
                value: value.to_string(),
            })
        })
        .collect()
}

/// The readable label of a value, from the facets when they know it.
pub fn label_of(facets: Option<&Facets>, key: &str, value: &str) -> String {
    facets
        .and_then(|f| f.dimensions.iter().find(|d| d.key == key))
        .and_then(|d| d.values.iter().find(|v| v.value == value))
        .map(|v| v.label.clone())
        .unwrap_or_else(|| value.to_string())
}

/// Adds or removes a value in a query through its canonical string, so that the shared parser
/// stays the only place that knows how values are spelled.
pub fn with_value(
    query: &AuditQuery,
    key: &str,
    exclude: bool,
    value: &str,
    add: bool,
) -> Option<AuditQuery> {
    let full_key = if exclude {
        format!("{key}.not")
    } else {
        key.to_string()
    };
    let mut text = query.to_query_string();
    let pair = format!("{full_key}={value}");
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

#[component]
pub fn FilterBar(
    query: Signal<AuditQuery>,
    facets: Signal<Option<Facets>>,
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

    let custom_from = RwSignal::new(String::new());
    let custom_to = RwSignal::new(String::new());
    Effect::new(move |_| {
        let resolved = query.get().range.resolve(Utc::now());
        custom_from.set(local_input(resolved.from));
        custom_to.set(local_input(resolved.to));
    });
    let range_error = RwSignal::new(None::<String>);
    let custom_navigator = navigator.clone();
    let apply_custom = move |_| {
        let from = parse_local_input(&custom_from.get_untracked());
        let to = parse_local_input(&custom_to.get_untracked());
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
                let name = DIMENSIONS.iter().find(|(k, _)| *k == chip.key).map(|(_, l)| *l).unwrap_or(chip.key);
                let verb = if chip.exclude { "excludes" } else { "is" };
                let label = label_of(facets.as_ref(), chip.key, &chip.value);
                let remove = chip.clone();
                view! {
                    <span class="chip" class:exclude=chip.exclude data-test="chip">
                        <span>{format!("{name} {verb} {label}")}</span>
                        <button
                            class="chip-remove"
                            aria-label=format!("Remove filter {name} {verb} {label}")
                            on:click=move |_| {
                                if let Some(next) = with_value(&current, remove.key, remove.exclude, &remove.value, false) {
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
    let clear_navigator = navigator.clone();
    let clear_all = move |_| {
        let range = query.get_untracked().range;
        clear_navigator.go(&AuditQuery {
            range,
            ..AuditQuery::default()
        });
    };

    view! {
        <section class="card filter-bar">
            <div class="filter-row">
                <div class="segments" role="group" aria-label="Date range">{presets}</div>
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
                    placeholder="Search paths, emails, tokens, applications, clusters"
                    aria-label="Search"
                    data-test="search"
                    prop:value=search
                    on:input=on_search
                />
            </div>
            {move || range_error.get().map(|e| view! { <p class="error small">{e}</p> })}
            <div class="filter-row chips">
                {active_chips}
                <AddFilter query=query facets=facets navigator=navigator.clone()/>
                <Show when=move || query.get().has_filters()>
                    <button class="link" on:click=clear_all.clone() data-test="clear-all">"Clear all"</button>
                </Show>
            </div>
        </section>
    }
}

/// Picks a dimension, include or exclude, and a value (with counts from the facets).
#[component]
fn AddFilter(
    query: Signal<AuditQuery>,
    facets: Signal<Option<Facets>>,
    navigator: ViewNavigator,
) -> impl IntoView {
    let dimension = RwSignal::new("method".to_string());
    let exclude = RwSignal::new(false);
    let value = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let options = move || {
        let key = dimension.get();
        facets
            .get()
            .and_then(|f| f.dimensions.into_iter().find(|d| d.key == key))
            .map(|d| d.values)
            .unwrap_or_default()
    };
    let add = move |_| {
        let key = dimension.get_untracked();
        let typed = value.get_untracked();
        // A typed label maps back to its value.
        let chosen = options()
            .into_iter()
            .find(|v| v.label == typed || v.value == typed)
            .map(|v| v.value)
            .unwrap_or(typed);
        let key: &'static str = DIMENSIONS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(k, _)| *k)
            .unwrap_or("method");
        match with_value(
            &query.get_untracked(),
            key,
            exclude.get_untracked(),
            chosen.trim(),
            true,
        ) {
            Some(next) => {
                error.set(None);
                value.set(String::new());
                navigator.change(&next, |_| {});
            }
            None => error.set(Some(format!("`{chosen}` is not a valid value here"))),
        }
    };
    view! {
        <span class="add-filter">
            <select aria-label="Filter dimension" data-test="filter-dimension"
                on:change=move |ev| dimension.set(event_target_value(&ev))>
                {DIMENSIONS.map(|(key, label)| view! { <option value=key selected=move || dimension.get() == key>{label}</option> })}
            </select>
            <select aria-label="Include or exclude" data-test="filter-mode"
                on:change=move |ev| exclude.set(event_target_value(&ev) == "exclude")>
                <option value="include">"is"</option>
                <option value="exclude">"excludes"</option>
            </select>
            <input list="facet-values" placeholder="value" aria-label="Filter value" data-test="filter-value"
                prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
            <datalist id="facet-values">
                {move || options().into_iter().map(|v| view! {
                    <option value=v.value.clone()>{format!("{} ({})", v.label, v.count)}</option>
                }).collect_view()}
            </datalist>
            <button on:click=add data-test="add-filter">"Add filter"</button>
            {move || error.get().map(|e| view! { <span class="error small">{e}</span> })}
        </span>
    }
}

/// An instant as a `datetime-local` value in the browser's time zone.
fn local_input(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&Local)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn parse_local_input(text: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .ok()?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}
