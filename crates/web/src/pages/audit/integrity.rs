//! The integrity badge: verifies the project's audit log on demand — the hash chain over the
//! chosen window and the whole chain against the server's signatures — and shows the verdict:
//! "Verified through entry #N", or the first broken link.

use auditlog_shared::wire::VerifyReport;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;

#[derive(Clone, Debug, PartialEq)]
enum Verdict {
    NotChecked,
    Checking,
    Intact(String),
    Broken(String),
    Failed(String),
}

#[component]
pub fn IntegrityBadge(project: Signal<i64>) -> impl IntoView {
    let verdict = RwSignal::new(Verdict::NotChecked);
    // A verdict belongs to the project it was given for.
    Effect::new(move |_| {
        project.track();
        verdict.set(Verdict::NotChecked);
    });
    let check = move |_| {
        let url = format!(
            "/api/v1/projects/{}/audit-logs/verify?range=24h",
            project.get_untracked()
        );
        verdict.set(Verdict::Checking);
        spawn_local(async move {
            verdict.set(match api::get::<VerifyReport>(&url).await {
                Err(error) => Verdict::Failed(error.message),
                Ok(report) => describe(&report),
            });
        });
    };
    view! {
        <div class="integrity" data-test="integrity">
            {move || match verdict.get() {
                Verdict::NotChecked => view! {
                    <span class="muted small">"Tamper evidence: not checked yet"</span>
                }.into_any(),
                Verdict::Checking => view! {
                    <span class="muted small" aria-busy="true">"Verifying…"</span>
                }.into_any(),
                Verdict::Intact(text) => view! {
                    <span class="badge verified" data-test="integrity-ok" role="status">{text}</span>
                }.into_any(),
                Verdict::Broken(text) => view! {
                    <span class="badge broken" data-test="integrity-broken" role="alert">{text}</span>
                }.into_any(),
                Verdict::Failed(text) => view! {
                    <span class="error small" role="alert">{format!("Could not verify: {text}")}</span>
                }.into_any(),
            }}
            <button type="button" class="link small" data-test="verify" on:click=check>
                "Verify now"
            </button>
        </div>
    }
}

fn describe(report: &VerifyReport) -> Verdict {
    if report.ok {
        let through = report
            .signed_head
            .as_ref()
            .map(|head| {
                let at = chrono::DateTime::from_timestamp_micros(head.signed_at)
                    .map(|t| {
                        t.with_timezone(&chrono::Local)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                format!("Verified through entry #{} (signed {at})", head.chain_seq)
            })
            .unwrap_or_else(|| {
                format!("Verified: {} entries of the last 24 hours", report.checked)
            });
        return Verdict::Intact(through);
    }
    Verdict::Broken(match &report.broken {
        Some(link) => format!(
            "Tampering found at entry #{}: {}",
            link.chain_seq, link.reason
        ),
        None => "Tampering found".to_string(),
    })
}
