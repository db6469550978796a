//! The typed query bar: the view as text (`actor:"Dana Quill" -method:GET status:5xx deploy`),
//! kept in step with the chips both ways.
//!
//! The URL's view is written into the bar with readable names; Enter reads the text back with
//! the shared parser. Names the page already knows (the chips', the suggestions picked) and ids
//! are resolved here; any other name is read by the server against the project
//! (`GET …/audit-logs/query?bar=`). An error names its token, which the bar marks. While a
//! `key:` is typed, the view's values of that dimension containing the rest are suggested.

use auditlog_shared::bar::{is_id, quote, to_bar, BarKey, ParsedBar};
use auditlog_shared::wire::{BarQuery, Facets};
use auditlog_shared::{AuditQuery, Dimension, FacetRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::filters::label_of;
use super::ViewNavigator;
use crate::api;

/// Suggestions listed at once.
const SUGGESTION_LIMIT: u32 = 8;
/// The bar's keys, as suggested for a word without a colon.
const KEYS: [&str; 12] = [
    "actor", "method", "source", "action", "status", "type", "app", "cluster", "request", "range",
    "after", "before",
];

/// A name the page knows: which dimension, the name, and the query-string value it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KnownName {
    dimension: Dimension,
    name: String,
    value: String,
}

/// A text that cannot be read: what is wrong, and the characters of its token.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BarProblem {
    message: String,
    span: (usize, usize),
}

