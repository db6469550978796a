//! The volume chart: SVG bars over the window; drag across it to narrow the range to the
//! selection, and "Reset zoom" to go back to the range before.

use auditlog_shared::wire::Histogram;
use auditlog_shared::{AuditQuery, CustomRange, DateRange};
use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

use super::time::Zone;
use super::ViewNavigator;
use crate::api::ApiError;

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 140.0;

#[component]
pub fn VolumeChart(
    /// The chart of the view the URL names; `None` while it loads.
    histogram: Signal<Option<Result<Histogram, ApiError>>>,
    /// The view's query string (without its page), which the section names once it shows it.
    view_string: Signal<String>,
    query: Signal<AuditQuery>,
    navigator: ViewNavigator,
) -> impl IntoView {
    let zone = Zone::current();
    // Ranges before each zoom, newest last.
    let zoom_stack = StoredValue::new(Vec::<DateRange>::new());
    let zoomed = RwSignal::new(false);
    let drag = RwSignal::new(None::<(f64, f64)>);

    let fraction = |ev: &leptos::ev::PointerEvent| -> f64 {
        use wasm_bindgen::JsCast;
        let target = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        match target {
            Some(element) => {
                let rect = element.get_bounding_client_rect();
                ((f64::from(ev.client_x()) - rect.left()) / rect.width()).clamp(0.0, 1.0)
            }
            None => 0.0,
        }
    };

    let release_navigator = navigator.clone();
    let on_up = move |ev: leptos::ev::PointerEvent| {
        let Some((start, _)) = drag.get_untracked() else {
            return;
        };
        drag.set(None);
        let end = fraction(&ev);
        let (a, b) = if start < end {
            (start, end)
        } else {
            (end, start)
        };
        let Some(Ok(chart)) = histogram.get_untracked() else {
            return;
        };
        if b - a < 0.01 {
            return; // A click, not a drag.
        }
        let span = (chart.to - chart.from).num_microseconds().unwrap_or(0) as f64;
        // A drag that reaches an edge of the chart keeps that edge exactly (up to "now").
        let at = |f: f64| match f {
            f if f >= 0.99 => chart.to,
            f if f <= 0.01 => chart.from,
            f => chart.from + Duration::microseconds((span * f) as i64),
        };
        if let Ok(range) = CustomRange::new(Some(at(a)), Some(at(b))) {
            let current = query.get_untracked();
            zoom_stack.update_value(|stack| stack.push(current.range));
            zoomed.set(true);
            release_navigator.change(&current, |q| q.range = DateRange::Custom(range));
        }
    };
    let reset_navigator = navigator.clone();
    let reset = move |_| {
        let mut previous = None;
        zoom_stack.update_value(|stack| previous = stack.pop());
        zoomed.set(zoom_stack.with_value(|s| !s.is_empty()));
        if let Some(range) = previous {
            reset_navigator.change(&query.get_untracked(), |q| q.range = range);
        }
    };

    view! {
        <section
            class="card chart-card"
            data-test="chart-card"
            aria-busy=move || histogram.with(Option::is_none).to_string()
            data-view=move || histogram.with(Option::is_some).then(|| view_string.get())
        >
            <div class="chart-head">
                <span class="muted small">
                    {move || match histogram.get() {
                        Some(Ok(chart)) => format!(
                            "{} entr{} · one bar per {}",
                            chart.total,
                            if chart.total == 1 { "y" } else { "ies" },
                            width_label(chart.bucket_seconds)
                        ),
                        Some(Err(_)) => String::new(),
                        None => "Loading volume…".into(),
                    }}
                </span>
                <Show when=move || zoomed.get()>
                    <button class="link" on:click=reset.clone() data-test="reset-zoom">"Reset zoom"</button>
                </Show>
                <span class="muted small hint">"Drag across the chart to zoom in"</span>
            </div>
            {move || match histogram.get() {
                Some(Err(error)) => view! { <p class="error">{error.message}</p> }.into_any(),
                None => view! { <div class="skeleton chart-skeleton"></div> }.into_any(),
                Some(Ok(chart)) => {
                    let zone = zone.get();
                    let on_up = on_up.clone();
                    let max = chart.buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
                    let n = chart.buckets.len().max(1) as f64;
                    let bar = WIDTH / n;
                    let bars = chart
                        .buckets
                        .iter()
                        .enumerate()
                        .map(|(i, bucket)| {
                            let h = if bucket.count == 0 { 0.0 } else { (bucket.count as f64 / max * (HEIGHT - 4.0)).max(2.0) };
                            let title = format!(
                                "{} — {} entr{}",
                                zone.format(bucket.start, "%Y-%m-%d %H:%M"),
                                bucket.count,
                                if bucket.count == 1 { "y" } else { "ies" }
                            );
                            view! {
                                <g class="bar">
                                    <rect class="hit" x=i as f64 * bar y=0 width=bar height=HEIGHT>
                                        <title>{title}</title>
                                    </rect>
                                    <rect class="fill" x=i as f64 * bar + bar * 0.1 y=HEIGHT - h width=bar * 0.8 height=h></rect>
                                </g>
                            }
                        })
                        .collect_view();
                    let ticks = (0..5)
                        .map(|i| {
                            let f = i as f64 / 4.0;
                            let span = (chart.to - chart.from).num_microseconds().unwrap_or(0) as f64;
                            let at = chart.from + Duration::microseconds((span * f) as i64);
                            let anchor = match i { 0 => "start", 4 => "end", _ => "middle" };
                            view! { <text x=f * WIDTH y=HEIGHT + 16.0 text-anchor=anchor>{tick_label(zone, at, chart.bucket_seconds)}</text> }
                        })
                        .collect_view();
                    view! {
                        <svg
                            class="chart"
                            data-test="volume-chart"
                            viewBox=format!("0 0 {WIDTH} {}", HEIGHT + 22.0)
                            preserveAspectRatio="none"
                            on:pointerdown=move |ev| {
                                let f = fraction(&ev);
                                drag.set(Some((f, f)));
                            }
                            on:pointermove=move |ev| {
                                if let Some((start, _)) = drag.get_untracked() {
                                    drag.set(Some((start, fraction(&ev))));
                                }
                            }
                            on:pointerup=on_up
                            on:pointerleave=move |_| drag.set(None)
                        >
                            {bars}
                            {move || drag.get().map(|(a, b)| {
                                let (a, b) = if a < b { (a, b) } else { (b, a) };
                                view! { <rect class="selection" x=a * WIDTH y=0 width=(b - a) * WIDTH height=HEIGHT></rect> }
                            })}
                            <g class="axis">{ticks}</g>
                        </svg>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

fn tick_label(zone: Zone, instant: DateTime<Utc>, bucket_seconds: i64) -> String {
    if bucket_seconds >= 3_600 {
        zone.format(instant, "%b %d %H:%M")
    } else {
        zone.format(instant, "%H:%M")
    }
}

fn width_label(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} day{}", s / 86_400, if s == 86_400 { "" } else { "s" }),
        s if s % 3_600 == 0 => format!("{} hour{}", s / 3_600, if s == 3_600 { "" } else { "s" }),
        s if s % 60 == 0 => format!("{} minute{}", s / 60, if s == 60 { "" } else { "s" }),
        s => format!("{s} seconds"),
    }
}
