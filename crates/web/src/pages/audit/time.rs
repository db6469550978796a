//! How the audit log shows time: in the browser's time zone or in UTC, chosen by the admin and
//! remembered in this browser. Every timestamp, the chart's axis and the custom range's inputs
//! follow the choice, and the zone is named beside them.

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, Offset, TimeZone, Utc};
use leptos::prelude::*;

const STORAGE_KEY: &str = "auditlog.time-zone";

/// The zone times are shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    Local,
    Utc,
}

impl Zone {
    /// The zone shared by the audit log's components (provided once by the page).
    pub fn provide() -> RwSignal<Zone> {
        let stored = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|storage| storage.get_item(STORAGE_KEY).ok().flatten());
        let zone = RwSignal::new(match stored.as_deref() {
            Some("utc") => Zone::Utc,
            _ => Zone::Local,
        });
        Effect::new(move |_| {
            let value = match zone.get() {
                Zone::Local => "local",
                Zone::Utc => "utc",
            };
            if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten())
            {
                let _ = storage.set_item(STORAGE_KEY, value);
            }
        });
        provide_context(zone);
        zone
    }

    pub fn current() -> Signal<Zone> {
        use_context::<RwSignal<Zone>>()
            .map(Signal::from)
            .unwrap_or_else(|| Signal::stored(Zone::Local))
    }

    fn offset(self, instant: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Utc => Utc.fix(),
            Zone::Local => instant.with_timezone(&Local).offset().fix(),
        }
    }

    /// An instant in this zone, with `format` (chrono's strftime).
    pub fn format(self, instant: DateTime<Utc>, format: &str) -> String {
        instant
            .with_timezone(&self.offset(instant))
            .format(format)
            .to_string()
    }

    /// The zone's name as shown beside times: `UTC`, or `UTC+01:00` for the browser's zone.
    pub fn name(self, at: DateTime<Utc>) -> String {
        match self {
            Zone::Utc => "UTC".into(),
            Zone::Local => {
                let seconds = self.offset(at).local_minus_utc();
                if seconds == 0 {
                    "UTC+00:00 (local)".into()
                } else {
                    let sign = if seconds < 0 { '-' } else { '+' };
                    let minutes = seconds.abs() / 60;
                    format!("UTC{sign}{:02}:{:02} (local)", minutes / 60, minutes % 60)
                }
            }
        }
    }

    /// A `datetime-local` input's text read in this zone.
    pub fn parse_input(self, text: &str) -> Option<DateTime<Utc>> {
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
            .ok()?;
        match self {
            Zone::Utc => Some(naive.and_utc()),
            Zone::Local => Local
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

/// The Local / UTC switch.
#[component]
pub fn ZoneSwitch() -> impl IntoView {
    let zone = use_context::<RwSignal<Zone>>().expect("Zone::provide runs first");
    let segment = move |choice: Zone, label: &'static str, test: &'static str| {
        view! {
            <button
                class="segment"
                class:active=move || zone.get() == choice
                aria-pressed=move || (zone.get() == choice).to_string()
                data-test=test
                on:click=move |_| zone.set(choice)
            >
                {label}
            </button>
        }
    };
    view! {
        <div class="segments zone-switch" role="group" aria-label="Time zone">
            {segment(Zone::Local, "Local", "zone-local")}
            {segment(Zone::Utc, "UTC", "zone-utc")}
        </div>
    }
}
