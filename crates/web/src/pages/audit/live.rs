//! Live tail: while it is on, the first page of a view that reaches the present asks every few
//! seconds how many entries arrived since its newest row, and says so in a banner. The rows stay
//! where the reader is until they choose to show the new ones.

use auditlog_shared::wire::AuditPage;
use auditlog_shared::{AuditQuery, Cursor, CursorDirection, DateRange, PageSize};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;

/// How often a live view asks for new entries.
pub const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Entries that arrived after the newest row shown: how many (up to a page's worth), and whether
/// there are more than that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrived {
    pub count: usize,
    pub more: bool,
}

/// Watches for new entries. `newest` is the newest row shown, `(timestamp µs, id)`; `None`
/// while there is no first page of the view to compare with.
pub fn watch(
    project: Memo<i64>,
    query: Memo<AuditQuery>,
    newest: Signal<Option<(i64, i64)>>,
    live: RwSignal<bool>,
) -> RwSignal<Option<Arrived>> {
    let arrived = RwSignal::new(None::<Arrived>);
    // A new view, or new rows shown, starts counting again.
    Effect::new(move |_| {
        query.track();
        newest.track();
        arrived.set(None);
    });
    let handle = set_interval_with_handle(
        move || {
            if !live.get_untracked() {
                return;
            }
            let current = query.get_untracked();
            let reaches_now = match &current.range {
                DateRange::Last(_) => true,
                DateRange::Custom(custom) => custom.to().is_none(),
            };
            let Some((timestamp_micros, id)) = newest.get_untracked() else {
                return;
            };
            if current.cursor.is_some() || !reaches_now {
                return;
            }
            let mut newer = current.clone();
            newer.cursor = Some(Cursor {
                direction: CursorDirection::Newer,
                timestamp_micros,
                id,
            });
            newer.page_size = PageSize::new(auditlog_shared::MAX_PAGE_SIZE).unwrap_or_default();
            let url = format!(
                "/api/v1/projects/{}/audit-logs?{}",
                project.get_untracked(),
                newer.to_query_string()
            );
            spawn_local(async move {
                if let Ok(page) = api::get::<AuditPage>(&url).await {
                    // Only if the view and its newest row are still the ones asked about.
                    if query.get_untracked() == current
                        && newest.get_untracked() == Some((timestamp_micros, id))
                    {
                        arrived.set((!page.entries.is_empty()).then_some(Arrived {
                            count: page.entries.len(),
                            more: page.previous.is_some(),
                        }));
                    }
                }
            });
        },
        POLL_EVERY,
    )
    .ok();
    on_cleanup(move || {
        if let Some(handle) = handle {
            handle.clear();
        }
    });
    arrived
}

/// The Live switch.
#[component]
pub fn LiveSwitch(live: RwSignal<bool>) -> impl IntoView {
    view! {
        <label class="switch live-switch" title="Check for new entries every few seconds">
            <input type="checkbox" data-test="live-toggle" prop:checked=live
                on:change=move |ev| live.set(event_target_checked(&ev))/>
            "Live"
        </label>
    }
}

/// "3 new entries — show them", when there are.
#[component]
pub fn ArrivedBanner(arrived: RwSignal<Option<Arrived>>, show: Callback<()>) -> impl IntoView {
    move || {
        arrived.get().map(|arrived| {
            let text = format!(
                "{}{} new entr{} — show {}",
                arrived.count,
                if arrived.more { "+" } else { "" },
                if arrived.count == 1 && !arrived.more { "y" } else { "ies" },
                if arrived.count == 1 && !arrived.more { "it" } else { "them" },
            );
            view! {
                <button class="arrived" data-test="new-entries" role="status" on:click=move |_| show.run(())>
                    {text}
                </button>
            }
        })
    }
}
