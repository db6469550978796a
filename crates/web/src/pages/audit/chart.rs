//! The volume chart: SVG bars over the window with a count axis, each bar split by status class
//! (2xx at the bottom, 5xx on top) when the server splits it. Hovering reads a bar's window,
//! count and classes; clicking a bar zooms into it, dragging zooms into the selection, "Reset zoom" goes
//! back to the range before; "Zoom out", "← Earlier" and "Later →" widen or move the window.

use auditlog_shared::wire::Histogram;
use auditlog_shared::{AuditQuery, CustomRange, DateRange};
use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

use super::time::Zone;
use super::ViewNavigator;
use crate::api::ApiError;

/// The CSS class of each status class's segment (index 0 is 1xx).
const CLASS_NAMES: [&str; 5] = ["s1xx", "s2xx", "s3xx", "s4xx", "s5xx"];
/// The order segments stack in, from the bottom: successes first, server errors on top.
const STACK_ORDER: [usize; 5] = [1, 2, 0, 3, 4];

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
        let current = query.get_untracked();
        if b - a < 0.01 {
            // A click: zoom into the bar under it.
            let n = chart.buckets.len();
            if n == 0 {
                return;
            }
            let index = ((a * n as f64) as usize).min(n - 1);
            let bucket = &chart.buckets[index];
            let start = bucket.start.max(chart.from);
            let end = (bucket.start + Duration::seconds(chart.bucket_seconds)).min(chart.to);
            if let Ok(range) = CustomRange::new(Some(start), Some(end)) {
                zoom_stack.update_value(|stack| stack.push(current.range));
                zoomed.set(true);
                release_navigator.change(&current, |q| q.range = DateRange::Custom(range));
            }
            return;
        }
        let span = (chart.to - chart.from).num_microseconds().unwrap_or(0) as f64;
        // A drag that reaches an edge of the chart keeps that edge exactly (up to "now").
        let at = |f: f64| match f {
            f if f >= 0.99 => chart.to,
            f if f <= 0.01 => chart.from,
            f => chart.from + Duration::microseconds((span * f) as i64),
        };
        if let Ok(range) = CustomRange::new(Some(at(a)), Some(at(b))) {
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

    // Moves or widens the window the chart shows: how far each end moves, in half widths of the
    // window. The window never reaches past now.
    let move_navigator = navigator.clone();
    let move_window = move |earlier_halves: i64, later_halves: i64| {
        let Some(Ok(chart)) = histogram.get_untracked() else {
            return;
        };
        let width = (chart.to - chart.from).num_microseconds().unwrap_or(0);
        let now = Utc::now();
        let from = chart.from + Duration::microseconds(width * earlier_halves / 2);
        let to = (chart.to + Duration::microseconds(width * later_halves / 2)).min(now);
        if from >= to {
            return;
        }
        if let Ok(range) = CustomRange::new(Some(from), Some(to)) {
            move_navigator.change(&query.get_untracked(), |q| {
                q.range = DateRange::Custom(range)
            });
        }
    };
    let zoom_out = {
        let move_window = move_window.clone();
        move |_| move_window(-1, 1)
    };
    let earlier = {
        let move_window = move_window.clone();
        move |_| move_window(-2, -2)
    };
    let later = move |_| move_window(2, 2);
    // The window already ends now (within a bucket): nothing later to show.
    let at_now = move || match histogram.get() {
        Some(Ok(chart)) => Utc::now() - chart.to < Duration::seconds(chart.bucket_seconds),
        _ => true,
    };
    // Where the pointer is over the chart, as a fraction of its width. The readout is computed
    // from the chart being drawn (never by reading the answer again from inside the drawing).
    let hover = RwSignal::new(None::<f64>);

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
                <span class="muted small hint">"Click a bar or drag across the chart to zoom in"</span>
                <span class="chart-moves">
                    <button class="link" on:click=earlier data-test="shift-earlier" title="The window before this one">"← Earlier"</button>
                    <button class="link" on:click=zoom_out data-test="zoom-out" title="Twice as wide a window">"Zoom out"</button>
                    <button class="link" on:click=later data-test="shift-later" disabled=at_now title="The window after this one">"Later →"</button>
                </span>
            </div>
            {move || match histogram.get() {
                Some(Err(error)) => view! { <p class="error">{error.message}</p> }.into_any(),
                None => view! { <div class="skeleton chart-skeleton"></div> }.into_any(),
                Some(Ok(chart)) => {
                    let zone = zone.get();
                    let on_up = on_up.clone();
                    let peak = chart.buckets.iter().map(|b| b.count).max().unwrap_or(0);
                    // At least 2, so the middle mark is a whole count.
                    let top = nice_ceiling(peak.max(2));
                    let max = top as f64;
                    let n = chart.buckets.len().max(1) as f64;
                    let bar = WIDTH / n;
                    let bars = chart
                        .buckets
                        .iter()
                        .enumerate()
                        .map(|(i, bucket)| {
                            let h = if bucket.count == 0 { 0.0 } else { (bucket.count as f64 / max * (HEIGHT - 4.0)).max(2.0) };
                            let x = i as f64 * bar + bar * 0.1;
                            // One segment per status class present, stacked from the bottom in
                            // STACK_ORDER; a bar the server did not split is one segment.
                            let segments: Vec<(&'static str, f64)> = match bucket.by_status_class {
                                Some(classes) if bucket.count > 0 => STACK_ORDER
                                    .iter()
                                    .filter(|&&class| classes[class] > 0)
                                    .map(|&class| (CLASS_NAMES[class], h * classes[class] as f64 / bucket.count as f64))
                                    .collect(),
                                _ => vec![("", h)],
                            };
                            let mut top = HEIGHT;
                            let rects = segments
                                .into_iter()
                                .map(|(class, height)| {
                                    top -= height;
                                    view! { <rect class=format!("fill {class}") x=x y=top width=bar * 0.8 height=height></rect> }
                                })
                                .collect_view();
                            view! {
                                <g class="bar">
                                    <rect class="hit" x=i as f64 * bar y=0 width=bar height=HEIGHT></rect>
                                    {rects}
                                </g>
                            }
                        })
                        .collect_view();
                    let span = (chart.to - chart.from).num_microseconds().unwrap_or(0) as f64;
                    // What hovering each bar reads.
                    let readouts: std::sync::Arc<Vec<String>> = std::sync::Arc::new(
                        chart
                            .buckets
                            .iter()
                            .map(|bucket| {
                                let end = (bucket.start + Duration::seconds(chart.bucket_seconds)).min(chart.to);
                                let classes = bucket
                                    .by_status_class
                                    .filter(|_| bucket.count > 0)
                                    .map(|classes| {
                                        let parts: Vec<String> = (0..5)
                                            .rev()
                                            .filter(|&class| classes[class] > 0)
                                            .map(|class| format!("{} {}", classes[class], CLASS_NAMES[class].trim_start_matches('s')))
                                            .collect();
                                        format!(" ({})", parts.join(", "))
                                    })
                                    .unwrap_or_default();
                                format!(
                                    "{} – {} · {} entr{}{classes}",
                                    zone.format(bucket.start, "%b %d %H:%M:%S"),
                                    zone.format(end, "%H:%M:%S"),
                                    bucket.count,
                                    if bucket.count == 1 { "y" } else { "ies" }
                                )
                            })
                            .collect(),
                    );
                    let hovered = move || -> Option<usize> {
                        let at = hover.get()?;
                        if drag.get().is_some() || n < 1.0 {
                            return None;
                        }
                        Some(((at * n) as usize).min(n as usize - 1))
                    };
                    let crosshair = move || hovered().map(|index| {
                        let x = (index as f64 + 0.5) * bar;
                        view! { <line class="crosshair" x1=x x2=x y1="0" y2=HEIGHT></line> }
                    });
                    let tooltip = {
                        let readouts = readouts.clone();
                        move || hovered().and_then(|index| {
                            let text = readouts.get(index)?.clone();
                            let left = (index as f64 + 0.5) / n * 100.0;
                            Some(view! {
                                <div class="chart-tooltip" data-test="chart-tooltip"
                                    style=format!("left: {left:.2}%")>{text}</div>
                            })
                        })
                    };
                    let stacked = chart.buckets.iter().any(|b| b.by_status_class.is_some());
                    let legend = stacked.then(|| view! {
                        <div class="chart-legend small muted" data-test="chart-legend">
                            {STACK_ORDER.iter().rev().map(|&class| view! {
                                <span><i class=format!("swatch {}", CLASS_NAMES[class])></i>{CLASS_NAMES[class].trim_start_matches('s')}</span>
                            }).collect_view()}
                        </div>
                    });
                    let ticks = (0..5)
                        .map(|i| {
                            let at = chart.from + Duration::microseconds((span * i as f64 / 4.0) as i64);
                            view! { <span>{tick_label(zone, at, chart.bucket_seconds)}</span> }
                        })
                        .collect_view();
                    view! {
                        <div class="chart-body">
                            <div class="y-axis muted small" data-test="chart-y-axis" aria-hidden="true">
                                <span>{format_count(top)}</span>
                                <span>{format_count(top / 2)}</span>
                                <span>"0"</span>
                            </div>
                            <div class="chart-plot">
                                <svg
                                    class="chart"
                                    data-test="volume-chart"
                                    role="img"
                                    aria-label=format!("Entries over time, at most {peak} per bar")
                                    viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                                    preserveAspectRatio="none"
                                    on:pointerdown=move |ev| {
                                        let f = fraction(&ev);
                                        drag.set(Some((f, f)));
                                    }
                                    on:pointermove=move |ev| {
                                        let f = fraction(&ev);
                                        hover.set(Some(f));
                                        if let Some((start, _)) = drag.get_untracked() {
                                            drag.set(Some((start, f)));
                                        }
                                    }
                                    on:pointerup=on_up
                                    on:pointerleave=move |_| {
                                        drag.set(None);
                                        hover.set(None);
                                    }
                                >
                                    <line class="gridline" x1="0" x2=WIDTH y1=HEIGHT / 2.0 y2=HEIGHT / 2.0></line>
                                    {bars}
                                    {crosshair}
                                    {move || drag.get().map(|(a, b)| {
                                        let (a, b) = if a < b { (a, b) } else { (b, a) };
                                        view! { <rect class="selection" x=a * WIDTH y=0 width=(b - a) * WIDTH height=HEIGHT></rect> }
                                    })}
                                </svg>
                                {tooltip}
                                <div class="x-axis muted small">{ticks}</div>
                                {legend}
                            </div>
                        </div>
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

/// The axis' top: the peak rounded up to 1, 2 or 5 times a power of ten.
fn nice_ceiling(peak: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            if peak <= step * factor {
                return step * factor;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A count with thousands separated: 12,345.
fn format_count(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn width_label(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} day{}", s / 86_400, if s == 86_400 { "" } else { "s" }),
        s if s % 3_600 == 0 => format!("{} hour{}", s / 3_600, if s == 3_600 { "" } else { "s" }),
        s if s % 60 == 0 => format!("{} minute{}", s / 60, if s == 60 { "" } else { "s" }),
        s => format!("{s} seconds"),
    }
}
