//! The Export button: CSV or NDJSON of the current view, with progress and the truncation notice.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::api;

#[derive(Clone, Debug, PartialEq)]
enum ExportState {
    Idle,
    Running(String),
    Done {
        message: String,
        truncated: Option<String>,
        manifest: Option<ManifestCheck>,
    },
    Failed(String),
}

/// The export's signed manifest, fetched after the download, and whether the downloaded bytes are
/// what it states.
#[derive(Clone, Debug, PartialEq)]
struct ManifestCheck {
    matches: bool,
    sha256: String,
    /// The manifest as the server answered it, pretty-printed, to save next to the file.
    json: String,
    filename: String,
}

#[component]
pub fn ExportButton(
    enabled: Signal<bool>,
    view_string: Signal<String>,
    project: Signal<i64>,
) -> impl IntoView {
    let format = RwSignal::new("csv".to_string());
    let state = RwSignal::new(ExportState::Idle);
    let start = move |_| {
        let format = format.get_untracked();
        let url = format!(
            "/api/v1/projects/{}/audit-logs/export.{format}?{}",
            project.get_untracked(),
            view_string.get_untracked()
        );
        state.set(ExportState::Running("Preparing the export…".into()));
        spawn_local(async move {
            match api::get_raw(&url).await {
                Err(error) => state.set(ExportState::Failed(error.message)),
                Ok(response) => {
                    let header = |name: &str| response.headers().get(name).unwrap_or_default();
                    let rows = header("x-audit-export-rows");
                    let matched = header("x-audit-export-matched");
                    let truncated = header("x-audit-export-truncated") == "true";
                    let filename = header("content-disposition")
                        .split("filename=\"")
                        .nth(1)
                        .and_then(|rest| rest.split('"').next())
                        .unwrap_or("auditlog-export")
                        .to_string();
                    state.set(ExportState::Running(format!("Downloading {rows} rows…")));
                    let export_id = header("x-audit-export-id");
                    match response.binary().await {
                        Ok(bytes) => {
                            download(&bytes, &filename, "application/octet-stream");
                            let manifest = check_manifest(
                                project.get_untracked(),
                                &export_id,
                                &bytes,
                                &filename,
                            )
                            .await;
                            state.set(ExportState::Done {
                                manifest,
                                message: format!("Downloaded {rows} rows ({filename})"),
                                truncated: truncated.then(|| format!(
                                    "Only the first 10,000 of {matched} matching entries were exported. Narrow the date range or add filters to export the rest."
                                )),
                            });
                        }
                        Err(error) => {
                            state.set(ExportState::Failed(format!("The download failed: {error}")))
                        }
                    }
                }
            }
        });
    };
    view! {
        <Show when=move || enabled.get()>
            <div class="export">
                <select aria-label="Export format" data-test="export-format"
                    on:change=move |ev| format.set(event_target_value(&ev))>
                    <option value="csv">"CSV"</option>
                    <option value="ndjson">"NDJSON"</option>
                </select>
                <button class="primary" data-test="export" on:click=start
                    disabled=move || matches!(state.get(), ExportState::Running(_))>"Export"</button>
                {move || match state.get() {
                    ExportState::Idle => ().into_any(),
                    ExportState::Running(text) => view! { <span class="muted small" data-test="export-progress"><span class="spinner"></span>{text}</span> }.into_any(),
                    ExportState::Done { message, truncated, manifest } => view! {
                        <span class="small" data-test="export-done">{message}</span>
                        {truncated.map(|t| view! { <span class="warning small" data-test="export-truncated">{t}</span> })}
                        {manifest.map(|m| {
                            let (json, name) = (m.json.clone(), format!("{}.manifest.json", m.filename));
                            let save = move |_| download(json.as_bytes(), &name, "application/json");
                            if m.matches {
                                view! {
                                    <span class="small muted" data-test="export-manifest"
                                        title="Check the file anywhere with: auditlog export verify FILE">
                                        {format!("Matches its signed manifest (SHA-256 {}…)", &m.sha256[..m.sha256.len().min(12)])}
                                    </span>
                                    <button class="link small" data-test="export-manifest-download" on:click=save>"Save manifest"</button>
                                }.into_any()
                            } else {
                                view! {
                                    <span class="error small" role="alert" data-test="export-manifest">
                                        "The downloaded file does not match the manifest the server signed: download it again."
                                    </span>
                                }.into_any()
                            }
                        })}
                    }.into_any(),
                    ExportState::Failed(text) => view! { <span class="error small" role="alert">{text}</span> }.into_any(),
                }}
            </div>
        </Show>
    }
}

/// Fetches the export's signed manifest and compares the downloaded bytes with it; `None` when
/// the server named no manifest or it could not be fetched.
async fn check_manifest(
    project: i64,
    export_id: &str,
    bytes: &[u8],
    filename: &str,
) -> Option<ManifestCheck> {
    if export_id.is_empty() {
        return None;
    }
    let manifest: auditlog_shared::wire::ExportManifest = api::get(&format!(
        "/api/v1/projects/{project}/audit-logs/exports/{export_id}/manifest"
    ))
    .await
    .ok()?;
    Some(ManifestCheck {
        matches: manifest.describes(bytes),
        sha256: manifest.sha256.clone(),
        json: serde_json::to_string_pretty(&manifest).ok()?,
        filename: filename.to_string(),
    })
}

/// Hands bytes to the browser as a file download.
fn download(bytes: &[u8], filename: &str, media_type: &str) {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(media_type);
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let document = web_sys::window().and_then(|w| w.document());
    if let Some(anchor) = document
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        anchor.set_href(&url);
        anchor.set_download(filename);
        anchor.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
