//! What every form of the app shares: the state of a write (busy while it runs, the server's
//! refusal after), fields bound to signals, and the frame of a platform form with its error and
//! its submit button.
//!
//! Invariant: a write started from the page goes through [`Action::run`], so its controls are
//! disabled while it runs and a refusal always shows the server's own message.

use std::future::Future;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos::text_prop::TextProp;

use crate::api::ApiError;

/// A write started from the page: `busy` disables its controls while it runs, `error` says why
/// it was refused.
#[derive(Clone, Copy)]
pub struct Action {
    pub busy: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
}

impl Action {
    pub fn new() -> Action {
        Action {
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Shows why the write cannot be sent, found before sending it.
    pub fn refuse(self, message: impl Into<String>) {
        self.error.set(Some(message.into()));
    }

    /// Runs `call`: on success hands its answer to `done`; on failure shows the server's message.
    pub fn run<T: 'static>(
        self,
        call: impl Future<Output = Result<T, ApiError>> + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        self.run_or_undo(call, done, || ());
    }

    /// Like [`Self::run`], and on failure also runs `undo` (a control that showed the change at
    /// once goes back to what the server still holds).
    pub fn run_or_undo<T: 'static>(
        self,
        call: impl Future<Output = Result<T, ApiError>> + 'static,
        done: impl FnOnce(T) + 'static,
        undo: impl FnOnce() + 'static,
    ) {
        self.busy.set(true);
        self.error.set(None);
        spawn_local(async move {
            match call.await {
                Ok(answer) => done(answer),
                Err(error) => {
                    undo();
                    self.error.set(Some(error.message));
                }
            }
            self.busy.set(false);
        });
    }
}

/// The message of a refused write, when there is one.
#[component]
pub fn FormError(error: RwSignal<Option<String>>) -> impl IntoView {
    move || {
        error
            .get()
            .map(|message| view! { <p class="error small" role="alert" data-test="form-error">{message}</p> })
    }
}

/// A platform form: a card with its heading, what `children` puts in it (its fields and notes),
/// the refusal of its last write and its submit button.
#[component]
pub fn PlatformForm(
    /// Its heading.
    title: &'static str,
    /// Its `data-test` name.
    test: &'static str,
    action: Action,
    /// The submit button's label.
    submit: &'static str,
    /// The button's label while the write runs (the same as `submit` when not given).
    #[prop(optional)]
    submitting: Option<&'static str>,
    /// Runs on submit; the browser's own submission never happens.
    #[prop(into)]
    on_submit: Callback<()>,
    children: Children,
) -> impl IntoView {
    let submitting = submitting.unwrap_or(submit);
    let send = move |ev: SubmitEvent| {
        ev.prevent_default();
        on_submit.run(());
    };
    view! {
        <form class="card platform-form" data-test=test on:submit=send>
            <h2>{title}</h2>
            {children()}
            <FormError error=action.error/>
            <button class="primary" type="submit" disabled=action.busy>
                {move || if action.busy.get() { submitting } else { submit }}
            </button>
        </form>
    }
}

/// A labelled text input bound to `value`.
#[component]
pub fn TextField(
    /// What the label says.
    #[prop(into)]
    label: TextProp,
    /// The input's `data-test` name.
    test: &'static str,
    value: RwSignal<String>,
    /// The input's type: `text` unless given (`email`, `url`, `number`, `password`).
    #[prop(optional)]
    kind: Option<&'static str>,
    #[prop(optional, into)] placeholder: Option<TextProp>,
    #[prop(optional)] required: bool,
    /// Spans the whole row of the form.
    #[prop(optional)]
    wide: bool,
    #[prop(optional)] autocomplete: Option<&'static str>,
    /// The input's `name`, for password managers.
    #[prop(optional)]
    name: Option<&'static str>,
    /// The smallest and largest numbers a number field takes.
    #[prop(optional)]
    min: Option<&'static str>,
    #[prop(optional)] max: Option<&'static str>,
    /// Why what is typed cannot be used, shown under the field as it is typed.
    #[prop(optional)]
    invalid: Option<Memo<Option<String>>>,
    /// The `data-test` name of that message.
    #[prop(optional)]
    invalid_test: Option<&'static str>,
) -> impl IntoView {
    let placeholder = move || placeholder.as_ref().map(TextProp::get);
    let problem = move || invalid.and_then(|invalid| invalid.get());
    view! {
        <label class:wide=wide>
            {move || label.get()}
            <input
                type=kind.unwrap_or("text")
                data-test=test
                name=name
                required=required
                placeholder=placeholder
                autocomplete=autocomplete
                min=min
                max=max
                aria-invalid=move || invalid.map(|_| problem().is_some().to_string())
                prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            {move || {
                problem()
                    .map(|message| {
                        view! { <span class="error small" data-test=invalid_test>{message}</span> }
                    })
            }}
        </label>
    }
}

/// A labelled checkbox bound to `value`.
#[component]
pub fn Checkbox(
    /// What the label says, after the box.
    label: &'static str,
    /// The box's `data-test` name.
    test: &'static str,
    value: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <label class="checkbox">
            <input
                type="checkbox"
                data-test=test
                prop:checked=value
                on:change=move |ev| value.set(event_target_checked(&ev))
            />
            {label}
        </label>
    }
}
