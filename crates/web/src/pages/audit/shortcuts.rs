//! Keyboard shortcuts of the audit log: `/` searches, `?` lists the shortcuts. Keys typed into a
//! field are left to the field.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// The shortcuts, as the dialog lists them.
const SHORTCUTS: [(&str, &str); 6] = [
    ("/", "Search"),
    ("↓ ↑ or j k", "Move between rows"),
    ("Enter", "Open the focused row"),
    ("Alt-click", "Exclude a cell's value (a click includes it)"),
    ("Esc", "Close the entry or this list"),
    ("?", "Show or hide this list"),
];

/// Whether a key event was typed into a text field (or a select), which keeps its keys.
fn typing(ev: &leptos::ev::KeyboardEvent) -> bool {
    ev.target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|element| {
            matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || element.has_attribute("contenteditable")
        })
}

#[component]
pub fn Shortcuts() -> impl IntoView {
    let open = RwSignal::new(false);
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        match ev.key().as_str() {
            "Escape" => open.set(false),
            "/" if !typing(&ev) => {
                ev.prevent_default();
                let search = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.query_selector("[data-test=search]").ok().flatten())
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
                if let Some(search) = search {
                    let _ = search.focus();
                }
            }
            "?" if !typing(&ev) => {
                ev.prevent_default();
                open.update(|open| *open = !*open);
            }
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
    view! {
        <button class="link" data-test="shortcuts-button" aria-label="Keyboard shortcuts"
            title="Keyboard shortcuts (?)" on:click=move |_| open.update(|open| *open = !*open)>
            "Shortcuts"
        </button>
        <Show when=move || open.get()>
            <div class="shortcuts" role="dialog" aria-label="Keyboard shortcuts" data-test="shortcuts">
                <h2>"Keyboard shortcuts"</h2>
                <dl>
                    {SHORTCUTS.map(|(keys, what)| view! { <dt><kbd>{keys}</kbd></dt><dd>{what}</dd> })}
                </dl>
                <p><button on:click=move |_| open.set(false) data-test="shortcuts-close">"Close"</button></p>
            </div>
        </Show>
    }
}