#[component]
pub fn QueryBar(
    query: Signal<AuditQuery>,
    /// The view without its page, as the facets requests send it.
    view_string: Signal<String>,
    facets: Signal<Option<Facets>>,
    project: Signal<i64>,
    navigator: ViewNavigator,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    // Whether the admin has typed since the bar last showed the view.
    let editing = RwSignal::new(false);
    let problem = RwSignal::new(None::<BarProblem>);
    let busy = RwSignal::new(false);
    let picked = RwSignal::new(Vec::<KnownName>::new());

    // The URL's view, written with names, unless the admin is typing.
    Effect::new(move |_| {
        let current = query.get();
        let names = known_names(&current, facets.get().as_ref());
        if editing.get_untracked() {
            return;
        }
        let written = to_bar(&current, |dimension, value| {
            names
                .iter()
                .find(|known| known.dimension == dimension && known.value == value)
                .map(|known| known.name.clone())
        });
        text.set(written);
        problem.set(None);
    });

    let submit_navigator = navigator.clone();
    let submit = move || {
        let typed = text.get_untracked();
        let parsed = match ParsedBar::parse(&typed) {
            Ok(parsed) => parsed,
            Err(error) => {
                problem.set(Some(BarProblem {
                    message: error.message,
                    span: (error.span.start, error.span.end),
                }));
                return;
            }
        };
        let mut known = known_names(&query.get_untracked(), facets.get_untracked().as_ref());
        known.extend(picked.get_untracked());
        let mut needs_server = false;
        let local = parsed.to_query(|dimension, value| {
            if is_id(dimension, value) {
                return Ok(value.to_string());
            }
            match known
                .iter()
                .find(|k| k.dimension == dimension && k.name.eq_ignore_ascii_case(value))
            {
                Some(found) => Ok(found.value.clone()),
                None => {
                    needs_server = true;
                    Err(String::new())
                }
            }
        });
        let page_size = query.get_untracked().page_size;
        let navigator = submit_navigator.clone();
        let go = move |mut next: AuditQuery| {
            next.page_size = page_size;
            editing.set(false);
            problem.set(None);
            navigator.change(&next, |_| {});
        };
        match local {
            Ok(next) => go(next),
            Err(error) if !needs_server => problem.set(Some(BarProblem {
                message: error.message,
                span: (error.span.start, error.span.end),
            })),
            Err(_) => {
                let url = format!(
                    "/api/v1/projects/{}/audit-logs/query?bar={}",
                    project.get_untracked(),
                    auditlog_shared::encode_query_component(&typed)
                );
                busy.set(true);
                spawn_local(async move {
                    let answer = api::get::<BarQuery>(&url).await;
                    busy.set(false);
                    match answer.map(|read| AuditQuery::parse(&read.canonical)) {
                        Ok(Ok(next)) => go(next),
                        Ok(Err(error)) => problem.set(Some(BarProblem {
                            message: error.to_string(),
                            span: (0, typed.chars().count()),
                        })),
                        Err(error) => problem.set(Some(BarProblem {
                            span: error.span.unwrap_or((0, typed.chars().count())),
                            message: error.message,
                        })),
                    }
                });
            }
        }
    };

    // Suggestions for the word being typed (the last one): keys, or values of its key.
    let last_word = move || -> String {
        let typed = text.get();
        typed
            .rsplit(char::is_whitespace)
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let suggestion_url = Memo::new(move |_| {
        if !editing.get() {
            return None;
        }
        let word = last_word();
        let (key, partial) = word.trim_start_matches('-').split_once(':')?;
        let dimension = match BarKey::from_bar_name(key)? {
            BarKey::Dimension(dimension) => dimension,
            _ => return None,
        };
        let partial = partial.trim_matches('"');
        let request = FacetRequest {
            dimension: Some(dimension),
            contains: (!partial.is_empty()).then(|| partial.to_lowercase()),
            limit: SUGGESTION_LIMIT,
        };
        let view = view_string.get();
        let separator = if view.is_empty() { "" } else { "&" };
        Some((
            dimension,
            format!(
                "/api/v1/projects/{}/audit-logs/facets?{view}{separator}{}",
                project.get(),
                request.to_query_string()
            ),
        ))
    });
    let suggestions = LocalResource::new(move || {
        let wanted = suggestion_url.get();
        async move {
            let (dimension, url) = wanted?;
            let facets = api::get::<Facets>(&url).await.ok()?;
            super::filters::remember_labels(&facets);
            let values = facets.dimensions.into_iter().next()?.values;
            Some((url, dimension, values))
        }
    });
    let listed_values = move || {
        suggestions
            .get()
            .flatten()
            .filter(|(url, _, _)| Some(url) == suggestion_url.get().map(|(_, u)| u).as_ref())
    };
    let key_suggestions = move || -> Vec<&'static str> {
        if !editing.get() {
            return Vec::new();
        }
        let word = last_word();
        let bare = word.trim_start_matches('-');
        if bare.is_empty() || bare.contains(':') || bare.starts_with('"') {
            return Vec::new();
        }
        KEYS.into_iter()
            .filter(|key| key.starts_with(&bare.to_ascii_lowercase()) && *key != bare)
            .collect()
    };
    // Replaces the last word with `replacement`, keeping what was typed before it.
    let replace_last_word = move |replacement: String| {
        let typed = text.get_untracked();
        let keep = typed
            .rfind(char::is_whitespace)
            .map(|at| &typed[..=at])
            .unwrap_or("");
        text.set(format!("{keep}{replacement}"));
        problem.set(None);
    };

    let on_keydown = {
        let submit = submit.clone();
        move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
            "Enter" => {
                ev.prevent_default();
                submit();
            }
            "Escape" => {
                // Shows the view again, dropping what was typed.
                editing.set(false);
                let current = query.get_untracked();
                let names = known_names(&current, facets.get_untracked().as_ref());
                text.set(to_bar(&current, |dimension, value| {
                    names
                        .iter()
                        .find(|known| known.dimension == dimension && known.value == value)
                        .map(|known| known.name.clone())
                }));
                problem.set(None);
            }
            _ => {}
        }
    };

    view! {
        <div class="query-bar">
            <input
                type="text"
                class="query-bar-input"
                aria-label="Query"
                placeholder="actor:dana -method:GET status:5xx app:billing \"payments\" after:2026-11-20"
                spellcheck="false"
                autocomplete="off"
                data-test="query-bar"
                aria-invalid=move || problem.get().is_some().to_string()
                prop:value=text
                on:input=move |ev| {
                    text.set(event_target_value(&ev));
                    editing.set(true);
                    problem.set(None);
                }
                on:keydown=on_keydown
            />
            <button on:click=move |_| submit() disabled=move || busy.get() data-test="query-bar-apply">
                "Apply"
            </button>
            {move || problem.get().map(|problem| {
                let typed: Vec<char> = text.get_untracked().chars().collect();
                let (start, end) = (problem.span.0.min(typed.len()), problem.span.1.min(typed.len()));
                let before: String = typed[..start].iter().collect();
                let token: String = typed[start..end].iter().collect();
                let after: String = typed[end..].iter().collect();
                view! {
                    <div class="query-bar-problem" role="alert" data-test="query-bar-error">
                        <p class="error small">{problem.message.clone()}</p>
                        <p class="query-bar-echo small">
                            {before}<mark data-test="query-bar-token">{token}</mark>{after}
                        </p>
                    </div>
                }
            })}
            <ul class="query-bar-suggestions" data-test="query-bar-suggestions">
                {move || key_suggestions().into_iter().map(|key| {
                    let sign = if last_word().starts_with('-') { "-" } else { "" };
                    let replacement = format!("{sign}{key}:");
                    view! {
                        <li><button class="link" on:click=move |_| replace_last_word(replacement.clone())>
                            {format!("{key}:")}
                        </button></li>
                    }
                }).collect_view()}
                {move || listed_values().map(|(_, dimension, values)| {
                    values.into_iter().map(|value| {
                        let word = last_word();
                        let sign = if word.starts_with('-') { "-" } else { "" };
                        let key = word.trim_start_matches('-').split_once(':').map(|(k, _)| k.to_string()).unwrap_or_default();
                        let named = matches!(dimension, Dimension::Actor | Dimension::Application | Dimension::Cluster);
                        let written = if named { value.label.clone() } else { value.value.clone() };
                        let replacement = format!("{sign}{key}:{}", quote(&written));
                        let remembered = KnownName { dimension, name: value.label.clone(), value: value.value.clone() };
                        view! {
                            <li><button class="link" data-test="query-bar-suggestion" on:click=move |_| {
                                picked.update(|picked| picked.push(remembered.clone()));
                                replace_last_word(replacement.clone());
                            }>
                                {format!("{}  {}", value.label, value.count)}
                            </button></li>
                        }
                    }).collect_view()
                })}
            </ul>
        </div>
    }
}

/// The names of a view's own actor, application and cluster values, from the page's facets. A
/// name two values share is left out, so that those values are written (and read) as ids.
fn known_names(query: &AuditQuery, facets: Option<&Facets>) -> Vec<KnownName> {
    let mut names = Vec::new();
    for dimension in [Dimension::Actor, Dimension::Application, Dimension::Cluster] {
        let (include, exclude) = query.filter_strings(dimension);
        for value in include.into_iter().chain(exclude) {
            let name = label_of(facets, dimension, &value);
            if name != value {
                names.push(KnownName {
                    dimension,
                    name,
                    value,
                });
            }
        }
    }
    let shared = |known: &KnownName| {
        names
            .iter()
            .filter(|other| other.dimension == known.dimension)
            .filter(|other| other.name.eq_ignore_ascii_case(&known.name))
            .count()
            > 1
    };
    let unique: Vec<KnownName> = names.iter().filter(|k| !shared(k)).cloned().collect();
    unique
}
